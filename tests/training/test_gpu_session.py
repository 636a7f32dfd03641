"""scripts/gpu_session.py, the prepared device session, run here on the CPU with tiny settings:
the engine check, a time-limited fine-tune of a bundled model, and what comes back in $OUT
(within the device tool's limits: at most 8 files, 16 MiB each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers import load_script
from PIL import Image
from train_helpers import REPO, make_hr_folder, textured


def test_session_checks_the_engine_trains_and_returns_few_small_files(tmp_path: Path) -> None:
    from sr_desktop.core.modelfile import read_state_dict

    data = tmp_path / "data"
    make_hr_folder(data / "photos-hr", n=8, size=(120, 128))
    (data / "Set5" / "x4" / "LR").mkdir(parents=True)
    Image.fromarray(textured(20, 24, 5)).save(data / "Set5" / "x4" / "LR" / "bird.png")
    out = tmp_path / "out"
    rc = load_script("gpu_session").main(
        ["train", "--data", str(data), "--out", str(out), "--runs", str(tmp_path / "runs"),
         "--jobs", "edsr-x4", "--batch", "2", "--patch", "16", "--device", "cpu", "--minutes", "0.1",
         "--check-precisions", "fp32"]
    )  # fmt: skip
    assert rc == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["edsr-x4.events.jsonl", "edsr-x4.safetensors", "summary.json"]
    assert all((out / f).stat().st_size < 16 * 2**20 for f in files)
    summary = json.loads((out / "summary.json").read_text())
    check = summary["cuda_check"]
    assert check["device"] == "cpu" and check["image"] == "bird.png"
    assert check["fp32_tile_none"]["max_diff_255"] < 1e-3 and check["fp32_tile_64"]["max_diff_255"] < 1e-3
    job = summary["jobs"]["edsr-x4"]
    assert job["rc"] == 0 and job["val"]["psnr"] > job["val"]["bicubic_psnr"]
    # the fine-tune started from the bundled weights and changed them
    bundled, _ = read_state_dict(REPO / "resources" / "models" / "edsr-x4.safetensors")
    tuned, _ = read_state_dict(out / "edsr-x4.safetensors")
    assert bundled.keys() == tuned.keys()
    diffs = [float((bundled[k] - tuned[k]).abs().max()) for k in bundled]
    assert 0 < max(diffs) < 0.05
    start = next(
        json.loads(x) for x in (out / "edsr-x4.events.jsonl").read_text().splitlines() if '"start"' in x
    )
    assert "edsr-x4.safetensors" in start["init"] and np.isfinite(diffs).all()
