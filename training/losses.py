"""Losses: the VGG perceptual (content) loss with its weight sources, and the adversarial loss.

VGG weights, in this order (DESIGN.md):
  1. ``--vgg-weights FILE``: a torchvision VGG19 (or VGG16) state dict, read with weights_only;
  2. torchvision's ImageNet VGG19 in the torch hub cache (``<hub>/checkpoints/vgg19-dcbb9e9d.pth``),
     downloaded there with a progress bar only when ``--allow-download`` is given;
  3. ``--vgg16-file FILE``: the VGG16 conv-weights pickle of shared/weights (restricted unpickler,
     sha256 checked, a warning when it differs).
Feature layer: VGG19 ``relu5_4`` (the paper's VGG54); for VGG16 the deepest equivalent,
``relu5_3`` (``relu4_3`` is a common, less abstract alternative), or a weighted sum over several
layers (``relu2_2:0.1,relu3_3,relu4_3,relu5_3``: shallower layers hold fine texture closer to the
original, as in the multi-layer perceptual losses of ESRGAN's successors). Inputs are normalised
with the ImageNet mean/std. The content loss is the MSE of the features scaled by 1/12.75, as in
SRGAN, summed over the layers with their weights.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import parse_layers

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_URL_ENV = "SR_VGG19_URL"  # tests point this at a local server
VGG16_PICKLE_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE_SCALE = 1.0 / 12.75  # SRGAN rescales VGG feature maps by this factor


class PerceptualSetupError(Exception):
    """No usable VGG weights; the message says how to provide them."""


@dataclass
class VGGSource:
    net: str  # "vgg19" or "vgg16"
    state_dict: dict[str, torch.Tensor]
    description: str


def layer_index(features: nn.Sequential, layer: str) -> int:
    """Number of ``features`` modules up to and including the named layer: a ReLU (``relu5_4``)
    or, for the features before that activation (ESRGAN's choice), its conv (``conv5_4``)."""
    block, conv = 1, 0
    for i, m in enumerate(features):
        if isinstance(m, nn.Conv2d):
            conv += 1
            if f"conv{block}_{conv}" == layer:
                return i + 1
        elif isinstance(m, nn.ReLU):
            if f"relu{block}_{conv}" == layer:
                return i + 1
        elif isinstance(m, nn.MaxPool2d):
            block, conv = block + 1, 0
    raise PerceptualSetupError(
        f"unknown VGG layer {layer!r} (use names like relu5_4, relu5_3, relu4_3, conv5_4)"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def load_vgg16_pickle(path: Path | str, warn=warnings.warn) -> dict[str, torch.Tensor]:
    """torchvision ``vgg16().features`` state dict from the shared VGG16 pickle (see its README)."""
    path = Path(path)
    if not path.is_file():
        raise PerceptualSetupError(f"--vgg16-file {path}: no such file")
    digest = _sha256(path)
    if digest != VGG16_PICKLE_SHA256:
        warn(
            f"{path}: sha256 {digest[:16]}... differs from the known VGG16 file ({VGG16_PICKLE_SHA256[:16]}...)"
        )
    try:
        with open(path, "rb") as f:
            params = _NumpyOnlyUnpickler(f).load()
        convs = params["VGG16_0"]
        sd = {}
        for i, idx in enumerate(VGG16_CONV_INDICES):
            kernel = np.asarray(convs[f"Conv_{i}"]["kernel"], dtype=np.float32)
            bias = np.asarray(convs[f"Conv_{i}"]["bias"], dtype=np.float32)
            sd[f"features.{idx}.weight"] = torch.from_numpy(
                np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
            )
            sd[f"features.{idx}.bias"] = torch.from_numpy(bias.copy())
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise PerceptualSetupError(f"--vgg16-file {path}: not a VGG16 weights pickle ({exc})") from None
    return sd


def _read_torchvision_file(path: Path) -> VGGSource:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise PerceptualSetupError(f"{path}: not a readable torchvision VGG state dict ({exc})") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    convs = [k for k in sd if k.startswith("features.") and k.endswith(".weight") and sd[k].ndim == 4]
    net = {16: "vgg19", 13: "vgg16"}.get(len(convs))
    if net is None:
        raise PerceptualSetupError(f"{path}: {len(convs)} conv layers, expected VGG19 (16) or VGG16 (13)")
    return VGGSource(
        net, {k: v for k, v in sd.items() if k.startswith("features.")}, f"torchvision {net} ({path.name})"
    )


def find_vgg(
    weights_file: str = "",
    vgg16_file: str = "",
    allow_download: bool = False,
    progress=True,
    warn=warnings.warn,
) -> VGGSource:
    """The first available VGG in the documented order; raises PerceptualSetupError if none."""
    if weights_file:
        path = Path(weights_file)
        if not path.is_file():
            raise PerceptualSetupError(f"--vgg-weights {path}: no such file")
        return _read_torchvision_file(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    if not cached.is_file() and allow_download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        url = os.environ.get(VGG19_URL_ENV, VGG19_URL)
        torch.hub.download_url_to_file(url, str(cached), progress=progress)
    if cached.is_file():
        src = _read_torchvision_file(cached)
        src.description = f"torchvision ImageNet VGG19 ({cached})"
        return src
    if vgg16_file:
        return VGGSource(
            "vgg16",
            load_vgg16_pickle(vgg16_file, warn=warn),
            f"ImageNet VGG16 conv weights ({Path(vgg16_file).name})",
        )
    raise PerceptualSetupError(
        "the GAN stage needs VGG weights for its perceptual loss, and none were found:\n"
        f"  - give a torchvision VGG19 state dict with --vgg-weights FILE, or\n"
        f"  - put {VGG19_FILE} in {cached.parent} (or pass --allow-download to fetch it, ~550 MB), or\n"
        "  - give the VGG16 conv weights with --vgg16-file shared/weights/vgg16-imagenet-features.ckpt"
    )


# Convolution widths of VGG16 and VGG19 (Simonyan & Zisserman 2015, configurations D and E);
# "M" is a 2x2 max-pool. Built as one Sequential, the layer indices are torchvision's, so its
# ``features.N.*`` state dicts load as they are, and torchvision is not needed.
VGG_LAYOUTS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def vgg_features(net: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG_LAYOUTS[net]:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class VGGFeatures(nn.Module):
    """Frozen VGG features at one or more layers, each a ReLU or the conv before it
    (``--vgg-layer``, see :func:`parse_layers`), on ImageNet-normalised inputs in [0, 1].
    ``forward`` returns them shallowest first, as listed in ``self.layers`` [(name, weight)]."""

    def __init__(self, source: VGGSource, layer: str = ""):
        super().__init__()
        features = vgg_features(source.net)
        sd = {k.removeprefix("features."): v for k, v in source.state_dict.items()}
        missing, _unexpected = features.load_state_dict(sd, strict=False)
        if missing:
            raise PerceptualSetupError(f"VGG weights lack {len(missing)} tensors ({', '.join(missing[:3])})")
        try:
            chosen = parse_layers(layer)
        except ValueError as exc:
            raise PerceptualSetupError(str(exc)) from None
        if not chosen:
            chosen = [("relu5_4" if source.net == "vgg19" else "relu5_3", 1.0)]
        ends = sorted((layer_index(features, name), name, w) for name, w in chosen)
        self.layers = [(name, w) for _, name, w in ends]
        self._ends = [end for end, _, _ in ends]
        self.layer = ",".join(name if w == 1 else f"{name}:{w:g}" for name, w in self.layers)
        self.features = features[: self._ends[-1]]
        for m in self.features:
            if isinstance(m, nn.ReLU):
                m.inplace = False
        self.features.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.description = f"{source.description}, {self.layer}"

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always frozen

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for i, module in enumerate(self.features, start=1):
            x = module(x)
            if i in self._ends:
                out.append(x)
        return out


class PerceptualLoss(nn.Module):
    """Weighted sum over the VGG layers of the MSE between the features (scaled as in SRGAN)."""

    def __init__(self, vgg: VGGFeatures):
        super().__init__()
        self.vgg = vgg

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            targets = self.vgg(hr)
        total = sr.new_zeros((), dtype=torch.float32)
        for (_, weight), f_sr, f_hr in zip(self.vgg.layers, self.vgg(sr), targets, strict=True):
            if weight > 0:  # under autocast the features may be bf16/fp16; the loss is taken in fp32
                total = total + weight * nn.functional.mse_loss(
                    f_sr.float() * FEATURE_SCALE, f_hr.float() * FEATURE_SCALE
                )
        return total


def adversarial_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """BCE with logits against all-real or all-fake labels (the sigmoid is implied)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return nn.functional.binary_cross_entropy_with_logits(logits, target)
