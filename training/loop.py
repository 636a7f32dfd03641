"""The training loop for both stages: data, steps, EMA, LR schedule, validation, checkpoints,
events, signals, time budget, export.

``train(cfg)`` is a plain function (Orange3 style): the CLI and the app's worker both call it,
tests call it with ``hooks`` to corrupt a batch or to simulate a crash at a given iteration.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sr_desktop.core.cpu_memory import retain_freed_memory

from .checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import ConfigError, TrainConfig
from .data import (
    PatchSampler,
    Prefetcher,
    build_val_set,
    load_cache,
    margin_side,
    scan_dataset,
    split_samples,
)
from .distributed import (
    DistInfo,
    all_reduce_max_sum,
    barrier,
    dist_info_from_env,
    init_distributed,
    shutdown_distributed,
)
from .events import EventLog

CHECKPOINT_FORMAT = "sr-desktop-train"
# Creating this file in the run folder asks for "checkpoint, then stop" like SIGTERM does; it
# works where signals do not reach a child process (Windows).
STOP_FILE = "STOP"
DEBUG_HASH_ENV = "SR_TRAIN_DEBUG_HASH_DIR"  # each rank writes the sha256 of its final weights here


class TrainingFailed(Exception):
    """Training cannot go on (non-finite loss, ...); the last good checkpoint is kept."""


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; a checkpoint was written at the step boundary."""


@dataclass
class Hooks:
    """Test and app hooks. ``on_batch(iteration, lr, hr) -> (lr, hr)``; ``after_step(iteration)``
    runs after each completed step (an exception there simulates a crash)."""

    on_batch: Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
    after_step: Callable[[int], None] | None = None


@dataclass
class TrainResult:
    iteration: int
    export_path: Path | None
    val: dict[str, Any] | None
    reason: str  # "iterations" or "time budget"
    it_per_s: float = 0.0
    data_wait_share: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- small pieces ------------------------------------------------------------------------


def pick_device(name: str, info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingFailed("--device cuda was asked for, but no CUDA GPU is available")
        if name == "cuda":
            return torch.device("cuda", info.local_rank)
    return torch.device(name)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16): bf16 autocast then
    trains about twice as fast as fp32. Read from /proc/cpuinfo (Linux); False elsewhere."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def amp_context(cfg: TrainConfig, device: torch.device):
    """Mixed precision for the forward passes; weights and losses stay fp32 (fp16 on the CPU is
    refused at start)."""
    if cfg.amp == "off" or device.type not in ("cpu", "cuda"):
        return nullcontext()
    dtype = torch.float16 if cfg.amp == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(cfg: TrainConfig, device: torch.device) -> torch.amp.GradScaler | None:
    """Loss scaling for fp16 on a GPU (bf16 and fp32 need none)."""
    return torch.amp.GradScaler("cuda") if cfg.amp == "fp16" and device.type == "cuda" else None


def resolve_amp(device: torch.device) -> str:
    """``--amp auto``: bf16 where the hardware computes it natively (a CUDA GPU that supports it,
    or a CPU with AVX512-BF16/AMX), otherwise off."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "off"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "off"
    return "off"


def default_threads(info: DistInfo) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, info.local_world_size))


def freeze_parameters(model: nn.Module, prefixes: str) -> int:
    """Keep the parameters whose names start with one of the comma-separated ``prefixes`` (a
    whole name component: "tail" matches "tail.0.weight", not "tails.x") out of training.
    Returns how many weights were frozen; a prefix that matches nothing is an error."""
    wanted = [p.strip() for p in prefixes.split(",") if p.strip()]
    count = 0
    for prefix in wanted:
        matched = [
            p for name, p in model.named_parameters() if name == prefix or name.startswith(prefix + ".")
        ]
        if not matched:
            top = sorted({name.split(".")[0] for name, _ in model.named_parameters()})
            raise TrainingFailed(f"--freeze {prefix}: no such weights (the model has {', '.join(top)})")
        for p in matched:
            p.requires_grad_(False)
            count += p.numel()
    return count


def lr_at(cfg: TrainConfig, iteration: int, planned: int) -> float:
    """Learning rate before step ``iteration`` (0-based) of a run planned for ``planned`` steps."""
    base = cfg.lr
    if cfg.warmup and iteration < cfg.warmup:
        return base * (iteration + 1) / cfg.warmup
    if planned <= 0 or cfg.schedule == "constant":
        return base
    if cfg.schedule == "step":
        size = cfg.lr_step if cfg.lr_step > 0 else max(1, (2 * planned) // 3)
        return base * cfg.lr_gamma ** (iteration // size)
    t = min(1.0, (iteration - cfg.warmup) / max(1, planned - cfg.warmup))
    return cfg.lr_min + 0.5 * (base - cfg.lr_min) * (1.0 + math.cos(math.pi * t))


class EMA:
    """Exponential moving average of a module's weights (buffers are copied as they are).

    The decay warms up as ``min(decay, (1 + t) / (10 + t))`` so that the average is useful
    (and validation meaningful) long before ``1 / (1 - decay)`` steps have passed."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        ema_params = dict(self.module.named_parameters())
        for name, p in module.named_parameters():
            ema_params[name].lerp_(p.detach(), 1.0 - decay)
        ema_buffers = dict(self.module.named_buffers())
        for name, b in module.named_buffers():
            ema_buffers[name].copy_(b)


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop checkpoints at the next step boundary and stops."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl+C: the user really wants out now
        self.signum = signum

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None


def state_hash(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def unwrap(module: nn.Module) -> nn.Module:
    return (
        module.module
        if hasattr(module, "module") and isinstance(module, nn.parallel.DistributedDataParallel)
        else module
    )


@torch.no_grad()
def validate(module: nn.Module, val_set, scale: int, device: torch.device) -> dict[str, Any]:
    """PSNR/SSIM on Y (shave = scale) of the 8-bit outputs, averaged over the validation crops;
    with two diagnostics for perceptual training: ``detail`` (the outputs' mean luma gradient
    over the originals', metrics.detail), ``grid`` (metrics.periodic_share at the scale) and
    ``hatch`` (metrics.hatch, averaged)."""
    from sr_desktop.core.metrics import detail_ratio, hatch, periodic_share, psnr, ssim

    was_training = module.training
    module.eval()
    ps, ss, bp, bs, outs, details, hatches = [], [], [], [], [], [], []
    try:
        for v in val_set:
            x = torch.from_numpy(v.lr).permute(2, 0, 1)[None].float().div_(255.0).to(device)
            y = module(x).clamp_(0, 1)
            out = y[0].permute(1, 2, 0).mul_(255.0).round_().to(torch.uint8).cpu().numpy()
            out = out[: v.hr.shape[0], : v.hr.shape[1]]
            ps.append(psnr(out, v.hr, scale))
            ss.append(ssim(out, v.hr, scale))
            outs.append(out)
            details.append(detail_ratio(out, v.hr))
            hatches.append(hatch(out, v.hr))
            bp.append(v.bicubic_psnr)
            bs.append(v.bicubic_ssim)
    finally:
        module.train(was_training)
    return {
        "psnr": float(np.mean(ps)),
        "ssim": float(np.mean(ss)),
        "bicubic_psnr": float(np.mean(bp)),
        "bicubic_ssim": float(np.mean(bs)),
        "detail": float(np.mean(details)),
        "grid": periodic_share(outs, scale),
        "hatch": float(np.mean(hatches)),
        "images": len(ps),
        "per_image": {v.name: round(p, 3) for v, p in zip(val_set, ps, strict=True)},
    }


# --- stages ------------------------------------------------------------------------------


class PretrainStage:
    """Pixel loss (L1 for EDSR, MSE for SRResNet) with Adam."""

    name = "pretrain"

    def __init__(self, cfg: TrainConfig, model: nn.Module, device: torch.device):
        self.cfg, self.model = cfg, model
        self.loss_fn = nn.L1Loss() if cfg.pixel_loss == "l1" else nn.MSELoss()
        self.optimizer = torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8
        )
        self.optimizers = [self.optimizer]
        self.device = device
        self.scaler = grad_scaler(cfg, device)
        self.weights_text = ""

    def autocast(self):
        return amp_context(self.cfg, self.device)

    def forward(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with self.autocast():
            sr = self.model(lr)
        loss = self.loss_fn(sr.float(), hr)
        return loss, {self.cfg.pixel_loss: loss.detach()}

    def backward_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def step(self, lr, hr, check) -> dict[str, torch.Tensor]:
        loss, parts = self.forward(lr, hr)
        check(loss)  # may raise before any weight changes
        self.backward_step(loss)
        return parts

    def set_lr(self, value: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = value

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


def build_stage(
    cfg: TrainConfig,
    model: nn.Module,
    device: torch.device,
    info: DistInfo,
    log: EventLog,
    ema: EMA | None = None,
):
    if cfg.stage == "pretrain":
        return PretrainStage(cfg, model, device)
    from .gan import GanStage

    return GanStage(cfg, model, device, info, log, ema_model=ema.module if ema else None)


# --- the loop ----------------------------------------------------------------------------


def _checkpoint_state(cfg, iteration, planned, model, ema, stage, best, elapsed) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "iteration": iteration,
        "planned_iters": planned,
        "model": unwrap(model).state_dict(),
        "ema": ema.module.state_dict() if ema else {},
        "stage": stage.state_dict(),
        "scheduler": {
            "name": cfg.schedule,
            "planned_iters": planned,
            "last_lr": lr_at(cfg, iteration, planned),
        },
        "rng": rng_state(),
        "config": cfg.to_dict(),
        "best": best or {},
        "elapsed_s": float(elapsed),
        "card_extra": dict(getattr(stage, "card_extra", None) or {}),
    }


def make_sampler(cfg: TrainConfig, images: list, *, seed: int, rank: int = 0) -> PatchSampler:
    """The training patch sampler that ``cfg`` describes, over cached ``images``
    (:func:`training.data.load_cache`); ``seed`` and ``rank`` pick the batches."""
    return PatchSampler(
        images,
        cfg.scale,
        cfg.patch,
        cfg.batch,
        seed=seed,
        rank=rank,
        grad_weighting=cfg.grad_weighting,
        quantize_lr=cfg.quantize_lr,
        augment=cfg.augment,
        rgb_permute=cfg.rgb_permute,
    )


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    hooks: Hooks | None = None,
    echo: Callable[[str], None] | None = print,
    info: DistInfo | None = None,
) -> TrainResult:
    """Run (or continue) one training stage as ``cfg`` says; see the module docstring."""
    cfg.validate()
    hooks = hooks or Hooks()
    info = info or dist_info_from_env()
    device = pick_device(cfg.device, info)
    if cfg.amp == "auto":
        cfg.amp = resolve_amp(device)
    if device.type == "cpu" and cfg.amp == "fp16":
        raise ConfigError("--amp fp16 needs a CUDA device; on the CPU use --amp bf16")
    if device.type == "cpu":
        retain_freed_memory()  # measured: +8% it/s for EDSR-baseline x2 on a 2-core CPU
    init_distributed(info, device)
    torch.set_num_threads(cfg.threads or default_threads(info))
    run_dir = Path(cfg.run_dir)
    ckpt_path = run_dir / CHECKPOINT_NAME
    log = EventLog(run_dir / "events.jsonl" if info.is_main else None, echo if info.is_main else None)
    stop = StopRequest()
    stop.install()

    def stop_file_seen() -> bool:
        return info.is_main and (run_dir / STOP_FILE).exists()

    prefetch = None
    try:
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / STOP_FILE).unlink(missing_ok=True)  # a stale request from the last stop
            cfg.save(run_dir / "config.json")
        barrier(info)

        # data (every rank checks the dataset: a problem stops all of them the same way)
        layout = scan_dataset(cfg.dataset, cfg.scale, min_hr_side=cfg.hr_patch)
        train_samples, val_samples = split_samples(layout, cfg.val_fraction, seed=cfg.seed)
        t0 = time.perf_counter()
        images = load_cache(
            train_samples,
            cfg.scale,
            cell=cfg.hr_patch,
            root=layout.root,
            downscaled=cfg.downscale_factors(),
            min_side=margin_side(cfg.hr_patch, cfg.scale),
            keep_originals=not cfg.downscaled_only,
        )
        val_set = []
        if info.is_main:
            val_images = load_cache(
                val_samples[: cfg.max_val_images], cfg.scale, cell=cfg.hr_patch, root=layout.root
            )
            val_set = build_val_set(val_images, cfg.scale, cfg.val_crop)
        sampler = make_sampler(cfg, images, seed=cfg.seed, rank=info.rank)

        # model, EMA, optimiser
        torch.manual_seed(cfg.seed)
        from sr_desktop.core.archs import get_architecture

        model = get_architecture(cfg.arch).build(cfg.model_config()).to(device)
        if device.type == "cpu":  # oneDNN's preferred layout: measured 10% faster per iteration
            model = model.to(memory_format=torch.channels_last)
        init_note = ""
        if cfg.init_from and not resume:
            from .init_weights import load_matching_weights

            copied, skipped = load_matching_weights(model, cfg.init_from)
            init_note = (
                f"initialised from {cfg.init_from}: {len(copied)} tensors copied, {len(skipped)} fresh"
            )
            if skipped:
                init_note += f" ({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''})"
        frozen = freeze_parameters(model, cfg.freeze)
        if frozen:
            init_note = (init_note + "; " if init_note else "") + f"{frozen} weights frozen ({cfg.freeze})"
        model.train()
        ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
        stage = build_stage(cfg, model, device, info, log, ema)

        iteration, planned, best, elapsed_before = 0, cfg.iters, {}, 0.0
        if resume:
            if not ckpt_path.is_file():
                raise TrainingFailed(f"{run_dir}: no {CHECKPOINT_NAME} to resume from")
            state = load_checkpoint(ckpt_path, map_location=device)
            if state.get("format") != CHECKPOINT_FORMAT:
                raise TrainingFailed(f"{ckpt_path}: not a training checkpoint of this program")
            model.load_state_dict(state["model"])
            if ema and state.get("ema"):
                ema.module.load_state_dict(state["ema"])
            stage.load_state_dict(state["stage"])
            set_rng_state(state["rng"])
            iteration = int(state["iteration"])
            planned = cfg.iters if cfg.iters > 0 else int(state["planned_iters"])
            best = dict(state.get("best") or {})
            elapsed_before = float(state.get("elapsed_s", 0.0))
        if info.enabled:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
            stage.model = model

        log.emit(
            "start",
            iteration,
            message=("resumed" if resume else "started")
            + f" {cfg.stage} {cfg.arch} x{cfg.scale} on {device}"
            + (f" x{info.world_size} ranks" if info.enabled else "")
            + (f", {cfg.amp} autocast" if cfg.amp != "off" else ""),
            resumed=resume,
            amp=cfg.amp,
            train_images=len(train_samples),
            downscaled_copies=len(images) - len({s.name for s in train_samples} & {im.name for im in images}),
            val_images=len(val_set),
            cache_s=round(time.perf_counter() - t0, 2),
            threads=torch.get_num_threads(),
            planned_iters=planned,
            init=init_note,
            dataset_kind=layout.kind,
        )
        if init_note:
            log.emit("info", iteration, message=init_note)

        prefetch = Prefetcher(sampler.batch_at, start=iteration, workers=cfg.workers)
        session_start = time.perf_counter()
        window_start, window_iters, window_wait = session_start, 0, 0.0
        loss_sums: dict[str, float] = {}
        loss_counts: dict[str, int] = {}  # a step may report only some losses (GAN warm-up)
        last_rate, last_wait_share = 0.0, 0.0
        reason = "iterations"
        last_val: dict[str, Any] | None = best.get("last_val")

        def check_finite(loss: torch.Tensor) -> None:
            bad = torch.tensor([0.0 if torch.isfinite(loss).all() else 1.0])
            flags, _ = all_reduce_max_sum(bad, torch.zeros(1), info)
            if flags[0] > 0:
                msg = (
                    f"the loss became non-finite ({loss.item()}) at iteration {iteration + 1}; "
                    f"training stopped, the last good checkpoint ({ckpt_path}) is kept. "
                    "Try a lower --lr or --grad-clip."
                )
                log.emit("error", iteration, message=msg, kind="non-finite loss")
                raise TrainingFailed(msg)

        def save(reason_text: str) -> None:
            if info.is_main:
                elapsed = elapsed_before + time.perf_counter() - session_start
                save_checkpoint(
                    ckpt_path,
                    _checkpoint_state(
                        cfg, iteration, planned, model, ema, stage, {**best, "last_val": last_val}, elapsed
                    ),
                )
                log.emit("checkpoint", iteration, reason=reason_text, path=str(ckpt_path))
            barrier(info)

        eval_model = (lambda: ema.module) if ema else (lambda: unwrap(model))
        while True:
            # Decide together whether to stop: a signal or the time budget on any rank.
            time_up = cfg.minutes > 0 and (time.perf_counter() - session_start) >= cfg.minutes * 60
            done = planned > 0 and iteration >= planned
            flags, _ = all_reduce_max_sum(
                torch.tensor([float(stop.requested or stop_file_seen()), float(time_up), float(done)]),
                torch.zeros(1),
                info,
            )
            if flags[0] > 0:
                save("interrupted")
                log.emit("interrupted", iteration, message="stopped by a signal after saving a checkpoint")
                raise Interrupted(f"interrupted at iteration {iteration}; resume with --resume {run_dir}")
            if flags[2] > 0:
                break
            if flags[1] > 0:
                reason = "time budget"
                break

            current_lr = lr_at(cfg, iteration, planned)
            stage.set_lr(current_lr)
            lr_b, hr_b = prefetch.next()
            if hooks.on_batch:
                lr_b, hr_b = hooks.on_batch(iteration, lr_b, hr_b)
            lr_b, hr_b = lr_b.to(device, non_blocking=True), hr_b.to(device, non_blocking=True)
            parts = stage.step(lr_b, hr_b, check_finite)
            if ema:
                ema.update(unwrap(model), iteration)
            iteration += 1
            for k, v in parts.items():
                loss_sums[k] = loss_sums.get(k, 0.0) + float(v)
                loss_counts[k] = loss_counts.get(k, 0) + 1
            window_iters += 1
            if hooks.after_step:
                hooks.after_step(iteration)

            if planned <= 0 and iteration >= 10 and cfg.minutes > 0:
                # --minutes without --iters: fix the schedule's horizon from the measured speed.
                spent = time.perf_counter() - session_start
                planned = int(iteration + (cfg.minutes * 60 - spent) * iteration / spent)
                planned = broadcast_planned(planned, info)
                log.emit(
                    "info",
                    iteration,
                    message=f"time budget allows about {planned} iterations",
                    planned_iters=planned,
                )

            if iteration % cfg.log_every == 0 or iteration == planned:
                now = time.perf_counter()
                span = max(now - window_start, 1e-9)
                last_rate = window_iters / span
                last_wait_share = min(1.0, (prefetch.wait_s - window_wait) / span)
                eta = (planned - iteration) / last_rate if planned > 0 and last_rate > 0 else None
                if cfg.minutes > 0:
                    left = cfg.minutes * 60 - (now - session_start)
                    eta = min(eta, left) if eta is not None else left
                log.emit(
                    "train",
                    iteration,
                    losses={k: v / loss_counts[k] for k, v in loss_sums.items()},
                    lr=current_lr,
                    it_per_s=round(last_rate, 4),
                    data_wait_share=round(last_wait_share, 4),
                    eta_s=round(eta, 1) if eta is not None else None,
                )
                window_start, window_iters, window_wait = now, 0, prefetch.wait_s
                loss_sums, loss_counts = {}, {}

            if cfg.val_every > 0 and iteration % cfg.val_every == 0 and info.is_main and val_set:
                last_val = validate(eval_model(), val_set, cfg.scale, device)
                log.emit("val", iteration, **last_val, ema=bool(ema))
                if last_val["psnr"] > best.get("psnr", -math.inf):
                    best.update(psnr=last_val["psnr"], iteration=iteration)
            if cfg.ckpt_every > 0 and iteration % cfg.ckpt_every == 0:
                save("periodic")

        # finished: final validation, checkpoint, export
        if info.is_main and val_set and (last_val is None or cfg.val_every <= 0 or iteration % cfg.val_every):
            last_val = validate(eval_model(), val_set, cfg.scale, device)
            log.emit("val", iteration, **last_val, ema=bool(ema))
        save("final")
        export_path = None
        total_wait = prefetch.wait_s / max(time.perf_counter() - session_start, 1e-9)
        if info.is_main:
            from .export import export_model
            from .export import export_path as final_export_path

            export_path = final_export_path(cfg)
            weights = "EMA" if ema else "raw"
            export_model(
                eval_model(),
                cfg,
                export_path,
                iteration=iteration,
                weights=weights,
                n_train=len(train_samples),
                n_val=len(val_samples),
                val=last_val,
                extra_card=getattr(stage, "card_extra", None),
            )
        debug_dir = os.environ.get(DEBUG_HASH_ENV)
        if debug_dir:
            Path(debug_dir).mkdir(parents=True, exist_ok=True)
            (Path(debug_dir) / f"rank{info.rank}.txt").write_text(state_hash(unwrap(model)) + "\n")
        # the ranks leave together: a rank tearing its process group down while rank 0 still
        # exports once aborted in gloo's shutdown ("terminate called without an active exception")
        barrier(info)
        log.emit(
            "done",
            iteration,
            message=f"finished ({reason})",
            reason=reason,
            export=str(export_path) if export_path else None,
            val=last_val,
            data_wait_share=round(total_wait, 4),
        )
        return TrainResult(iteration, export_path, last_val, reason, last_rate, last_wait_share)
    finally:
        if prefetch is not None:
            prefetch.close()
        stop.restore()
        shutdown_distributed()


def broadcast_planned(planned: int, info: DistInfo) -> int:
    from .distributed import broadcast_object

    return int(broadcast_object(planned, info))
