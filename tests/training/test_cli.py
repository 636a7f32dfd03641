"""sr-train's command line: usage and dataset errors exit 2 with a message, python -m training is
the same program, and training never imports Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import REPO, make_hr_folder

from training.cli import build_parser, config_from_args, main


def test_bad_dataset_exits_2_with_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_hr_folder(tmp_path / "two", n=2)
    assert main([str(tmp_path / "two"), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "only 2 image(s)" in err and "Traceback" not in err


def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_hr_folder(tmp_path / "ds")
    assert main([str(data), "--ema", "1.5", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--ema" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([str(data), "--scale", "5"])
    assert exc.value.code == 2
    assert main(["--resume", str(tmp_path / "nothing")]) == 2


def test_missing_init_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_hr_folder(tmp_path / "ds")
    code = main(
        [
            str(data),
            "--init-from",
            str(tmp_path / "nope.safetensors"),
            "--run-dir",
            str(tmp_path / "r"),
            "--iters",
            "1",
            "--quiet",
            "--n-resblocks",
            "1",
            "--n-feats",
            "4",
            "--patch",
            "8",
        ]
    )
    assert code == 2 and "nope.safetensors" in capsys.readouterr().err


def test_gan_stage_without_vgg_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = make_hr_folder(tmp_path / "ds")
    code = main(
        [
            str(data),
            "--stage",
            "gan",
            "--run-dir",
            str(tmp_path / "r"),
            "--iters",
            "1",
            "--quiet",
            "--n-resblocks",
            "1",
            "--n-feats",
            "4",
            "--patch",
            "8",
            "--batch",
            "2",
        ]
    )
    assert code == 2 and "--vgg16-file" in capsys.readouterr().err


def test_resume_keeps_the_run_config_but_takes_new_iters(tmp_path: Path) -> None:
    from training.config import TrainConfig

    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(dataset="d", scale=3, iters=100).save(run / "config.json")
    ns = build_parser().parse_args(["--resume", str(run), "--iters", "200", "--scale", "4"])
    cfg, resume, notes = config_from_args(ns)
    assert resume and cfg.iters == 200 and cfg.scale == 3 and cfg.run_dir == str(run)
    assert any("--scale ignored" in n for n in notes)
    only_minutes, _, _ = config_from_args(build_parser().parse_args(["d", "--minutes", "30"]))
    assert only_minutes.iters == 0 and only_minutes.minutes == 30


def test_python_m_training_is_sr_train_and_never_imports_qt() -> None:
    code = (
        "import sys, training.cli, training.loop, training.gan, training.div2k, training.stages;"
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'PyQt'))]"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "training", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert help_text.returncode == 0 and "sr-train" in help_text.stdout and "--resume" in help_text.stdout


def _parse(argv: list[str]):
    return config_from_args(build_parser().parse_args(argv))


def test_recipe_file_sets_options_and_the_command_line_wins(tmp_path: Path) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text('{"_about": "a note", "n-resblocks": 4, "n_feats": 8, "lr": 0.0005, "scale": 3}')
    cfg, resume, _ = _parse(["--config", str(recipe), "--scale", "4", str(tmp_path)])
    assert not resume
    assert (cfg.n_resblocks, cfg.n_feats, cfg.lr, cfg.scale) == (4, 8, 0.0005, 4)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"n_blocks": 4}', "unknown option(s) n_blocks"),
        ("[1, 2]", "a recipe is a JSON object"),
        ("{oops", "not a JSON recipe"),
    ],
)
def test_bad_recipe_exits_2_naming_the_problem(tmp_path: Path, capsys, text: str, message: str) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text(text)
    assert main(["--config", str(recipe), str(tmp_path), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.json"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_recipe_and_resume_do_not_mix(tmp_path: Path, capsys) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text("{}")
    assert main(["--config", str(recipe), "--resume", str(tmp_path)]) == 2
    assert "--config starts a new run" in capsys.readouterr().err


SHIPPED_RECIPES = sorted((REPO / "recipes").rglob("*.json"))


@pytest.mark.parametrize("path", SHIPPED_RECIPES, ids=lambda p: str(p.relative_to(REPO / "recipes")))
def test_shipped_recipes_are_valid_configs(path: Path) -> None:
    cfg, _, _ = _parse(["--config", str(path)])
    model = Path(cfg.export).stem
    # NAME.json trains model NAME; NAME-STAGE.json a later stage of it
    assert model in ("edsr-x2", "edsr-x3", "edsr-x4", "srgan-x4") and path.stem.startswith(model)
    assert cfg.scale == int(model[-1]) and cfg.arch == "edsr" and (cfg.n_resblocks, cfg.n_feats) == (16, 64)
    assert cfg.stage == ("gan" if model.startswith("srgan") else "pretrain")
    if cfg.stage == "gan":
        assert cfg.vgg16_file and Path(cfg.init_from).name == "edsr-x4.safetensors"
    if cfg.init_from and not cfg.init_from.startswith(("resources/models/", "runs/")):
        assert (REPO / cfg.init_from).is_file(), cfg.init_from  # a later stage starts from committed weights
    # four models, CPU and GPU, and the later stages of edsr-x2 (one), edsr-x3 (three) and edsr-x4 (two), CPU
    assert len(SHIPPED_RECIPES) == 14


MACHINE_OR_LOGGING = (
    "dataset", "version", "extra", "device", "workers", "threads", "amp", "val_every", "ckpt_every", "log_every",
)  # fmt: skip
COMMITTED_RUNS = sorted((REPO / "training-state").glob("*/config.json"))


@pytest.mark.parametrize("state", COMMITTED_RUNS, ids=lambda p: p.parent.name)
def test_recipe_is_the_committed_run(state: Path) -> None:
    """Each bundled model's recipes/NAME.json is what its committed training state ran (options
    newer than the run compare by their defaults; machine-dependent ones are not compared)."""
    from training.config import TrainConfig

    run = TrainConfig.load(state).to_dict()
    cfg, _, _ = _parse(["--config", str(REPO / "recipes" / f"{state.parent.name}.json")])
    for key, value in cfg.to_dict().items():
        # machine-dependent options and the logging cadence do not change the model
        if key not in MACHINE_OR_LOGGING:
            assert run[key] == value, key


def test_the_x2_run_is_committed() -> None:
    assert "edsr-x2" in {p.parent.name for p in COMMITTED_RUNS}


def test_add_downscaled_is_checked_may_change_on_resume_and_reaches_the_recipe_text(tmp_path: Path) -> None:
    from training.config import ConfigError, TrainConfig
    from training.export import recipe_text

    for bad in ("0.5,x", "1.5", "0"):
        with pytest.raises(ConfigError, match="--add-downscaled"):
            TrainConfig(dataset="d", iters=1, add_downscaled=bad).validate()
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(dataset="d", iters=100).save(run / "config.json")
    ns = build_parser().parse_args(["--resume", str(run), "--add-downscaled", "0.75, 0.5"])
    cfg, _, notes = config_from_args(ns)
    cfg.validate()
    assert cfg.downscale_factors() == (0.75, 0.5) and not notes
    assert "plus HR copies downscaled x0.75, x0.5; flips/rotations" in recipe_text(cfg, "w")
    assert "downscaled" not in recipe_text(TrainConfig(dataset="d"), "w")


def test_downscaled_only_needs_the_factors_may_change_on_resume_and_reaches_the_recipe_text(
    tmp_path: Path,
) -> None:
    from training.config import ConfigError, TrainConfig
    from training.export import recipe_text

    with pytest.raises(ConfigError, match="--downscaled-only needs --add-downscaled"):
        TrainConfig(dataset="d", iters=1, downscaled_only=True).validate()
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(dataset="d", iters=100).save(run / "config.json")
    ns = build_parser().parse_args(["--resume", str(run), "--add-downscaled", "0.5", "--downscaled-only"])
    cfg, _, notes = config_from_args(ns)
    cfg.validate()
    assert cfg.downscaled_only and not notes
    assert "only HR copies downscaled x0.5; flips/rotations" in recipe_text(cfg, "w")
    cfg.save(run / "config.json")
    assert config_from_args(build_parser().parse_args(["--resume", str(run)]))[0].downscaled_only
    ns = build_parser().parse_args(["--resume", str(run), "--no-downscaled-only"])
    assert not config_from_args(ns)[0].downscaled_only


def test_rgb_permute_is_a_share_may_change_on_resume_and_reaches_the_recipe_text(
    tmp_path: Path,
) -> None:
    from training.config import ConfigError, TrainConfig
    from training.export import recipe_text

    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="--rgb-permute must be in"):
            TrainConfig(dataset="d", iters=1, rgb_permute=bad).validate()
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(dataset="d", iters=100).save(run / "config.json")
    cfg, _, notes = config_from_args(
        build_parser().parse_args(["--resume", str(run), "--rgb-permute", "0.5"])
    )
    cfg.validate()
    assert cfg.rgb_permute == 0.5 and not notes
    assert "flips/rotations; colour channels reordered (0.5); no EMA" in recipe_text(cfg, "w")
    assert "colour" not in recipe_text(TrainConfig(dataset="d"), "w")


def test_the_pixel_loss_may_change_on_resume(tmp_path: Path) -> None:
    from training.config import TrainConfig

    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(dataset="d", iters=100, lr=1e-3).save(run / "config.json")
    ns = build_parser().parse_args(["--resume", str(run), "--loss", "mse", "--lr", "5e-4"])
    cfg, _, notes = config_from_args(ns)
    assert cfg.pixel_loss == "mse" and cfg.lr == 1e-3
    assert notes == ["--lr ignored on resume (the run uses 0.001)"]


def test_gan_recipe_text_lists_each_extra_loss_once_with_its_weight() -> None:
    from training.config import TrainConfig
    from training.export import recipe_text

    cfg = TrainConfig(
        dataset="d", stage="gan", consistency_weight=1, grid_weight=0.5, artefact_weight=100, grid_guard=True
    )
    text = recipe_text(cfg, "w")
    assert "LR-consistency L1 x1; grid-pattern L1 x0.5; LDL artefact-map L1 x100; grid guard;" in text
    assert text.count("L1 x") == 3 + 1  # the three extras and the GAN stage's pixel L1
    assert "LR-consistency" not in recipe_text(TrainConfig(dataset="d", stage="gan"), "w")
