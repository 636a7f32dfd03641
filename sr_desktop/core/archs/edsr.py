"""EDSR (Lim et al., 2017) with the state-dict keys of the official EDSR-PyTorch code.

Keys: ``head.0``, ``body.N.body.0/2`` (residual blocks), ``body.B`` (the conv after the
blocks), ``tail.0.*`` (upsampler), ``tail.1`` (last conv), optional ``sub_mean``/``add_mean``.
So released checkpoints such as ``edsr_baseline_x4-6b446fab.pt`` load as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .upsampling import shuffle_factors

# Mean RGB of DIV2K, as used by the official code (std 1).
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
# Inference on more LR pixels than this runs the upsampling tail in row bands.
TAIL_BAND_PIXELS = 256 * 256
TAIL_MARGIN = 2  # LR pixels the tail looks around each output pixel (1 + 1/2 + 1/4 at x4)


@dataclass(frozen=True)
class EDSRConfig:
    scale: int = 2
    n_resblocks: int = 16
    n_feats: int = 64
    res_scale: float = 1.0
    n_colors: int = 3
    rgb_range: float = 255.0  # the official models see pixels in [0, 255]

    def to_dict(self) -> dict:
        return asdict(self)


class MeanShift(nn.Conv2d):
    """1x1 conv that subtracts (sign=-1) or adds (sign=+1) the dataset mean."""

    def __init__(self, rgb_range: float, sign: int, n_colors: int = 3):
        super().__init__(n_colors, n_colors, kernel_size=1)
        mean = torch.tensor(DIV2K_MEAN[:n_colors]) if n_colors == 3 else torch.full((n_colors,), 0.5)
        self.weight.data = torch.eye(n_colors).view(n_colors, n_colors, 1, 1)
        self.bias.data = sign * rgb_range * mean
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, n_feats: int, res_scale: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(n_feats, n_feats, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        if self.res_scale != 1:
            res = res.mul_(self.res_scale)
        return res.add_(x)


def upsampler(scale: int, n_feats: int) -> nn.Sequential:
    """Conv + pixel shuffle stages; index layout matches the official ``common.Upsampler``."""
    layers: list[nn.Module] = []
    for f in shuffle_factors(scale, "EDSR"):
        layers += [nn.Conv2d(n_feats, f * f * n_feats, 3, padding=1), nn.PixelShuffle(f)]
    return nn.Sequential(*layers)


class EDSR(nn.Module):
    """Takes and returns NCHW tensors with pixels in [0, 1]; scales by ``rgb_range`` inside."""

    def __init__(self, config: EDSRConfig):
        super().__init__()
        self.config = config
        c = config
        self.sub_mean = MeanShift(c.rgb_range, -1, c.n_colors)
        self.add_mean = MeanShift(c.rgb_range, +1, c.n_colors)
        self.head = nn.Sequential(nn.Conv2d(c.n_colors, c.n_feats, 3, padding=1))
        self.body = nn.Sequential(
            *[ResBlock(c.n_feats, c.res_scale) for _ in range(c.n_resblocks)],
            nn.Conv2d(c.n_feats, c.n_feats, 3, padding=1),
        )
        self.tail = nn.Sequential(
            upsampler(c.scale, c.n_feats), nn.Conv2d(c.n_feats, c.n_colors, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sub_mean(x * self.config.rgb_range)
        x = self.head(x)
        res = self.body(x)
        res = res + x
        del x
        if torch.is_grad_enabled() or res.shape[-2] * res.shape[-1] <= TAIL_BAND_PIXELS:
            return self._finish(res)
        return self._finish_in_bands(res)

    def _finish(self, res: torch.Tensor) -> torch.Tensor:
        return self.add_mean(self.tail(res)) / self.config.rgb_range

    def _finish_in_bands(self, res: torch.Tensor) -> torch.Tensor:
        """Run the upsampling tail in row bands: its activations at 2x-4x size dominate peak
        memory. The tail sees at most 2 LR pixels around each output pixel, so bands that
        overlap by 2 rows give exactly the unbanded result."""
        n, _, h, w = res.shape
        s = self.config.scale
        out = res.new_empty((n, self.config.n_colors, h * s, w * s))
        band = max(8, TAIL_BAND_PIXELS // w)
        for y0 in range(0, h, band):
            y1 = min(h, y0 + band)
            p0, p1 = max(0, y0 - TAIL_MARGIN), min(h, y1 + TAIL_MARGIN)
            part = self._finish(res[:, :, p0:p1])
            out[:, :, y0 * s : y1 * s] = part[:, :, (y0 - p0) * s : (y1 - p0) * s]
        return out

    @staticmethod
    def receptive_margin(config: EDSRConfig) -> int:
        """Receptive-field radius in input pixels: every 3x3 conv at LR adds one pixel."""
        lr_convs = 1 + 2 * config.n_resblocks + 1 + 1  # head, blocks, body end, first upsampler
        return lr_convs + 1  # later upsampler convs and the last conv work at >= 2x: under 1 px

    @staticmethod
    def bytes_per_pixel(config: EDSRConfig, element_size: int) -> int:
        return edsr_bytes_per_pixel(config, element_size)


def detect_edsr(sd: dict[str, torch.Tensor]) -> EDSRConfig | None:
    """Infer the hyper-parameters of an EDSR state dict from its tensor shapes."""
    if "head.0.weight" not in sd or "tail.1.weight" not in sd:
        return None
    if any(k.startswith("body.") and ".body.1." in k for k in sd):  # has BN: not EDSR
        return None
    n_feats, n_colors = sd["head.0.weight"].shape[:2]
    blocks = {int(k.split(".")[1]) for k in sd if k.startswith("body.") and ".body.0." in k}
    n_resblocks = len(blocks)
    if blocks != set(range(n_resblocks)) or f"body.{n_resblocks}.weight" not in sd:
        return None
    ups = sorted({int(k.split(".")[2]) for k in sd if k.startswith("tail.0.") and k.endswith("weight")})
    if not ups:
        return None
    first = sd[f"tail.0.{ups[0]}.weight"].shape[0]
    if first == 9 * n_feats and len(ups) == 1:
        scale = 3
    elif first == 4 * n_feats:
        scale = 2 ** len(ups)
    else:
        return None
    rgb_range = 255.0
    if "sub_mean.bias" in sd and n_colors == 3:
        # bias = -rgb_range * mean, so the range is recoverable from the file
        rgb_range = float(round(-sd["sub_mean.bias"][0].item() / DIV2K_MEAN[0], 3))
    # res_scale does not show in shapes: the official large EDSR (256 features) uses 0.1.
    res_scale = 0.1 if n_feats >= 256 else 1.0
    return EDSRConfig(
        scale=scale,
        res_scale=res_scale,
        n_resblocks=n_resblocks,
        n_feats=int(n_feats),
        n_colors=int(n_colors),
        rgb_range=rgb_range,
    )


def edsr_bytes_per_pixel(config: EDSRConfig, element_size: int) -> int:
    """Peak inference memory per input pixel: a few feature maps at LR (the tail runs in
    bands, see ``_finish_in_bands``) plus the output."""
    return (6 * config.n_feats + 2 * config.n_colors * config.scale**2) * element_size
