"""Helpers for the GUI tests: tiny models and images, queueing and waiting."""

from pathlib import Path

import numpy as np

WORKER_WAIT_MS = 20000


def make_model(
    folder: Path, name: str = "tiny-x2", scale: int = 2, n_resblocks: int = 1, n_feats: int = 8
) -> Path:
    import torch

    from sr_desktop.core.archs import EDSR, EDSRConfig
    from sr_desktop.core.modelfile import save_model

    torch.manual_seed(0)
    module = EDSR(EDSRConfig(scale=scale, n_resblocks=n_resblocks, n_feats=n_feats))
    return save_model(
        folder / f"{name}.safetensors",
        module,
        "edsr",
        module.config,
        {
            "description": "tiny test model",
            "training_data": "random weights",
            "val_psnr": "12.345",
            "attribution": "Photos by A. Tester (CC BY 4.0)",
            "source": "",  # an empty field, as the bundled cards have: the tooltip leaves it out
        },
    )


def make_image(path: Path, width: int = 24, height: int = 16, seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def queue_and_wait(qtbot, win, paths) -> None:
    win.queue.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: len(win.queue.files()) >= len(paths) and not win.queue.busy, timeout=20000)
