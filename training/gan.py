"""Stage 2: SRGAN fine-tuning of a pre-trained generator.

Generator loss = content_weight * VGG content loss + adv_weight * adversarial loss
(+ pixel_weight * L1, grid_weight * grid-pattern L1, consistency_weight * LR-consistency L1 and
artefact_weight * artefact-map L1, all off by default); the discriminator learns real HR vs generated patches.
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


def _blocks(x: torch.Tensor, period: int) -> tuple[torch.Tensor, int, int] | None:
    """The whole ``period`` x ``period`` blocks of ``x`` (NCHW) from its top-left corner, as
    (N, C, rows, period, cols, period), with the height and width they cover; None when ``x``
    holds no whole block."""
    n, c, h, w = x.shape
    hh, ww = (h // period) * period, (w // period) * period
    if hh == 0 or ww == 0:
        return None
    return x[:, :, :hh, :ww].reshape(n, c, hh // period, period, ww // period, period), hh, ww


def fixed_pattern(x: torch.Tensor, period: int) -> torch.Tensor | None:
    """Per image and channel, the mean ``period`` x ``period`` pattern of ``x`` (NCHW): the
    average over all whole blocks, each taken from the top-left corner, less its own mean.
    Shape (N, C, 1, period, 1, period); None when ``x`` holds no whole block."""
    found = _blocks(x, period)
    return None if found is None else _pattern(found[0])


def _pattern(blocks: torch.Tensor) -> torch.Tensor:
    pattern = blocks.mean(dim=(2, 4), keepdim=True)
    return pattern - pattern.mean(dim=(3, 5), keepdim=True)


def remove_fixed_pattern(x: torch.Tensor, period: int) -> torch.Tensor:
    """``x`` (NCHW) minus its :func:`fixed_pattern` in every whole block: what is left has no
    fixed pattern repeating every ``period`` pixels. Being linear, it also removes that
    component from any gradient flowing back through it. Rows and columns past the last whole
    block pass unchanged."""
    found = _blocks(x, period)
    if found is None:
        return x
    blocks, hh, ww = found
    n, c, h, w = x.shape
    core = (blocks - _pattern(blocks)).reshape(n, c, hh, ww)
    if (hh, ww) == (h, w):
        return core
    out = x.clone()
    out[:, :, :hh, :ww] = core
    return out


def grid_loss(sr: torch.Tensor, hr: torch.Tensor, period: int) -> torch.Tensor:
    """L1 between the output's and the original's :func:`fixed_pattern`: a loss on the
    sub-pixel grid artefact alone. Its gradient reaches each pixel with the size of a pixel
    L1's (the pattern is a mean over the blocks), but only as a fixed pattern, so it pulls the
    grid back without holding back any other detail."""
    p_sr, p_hr = fixed_pattern(sr, period), fixed_pattern(hr, period)
    if p_sr is None or p_hr is None:
        return sr.new_zeros(())
    return nn.functional.l1_loss(p_sr, p_hr)


def consistency_loss(sr: torch.Tensor, lr: torch.Tensor, scale: int) -> torch.Tensor:
    """L1 between the output taken back down with the MATLAB bicubic (the kernel that made the
    LR) and the LR input: it holds the output's colours and coarse structure to the input while
    leaving the detail that the downscale averages away free for the VGG and adversarial losses.
    Two LR pixels at each edge are left out: the training LR was made with context beyond the
    patch, which the output's own downscale cannot see."""
    from sr_desktop.core.resize import imresize_torch

    down = imresize_torch(sr, 1.0 / scale)
    e = 2 if min(lr.shape[-2:]) > 8 else 0
    h, w = lr.shape[-2:]
    return nn.functional.l1_loss(down[..., e : h - e, e : w - e], lr[..., e : h - e, e : w - e])


def artefact_map(sr: torch.Tensor, hr: torch.Tensor, sr_ema: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Where the output (NCHW) looks like an artefact rather than a detail, as a weight map
    (N, 1, H, W) without gradient, after the locally discriminative learning of Liang et al.
    (CVPR 2022, "Details or Artifacts"): the local variance (``window`` pixels square) of the
    error |hr - sr| summed over channels, times the error's variance over the whole patch to the
    1/5 (patches with a busy error count more), kept only where the output is further from the
    original than the EMA model's output ``sr_ema``. Details that the training settles on are
    in the EMA model's output too; artefacts come and go, so the current output is often worse
    there."""
    with torch.no_grad():
        err = (hr - sr).abs().sum(dim=1, keepdim=True).float()
        err_ema = (hr - sr_ema).abs().sum(dim=1, keepdim=True).float()
        pad = window // 2
        padded = nn.functional.pad(err, (pad, pad, pad, pad), mode="reflect")
        mean = nn.functional.avg_pool2d(padded, window, stride=1)
        local_var = (nn.functional.avg_pool2d(padded * padded, window, stride=1) - mean * mean).clamp_min(0)
        patch_var = err.var(dim=(1, 2, 3), keepdim=True) ** 0.2
        return local_var * patch_var * (err >= err_ema)


def artefact_loss(sr: torch.Tensor, hr: torch.Tensor, sr_ema: torch.Tensor) -> torch.Tensor:
    """L1 weighted by :func:`artefact_map`: pulls the output to the original only where its
    error looks like an artefact."""
    return (artefact_map(sr, hr, sr_ema) * (sr - hr).abs()).mean()


def random_window(
    x: torch.Tensor, *others: torch.Tensor, jitter: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """The same window of ``x`` and of each of ``others``, ``jitter`` pixels smaller in height and
    width, at an offset drawn from 0..jitter in each direction (the whole tensors when 0).

    The VGG and discriminator pool by 2 at fixed places; seen through windows aligned with the
    output, their gradients fall on the same sub-pixel phases of the x``scale`` upsampler every
    step. Random offsets spread them over all phases. (Tried against the SRGAN hatch, it did not
    remove it: see the README's srgan-x4 notes.)"""
    if jitter <= 0:
        return (x, *others)
    dy, dx = (int(v) for v in torch.randint(0, jitter + 1, (2,), generator=generator))
    h, w = x.shape[-2] - jitter, x.shape[-1] - jitter
    return tuple(t[..., dy : dy + h, dx : dx + w] for t in (x, *others))


class GanStage:
    name = "gan"

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        device: torch.device,
        info: DistInfo,
        log: EventLog,
        ema_model: nn.Module | None = None,
    ):
        """``ema_model``: the training loop's EMA copy of ``model``; the artefact loss needs it."""
        if cfg.artefact_weight > 0 and ema_model is None:
            raise ValueError("the artefact loss compares with the EMA model: pass ema_model")
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
        self.ema_model = ema_model
        self.card_extra: dict[str, Any] = {
            "perceptual_features": self.perceptual.vgg.description,
            "losses": f"VGG content x{cfg.content_weight} (MSE, features / 12.75) + adversarial x{cfg.adv_weight} "
            f"(BCE, SRGAN discriminator) + L1 x{cfg.pixel_weight}"
            + (", both blind to fixed scale-pixel patterns (grid guard)" if cfg.grid_guard else "")
            + (f", both on windows jittered by 0-{cfg.jitter} px" if cfg.jitter else "")
            + "".join(f" + {term}" for term in cfg.gan_loss_terms()),
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

    def _seen(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the VGG and adversarial losses see of these (same-sized) tensors this step:
        without their fixed scale-pixel pattern (grid guard), through one random window (jitter)."""
        if self.cfg.grid_guard:
            xs = tuple(remove_fixed_pattern(x, self.cfg.scale) for x in xs)
        return random_window(*xs, jitter=self.cfg.jitter)

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
            hr_seen, seen = self._seen(hr, sr)
            return {"d": self._discriminator_step(hr_seen, seen, check)}
        # --amp: the three networks run their forward passes in bf16/fp16; every loss is fp32
        with amp_context(cfg, self.device):
            sr = self.model(lr)
        terms, seen, hr_seen = self._generator_terms(sr, hr, lr, self._ema_output(lr))
        g_loss = sum(w * value for w, value in terms.values())
        check(g_loss)
        self._backward_step(g_loss, self.g_opt)  # the scaler is updated once, after D's step
        d_loss = self._discriminator_step(hr_seen.float(), seen.float(), check)
        return {"g": g_loss.detach(), **{k: v.detach() for k, (_, v) in terms.items()}, "d": d_loss}

    def _ema_output(self, lr: torch.Tensor) -> torch.Tensor | None:
        if self.cfg.artefact_weight <= 0:
            return None
        with torch.no_grad(), amp_context(self.cfg, self.device):
            return self.ema_model(lr).float()

    def _generator_terms(
        self, sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor, sr_ema: torch.Tensor | None = None
    ) -> tuple[dict[str, tuple[float, torch.Tensor]], torch.Tensor, torch.Tensor]:
        """The generator's loss terms as name -> (weight, unweighted value), and what the
        discriminator sees of the output and of the original."""
        cfg = self.cfg
        with amp_context(cfg, self.device):
            seen, hr_seen = self._seen(sr, hr)
            content = self.perceptual(seen, hr_seen)
            adv = adversarial_loss(self.disc(seen).float(), real=True)
        terms = {"content": (cfg.content_weight, content), "adv": (cfg.adv_weight, adv)}
        sr = sr.float()
        if cfg.pixel_weight > 0:
            terms["l1"] = (cfg.pixel_weight, nn.functional.l1_loss(sr, hr))
        if cfg.grid_weight > 0:
            terms["grid"] = (cfg.grid_weight, grid_loss(sr, hr, cfg.scale))
        if cfg.consistency_weight > 0:
            terms["consistency"] = (cfg.consistency_weight, consistency_loss(sr, lr.float(), cfg.scale))
        if sr_ema is not None:
            terms["artefact"] = (cfg.artefact_weight, artefact_loss(sr, hr, sr_ema))
        return terms, seen, hr_seen

    def gradient_sizes(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, dict[str, float]]:
        """How hard each weighted generator loss pulls on the output: the norm of its gradient
        with respect to the output, and the share of that gradient that is a fixed scale-pixel
        pattern (what grows a grid). Also the discriminator's mean probability of "real" for
        the originals and the outputs. Changes no weights; the discriminator runs as in training
        (batch statistics), so its batch-norm running averages move as in a step."""
        with torch.no_grad(), amp_context(self.cfg, self.device):  # precision as in step()
            sr = self.model(lr).float()
            logits = self.disc(torch.cat(self._seen(hr, sr))).float()
        n = hr.shape[0]
        report = {
            "discriminator": {
                "p_real_original": torch.sigmoid(logits[:n]).mean().item(),
                "p_real_output": torch.sigmoid(logits[n:]).mean().item(),
            }
        }
        out = sr.requires_grad_(True)
        terms = self._generator_terms(out, hr, lr, self._ema_output(lr))[0]
        for name, (weight, value) in terms.items():
            (grad,) = torch.autograd.grad(weight * value, out, retain_graph=True)
            norm = grad.norm()
            rest = remove_fixed_pattern(grad, self.cfg.scale).norm()
            share = 1.0 - float(rest / norm) ** 2 if norm > 0 else 0.0
            report[name] = {"norm": norm.item(), "grid_share": share}
        return report

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
