"""The typed, versioned training configuration, copied into every run folder as ``config.json``.

One flat dataclass (every field is a command-line option), so a run folder alone says how its
model was made, and ``--resume`` rebuilds exactly the same run from it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_VERSION = 1
STAGES = ("pretrain", "gan", "both")
SCHEDULES = ("step", "cosine", "constant")


class ConfigError(ValueError):
    """An impossible combination of options; the message says which and why."""


def parse_layers(spec: str) -> list[tuple[str, float]]:
    """``--vgg-layer``: one layer name (``relu5_3``; ``conv5_3`` is the same layer before its
    activation) or a comma-separated weighted sum
    (``relu2_2:0.1,relu3_3,relu5_3:0.5``; a missing weight is 1) -> [(name, weight)].
    ``""`` -> []: the network's default layer. Raises ValueError on a bad list; the names
    themselves are checked against the network by :class:`VGGFeatures`."""
    layers: list[tuple[str, float]] = []
    for item in (part.strip() for part in spec.split(",")) if spec.strip() else ():
        name, _, weight = item.partition(":")
        name = name.strip()
        if not name.startswith(("relu", "conv")) or name in (n for n, _ in layers):
            raise ValueError(f"--vgg-layer: {item!r} is not a new layer name such as relu3_3 or conv3_3")
        try:
            w = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ValueError(f"--vgg-layer: the weight in {item!r} is not a number") from None
        if not (w >= 0 and math.isfinite(w)):
            raise ValueError(f"--vgg-layer: the weight in {item!r} must be 0 or more")
        layers.append((name, w))
    if layers and not any(w > 0 for _, w in layers):
        raise ValueError("--vgg-layer: at least one layer needs a weight above 0")
    return layers


@dataclass
class TrainConfig:
    version: int = CONFIG_VERSION
    # data
    dataset: str = ""  # folder; empty = DIV2K (downloaded on request)
    scale: int = 2
    patch: int = 48  # LR patch side; HR patch = patch * scale
    batch: int = 16
    val_fraction: float = 0.1  # used when the dataset has no val.txt
    val_crop: int = 384  # HR centre crop for validation (0 = whole image); keeps CPU validation cheap
    max_val_images: int = 10
    grad_weighting: float = 0.7  # share of patches drawn by local gradient energy (rest uniform)
    quantize_lr: bool = True  # round synthesised LR to 8 bit, as MATLAB-made LR files are
    augment: bool = True  # flips and 90 degree rotations
    # share of samples whose colour channels are put in another order (the same for LR and HR): more
    # colours from few photos (Yoo et al., CVPR 2020, found it helps most with little data)
    rgb_permute: float = 0.0
    # HR-only datasets: copies of each training image downscaled (MATLAB bicubic) by these factors
    # join the training set, e.g. "0.75,0.5": denser detail per pixel, less JPEG noise and defocus
    add_downscaled: str = ""
    # train on those copies alone, not the originals: cleaner HR for a GAN, which otherwise learns
    # to draw the originals' sensor and JPEG noise as texture
    downscaled_only: bool = False
    # model
    arch: str = "edsr"
    n_resblocks: int = 16
    n_feats: int = 64
    res_scale: float = 1.0
    init_from: str = ""
    freeze: str = ""  # comma-separated parameter name prefixes kept fixed, e.g. "tail" or "head,body.0"
    # optimisation
    stage: str = "pretrain"
    iters: int = 300_000
    minutes: float = 0.0  # wall-clock budget for this invocation (0 = none)
    lr: float = 1e-4
    schedule: str = "step"
    lr_step: int = 0  # step schedule: decay every lr_step iterations (0 = at 2/3 of iters)
    lr_gamma: float = 0.5
    lr_min: float = 1e-7  # cosine floor
    warmup: int = 0
    loss: str = "auto"  # auto = l1 for EDSR, mse for SRResNet
    ema: float = 0.0  # EMA decay of weights (0 = off), e.g. 0.999
    grad_clip: float = 0.0
    amp: str = "off"  # off | bf16 (CUDA or CPU) | fp16 (CUDA only) | auto (loop.resolve_amp)
    # GAN stage
    vgg_weights: str = ""  # torchvision VGG19 state dict (.pth)
    vgg16_file: str = ""  # shared/weights/vgg16-imagenet-features.ckpt format
    vgg_layer: str = ""  # "" = relu5_4 for VGG19, relu5_3 for VGG16; or "relu2_2:0.1,relu3_3,..."
    allow_download: bool = False
    content_weight: float = 1.0
    adv_weight: float = 1e-3
    pixel_weight: float = 0.0
    d_lr: float = 1e-4
    # discriminator-only steps whenever the discriminator is new: at the start of the GAN stage,
    # and on resume from a portable state (saved without the discriminator, see checkpoint.portable)
    d_warmup: int = 0
    # hide each output's fixed scale-pixel pattern (the sub-pixel grid) from the VGG and
    # adversarial losses, so that they never push the generator towards one (gan.remove_fixed_pattern)
    grid_guard: bool = False
    # weight of an L1 loss between the output's and the original's fixed scale-pixel patterns
    # (gan.grid_loss): pulls a grown sub-pixel grid back; 0 = off
    grid_weight: float = 0.0
    # weight of an L1 loss between the output downscaled with the MATLAB bicubic and the LR input
    # (gan.consistency_loss): holds colours and coarse structure, leaves fine detail free; 0 = off
    consistency_weight: float = 0.0
    # weight of the locally discriminative artefact loss (gan.artefact_loss, after Liang et al.
    # 2022, "LDL"): L1 where the output's error is busy and worse than the EMA model's; needs --ema
    artefact_weight: float = 0.0
    # the VGG and adversarial losses see a window this many pixels smaller than the output, at
    # a random offset each step (gan.random_window): their pooling grids then stop lining up
    # with the upscaler's sub-pixel phases (tried against the SRGAN hatch: no help); 0 = off
    jitter: int = 0
    # bookkeeping
    seed: int = 0
    device: str = "auto"
    workers: int = 1  # background batch-preparing threads
    threads: int = 0  # torch intra-op threads (0 = cores / local ranks)
    val_every: int = 1000
    ckpt_every: int = 500
    log_every: int = 10
    export: str = ""
    run_dir: str = "runs/train"
    extra: dict[str, Any] = field(default_factory=dict)

    # --- derived -------------------------------------------------------------------------
    @property
    def hr_patch(self) -> int:
        return self.patch * self.scale

    @property
    def pixel_loss(self) -> str:
        if self.loss != "auto":
            return self.loss
        return "mse" if self.arch == "srresnet" else "l1"

    def downscale_factors(self) -> tuple[float, ...]:
        """The ``add_downscaled`` factors as numbers (ValueError when one is not a number)."""
        return tuple(float(f) for f in self.add_downscaled.replace(" ", "").split(",") if f)

    def gan_loss_terms(self) -> list[str]:
        """The optional GAN-stage losses that are on, as "name xW" (for model cards and recipes)."""
        terms = (
            ("LR-consistency L1", self.consistency_weight),
            ("grid-pattern L1", self.grid_weight),
            ("LDL artefact-map L1", self.artefact_weight),
        )
        return [f"{name} x{weight:g}" for name, weight in terms if weight]

    def lr_step_size(self) -> int:
        return self.lr_step if self.lr_step > 0 else max(1, (2 * self.iters) // 3)

    def model_config(self) -> Any:
        from sr_desktop.core.archs import get_architecture

        arch = get_architecture(self.arch)
        values: dict[str, Any] = {
            "scale": self.scale,
            "n_resblocks": self.n_resblocks,
            "n_feats": self.n_feats,
        }
        if self.arch == "edsr":
            values["res_scale"] = self.res_scale
        return arch.config_cls(**values)

    def validate(self) -> None:
        problems = []
        if self.stage not in STAGES:
            problems.append(f"--stage must be one of {', '.join(STAGES)}, not {self.stage!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"--schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.scale not in (2, 3, 4):
            problems.append(f"--scale must be 2, 3 or 4, not {self.scale}")
        if self.arch not in ("edsr", "srresnet"):
            problems.append(f"--arch must be edsr or srresnet, not {self.arch!r}")
        if self.patch < 4 or self.batch < 1:
            problems.append("--patch must be at least 4 and --batch at least 1")
        if self.iters < 1 and self.minutes <= 0:
            problems.append("give --iters N or --minutes M")
        if not 0.0 <= self.ema < 1.0:
            problems.append(f"--ema must be in [0, 1), not {self.ema}")
        if self.loss not in ("auto", "l1", "mse"):
            problems.append(f"--loss must be auto, l1 or mse, not {self.loss!r}")
        if self.amp not in ("off", "bf16", "fp16", "auto"):
            problems.append(f"--amp must be off, bf16, fp16 or auto, not {self.amp!r}")
        if self.grid_weight < 0:
            problems.append(f"--grid-weight must be 0 or more, not {self.grid_weight}")
        if self.consistency_weight < 0:
            problems.append(f"--consistency-weight must be 0 or more, not {self.consistency_weight}")
        if self.artefact_weight < 0:
            problems.append(f"--artefact-weight must be 0 or more, not {self.artefact_weight}")
        if self.artefact_weight > 0 and not self.ema:
            problems.append("--artefact-weight compares the output with the EMA model's: it needs --ema")
        if self.jitter < 0:
            problems.append(f"--jitter must be 0 or more, not {self.jitter}")
        elif self.jitter and self.stage != "pretrain" and self.hr_patch - self.jitter < 16:
            problems.append(
                f"--jitter {self.jitter} leaves the losses a {self.hr_patch - self.jitter}-pixel window "
                f"of the {self.hr_patch}-pixel output: use at most {self.hr_patch - 16} or a larger --patch"
            )
        if self.d_warmup < 0:
            problems.append(f"--d-warmup must be 0 or more, not {self.d_warmup}")
        try:
            parse_layers(self.vgg_layer)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            factors = self.downscale_factors()
        except ValueError:
            problems.append(f"--add-downscaled takes factors such as 0.75,0.5, not {self.add_downscaled!r}")
        else:
            if any(not 0.0 < f < 1.0 for f in factors):
                problems.append(
                    f"--add-downscaled factors must be between 0 and 1, not {self.add_downscaled!r}"
                )
        if self.downscaled_only and not self.add_downscaled:
            problems.append("--downscaled-only needs --add-downscaled factors (the copies to train on)")
        if not 0.0 <= self.grad_weighting <= 1.0:
            problems.append("--grad-weighting must be in [0, 1]")
        if not 0.0 <= self.rgb_permute <= 1.0:
            problems.append(f"--rgb-permute must be in [0, 1], not {self.rgb_permute}")
        if problems:
            raise ConfigError("\n".join(problems))

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        version = int(values.get("version", 0))
        if version > CONFIG_VERSION:
            raise ConfigError(
                f"config version {version} is newer than this program understands ({CONFIG_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        kwargs["version"] = CONFIG_VERSION
        return cls(**kwargs)

    def save(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
