"""The app's background jobs as plain functions ``job(ctx, ...)`` (see :mod:`.workers`).

They run off the GUI thread, so this is where images are decoded and torch is imported
(lazily, inside the functions). Results are plain data or QImage (safe outside the GUI thread;
QPixmap is not).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader

from ..core import batch
from ..core.imageio import is_image_path
from .workers import JobContext

log = logging.getLogger(__name__)

THUMB_SIZE = 64
DISPLAY_MAX_SIDE = 4096  # a preview image larger than this is shown downscaled
PREVIEW_MAX_SIDE = 640  # the visible region sent to the model, in input pixels, at most

# The values the batch accepts (core.batch does not load torch until a batch runs).
FORMATS = batch.FORMATS
ON_EXISTS = batch.ON_EXISTS


# --- queue: expanding folders, probing files ---------------------------------------------------


@dataclass
class Expanded:
    files: list[str]
    notes: list[str]  # one line per skipped path


def expand_paths(ctx: JobContext, paths: list[str]) -> Expanded:
    """Files as given (images only), folders walked recursively; non-images skipped with a note."""
    files: list[str] = []
    notes: list[str] = []
    skipped_in_folders = 0
    for raw in paths:
        ctx.progress.check()
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                ctx.progress.check()
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if is_image_path(name):
                        files.append(str(Path(root) / name))
                    elif not name.startswith("."):
                        skipped_in_folders += 1
        elif path.is_file():
            if is_image_path(path):
                files.append(str(path))
            else:
                notes.append(f"{path.name}: not an image, skipped")
        else:
            notes.append(f"{raw}: no such file or folder")
    if skipped_in_folders:
        notes.append(f"{skipped_in_folders} non-image file(s) in folders skipped")
    return Expanded(files, notes)


@dataclass
class Probe:
    path: str
    size: tuple[int, int] | None
    thumbnail: QImage | None
    error: str | None = None


def probe_image(ctx: JobContext, path: str) -> Probe:
    """Size from the header and a small thumbnail (decoded at reduced size where the format can)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid():
        w, h = size.width(), size.height()
        factor = THUMB_SIZE / max(w, h, 1)
        if factor < 1:
            reader.setScaledSize(QSize(max(1, round(w * factor)), max(1, round(h * factor))))
        image = reader.read()
        if not image.isNull():
            if factor >= 1:
                w, h = image.width(), image.height()
            elif (image.width() > image.height()) != (w > h):
                w, h = h, w  # EXIF orientation turned it
            return Probe(path, (w, h), _thumb(image))
    # Qt cannot read it (16-bit TIFF variants, odd files): try the core reader
    try:
        pixels = _read_rgb8(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return Probe(path, None, None, _one_line(exc))
    h, w = pixels.shape[:2]
    return Probe(path, (w, h), _thumb(array_to_qimage(pixels)))


def _thumb(image: QImage) -> QImage:
    return image.scaled(
        THUMB_SIZE, THUMB_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def save_clipboard_image(ctx: JobContext, image: QImage) -> str:
    """Pasted image data becomes a PNG file in a temporary folder, so it can be queued."""
    folder = Path(tempfile.gettempdir()) / "sr-desktop-pasted"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.png"
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not save the pasted image to {path}")
    return str(path)


# --- decoding for preview ----------------------------------------------------------------------


def _read_pixels(path: str) -> np.ndarray:
    """HxWx3 (uint8 or uint16) with orientation applied: the core reader when present."""
    from ..core import imageio

    pixels = imageio.read_image(path).pixels
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def _read_rgb8(path: str) -> np.ndarray:
    pixels = _read_pixels(path)
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float32) * (255.0 / np.iinfo(pixels.dtype).max) + 0.5).astype(np.uint8)
    return pixels


def to_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return pixels.astype(np.float32)


def array_to_qimage(pixels: np.ndarray) -> QImage:
    """HxWx3 uint8 (or float in [0, 1]) -> an RGB888 QImage that owns its memory."""
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


@dataclass
class PreviewSource:
    path: str
    pixels: np.ndarray  # full resolution, HxWx3 uint8/uint16
    display: QImage  # what the view paints (downscaled when huge)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def load_preview_source(ctx: JobContext, path: str) -> PreviewSource:
    pixels = _read_pixels(path)
    ctx.progress.check()
    rgb8 = pixels if pixels.dtype == np.uint8 else (pixels >> 8).astype(np.uint8)
    display = array_to_qimage(rgb8)
    h, w = pixels.shape[:2]
    if max(w, h) > DISPLAY_MAX_SIDE:
        display = display.scaled(
            DISPLAY_MAX_SIDE,
            DISPLAY_MAX_SIDE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return PreviewSource(path, pixels, display)


# --- models ------------------------------------------------------------------------------------


@dataclass
class ModelInfo:
    name: str
    path: str
    bundled: bool
    title: str = ""
    scale: int = 0
    parameters: int = 0
    card: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Catalog:
    models: list[ModelInfo]
    devices: list[tuple[str, str]]
    torch_version: str = ""


_card_cache: dict[tuple[str, float], ModelInfo] = {}


def describe_model(entry: Any) -> ModelInfo:
    from ..core.modelfile import load_model

    path = Path(entry.path)
    key = (str(path), path.stat().st_mtime if path.exists() else 0.0)
    cached = _card_cache.get(key)
    if cached is not None:
        return ModelInfo(**{**cached.__dict__, "name": entry.name, "bundled": entry.bundled})
    try:
        model = load_model(path, name=entry.name)
        info = ModelInfo(
            entry.name,
            str(path),
            entry.bundled,
            model.arch.title,
            model.scale,
            model.parameters,
            dict(model.card),
        )
    except Exception as exc:  # noqa: BLE001 - a broken file is listed with its reason
        info = ModelInfo(entry.name, str(path), entry.bundled, error=_one_line(exc))
    _card_cache[key] = info
    return info


def load_catalog(ctx: JobContext, with_devices: bool = True) -> Catalog:
    """Installed models with their cards, and the compute devices (this imports torch)."""
    from ..core import store

    models = []
    for entry in store.list_models():
        ctx.progress.check()
        models.append(describe_model(entry))
    devices: list[tuple[str, str]] = []
    version = ""
    if with_devices:
        import torch

        from ..core.engine import list_devices

        devices = list_devices()
        version = torch.__version__
    return Catalog(models, devices, version)


def import_model_file(ctx: JobContext, path: str, name: str | None = None) -> ModelInfo:
    from ..core import store

    entry = store.import_model(path, name=name)
    return describe_model(entry)


def delete_model(ctx: JobContext, name: str) -> str:
    from ..core import store

    store.delete_model(name)
    return name


# --- inference ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineChoice:
    model_path: str
    model_name: str
    device: str = "auto"
    precision: str = "auto"
    tile: str = "auto"
    tta: bool = False


_upscalers: dict[EngineChoice, Any] = {}
_upscaler_lock = threading.Lock()


def get_upscaler(choice: EngineChoice) -> Any:
    """One Upscaler per engine choice, kept for the next preview (only the latest is kept)."""
    with _upscaler_lock:
        found = _upscalers.get(choice)
        if found is not None:
            return found
        from ..core.engine import Upscaler
        from ..core.modelfile import load_model

        model = load_model(choice.model_path, name=choice.model_name)
        upscaler = Upscaler(model, choice.device, choice.precision, choice.tile, tta=choice.tta)
        _upscalers.clear()
        _upscalers[choice] = upscaler
        return upscaler


@dataclass
class EngineInfo:
    choice: EngineChoice
    device: str
    precision: str
    auto_tile: int  # the tile Auto picks for a large image on this device


def describe_engine(ctx: JobContext, choice: EngineChoice) -> EngineInfo:
    """What Auto resolves to (device, precision, tile), loading the model for later runs."""
    upscaler = get_upscaler(choice)
    tile = upscaler.tile_spec or upscaler.auto_tile()  # tile_spec 0 = whole images
    return EngineInfo(choice, str(upscaler.device), str(upscaler.dtype).removeprefix("torch."), tile)


@dataclass
class PreviewResult:
    request: int
    region: tuple[int, int, int, int]  # x, y, w, h in input pixels
    scale: int
    image: QImage  # the region upscaled: (w*scale) x (h*scale)
    tile: int
    seconds: float


def upscale_region(
    ctx: JobContext,
    request: int,
    choice: EngineChoice,
    source: PreviewSource,
    region: tuple[int, int, int, int],
) -> PreviewResult:
    """Upscale one region of the image, with the model's margin of context around it."""
    start = time.perf_counter()
    upscaler = get_upscaler(choice)
    ctx.progress.check()
    x, y, w, h = clamp_region(region, source.width, source.height)
    margin = upscaler.model.margin
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(source.width, x + w + margin), min(source.height, y + h + margin)
    crop = to_float(source.pixels[y0:y1, x0:x1])
    tile = upscaler.tile_size(y1 - y0, x1 - x0)
    out = upscaler.upscale_array(crop, progress=ctx.progress, on_progress=lambda f: ctx.progress.update(f))
    s = upscaler.scale
    ox, oy = (x - x0) * s, (y - y0) * s
    out = out[oy : oy + h * s, ox : ox + w * s]
    return PreviewResult(request, (x, y, w, h), s, array_to_qimage(out), tile, time.perf_counter() - start)


def clamp_region(region: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """Keep a region inside the image and at most PREVIEW_MAX_SIDE per side (around its centre)."""
    x, y, w, h = region
    cx, cy = x + w / 2, y + h / 2
    w, h = max(1, min(w, PREVIEW_MAX_SIDE, width)), max(1, min(h, PREVIEW_MAX_SIDE, height))
    x = int(min(max(0, round(cx - w / 2)), width - w))
    y = int(min(max(0, round(cy - h / 2)), height - h))
    return x, y, int(w), int(h)


@dataclass
class BatchRequest:
    paths: list[str]
    choice: EngineChoice
    outdir: str
    outscale: float | None = None
    format: str = "same"
    quality: int = 95
    name_template: str = "{stem}"
    on_exists: str = "skip"


def run_queue(ctx: JobContext, request: BatchRequest) -> list[Any]:
    """The whole queue through the core batch runner; each finished file goes to ``file_done``."""
    ctx.progress.update(0.0, "Loading the model…")
    from ..core.batch import BatchOptions, run_batch

    options = BatchOptions(
        outdir=Path(request.outdir),
        outscale=request.outscale,
        format=request.format,
        quality=request.quality,
        name_template=request.name_template,
        on_exists=request.on_exists,
    )
    options.validate()
    upscaler = get_upscaler(request.choice)
    ctx.progress.check()
    return run_batch(request.paths, upscaler, options, ctx.progress, request.choice.model_name, ctx.file_done)
