"""Small models and images that tests make for themselves."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from sr_desktop.core.archs import EDSR, EDSRConfig
from sr_desktop.core.modelfile import save_model

REPO = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """Import ``scripts/NAME.py`` (the scripts folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model_file(folder: Path, scale: int = 2, name: str | None = None, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = EDSR(EDSRConfig(scale=scale, n_resblocks=1, n_feats=8))
    path = Path(folder) / f"{name or f'tiny-x{scale}'}.safetensors"
    return save_model(path, model, "edsr", model.config, {"description": "tiny random test model"})


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """A smooth, non-constant picture (gradients plus a few blobs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for c in range(channels):
        f = rng.uniform(1, 4, 2)
        planes.append(0.5 + 0.4 * np.sin(f[0] * 6 * xx + c) * np.cos(f[1] * 5 * yy))
    img = np.stack(planes, axis=2)
    top = 65535 if dtype == np.uint16 else 255
    return np.round(img * top).astype(dtype)


def nearest_model_file(folder: Path, scale: int = 2, name: str | None = None) -> Path:
    """An EDSR whose weights make it an exact nearest-neighbour upscaler: outputs are known."""
    model = EDSR(EDSRConfig(scale=scale, n_resblocks=1, n_feats=4))
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.zero_()
        for c in range(3):
            model.head[0].weight[c, c, 1, 1] = 1
            model.tail[1].weight[c, c, 1, 1] = 1
        for stage in model.tail[0]:
            if isinstance(stage, torch.nn.Conv2d):
                r2 = stage.out_channels // stage.in_channels
                for c in range(stage.in_channels):
                    stage.weight[c * r2 : (c + 1) * r2, c, 1, 1] = 1
    path = Path(folder) / f"{name or f'nearest-x{scale}'}.safetensors"
    return save_model(
        path, model, "edsr", model.config, {"description": "exact nearest-neighbour test model"}
    )
