"""``--init-from``: start a network from another model's weights.

Every tensor whose name and shape match is copied. A sub-pixel convolution that gets nothing
(typically an upsampler stage when an x3/x4 model starts from an x2 one) starts as a nearest-
neighbour enlargement of its input features, so the new network begins close to "the old one,
then enlarged" rather than from noise (the idea of ICNR, Aitken et al. 2017, "Checkerboard
artifact free sub-pixel convolution"). The rest keeps its fresh initialisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class InitError(Exception):
    pass


def load_matching_weights(module: nn.Module, path: Path | str) -> tuple[list[str], list[str]]:
    """Copy matching tensors from a model file (ours, official ``.pt``, or a run checkpoint).

    Returns (copied names, skipped names of ``module``)."""
    from sr_desktop.core.modelfile import ModelFileError, read_state_dict

    try:
        source, _meta = read_state_dict(Path(path))
    except ModelFileError as exc:
        raise InitError(str(exc)) from None
    own = module.state_dict()
    copied, skipped = [], []
    with torch.no_grad():
        for name, tensor in own.items():
            other = source.get(name)
            if other is not None and tuple(other.shape) == tuple(tensor.shape):
                tensor.copy_(other.to(tensor.dtype))
                copied.append(name)
            else:
                skipped.append(name)
    learnable = {n for n, p in module.named_parameters()}
    if not any(n in learnable for n in copied):
        raise InitError(f"{path}: no tensor matches the network (is it the same architecture?)")
    nearest_subpixel_init(module, set(skipped))
    return copied, skipped


def nearest_subpixel_init(module: nn.Module, names: set[str]) -> list[str]:
    """Make each convolution named in ``names`` (its ``.weight``) that feeds a PixelShuffle(r)
    copy channel c to all r*r sub-pixels of output channel c: the pair then enlarges its input
    features by nearest neighbour. Returns the convolutions changed."""
    changed = []
    for prefix, parent in module.named_modules():
        children = list(parent.named_children())
        for (name, conv), (_, shuffle) in zip(children, children[1:], strict=False):
            full = f"{prefix}.{name}" if prefix else name
            if not (isinstance(conv, nn.Conv2d) and isinstance(shuffle, nn.PixelShuffle)):
                continue
            r = shuffle.upscale_factor
            out_c, in_c, kh, kw = conv.weight.shape
            if f"{full}.weight" not in names or out_c != in_c * r * r or conv.groups != 1:
                continue
            with torch.no_grad():
                conv.weight.zero_()
                for c in range(in_c):
                    conv.weight[c * r * r : (c + 1) * r * r, c, kh // 2, kw // 2] = 1.0
                if conv.bias is not None:
                    conv.bias.zero_()
            changed.append(full)
    return changed
