"""``--init-from``: start a network from another model's weights.

Every tensor whose name and shape match is copied; the rest (typically the upsampler when an
x3/x4 model starts from an x2 one) keeps its fresh initialisation.
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
    return copied, skipped
