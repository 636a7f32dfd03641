import math

import numpy as np
import pytest

from sr_desktop.core.metrics import detail, hatch, periodic_share, psnr, rgb_to_y, ssim


def _smooth_rgb(h=40, w=36, seed=0):
    """A smooth uint8 RGB image in 40..200, so that small offsets never clip."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    chans = [120 + 60 * np.sin(xx / (4 + c) + rng.random() * 6) * np.cos(yy / (5 + c)) for c in range(3)]
    return np.clip(np.stack(chans, axis=-1), 40, 200).round().astype(np.uint8)


def test_rgb_to_y_bt601_anchors():
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(px)[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])
    np.testing.assert_allclose(rgb_to_y(px.astype(np.float32) / 255), rgb_to_y(px), atol=1e-4)


def test_rgb_to_y_grey_counts_as_equal_channels():
    grey = np.random.default_rng(1).integers(0, 256, size=(5, 7), dtype=np.uint8)
    as_rgb = np.repeat(grey[:, :, None], 3, axis=2)
    np.testing.assert_allclose(rgb_to_y(grey), rgb_to_y(as_rgb))
    np.testing.assert_allclose(rgb_to_y(grey[:, :, None]), rgb_to_y(as_rgb))
    assert rgb_to_y(grey).shape == (5, 7)


def test_psnr_of_a_constant_offset_by_hand():
    a = _smooth_rgb()
    b = a + np.uint8(5)
    # Y moves by (65.481 + 128.553 + 24.966) * 5 / 255 = 219 * 5 / 255 everywhere.
    dy = 219 * 5 / 255
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / dy), abs=1e-9)
    assert psnr(a, b, y_channel=False) == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)
    # float input in [0, 1] is the same picture
    assert psnr(a / 255.0, b / 255.0) == pytest.approx(20 * math.log10(255 / dy), abs=1e-9)


def test_psnr_of_a_known_mse_on_part_of_the_image():
    a = np.full((10, 10), 100, dtype=np.uint8)
    b = a.copy()
    b[:5] = 104  # half the pixels off by 4: MSE = 8
    assert psnr(a, b, y_channel=False) == pytest.approx(10 * math.log10(255**2 / 8), abs=1e-9)


def test_psnr_identical_is_inf_and_shave_drops_the_border():
    a = _smooth_rgb()
    assert psnr(a, a.copy()) == math.inf
    b = a.copy()
    b[:3] = 0
    b[:, -2:] = 255
    assert psnr(a, b, shave=2) < 30
    assert psnr(a, b, shave=3) == math.inf


def test_psnr_rejects_shape_mismatch_and_overshave():
    a = _smooth_rgb()
    with pytest.raises(ValueError):
        psnr(a, a[:-1])
    with pytest.raises(ValueError):
        psnr(a, a, shave=20)


def _ssim_direct(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s ssim_index written the slow way: a 2D 11x11 window slid over every
    'valid' position."""
    r = np.arange(11) - 5
    win = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (win * px).sum(), (win * py).sum()
            vx = (win * px * px).sum() - mx * mx
            vy = (win * py * py).sum() - my * my
            cxy = (win * px * py).sum() - mx * my
            vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_ssim_matches_a_direct_sliding_window():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, size=(18, 16), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, size=a.shape), 0, 255).astype(np.uint8)
    expected = _ssim_direct(a.astype(np.float64), b.astype(np.float64))
    assert ssim(a, b, y_channel=False) == pytest.approx(expected, abs=1e-10)


def test_ssim_of_two_flat_images_by_hand():
    a = np.full((20, 20), 100, dtype=np.uint8)
    b = np.full((20, 20), 120, dtype=np.uint8)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    assert ssim(a, b, y_channel=False) == pytest.approx(expected, abs=1e-9)


def test_ssim_identical_noisy_symmetric():
    a = _smooth_rgb()
    rng = np.random.default_rng(3)
    assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-12)
    light = np.clip(a + rng.normal(0, 3, a.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    s_light, s_heavy = ssim(a, light), ssim(a, heavy)
    assert 0 < s_heavy < s_light < 1
    assert ssim(light, a) == pytest.approx(s_light, abs=1e-12)
    assert ssim(a, heavy, shave=4) != pytest.approx(s_heavy, abs=1e-9)


def test_ssim_needs_an_11px_window():
    a = _smooth_rgb(h=20, w=20)
    ssim(a, a, shave=4)  # 12x12 left: fine
    with pytest.raises(ValueError):
        ssim(a, a, shave=5)


def _photo_like(seed: int, size: int = 96) -> np.ndarray:
    """Smooth structure plus fine random texture, float RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    base = _smooth_rgb(size, size, seed).astype(np.float64) / 255
    return np.clip(base + 0.04 * rng.standard_normal(base.shape), 0, 1)


def test_periodic_share_finds_a_grid_and_not_its_absence():
    clean = [_photo_like(s) for s in range(4)]
    blocks = 4 * (96 // 4) ** 2
    chance = (4**2 - 1) / blocks
    assert periodic_share(clean, 4) < 4 * chance
    # a fixed 4-pixel pattern of +-1.5/255, as a sub-pixel upsampler can learn, added everywhere
    tile = np.random.default_rng(9).choice([-1.5, 1.5], size=(4, 4, 1)) / 255
    gridded = [np.clip(img + np.tile(tile, (24, 24, 3)), 0, 1) for img in clean]
    assert periodic_share(gridded, 4) > 20 * periodic_share(clean, 4)
    # the same pattern is invisible to the measure at a period it does not repeat with
    assert periodic_share(gridded, 3) < 4 * (3**2 - 1) / (4 * 32**2)
    # uint8 images work the same as floats
    as_u8 = [np.round(img * 255).astype(np.uint8) for img in gridded]
    assert periodic_share(as_u8, 4) == pytest.approx(periodic_share(gridded, 4), rel=0.2)
    assert periodic_share([], 4) == 0.0


def test_detail_is_lower_for_blur_and_higher_for_noise():
    img = _photo_like(1)
    blurred = (
        img + np.roll(img, 1, axis=0) + np.roll(img, 1, axis=1) + np.roll(img, (1, 1), axis=(0, 1))
    ) / 4
    noisy = np.clip(img + 0.05 * np.random.default_rng(2).standard_normal(img.shape), 0, 1)
    assert detail(blurred) < 0.8 * detail(img) < 0.8 * detail(noisy)
    assert detail(np.full((8, 8, 3), 0.5)) == 0.0


def _stripes(size: int = 96) -> np.ndarray:
    """Soft grey stripes at 20 degrees from horizontal, 24 pixels apart, float RGB in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    across = y * math.cos(math.radians(20)) - x * math.sin(math.radians(20))
    grey = 0.5 + 0.3 * np.sin(2 * math.pi * across / 24)
    return np.repeat(grey[..., None], 3, axis=2)


def test_hatch_sees_texture_along_stripes_not_sharper_or_softer_stripes():
    stripes = _stripes()
    y, x = np.mgrid[0:96, 0:96].astype(np.float64)
    pattern = np.sin(2 * math.pi * (x + y) / 3.5)[..., None]  # a diagonal hatch, 3.5 px period
    hatched = [hatch(np.clip(stripes + a / 255 * pattern, 0, 1), stripes) for a in (2, 4, 8)]
    # sharper (unsharp mask) and softer (3x3 mean) stripes: only the profile across them changes
    blur = sum(np.roll(stripes, (dy, dx), axis=(0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    sharp = hatch(np.clip(stripes + 1.5 * (stripes - blur), 0, 1), stripes)
    soft = hatch(blur, stripes)
    assert hatch(stripes, stripes) == 0.0
    assert max(sharp, soft) < 0.3 < 1.0 < hatched[0] < hatched[1] < hatched[2]
    # the same measure on uint8 images
    as_u8 = [np.round(img * 255).astype(np.uint8) for img in (stripes + 4 / 255 * pattern, stripes)]
    assert hatch(*as_u8) == pytest.approx(hatched[1], rel=0.2)
    with pytest.raises(ValueError, match="shapes differ"):
        hatch(stripes[:90], stripes)
    # images smaller than two borders still get a figure (validation crops can be tiny)
    assert hatch(stripes[:10, :10], stripes[:10, :10]) == 0.0
    assert hatch(np.clip(stripes + 8 / 255 * pattern, 0, 1)[:12, :12], stripes[:12, :12]) > 1.0
