"""scripts/make_crops.py: the README's side-by-side crops (bicubic, models, original)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_script, nearest_model_file, tiny_model_file
from PIL import Image

from sr_desktop.core.metrics import detail_ratio


def test_the_crop_is_the_most_textured_window() -> None:
    crops = load_script("make_crops")
    img = np.full((64, 96, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    img[32:48, 60:76] = rng.integers(0, 255, (16, 16, 3))  # the only texture
    assert crops.most_textured_window(img, 16, 4) == (32, 60)


def test_sheet_has_a_labelled_panel_per_method_and_photo(tmp_path: Path, capsys) -> None:
    crops = load_script("make_crops")
    rng = np.random.default_rng(1)
    photos = []
    for i in range(2):
        y, x = np.mgrid[0:160, 0:200]
        img = (127 + 60 * np.sin(x / (3 + i)) * np.cos(y / 5))[..., None] + rng.normal(0, 10, (160, 200, 3))
        photos.append(tmp_path / f"p{i}.png")
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(photos[-1])
    nearest = nearest_model_file(tmp_path, scale=4, name="nearest-x4")
    tiny = tiny_model_file(tmp_path, scale=4, name="tiny-x4")
    out = tmp_path / "docs" / "crops.png"
    assert (
        crops.main(
            [
                "--models",
                str(nearest),
                str(tiny),
                "--photos",
                *map(str, photos),
                "--scale",
                "4",
                "--lr-crop",
                "16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    hatch_lines = [line for line in printed.splitlines() if line.startswith("p0.png hatch")]
    assert len(hatch_lines) == 1 and all(
        f"{m} " in hatch_lines[0] for m in ("bicubic", "nearest-x4", "tiny-x4")
    )
    sheet = Image.open(out)
    panel = 16 * 4
    assert sheet.size == (4 * panel + 3 * crops.GAP, 2 * (panel + crops.LABEL_H + crops.GAP))

    rows = crops.crop_panels(
        photos[0], {"nearest": crops.Upscaler(crops.load_model(nearest), "cpu", "fp32")}, 4, 16
    )
    labels = [label for label, _ in rows]
    assert labels[0].startswith("bicubic ") and labels[1].startswith("nearest ") and labels[-1] == "original"
    # a nearest-neighbour upscale is blockier than bicubic on a smooth photo: the PSNR labels say so
    bicubic_db, nearest_db = (float(label.split()[-2]) for label in labels[:2])
    assert nearest_db < bicubic_db
    original = rows[-1][1]
    assert all(img.shape == original.shape == (64, 64, 3) for _, img in rows)
    # bicubic blurs the noisy photo: less detail than the original, which has exactly its own
    assert detail_ratio(rows[0][1], original) < 0.9
    assert detail_ratio(original, original) == pytest.approx(1.0)


def test_wrong_scale_model_is_refused(tmp_path: Path, capsys) -> None:
    crops = load_script("make_crops")
    model = tiny_model_file(tmp_path, scale=2)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "p.png")
    assert (
        crops.main(
            ["--models", str(model), "--photos", str(tmp_path / "p.png"), "--out", str(tmp_path / "o.png")]
        )
        == 2
    )
    assert "x2 model, not x4" in capsys.readouterr().err


def test_crop_size_must_be_a_multiple_of_4(tmp_path: Path, capsys) -> None:
    crops = load_script("make_crops")
    with pytest.raises(SystemExit) as exc:
        crops.main(
            ["--models", "m", "--photos", "p.png", "--lr-crop", "10", "--out", str(tmp_path / "o.png")]
        )
    assert exc.value.code == 2 and "multiple of 4" in capsys.readouterr().err
