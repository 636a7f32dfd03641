"""Inference engine: device and precision choice, tile size from free memory, tiled runs
with a half-precision fallback. Takes and returns float32 arrays/tensors in [0, 1]."""

from __future__ import annotations

import copy
import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .cpu_memory import retain_freed_memory
from .descriptor import ModelDescriptor
from .progress import Progress
from .tiling import run_tiled

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
CPU_MEMORY_BUDGET = 3 << 30  # bytes of activations per tile on the CPU, at most
MIN_TILE, MAX_TILE = 32, 4096


class EngineSetupError(Exception):
    """Bad device or precision choice; the message says what to do."""


def select_device(spec: str = "auto") -> torch.device:
    spec = (spec or "auto").lower()
    if spec == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineSetupError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
        device = torch.device(spec if ":" in spec else "cuda:0")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise EngineSetupError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) (cuda:0..)"
            )
        return device
    raise EngineSetupError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")


def list_devices() -> list[tuple[str, str]]:
    """(spec, human name) pairs for the app's device menu."""
    devices = [("auto", "Auto")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append((f"cuda:{i}", torch.cuda.get_device_name(i)))
    devices.append(("cpu", "CPU"))
    return devices


_CPU_BF16_OK: dict[int, bool] = {}


def _cpu_bf16_is_better(model: ModelDescriptor) -> bool:
    """bf16 on the CPU only where it is measured clearly faster than fp32 for this model (CPUs
    with bf16 dot-product or matrix units) and its output stays within 1/255 of fp32's.
    Measured once per model and process."""
    key = id(model.module)
    if key not in _CPU_BF16_OK:
        torch.manual_seed(0)
        x = torch.nn.functional.interpolate(
            torch.rand(1, model.in_channels, 8, 8), size=(64, 64), mode="bilinear"
        )
        timings: dict[torch.dtype, float] = {}
        outputs: dict[torch.dtype, torch.Tensor] = {}
        for dtype in (torch.float32, torch.bfloat16):
            module = copy.deepcopy(model.module).to(dtype)
            with torch.inference_mode():
                outputs[dtype] = module(x.to(dtype)).float().clamp(0, 1)  # also the warm-up
                runs = []
                for _ in range(3):  # the best of three resists a busy machine
                    start = time.perf_counter()
                    module(x.to(dtype))
                    runs.append(time.perf_counter() - start)
            timings[dtype] = min(runs)
        faster = timings[torch.bfloat16] < 0.8 * timings[torch.float32]
        close = (outputs[torch.bfloat16] - outputs[torch.float32]).abs().max().item() <= 1 / 255
        _CPU_BF16_OK[key] = faster and close
    return _CPU_BF16_OK[key]


def select_precision(device: torch.device, spec: str, model: ModelDescriptor) -> torch.dtype:
    spec = (spec or "auto").lower()
    if spec == "auto":
        if device.type == "cuda":
            return torch.float16 if model.supports_half else torch.float32
        return torch.bfloat16 if _cpu_bf16_is_better(model) else torch.float32
    if spec not in PRECISIONS:
        raise EngineSetupError(f"unknown precision {spec!r}; use auto, fp32, fp16 or bf16")
    if spec == "fp16" and device.type == "cpu":
        raise EngineSetupError("fp16 is for CUDA GPUs; on the CPU use fp32 or bf16")
    return PRECISIONS[spec]


def available_memory(device: torch.device) -> int:
    """Bytes free for activations on the device."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def auto_tile_size(model: ModelDescriptor, device: torch.device, dtype: torch.dtype) -> int:
    """The largest square tile (core size, input pixels) whose activations fit the budget."""
    element = torch.tensor([], dtype=dtype).element_size()
    budget = available_memory(device)
    budget = int(budget * 0.6) if device.type == "cuda" else min(CPU_MEMORY_BUDGET, budget // 2)
    side = int(math.sqrt(budget / model.bytes_per_pixel(element))) - 2 * model.margin
    return max(MIN_TILE, min(MAX_TILE, side))


def parse_tile(spec: str | int | None) -> int | None:
    """``auto``/None -> None (choose from memory), ``none`` -> 0 (whole image), N -> N."""
    if spec is None or spec == "auto":
        return None
    if spec == "none" or spec == 0:
        return 0
    try:
        value = int(spec)
    except (TypeError, ValueError):
        raise EngineSetupError(f"bad tile size {spec!r}; use auto, none or a number of pixels") from None
    if value < MIN_TILE:
        raise EngineSetupError(f"tile size {value} is too small; use at least {MIN_TILE}")
    return value


@dataclass
class RunStats:
    tile: int = 0
    tiles_retried_fp32: int = 0


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th (0-7) of the 8 flips/transposes of a (N)CHW tensor; 0 is the identity.

    Bit 0 flips left-right, bit 1 upside down, bit 2 transposes, in that order."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-2, -1)
    return x


def undo_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral` (the same steps in reverse order)."""
    if k & 4:
        x = x.transpose(-2, -1)
    if k & 2:
        x = x.flip(-2)
    if k & 1:
        x = x.flip(-1)
    return x


class Upscaler:
    """A model placed on a device at a precision, ready to upscale images of any size.

    ``tta``: test-time augmentation (the "self-ensemble" of Lim et al., EDSR, 2017): every tile
    goes through the network in its 8 flips/transposes and the outputs, turned back, are averaged.
    8x the time for a little more fidelity.
    """

    def __init__(
        self,
        model: ModelDescriptor,
        device: str = "auto",
        precision: str = "auto",
        tile: str | int | None = "auto",
        tta: bool = False,
    ):
        self.model = model
        self.tta = tta
        self.device = select_device(device)
        self.dtype = select_precision(self.device, precision, model)
        self.tile_spec = parse_tile(tile)
        self.module = copy.deepcopy(model.module).to(self.device, self.dtype).eval()
        self._fp32_module: torch.nn.Module | None = None
        self.stats = RunStats()
        if self.device.type == "cpu":
            self.module = self.module.to(memory_format=torch.channels_last)
            retain_freed_memory()

    @property
    def scale(self) -> int:
        return self.model.scale

    def auto_tile(self) -> int:
        """The tile size that ``tile="auto"`` gives on this device now (before capping to an image)."""
        return auto_tile_size(self.model, self.device, self.dtype)

    def tile_size(self, height: int, width: int) -> int:
        """The tile size this image will use (its longer side when the whole image fits)."""
        if self.tile_spec == 0:
            return max(height, width)
        tile = self.tile_spec or self.auto_tile()
        return min(tile, max(height, width))

    def _fp32(self) -> torch.nn.Module:
        if self._fp32_module is None:
            self._fp32_module = copy.deepcopy(self.model.module).to(self.device, torch.float32).eval()
        return self._fp32_module

    @torch.inference_mode()
    def _run_tile(self, x: torch.Tensor, full_precision: bool = False) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if not self.tta:
            return self._forward(x, full_precision).clamp_(0, 1)
        out = self._forward(x, full_precision)
        for k in range(1, 8):
            out += undo_dihedral(self._forward(dihedral(x, k), full_precision), k)
        return out.div_(8).clamp_(0, 1)

    def _forward(self, x: torch.Tensor, full_precision: bool) -> torch.Tensor:
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        if full_precision and self.dtype != torch.float32:
            return self._fp32()(x.float())
        out = self.module(x.to(self.dtype)).float()
        if self.dtype == torch.float16 and not torch.isfinite(out).all():
            # fp16 overflowed on this tile: redo it at full precision
            self.stats.tiles_retried_fp32 += 1
            out = self._fp32()(x.float())
        return out

    def upscale_tensor(
        self,
        x: torch.Tensor,
        progress: Progress | None = None,
        on_progress: Callable[[float], None] | None = None,
        full_precision: bool = False,
    ) -> torch.Tensor:
        """1xCxHxW float32 in [0, 1] -> 1xCx(sH)x(sW) float32 on the CPU.

        ``full_precision`` runs at fp32 whatever the chosen precision: 16-bit images need it
        (fp16 and bf16 keep 11 and 8 significant bits)."""
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != self.model.in_channels:
            raise ValueError(f"expected 1x{self.model.in_channels}xHxW, got {tuple(x.shape)}")
        _, _, h, w = x.shape
        tile = self.tile_size(h, w)
        self.stats = RunStats(tile=tile)

        def changed(new_tile: int) -> None:
            self.stats.tile = new_tile

        return run_tiled(
            functools.partial(self._run_tile, full_precision=full_precision),
            x,
            self.scale,
            tile,
            self.model.margin,
            progress=progress,
            on_tile_change=changed,
            on_progress=on_progress,
        )

    def upscale_array(
        self,
        rgb: np.ndarray,
        progress: Progress | None = None,
        on_progress: Callable[[float], None] | None = None,
        full_precision: bool = False,
    ) -> np.ndarray:
        """HxWxC float32 array in [0, 1] -> (sH)x(sW)xC float32 array."""
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
        out = self.upscale_tensor(x.float(), progress, on_progress, full_precision)
        return out[0].permute(1, 2, 0).numpy()
