"""What the wizard's pages decide, as one plain dataclass that turns into ``sr-train`` options.

No Qt and no torch here: the pages fill a :class:`TrainingPlan`, :meth:`TrainingPlan.to_args`
gives the command line, and the helpers below name run folders and read earlier runs.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...core.store import data_dir, user_model_dir

# Architectures offered, with the sentence a user reads next to each choice.
ARCHS: dict[str, dict] = {
    "edsr": {
        "title": "EDSR, baseline size (16 blocks, 64 channels, 1.4 M weights)",
        "arch": "edsr",
        "n_resblocks": 16,
        "n_feats": 64,
        "res_scale": 1.0,
        "help": "The usual choice: faithful detail, trains in hours on a GPU, usable on a CPU.",
    },
    "edsr-large": {
        "title": "EDSR, large (32 blocks, 256 channels, 43 M weights)",
        "arch": "edsr",
        "n_resblocks": 32,
        "n_feats": 256,
        "res_scale": 0.1,
        "help": "About 0.3 dB better than baseline, but 30 times slower: needs a strong GPU and days.",
    },
    "srresnet": {
        "title": "SRResNet (16 blocks, 64 channels)",
        "arch": "srresnet",
        "n_resblocks": 16,
        "n_feats": 64,
        "res_scale": 1.0,
        "help": "The SRGAN paper's generator; slightly softer than EDSR, trained with a squared-error loss.",
    },
}

STAGE_HELP = {
    "pretrain": "Faithful: the model learns to reproduce your images pixel by pixel. "
    "Highest PSNR (a measure of faithfulness); fine textures may look a little smooth.",
    "both": "Faithful, then SRGAN: after the faithful stage, a second stage teaches sharper, more natural "
    "texture. Lower PSNR, and the model may invent detail that was not there.",
    "gan": "SRGAN only: sharpen an existing model's results (needs a model to start from). "
    "Lower PSNR; may invent detail.",
}

# Batch / patch presets: (batch, LR patch side). "small" keeps a CPU step well under a second;
# "paper" is EDSR's published setting (16 patches of 48 px LR).
PRESETS = {
    "small": {"batch": 4, "patch": 24, "title": "Small (for a CPU): 4 patches of 24 px"},
    "paper": {"batch": 16, "patch": 48, "title": "Paper (for a GPU): 16 patches of 48 px"},
}

VGG_NONE, VGG19_FILE, VGG19_DOWNLOAD, VGG16_FILE = "none", "vgg19-file", "vgg19-download", "vgg16-file"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,79}$")


@dataclass
class TrainingPlan:
    dataset: str = ""
    scale: int = 2
    arch_key: str = "edsr"
    n_resblocks: int = 16
    n_feats: int = 64
    res_scale: float = 1.0
    init_from: str = ""  # model file to fine-tune from ("" = from scratch)
    stage: str = "pretrain"  # pretrain | both | gan
    vgg_source: str = VGG_NONE
    vgg_file: str = ""
    device: str = "auto"
    batch: int = 4
    patch: int = 24
    budget_kind: str = "minutes"  # minutes | iters
    minutes: float = 30.0
    iters: int = 1000
    val_every: int = 0  # 0 = derived from the budget
    val_crop: int = 0  # 0 = the trainer's default
    threads: int = 0
    model_name: str = ""
    run_dir: str = ""
    extra_args: list[str] = field(default_factory=list)

    @property
    def arch(self) -> str:
        return ARCHS[self.arch_key]["arch"] if self.arch_key in ARCHS else self.arch_key

    def set_arch(self, key: str) -> None:
        spec = ARCHS[key]
        self.arch_key = key
        self.n_resblocks, self.n_feats, self.res_scale = (
            spec["n_resblocks"],
            spec["n_feats"],
            spec["res_scale"],
        )

    def export_path(self) -> Path:
        return user_model_dir() / f"{self.model_name}.safetensors"

    def planned_iters(self, rate: float | None = None) -> int | None:
        """Iterations of one stage: given, or what the time budget allows at ``rate`` it/s."""
        if self.budget_kind == "iters":
            return self.iters
        if rate:
            return max(1, int(self.stage_minutes() * 60 * rate))
        return None

    def stage_minutes(self) -> float:
        """``--minutes`` applies to each stage, so a two-stage run gets half of the budget each."""
        return self.minutes / 2 if self.stage == "both" else self.minutes

    def auto_val_every(self, rate: float | None = None) -> int:
        if self.val_every > 0:
            return self.val_every
        iters = self.planned_iters(rate) or 2000
        return max(5, min(1000, iters // 20))

    def to_args(self, rate: float | None = None) -> list[str]:
        """The ``sr-train`` options for a new run."""
        args = self.run_args(self.stage, self.run_dir, self.export_path())
        if self.arch == "edsr":
            args += ["--res-scale", f"{self.res_scale:g}"]
        if self.budget_kind == "iters":
            args += ["--iters", str(self.iters)]
        else:
            args += ["--minutes", f"{self.stage_minutes():g}"]
        val_every = self.auto_val_every(rate)
        # A checkpoint at every validation: the live sample is drawn from it.
        args += ["--val-every", str(val_every), "--ckpt-every", str(val_every)]
        planned = self.planned_iters(rate)
        # about 50+ chart points for short runs; every 10 steps (the trainer's default) for long ones
        args += ["--log-every", str(max(1, min(10, (planned or 1000) // 50)))]
        if self.val_crop:
            args += ["--val-crop", str(self.val_crop)]
        if self.threads:
            args += ["--threads", str(self.threads)]
        if self.init_from:
            args += ["--init-from", self.init_from]
        if self.stage in ("both", "gan"):
            args += self.vgg_args()
        return args + list(self.extra_args)

    def run_args(self, stage: str, run_dir: Path | str, export: Path | str) -> list[str]:
        """Dataset, stage, network, batch, device and where the run and its model go: what a
        real run and the calibration run share."""
        return [
            self.dataset,
            "--stage", stage,
            "--arch", self.arch,
            "--scale", str(self.scale),
            "--n-resblocks", str(self.n_resblocks),
            "--n-feats", str(self.n_feats),
            "--batch", str(self.batch),
            "--patch", str(self.patch),
            "--device", self.device,
            "--amp", "auto",  # bf16 where the CPU or GPU computes it natively: about 2x faster
            "--run-dir", str(run_dir),
            "--export", str(export),
        ]  # fmt: skip

    def vgg_args(self) -> list[str]:
        if self.vgg_source == VGG19_FILE and self.vgg_file:
            return ["--vgg-weights", self.vgg_file]
        if self.vgg_source == VGG16_FILE and self.vgg_file:
            return ["--vgg16-file", self.vgg_file]
        if self.vgg_source == VGG19_DOWNLOAD:
            return ["--allow-download"]
        return []

    def problems(self) -> list[str]:
        """What still stops this plan from starting (shown next to the Start button)."""
        out = []
        if not self.dataset:
            out.append("choose a dataset folder")
        if self.stage == "gan" and not self.init_from:
            out.append("SRGAN only needs a model to start from")
        if self.stage in ("both", "gan") and not self.vgg_args():
            out.append("the SRGAN stage needs VGG weights: choose a file or allow the download")
        if not NAME_RE.match(self.model_name or ""):
            out.append("give the model a name (letters, digits, '.', '-', '_', '+'; no spaces)")
        return out


def runs_dir() -> Path:
    return data_dir() / "runs"


def new_run_dir(model_name: str) -> Path:
    base = runs_dir() / f"{model_name or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def event_files(run_dir: Path) -> list[tuple[str, Path]]:
    """(stage, events.jsonl) in the order they are written: one file, or pretrain then gan."""
    run_dir = Path(run_dir)
    return [("", run_dir / "events.jsonl"), ("pretrain", run_dir / "pretrain" / "events.jsonl"),
            ("gan", run_dir / "gan" / "events.jsonl")]  # fmt: skip


@dataclass
class RunInfo:
    path: Path
    config: dict
    iteration: int
    finished: bool
    resumable: bool

    @property
    def title(self) -> str:
        name = Path(self.config.get("export") or self.path.name).stem
        state = "finished" if self.finished else ("paused" if self.resumable else "no checkpoint yet")
        return (
            f"{name}: {self.config.get('arch', '?')} x{self.config.get('scale', '?')}, "
            f"iteration {self.iteration}, {state} ({self.path.name})"
        )


def read_run(path: Path) -> RunInfo | None:
    """A run folder's state from its config.json, checkpoints and events; None if it is not one."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    iteration, finished = 0, False
    for _stage, events in event_files(path):
        if not events.is_file():
            continue
        for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            iteration = int(event.get("iteration", iteration))
            if event.get("type") == "done":
                finished = _stage in ("", "gan")
    stage = config.get("stage", "pretrain")
    ckpts = (
        [path / "checkpoint.pt"]
        if stage != "both"
        else [path / "pretrain" / "checkpoint.pt", path / "gan" / "checkpoint.pt"]
    )
    resumable = not finished and any(c.is_file() for c in ckpts)
    return RunInfo(path, config, iteration, finished, resumable)


def list_runs() -> list[RunInfo]:
    folder = runs_dir()
    if not folder.is_dir():
        return []
    runs = [read_run(p) for p in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)]
    return [r for r in runs if r is not None]


def plan_from_run(info: RunInfo) -> TrainingPlan:
    """A plan that describes an earlier run (for the run and finish pages after a resume)."""
    c = info.config
    plan = TrainingPlan(
        dataset=c.get("dataset", ""),
        scale=int(c.get("scale", 2)),
        arch_key=c.get("arch", "edsr"),
        n_resblocks=int(c.get("n_resblocks", 16)),
        n_feats=int(c.get("n_feats", 64)),
        res_scale=float(c.get("res_scale", 1.0)),
        init_from=c.get("init_from", ""),
        stage=c.get("stage", "pretrain"),
        device=c.get("device", "auto"),
        batch=int(c.get("batch", 16)),
        patch=int(c.get("patch", 48)),
        budget_kind="iters" if int(c.get("iters", 0)) > 0 else "minutes",
        minutes=float(c.get("minutes", 0.0)),
        iters=int(c.get("iters", 0)),
        run_dir=str(info.path),
    )
    export = c.get("export") or ""
    plan.model_name = Path(export).stem if export else info.path.name
    return plan


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "unknown"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours / 24:.1f} days"


CALIBRATION_ITERS = 40
CALIBRATION_MINUTES = 0.2  # of training after start-up, at most


def calibration_args(plan: TrainingPlan, run_dir: Path, export: Path) -> list[str]:
    """A short real run of the faithful stage with the plan's network, batch, patch and device."""
    args = plan.run_args("pretrain", run_dir, export) + [
        "--iters", str(CALIBRATION_ITERS),
        "--minutes", f"{CALIBRATION_MINUTES:g}",
        "--log-every", "1",
        "--val-every", "0",
        "--ckpt-every", "0",
        "--max-val-images", "1",
        "--val-crop", "64",
        "--quiet",
    ]  # fmt: skip
    if plan.threads:
        args += ["--threads", str(plan.threads)]
    return args


def rate_from_events(events: list[dict], window: int = 5) -> float | None:
    """Iterations per second from the train events, leaving out the first (warm-up) ones: the
    median over windows of ``window`` steps, so a moment when another program took the CPU
    does not decide the estimate."""
    train = [(e["iteration"], e["time"]) for e in events if e.get("type") == "train"]
    if len(train) < 3:
        return None
    train = train[min(3, len(train) - 2) :]
    rates = []
    for k in range(0, len(train) - 1, window):
        (i0, t0), (i1, t1) = train[k], train[min(k + window, len(train) - 1)]
        if t1 > t0 and i1 > i0:
            rates.append((i1 - i0) / (t1 - t0))
    if not rates:
        return None
    rates.sort()
    mid = len(rates) // 2
    return rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2


GAN_SLOWDOWN = 2.5  # rough cost of a GAN step (VGG + discriminator) relative to a pixel-loss step


def estimate_seconds(plan: TrainingPlan, rate: float, startup_s: float) -> float | None:
    """Wall time of the whole plan at ``rate`` it/s of the faithful stage."""
    if rate <= 0:
        return None
    stages = {"pretrain": 1, "both": 2, "gan": 1}[plan.stage]
    if plan.budget_kind == "minutes":
        return plan.minutes * 60 + startup_s * stages
    per_stage = {"pretrain": [1.0], "both": [1.0, GAN_SLOWDOWN], "gan": [GAN_SLOWDOWN]}[plan.stage]
    return sum(plan.iters / rate * f for f in per_stage) + startup_s * stages
