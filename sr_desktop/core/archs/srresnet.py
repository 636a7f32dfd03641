"""SRResNet, the generator of SRGAN (Ledig et al., 2017).

9x9 conv + PReLU, 16 residual blocks (conv-BN-PReLU-conv-BN), conv-BN with a long skip,
pixel-shuffle upsampling (conv, shuffle, PReLU) and a 9x9 conv. Pixels in [0, 1] in and out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .upsampling import shuffle_factors


@dataclass(frozen=True)
class SRResNetConfig:
    scale: int = 4
    n_resblocks: int = 16
    n_feats: int = 64
    n_colors: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, n_feats: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(n_feats)
        self.prelu = nn.PReLU(n_feats)
        self.conv2 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(n_feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


def _upsample_stages(scale: int, n_feats: int) -> nn.Sequential:
    stages = []
    for f in shuffle_factors(scale, "SRResNet"):
        stages.append(
            nn.Sequential(
                nn.Conv2d(n_feats, n_feats * f * f, 3, padding=1),
                nn.PixelShuffle(f),
                nn.PReLU(n_feats),
            )
        )
    return nn.Sequential(*stages)


class SRResNet(nn.Module):
    def __init__(self, config: SRResNetConfig):
        super().__init__()
        self.config = config
        c = config
        self.head = nn.Sequential(nn.Conv2d(c.n_colors, c.n_feats, 9, padding=4), nn.PReLU(c.n_feats))
        self.body = nn.Sequential(*[ResidualBlock(c.n_feats) for _ in range(c.n_resblocks)])
        self.body_end = nn.Sequential(
            nn.Conv2d(c.n_feats, c.n_feats, 3, padding=1), nn.BatchNorm2d(c.n_feats)
        )
        self.upsample = _upsample_stages(c.scale, c.n_feats)
        self.tail = nn.Conv2d(c.n_feats, c.n_colors, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        x = x + self.body_end(self.body(x))
        return self.tail(self.upsample(x))

    @staticmethod
    def receptive_margin(config: SRResNetConfig) -> int:
        # 9x9 head (4) + 2 per block + body end (1) + first upsample conv (1), then the
        # convs at 2x and 4x size add under 2 LR pixels together.
        return 4 + 2 * config.n_resblocks + 1 + 1 + 2

    @staticmethod
    def bytes_per_pixel(config: SRResNetConfig, element_size: int) -> int:
        return srresnet_bytes_per_pixel(config, element_size)


def detect_srresnet(sd: dict[str, torch.Tensor]) -> SRResNetConfig | None:
    if "head.0.weight" not in sd or "body_end.1.running_mean" not in sd or "tail.weight" not in sd:
        return None
    n_feats, n_colors = sd["head.0.weight"].shape[:2]
    blocks = {int(k.split(".")[1]) for k in sd if k.startswith("body.") and k.endswith("conv1.weight")}
    stages = sorted(
        {int(k.split(".")[1]) for k in sd if k.startswith("upsample.") and k.endswith("0.weight")}
    )
    if not stages or blocks != set(range(len(blocks))):
        return None
    out = sd[f"upsample.{stages[0]}.0.weight"].shape[0]
    if out == 9 * n_feats and len(stages) == 1:
        scale = 3
    elif out == 4 * n_feats:
        scale = 2 ** len(stages)
    else:
        return None
    return SRResNetConfig(scale=scale, n_resblocks=len(blocks), n_feats=int(n_feats), n_colors=int(n_colors))


def srresnet_bytes_per_pixel(config: SRResNetConfig, element_size: int) -> int:
    """Peak inference memory per input pixel: the last upsampling stage holds the widest maps."""
    s2 = config.scale**2
    return (6 * config.n_feats + 3 * config.n_feats * s2 + 2 * config.n_colors * s2) * element_size
