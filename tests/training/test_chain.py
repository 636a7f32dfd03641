"""``sr-train --config A --config B``: stages in a row, each from the model of the one before,
and the same command again continues where it stopped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from train_helpers import tiny_config

from training.cli import main
from training.events import read_events
from training.loop import train


def _recipe(path: Path, cfg) -> str:
    values = {k: v for k, v in cfg.to_dict().items() if k not in ("version", "extra")}
    path.write_text(json.dumps(values))
    return str(path)


def _two_stages(hr_folder: Path, tmp_path: Path, **second):
    first = tiny_config(hr_folder, tmp_path / "one", iters=6)
    # the second stage names its own start weights: in a chain they are replaced
    other = tmp_path / "elsewhere.safetensors"
    values = dict(iters=4, init_from=str(other), lr=1e-12, warmup=0)
    values.update(second)
    following = tiny_config(hr_folder, tmp_path / "two", **values)
    return first, following


def _lines(run: Path) -> int:
    return len((run / "events.jsonl").read_text().splitlines())


def test_a_chain_starts_each_stage_from_the_model_before(hr_folder: Path, tmp_path: Path, capsys) -> None:
    first, following = _two_stages(hr_folder, tmp_path)
    a, b = _recipe(tmp_path / "a.json", first), _recipe(tmp_path / "b.json", following)
    assert main(["--config", a, "--config", b]) == 0
    out = capsys.readouterr().out
    assert "stage 1/2" in out and "stage 2/2" in out
    saved = json.loads((tmp_path / "two" / "config.json").read_text())
    assert saved["init_from"] == first.export
    # at a learning rate of 1e-12 the second stage keeps the weights it started from
    one, two = load_file(first.export), load_file(following.export)
    assert one.keys() == two.keys()
    for key in one:
        assert (one[key] - two[key]).abs().max() < 1e-6, key


def test_the_same_command_again_trains_nothing(hr_folder: Path, tmp_path: Path, capsys) -> None:
    first, following = _two_stages(hr_folder, tmp_path)
    args = [
        "--config",
        _recipe(tmp_path / "a.json", first),
        "--config",
        _recipe(tmp_path / "b.json", following),
    ]
    assert main(args + ["--quiet"]) == 0
    before = (_lines(tmp_path / "one"), _lines(tmp_path / "two"))
    assert main(args) == 0
    assert (_lines(tmp_path / "one"), _lines(tmp_path / "two")) == before
    assert capsys.readouterr().out.count("finished already") == 2


def test_an_interrupted_stage_resumes_from_its_checkpoint(hr_folder: Path, tmp_path: Path) -> None:
    first, following = _two_stages(hr_folder, tmp_path, lr=1e-3, iters=8)
    a, b = _recipe(tmp_path / "a.json", first), _recipe(tmp_path / "b.json", following)
    train(first, echo=None)
    # the second stage got as far as 3 of its 8 iterations (a run cut short leaves a checkpoint
    # and no "done" after its last start)
    train(dataclasses.replace(following, iters=3, init_from=first.export), echo=None)
    events = tmp_path / "two" / "events.jsonl"
    events.write_text(
        "\n".join(line for line in events.read_text().splitlines() if '"done"' not in line) + "\n"
    )
    stage_one_lines = _lines(tmp_path / "one")

    assert main(["--config", a, "--config", b, "--quiet"]) == 0
    assert _lines(tmp_path / "one") == stage_one_lines  # finished: not trained again
    starts = [e for e in read_events(events) if e["type"] == "start"]
    assert [(e["iteration"], e["resumed"]) for e in starts] == [(0, False), (3, True)]
    assert [e for e in read_events(events) if e["type"] == "done"][-1]["iteration"] == 8


def test_a_folder_holding_another_run_is_refused(hr_folder: Path, tmp_path: Path, capsys) -> None:
    first, following = _two_stages(hr_folder, tmp_path)
    a, b = _recipe(tmp_path / "a.json", first), _recipe(tmp_path / "b.json", following)
    assert main(["--config", a, "--config", b, "--quiet"]) == 0
    (tmp_path / "one" / "events.jsonl").unlink()  # not finished any more: it would resume
    changed = _recipe(tmp_path / "a.json", tiny_config(hr_folder, tmp_path / "one", iters=6, n_feats=16))
    assert main(["--config", changed, "--config", b, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "differs in n_feats" in err and str(tmp_path / "one") in err


@pytest.mark.parametrize("option", [["--run-dir", "x"], ["--export", "x.safetensors"], ["--resume", "x"]])
def test_options_that_name_one_run_are_refused_for_a_chain(tmp_path: Path, capsys, option) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text("{}")
    assert main(["--config", str(recipe), "--config", str(recipe), *option, "--quiet"]) == 2
    assert option[0] in capsys.readouterr().err


def test_stages_need_their_own_run_folders(hr_folder: Path, tmp_path: Path, capsys) -> None:
    recipe = _recipe(tmp_path / "a.json", tiny_config(hr_folder, tmp_path / "one"))
    assert main(["--config", recipe, "--config", recipe, "--quiet"]) == 2
    assert "its own run_dir" in capsys.readouterr().err
