"""The benchmark protocol of the SR literature as one pure function, so the CLI, the GUI and
training all score models the same way (see the Set5 README for the recipe)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .metrics import PeriodicPattern, detail_ratio, psnr, ssim
from .resize import bicubic_upscale, imresize

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})


@dataclass
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float
    detail: float = math.nan  # the output's mean luma gradient over the original's (metrics.detail)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


@dataclass
class EvalReport:
    scale: int
    images: list[ImageScore] = field(default_factory=list)
    grid: float = 0.0  # metrics.periodic_share of the outputs at the scale
    grid_chance: float = 0.0  # what outputs without a grid would give (PeriodicPattern.chance)

    @property
    def mean_psnr(self) -> float:
        return _mean([s.psnr for s in self.images])

    @property
    def mean_ssim(self) -> float:
        return _mean([s.ssim for s in self.images])

    @property
    def mean_bicubic_psnr(self) -> float:
        return _mean([s.bicubic_psnr for s in self.images])

    @property
    def mean_bicubic_ssim(self) -> float:
        return _mean([s.bicubic_ssim for s in self.images])

    @property
    def mean_detail(self) -> float:
        return _mean([s.detail for s in self.images])

    def to_dict(self) -> dict:
        """Plain types only; a perfect image gives ``inf``, which strict JSON cannot hold."""
        return {
            "scale": self.scale,
            "mean_psnr": self.mean_psnr,
            "mean_ssim": self.mean_ssim,
            "mean_bicubic_psnr": self.mean_bicubic_psnr,
            "mean_bicubic_ssim": self.mean_bicubic_ssim,
            "mean_detail": self.mean_detail,
            "grid": self.grid,
            "grid_chance": self.grid_chance,
            "images": [asdict(s) for s in self.images],
        }


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read image ({exc})") from exc


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _find_lr(lr_dir: Path, stem: str, scale: int) -> Path:
    """LR file for an HR stem: ``stem``, ``stem_x4`` or ``stemx4``, any image suffix, in
    ``lr_dir`` or its ``x4/`` subfolder."""
    names = {stem.lower(), f"{stem}_x{scale}".lower(), f"{stem}x{scale}".lower()}
    for folder in (lr_dir, lr_dir / f"x{scale}"):
        if folder.is_dir():
            for p in _image_files(folder):
                if p.stem.lower() in names:
                    return p
    raise ValueError(
        f"{lr_dir}: no LR image for '{stem}' (looked for {stem}, {stem}_x{scale}, {stem}x{scale})"
    )


def evaluate(
    upscale: Callable[[np.ndarray], np.ndarray],
    hr_dir: Path,
    scale: int,
    lr_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> EvalReport:
    """Score ``upscale`` (LR uint8 HxWx3 RGB -> SR uint8, ``scale`` x larger) on the images in
    ``hr_dir``: Y-channel PSNR/SSIM with ``scale`` px shaved, next to the bicubic baseline.

    HR images are cropped (top-left) to a multiple of ``scale``. LR images come from ``lr_dir``
    (matched by stem) or, without it, from MATLAB-style bicubic downscaling of the HR.
    ``progress(done, total, name)`` is called after each image; an exception raised there
    (e.g. a cancel) stops the evaluation.
    """
    hr_dir = Path(hr_dir)
    lr_dir = Path(lr_dir) if lr_dir is not None else None
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if not hr_dir.is_dir():
        raise ValueError(f"{hr_dir}: HR folder not found")
    if lr_dir is not None and not lr_dir.is_dir():
        raise ValueError(f"{lr_dir}: LR folder not found")
    files = _image_files(hr_dir)
    if not files:
        raise ValueError(f"{hr_dir}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")

    report = EvalReport(scale=scale)
    grid = PeriodicPattern(scale)
    for done, hr_path in enumerate(files, start=1):
        hr = _read_rgb(hr_path)
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        if h == 0 or w == 0:
            raise ValueError(
                f"{hr_path}: image {hr.shape[1]}x{hr.shape[0]} is smaller than the scale {scale}"
            )
        hr = hr[:h, :w]
        if lr_dir is None:
            lr = imresize(hr, scale=1.0 / scale)
        else:
            lr_path = _find_lr(lr_dir, hr_path.stem, scale)
            lr = _read_rgb(lr_path)
            if lr.shape[:2] != (h // scale, w // scale):
                raise ValueError(
                    f"{lr_path}: LR is {lr.shape[1]}x{lr.shape[0]} but HR {hr_path.name} cropped to "
                    f"{w}x{h} needs {w // scale}x{h // scale} at x{scale}"
                )
        sr = np.asarray(upscale(lr))
        if sr.dtype != np.uint8:
            raise ValueError(
                f"{hr_path.name}: upscale returned {sr.dtype}, expected uint8 (round and clip first)"
            )
        if sr.shape != hr.shape:
            raise ValueError(f"{hr_path.name}: upscale returned shape {sr.shape}, expected {hr.shape}")
        bic = bicubic_upscale(lr, scale)
        report.images.append(
            ImageScore(
                name=hr_path.stem,
                psnr=psnr(sr, hr, shave=scale),
                ssim=ssim(sr, hr, shave=scale),
                bicubic_psnr=psnr(bic, hr, shave=scale),
                bicubic_ssim=ssim(bic, hr, shave=scale),
                detail=detail_ratio(sr, hr),
            )
        )
        grid.add(sr)
        if progress is not None:
            progress(done, len(files), hr_path.stem)
    report.grid, report.grid_chance = grid.share(), grid.chance()
    return report
