"""``sr-train`` / ``python -m training``: train EDSR (stage 1) and fine-tune it as an SRGAN
generator (stage 2) from the command line. Also runs under ``torchrun`` (DDP).

Exit codes: 0 done, 1 training failed, 2 bad usage or dataset, 130 interrupted (checkpointed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from .config import ConfigError, TrainConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Options that may change when a run is resumed; the rest come from the run's config.json.
RESUMABLE_OVERRIDES = (
    "iters",
    "minutes",
    "val_every",
    "ckpt_every",
    "log_every",
    "export",
    "device",
    "workers",
    "threads",
    "amp",
    "add_downscaled",
    "downscaled_only",
    "rgb_permute",
    "loss",  # e.g. an MSE fine-tune at the end of an L1 run, for PSNR
    "patch",  # e.g. larger patches (fewer of them) late in a run: less of each patch's loss sits
    "batch",  # within a receptive field of its zero-padded border than with 48-pixel ones
)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="sr-train",
        description="Train an EDSR/SRResNet super-resolution model on your images "
        "(stage 1: pixel loss), then fine-tune it as an SRGAN generator (stage 2).",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument(
        "dataset",
        nargs="?",
        help="folder with HR/ (and LR/), or a plain folder of images; omit to download DIV2K",
    )
    g = p.add_argument_group("run")
    g.add_argument("--stage", choices=("pretrain", "gan", "both"), help=f"default {d.stage}")
    g.add_argument("--arch", choices=("edsr", "srresnet"), help=f"default {d.arch}")
    g.add_argument("--scale", type=int, choices=(2, 3, 4), help=f"default {d.scale}")
    g.add_argument("--iters", type=int, help=f"iterations (default {d.iters})")
    g.add_argument("--minutes", type=float, help="wall-clock budget; alone, the LR schedule is fitted to it")
    g.add_argument("--run-dir", help="folder for config.json, events.jsonl, checkpoint.pt")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    g.add_argument(
        "--config",
        metavar="FILE",
        action="append",
        help="a recipe: JSON with any of these options (e.g. recipes/edsr-x2.json); options given here win. "
        "Several --config train in a row, each stage from the model of the one before; "
        "the same command again continues where it stopped",
    )
    g.add_argument("--init-from", metavar="MODEL_FILE", help="start from a model's matching weights")
    g.add_argument(
        "--freeze",
        metavar="PREFIXES",
        help='keep these weights fixed, e.g. "tail" (the upsampler) when fine-tuning',
    )
    g.add_argument("--export", metavar="PATH", help="final .safetensors (default: the user model store)")
    g.add_argument(
        "--export-now",
        action="store_true",
        help="with --resume RUN_DIR: export the run's latest checkpoint as a model and exit (no training)",
    )
    g.add_argument(
        "--export-weights",
        choices=("auto", "ema", "raw"),
        default="auto",
        help="with --export-now: the EMA weights, the raw (optimised) ones, or auto: EMA when the "
        "run keeps them (default auto)",
    )
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto | cpu | cuda[:N] (default auto)")
    g.add_argument("--workers", type=int, help="batch-preparing threads (default 1)")
    g.add_argument("--threads", type=int, help="torch CPU threads (default: cores / ranks)")
    g.add_argument(
        "--amp",
        choices=("off", "bf16", "fp16", "auto"),
        help="mixed precision: bf16 (CUDA, or a CPU with native bf16), fp16 (CUDA), or auto: bf16 "
        "where the hardware computes it natively (default off)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress lines on stdout")
    g = p.add_argument_group("model")
    g.add_argument("--n-resblocks", type=int, help=f"default {d.n_resblocks}")
    g.add_argument("--n-feats", type=int, help=f"default {d.n_feats}")
    g.add_argument("--res-scale", type=float)
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch", type=int, help=f"default {d.batch}")
    g.add_argument("--patch", type=int, help=f"LR patch side (default {d.patch})")
    g.add_argument("--lr", type=float, help=f"default {d.lr:g}")
    g.add_argument("--schedule", choices=("step", "cosine", "constant"), help=f"default {d.schedule}")
    g.add_argument(
        "--lr-step", type=int, help="step schedule: decay every N iterations (default 2/3 of iters)"
    )
    g.add_argument("--lr-gamma", type=float, help=f"step decay factor (default {d.lr_gamma})")
    g.add_argument("--lr-min", type=float)
    g.add_argument("--warmup", type=int)
    g.add_argument("--loss", choices=("auto", "l1", "mse"))
    g.add_argument("--ema", type=float, help="EMA decay of the weights, e.g. 0.999 (default off)")
    g.add_argument("--grad-clip", type=float)
    g = p.add_argument_group("data")
    g.add_argument("--val-every", type=int)
    g.add_argument("--ckpt-every", type=int)
    g.add_argument("--log-every", type=int)
    g.add_argument(
        "--val-crop", type=int, help=f"HR centre crop for validation (default {d.val_crop}, 0 = whole)"
    )
    g.add_argument("--val-fraction", type=float, help="validation share when there is no val.txt")
    g.add_argument("--max-val-images", type=int)
    g.add_argument(
        "--grad-weighting",
        type=float,
        help=f"share of gradient-weighted patches (default {d.grad_weighting})",
    )
    g.add_argument("--no-quantize-lr", dest="quantize_lr", action="store_false")
    g.add_argument("--no-augment", dest="augment", action="store_false")
    g.add_argument(
        "--rgb-permute",
        type=float,
        metavar="P",
        help="share of patches whose colour channels are put in a random other order, the same "
        "for LR and HR (more colours from a small dataset; default 0; may change on resume)",
    )
    g.add_argument(
        "--add-downscaled",
        metavar="F,F",
        help="HR-only datasets: add copies of each training image downscaled by these factors "
        "with the MATLAB bicubic, e.g. 0.75,0.5 (sharper, cleaner detail; may change on resume)",
    )
    g.add_argument(
        "--downscaled-only",
        action=argparse.BooleanOptionalAction,
        help="train on the --add-downscaled copies alone, without the original photos (cleaner "
        "HR: a GAN learns the originals' sensor and JPEG noise as texture; may change on resume)",
    )
    g.add_argument("--data-dir", help="where DIV2K is downloaded (no DATASET given)")
    g.add_argument("--yes", action="store_true", help="download without asking")
    g = p.add_argument_group("GAN stage")
    g.add_argument("--vgg-weights", metavar="FILE", help="torchvision VGG19 state dict (.pth)")
    g.add_argument("--vgg16-file", metavar="FILE", help="VGG16 conv weights pickle (shared/weights format)")
    g.add_argument(
        "--vgg-layer",
        help="relu5_4 (VGG19), relu5_3 or relu4_3 (VGG16), ..., or a weighted sum such as "
        "relu2_2:0.1,relu3_3,relu4_3,relu5_3 (a missing weight is 1)",
    )
    g.add_argument("--allow-download", action="store_true", help="download torchvision's VGG19 if not cached")
    g.add_argument("--content-weight", type=float)
    g.add_argument("--adv-weight", type=float)
    g.add_argument("--pixel-weight", type=float)
    g.add_argument("--d-lr", type=float)
    g.add_argument(
        "--grid-guard",
        action="store_true",
        help="hide each output's fixed scale-pixel pattern from the VGG and adversarial losses "
        "(their gradients then cannot grow the sub-pixel grid artefact)",
    )
    g.add_argument(
        "--grid-weight",
        type=float,
        metavar="W",
        help="weight of an L1 loss on the output's fixed scale-pixel pattern against the original's "
        f"(pulls the sub-pixel grid artefact back; default {d.grid_weight}, off)",
    )
    g.add_argument(
        "--consistency-weight",
        type=float,
        metavar="W",
        help="weight of an L1 loss between the output downscaled with the MATLAB bicubic and the "
        f"LR input (holds colours and coarse structure; default {d.consistency_weight}, off)",
    )
    g.add_argument(
        "--jitter",
        type=int,
        metavar="N",
        help="the VGG and adversarial losses see a window N pixels smaller than each output crop, "
        "at a random offset each step, so that their pooling grids do not stay lined up with the "
        f"upscaler's sub-pixel phases (default {d.jitter}, off)",
    )
    g.add_argument(
        "--artefact-weight",
        type=float,
        metavar="W",
        help="weight of an L1 loss where the output's error is busy and larger than the EMA "
        "model's (LDL, Liang et al. 2022: damps GAN artefacts such as hatching on smooth areas; "
        f"needs --ema; default {d.artefact_weight}, off)",
    )
    g.add_argument(
        "--d-warmup",
        type=int,
        metavar="N",
        help="train only the discriminator for the first N steps with a new one (at the start, "
        f"and on resume from a state saved without it; default {d.d_warmup})",
    )
    return p


_NOT_CONFIG = {"resume", "quiet", "data_dir", "yes", "export_now", "export_weights", "config"}


def read_recipe(path: str) -> dict:
    """A recipe file: a JSON object whose keys are option names (``n_resblocks`` or
    ``n-resblocks``). Paths in it are relative to the folder sr-train runs in."""
    import json

    try:
        values = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--config {path}: not a JSON recipe ({exc})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path}: a recipe is a JSON object of options")
    known = {f.name for f in fields(TrainConfig)} - {"version", "extra"}
    recipe = {str(k).replace("-", "_"): v for k, v in values.items() if not str(k).startswith("_")}
    unknown = sorted(set(recipe) - known)
    if unknown:
        raise ConfigError(f"--config {path}: unknown option(s) {', '.join(unknown)}")
    return recipe


def config_from_args(ns: argparse.Namespace) -> tuple[TrainConfig, bool, list[str]]:
    """(config, resume?, notes). On resume the saved config wins except for RESUMABLE_OVERRIDES."""
    given = {k: v for k, v in vars(ns).items() if k not in _NOT_CONFIG}
    recipes = getattr(ns, "config", None) or []
    if recipes:
        if getattr(ns, "resume", None):
            raise ConfigError("--config starts a new run; --resume continues one with its own config.json")
        if len(recipes) > 1:
            raise ConfigError("several --config make a chain: see chain_from_args")
        given = {**read_recipe(recipes[0]), **given}
    notes: list[str] = []
    _expand_paths(given)
    resume_dir = getattr(ns, "resume", None)
    if resume_dir:
        cfg_path = Path(resume_dir) / "config.json"
        if not cfg_path.is_file():
            raise ConfigError(f"--resume {resume_dir}: no config.json there (not a run folder?)")
        cfg = TrainConfig.load(cfg_path)
        for key, value in given.items():
            if key in RESUMABLE_OVERRIDES:
                setattr(cfg, key, value)
            elif key != "run_dir" and getattr(cfg, key, value) != value:
                notes.append(
                    f"--{key.replace('_', '-')} ignored on resume (the run uses {getattr(cfg, key)!r})"
                )
        cfg.run_dir = str(resume_dir)
        if "minutes" in given and "iters" not in given:
            pass  # keep the run's planned iterations
        return cfg, True, notes
    if "minutes" in given and "iters" not in given:
        given["iters"] = 0
    cfg = TrainConfig(**given)
    return cfg, False, notes


def _expand_paths(given: dict) -> None:
    for key in ("dataset", "init_from", "export", "vgg_weights", "vgg16_file"):
        if given.get(key):  # an empty value stays empty (not ".")
            given[key] = str(Path(given[key]).expanduser())


def chain_from_args(ns: argparse.Namespace) -> list:
    """The stages of ``--config A --config B ...``: each recipe with the command line's options
    over it (``--init-from`` only for the first stage; each stage keeps its own run folder and
    export)."""
    from .chain import Stage

    given = {k: v for k, v in vars(ns).items() if k not in _NOT_CONFIG}
    if getattr(ns, "resume", None):
        raise ConfigError("--config starts a new run; --resume continues one with its own config.json")
    for key in ("run_dir", "export"):
        if key in given:
            raise ConfigError(
                f"--{key.replace('_', '-')} cannot be given to a chain of recipes: each stage has its own"
            )
    stages = []
    for i, path in enumerate(ns.config):
        values = {**read_recipe(path), **given}
        if i > 0:
            values.pop("init_from", None)  # replaced by the model of the stage before
        _expand_paths(values)
        if not values.get("dataset"):
            raise ConfigError(f"{path}: a chain needs a dataset for each stage (give DATASET)")
        if "minutes" in values and "iters" not in values:
            values["iters"] = 0
        stages.append(Stage(path, TrainConfig(**values)))
    return stages


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    quiet = getattr(ns, "quiet", False)
    echo = None if quiet else (lambda line: print(line, flush=True))
    try:
        if getattr(ns, "export_weights", "auto") != "auto" and not getattr(ns, "export_now", False):
            raise ConfigError(
                "--export-weights goes with --export-now (a run's final export is EMA when it keeps one)"
            )
        if getattr(ns, "export_now", False):
            if not getattr(ns, "resume", None):
                raise ConfigError("--export-now needs --resume RUN_DIR (the run to export)")
            from .export import export_checkpoint

            try:
                written = export_checkpoint(ns.resume, getattr(ns, "export", None), ns.export_weights)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            print(f"model written to {written}")
            return EXIT_OK
        if len(getattr(ns, "config", None) or []) > 1:
            from .chain import run_chain
            from .export import export_path

            stages = chain_from_args(ns)
            run_chain(stages, RESUMABLE_OVERRIDES, echo=echo)
            if not quiet:
                print(f"model written to {export_path(stages[-1].cfg)}")
            return EXIT_OK
        cfg, resume, notes = config_from_args(ns)
        for note in notes:
            print(f"sr-train: {note}", file=sys.stderr)
        if not cfg.dataset and not resume:
            from .div2k import prepare_div2k

            cfg.dataset = str(
                prepare_div2k(getattr(ns, "data_dir", None), cfg.scale, assume_yes=getattr(ns, "yes", False))
            )
        cfg.validate()
        if cfg.stage == "both":
            from .stages import run_both

            run_both(cfg, resume=resume, echo=echo)
        else:
            from .checkpoint import CHECKPOINT_NAME
            from .loop import train

            if not resume and (Path(cfg.run_dir) / CHECKPOINT_NAME).exists():
                raise ConfigError(
                    f"{cfg.run_dir} already holds a checkpoint: continue it with --resume {cfg.run_dir}, "
                    "or choose another --run-dir"
                )
            result = train(cfg, resume=resume, echo=echo)
            if result.export_path and not quiet:
                print(f"model written to {result.export_path}")
        return EXIT_OK
    except KeyboardInterrupt:
        print("sr-train: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - mapped to exit codes, one clear message each
        return _report(exc)


def _report(exc: Exception) -> int:
    from .data import DatasetError
    from .init_weights import InitError
    from .loop import Interrupted, TrainingFailed

    usage_errors: tuple[type[Exception], ...] = (ConfigError, DatasetError, InitError)
    try:
        from .div2k import DownloadError

        usage_errors += (DownloadError,)
    except ImportError:
        pass
    try:
        from .losses import PerceptualSetupError

        usage_errors += (PerceptualSetupError,)
    except ImportError:
        pass
    if isinstance(exc, Interrupted):
        print(f"sr-train: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, usage_errors):
        print(f"sr-train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, TrainingFailed):
        print(f"sr-train: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    raise exc


if __name__ == "__main__":
    sys.exit(main())
