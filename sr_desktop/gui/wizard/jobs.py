"""The wizard's background work as plain functions ``job(ctx, ...)`` (see ``gui/workers.py``):
dataset checks, model and device lists, the live sample, and the final comparison. No widgets
here; torch and the training package are imported inside the functions."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

THUMB = 120  # px, longer side of a sample thumbnail
SAMPLE_CROP = 96  # HR px of the live before/after sample


# --- dataset ---------------------------------------------------------------------------------


@dataclass
class DatasetReport:
    folder: str
    kind: str = ""  # paired | hr | plain ("" when nothing usable was found)
    scales: list[int] = field(default_factory=list)  # scales the data allows (paired: fixed)
    count: int = 0
    sizes: list[tuple[int, int]] = field(default_factory=list)  # HR (w, h) per readable image
    problems: list[str] = field(default_factory=list)
    samples: list[tuple[str, np.ndarray, np.ndarray | None]] = field(default_factory=list)  # name, HR, LR
    has_val_txt: bool = False
    hr_only_alternative: str = ""  # HR/ folder to use alone when the LR side is broken

    @property
    def ok(self) -> bool:
        return bool(self.kind) and not self.problems

    @property
    def min_side(self) -> int:
        return min((min(w, h) for w, h in self.sizes), default=0)

    def size_summary(self) -> str:
        if not self.sizes:
            return ""
        common = Counter(self.sizes).most_common(3)
        text = ", ".join(f"{w}×{h} px" + (f" ({n} images)" if n > 1 else "") for (w, h), n in common)
        if len(set(self.sizes)) > 3:
            small = min(self.sizes, key=lambda s: s[0] * s[1])
            large = max(self.sizes, key=lambda s: s[0] * s[1])
            text += f"; from {small[0]}×{small[1]} to {large[0]}×{large[1]} px"
        return text


def _detect_scales(root: Path) -> list[int]:
    """Scales a paired dataset offers: ``LR/xN`` folders, else the HR/LR size ratio of a pair."""
    from training.data import IMAGE_SUFFIXES, _image_size, list_images

    lr = root / "LR"
    subs = sorted(
        int(m.group(1)) for p in lr.iterdir() if p.is_dir() and (m := re.fullmatch(r"x([234])", p.name))
    )
    if subs:
        return subs
    hr_files = {p.stem: p for p in list_images(root / "HR")}
    for p in list_images(lr):
        stem = re.sub(r"[_-]?[xX][234]$", "", p.stem)
        if stem in hr_files and p.suffix.lower() in IMAGE_SUFFIXES:
            try:
                w, _h = _image_size(hr_files[stem])
                lw, _lh = _image_size(p)
            except Exception:  # noqa: BLE001 - unreadable: the full scan reports it
                continue
            ratio = round(w / max(lw, 1))
            return [ratio] if ratio in (2, 3, 4) else []
    return []


def _thumb(img: np.ndarray, side: int = THUMB) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(img)
    im.thumbnail((side, side), Image.Resampling.BICUBIC)
    return np.asarray(im)


def scan_dataset_folder(ctx, folder: str, n_samples: int = 4) -> DatasetReport:
    """Layout, scale, sizes and every problem (header checks by training's ``scan_dataset``, then a
    full decode of every image, which is what finds truncated files)."""
    from training.data import DatasetError, list_images, load_rgb, scan_dataset

    root = Path(folder)
    report = DatasetReport(folder=str(root), has_val_txt=(root / "val.txt").is_file())
    paired = (root / "HR").is_dir() and (root / "LR").is_dir()
    scales = _detect_scales(root) if paired else [2, 3, 4]
    if paired and not scales:
        report.problems.append(
            "LR/: cannot tell the scale (no LR/x2, LR/x3, LR/x4 folder and no matching pair)"
        )
        scales = [2]
    scale = scales[0]
    ctx.progress.update(0.02, "Reading image headers…")
    try:
        layout = scan_dataset(root, scale)
    except DatasetError as exc:
        report.problems.extend(exc.problems)
        if paired and list_images(root / "HR"):
            report.hr_only_alternative = str(root / "HR")
        report.kind = ""
        return report
    report.kind, report.scales = layout.kind, scales if layout.paired else [2, 3, 4]
    report.count = len(layout.samples)
    step = max(1, len(layout.samples) // max(1, n_samples))
    picks = {id(s) for s in layout.samples[::step][:n_samples]}
    for i, s in enumerate(layout.samples):
        ctx.progress.check()
        ctx.progress.update(0.05 + 0.95 * i / len(layout.samples), f"Decoding {s.hr_path.name}…")
        try:
            hr = load_rgb(s.hr_path)
        except Exception as exc:  # noqa: BLE001
            report.problems.append(
                f"{s.hr_path.relative_to(root)}: cannot decode ({type(exc).__name__}: {exc})"
            )
            continue
        report.sizes.append((hr.shape[1], hr.shape[0]))
        lr = None
        if s.lr_path is not None:
            try:
                lr = load_rgb(s.lr_path)
            except Exception as exc:  # noqa: BLE001
                report.problems.append(
                    f"{s.lr_path.relative_to(root)}: cannot decode ({type(exc).__name__}: {exc})"
                )
                continue
        if id(s) in picks:
            # the LR thumbnail at its true size relative to the HR one
            lr_side = max(8, THUMB * max(lr.shape[:2]) // max(hr.shape[:2])) if lr is not None else 0
            report.samples.append(
                (s.hr_path.name, _thumb(hr), _thumb(lr, lr_side) if lr is not None else None)
            )
    if report.problems and paired:
        report.hr_only_alternative = str(root / "HR")
    return report


# --- models and devices ----------------------------------------------------------------------


@dataclass
class ModelChoice:
    name: str
    path: str
    bundled: bool
    arch: str
    scale: int
    n_resblocks: int
    n_feats: int
    res_scale: float
    card: dict[str, str]


def _describe(entry) -> ModelChoice | None:
    from sr_desktop.core.modelfile import load_model

    try:
        model = load_model(entry.path, entry.name)
    except Exception:  # noqa: BLE001 - an unreadable file is simply not offered
        return None
    cfg = model.config.to_dict()
    return ModelChoice(
        entry.name, str(entry.path), entry.bundled, model.arch.name, model.scale,
        int(cfg.get("n_resblocks", 16)), int(cfg.get("n_feats", 64)), float(cfg.get("res_scale", 1.0)),
        dict(model.card),
    )  # fmt: skip


def list_model_choices(ctx) -> list[ModelChoice]:
    from sr_desktop.core.store import list_models

    out = []
    for entry in list_models():
        ctx.progress.check()
        choice = _describe(entry)
        if choice is not None:
            out.append(choice)
    return out


def list_devices(ctx) -> list[tuple[str, str]]:
    from sr_desktop.core.engine import list_devices as devices

    return devices()


def vgg19_cached() -> Path | None:
    """torchvision's VGG19 in the torch hub cache, found without importing torch."""
    import os

    home = os.environ.get("TORCH_HOME")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        home = str(Path(cache) / "torch")
    path = Path(home) / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    return path if path.is_file() else None


# --- live sample -----------------------------------------------------------------------------


@dataclass
class Sample:
    iteration: int
    name: str
    lr: np.ndarray  # uint8
    sr: np.ndarray  # uint8, scale x larger
    hr: np.ndarray  # uint8


def _val_samples(config: dict):
    """The run's validation images, as the trainer picks them (same seeded split)."""
    from training.data import scan_dataset, split_samples

    layout = scan_dataset(config["dataset"], int(config["scale"]))
    _train, val = split_samples(
        layout, float(config.get("val_fraction", 0.1)), seed=int(config.get("seed", 0))
    )
    return layout, val[: int(config.get("max_val_images", 10)) or None]


def _module_from_config(config: dict, state: dict):
    from sr_desktop.core.archs import get_architecture
    from training.config import TrainConfig

    cfg = TrainConfig.from_dict(config)
    module = get_architecture(cfg.arch).build(cfg.model_config())
    module.load_state_dict(state)
    return module.eval()


def render_sample(ctx, checkpoint: str) -> Sample:
    """Upscale a centre crop of the first validation image with the checkpoint's weights (EMA
    when the run keeps them), for the run page's before/after view."""
    import torch

    from sr_desktop.core.resize import imresize
    from training.checkpoint import load_checkpoint
    from training.data import center_crop, load_rgb

    state = load_checkpoint(Path(checkpoint))
    config = state["config"]
    module = _module_from_config(config, state.get("ema") or state["model"])
    ctx.progress.check()
    _layout, val = _val_samples(config)
    scale = int(config["scale"])
    s = val[0]
    hr_full = load_rgb(s.hr_path)
    hr, top, left = center_crop(hr_full, SAMPLE_CROP, scale)
    if s.lr_path is not None:
        lr = load_rgb(s.lr_path)[
            top // scale : (top + hr.shape[0]) // scale, left // scale : (left + hr.shape[1]) // scale
        ]
    else:
        lr = imresize(hr, scale=1.0 / scale)
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float().div_(255)
        y = module(x).clamp_(0, 1)[0].permute(1, 2, 0).mul_(255).round_().to(torch.uint8).numpy()
    return Sample(int(state["iteration"]), s.hr_path.name, lr, y, hr)


# --- final comparison ------------------------------------------------------------------------


@dataclass
class Comparison:
    names: list[str]  # validation images
    columns: list[tuple[str, list[float], list[float]]]  # (title, PSNR per image, SSIM per image)
    preview_lr: np.ndarray | None = None
    preview_sr: np.ndarray | None = None
    preview_name: str = ""
    notes: list[str] = field(default_factory=list)


def _prepare_val_folders(config: dict, target: Path) -> tuple[Path, Path | None]:
    """HR (and, for paired data, LR) validation images copied under ``target`` for ``evaluate``."""
    _layout, val = _val_samples(config)
    hr_dir, lr_dir = target / "HR", None
    if hr_dir.exists():
        shutil.rmtree(target)
    hr_dir.mkdir(parents=True)
    for s in val:
        shutil.copyfile(s.hr_path, hr_dir / s.hr_path.name)
        if s.lr_path is not None:
            lr_dir = target / "LR"
            lr_dir.mkdir(exist_ok=True)
            shutil.copyfile(s.lr_path, lr_dir / f"{s.hr_path.stem}{s.lr_path.suffix}")
    return hr_dir, lr_dir


def bundled_of_scale(scale: int) -> list[tuple[str, str]]:
    """(title, file) of the bundled models of this scale."""
    from sr_desktop.core.store import list_models

    out = []
    for entry in list_models():
        if entry.bundled:
            choice = _describe(entry)
            if choice is not None and choice.scale == scale:
                out.append((f"{entry.name} (bundled)", str(entry.path)))
    return out


def compare_models(
    ctx, run_dir: str, model_file: str, others: list[tuple[str, str]] | None = None
) -> Comparison:
    """PSNR/SSIM of the new model and of ``others`` (title, file; default: the bundled models of
    the same scale) on the run's validation images, with the literature's protocol
    (``core.evaluate``), plus one before/after preview."""
    from sr_desktop.core.engine import Upscaler
    from sr_desktop.core.evaluate import evaluate
    from sr_desktop.core.modelfile import load_model
    from sr_desktop.core.resize import imresize

    run = Path(run_dir)
    config = json.loads((run / "config.json").read_text())
    scale = int(config["scale"])
    hr_dir, lr_dir = _prepare_val_folders(config, run / "comparison")
    if others is None:
        others = bundled_of_scale(scale)
    models = [("Your model", model_file)] + list(others)
    result = Comparison(names=[], columns=[])
    bicubic: tuple[list[float], list[float]] | None = None
    for k, (title, path) in enumerate(models):
        ctx.progress.check()
        up = Upscaler(load_model(path), device="cpu", precision="fp32", tile="auto")

        def upscale(lr: np.ndarray, up=up) -> np.ndarray:
            out = up.upscale_array(lr.astype(np.float32) / 255.0)
            return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)

        def progress(done: int, total: int, name: str, k=k, title=title) -> None:
            ctx.progress.check()
            ctx.progress.update((k + done / total) / len(models), f"{title}: {name}")

        report = evaluate(upscale, hr_dir, scale, lr_dir, progress=progress)
        if not result.names:
            result.names = [s.name for s in report.images]
            bicubic = ([s.bicubic_psnr for s in report.images], [s.bicubic_ssim for s in report.images])
        result.columns.append((title, [s.psnr for s in report.images], [s.ssim for s in report.images]))
        if k == 0:
            first = sorted(hr_dir.iterdir())[0]
            from training.data import load_rgb

            hr = load_rgb(first)
            hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
            if lr_dir is not None:
                lr = load_rgb(next(p for p in lr_dir.iterdir() if p.stem == first.stem))
            else:
                lr = imresize(hr, scale=1.0 / scale)
            result.preview_lr, result.preview_sr, result.preview_name = lr, upscale(lr), first.name
    if bicubic is not None:
        result.columns.insert(0, ("Bicubic", bicubic[0], bicubic[1]))
    return result


def run_status(ctx, run_dir: str) -> Any:
    from .plan import read_run

    return read_run(Path(run_dir))
