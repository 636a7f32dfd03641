"""The issue's acceptance folder: good files of every kind are written correctly, bad ones are
one line each, nothing partial is left, and a re-run skips everything."""

import json

import cv2
import numpy as np
import pytest
from helpers import nearest_model_file, smooth_image, tiny_model_file
from PIL import Image as PILImage
from PIL import ImageCms

from sr_desktop.cli import main
from sr_desktop.core import imageio
from sr_desktop.core.batch import BatchOptions, run_batch
from sr_desktop.core.engine import Upscaler
from sr_desktop.core.modelfile import load_model
from sr_desktop.core.progress import Cancelled, Progress

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # holds a timestamp: make once


@pytest.fixture
def mixed_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "empty.png").write_bytes(b"")
    good = src / "full.png"
    PILImage.fromarray(smooth_image(16, 16)).save(good)
    (src / "truncated.png").write_bytes(good.read_bytes()[:-40])
    (src / "text.jpg").write_text("this is not a JPEG\n")
    deep = smooth_image(12, 10, seed=3, dtype=np.uint16)
    cv2.imwrite(str(src / "deep16.png"), deep[:, :, ::-1])
    rgba = np.dstack(
        [smooth_image(10, 12, seed=4), np.linspace(0, 255, 120).reshape(10, 12).astype(np.uint8)]
    )
    PILImage.fromarray(rgba, "RGBA").save(src / "alpha.png", icc_profile=SRGB_ICC)
    PILImage.fromarray(smooth_image(10, 10, seed=5)).convert("CMYK").save(src / "cmyk.jpg", quality=95)
    PILImage.fromarray(smooth_image(9, 11, channels=1, seed=6)[:, :, 0], "L").save(src / "grey.png")
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    PILImage.fromarray(smooth_image(8, 14, seed=7)).save(src / "rotated.jpg", exif=exif.tobytes(), quality=95)
    PILImage.fromarray(smooth_image(10, 10, seed=8)).save(src / "straße_写真.png")
    return src


def test_mixed_folder(tmp_path, mixed_folder, capsys):
    model = nearest_model_file(tmp_path, scale=2)
    out, report = tmp_path / "out", tmp_path / "report.json"
    args = ["upscale", str(mixed_folder), "-o", str(out), "--model", str(model), "--report", str(report)]
    assert main(args) == 1
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(str(mixed_folder))]
    failed = sorted(
        line.split(":")[0].rsplit("/", 1)[1]
        for line in err_lines
        if "->" not in line and "skipped" not in line
    )
    assert failed == ["empty.png", "text.jpg", "truncated.png"]
    rows = {r["input"].rsplit("/", 1)[1]: r for r in json.loads(report.read_text())}
    assert {k for k, r in rows.items() if r["status"] == "failed"} == set(failed)
    assert all(rows[k]["error"] and "\n" not in rows[k]["error"] for k in failed)

    deep = imageio.read_image(out / "deep16.png")
    assert deep.bit_depth == 16 and deep.pixels.shape == (24, 20, 3)
    source = smooth_image(12, 10, seed=3, dtype=np.uint16)
    expected = source.repeat(2, axis=0).repeat(2, axis=1)  # the model is nearest-neighbour
    assert np.abs(deep.pixels.astype(int) - expected).max() <= 2  # 16-bit precision kept

    alpha = imageio.read_image(out / "alpha.png")
    assert alpha.alpha is not None and alpha.pixels.shape == (20, 24, 3)
    ramp = np.linspace(0, 255, 120).reshape(10, 12).astype(np.uint8).repeat(2, 0).repeat(2, 1)
    assert np.abs(alpha.alpha.astype(int) - ramp).max() <= 1  # upscaled separately, not dropped
    assert alpha.icc == SRGB_ICC

    grey = imageio.read_image(out / "grey.png")
    assert grey.pixels.shape == (18, 22, 1)

    cmyk = imageio.read_image(out / "cmyk.jpg")
    assert cmyk.pixels.shape == (20, 20, 3)

    rotated = imageio.read_image(out / "rotated.jpg")
    assert rotated.pixels.shape == (28, 16, 3)  # 8x14 rotated to 14x8, then x2
    with PILImage.open(out / "rotated.jpg") as im:
        assert im.getexif().get(0x0112, 1) == 1

    assert (out / "straße_写真.png").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 7

    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    args_skip = [*args[:-2], "--on-exists", "skip"]
    assert main(args_skip) == 1  # the bad files still fail...
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before  # ...but nothing is rewritten

    good_only = tmp_path / "good"
    good_only.mkdir()
    for name in written:
        (good_only / name).write_bytes((mixed_folder / name).read_bytes())
    assert (
        main(["upscale", str(good_only), "-o", str(out), "--model", str(model), "--on-exists", "skip"]) == 0
    )
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_cancel_leaves_no_partial_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        PILImage.fromarray(smooth_image(64, 64, seed=i)).save(src / f"{i}.png")
    up = Upscaler(load_model(tiny_model_file(tmp_path, scale=2)), device="cpu", precision="fp32", tile=32)
    progress = Progress()
    seen = []

    def on_update(event):
        seen.append(event)
        if event.info.get("file_index") == 1 and event.info.get("file_fraction", 0) > 0:
            progress.cancel()

    progress._on_update = on_update
    out = tmp_path / "out"
    with pytest.raises(Cancelled) as err:
        run_batch([src], up, BatchOptions(outdir=out), progress)
    assert [r.status for r in err.value.results] == ["done"]
    assert sorted(p.name for p in out.iterdir()) == ["0.png"]
    assert all(e.eta_s is None or e.eta_s >= 0 for e in seen)


def test_a_failed_file_does_not_stop_the_batch_and_order_is_kept(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(smooth_image(8, 8)).save(src / "a.png")
    (src / "b.png").write_bytes(b"garbage")
    PILImage.fromarray(smooth_image(8, 8)).save(src / "c.png")
    up = Upscaler(load_model(tiny_model_file(tmp_path, scale=2)), device="cpu", precision="fp32")
    files = []
    results = run_batch([src], up, BatchOptions(outdir=tmp_path / "out"), on_file=files.append)
    assert [(r.input.rsplit("/", 1)[1], r.status) for r in results] == [
        ("a.png", "done"),
        ("b.png", "failed"),
        ("c.png", "done"),
    ]
    assert files == results


def test_same_stem_inputs_get_distinct_outputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(smooth_image(8, 8, seed=1)).save(src / "a.png")
    PILImage.fromarray(smooth_image(8, 8, seed=2)).save(src / "a.bmp")
    up = Upscaler(load_model(tiny_model_file(tmp_path, scale=2)), device="cpu", precision="fp32")
    results = run_batch([src], up, BatchOptions(outdir=tmp_path / "out", format="png"))
    outputs = [r.output for r in results]
    assert len(set(outputs)) == 2 and all(r.status == "done" for r in results)
