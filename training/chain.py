"""Recipes in a row: ``sr-train --config A.json --config B.json ...``.

A bundled model whose training has several stages (a run from scratch, then a restart of its
weights at a high learning rate again) is one command: each stage after the first starts from
the model the stage before exported (its recipe's ``init_from`` is replaced by that file).

Running the same command again continues it: a finished stage (its run folder's events end with
``done`` and its model exists) is skipped, an interrupted one resumes from its checkpoint, as
``--resume`` would, with the stage's resumable options from its recipe and the command line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from .checkpoint import CHECKPOINT_NAME
from .config import ConfigError, TrainConfig
from .events import read_events
from .export import export_path
from .loop import TrainResult, train

# not compared when a stage resumes: bookkeeping, the start weights (a resumed stage takes its
# weights from its checkpoint) and what may change on resume anyway
_NOT_COMPARED = {"version", "extra", "run_dir", "init_from", "log_every"}


@dataclasses.dataclass
class Stage:
    recipe: str  # the recipe file it came from, for messages
    cfg: TrainConfig


def finished(cfg: TrainConfig) -> bool:
    """The stage's run has ended (a ``done`` after its last ``start``) and its model exists."""
    events_file = Path(cfg.run_dir) / "events.jsonl"
    if not events_file.is_file() or not export_path(cfg).is_file():
        return False
    ended = False
    for event in read_events(events_file):
        if event.get("type") == "start":
            ended = False
        elif event.get("type") == "done":
            ended = True
    return ended


def resumed_config(stage: Stage, resumable: tuple[str, ...]) -> TrainConfig:
    """The run folder's own config with the stage's resumable options; refuses a folder that
    holds a run of other options (another recipe, or an edited one)."""
    saved = TrainConfig.load(Path(stage.cfg.run_dir) / "config.json")
    wanted = stage.cfg.to_dict()
    differ = sorted(
        key
        for key, value in saved.to_dict().items()
        if key not in _NOT_COMPARED and key not in resumable and wanted.get(key) != value
    )
    if differ:
        raise ConfigError(
            f"{stage.cfg.run_dir} holds a run that {stage.recipe} did not start (it differs in "
            f"{', '.join(differ)}): move that folder away, or resume it on its own with --resume"
        )
    for key in resumable:
        setattr(saved, key, getattr(stage.cfg, key))
    return saved


def run_chain(
    stages: list[Stage],
    resumable: tuple[str, ...],
    echo: Callable[[str], None] | None = print,
) -> TrainResult | None:
    """Train the stages in order (see the module docstring). Returns the last stage's result,
    or None when every stage had already finished."""
    say = echo or (lambda line: None)
    run_dirs = [Path(s.cfg.run_dir).resolve() for s in stages]
    if len(set(run_dirs)) != len(run_dirs):
        raise ConfigError("each stage of a chain needs its own run_dir")
    for s in stages:
        if s.cfg.stage == "both":
            raise ConfigError(f"{s.recipe}: stage 'both' cannot be part of a chain; give its two stages")
        s.cfg.validate()
    result = None
    previous: Path | None = None
    n = len(stages)
    for i, s in enumerate(stages, 1):
        cfg = s.cfg
        if previous is not None:
            cfg.init_from = str(previous)
        done = finished(cfg)
        if done:
            say(f"stage {i}/{n} ({s.recipe}): finished already, its model is {export_path(cfg)}")
        else:
            resume = (Path(cfg.run_dir) / CHECKPOINT_NAME).is_file()
            if resume:
                cfg = resumed_config(s, resumable)
                say(f"stage {i}/{n} ({s.recipe}): resuming {cfg.run_dir}")
            else:
                start = f" from {cfg.init_from}" if cfg.init_from else ""
                say(f"stage {i}/{n} ({s.recipe}): training in {cfg.run_dir}{start}")
            result = train(cfg, resume=resume, echo=echo)
        previous = export_path(cfg)  # where train() wrote it
    return result
