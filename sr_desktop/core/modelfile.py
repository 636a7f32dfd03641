"""Model files: our ``.safetensors`` with string metadata, and official ``.pt``/``.pth``
checkpoints read with ``torch.load(weights_only=True)`` (nothing is ever unpickled freely).

torch is imported inside the functions: the app lists model files before torch is loaded."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .descriptor import ModelDescriptor

FORMAT_NAME = "sr-desktop-model"
FORMAT_VERSION = "1"
MODEL_SUFFIXES = (".safetensors", ".pt", ".pth")


class ModelFileError(Exception):
    """A model file that cannot be used; the message is one line for the user."""


def _unwrap_checkpoint(obj: Any) -> dict[str, torch.Tensor]:
    """Find the state dict in the usual checkpoint wrappers and drop DDP's ``module.``."""
    import torch

    for key in ("params_ema", "params", "state_dict", "model", "generator", "ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelFileError("holds no tensor state dict")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a model file, without executing anything from it."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                meta = dict(f.metadata() or {})
                sd = {k: f.get_tensor(k) for k in f.keys()}
            return sd, meta
        if suffix in (".pt", ".pth"):
            obj = torch.load(path, map_location="cpu", weights_only=True)
            return _unwrap_checkpoint(obj), {}
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            first = "it contains Python objects other than tensors, which are never loaded"
        raise ModelFileError(f"{path}: not a readable model file ({first[:200]})") from None
    except Exception as exc:  # safetensors' own error type lives in a Rust module
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from None
    raise ModelFileError(f"{path}: unknown model file type {suffix!r} (use .safetensors, .pt or .pth)")


def _card_from_metadata(meta: dict[str, str]) -> dict[str, str]:
    skip = {"format", "format_version", "arch", "config"}
    return {k: v for k, v in meta.items() if k not in skip}


def load_model(path: Path | str, name: str | None = None) -> ModelDescriptor:
    """Load a model file into a descriptor; architecture from metadata or from tensor shapes."""
    from .archs import detect_architecture, get_architecture
    from .descriptor import ModelDescriptor

    path = Path(path)
    sd, meta = read_state_dict(path)
    if meta.get("format") == FORMAT_NAME:
        try:
            arch = get_architecture(meta["arch"])
            config = arch.config_from_dict(json.loads(meta.get("config", "{}")))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"{path}: bad metadata ({exc})") from None
    else:
        found = detect_architecture(sd)
        if found is None:
            raise ModelFileError(f"{path}: tensors match no known architecture (EDSR, SRResNet)")
        arch, config = found
    module = arch.build(config)
    has_mean = any(k.startswith("sub_mean.") for k in sd)
    missing, unexpected = module.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (not has_mean and k.split(".")[0] in ("sub_mean", "add_mean"))]
    if missing or unexpected:
        detail = ", ".join((missing + unexpected)[:4])
        raise ModelFileError(f"{path}: tensors do not fit {arch.title} ({detail})")
    card = _card_from_metadata(meta)
    card.setdefault("source", "official EDSR-PyTorch checkpoint" if not meta else "")
    return ModelDescriptor(
        name=name or meta.get("name") or path.stem,
        arch=arch,
        config=config,
        module=module,
        card=card,
        path=path,
    )


def save_model(
    path: Path | str,
    module: nn.Module,
    arch: str,
    config: Any,
    card: dict[str, Any] | None = None,
) -> Path:
    """Write weights plus metadata to ``.safetensors`` atomically (temporary name, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {k: str(v) for k, v in (card or {}).items()}
    meta.update(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        arch=arch,
        config=json.dumps(config.to_dict()),
    )
    meta.setdefault("name", path.stem)
    meta.setdefault("scale", str(config.scale))
    tensors = {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in module.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
