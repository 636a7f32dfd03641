import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr_desktop.core.resize import bicubic_upscale, imresize, imresize_torch

SHARED = Path(os.environ.get("SR_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
SET5 = SHARED / "datasets" / "Set5"
SET5_NAMES = ["baby", "bird", "butterfly", "head", "woman"]


def _cubic(t: float) -> float:
    """Keys' kernel, a = -0.5, written out for the hand-made expectations below."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


@pytest.mark.skipif(not SET5.is_dir(), reason="Set5 not available (set SR_SHARED_DIR)")
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reproduces_matlab_lr_files_of_set5_bit_exactly(scale):
    for name in SET5_NAMES:
        hr = np.asarray(Image.open(SET5 / f"x{scale}" / "HR" / f"{name}.png").convert("RGB"))
        ref = np.asarray(Image.open(SET5 / f"x{scale}" / "LR" / f"{name}.png").convert("RGB"))
        ours = imresize(hr, scale=1 / scale)
        assert ours.dtype == np.uint8
        assert ours.shape == ref.shape, name
        assert np.array_equal(ours, ref), f"{name} x{scale}: max diff {np.abs(ours.astype(int) - ref).max()}"


def test_downscale_by_two_of_a_line_gives_the_stretched_kernel():
    # One bright row at 0-based index 8 of 16. Output row j samples input position 2j + 0.5, and
    # the x2 antialiasing kernel is cubic(t / 2) / 2 (these taps already sum to one).
    img = np.zeros((16, 6), dtype=np.float64)
    img[8, :] = 1.0
    out = imresize(img, scale=0.5)
    assert out.shape == (8, 3)
    expected = [0.5 * _cubic((2 * j + 0.5 - 8) / 2) for j in range(8)]
    assert expected[4] == pytest.approx(0.43359375)
    np.testing.assert_allclose(out[:, 1], expected, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3, 0.7])
def test_constant_image_stays_constant(dtype, scale):
    img = np.full((23, 17, 3), 173, dtype=dtype)
    out = imresize(img, scale=scale)
    if dtype == np.uint8:
        assert out.dtype == np.uint8
        assert np.all(out == 173)
    else:
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, 173, rtol=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscaled_ramp_is_the_ramp_sampled_at_matlab_positions(scale):
    # Symmetric, normalised weights reproduce a linear function exactly away from the borders;
    # output pixel x (1-based) sits at input u = x * s + 0.5 * (1 - s) for a 1/s downscale.
    n = 60
    ramp = 3.0 * np.arange(n, dtype=np.float64) + 7.0
    img = np.repeat(ramp[:, None], 12, axis=1)
    out = imresize(img, scale=1 / scale)
    x = np.arange(1, n // scale + 1)
    u0 = x * scale + 0.5 * (1 - scale) - 1  # 0-based
    expected = 3.0 * u0 + 7.0
    inner = slice(3, len(x) - 3)
    np.testing.assert_allclose(out[inner, 1], expected[inner], rtol=1e-6)
    # the same holds along the other axis
    out_t = imresize(img.T.copy(), scale=1 / scale)
    np.testing.assert_allclose(out_t[1, inner], expected[inner], rtol=1e-6)


def test_upscaled_ramp_is_the_ramp_sampled_at_matlab_positions():
    n = 20
    ramp = 2.0 * np.arange(n, dtype=np.float64)
    out = imresize(np.repeat(ramp[None, :], 3, axis=0), scale=2)
    x = np.arange(1, 2 * n + 1)
    u0 = x / 2 + 0.25 - 1
    np.testing.assert_allclose(out[1, 4:-4], 2.0 * u0[4:-4], rtol=1e-6)


def test_border_taps_are_clamped_to_the_edge_pixel():
    # Rows 0..3 hold 0, 100, 0, 0: with edge replication the first x2 output row sees the
    # taps -3..4 as 0,0,0,0,100,0,0,0 (0-based row 1 is tap index 4 of 8).
    img = np.zeros((16, 2))
    img[1, :] = 100.0
    out = imresize(img, scale=0.5)
    assert out[0, 0] == pytest.approx(100 * 0.5 * _cubic(0.5 / 2), abs=1e-4)


@pytest.mark.parametrize(
    ("shape", "scale", "expected"),
    [
        ((17, 23), 1 / 2, (9, 12)),
        ((255, 255), 1 / 3, (85, 85)),
        ((7, 5), 3, (21, 15)),
        ((10, 11), 0.3, (3, 4)),
        ((1, 1), 4, (4, 4)),
    ],
)
def test_output_size_is_matlab_ceil(shape, scale, expected):
    assert imresize(np.zeros(shape, dtype=np.uint8), scale=scale).shape == expected
    assert imresize(np.zeros(shape + (3,), dtype=np.float32), scale=scale).shape == expected + (3,)


def test_explicit_output_size_and_argument_errors():
    img = np.random.default_rng(0).random((20, 30))
    assert imresize(img, output_size=(7, 45)).shape == (7, 45)
    with pytest.raises(ValueError):
        imresize(img)
    with pytest.raises(ValueError):
        imresize(img, scale=2, output_size=(4, 4))
    with pytest.raises(ValueError):
        imresize(img, scale=-1)
    with pytest.raises(ValueError):
        imresize(np.zeros((2, 2, 2, 2)), scale=2)


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3])
def test_uint8_and_float_paths_agree_within_one_level(scale):
    # Mid-range values, so that no pass overshoots 0..255 and clipping cannot enter.
    img = np.random.default_rng(1).integers(60, 196, size=(31, 26, 3), dtype=np.uint8)
    as_int = imresize(img, scale=scale).astype(np.float64)
    as_float = np.floor(imresize(img.astype(np.float32), scale=scale).astype(np.float64) + 0.5)
    # The first pass's rounding (<= 0.5) passes through the second pass's weights (|w| sums to
    # a little over 1), so the two can differ by one level, never more, and mostly not at all.
    diff = np.abs(as_int - as_float)
    assert diff.max() <= 1.0
    assert np.mean(diff == 0) > 0.6


def test_uint8_rounds_after_each_pass_rows_first():
    img = np.random.default_rng(2).integers(0, 256, size=(24, 18, 3), dtype=np.uint8)

    def rounded(a):
        return np.clip(np.floor(a.astype(np.float64) + 0.5), 0, 255)

    rows = rounded(imresize(img.astype(np.float64), output_size=(8, 18)))
    both = rounded(imresize(rows, output_size=(8, 6)))
    assert np.array_equal(imresize(img, scale=1 / 3), both.astype(np.uint8))


def test_float_output_is_not_clipped():
    # A hard edge overshoots with a negative-lobed kernel; the float path keeps that.
    img = np.zeros((8, 8), dtype=np.float32)
    img[:, 4:] = 1.0
    out = imresize(img, scale=2)
    assert out.max() > 1.0 and out.min() < 0.0
    u8 = imresize((img * 255).astype(np.uint8), scale=2)
    assert u8.max() == 255 and u8.min() == 0


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3])
def test_torch_path_matches_numpy_float_path(scale):
    rng = np.random.default_rng(3)
    batch = rng.random((2, 3, 25, 19)).astype(np.float32)
    out = imresize_torch(torch.from_numpy(batch), scale)
    for i in range(2):
        ref = imresize(batch[i].transpose(1, 2, 0), scale=scale).transpose(2, 0, 1)
        assert tuple(out[i].shape) == ref.shape
        np.testing.assert_allclose(out[i].numpy(), ref, atol=1e-4)
    chw = imresize_torch(torch.from_numpy(batch[1]), scale)
    np.testing.assert_allclose(chw.numpy(), out[1].numpy(), atol=1e-6)


def test_torch_path_keeps_dtype_and_passes_gradients():
    x = torch.rand(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    y = imresize_torch(x, 0.5)
    assert y.dtype == torch.float64 and y.shape == (1, 1, 6, 6)
    y.sum().backward()
    # Each output pixel's weights sum to one, so d(sum y)/dx sums to the number of outputs.
    assert x.grad is not None and x.grad.sum().item() == pytest.approx(36.0)
    with pytest.raises(TypeError):
        imresize_torch(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 0.5)


def test_bicubic_upscale_is_uint8_and_scale_times_larger():
    lr = np.random.default_rng(4).integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    up = bicubic_upscale(lr, 3)
    assert up.dtype == np.uint8 and up.shape == (27, 21, 3)
    with pytest.raises(TypeError):
        bicubic_upscale(lr.astype(np.float32), 3)
