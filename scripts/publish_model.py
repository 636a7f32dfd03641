"""Publish a trained model as a bundled one: measure it on Set5 (the evaluation protocol of
DESIGN.md), write the figures into its card, and copy it to resources/models/NAME.safetensors.

    .venv/bin/python scripts/publish_model.py MODEL_FILE NAME [--set5 ../shared/datasets/Set5]
        [--description TEXT] [--card KEY=VALUE ...] [--force]

Refuses to replace a bundled model that measured better, unless --force. ``--card`` sets a card
field the run could not know, e.g. ``--card iterations="18100 (15000, then 3100 from those
weights)"`` for a run started from another model's weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sr_desktop.core.engine import Upscaler
from sr_desktop.core.evaluate import evaluate
from sr_desktop.core.imageio import from_float, to_float
from sr_desktop.core.modelfile import load_model, save_model
from sr_desktop.core.store import bundled_model_dir


def set5_psnr(path: Path, set5: Path) -> tuple[float, float, float]:
    model = load_model(path)
    up = Upscaler(model, device="cpu", precision="fp32")
    folder = set5 / f"x{model.scale}"
    report = evaluate(
        lambda lr: from_float(up.upscale_array(to_float(lr)), 8), folder / "HR", model.scale, folder / "LR"
    )
    return report.mean_psnr, report.mean_ssim, report.mean_bicubic_psnr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("name")
    parser.add_argument(
        "--set5", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/Set5"
    )
    parser.add_argument("--description", default=None)
    parser.add_argument(
        "--card", action="append", default=[], metavar="KEY=VALUE", help="set a card field (repeatable)"
    )
    parser.add_argument(
        "--dest", type=Path, default=None, help="folder to publish to (default: the bundled models)"
    )
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    fields = {}
    for item in args.card:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--card takes KEY=VALUE, not {item!r}")
        fields[key.strip()] = value

    psnr, ssim, bicubic = set5_psnr(args.model, args.set5)
    print(f"{args.model}: Set5 PSNR {psnr:.2f} dB, SSIM {ssim:.4f} (bicubic {bicubic:.2f} dB)")
    target = (args.dest or bundled_model_dir()) / f"{args.name}.safetensors"
    if target.exists() and not args.force:
        old = float(load_model(target).card.get("psnr_set5", "0") or 0)
        if old >= psnr:
            print(f"kept the bundled {target.name}: it measured {old:.2f} dB", file=sys.stderr)
            return 1
    model = load_model(args.model)
    card = dict(model.card)
    card.update(
        name=args.name,
        psnr_set5=f"{psnr:.2f}",
        ssim_set5=f"{ssim:.4f}",
        bicubic_psnr_set5=f"{bicubic:.2f}",
        eval_protocol="Set5, Y (BT.601), shave = scale, MATLAB bicubic LR, 8-bit output (sr-desktop eval)",
    )
    if args.description:
        card["description"] = args.description
    card.update(fields)
    save_model(target, model.module, model.arch.name, model.config, card)
    print(f"published {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
