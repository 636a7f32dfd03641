"""``--stage both``: pre-train with the pixel loss, then fine-tune as an SRGAN generator.

The run folder gets ``pretrain/`` and ``gan/`` sub-runs; ``--resume`` continues whichever is
unfinished (a finished pre-training is recognised by its exported model).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .checkpoint import CHECKPOINT_NAME
from .config import ConfigError, TrainConfig
from .loop import TrainResult, train

PRETRAINED_NAME = "pretrained.safetensors"


def stage_configs(cfg: TrainConfig) -> tuple[TrainConfig, TrainConfig]:
    root = Path(cfg.run_dir)
    pre = dataclasses.replace(
        cfg,
        stage="pretrain",
        run_dir=str(root / "pretrain"),
        export=str(root / "pretrain" / PRETRAINED_NAME),
        extra=dict(cfg.extra),
    )
    gan = dataclasses.replace(
        cfg,
        stage="gan",
        run_dir=str(root / "gan"),
        init_from=pre.export,
        extra=dict(cfg.extra),
    )
    return pre, gan


def run_both(cfg: TrainConfig, resume: bool = False, echo=print) -> TrainResult:
    root = Path(cfg.run_dir)
    pre, gan = stage_configs(cfg)
    if not resume and any((root / sub / CHECKPOINT_NAME).exists() for sub in ("pretrain", "gan")):
        raise ConfigError(
            f"{root} already holds checkpoints: continue with --resume {root}, or choose another --run-dir"
        )
    root.mkdir(parents=True, exist_ok=True)
    cfg.save(root / "config.json")
    if not Path(pre.export).is_file():
        pre_resume = resume and (Path(pre.run_dir) / CHECKPOINT_NAME).exists()
        train(pre, resume=pre_resume, echo=echo)
    gan_resume = resume and (Path(gan.run_dir) / CHECKPOINT_NAME).exists()
    return train(gan, resume=gan_resume, echo=echo)
