"""Stage-1 pre-training: overfitting, exact resume after a crash, non-finite losses, export,
signals, --init-from, LR schedules."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_helpers import REPO, make_hr_folder, tiny_config

from training.checkpoint import load_checkpoint
from training.config import TrainConfig
from training.events import read_events
from training.loop import Hooks, TrainingFailed, lr_at, train


def _losses(run_dir: Path) -> list[float]:
    return [e["losses"]["l1"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "train"]


def test_loss_decreases_when_overfitting(hr_folder: Path, tmp_path: Path) -> None:
    cfg = tiny_config(hr_folder, tmp_path / "run", iters=40, lr=2e-3, n_feats=16)
    result = train(cfg, echo=None)
    losses = _losses(tmp_path / "run")
    assert result.iteration == 40 and len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert [e["type"] for e in events][0] == "start" and events[-1]["type"] == "done"
    train_event = next(e for e in events if e["type"] == "train")
    for key in ("lr", "it_per_s", "data_wait_share", "eta_s", "time", "iteration"):
        assert key in train_event
    assert 0.0 <= train_event["data_wait_share"] <= 1.0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["version"] == TrainConfig().version and saved["iters"] == 40


def _final_state(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoint.pt")


def test_resume_after_crash_matches_uninterrupted_run(hr_folder: Path, tmp_path: Path) -> None:
    common = dict(iters=10, ckpt_every=4, ema=0.9, lr=1e-3, schedule="step", lr_step=5)
    straight = tiny_config(hr_folder, tmp_path / "a", **common)
    train(straight, echo=None)

    crashed = tiny_config(hr_folder, tmp_path / "b", **common)

    def crash(iteration: int) -> None:
        if iteration == 7:
            raise RuntimeError("simulated kill")

    with pytest.raises(RuntimeError, match="simulated kill"):
        train(crashed, hooks=Hooks(after_step=crash), echo=None)
    assert _final_state(tmp_path / "b")["iteration"] == 4  # the last checkpoint before the crash
    result = train(crashed, resume=True, echo=None)
    assert result.iteration == 10

    a, b = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert a["iteration"] == b["iteration"] == 10
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    # the EMA really differs from the raw weights, so the comparison above covers both
    assert not torch.equal(a["model"]["head.0.weight"], a["ema"]["head.0.weight"])
    resumed = [e for e in read_events(tmp_path / "b" / "events.jsonl") if e["type"] == "start"]
    assert [e["resumed"] for e in resumed] == [False, True] and resumed[1]["iteration"] == 4


def test_non_finite_loss_stops_and_keeps_last_checkpoint(hr_folder: Path, tmp_path: Path) -> None:
    cfg = tiny_config(hr_folder, tmp_path / "run", iters=10, ckpt_every=2)

    def poison(iteration, lr, hr):
        if iteration == 5:
            lr = lr.clone()
            lr[0, 0, 0, 0] = float("nan")
        return lr, hr

    with pytest.raises(TrainingFailed, match="non-finite"):
        train(cfg, hooks=Hooks(on_batch=poison), echo=None)
    state = _final_state(tmp_path / "run")
    assert state["iteration"] == 4
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    errors = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "error"]
    assert len(errors) == 1 and "non-finite" in errors[0]["message"]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_export_loads_with_load_model_and_has_a_card(hr_folder: Path, tmp_path: Path) -> None:
    from sr_desktop.core.modelfile import load_model

    cfg = tiny_config(hr_folder, tmp_path / "run", iters=4, ema=0.5)
    result = train(cfg, echo=None)
    model = load_model(result.export_path)
    assert model.scale == 2 and model.arch.name == "edsr"
    out = model(torch.rand(1, 3, 10, 12))
    assert out.shape == (1, 3, 20, 24)
    card = model.card
    assert card["iterations"] == "4"
    for key in ("val_psnr", "bicubic_psnr", "recipe", "training_data", "attribution"):
        assert card.get(key), key
    assert float(card["bicubic_psnr"]) > 10
    assert "EMA" in card["recipe"] and "MATLAB bicubic" in card["recipe"]
    ema_state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["ema"]
    assert torch.equal(model.module.state_dict()["head.0.weight"], ema_state["head.0.weight"])
    # validation also records the perceptual diagnostics (metrics.detail / periodic_share)
    val = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "val"][-1]
    assert 0 < val["detail"] < 2 and 0 <= val["grid"] < 1 and val["hatch"] >= 0
    from training.events import format_event

    assert f"grid {val['grid']:.2%}" in format_event(val) and f"hatch {val['hatch']:.2f}" in format_event(val)


def test_export_defaults_to_the_user_store(hr_folder: Path, tmp_path: Path) -> None:
    from sr_desktop.core.store import user_model_dir

    cfg = tiny_config(hr_folder, tmp_path / "myrun", iters=2, export="")
    result = train(cfg, echo=None)
    assert result.export_path.parent == user_model_dir() and result.export_path.is_file()
    assert str(user_model_dir()).startswith(os.environ["SR_DESKTOP_DATA_DIR"])
    assert result.export_path.name == "edsr-x2-myrun.safetensors"


def test_init_from_x2_model_builds_x3_except_upsampler(hr_folder: Path, tmp_path: Path) -> None:
    from sr_desktop.core.modelfile import load_model

    x2 = train(tiny_config(hr_folder, tmp_path / "x2", iters=2), echo=None).export_path
    cfg = tiny_config(hr_folder, tmp_path / "x3", scale=3, iters=1, lr=1e-12, init_from=str(x2))
    result = train(cfg, echo=None)
    src = load_model(x2).module.state_dict()
    dst = load_model(result.export_path).module.state_dict()
    for k in ("head.0.weight", "body.0.body.0.weight", "body.1.bias", "tail.1.weight"):
        assert torch.allclose(src[k], dst[k], atol=1e-8), k
    assert dst["tail.0.0.weight"].shape[0] == 9 * 8 != src["tail.0.0.weight"].shape[0]
    info = [e for e in read_events(tmp_path / "x3" / "events.jsonl") if e["type"] == "info"]
    assert "tail.0.0.weight" in info[0]["message"]


def test_lr_schedules() -> None:
    step = TrainConfig(lr=1e-4, schedule="step", iters=300, lr_gamma=0.5)
    assert lr_at(step, 0, 300) == 1e-4 and lr_at(step, 199, 300) == 1e-4 and lr_at(step, 200, 300) == 5e-5
    cos = TrainConfig(lr=1e-3, schedule="cosine", lr_min=0.0, iters=100)
    assert lr_at(cos, 0, 100) == pytest.approx(1e-3)
    assert lr_at(cos, 50, 100) == pytest.approx(5e-4)
    assert lr_at(cos, 100, 100) == pytest.approx(0.0, abs=1e-12)
    warm = TrainConfig(lr=1e-3, schedule="constant", warmup=10)
    assert lr_at(warm, 0, 100) == pytest.approx(1e-4) and lr_at(warm, 50, 100) == 1e-3


def _cli(args: list[str], env_extra: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "training", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_checkpoints_exits_130_and_resumes(tmp_path: Path) -> None:
    data = make_hr_folder(tmp_path / "ds")
    run = tmp_path / "run"
    args = [
        str(data),
        "--iters",
        "100000",
        "--batch",
        "2",
        "--patch",
        "8",
        "--n-resblocks",
        "1",
        "--n-feats",
        "4",
        "--run-dir",
        str(run),
        "--log-every",
        "1",
        "--val-every",
        "0",
        "--ckpt-every",
        "0",
        "--threads",
        "1",
        "--quiet",
        "--val-crop",
        "32",
    ]
    proc = _cli(args)
    events = run / "events.jsonl"
    deadline = time.monotonic() + 120
    while not any(e["type"] == "train" for e in read_events(events)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no training event within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["iteration"] >= 1
    # a second start without --resume is refused (exit 2), --resume continues to the end
    again = _cli(args)
    _o, err2 = again.communicate(timeout=120)
    assert again.returncode == 2 and "--resume" in err2
    done = _cli(
        [
            "--resume",
            str(run),
            "--iters",
            str(state["iteration"] + 2),
            "--quiet",
            "--export",
            str(tmp_path / "m.safetensors"),
        ]
    )
    _o, err3 = done.communicate(timeout=120)
    assert done.returncode == 0, err3
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] == state["iteration"] + 2
    assert (tmp_path / "m.safetensors").is_file()


def test_stop_file_checkpoints_and_stops_then_resume_clears_it(hr_folder: Path, tmp_path: Path) -> None:
    from training.loop import STOP_FILE, Interrupted

    run = tmp_path / "run"
    cfg = tiny_config(hr_folder, run, iters=8, ckpt_every=100)

    def ask_to_stop(iteration: int) -> None:
        if iteration == 3:
            (run / STOP_FILE).touch()  # what the app does where it cannot send a signal

    with pytest.raises(Interrupted):
        train(cfg, hooks=Hooks(after_step=ask_to_stop), echo=None)
    assert _final_state(run)["iteration"] == 3  # checkpointed at the stop, not at the interval
    result = train(cfg, resume=True, echo=None)  # the stale stop file must not stop it again
    assert result.iteration == 8 and not (run / STOP_FILE).exists()


def test_export_now_writes_the_checkpoint_weights_without_training(hr_folder: Path, tmp_path: Path) -> None:
    from sr_desktop.core.modelfile import load_model
    from training.cli import main as train_main

    run = tmp_path / "run"
    cfg = tiny_config(hr_folder, run, iters=6, ckpt_every=3, ema=0.9)
    train(cfg, echo=None)
    out = tmp_path / "now.safetensors"
    assert train_main(["--resume", str(run), "--export-now", "--export", str(out), "--quiet"]) == 0
    model = load_model(out)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    for k, v in model.module.state_dict().items():
        assert torch.equal(v, ckpt["ema"][k]), k
    assert model.card["iterations"] == "6" and "EMA" in model.card["recipe"]
    assert float(model.card["val_psnr"]) > 0
    assert _final_state(run)["iteration"] == 6  # nothing was trained
    assert train_main(["--export-now"]) == 2

    raw = tmp_path / "raw.safetensors"
    assert (
        train_main(
            ["--resume", str(run), "--export-now", "--export-weights", "raw", "--export", str(raw), "--quiet"]
        )
        == 0
    )
    raw_model = load_model(raw)
    differs = False
    for k, v in raw_model.module.state_dict().items():
        assert torch.equal(v, ckpt["model"][k]), k
        differs = differs or not torch.equal(v, ckpt["ema"][k])
    assert differs  # EMA 0.9 over 6 steps is not the raw weights
    assert "weights raw" in raw_model.card["recipe"]
    # the run validated its EMA weights; the raw ones are validated afresh for their card
    assert raw_model.card["val_psnr"] != model.card["val_psnr"]
    assert raw_model.card["bicubic_psnr"] == model.card["bicubic_psnr"]  # same images and protocol
    assert train_main(["--resume", str(run), "--export-weights", "raw", "--quiet"]) == 2


def test_export_weights_ema_is_refused_for_a_run_without_ema(hr_folder: Path, tmp_path: Path) -> None:
    from training.cli import main as train_main

    run = tmp_path / "run"
    train(tiny_config(hr_folder, run, iters=2, ckpt_every=2), echo=None)
    out = tmp_path / "x.safetensors"
    args = ["--resume", str(run), "--export-now", "--export", str(out), "--quiet"]
    assert train_main([*args, "--export-weights", "ema"]) == 2 and not out.exists()
    assert train_main([*args, "--export-weights", "auto"]) == 0 and out.exists()


def test_bf16_autocast_on_the_cpu_trains_in_bf16_and_keeps_fp32_weights(
    hr_folder: Path, tmp_path: Path
) -> None:
    from training.loop import build_stage

    cfg = tiny_config(hr_folder, tmp_path / "run", iters=40, lr=2e-3, n_feats=16, amp="bf16")
    model = torch.nn.Conv2d(3, 3, 3, padding=1)
    stage = build_stage(cfg, model, torch.device("cpu"), None, None)
    with stage.autocast():
        assert model(torch.rand(1, 3, 8, 8)).dtype == torch.bfloat16
    result = train(cfg, echo=None)
    losses = _losses(tmp_path / "run")
    assert result.iteration == 40
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    weights = _final_state(tmp_path / "run")["model"]
    assert all(t.dtype == torch.float32 for t in weights.values() if t.is_floating_point())


def test_fp16_on_the_cpu_is_refused(hr_folder: Path, tmp_path: Path, capsys) -> None:
    from training.cli import main

    assert (
        main(
            [str(hr_folder), "--device", "cpu", "--amp", "fp16", "--run-dir", str(tmp_path / "r"), "--quiet"]
        )
        == 2
    )
    assert "--amp fp16 needs a CUDA device" in capsys.readouterr().err


def test_cpu_bf16_is_read_from_the_cpu_flags() -> None:
    from training.loop import cpu_has_native_bf16

    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    sapphire = "flags\t: fpu avx512f amx_bf16 amx_tile\n"
    older = "flags\t: fpu sse2 avx2 avx512f avx512_vnni\n"
    assert cpu_has_native_bf16(zen4) and cpu_has_native_bf16(sapphire)
    assert not cpu_has_native_bf16(older) and not cpu_has_native_bf16("")


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "off")])
def test_amp_auto_picks_bf16_only_where_the_cpu_has_it(hr_folder, tmp_path, monkeypatch, native, expected):
    import training.loop

    monkeypatch.setattr(training.loop, "cpu_has_native_bf16", lambda: native)
    cfg = tiny_config(hr_folder, tmp_path / "run", iters=2, amp="auto")
    train(cfg, echo=None)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["amp"] == expected
    start = read_events(tmp_path / "run" / "events.jsonl")[0]
    assert start["amp"] == expected and ("bf16 autocast" in start["message"]) == native


def test_fresh_subpixel_conv_starts_as_nearest_neighbour(tmp_path: Path) -> None:
    from helpers import tiny_model_file
    from torch import nn

    from sr_desktop.core.archs.edsr import EDSR, EDSRConfig
    from training.init_weights import load_matching_weights, nearest_subpixel_init

    stage = nn.Sequential(nn.Conv2d(5, 20, 3, padding=1), nn.PixelShuffle(2))
    assert nearest_subpixel_init(stage, {"0.weight"}) == ["0"]
    x = torch.rand(1, 5, 6, 7)
    assert torch.equal(stage(x), nn.functional.interpolate(x, scale_factor=2, mode="nearest"))

    x2 = tiny_model_file(tmp_path, scale=2)
    x4 = EDSR(EDSRConfig(scale=4, n_resblocks=1, n_feats=8))
    before = x4.state_dict()["tail.0.0.weight"].clone()
    _copied, skipped = load_matching_weights(x4, x2)
    assert skipped == ["tail.0.2.weight", "tail.0.2.bias"]
    sd = x4.state_dict()
    assert not torch.equal(sd["tail.0.0.weight"], before)  # copied from the x2 model, not re-initialised
    w = sd["tail.0.2.weight"]
    assert w.sum() == 8 * 4 and w[4:8, 1, 1, 1].tolist() == [1.0] * 4 and sd["tail.0.2.bias"].abs().sum() == 0


def test_freeze_keeps_the_named_weights_fixed(hr_folder: Path, tmp_path: Path) -> None:
    """--freeze tail: the upsampler's weights end exactly as the model started, the rest trains."""
    from sr_desktop.core.modelfile import read_state_dict

    pre = train(tiny_config(hr_folder, tmp_path / "pre", iters=2), echo=None).export_path
    out = train(
        tiny_config(hr_folder, tmp_path / "ft", iters=3, init_from=str(pre), freeze="tail"), echo=None
    ).export_path
    before, _ = read_state_dict(pre)
    after, _ = read_state_dict(out)
    tail = [k for k in before if k.startswith("tail.")]
    assert tail and all(torch.equal(before[k], after[k]) for k in tail)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("body."))
    start = next(e for e in read_events(tmp_path / "ft" / "events.jsonl") if e["type"] == "start")
    assert "frozen (tail)" in start["init"]
    from sr_desktop.core.modelfile import load_model

    assert "tail frozen" in load_model(out).card["recipe"]


def test_freeze_of_unknown_weights_is_a_clear_error(hr_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingFailed, match="--freeze tial: no such weights .*tail"):
        train(tiny_config(hr_folder, tmp_path / "x", iters=1, freeze="tial"), echo=None)


def test_a_run_with_downscaled_copies_trains_on_them_and_says_so(hr_folder: Path, tmp_path: Path) -> None:
    cfg = tiny_config(hr_folder, tmp_path / "run", iters=3, add_downscaled="0.75")
    result = train(cfg, echo=None)
    start = next(e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "start")
    assert result.iteration == 3
    assert start["downscaled_copies"] == start["train_images"] > 0


def test_a_run_on_downscaled_copies_only_says_so(hr_folder: Path, tmp_path: Path) -> None:
    cfg = tiny_config(hr_folder, tmp_path / "run", iters=2, add_downscaled="0.75", downscaled_only=True)
    result = train(cfg, echo=None)
    assert result.iteration == 2
    start = next(e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "start")
    assert start["downscaled_copies"] == start["train_images"] > 0
    from sr_desktop.core.modelfile import load_model

    assert "only HR copies downscaled x0.75" in str(load_model(result.export_path).card)


def test_patch_and_batch_may_change_on_resume(hr_folder: Path, tmp_path: Path) -> None:
    from training.cli import build_parser, config_from_args

    run = tmp_path / "run"
    train(tiny_config(hr_folder, run, iters=3, ckpt_every=3), echo=None)
    ns = build_parser().parse_args(["--resume", str(run), "--patch", "16", "--batch", "2", "--iters", "6"])
    cfg, resumed, notes = config_from_args(ns)
    assert resumed and not notes and (cfg.patch, cfg.batch) == (16, 2)
    shapes: dict[int, tuple] = {}

    def see(iteration: int, lr: torch.Tensor, hr: torch.Tensor):
        shapes[iteration] = (tuple(lr.shape), tuple(hr.shape))
        return lr, hr

    result = train(cfg, resume=True, hooks=Hooks(on_batch=see), echo=None)
    assert result.iteration == 6 and sorted(shapes) == [3, 4, 5]
    assert set(shapes.values()) == {((2, 3, 16, 16), (2, 3, 32, 32))}
    assert json.loads((run / "config.json").read_text())["patch"] == 16  # a later resume keeps it
