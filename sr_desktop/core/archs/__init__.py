"""The explicit architecture registry (an explicit list, so PyInstaller sees every module)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from .edsr import EDSR, EDSRConfig, detect_edsr
from .srresnet import SRResNet, SRResNetConfig, detect_srresnet


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    config_cls: type
    module_cls: type[nn.Module]
    detect: Callable[[dict[str, torch.Tensor]], Any]
    supports_half: bool

    def build(self, config: Any) -> nn.Module:
        return self.module_cls(config)

    def margin(self, config: Any) -> int:
        return self.module_cls.receptive_margin(config)

    def bytes_per_pixel(self, config: Any, element_size: int) -> int:
        """Estimated peak inference memory per input pixel, for choosing a tile size."""
        return self.module_cls.bytes_per_pixel(config, element_size)

    def config_from_dict(self, values: dict[str, Any]) -> Any:
        """Build a config from metadata, ignoring unknown keys and coercing types."""
        known = {f.name: f.type for f in fields(self.config_cls)}
        kwargs = {}
        for key, value in values.items():
            if key in known:
                default = getattr(self.config_cls(), key)
                kwargs[key] = type(default)(value)
        return self.config_cls(**kwargs)


EDSR_ARCH = Architecture("edsr", "EDSR", EDSRConfig, EDSR, detect_edsr, supports_half=True)
SRRESNET_ARCH = Architecture(
    "srresnet", "SRResNet", SRResNetConfig, SRResNet, detect_srresnet, supports_half=True
)

ARCHITECTURES: tuple[Architecture, ...] = (EDSR_ARCH, SRRESNET_ARCH)


def get_architecture(name: str) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.name == name:
            return arch
    raise KeyError(f"unknown architecture {name!r} (known: {', '.join(a.name for a in ARCHITECTURES)})")


def detect_architecture(state_dict: dict[str, torch.Tensor]) -> tuple[Architecture, Any] | None:
    """First architecture whose ``detect`` recognises the tensor names and shapes."""
    for arch in ARCHITECTURES:
        config = arch.detect(state_dict)
        if config is not None:
            return arch, config
    return None


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "EDSR",
    "EDSRConfig",
    "SRResNet",
    "SRResNetConfig",
    "detect_architecture",
    "get_architecture",
]
