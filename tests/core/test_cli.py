import json
import sys

import pytest
from helpers import smooth_image, tiny_model_file
from PIL import Image as PILImage

from sr_desktop import __version__
from sr_desktop.cli import main


@pytest.fixture
def model(tmp_path):
    return tiny_model_file(tmp_path / "m", scale=2)


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array).save(path)
    return path


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_models_empty_says_so(capsys, tmp_path, monkeypatch):
    from sr_desktop.core import store

    monkeypatch.setattr(store, "bundled_model_dir", lambda: tmp_path / "none")
    assert main(["models"]) == 0
    assert "No models installed" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_models_lists_the_bundled_ones(capsys):
    from sr_desktop.core import store

    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in listing} == {p.stem for p in store.bundled_model_dir().glob("*.safetensors")}
    assert all(m["bundled"] for m in listing)


def test_models_lists_user_models_with_cards(tmp_path, capsys, monkeypatch):
    from sr_desktop.core import store

    tiny_model_file(store.user_model_dir(), scale=3, name="mine")
    assert main(["models", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["name"] == "mine"]
    assert rows and rows[0]["scale"] == 3 and rows[0]["arch"] == "edsr" and not rows[0]["bundled"]
    assert rows[0]["card"]["description"] == "tiny random test model"


def test_upscale_without_any_model_is_a_clear_usage_error(tmp_path, capsys, monkeypatch):
    from sr_desktop.core import store

    monkeypatch.setattr(store, "bundled_model_dir", lambda: tmp_path / "none")
    img = write_png(tmp_path / "a.png", smooth_image(8, 8))
    assert main(["upscale", str(img), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no models are installed" in err and "--model" in err and "Traceback" not in err


def test_upscale_writes_outputs_report_and_skips_on_rerun(tmp_path, model, capsys):
    src = tmp_path / "in"
    write_png(src / "a.png", smooth_image(12, 10, seed=1))
    write_png(src / "sub" / "b.png", smooth_image(9, 7, seed=2))
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.png").write_bytes(b"")
    out, report = tmp_path / "out", tmp_path / "report.json"
    args = [
        "upscale",
        str(src),
        "-o",
        str(out),
        "--model",
        str(model),
        "--recursive",
        "--report",
        str(report),
    ]
    assert main(args) == 0
    assert PILImage.open(out / "a.png").size == (20, 24)
    assert PILImage.open(out / "sub" / "b.png").size == (14, 18)
    rows = json.loads(report.read_text())
    assert sorted(r["status"] for r in rows) == ["done", "done"]
    assert set(rows[0]) == {"input", "output", "status", "error", "seconds"}
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(args) == 0
    assert [r["status"] for r in json.loads(report.read_text())] == ["skipped", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_name_template_format_and_outscale(tmp_path, model):
    img = write_png(tmp_path / "pic.png", smooth_image(10, 10))
    out = tmp_path / "out"
    args = ["upscale", str(img), "-o", str(out), "--model", str(model), "--name", "{stem}_x{scale}_{model}",
            "--format", "jpg", "--quality", "80", "--outscale", "3"]  # fmt: skip
    assert main(args) == 0
    result = out / "pic_x3_tiny-x2.jpg"
    assert PILImage.open(result).size == (30, 30) and PILImage.open(result).format == "JPEG"


@pytest.mark.parametrize(
    "extra",
    [["--name", "../escape"], ["--name", "{nope}"], ["--format", "gif"], ["--quality", "0"], ["--tile", "x"],
     ["--device", "tpu"], ["--outscale", "-1"]],
)  # fmt: skip
def test_bad_usage_exits_2_with_one_line(tmp_path, model, capsys, extra):
    img = write_png(tmp_path / "a.png", smooth_image(8, 8))
    with pytest.raises(SystemExit) if extra[0] == "--format" else _nothing():
        code = main(["upscale", str(img), "-o", str(tmp_path / "o"), "--model", str(model), *extra])
        if extra[0] == "--name" and extra[1] == "../escape":
            # a name with a path separator fails that file (not the batch), nothing escapes
            assert code == 1
            assert not (tmp_path / "escape.png").exists()
        else:
            assert code == 2
            err = capsys.readouterr().err
            assert "Traceback" not in err and err.strip()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_on_exists_rename_and_overwrite(tmp_path, model):
    img = write_png(tmp_path / "a.png", smooth_image(8, 8))
    out = tmp_path / "out"
    base = ["upscale", str(img), "-o", str(out), "--model", str(model)]
    assert main(base) == 0
    assert main([*base, "--on-exists", "rename"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a (1).png", "a.png"]
    (out / "a.png").write_bytes(b"old")
    assert main([*base, "--on-exists", "overwrite"]) == 0
    assert PILImage.open(out / "a.png").size == (16, 16)


def test_missing_input_fails_that_file(tmp_path, model, capsys):
    good = write_png(tmp_path / "a.png", smooth_image(8, 8))
    assert (
        main(
            [
                "upscale",
                str(good),
                str(tmp_path / "nope.png"),
                "-o",
                str(tmp_path / "o"),
                "--model",
                str(model),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.png'}: no such file" in err
    assert (tmp_path / "o" / "a.png").exists()


def test_eval_command_reports_model_and_bicubic(tmp_path, model, capsys):
    hr = tmp_path / "hr"
    for i in range(2):
        write_png(hr / f"im{i}.png", smooth_image(24, 20, seed=i))
    assert main(["eval", "--model", str(model), "--hr", str(hr), "--scale", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["images"]) == 2 and data["model"] == "tiny-x2"
    assert data["mean_bicubic_psnr"] > 25  # smooth images: bicubic is good
    assert data["tta"] is False
    assert main(["eval", "--model", str(model), "--hr", str(hr), "--scale", "2", "--json", "--tta"]) == 0
    tta = json.loads(capsys.readouterr().out)
    assert tta["tta"] is True and tta["mean_psnr"] != data["mean_psnr"]
    assert main(["eval", "--model", str(model), "--hr", str(hr), "--scale", "3"]) == 2


def test_module_entry_point_runs(tmp_path):
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "sr_desktop", "models"], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "SR_DESKTOP_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_train_subcommand_is_sr_train(tmp_path, capsys):
    from sr_desktop.cli import training_command

    cmd = training_command(["--help"])
    assert cmd[-2:] == ["train", "--help"]
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    assert "--stage" in capsys.readouterr().out


def test_max_pixels_limit_and_raising_it(tmp_path, model, capsys):
    img = write_png(tmp_path / "big.png", smooth_image(40, 50))
    out = tmp_path / "o"
    assert main(["upscale", str(img), "-o", str(out), "--model", str(model), "--max-pixels", "1000"]) == 1
    err = capsys.readouterr().err
    assert "--max-pixels" in err and str(img) in err
    assert not out.exists() or not any(out.iterdir())
    assert main(["upscale", str(img), "-o", str(out), "--model", str(model), "--max-pixels", "0"]) == 0
    assert (out / "big.png").exists()


def test_default_model_falls_back_to_an_installed_one(tmp_path, capsys, monkeypatch):
    from sr_desktop.core import store

    monkeypatch.setattr(store, "bundled_model_dir", lambda: tmp_path / "none")
    tiny_model_file(store.user_model_dir(), scale=2, name="only-x2")
    img = write_png(tmp_path / "a.png", smooth_image(8, 8))
    assert main(["upscale", str(img), "-o", str(tmp_path / "o")]) == 0
    assert "edsr-x4 is not installed; using only-x2" in capsys.readouterr().err
    assert PILImage.open(tmp_path / "o" / "a.png").size == (16, 16)
