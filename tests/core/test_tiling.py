import numpy as np
import pytest
import torch

from sr_desktop.core.archs import EDSR, EDSR_ARCH, EDSRConfig
from sr_desktop.core.descriptor import ModelDescriptor
from sr_desktop.core.engine import EngineSetupError, Upscaler, parse_tile
from sr_desktop.core.progress import Cancelled, Progress
from sr_desktop.core.tiling import TileTooSmallError, plan_tiles, run_tiled, split_evenly


def tiny_descriptor(scale=4, blocks=3, feats=8, seed=0):
    torch.manual_seed(seed)
    config = EDSRConfig(scale=scale, n_resblocks=blocks, n_feats=feats)
    return ModelDescriptor("tiny", EDSR_ARCH, config, EDSR(config))


@pytest.mark.parametrize("length,size", [(1, 64), (64, 64), (65, 64), (1200, 256), (900, 100), (7, 3)])
def test_split_evenly_covers_without_slivers(length, size):
    parts = split_evenly(length, size)
    assert parts[0][0] == 0 and parts[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
    lengths = [b - a for a, b in parts]
    assert max(lengths) <= size and max(lengths) - min(lengths) <= 1
    assert len(parts) == -(-length // size)


def test_plan_tiles_cover_image_once_with_margins():
    h, w, margin = 130, 97, 5
    cover = np.zeros((h, w), int)
    for t in plan_tiles(h, w, 40, margin):
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.py0 == max(0, t.y0 - margin) and t.px1 == min(w, t.x1 + margin)
    assert (cover == 1).all()


@pytest.mark.parametrize("tile", [32, 50, 128])
def test_tiled_equals_whole_image(tile):
    model = tiny_descriptor()
    x = torch.rand(1, 3, 150, 113)
    whole = model(x)
    up = Upscaler(model, device="cpu", precision="fp32", tile=tile)
    tiled = up.upscale_tensor(x)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() <= 1 / 255
    assert up.stats.tile == tile


def test_too_small_overlap_would_show_seams():
    """The check above can fail: with no overlap the tiles differ from the whole image."""
    model = tiny_descriptor()
    x = torch.rand(1, 3, 96, 96)
    whole = model(x)
    seamy = run_tiled(model, x, 4, 32, margin=0)
    assert (seamy - whole).abs().max().item() > 1 / 255


def test_out_of_memory_halves_tile_and_keeps_finished_tiles():
    model = tiny_descriptor(scale=2)
    x = torch.rand(1, 3, 120, 100)
    whole = model(x)
    calls, done = [], []

    def run(t):
        calls.append(t.shape)
        if t.shape[-2] * t.shape[-1] > 60 * 60 and len(calls) > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        done.append((t.storage_offset(), tuple(t.shape)))  # tiles are views: offset = position
        return model(t)

    changes = []
    out = run_tiled(run, x, 2, 64, model.margin, on_tile_change=changes.append)
    assert (out - whole).abs().max().item() <= 1 / 255
    assert changes and changes[0] == 32
    # 2x2 tiles of 60x50; the first succeeds and is kept, the other three are each redone
    # as 2x2 tiles of 30x25: 1 + 12 runs. Redoing the first would make it 16.
    assert len(done) == 1 + 3 * 4
    assert done[0][1][-2] * done[0][1][-1] > 60 * 60


def test_out_of_memory_on_the_first_tile():
    model = tiny_descriptor(scale=2)
    x = torch.rand(1, 3, 80, 70)
    whole = model(x)
    failures = []

    def run(t):
        if t.shape[-2] * t.shape[-1] > 50 * 50:
            failures.append(t.shape)
            raise torch.OutOfMemoryError("out of memory")
        return model(t)

    out = run_tiled(run, x, 2, 200, model.margin)
    assert failures, "the first tile should have run out of memory"
    assert (out - whole).abs().max().item() <= 1 / 255


def test_out_of_memory_everywhere_gives_up_clearly():
    def run(t):
        raise MemoryError()

    with pytest.raises(TileTooSmallError, match="out of memory"):
        run_tiled(run, torch.rand(1, 3, 40, 40), 2, 32, 2)


def test_other_errors_are_not_swallowed():
    def run(t):
        raise ValueError("bad")

    with pytest.raises(ValueError):
        run_tiled(run, torch.rand(1, 3, 40, 40), 2, 32, 2)


def test_cancel_between_tiles_and_progress():
    model = tiny_descriptor(scale=2)
    progress = Progress()
    seen = []

    def on_progress(f):
        seen.append(f)
        if len(seen) == 2:
            progress.cancel()

    with pytest.raises(Cancelled):
        run_tiled(model, torch.rand(1, 3, 64, 64), 2, 16, model.margin, progress, on_progress=on_progress)
    assert len(seen) == 2 and seen[0] < seen[1] < 1

    seen.clear()
    run_tiled(model, torch.rand(1, 3, 64, 64), 2, 32, model.margin, on_progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_parse_tile_and_setup_errors():
    assert parse_tile("auto") is None and parse_tile("none") == 0 and parse_tile("256") == 256
    for bad in ("big", "4"):
        with pytest.raises(EngineSetupError):
            parse_tile(bad)
    model = tiny_descriptor()
    with pytest.raises(EngineSetupError):
        Upscaler(model, device="tpu")
    with pytest.raises(EngineSetupError):
        Upscaler(model, device="cpu", precision="fp16")


def test_auto_tile_respects_memory(monkeypatch):
    from sr_desktop.core import engine

    model = tiny_descriptor()
    up = Upscaler(model, device="cpu", precision="fp32")
    monkeypatch.setattr(engine, "available_memory", lambda d: 64 << 20)
    small = up.tile_size(5000, 5000)
    monkeypatch.setattr(engine, "available_memory", lambda d: 8 << 30)
    big = up.tile_size(5000, 5000)
    assert engine.MIN_TILE <= small < big
    assert small * small * model.bytes_per_pixel(4) <= 32 << 20
    assert up.tile_size(100, 80) == 100  # never larger than the image


def test_upscale_array_is_hwc():
    model = tiny_descriptor(scale=3)
    up = Upscaler(model, device="cpu", precision="fp32", tile="none")
    out = up.upscale_array(np.random.default_rng(0).random((10, 12, 3), dtype=np.float32))
    assert out.shape == (30, 36, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1


def test_16_bit_images_run_at_full_precision_even_in_bf16(tmp_path):
    from helpers import nearest_model_file

    from sr_desktop.core.imageio import Image
    from sr_desktop.core.modelfile import load_model
    from sr_desktop.core.pipeline import upscale_image

    model = load_model(nearest_model_file(tmp_path, scale=2))
    up = Upscaler(model, device="cpu", precision="bf16")
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    out = upscale_image(Image(deep, None), up).pixels
    expected = deep.repeat(2, 0).repeat(2, 1)
    assert np.abs(out.astype(int) - expected).max() <= 2
    # the same model in bf16 on 8-bit-like data is coarser: the check above is not vacuous
    coarse = up.upscale_array(deep.astype(np.float32) / 65535)
    assert np.abs(coarse * 65535 - expected).max() > 2


def test_pause_after_cancel_does_not_block():
    progress = Progress()
    progress.cancel()
    progress.pause()
    assert not progress.paused
    with pytest.raises(Cancelled):
        progress.check()  # returns at once instead of waiting for a resume that never comes


def test_dihedral_transforms_are_eight_distinct_invertible_ones():
    from sr_desktop.core.engine import dihedral, undo_dihedral

    x = torch.rand(1, 3, 5, 7)
    seen = []
    for k in range(8):
        y = dihedral(x, k)
        assert torch.equal(undo_dihedral(y, k), x)
        assert not any(y.shape == s.shape and torch.equal(y, s) for s in seen)
        seen.append(y)
    assert torch.equal(dihedral(x, 0), x)


def test_tta_averages_the_outputs_of_all_flips_and_rotations_tiled_or_not():
    model = tiny_descriptor(scale=2, seed=3)
    x = torch.rand(1, 3, 80, 50)
    # the 8 symmetries of the square written independently: rotations, each with and without a flip
    outs = []
    for r in range(4):
        for flip in (False, True):
            t = torch.rot90(x.flip(-1) if flip else x, r, dims=(-2, -1))
            y = torch.rot90(model(t), -r, dims=(-2, -1))
            outs.append(y.flip(-1) if flip else y)
    expected = torch.stack(outs).mean(0).clamp(0, 1)
    whole = Upscaler(model, device="cpu", precision="fp32", tile="none", tta=True).upscale_tensor(x)
    assert (whole - expected).abs().max().item() < 1e-5
    plain = Upscaler(model, device="cpu", precision="fp32", tile="none").upscale_tensor(x)
    assert (plain - expected).abs().max().item() > 1e-3  # a random net is not symmetric
    tiled = Upscaler(model, device="cpu", precision="fp32", tile=32, tta=True).upscale_tensor(x)
    assert (tiled - whole).abs().max().item() <= 1 / 255
