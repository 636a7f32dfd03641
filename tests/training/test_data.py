"""Dataset layout and checks, validation split, and the patch sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import make_hr_folder, textured

from training.data import (
    CHANNEL_ORDERS,
    CachedImage,
    DatasetError,
    PatchSampler,
    gradient_energy,
    load_cache,
    scan_dataset,
    split_samples,
)


def _save(path: Path, h: int, w: int, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(textured(h, w, seed)).save(path)


def test_empty_folder_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        scan_dataset(tmp_path / "empty", 2)


def test_two_images_in_all_are_rejected(tmp_path: Path) -> None:
    make_hr_folder(tmp_path / "two", n=2)
    with pytest.raises(DatasetError) as err:
        scan_dataset(tmp_path / "two", 2)
    assert "only 2 image(s)" in str(err.value) and "at least 3" in str(err.value)


def test_paired_dataset_problems_are_all_listed_with_file_names(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for i in range(4):
        _save(root / "HR" / f"a{i}.png", 40, 48, i)
    _save(root / "LR" / "x2" / "a0x2.png", 20, 24)  # fine
    _save(root / "LR" / "x2" / "a1x2.png", 12, 14)  # ratio 3.33 x 3.43
    _save(root / "LR" / "x2" / "orphan.png", 20, 24)  # no HR partner
    (root / "LR" / "x2" / "a2.png").write_bytes(b"not an image")  # corrupt
    # a3 has no LR partner
    with pytest.raises(DatasetError) as err:
        scan_dataset(root, 2)
    text = str(err.value)
    assert "orphan.png has no HR partner" in text
    assert "HR/a3.png has no LR partner" in text
    assert "a1x2.png" in text and "not 1/2" in text and "3.33" in text
    assert "a2.png: unreadable" in text
    assert "a0x2" not in text
    assert len(err.value.problems) == 4


def test_paired_layouts_with_suffixes_or_flat_lr_folder(tmp_path: Path) -> None:
    for layout in ("sub", "flat"):
        root = tmp_path / layout
        for i in range(3):
            _save(root / "HR" / f"{i:04d}.png", 48, 48, i)
            lr_path = (
                root / "LR" / "x4" / f"{i:04d}x4.png" if layout == "sub" else root / "LR" / f"{i:04d}.png"
            )
            _save(lr_path, 12, 12, i)
        found = scan_dataset(root, 4)
        assert found.kind == "paired" and all(s.lr_path is not None for s in found.samples)


def test_unreadable_and_too_small_images_are_named(tmp_path: Path) -> None:
    root = make_hr_folder(tmp_path / "ds", n=3)
    (root / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    _save(root / "tiny.png", 10, 10)
    with pytest.raises(DatasetError) as err:
        scan_dataset(root, 2, min_hr_side=16)
    assert "broken.jpg: unreadable" in str(err.value)
    assert "tiny.png: 10x10 px is smaller than the 16 px HR patch" in str(err.value)


def test_truncated_file_is_reported_when_decoding(tmp_path: Path) -> None:
    root = make_hr_folder(tmp_path / "ds", n=3)
    Image.fromarray(textured(64, 64, 9)).save(root / "cut.jpg", quality=95)
    data = (root / "cut.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    layout = scan_dataset(root, 2)  # the header is fine
    with pytest.raises(DatasetError, match="cut.jpg: cannot decode"):
        load_cache(layout.samples, 2, cell=16)


def test_validation_split_from_val_txt_or_fraction(tmp_path: Path) -> None:
    root = make_hr_folder(tmp_path / "ds", n=6)
    train, val = split_samples(scan_dataset(root, 2), val_fraction=0.34, seed=1)
    assert len(val) == 2 and len(train) == 4 and not {s.name for s in val} & {s.name for s in train}
    (root / "val.txt").write_text("img03.png\nimg05\n")
    train, val = split_samples(scan_dataset(root, 2), val_fraction=0.5)
    assert [s.name for s in val] == ["img03", "img05"] and len(train) == 4
    (root / "val.txt").write_text("missing\n")
    with pytest.raises(DatasetError, match="val.txt names 'missing'"):
        scan_dataset(root, 2)


def _cached(img: np.ndarray, cell: int) -> CachedImage:
    return CachedImage("x", img, None, gradient_energy(img, cell))


def test_synthesised_lr_equals_a_crop_of_the_whole_image_lr() -> None:
    from sr_desktop.core.resize import imresize

    img = textured(64, 72, 5)
    sampler = PatchSampler(
        [_cached(img, 16)], scale=2, patch=8, batch=6, seed=0, augment=False, quantize_lr=False
    )
    assert sampler.margin > 0
    whole = imresize(img.astype(np.float32) / 255.0, scale=0.5)
    lr, hr = sampler.batch_at(0)
    for b in range(6):
        patch = (hr[b].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        # locate the HR patch in the image (textures make it unique), then compare LR crops
        found = [
            (y, x)
            for y in range(0, 64 - 15, 2)
            for x in range(0, 72 - 15, 2)
            if np.array_equal(img[y : y + 16, x : x + 16], patch)
        ]
        assert len(found) == 1
        y, x = found[0]
        expected = np.clip(whole[y // 2 : y // 2 + 8, x // 2 : x // 2 + 8], 0, 1)
        assert np.allclose(lr[b].permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_batches_are_reproducible_per_index_and_differ_per_rank() -> None:
    images = [_cached(textured(40, 40, i), 16) for i in range(3)]
    a = PatchSampler(images, 2, 8, 4, seed=7)
    b = PatchSampler(images, 2, 8, 4, seed=7)
    other_rank = PatchSampler(images, 2, 8, 4, seed=7, rank=1)
    assert all(torch.equal(x, y) for x, y in zip(a.batch_at(3), b.batch_at(3), strict=True))
    assert not torch.equal(a.batch_at(3)[1], a.batch_at(4)[1])
    assert not torch.equal(a.batch_at(3)[1], other_rank.batch_at(3)[1])
    lr, hr = a.batch_at(0)
    assert lr.shape == (4, 3, 8, 8) and hr.shape == (4, 3, 16, 16)
    assert torch.equal(lr, (lr * 255).round() / 255)  # 8-bit LR, as MATLAB-made files


def test_gradient_weighting_prefers_textured_regions() -> None:
    img = textured(64, 128, 1)
    img[:, :64] = 128  # left half flat, like a defocused background
    counts = {}
    for weight in (0.0, 0.9):
        sampler = PatchSampler([_cached(img, 16)], 2, 8, 64, seed=0, grad_weighting=weight, augment=False)
        lefts = []
        for i in range(5):
            rng = np.random.default_rng([0, 0, i])
            lefts += [sampler._position(rng)[2] for _ in range(64)]
        counts[weight] = np.mean(np.array(lefts) + 8 >= 64)  # patch centre in the textured half
    assert counts[0.0] < 0.65
    assert counts[0.9] > 0.85


def test_downscaled_copies_join_the_cache_as_matlab_bicubic_shrinks(tmp_path: Path) -> None:
    from sr_desktop.core.resize import imresize

    root = make_hr_folder(tmp_path / "ds", n=3, size=(60, 80))
    samples = scan_dataset(root, 2).samples
    plain = load_cache(samples, 2, cell=16)
    images = load_cache(samples, 2, cell=16, downscaled=(0.75, 0.5), min_side=32)
    assert [im.name for im in plain] == [s.name for s in samples]
    # 0.5 x 60 = 30 < 32: that copy is left out; 0.75 x 60 = 45 is kept
    assert [im.name for im in images] == [n for s in samples for n in (s.name, f"{s.name}@0.75")]
    for im, orig in zip(images[1::2], plain, strict=True):
        assert im.hr.shape == (45, 60, 3) and im.hr.dtype == np.uint8 and im.lr is None
        np.testing.assert_array_equal(im.hr, imresize(orig.hr, scale=0.75))
        np.testing.assert_allclose(im.energy, gradient_energy(im.hr, 16))
    # every copy can be drawn by the sampler
    sampler = PatchSampler(images, 2, 8, 64, seed=0)
    drawn = {sampler._position(np.random.default_rng(k))[0] for k in range(400)}
    assert drawn == set(range(len(images)))


def test_downscaled_copies_may_replace_the_originals(tmp_path: Path) -> None:
    root = make_hr_folder(tmp_path / "ds", n=3, size=(60, 80))
    samples = scan_dataset(root, 2).samples
    only = load_cache(samples, 2, cell=16, downscaled=(0.75, 0.5), min_side=32, keep_originals=False)
    assert [im.name for im in only] == [f"{s.name}@0.75" for s in samples]
    assert all(im.hr.shape == (45, 60, 3) for im in only)
    # without factors, or without a copy large enough, the originals stay: no image is lost
    assert len(load_cache(samples, 2, cell=16, keep_originals=False)) == 3
    too_small = load_cache(samples, 2, cell=16, downscaled=(0.5,), min_side=32, keep_originals=False)
    assert [im.name for im in too_small] == [s.name for s in samples]


def test_downscaled_copies_are_refused_for_paired_datasets(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        _save(root / "HR" / f"a{i}.png", 40, 48, i)
        _save(root / "LR" / "x2" / f"a{i}x2.png", 20, 24, i)
    samples = scan_dataset(root, 2).samples
    assert len(load_cache(samples, 2, cell=16)) == 3
    with pytest.raises(DatasetError, match="a0.png: has an LR partner; downscaled copies need an HR-only"):
        load_cache(samples, 2, cell=16, downscaled=(0.5,))


def test_rgb_permute_reorders_each_samples_lr_and_hr_channels_alike() -> None:
    img = textured(64, 72, 5)
    kw = dict(scale=2, patch=8, batch=12, seed=3, quantize_lr=False)
    lr0, hr0 = PatchSampler([_cached(img, 16)], **kw).batch_at(0)
    lr1, hr1 = PatchSampler([_cached(img, 16)], rgb_permute=1.0, **kw).batch_at(0)
    orders = []
    for b in range(12):
        # same patches and flips as without it: only the channel order differs, and LR agrees with HR
        matching = [
            o
            for o in [(0, 1, 2), *CHANNEL_ORDERS]
            if torch.equal(hr1[b], hr0[b, list(o)]) and torch.equal(lr1[b], lr0[b, list(o)])
        ]
        assert len(matching) == 1
        orders.append(matching[0])
    assert (0, 1, 2) not in orders and len(set(orders)) > 1  # every sample reordered, not all alike
    lr_half, _ = PatchSampler([_cached(img, 16)], rgb_permute=0.5, **kw).batch_at(0)
    kept = sum(torch.equal(lr_half[b], lr0[b]) for b in range(12))
    assert 0 < kept < 12
