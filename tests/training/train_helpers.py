"""Helpers for training tests: tiny synthetic HR folders and tiny configs (imported by name,
since tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import REPO as REPO  # re-exported for the training tests
from PIL import Image

from training.config import TrainConfig


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random texture: learnable, with real gradients everywhere."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for _ in range(4):
        fx, fy, ph = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4), rng.uniform(0, 6.3)
        amp = rng.uniform(20, 50, size=3)
        img += amp * np.sin(fx * x + fy * y + ph)[..., None]
    return np.clip(img + 128, 0, 255).astype(np.uint8)


def make_hr_folder(root: Path, n: int = 5, size: tuple[int, int] = (48, 56), seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(textured(size[0], size[1], seed + i)).save(root / f"img{i:02d}.png")
    return root


def tiny_config(dataset: Path, run_dir: Path, **overrides) -> TrainConfig:
    values = dict(
        dataset=str(dataset),
        run_dir=str(run_dir),
        scale=2,
        patch=8,
        batch=4,
        n_resblocks=1,
        n_feats=8,
        iters=10,
        val_every=0,
        ckpt_every=0,
        log_every=1,
        val_crop=32,
        threads=1,
        workers=1,
        seed=3,
        export=str(run_dir / "model.safetensors"),
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)
