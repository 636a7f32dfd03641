"""The final model file: EMA (or raw) weights with a model card, via ``save_model``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from torch import nn

from .config import TrainConfig

# The authors of photos-hr (../shared/datasets/photos-hr/LICENSES.md, which lists each file), by
# licence. CC BY and CC BY-SA ask that they be named wherever a work made from their photographs
# goes, so every model trained on photos-hr carries this in its card.
PHOTOS_HR_ATTRIBUTION = (
    "Trained on photographs (downscaled and re-encoded) by Aitzol Berasategi and "
    'Trevor "Freespace" (CC BY 4.0); Sander Klootwijk, "Bolly" and Peter Nerlich (CC BY-SA 4.0); '
    'Lukas Baubkus, Stef Binde ("stefonarch") and the LXQt Project Team (CC BY-SA 3.0); '
    "Clemens Engelhardt (CC0 1.0); Charles Barbin, Hylke Bons, Andrea Cimitan, Marco Cogoni, "
    'Jean-François Fortin Tam, Lennart Poettering and "blackcombwhistler07" (GPL-2+, MATE); '
    "Dmitri Popov, Martin Klapetek, Sigi Sagi, Risto Saukonpää and Maciej Wiklo "
    "(LGPL-3, KDE Plasma); Carsten Haitzler and the Enlightenment contributors (BSD-2-Clause). "
    "Each file and its licence: photos-hr/LICENSES.md"
)


def default_export_path(cfg: TrainConfig) -> Path:
    from sr_desktop.core.store import user_model_dir

    run = Path(cfg.run_dir).name or "run"
    suffix = "-gan" if cfg.stage == "gan" else ""
    return user_model_dir() / f"{cfg.arch}-x{cfg.scale}-{run}{suffix}.safetensors"


def export_path(cfg: TrainConfig) -> Path:
    """Where a run's final model goes: its ``export`` option, or the user model store."""
    return Path(cfg.export) if cfg.export else default_export_path(cfg)


def training_data_text(cfg: TrainConfig, n_train: int, n_val: int) -> str:
    name = Path(cfg.dataset).name if cfg.dataset else "DIV2K"
    return f"{name}: {n_train} training / {n_val} validation images"


def recipe_text(cfg: TrainConfig, weights: str) -> str:
    parts = [
        f"stage {cfg.stage}",
        f"loss {cfg.pixel_loss}"
        if cfg.stage == "pretrain"
        else f"VGG content x{cfg.content_weight} + adversarial x{cfg.adv_weight} + pixel L1 x{cfg.pixel_weight}",
        f"batch {cfg.batch}",
        f"LR patch {cfg.patch}",
        f"Adam lr {cfg.lr:g} betas (0.9, 0.999)",
        f"schedule {cfg.schedule}",
        "LR: MATLAB bicubic on the fly" + (", 8-bit" if cfg.quantize_lr else ""),
        f"gradient-weighted patches ({cfg.grad_weighting:g})",
        "flips/rotations" if cfg.augment else "no augmentation",
        *([f"colour channels reordered ({cfg.rgb_permute:g})"] if cfg.rgb_permute else []),
        f"EMA {cfg.ema:g}" if cfg.ema else "no EMA",
        f"weights {weights}",
    ]
    if cfg.add_downscaled:
        factors = ", x".join(f"{f:g}" for f in cfg.downscale_factors())
        parts.insert(
            parts.index("flips/rotations" if cfg.augment else "no augmentation"),
            f"{'only' if cfg.downscaled_only else 'plus'} HR copies downscaled x{factors}",
        )
    if cfg.freeze:
        parts.insert(1, f"{cfg.freeze} frozen")
    if cfg.stage != "pretrain":
        parts[2:2] = (
            cfg.gan_loss_terms()
            + (["grid guard"] if cfg.grid_guard else [])
            + ([f"VGG/adversarial windows jittered by 0-{cfg.jitter} px"] if cfg.jitter else [])
        )
    return "; ".join(parts)


def export_model(
    module: nn.Module,
    cfg: TrainConfig,
    path: Path | str,
    *,
    iteration: int,
    weights: str,
    n_train: int,
    n_val: int,
    val: dict[str, Any] | None,
    extra_card: dict[str, Any] | None = None,
) -> Path:
    from sr_desktop.core.modelfile import save_model

    card: dict[str, Any] = {
        "name": Path(path).stem,
        "arch": cfg.arch,
        "scale": cfg.scale,
        "training_data": training_data_text(cfg, n_train, n_val),
        "iterations": iteration,
        "recipe": recipe_text(cfg, weights),
        "trained": time.strftime("%Y-%m-%d"),
        "attribution": PHOTOS_HR_ATTRIBUTION
        if "photos-hr" in str(cfg.dataset)
        else "see the licence of the training images",
    }
    if val:
        card["val_psnr"] = f"{val['psnr']:.3f}"
        card["val_ssim"] = f"{val['ssim']:.4f}"
        card["bicubic_psnr"] = f"{val['bicubic_psnr']:.3f}"
        card["bicubic_ssim"] = f"{val['bicubic_ssim']:.4f}"
        card["val_protocol"] = (
            f"Y (BT.601), shave {cfg.scale}, {val['images']} held-out images, "
            f"centre crop {cfg.val_crop or 'none'} px HR, MATLAB bicubic LR"
        )
    card.update(extra_card or {})
    return save_model(path, module, cfg.arch, cfg.model_config(), card)


def export_checkpoint(run_dir: Path | str, path: Path | str | None = None, weights: str = "auto") -> Path:
    """Export a run's latest checkpoint as a model file, without training: for publishing a
    model while a long run goes on. ``weights``: "ema", "raw" (the optimised weights: near the
    end of a schedule, when the EMA still averages in older, worse ones, they can read higher)
    or "auto" (EMA when the run keeps it)."""
    from sr_desktop.core.archs import get_architecture

    from .checkpoint import CHECKPOINT_NAME, load_checkpoint
    from .data import scan_dataset, split_samples

    run_dir = Path(run_dir)
    ckpt = load_checkpoint(run_dir / CHECKPOINT_NAME)
    cfg = TrainConfig.from_dict(ckpt["config"])
    module = get_architecture(cfg.arch).build(cfg.model_config())
    if weights not in ("auto", "ema", "raw"):
        raise ValueError(f"weights must be auto, ema or raw, not {weights!r}")
    if weights == "ema" and not ckpt.get("ema"):
        raise ValueError(f"{run_dir} keeps no EMA weights (trained without --ema); export raw")
    use_ema = weights != "raw" and bool(ckpt.get("ema"))
    module.load_state_dict(ckpt["ema"] if use_ema else ckpt["model"])
    layout = scan_dataset(cfg.dataset, cfg.scale)
    train, val = split_samples(layout, cfg.val_fraction, seed=cfg.seed)
    val_figures = (ckpt.get("best") or {}).get("last_val")
    if ckpt.get("ema") and not use_ema and val_figures:
        val_figures = _validate_on_cpu(module, cfg, val, layout.root)  # the run validated its EMA
    target = Path(path) if path else (Path(cfg.export) if cfg.export else default_export_path(cfg))
    return export_model(
        module,
        cfg,
        target,
        iteration=int(ckpt["iteration"]),
        weights="EMA" if use_ema else "raw",
        n_train=len(train),
        n_val=len(val),
        val=val_figures,
        extra_card=ckpt.get("card_extra") or None,
    )


def _validate_on_cpu(module: nn.Module, cfg: TrainConfig, val_samples: list, root: Path) -> dict[str, Any]:
    """The run's validation (same images, crop and protocol) for weights it did not validate."""
    import torch

    from .data import build_val_set, load_cache
    from .loop import validate

    images = load_cache(val_samples[: cfg.max_val_images], cfg.scale, cell=cfg.hr_patch, root=root)
    return validate(module, build_val_set(images, cfg.scale, cfg.val_crop), cfg.scale, torch.device("cpu"))
