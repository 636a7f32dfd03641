"""PSNR and SSIM as the super-resolution literature computes them, so our numbers compare
with published ones: BT.601 luma on the 0..255 scale, borders shaved, float64 throughout,
SSIM after Wang et al.'s ``ssim_index.m`` (11x11 Gaussian window, sigma 1.5, 'valid')."""

from __future__ import annotations

import math

import numpy as np

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)
_SSIM_K1, _SSIM_K2, _SSIM_L = 0.01, 0.03, 255.0
_SSIM_SIZE, _SSIM_SIGMA = 11, 1.5


def _to_unit(img: np.ndarray) -> np.ndarray:
    """float64 in [0, 1]: integer images are divided by their type's maximum, floats kept."""
    img = np.asarray(img)
    if np.issubdtype(img.dtype, np.integer):
        return img.astype(np.float64) / np.iinfo(img.dtype).max
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64)
    raise TypeError(f"unsupported image dtype {img.dtype}")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma, HxW float64 in [16, 235], from uint8 or [0, 1] float RGB.

    Grey input (HxW or HxWx1) counts as R = G = B. Not rounded to integers.
    """
    unit = _to_unit(img)
    if unit.ndim == 3 and unit.shape[2] == 1:
        unit = unit[:, :, 0]
    if unit.ndim == 2:
        return 16.0 + _Y_WEIGHTS.sum() * unit
    if unit.ndim == 3 and unit.shape[2] in (3, 4):
        return 16.0 + unit[:, :, :3] @ _Y_WEIGHTS
    raise ValueError(f"expected an HxW, HxWx1 or HxWx3 image, got shape {unit.shape}")


def _prepare(a: np.ndarray, b: np.ndarray, shave: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 on the 0..255 scale, HxWxC (C = 1 for Y), borders shaved."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    if y_channel:
        fa, fb = rgb_to_y(a)[:, :, None], rgb_to_y(b)[:, :, None]
    else:
        fa, fb = _to_unit(a) * 255.0, _to_unit(b) * 255.0
        if fa.ndim == 2:
            fa, fb = fa[:, :, None], fb[:, :, None]
    if shave:
        fa, fb = fa[shave:-shave, shave:-shave], fb[shave:-shave, shave:-shave]
    if fa.shape[0] < 1 or fa.shape[1] < 1:
        raise ValueError(f"nothing left of a {a.shape[:2]} image after shaving {shave} px")
    return fa, fb


def psnr(a: np.ndarray, b: np.ndarray, shave: int = 0, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB with a peak of 255; ``inf`` for identical images.

    ``y_channel=False`` compares all channels (RGB, or grey) instead of the luma.
    """
    fa, fb = _prepare(a, b, shave, y_channel)
    mse = float(np.mean((fa - fb) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _gaussian_1d() -> np.ndarray:
    r = np.arange(_SSIM_SIZE, dtype=np.float64) - (_SSIM_SIZE - 1) / 2.0
    g = np.exp(-(r * r) / (2.0 * _SSIM_SIGMA**2))
    return g / g.sum()  # outer(g, g) is MATLAB's fspecial('gaussian', 11, 1.5)


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of an HxW float64 image (the window is symmetric)."""
    n = g.size
    h, w = img.shape
    rows = np.zeros((h - n + 1, w), dtype=np.float64)
    for k in range(n):
        rows += g[k] * img[k : k + h - n + 1, :]
    out = np.zeros((h - n + 1, w - n + 1), dtype=np.float64)
    for k in range(n):
        out += g[k] * rows[:, k : k + w - n + 1]
    return out


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    g = _gaussian_1d()
    c1 = (_SSIM_K1 * _SSIM_L) ** 2
    c2 = (_SSIM_K2 * _SSIM_L) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = _filter_valid(x * x, g) - mu_xx
    var_y = _filter_valid(y * y, g) - mu_yy
    cov = _filter_valid(x * y, g) - mu_xy
    ssim_map = ((2 * mu_xy + c1) * (2 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def ssim(a: np.ndarray, b: np.ndarray, shave: int = 0, y_channel: bool = True) -> float:
    """Mean structural similarity (Wang et al. 2004) on the 0..255 scale.

    ``y_channel=False`` averages the SSIM of each channel.
    """
    fa, fb = _prepare(a, b, shave, y_channel)
    if fa.shape[0] < _SSIM_SIZE or fa.shape[1] < _SSIM_SIZE:
        raise ValueError(f"SSIM needs at least {_SSIM_SIZE}x{_SSIM_SIZE} pixels, got {fa.shape[:2]}")
    return float(np.mean([_ssim_plane(fa[:, :, c], fb[:, :, c]) for c in range(fa.shape[2])]))


# --- diagnostics for perceptual (GAN) models: none is a literature metric ----------------


def detail(img: np.ndarray) -> float:
    """Mean absolute luma gradient (horizontal plus vertical neighbour differences, 0..255
    scale). Beside the original's it says how much fine detail an upscale has: blur gives
    less, invented texture or noise more."""
    y = rgb_to_y(img)
    return float(np.abs(np.diff(y, axis=1)).mean() + np.abs(np.diff(y, axis=0)).mean())


def detail_ratio(img: np.ndarray, original: np.ndarray) -> float:
    """:func:`detail` of ``img`` over the original's (1.0 = as much fine detail)."""
    return detail(img) / max(detail(original), 1e-9)


def _box_blur(x: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k window ('same' size, edges replicated) of an HxW(xC) array."""
    pad = k // 2
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (x.ndim - 2)
    c = np.pad(x, widths, mode="edge").cumsum(0).cumsum(1)
    c = np.pad(c, [(1, 0), (1, 0)] + [(0, 0)] * (x.ndim - 2))
    h, w = x.shape[:2]
    return (c[k : k + h, k : k + w] - c[:h, k : k + w] - c[k : k + h, :w] + c[:h, :w]) / (k * k)


def hatch(img: np.ndarray, original: np.ndarray, border: int = 8) -> float:
    """Fine texture an upscale draws along the original's edges and stripes, which the original
    lacks: the hatching a GAN generator can paint on smooth ramps. In luma grey levels (0..255
    scale, RMS); 0 for the original itself. ``border`` pixels at each edge are left out (fewer on
    images too small for them).

    The original's local orientation comes from its structure tensor (gradients of a 3x3-blurred
    luma, averaged over 7x7 windows). At each pixel both images are differentiated along that
    orientation (along a stripe, not across it), the derivative is high-passed (minus its 5x5
    mean, so slow shading along a stripe does not count) and its local energy taken (9x9 mean).
    The result is the root mean of the upscale's energy in excess of the original's. Sharper or
    softer edges change the derivative across a stripe, not along it, so sharpening alone reads
    near 0; texture where the original has texture reads near 0 too, up to the original's amount.
    """
    yo, ys = rgb_to_y(original), rgb_to_y(img)
    if yo.shape != ys.shape:
        raise ValueError(f"hatch: shapes differ, {ys.shape} vs {yo.shape}")
    gy, gx = np.gradient(_box_blur(yo, 3))
    jxx, jyy, jxy = _box_blur(gx * gx, 7), _box_blur(gy * gy, 7), _box_blur(gx * gy, 7)
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # the dominant gradient direction
    tx, ty = -np.sin(angle), np.cos(angle)  # along the edge

    def along(y: np.ndarray) -> np.ndarray:
        dy, dx = np.gradient(y)
        t = dx * tx + dy * ty
        return _box_blur((t - _box_blur(t, 5)) ** 2, 9)

    excess = np.clip(along(ys) - along(yo), 0.0, None)
    border = max(0, min(border, (min(excess.shape) - 1) // 2))  # small images keep their middle
    if border:
        excess = excess[border:-border, border:-border]
    return float(np.sqrt(excess.mean()))


class PeriodicPattern:
    """Accumulates :func:`periodic_share` over images one at a time (no need to keep them)."""

    def __init__(self, period: int):
        self.period = int(period)
        self.pattern: np.ndarray | None = None
        self.blocks = 0
        self.energy = 0.0

    def add(self, img: np.ndarray) -> None:
        p = self.period
        x = _to_unit(img)
        x = x[..., :3] if x.ndim == 3 else x[..., None]
        high = x - _box_blur(x, 5)
        h, w = (high.shape[0] // p) * p, (high.shape[1] // p) * p
        if h == 0 or w == 0:
            return
        s = high[:h, :w].reshape(h // p, p, w // p, p, -1).sum(axis=(0, 2))
        if self.pattern is not None and self.pattern.shape != s.shape:
            raise ValueError("periodic_share: all images need the same number of channels")
        self.pattern = s if self.pattern is None else self.pattern + s
        self.blocks += (h // p) * (w // p)
        self.energy += float((high[:h, :w] ** 2).sum())

    def chance(self) -> float:
        """What content without any grid gives, on average, for this many blocks."""
        return (self.period**2 - 1) / self.blocks if self.blocks else 0.0

    def share(self) -> float:
        if self.pattern is None or self.energy <= 0:
            return 0.0
        mean = self.pattern / self.blocks
        mean = mean - mean.mean(axis=(0, 1), keepdims=True)
        return float((mean**2).sum() * self.blocks / self.energy)


def periodic_share(images: list[np.ndarray], period: int) -> float:
    """Share of the images' fine detail that is one fixed pattern repeating every ``period``
    pixels, aligned with the pixel grid: the grid ("checkerboard") artefact that sub-pixel
    upsamplers can learn, with ``period`` = the scale factor.

    Each image is high-passed (minus a 5x5 box blur), cut into period x period blocks from its
    top-left corner, and the blocks are averaged over all images: what survives the averaging is
    the fixed pattern. The result is its energy, counted in every block, over the total
    high-pass energy. Content without a grid gives about (period**2 - 1) / blocks (chance
    alignment, PeriodicPattern.chance); a visible grid gives percents."""
    acc = PeriodicPattern(period)
    for img in images:
        acc.add(img)
    return acc.share()
