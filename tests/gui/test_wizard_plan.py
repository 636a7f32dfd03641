"""The wizard's Qt-free parts: the plan's command line, the events tail, the speed estimate."""

import json
import os
from pathlib import Path

from sr_desktop.gui.wizard.events_tail import EventTail
from sr_desktop.gui.wizard.plan import (
    TrainingPlan,
    calibration_args,
    estimate_seconds,
    format_duration,
    plan_from_run,
    rate_from_events,
    read_run,
)


def test_plan_to_args_is_accepted_by_sr_train(tmp_path):
    from training.cli import build_parser, config_from_args

    plan = TrainingPlan(dataset=str(tmp_path), scale=3, model_name="mine", run_dir=str(tmp_path / "run"))
    plan.set_arch("srresnet")
    plan.stage, plan.vgg_source, plan.vgg_file = "both", "vgg16-file", "/x/vgg16.ckpt"
    plan.budget_kind, plan.minutes = "minutes", 30
    args = plan.to_args(rate=10.0)
    cfg, resume, _notes = config_from_args(build_parser().parse_args(args))
    assert not resume
    assert (cfg.arch, cfg.scale, cfg.stage, cfg.minutes, cfg.iters) == ("srresnet", 3, "both", 15.0, 0)
    assert cfg.vgg16_file == "/x/vgg16.ckpt"
    assert cfg.amp == "auto"  # the wizard trains in bf16 where the hardware has it
    assert cfg.export == str(Path(os.environ["SR_DESKTOP_DATA_DIR"]) / "models" / "mine.safetensors")
    # 15 min per stage at 10 it/s = 9000 steps -> a check (and checkpoint) every 450
    assert cfg.val_every == cfg.ckpt_every == 450


def test_plan_problems_and_iteration_budget(tmp_path):
    plan = TrainingPlan(dataset=str(tmp_path), model_name="bad name")
    assert any("name" in p for p in plan.problems())
    plan.model_name, plan.stage = "ok", "both"
    assert any("VGG" in p for p in plan.problems())
    plan.vgg_source = "vgg19-download"
    assert plan.problems() == []
    assert "--allow-download" in plan.to_args()
    plan.stage, plan.budget_kind, plan.iters = "pretrain", "iters", 10
    args = plan.to_args()
    assert args[args.index("--iters") + 1] == "10" and "--minutes" not in args
    assert args[args.index("--val-every") + 1] == "5"


def test_calibration_args_parse(tmp_path):
    from training.cli import build_parser, config_from_args

    plan = TrainingPlan(dataset=str(tmp_path), n_resblocks=1, n_feats=8, batch=2, patch=16, threads=1)
    args = calibration_args(plan, tmp_path / "run", tmp_path / "m.safetensors")
    cfg, _r, _n = config_from_args(build_parser().parse_args(args))
    assert cfg.stage == "pretrain" and cfg.iters > 0 and 0 < cfg.minutes < 1 and cfg.log_every == 1


def test_events_tail_reads_only_complete_lines(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    f = run / "events.jsonl"
    first = json.dumps({"type": "start", "iteration": 0, "time": 1.0})
    second = json.dumps({"type": "train", "iteration": 1, "time": 2.0})
    f.write_text(first + "\n" + second[:10])
    tail = EventTail(run)
    assert [e["type"] for e in tail.poll()] == ["start"]
    assert tail.poll() == []
    with open(f, "a") as fh:
        fh.write(second[10:] + "\nnot json\n")
    events = tail.poll()
    assert [(e["type"], e["iteration"]) for e in events] == [("train", 1)]
    # a two-stage run writes pretrain/ then gan/ files; each event says which
    (run / "gan").mkdir()
    (run / "gan" / "events.jsonl").write_text(json.dumps({"type": "val", "iteration": 3, "time": 3.0}) + "\n")
    assert [(e["type"], e["stage"]) for e in tail.poll()] == [("val", "gan")]


def test_rate_and_estimate():
    events = [{"type": "start", "iteration": 0, "time": 0.0}] + [
        {"type": "train", "iteration": i, "time": 10.0 + (0.5 if i == 1 else 0.0) + i * 0.25}
        for i in range(1, 12)
    ]
    assert abs(rate_from_events(events) - 4.0) < 1e-6  # warm-up steps left out
    assert rate_from_events(events[:3]) is None
    plan = TrainingPlan(budget_kind="iters", iters=400)
    assert estimate_seconds(plan, 4.0, 5.0) == 105.0
    plan.stage = "both"
    assert estimate_seconds(plan, 4.0, 5.0) > 2 * 105.0
    assert format_duration(59) == "59 s" and format_duration(3700) == "1 h 01 min"


def test_read_run_and_plan_from_run(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps(
            {"dataset": "/d", "scale": 4, "arch": "edsr", "iters": 50, "export": "/m/my-model.safetensors"}
        )
    )
    (run / "events.jsonl").write_text(json.dumps({"type": "checkpoint", "iteration": 20, "time": 1}) + "\n")
    (run / "checkpoint.pt").write_bytes(b"x")
    info = read_run(run)
    assert info.iteration == 20 and info.resumable and not info.finished
    plan = plan_from_run(info)
    assert (plan.scale, plan.model_name, plan.iters) == (4, "my-model", 50)
    assert read_run(tmp_path / "nothing") is None
