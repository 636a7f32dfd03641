"""One image through the model: grey-scale, alpha, bit depth and metadata handled here, so
the engine only ever sees RGB floats."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .engine import Upscaler
from .imageio import Image, alpha_is_constant, from_float, to_float
from .progress import Progress


def output_size(width: int, height: int, scale: int, outscale: float | None) -> tuple[int, int]:
    factor = outscale if outscale else scale
    return max(1, round(width * factor)), max(1, round(height * factor))


def resize_float(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of an HxWxC float array (antialiased when shrinking), for --outscale."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    x = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
    shrinking = width < array.shape[1] or height < array.shape[0]
    y = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=shrinking)
    return y[0].clamp_(0, 1).permute(1, 2, 0).numpy()


def _as_rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def upscale_image(
    image: Image,
    upscaler: Upscaler,
    outscale: float | None = None,
    progress: Progress | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Image:
    """Upscale colour (and a non-constant alpha, as a separate grey pass) and keep metadata."""
    width, height = output_size(image.width, image.height, upscaler.scale, outscale)
    varying_alpha = image.alpha is not None and not alpha_is_constant(image.alpha)
    passes = 2 if varying_alpha else 1

    def part(index: int) -> Callable[[float], None] | None:
        if on_progress is None:
            return None
        return lambda f: on_progress((index + f) / passes)

    precise = image.bit_depth > 8
    rgb = upscaler.upscale_array(_as_rgb(to_float(image.pixels)), progress, part(0), precise)
    if image.is_grey:
        rgb = rgb.mean(axis=2, keepdims=True)
    pixels = from_float(resize_float(rgb, width, height), image.bit_depth)

    alpha = None
    if image.alpha is not None:
        if varying_alpha:
            a = upscaler.upscale_array(_as_rgb(to_float(image.alpha)[:, :, None]), progress, part(1), precise)
            a = resize_float(a.mean(axis=2, keepdims=True), width, height)
            alpha = from_float(a, image.bit_depth)[:, :, 0]
        else:
            alpha = np.full((height, width), image.alpha.flat[0], dtype=image.alpha.dtype)
    return Image(
        pixels=np.ascontiguousarray(pixels),
        alpha=alpha,
        icc=image.icc,
        exif=image.exif,
        format=image.format,
        source_mode=image.source_mode,
        dpi=image.dpi,
    )
