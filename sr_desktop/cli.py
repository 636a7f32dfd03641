"""Command line: ``sr-desktop [PATH...]`` opens the app; ``upscale``, ``models`` and ``eval``
run the same jobs headless. Exit codes: 0 ok, 1 some files failed, 2 bad usage, 130 cancelled."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from . import __version__

COMMANDS = ("upscale", "models", "eval", "train")
DEFAULT_MODEL = "edsr-x4"


class UsageError(Exception):
    pass


def _add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--tile", default="auto", help="auto (from free memory), none, or a size in pixels")
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average the network's outputs over the 8 flips/rotations "
        "of each tile (8x slower, slightly more faithful)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sr-desktop", description="Upscale images with super-resolution networks."
    )
    parser.add_argument("--version", action="version", version=f"sr-desktop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser("upscale", help="upscale files and folders")
    up.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    up.add_argument("-o", "--output", default="results", help="output folder (default: ./results)")
    up.add_argument("--model", default=None, help=f"model name or file (default: {DEFAULT_MODEL})")
    up.add_argument("--outscale", type=float, default=None, help="final scale factor (default: the model's)")
    up.add_argument("--recursive", action="store_true", help="descend into sub-folders, mirroring them")
    up.add_argument("--format", default="same", choices=["same", "png", "jpg", "webp", "tiff"])
    up.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (default 95)")
    up.add_argument("--name", default="{stem}", help="output name template: {stem}, {scale}, {model}")
    up.add_argument("--on-exists", default="skip", choices=["skip", "overwrite", "rename"])
    up.add_argument("--report", default=None, metavar="FILE.json", help="write a JSON report per input")
    up.add_argument(
        "--max-pixels", type=int, default=None,
        help="largest input image in pixels (default: Pillow's limit, about 179 MP); 0 = no limit",
    )  # fmt: skip
    up.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    _add_device_args(up)

    models = sub.add_parser("models", help="list bundled and user models with their cards")
    models.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", help="PSNR/SSIM on Y of a model on a folder of HR images")
    ev.add_argument("--model", required=True, help="model name or file")
    ev.add_argument("--hr", required=True, type=Path, help="folder of ground-truth images")
    ev.add_argument(
        "--lr", type=Path, default=None, help="folder of LR images (default: MATLAB bicubic of HR)"
    )
    ev.add_argument("--scale", required=True, type=int)
    ev.add_argument("--json", action="store_true")
    _add_device_args(ev)
    return parser


def _load(name: str | None):
    """The named model; without a name edsr-x4, or else the first installed model (said so)."""
    from .core.modelfile import load_model
    from .core.store import list_models, resolve_model

    if name is None:
        installed = list_models()
        if installed and DEFAULT_MODEL not in {e.name for e in installed}:
            name = installed[0].name
            print(
                f"sr-desktop: {DEFAULT_MODEL} is not installed; using {name} (choose with --model)",
                file=sys.stderr,
            )
    entry = resolve_model(name or DEFAULT_MODEL)
    return load_model(entry.path, name=entry.name)


class _Printer:
    """One status line on a terminal, plain lines otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def progress(self, event) -> None:
        if self.quiet or not self.tty or time.monotonic() - self.last < 0.2:
            return
        self.last = time.monotonic()
        eta = f", ETA {int(event.eta_s) // 60}:{int(event.eta_s) % 60:02d}" if event.eta_s is not None else ""
        sys.stderr.write(f"\r{event.fraction * 100:5.1f}% {event.message[:40]:40s}{eta}   ")
        sys.stderr.flush()

    def file(self, result) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\r" + " " * 70 + "\r")
        if result.status == "failed":
            print(f"{result.input}: {result.error}", file=sys.stderr)
        elif not self.quiet:
            verb = "skipped (exists)" if result.status == "skipped" else f"-> {result.output}"
            print(f"{result.input} {verb}", file=sys.stderr)


def cmd_upscale(args: argparse.Namespace) -> int:
    from .core import batch
    from .core.engine import Upscaler
    from .core.progress import Cancelled, Progress

    options = batch.BatchOptions(
        outdir=Path(args.output),
        outscale=args.outscale,
        recursive=args.recursive,
        format=args.format,
        quality=args.quality,
        name_template=args.name,
        on_exists=args.on_exists,
    )
    if args.max_pixels is not None:
        options.max_pixels = args.max_pixels or None
    options.validate()
    model = _load(args.model)
    upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile, tta=args.tta)
    printer = _Printer(args.quiet)
    progress = Progress(printer.progress)
    previous = signal.signal(signal.SIGINT, lambda *_: progress.cancel())
    try:
        results = batch.run_batch(args.paths, upscaler, options, progress, model.name, printer.file)
        code = batch.exit_code(results)
    except Cancelled as exc:
        results = getattr(exc, "results", [])
        print("cancelled; finished files are kept, nothing partial was written", file=sys.stderr)
        code = 130
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.report:
        batch.write_report(results, args.report)
    if not args.quiet:
        counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
        print(
            f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed", file=sys.stderr
        )
    return code


def cmd_models(args: argparse.Namespace) -> int:
    from .core.modelfile import ModelFileError, load_model
    from .core.store import bundled_model_dir, list_models, user_model_dir

    rows = []
    for entry in list_models():
        try:
            info = load_model(entry.path, name=entry.name).summary()
        except ModelFileError as exc:
            info = {"name": entry.name, "path": str(entry.path), "error": str(exc)}
        info["bundled"] = entry.bundled
        rows.append(info)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(
            f"No models installed: the bundled folder {bundled_model_dir()} is empty and so is {user_model_dir()}."
        )
        print("Train one with sr-train, or pass a model file to --model.")
        return 0
    for row in rows:
        kind = "bundled" if row["bundled"] else "user"
        if "error" in row:
            print(f"{row['name']:16s} {kind:8s} UNUSABLE: {row['error']}")
            continue
        card = row["card"]
        psnr = card.get("psnr_set5") or card.get("val_psnr") or "-"
        print(
            f"{row['name']:16s} {kind:8s} {row['arch']:9s} x{row['scale']}  {row['parameters'] / 1e6:5.2f} M params  PSNR {psnr}"
        )
        if card.get("description"):
            print(f"{'':26s}{card['description']}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from .core.engine import Upscaler
    from .core.evaluate import evaluate
    from .core.imageio import from_float, to_float

    model = _load(args.model)
    if model.scale != args.scale:
        raise UsageError(f"model {model.name} is x{model.scale}, but --scale {args.scale} was given")
    upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile, tta=args.tta)

    def upscale(lr: np.ndarray) -> np.ndarray:
        return from_float(upscaler.upscale_array(to_float(lr)), 8)

    report = evaluate(upscale, args.hr, args.scale, args.lr)
    if args.json:
        data = report.to_dict()
        data["model"] = model.name
        data["tta"] = args.tta
        print(json.dumps(data, indent=2))
        return 0
    print(f"{'image':16s} {'PSNR':>8s} {'SSIM':>7s}   {'bicubic':>8s} {'SSIM':>7s}   {'detail':>6s}")
    for s in report.images:
        print(
            f"{s.name:16s} {s.psnr:8.2f} {s.ssim:7.4f}   {s.bicubic_psnr:8.2f} {s.bicubic_ssim:7.4f}"
            f"   {s.detail:6.0%}"
        )
    print(
        f"{'mean':16s} {report.mean_psnr:8.2f} {report.mean_ssim:7.4f}   "
        f"{report.mean_bicubic_psnr:8.2f} {report.mean_bicubic_ssim:7.4f}   {report.mean_detail:6.0%}"
    )
    tta = ", 8-way test-time augmentation" if args.tta else ""
    print(f"(Y channel, {args.scale} pixels shaved; model {model.name} x{model.scale}{tta})")
    print(
        f"detail: the output's mean luma gradient over the original's; {args.scale}-pixel grid in the "
        f"outputs: {report.grid:.2%} of their fine detail (chance level {report.grid_chance:.2%})"
    )
    return 0


def _gui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="sr-desktop",
        description="Open the sr-desktop window. Headless commands: "
        + ", ".join(COMMANDS)
        + " (see COMMAND --help).",
    )
    parser.add_argument("--version", action="version", version=f"sr-desktop {__version__}")
    parser.add_argument("--self-test", action="store_true", help="open the main window, check it, exit 0")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to queue")
    args = parser.parse_args(argv)
    from .gui.app import run_app

    return run_app(args.paths, self_test=args.self_test)


def training_command(args: list[str]) -> list[str]:
    """The command line that runs ``sr-train ARGS`` with this same program, from source or from
    the bundle (the app's wizard starts training this way, in a separate process)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "train", *args]
    return [sys.executable, "-m", "sr_desktop", "train", *args]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":  # same options as sr-train
        from training.cli import main as train_main

        return train_main(argv[1:])
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        return _gui(argv)
    args = build_parser().parse_args(argv)
    from .core.batch import BatchSetupError
    from .core.engine import EngineSetupError
    from .core.modelfile import ModelFileError
    from .core.store import NoModelError

    handlers = {"upscale": cmd_upscale, "models": cmd_models, "eval": cmd_eval}
    try:
        return handlers[args.command](args)
    except (UsageError, BatchSetupError, EngineSetupError, ModelFileError, NoModelError, ValueError) as exc:
        print(f"sr-desktop {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
