"""The SRGAN discriminator (Ledig et al., 2017, fig. 4).

Eight 3x3 convs, 64 -> 512 channels, strides alternating 1/2, BatchNorm after every conv but
the first, LeakyReLU(0.2); then Dense(1024), LeakyReLU, Dense(1). It returns logits: the
paper's final sigmoid lives in ``BCEWithLogitsLoss``, which is numerically stable. An adaptive
average pool before the dense layers fixes their input size, so any patch size works (for the
paper's 96 px patches the pool is an identity: 96 / 16 = 6).
"""

from __future__ import annotations

import torch
from torch import nn

# (out_channels, stride) of the 8 conv layers
LAYERS = ((64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))
POOLED = 6


class SRGANDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 3, base: int = 64):
        super().__init__()
        widths = [(c * base // 64, s) for c, s in LAYERS]
        layers: list[nn.Module] = []
        prev = in_channels
        for i, (ch, stride) in enumerate(widths):
            layers.append(nn.Conv2d(prev, ch, 3, stride=stride, padding=1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            prev = ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(POOLED)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(prev * POOLED * POOLED, 1024),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(1024, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (NCHW) -> one logit per image (N x 1)."""
        return self.classifier(self.pool(self.features(x * 2.0 - 1.0)))
