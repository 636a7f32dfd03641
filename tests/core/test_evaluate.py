import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_desktop.core.evaluate import EvalReport, evaluate
from sr_desktop.core.resize import bicubic_upscale, imresize

SHARED = Path(os.environ.get("SR_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
SET5 = SHARED / "datasets" / "Set5"


def _picture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    chans = [
        128 + 90 * np.sin(xx / (3 + 2 * rng.random()) + yy / (5 + c)) * np.cos(yy / (4 + rng.random()))
        for c in range(3)
    ]
    return np.clip(np.stack(chans, axis=-1), 0, 255).round().astype(np.uint8)


@pytest.fixture
def hr_dir(tmp_path):
    d = tmp_path / "HR"
    d.mkdir()
    Image.fromarray(_picture(48, 40, 0)).save(d / "alpha.png")
    Image.fromarray(_picture(50, 37, 1)).save(d / "beta.png")  # not a multiple of 4: cropped
    Image.fromarray(_picture(44, 52, 2)).save(d / "gamma.png")
    (d / "notes.txt").write_text("not an image")
    return d


def _cropped_hr(hr_dir: Path, name: str, scale: int) -> np.ndarray:
    hr = np.asarray(Image.open(hr_dir / f"{name}.png").convert("RGB"))
    return hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]


def test_bicubic_as_the_model_scores_as_the_baseline(hr_dir):
    report = evaluate(lambda lr: bicubic_upscale(lr, 4), hr_dir, 4)
    assert [s.name for s in report.images] == ["alpha", "beta", "gamma"]
    for s in report.images:
        assert s.psnr == s.bicubic_psnr
        assert s.ssim == s.bicubic_ssim
        assert 10 < s.psnr < 60 and 0 < s.ssim < 1
    assert report.mean_psnr == pytest.approx(np.mean([s.psnr for s in report.images]))
    assert report.mean_bicubic_ssim == pytest.approx(np.mean([s.bicubic_ssim for s in report.images]))


def test_oracle_returning_the_hr_is_perfect(hr_dir):
    scale = 4
    by_lr = {}
    for name in ("alpha", "beta", "gamma"):
        hr = _cropped_hr(hr_dir, name, scale)
        by_lr[imresize(hr, scale=1 / scale).tobytes()] = hr
    seen_shapes = []

    def oracle(lr):
        seen_shapes.append(lr.shape)
        return by_lr[lr.tobytes()]

    report = evaluate(oracle, hr_dir, scale)
    assert (12, 9, 3) in seen_shapes  # beta: 50x37 cropped to 48x36
    assert report.mean_psnr == math.inf
    assert report.mean_ssim == pytest.approx(1.0, abs=1e-12)
    assert report.mean_bicubic_psnr < 60


def test_lr_folder_matched_by_stem_and_suffixes(hr_dir, tmp_path):
    scale = 2
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    names = {"alpha": "alpha.png", "beta": "beta_x2.png", "gamma": "gammax2.png"}
    for stem, fname in names.items():
        Image.fromarray(imresize(_cropped_hr(hr_dir, stem, scale), scale=1 / scale)).save(lr_dir / fname)
    with_lr = evaluate(lambda lr: bicubic_upscale(lr, scale), hr_dir, scale, lr_dir=lr_dir)
    made = evaluate(lambda lr: bicubic_upscale(lr, scale), hr_dir, scale)
    assert with_lr.to_dict() == made.to_dict()


def test_lr_of_the_wrong_size_names_the_file(hr_dir, tmp_path):
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    for stem in ("alpha", "beta", "gamma"):
        Image.fromarray(imresize(_cropped_hr(hr_dir, stem, 4), scale=1 / 4)).save(lr_dir / f"{stem}.png")
    Image.fromarray(np.zeros((13, 9, 3), dtype=np.uint8)).save(lr_dir / "beta.png")
    with pytest.raises(ValueError, match="beta"):
        evaluate(lambda lr: bicubic_upscale(lr, 4), hr_dir, 4, lr_dir=lr_dir)


def test_missing_lr_and_empty_folder_raise(hr_dir, tmp_path):
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    with pytest.raises(ValueError, match="alpha"):
        evaluate(lambda lr: bicubic_upscale(lr, 4), hr_dir, 4, lr_dir=lr_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images"):
        evaluate(lambda lr: bicubic_upscale(lr, 4), empty, 4)


def test_wrong_model_output_raises(hr_dir):
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda lr: bicubic_upscale(lr, 2), hr_dir, 4)
    with pytest.raises(ValueError, match="uint8"):
        evaluate(lambda lr: bicubic_upscale(lr, 4).astype(np.float32), hr_dir, 4)


def test_progress_and_to_dict(hr_dir):
    calls = []
    report = evaluate(lambda lr: bicubic_upscale(lr, 3), hr_dir, 3, progress=lambda *a: calls.append(a))
    assert calls == [(1, 3, "alpha"), (2, 3, "beta"), (3, 3, "gamma")]
    assert isinstance(report, EvalReport)
    d = report.to_dict()
    assert d["scale"] == 3 and len(d["images"]) == 3
    assert d["mean_psnr"] == report.mean_psnr
    assert set(d["images"][0]) == {"name", "psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "detail"}
    # bicubic output is blurrier than the original and has no 3-pixel grid
    assert 0 < d["mean_detail"] < 1 and d["grid"] < 4 * d["grid_chance"]


def test_a_gridded_output_is_reported(hr_dir):
    """A model that adds a fixed 4-pixel pattern: PSNR barely moves, the grid figure does."""
    tile = np.random.default_rng(0).choice([-3, 3], size=(4, 4, 1))

    def gridded(lr):
        up = bicubic_upscale(lr, 4).astype(np.int16)
        reps = (up.shape[0] // 4 + 1, up.shape[1] // 4 + 1, 3)
        return np.clip(up + np.tile(tile, reps)[: up.shape[0], : up.shape[1]], 0, 255).astype(np.uint8)

    clean = evaluate(lambda lr: bicubic_upscale(lr, 4), hr_dir, 4)
    report = evaluate(gridded, hr_dir, 4)
    assert report.grid > 0.1 > 100 * clean.grid


@pytest.mark.skipif(not SET5.is_dir(), reason="Set5 not available (set SR_SHARED_DIR)")
@pytest.mark.parametrize(("scale", "published"), [(2, 33.66), (3, 30.39), (4, 28.42)])
def test_set5_bicubic_baseline_matches_the_literature(scale, published):
    report = evaluate(
        lambda lr: bicubic_upscale(lr, scale),
        SET5 / f"x{scale}" / "HR",
        scale,
        lr_dir=SET5 / f"x{scale}" / "LR",
    )
    assert len(report.images) == 5
    assert abs(report.mean_bicubic_psnr - published) < 0.03
