"""Training speed on this machine: one EDSR-baseline x2 iteration (forward, backward, Adam) at
batch 16, LR patch 48, in fp32 and in bf16 autocast, channels-last as the trainer runs on the CPU,
and the achieved rate as a share of the fp32 3x3-conv limit, measured in the same run as
bench_inference.py measures it (one 64->64 conv on a 256x256 map).

    python benchmarks/bench_training.py [--iters 5] [--limit-gflops G]

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
    args = p.parse_args()
    retain_freed_memory()
    limit = args.limit_gflops or conv_throughput(torch.device("cpu"), torch.float32, 5)
    print(f"fp32 conv 64->64 3x3 on 256x256: {limit:.1f} GFLOP/s")
    arch = get_architecture("edsr")
    torch.manual_seed(0)
    model = arch.build(arch.config_from_dict({"scale": 2})).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    lr = torch.rand(16, 3, 48, 48).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(16, 3, 96, 96)
    # forward + backward (input and weight gradients) = 3x the forward multiply-adds, 2 FLOPs each
    gflop = 3 * 2 * conv_macs(model, lr) / 1e9
    for mode in ("fp32", "bf16"):
        times = []
        for _ in range(args.iters + 1):  # the first is warm-up
            t = time.perf_counter()
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else nullcontext()
            with ctx:
                sr = model(lr)
            loss = torch.nn.functional.l1_loss(sr.float(), hr)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        s = sorted(times[1:])[len(times[1:]) // 2]
        rate = gflop / s
        print(
            f"{mode}: {s:.2f} s/iteration ({1 / s:.2f} it/s), {rate:.0f} GFLOP/s "
            f"= {rate / limit:.0%} of the fp32 conv limit ({gflop:.0f} GFLOP per iteration)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
