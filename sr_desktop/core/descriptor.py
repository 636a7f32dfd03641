"""A loaded model and what the engine needs to know about it (after spandrel's descriptors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .archs import Architecture


@dataclass
class ModelDescriptor:
    """One fixed calling contract: NCHW float in [0, 1] in, NCHW in [0, 1] out, ``scale`` x larger."""

    name: str
    arch: Architecture
    config: Any
    module: nn.Module
    card: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @property
    def scale(self) -> int:
        return int(self.config.scale)

    @property
    def in_channels(self) -> int:
        return int(self.config.n_colors)

    @property
    def margin(self) -> int:
        """Receptive-field radius in input pixels: tiles must overlap by at least this."""
        return self.arch.margin(self.config)

    def bytes_per_pixel(self, element_size: int = 4) -> int:
        return self.arch.bytes_per_pixel(self.config, element_size)

    @property
    def size_multiple(self) -> int:
        """Inputs need no padding: both networks accept any size."""
        return 1

    @property
    def supports_half(self) -> bool:
        return self.arch.supports_half

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def summary(self) -> dict[str, Any]:
        """Everything a user sees about the model: for `models --json` and the app."""
        info: dict[str, Any] = {
            "name": self.name,
            "arch": self.arch.name,
            "scale": self.scale,
            "parameters": self.parameters,
            "config": self.config.to_dict(),
            "path": str(self.path) if self.path else None,
        }
        info["card"] = dict(self.card)
        return info

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x).clamp_(0, 1)
