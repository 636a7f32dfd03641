"""Atomic, resumable checkpoints loadable with ``torch.load(weights_only=True)``.

Everything is a tensor, number, string, list or dict: RNG states included (Python's as a list
of ints, numpy's as a tensor), so nothing from the file is ever unpickled as an object.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_NAME = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {
        "python": [int(version), [int(v) for v in internal], gauss],
        "numpy": [
            str(kind),
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write to a temporary name in the same folder, fsync, then rename over the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(Path(path), map_location=map_location, weights_only=True)


# the parts of a GAN stage's state that a portable copy leaves out
_DISCRIMINATOR_KEYS = ("disc", "d_opt", "d_warmup_left")


def portable(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint small enough to commit: the GAN stage's discriminator and its optimizer
    (the SRGAN discriminator's dense layer alone has 18.9M weights, and Adam keeps two more
    copies) are left out. Resuming from it trains a new discriminator alone for ``d_warmup``
    steps, then goes on; the generator, its EMA and its optimizer continue exactly."""
    stage = {k: v for k, v in state.get("stage", {}).items() if k not in _DISCRIMINATOR_KEYS}
    return {**state, "stage": stage}


def save_portable_state(run_dir: Path, dest: Path) -> Path:
    """Copy a run's ``config.json``, ``events.jsonl`` and portable checkpoint into ``dest``
    (e.g. ``training-state/NAME``), from where ``sr-train --resume`` continues it."""
    import shutil

    run_dir, dest = Path(run_dir), Path(dest)
    state = load_checkpoint(run_dir / CHECKPOINT_NAME)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "events.jsonl"):
        shutil.copyfile(run_dir / name, dest / name)
    return save_checkpoint(dest / CHECKPOINT_NAME, portable(state))
