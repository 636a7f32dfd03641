"""Training data: dataset layout and checks, an in-RAM image cache, gradient-weighted patch
sampling, LR synthesis with the MATLAB bicubic, augmentation, and the validation split.

Accepted layouts (DESIGN.md): ``HR/`` + ``LR/`` (pairs matched by file stem; LR files may sit
in ``LR/x4/`` style subfolders or carry an ``x4`` / ``_x4`` suffix), ``HR/`` alone, or a plain
folder of images (HR only). With HR only, LR patches are made on the fly.

Every batch is a pure function of (seed, rank, batch index), so a resumed run sees exactly the
batches an uninterrupted one would have seen, whatever the threads did.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Fewer images than this cannot give both a training set (>= 2) and a validation set (>= 1).
MIN_IMAGES = 3
# LR pixels kept around a synthesised patch so its LR equals a crop of the whole image's LR
# (the antialiased bicubic reaches 2 LR pixels out; one more for safety).
LR_MARGIN = 3


class DatasetError(Exception):
    """A dataset that cannot be trained on; the message lists every problem, one per line."""

    def __init__(self, problems: list[str], folder: Path | str = ""):
        self.problems = list(problems)
        head = f"dataset {folder} cannot be used:" if folder else "dataset cannot be used:"
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]))


@dataclass
class Sample:
    """One training image: its HR file and, for paired datasets, its LR file."""

    name: str
    hr_path: Path
    lr_path: Path | None = None


@dataclass
class DatasetLayout:
    root: Path
    kind: str  # "paired", "hr", "plain"
    samples: list[Sample]
    val_names: list[str] = field(default_factory=list)  # from val.txt, if any

    @property
    def paired(self) -> bool:
        return self.kind == "paired"


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _lr_key(path: Path, scale: int) -> str:
    """File stem with a trailing ``x4`` / ``_x4`` / ``-x4`` scale suffix removed."""
    return re.sub(rf"[_-]?[xX]{scale}$", "", path.stem)


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header, raising OSError for files Pillow cannot identify."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _read_val_txt(root: Path) -> list[str]:
    path = root / "val.txt"
    if not path.is_file():
        return []
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def scan_dataset(root: Path | str, scale: int, min_hr_side: int = 0) -> DatasetLayout:
    """Find the layout and check it; raises :class:`DatasetError` naming every bad file.

    ``min_hr_side`` is the smallest HR side a training image may have (the HR patch size)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError([f"{root} is not a folder"], root)
    problems: list[str] = []
    hr_dir, lr_dir = root / "HR", root / "LR"
    if hr_dir.is_dir():
        hr_files = list_images(hr_dir)
        kind = "hr"
        lr_files: list[Path] = []
        if lr_dir.is_dir():
            sub = lr_dir / f"x{scale}"
            lr_files = list_images(sub) if sub.is_dir() else list_images(lr_dir)
            if not lr_files:
                problems.append(
                    f"{lr_dir} holds no images for x{scale} (looked in {sub if sub.is_dir() else lr_dir})"
                )
            kind = "paired"
    else:
        hr_files, lr_files, kind = list_images(root), [], "plain"
    if not hr_files:
        where = hr_dir if hr_dir.is_dir() else root
        raise DatasetError(
            problems + [f"no images in {where} (looked for {', '.join(IMAGE_SUFFIXES)})"], root
        )

    samples = [Sample(p.stem, p) for p in hr_files]
    if kind == "paired":
        by_key: dict[str, Path] = {}
        for p in lr_files:
            key = _lr_key(p, scale)
            if key in by_key:
                problems.append(f"two LR files for {key!r}: {by_key[key].name} and {p.name}")
            by_key[key] = p
        hr_keys = {s.name for s in samples}
        for key, p in sorted(by_key.items()):
            if key not in hr_keys:
                problems.append(f"LR file {p.relative_to(root)} has no HR partner (expected HR/{key}.*)")
        for s in samples:
            s.lr_path = by_key.get(s.name)
            if s.lr_path is None:
                problems.append(f"HR file {s.hr_path.relative_to(root)} has no LR partner in {lr_dir.name}/")

    for s in samples:
        try:
            w, h = _image_size(s.hr_path)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
            problems.append(f"{s.hr_path.relative_to(root)}: unreadable image ({type(exc).__name__})")
            continue
        if min(w, h) < min_hr_side:
            problems.append(
                f"{s.hr_path.relative_to(root)}: {w}x{h} px is smaller than the {min_hr_side} px HR patch"
            )
        if s.lr_path is not None:
            try:
                lw, lh = _image_size(s.lr_path)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{s.lr_path.relative_to(root)}: unreadable image ({type(exc).__name__})")
                continue
            if not (lw * scale <= w < (lw + 1) * scale and lh * scale <= h < (lh + 1) * scale):
                ratio_w, ratio_h = w / max(lw, 1), h / max(lh, 1)
                problems.append(
                    f"{s.lr_path.relative_to(root)}: {lw}x{lh} px is not 1/{scale} of its HR {w}x{h} px "
                    f"(ratio {ratio_w:.3g} x {ratio_h:.3g})"
                )
    if len(samples) < MIN_IMAGES:
        problems.append(
            f"only {len(samples)} image(s): at least {MIN_IMAGES} are needed "
            "(two or more to train on, one or more to validate with)"
        )
    val_names = _read_val_txt(root)
    known = {s.name for s in samples} | {s.hr_path.name for s in samples}
    for name in val_names:
        if name not in known:
            problems.append(f"val.txt names {name!r}, which is not in the dataset")
    if problems:
        raise DatasetError(problems, root)
    return DatasetLayout(root, kind, samples, val_names)


def split_samples(
    layout: DatasetLayout, val_fraction: float, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """(train, val): val.txt when the dataset has one, else a seeded random fraction (>= 1)."""
    if layout.val_names:
        names = set(layout.val_names)
        val = [s for s in layout.samples if s.name in names or s.hr_path.name in names]
    else:
        n_val = max(1, int(round(len(layout.samples) * val_fraction)))
        order = np.random.default_rng(seed).permutation(len(layout.samples))
        val = [layout.samples[i] for i in sorted(order[:n_val])]
    val_set = {id(s) for s in val}
    train = [s for s in layout.samples if id(s) not in val_set]
    if len(train) < 2:
        raise DatasetError(
            [f"only {len(train)} training image(s) left after the validation split"], layout.root
        )
    return train, val


def load_rgb(path: Path) -> np.ndarray:
    """HxWx3 uint8, EXIF orientation applied; grey and 16-bit images become 8-bit RGB."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float64)
            arr = np.clip(arr / (65535.0 if arr.max() > 255 else 255.0) * 255.0 + 0.5, 0, 255).astype(
                np.uint8
            )
            return np.repeat(arr[..., None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def gradient_energy(img: np.ndarray, cell: int) -> np.ndarray:
    """Mean absolute luma gradient per ``cell`` x ``cell`` block (partial edge blocks included)."""
    y = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    g = np.zeros_like(y)
    g[:, :-1] += np.abs(np.diff(y, axis=1))
    g[:-1, :] += np.abs(np.diff(y, axis=0))
    rows = np.arange(0, y.shape[0], cell)
    cols = np.arange(0, y.shape[1], cell)
    sums = np.add.reduceat(np.add.reduceat(g, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, y.shape[0])), np.diff(np.append(cols, y.shape[1])))
    return (sums / counts).astype(np.float64)


@dataclass
class CachedImage:
    name: str
    hr: np.ndarray  # HxWx3 uint8
    lr: np.ndarray | None  # hxwx3 uint8 for paired datasets
    energy: np.ndarray  # per-cell gradient energy


def load_cache(
    samples: list[Sample],
    scale: int,
    cell: int,
    root: Path | str = "",
    downscaled: tuple[float, ...] = (),
    min_side: int = 0,
    keep_originals: bool = True,
) -> list[CachedImage]:
    """Decode every image once into RAM (uint8); decode errors are collected, not raised one by one.

    ``downscaled`` factors add, for each HR-only image, copies shrunk with the MATLAB bicubic
    (named ``name@factor``); a copy whose shorter side would fall below ``min_side`` is left out.
    ``keep_originals=False`` keeps only those copies, or the original of an image none of whose
    copies is large enough.
    """
    from sr_desktop.core.resize import imresize

    images, problems = [], []
    for s in samples:
        try:
            hr = load_rgb(s.hr_path)
            lr = load_rgb(s.lr_path) if s.lr_path is not None else None
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt files surface only when decoding
            problems.append(f"{s.hr_path.name}: cannot decode ({type(exc).__name__}: {exc})")
            continue
        if lr is not None:
            if downscaled:
                problems.append(
                    f"{s.hr_path.name}: has an LR partner; downscaled copies need an HR-only dataset"
                )
                continue
            hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        factors = [f for f in downscaled if min(hr.shape[:2]) * f >= min_side]
        if keep_originals or not factors:
            images.append(CachedImage(s.name, hr, lr, gradient_energy(hr, cell)))
        for factor in factors:
            small = imresize(hr, scale=factor)
            images.append(CachedImage(f"{s.name}@{factor:g}", small, None, gradient_energy(small, cell)))
    if problems:
        raise DatasetError(problems, root)
    return images


def margin_side(hr_patch: int, scale: int) -> int:
    """The shorter image side that leaves room for an HR patch plus the on-the-fly LR margin;
    one smaller image turns the margin off for all (see :class:`PatchSampler`)."""
    return hr_patch + 2 * LR_MARGIN * scale


class PatchSampler:
    """Draws batches of (LR, HR) patch pairs as NCHW float tensors in [0, 1].

    Patch positions: a cell of the coarse gradient-energy grid (over all images) is drawn with
    probability ``w * energy / total + (1 - w) / cells``, then the patch centre falls
    uniformly inside that cell. Flat, defocused regions are thus still seen, just less often.
    """

    def __init__(
        self,
        images: list[CachedImage],
        scale: int,
        patch: int,
        batch: int,
        seed: int,
        rank: int = 0,
        grad_weighting: float = 0.7,
        quantize_lr: bool = True,
        augment: bool = True,
        rgb_permute: float = 0.0,
    ):
        if not images:
            raise ValueError("no training images")
        self.images, self.scale, self.patch, self.batch = images, scale, patch, batch
        self.seed, self.rank = seed, rank
        self.quantize_lr, self.augment, self.rgb_permute = quantize_lr, augment, rgb_permute
        self.hr_patch = patch * scale
        self.cell = self.hr_patch  # load_cache(cell=hr_patch) made the energy grid
        self.paired = images[0].lr is not None
        # Keep a margin for on-the-fly LR when every image is big enough (same shape per batch).
        need = margin_side(self.hr_patch, scale)
        self.margin = 0 if self.paired or any(min(im.hr.shape[:2]) < need for im in images) else LR_MARGIN
        energies = [im.energy.ravel() for im in images]
        self._owner = np.concatenate([np.full(e.size, i) for i, e in enumerate(energies)])
        self._cell_index = np.concatenate([np.arange(e.size) for e in energies])
        e = np.concatenate(energies)
        total = e.sum()
        uniform = np.full(e.size, 1.0 / e.size)
        p = uniform if total <= 0 else grad_weighting * e / total + (1 - grad_weighting) * uniform
        self._cdf = np.cumsum(p)
        self._cdf /= self._cdf[-1]

    def _position(self, rng: np.random.Generator) -> tuple[int, int, int]:
        k = int(np.searchsorted(self._cdf, rng.random(), side="right"))
        k = min(k, self._cdf.size - 1)
        i = int(self._owner[k])
        im = self.images[i]
        cols = im.energy.shape[1]
        cy, cx = divmod(int(self._cell_index[k]), cols)
        h, w = im.hr.shape[:2]
        m = self.margin * self.scale
        cy_px = cy * self.cell + rng.random() * self.cell
        cx_px = cx * self.cell + rng.random() * self.cell
        top = int(np.clip(cy_px - self.hr_patch / 2, m, h - self.hr_patch - m))
        left = int(np.clip(cx_px - self.hr_patch / 2, m, w - self.hr_patch - m))
        # Align to the LR grid so the synthesised LR equals a crop of the whole image's LR.
        top = max(m, top - top % self.scale) if m else top - top % self.scale
        left = max(m, left - left % self.scale) if m else left - left % self.scale
        return i, top, left

    def batch_at(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``index``-th batch of this rank: (lr NCHW, hr NCHW), float32 in [0, 1]."""
        from sr_desktop.core.resize import imresize_torch

        rng = np.random.default_rng([self.seed, self.rank, index])
        s, p, hp = self.scale, self.patch, self.hr_patch
        m = self.margin * s
        hr_np = np.empty((self.batch, hp + 2 * m, hp + 2 * m, 3), dtype=np.uint8)
        lr_np = np.empty((self.batch, p, p, 3), dtype=np.uint8) if self.paired else None
        for b in range(self.batch):
            i, top, left = self._position(rng)
            im = self.images[i]
            hr_np[b] = im.hr[top - m : top + hp + m, left - m : left + hp + m]
            if lr_np is not None:
                lr_np[b] = im.lr[top // s : top // s + p, left // s : left // s + p]
        hr = torch.from_numpy(hr_np).permute(0, 3, 1, 2).float().div_(255.0)
        if lr_np is not None:
            lr = torch.from_numpy(lr_np).permute(0, 3, 1, 2).float().div_(255.0)
        else:
            lr = imresize_torch(hr, 1.0 / s)
            if self.margin:
                lr = lr[:, :, self.margin : self.margin + p, self.margin : self.margin + p]
                hr = hr[:, :, m : m + hp, m : m + hp]
            if self.quantize_lr:
                lr = lr.mul_(255.0).round_().clamp_(0, 255).div_(255.0)
            else:
                lr = lr.clamp_(0, 1)
        if self.augment:
            lr, hr = augment_pairs(lr, hr, rng)
        if self.rgb_permute > 0:  # no draws otherwise: batches stay those of runs without it
            lr, hr = permute_channels(lr, hr, rng, self.rgb_permute)
        return lr.contiguous(), hr.contiguous()


def augment_pairs(
    lr: torch.Tensor, hr: torch.Tensor, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal/vertical flips and transposes (the 8 dihedral transforms), per sample."""
    from sr_desktop.core.engine import dihedral

    codes = rng.integers(0, 8, size=lr.shape[0])
    lr_out, hr_out = torch.empty_like(lr), torch.empty_like(hr)
    for b, code in enumerate(codes):
        lr_out[b], hr_out[b] = dihedral(lr[b], int(code)), dihedral(hr[b], int(code))
    return lr_out, hr_out


# The five orders of (R, G, B) other than the identity.
CHANNEL_ORDERS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def permute_channels(
    lr: torch.Tensor, hr: torch.Tensor, rng: np.random.Generator, share: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put the colour channels of about ``share`` of the samples in another order, the same
    order for a sample's LR and HR (a colour augmentation for small datasets)."""
    chosen = rng.random(lr.shape[0]) < share
    orders = rng.integers(0, len(CHANNEL_ORDERS), size=lr.shape[0])
    lr_out, hr_out = lr.clone(), hr.clone()
    for b in np.flatnonzero(chosen):
        order = list(CHANNEL_ORDERS[int(orders[b])])
        lr_out[b], hr_out[b] = lr[b, order], hr[b, order]
    return lr_out, hr_out


class Prefetcher:
    """Prepares batches ``start, start+1, ...`` in background threads, in order.

    ``wait_s`` accumulates the time the training loop spent blocked on data."""

    def __init__(self, make, start: int, workers: int = 1, depth: int = 0):
        self._make = make
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sr-batches")
        self._depth = depth or max(2, 2 * workers)
        self._next_submit = start
        self._queue: dict[int, Future] = {}
        self._next = start
        self.wait_s = 0.0
        for _ in range(self._depth):
            self._submit()

    def _submit(self) -> None:
        self._queue[self._next_submit] = self._pool.submit(self._make, self._next_submit)
        self._next_submit += 1

    def next(self):
        import time

        fut = self._queue.pop(self._next)
        t0 = time.perf_counter()
        result = fut.result()
        self.wait_s += time.perf_counter() - t0
        self._next += 1
        self._submit()
        return result

    def close(self) -> None:
        for fut in self._queue.values():
            fut.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class ValImage:
    name: str
    hr: np.ndarray  # uint8, cropped to a multiple of the scale
    lr: np.ndarray  # uint8, MATLAB bicubic (or the dataset's LR file)
    bicubic_psnr: float
    bicubic_ssim: float


def center_crop(img: np.ndarray, size: int, multiple: int) -> tuple[np.ndarray, int, int]:
    h, w = img.shape[:2]
    ch = h if size <= 0 else min(h, size)
    cw = w if size <= 0 else min(w, size)
    ch, cw = ch - ch % multiple, cw - cw % multiple
    top = ((h - ch) // 2) // multiple * multiple
    left = ((w - cw) // 2) // multiple * multiple
    return img[top : top + ch, left : left + cw], top, left


def build_val_set(images: list[CachedImage], scale: int, crop: int) -> list[ValImage]:
    """Centre crops with MATLAB-made LR and their bicubic baseline scores (computed once)."""
    from sr_desktop.core.metrics import psnr, ssim
    from sr_desktop.core.resize import bicubic_upscale, imresize

    out = []
    for im in images:
        hr, top, left = center_crop(im.hr, crop, scale)
        if im.lr is not None:
            lr = im.lr[
                top // scale : (top + hr.shape[0]) // scale, left // scale : (left + hr.shape[1]) // scale
            ]
        else:
            lr = imresize(hr, scale=1.0 / scale)
        bic = bicubic_upscale(lr, scale)[: hr.shape[0], : hr.shape[1]]
        out.append(ValImage(im.name, hr, lr, psnr(bic, hr, scale), ssim(bic, hr, scale)))
    return out
