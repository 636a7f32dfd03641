"""Stage 2: SRGAN fine-tuning of a pre-trained generator.

Generator loss = content_weight * VGG content loss + adv_weight * adversarial loss
(+ pixel_weight * L1, off by default); the discriminator learns real HR vs generated patches.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from .config import TrainConfig
from .discriminator import SRGANDiscriminator
from .distributed import DistInfo
from .events import EventLog
from .loop import amp_context, grad_scaler
from .losses import PerceptualLoss, VGGFeatures, adversarial_loss, find_vgg


def remove_fixed_pattern(x: torch.Tensor, period: int) -> torch.Tensor:
    """``x`` (NCHW) minus, per image and channel, its mean ``period`` x ``period`` pattern
    (the average over all blocks, each block taken from the top-left corner, less its own
    mean): what is left has no fixed pattern repeating every ``period`` pixels. Being linear,
    it also removes that component from any gradient flowing back through it. Rows and columns
    past the last whole block pass unchanged."""
    n, c, h, w = x.shape
    hh, ww = (h // period) * period, (w // period) * period
    if hh == 0 or ww == 0:
        return x
    blocks = x[:, :, :hh, :ww].reshape(n, c, hh // period, period, ww // period, period)
    pattern = blocks.mean(dim=(2, 4), keepdim=True)
    pattern = pattern - pattern.mean(dim=(3, 5), keepdim=True)
    core = (blocks - pattern).reshape(n, c, hh, ww)
    if (hh, ww) == (h, w):
        return core
    out = x.clone()
    out[:, :, :hh, :ww] = core
    return out


class GanStage:
    name = "gan"

    def __init__(
        self, cfg: TrainConfig, model: nn.Module, device: torch.device, info: DistInfo, log: EventLog
    ):
        self.cfg, self.model, self.device = cfg, model, device

        def warn(msg: str) -> None:
            warnings.warn(msg, stacklevel=2)
            log.emit("info", 0, message=f"warning: {msg}")

        source = find_vgg(
            cfg.vgg_weights, cfg.vgg16_file, cfg.allow_download, progress=info.is_main, warn=warn
        )
        self.perceptual = PerceptualLoss(VGGFeatures(source, cfg.vgg_layer)).to(device)
        self.disc_raw = SRGANDiscriminator(cfg_colors(cfg)).to(device)
        self.disc: nn.Module = self.disc_raw
        if info.enabled:
            self.disc = nn.parallel.DistributedDataParallel(
                self.disc_raw, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.g_opt = torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, betas=(0.9, 0.999)
        )
        self.d_opt = torch.optim.Adam(self.disc_raw.parameters(), lr=cfg.d_lr, betas=(0.9, 0.999))
        self.optimizers = [self.g_opt, self.d_opt]
        # one scaler for both optimizers, updated once a step
        self.scaler = grad_scaler(cfg, device)
        # a new discriminator knows nothing: let it learn for cfg.d_warmup steps before its
        # gradients steer the generator (the generator and its optimizer stay untouched meanwhile)
        self.d_warmup_left = cfg.d_warmup
        self.log = log
        self.card_extra: dict[str, Any] = {
            "perceptual_features": self.perceptual.vgg.description,
            "losses": f"VGG content x{cfg.content_weight} (MSE, features / 12.75) + adversarial x{cfg.adv_weight} "
            f"(BCE, SRGAN discriminator) + L1 x{cfg.pixel_weight}"
            + (", both blind to fixed scale-pixel patterns (grid guard)" if cfg.grid_guard else ""),
        }
        if not cfg.init_from:
            log.emit(
                "info", 0, message="warning: GAN stage without --init-from (a pre-trained generator is usual)"
            )

    def set_lr(self, value: float) -> None:
        for g in self.g_opt.param_groups:
            g["lr"] = value
        for g in self.d_opt.param_groups:
            g["lr"] = value * self.cfg.d_lr / self.cfg.lr

    def _backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
        else:
            loss.backward()
            opt.step()

    def _guarded(self, x: torch.Tensor) -> torch.Tensor:
        return remove_fixed_pattern(x, self.cfg.scale) if self.cfg.grid_guard else x

    def _discriminator_step(self, hr: torch.Tensor, sr: torch.Tensor, check) -> torch.Tensor:
        # One pass over real and fake together (one forward per backward for DDP).
        with amp_context(self.cfg, self.device):
            logits = self.disc(torch.cat([hr, sr.detach()])).float()
        n = hr.shape[0]
        d_loss = 0.5 * (adversarial_loss(logits[:n], real=True) + adversarial_loss(logits[n:], real=False))
        check(d_loss)
        self._backward_step(d_loss, self.d_opt)
        if self.scaler:
            self.scaler.update()
        return d_loss.detach()

    def step(self, lr: torch.Tensor, hr: torch.Tensor, check) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if self.d_warmup_left > 0:
            self.d_warmup_left -= 1
            with torch.no_grad(), amp_context(cfg, self.device):
                sr = self.model(lr).float()
            return {"d": self._discriminator_step(self._guarded(hr), self._guarded(sr), check)}
        # --amp: the three networks run their forward passes in bf16/fp16; every loss is fp32
        with amp_context(cfg, self.device):
            sr = self.model(lr)
            seen, hr_seen = self._guarded(sr), self._guarded(hr)
            content = self.perceptual(seen, hr_seen)
            adv = adversarial_loss(self.disc(seen).float(), real=True)
        sr = sr.float()
        g_loss = cfg.content_weight * content + cfg.adv_weight * adv
        if cfg.pixel_weight > 0:
            g_loss = g_loss + cfg.pixel_weight * nn.functional.l1_loss(sr, hr)
        check(g_loss)
        self._backward_step(g_loss, self.g_opt)  # the scaler is updated once, after D's step
        d_loss = self._discriminator_step(hr_seen.float(), seen.float(), check)
        return {"g": g_loss.detach(), "content": content.detach(), "adv": adv.detach(), "d": d_loss}

    def state_dict(self) -> dict[str, Any]:
        return {
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "disc": self.disc_raw.state_dict(),
            "d_warmup_left": self.d_warmup_left,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g_opt.load_state_dict(state["g_opt"])
        if "disc" in state:
            self.disc_raw.load_state_dict(state["disc"])
            self.d_opt.load_state_dict(state["d_opt"])
            self.d_warmup_left = int(state.get("d_warmup_left", 0))
        else:
            # a portable state (checkpoint.portable): the discriminator starts again
            self.d_warmup_left = self.cfg.d_warmup
            self.log.emit(
                "info",
                0,
                message="the saved state has no discriminator: a new one starts"
                + (f", trained alone for {self.d_warmup_left} steps" if self.d_warmup_left else ""),
            )


def cfg_colors(cfg: TrainConfig) -> int:
    return int(getattr(cfg.model_config(), "n_colors", 3))
