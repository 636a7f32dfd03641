"""MATLAB-compatible bicubic ``imresize``.

The super-resolution literature makes its LR images and its bicubic baseline with MATLAB's
``imresize(img, s, 'bicubic')``. Pillow's and OpenCV's bicubic differ from it (no antialiasing,
another kernel, another pixel mapping), so scores computed with them are not comparable. This
port follows MATLAB exactly: cubic kernel with a = -0.5, kernel stretched by 1/s when
downscaling (antialiasing), pixel mapping ``u = x/s + 0.5 (1 - 1/s)`` (1-based), taps outside
the image clamped to the edge pixel, weights normalised per output pixel, one dimension at a
time, and integer images rounded back to their type after each pass. It reproduces MATLAB's
uint8 LR files of Set5 bit-exactly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

_A = -0.5  # MATLAB's bicubic uses Keys' kernel with a = -0.5


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=256)
def _contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: the input indices it reads (clamped, 0-based) and their weights,
    both of shape (out_length, taps), in MATLAB's tap order."""
    kernel_width = 4.0
    if scale < 1:
        kernel_width /= scale

        def h(t: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * t)
    else:
        h = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = h(u[:, None] - ind)
    weights = weights / weights.sum(axis=1, keepdims=True)
    ind = np.clip(ind - 1, 0, in_length - 1).astype(np.intp)
    weights.setflags(write=False)
    ind.setflags(write=False)
    return ind, weights


@lru_cache(maxsize=256)
def _weight_matrix(in_length: int, out_length: int, scale: float) -> np.ndarray:
    """The same resampling as a dense (out_length, in_length) float64 matrix: clamped taps
    add their weight to the edge pixel."""
    ind, weights = _contributions(in_length, out_length, scale)
    m = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_length)[:, None], ind.shape)
    np.add.at(m, (rows, ind), weights)
    m.setflags(write=False)
    return m


def _out_length(in_length: int, scale: float) -> int:
    # MATLAB: ceil(scale * size). The tolerance keeps 1/3 * 255 from becoming 86 on a rounding error.
    return max(1, int(math.ceil(in_length * scale - 1e-9)))


def _resolve(
    in_hw: tuple[int, int], scale: float | None, output_size: tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    if (scale is None) == (output_size is None):
        raise ValueError("give exactly one of scale and output_size")
    if scale is not None:
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        out = (_out_length(in_hw[0], scale), _out_length(in_hw[1], scale))
        return out, (float(scale), float(scale))
    oh, ow = (int(v) for v in output_size)  # type: ignore[union-attr]
    if oh < 1 or ow < 1:
        raise ValueError(f"output_size must be positive, got {output_size!r}")
    return (oh, ow), (oh / in_hw[0], ow / in_hw[1])


def _dimension_order(scales: tuple[float, float]) -> list[int]:
    # MATLAB resizes the dimension that shrinks most first; ties go rows first.
    return sorted(range(2), key=lambda d: scales[d])


def _resize_axis(img: np.ndarray, axis: int, out_length: int, scale: float) -> np.ndarray:
    ind, weights = _contributions(img.shape[axis], out_length, scale)
    moved = np.moveaxis(img, axis, 0)
    extra = (1,) * (moved.ndim - 1)
    acc = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    # Summed tap by tap, as MATLAB does, so that ties at .5 fall the same way.
    for k in range(ind.shape[1]):
        acc += weights[:, k].reshape((-1,) + extra) * moved[ind[:, k]]
    return np.moveaxis(acc, 0, axis)


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    output_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resize an HxW or HxWxC image as MATLAB's ``imresize(image, scale, 'bicubic')``.

    ``output_size`` is (height, width). Integer images (uint8, uint16) come back in their own
    type, rounded half up and clipped after each pass as MATLAB does; float images come back
    as float32, neither rounded nor clipped.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"cannot resize an empty image of shape {image.shape}")
    integer = np.issubdtype(image.dtype, np.integer)
    if not integer and not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"unsupported image dtype {image.dtype}")
    out_hw, scales = _resolve(image.shape[:2], scale, output_size)

    work = image.astype(np.float64)
    for axis in _dimension_order(scales):
        work = _resize_axis(work, axis, out_hw[axis], scales[axis])
        if integer:
            info = np.iinfo(image.dtype)
            work = np.clip(np.floor(work + 0.5), info.min, info.max)
    return work.astype(image.dtype if integer else np.float32)


def bicubic_upscale(lr: np.ndarray, scale: int | float) -> np.ndarray:
    """The bicubic baseline: a uint8 image enlarged ``scale`` times with MATLAB's bicubic."""
    lr = np.asarray(lr)
    if lr.dtype != np.uint8:
        raise TypeError(f"bicubic_upscale expects a uint8 image, got {lr.dtype}")
    return imresize(lr, scale=float(scale))


_torch_cache: dict[tuple, torch.Tensor] = {}
_TORCH_CACHE_MAX = 64


def _torch_matrix(
    in_length: int, out_length: int, scale: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    key = (in_length, out_length, scale, str(device), dtype)
    m = _torch_cache.get(key)
    if m is None:
        if len(_torch_cache) >= _TORCH_CACHE_MAX:
            _torch_cache.pop(next(iter(_torch_cache)))
        m = torch.from_numpy(np.array(_weight_matrix(in_length, out_length, scale))).to(device, dtype)
        _torch_cache[key] = m
    return m


def imresize_torch(x: torch.Tensor, scale: float) -> torch.Tensor:
    """MATLAB bicubic for float NCHW (or CHW) tensors, on the tensor's device, without rounding.

    Each pass is one matmul with a cached (out, in) weight matrix, so a batch of patches costs
    two small GEMMs; gradients flow through it.
    """
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a CHW or NCHW tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"imresize_torch expects a float tensor, got {x.dtype}")
    h, w = x.shape[-2:]
    (oh, ow), (sh, sw) = _resolve((h, w), scale, None)
    mh = _torch_matrix(h, oh, sh, x.device, x.dtype)
    mw = _torch_matrix(w, ow, sw, x.device, x.dtype)
    # Rows first, then columns, as the numpy path (the order matters only for rounding there).
    return torch.matmul(torch.matmul(mh, x), mw.transpose(0, 1))
