"""scripts/publish_model.py: measures a model on a Set5-like folder, writes the figures and any
--card fields into its card, and refuses to replace a better published model unless --force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_script, nearest_model_file, smooth_image, tiny_model_file
from PIL import Image

from sr_desktop.core.modelfile import load_model
from sr_desktop.core.resize import imresize


@pytest.fixture
def set5(tmp_path: Path) -> Path:
    root = tmp_path / "set5"
    for sub in ("HR", "LR"):
        (root / "x2" / sub).mkdir(parents=True)
    for i in range(2):
        hr = smooth_image(48, 64, seed=i)
        lr = np.clip(np.round(imresize(hr.astype(np.float64), 0.5)), 0, 255).astype(np.uint8)
        Image.fromarray(hr).save(root / "x2" / "HR" / f"img{i}.png")
        Image.fromarray(lr).save(root / "x2" / "LR" / f"img{i}.png")
    return root


def test_publish_measures_sets_card_fields_and_refuses_a_worse_model(
    tmp_path: Path, set5: Path, capsys
) -> None:
    publish = load_script("publish_model")
    dest = tmp_path / "models"
    dest.mkdir()
    good = nearest_model_file(tmp_path)  # nearest neighbour: well above a random network
    bad = tiny_model_file(tmp_path)
    common = ["--set5", str(set5), "--dest", str(dest)]

    assert publish.main([str(good), "mine-x2", *common, "--card", "iterations=18100 (15000, then 3100)"]) == 0
    card = load_model(dest / "mine-x2.safetensors").card
    assert card["name"] == "mine-x2" and card["iterations"] == "18100 (15000, then 3100)"
    good_psnr = float(card["psnr_set5"])
    assert good_psnr > 25  # nearest neighbour on a smooth picture

    assert publish.main([str(bad), "mine-x2", *common]) == 1
    assert "kept the bundled" in capsys.readouterr().err
    assert load_model(dest / "mine-x2.safetensors").card["iterations"] == "18100 (15000, then 3100)"

    assert publish.main([str(bad), "mine-x2", *common, "--force"]) == 0
    assert float(load_model(dest / "mine-x2.safetensors").card["psnr_set5"]) < good_psnr


def test_card_option_needs_key_and_value(tmp_path: Path, set5: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_script("publish_model").main(
            [str(tiny_model_file(tmp_path)), "x", "--set5", str(set5), "--card", "novalue"]
        )
    assert exit_info.value.code == 2
