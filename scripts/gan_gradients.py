"""How hard each loss of a GAN run pulls on the generator's output, from the run's checkpoint:

    .venv/bin/python scripts/gan_gradients.py runs/srgan-x4 [--batches 2] [--json]

For each weighted generator loss (VGG content, adversarial, L1, grid loss) it prints the norm of
its gradient with respect to the output, averaged over training batches drawn as the run draws
them, and the share of that gradient that is one fixed scale-pixel pattern (the part that grows
the sub-pixel grid). It also prints the discriminator's mean probability of "real" for the
originals and for the outputs: near 0.5 for both means the discriminator cannot yet tell them
apart, so its gradient carries little about texture. Nothing is trained or written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def measure(run_dir: Path, batches: int = 2, seed: int = 1) -> dict[str, dict[str, float]]:
    from sr_desktop.core.archs import get_architecture
    from training.checkpoint import load_checkpoint
    from training.config import TrainConfig
    from training.data import load_cache, scan_dataset, split_samples
    from training.distributed import DistInfo
    from training.events import EventLog
    from training.gan import GanStage
    from training.loop import freeze_parameters, make_sampler

    cfg = TrainConfig.load(run_dir / "config.json")
    if cfg.stage != "gan":
        raise SystemExit(f"{run_dir}: a {cfg.stage} run; this measures GAN runs")
    state = load_checkpoint(run_dir / "checkpoint.pt")
    if "disc" not in state["stage"]:
        raise SystemExit(f"{run_dir}: its checkpoint has no discriminator (a portable state)")
    layout = scan_dataset(cfg.dataset, cfg.scale, min_hr_side=cfg.hr_patch)
    train_samples, _ = split_samples(layout, cfg.val_fraction, seed=cfg.seed)
    images = load_cache(train_samples, cfg.scale, cell=cfg.hr_patch, root=layout.root)
    sampler = make_sampler(cfg, images, seed=seed)
    model = get_architecture(cfg.arch).build(cfg.model_config())
    model.load_state_dict(state["model"])
    freeze_parameters(model, cfg.freeze)  # as in training: the optimizer's groups must match
    ema_model = None
    if cfg.artefact_weight > 0:  # the artefact loss compares with the run's EMA model
        ema_model = get_architecture(cfg.arch).build(cfg.model_config()).eval()
        ema_model.load_state_dict(state["ema"])
    stage = GanStage(cfg, model, torch.device("cpu"), DistInfo(), EventLog(None), ema_model=ema_model)
    stage.load_state_dict(state["stage"])
    total: dict[str, dict[str, float]] = {}
    for i in range(batches):
        lr, hr = sampler.batch_at(i)
        for name, figures in stage.gradient_sizes(lr, hr).items():
            for key, value in figures.items():
                total.setdefault(name, {}).setdefault(key, 0.0)
                total[name][key] += value / batches
    total["discriminator"]["iteration"] = int(state["iteration"])
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--batches", type=int, default=2, help="training batches to average over")
    parser.add_argument("--seed", type=int, default=1, help="which batches (not the run's own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = measure(args.run_dir, args.batches, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    d = report.pop("discriminator")
    print(
        f"{args.run_dir} at iteration {d['iteration']}: the discriminator says real with "
        f"p = {d['p_real_original']:.3f} for originals, {d['p_real_output']:.3f} for outputs"
    )
    print(f"{'loss':10s} {'gradient norm':>14s} {'grid share':>11s}")
    for name, f in report.items():
        print(f"{name:10s} {f['norm']:14.3e} {f['grid_share']:11.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
