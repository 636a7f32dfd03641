"""Training speed on this machine: one EDSR-baseline x2 iteration (forward, backward, Adam) at
batch 16, LR patch 48, in fp32 and in bf16 autocast, channels-last as the trainer runs on the CPU,
and the achieved rate as a share of the fp32 3x3-conv limit, measured in the same run as
bench_inference.py measures it (one 64->64 conv on a 256x256 map).

With ``--stage gan``: one step of the trainer's own GAN stage (training.gan.GanStage) as the
srgan-x4 recipe runs it: EDSR x4 generator, batch 8, LR patch 24, VGG16 to relu5_3 (random
weights: the speed does not depend on them) and the SRGAN discriminator. Its multiply-adds:
generator 3x its forward; VGG 2x on the output (forward, input gradient) + 1x on the target;
discriminator 2x on the fakes (generator step) + 3x on real and fake (its own step).

    python benchmarks/bench_training.py [--stage pretrain|gan] [--iters 5] [--limit-gflops G]

Stop other training first: the figures are only meaningful on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_inference import conv_macs, conv_throughput  # noqa: E402  (this folder is on sys.path when run as a script)

from sr_desktop.core.archs import get_architecture  # noqa: E402
from sr_desktop.core.cpu_memory import retain_freed_memory  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--limit-gflops", type=float, help="fp32 conv limit (default: measured now)")
    p.add_argument("--stage", choices=("pretrain", "gan"), default="pretrain")
    p.add_argument(
        "--precision",
        choices=("both", "fp32", "bf16"),
        default="both",
        help="bf16 autocast is slow where the CPU has no native bf16 (AVX2 only): fp32 there",
    )
    args = p.parse_args()
    retain_freed_memory()
    limit = args.limit_gflops or conv_throughput(torch.device("cpu"), torch.float32, 5)
    print(f"fp32 conv 64->64 3x3 on 256x256: {limit:.1f} GFLOP/s")
    if args.stage == "gan":
        return bench_gan(args.iters, limit, args.precision)
    arch = get_architecture("edsr")
    torch.manual_seed(0)
    model = arch.build(arch.config_from_dict({"scale": 2})).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    lr = torch.rand(16, 3, 48, 48).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(16, 3, 96, 96)
    # forward + backward (input and weight gradients) = 3x the forward multiply-adds, 2 FLOPs each
    gflop = 3 * 2 * conv_macs(model, lr) / 1e9
    for mode in ("fp32", "bf16"):
        if args.precision not in ("both", mode):
            continue

        def step(mode: str = mode) -> None:
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else nullcontext()
            with ctx:
                sr = model(lr)
            loss = torch.nn.functional.l1_loss(sr.float(), hr)
            opt.zero_grad()
            loss.backward()
            opt.step()

        report(mode, median_step_s(step, args.iters), gflop, limit)
    return 0


def median_step_s(step, iters: int) -> float:
    """Median wall time of ``iters`` calls of ``step`` after one warm-up call."""
    times = []
    for _ in range(iters + 1):  # the first is warm-up
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def report(label: str, s: float, gflop: float, limit: float) -> None:
    rate = gflop / s
    print(
        f"{label}: {s:.2f} s/iteration ({1 / s:.2f} it/s), {rate:.0f} GFLOP/s "
        f"= {rate / limit:.0%} of the fp32 conv limit ({gflop:.0f} GFLOP per iteration)"
    )


def _macs(module: torch.nn.Module, x: torch.Tensor) -> int:
    """conv_macs plus the Linear layers (the discriminator's dense head), per forward."""
    linear = sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))
    return conv_macs(module, x) + linear * x.shape[0]


def bench_gan(iters: int, limit: float, precision: str) -> int:
    import tempfile

    from torchvision.models import vgg16

    from training.config import TrainConfig
    from training.distributed import DistInfo
    from training.events import EventLog
    from training.gan import GanStage

    arch = get_architecture("edsr")
    torch.manual_seed(0)
    model = arch.build(arch.config_from_dict({"scale": 4})).to(memory_format=torch.channels_last)
    lr = torch.rand(8, 3, 24, 24).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(8, 3, 96, 96)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "vgg16.pth"
        torch.save(
            {f"features.{k}": v for k, v in vgg16(weights=None).features.state_dict().items()}, weights
        )
        for mode in ("off", "bf16"):
            if precision not in ("both", "fp32" if mode == "off" else mode):
                continue
            cfg = TrainConfig(
                stage="gan", scale=4, patch=24, batch=8, vgg_weights=str(weights), vgg_layer="relu5_3",
                init_from="random", amp=mode, device="cpu",
            )  # fmt: skip
            stage = GanStage(cfg, model, torch.device("cpu"), DistInfo(), EventLog(None))
            macs = (
                3 * conv_macs(model, lr)
                + 3 * _macs(stage.perceptual.vgg, hr)
                + 2 * _macs(stage.disc_raw, hr)
                + 3 * _macs(stage.disc_raw, torch.cat([hr, hr]))
            )
            s = median_step_s(lambda stage=stage: stage.step(lr, hr, check=lambda loss: None), iters)
            report(f"gan {'fp32' if mode == 'off' else mode}", s, 2 * macs / 1e9, limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
