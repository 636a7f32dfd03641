"""Inference speed against this machine's own limit.

Reports, for EDSR-baseline x4 (16 blocks, 64 features, random weights) on a 512x512 input:
seconds, achieved GFLOP/s (2 x multiply-adds of every convolution / time), and the measured
throughput of one 64->64 3x3 convolution on a 256x256 map on the same device, as a ratio.
Then the tiled vs whole-image time on a large input.

    python benchmarks/bench_inference.py [--device cpu] [--size 512] [--large 2000 2000] [--tile 512] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn

from sr_desktop.core.archs import EDSR, EDSR_ARCH, EDSRConfig
from sr_desktop.core.descriptor import ModelDescriptor
from sr_desktop.core.engine import Upscaler


def conv_macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of every Conv2d in one forward pass, counted with hooks."""
    total = 0

    def hook(m: nn.Conv2d, inputs, output):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += output.numel() // output.shape[0] * (m.in_channels // m.groups) * k * output.shape[0]

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        module(x[:, :, :32, :32])  # shapes scale linearly with pixels
    for h in handles:
        h.remove()
    return total * (x.shape[-2] * x.shape[-1]) // (32 * 32)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (oneDNN picks kernels on the first call)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def conv_throughput(device: torch.device, dtype: torch.dtype, repeats: int) -> float:
    conv = nn.Conv2d(64, 64, 3, padding=1).to(device, dtype).eval()
    x = torch.rand(1, 64, 256, 256, device=device, dtype=dtype)
    if device.type == "cpu":
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        seconds = timed(lambda: conv(x), repeats)
    macs = 256 * 256 * 64 * 64 * 9
    return 2 * macs / seconds / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--large", type=int, nargs=2, default=(2000, 2000), metavar=("H", "W"))
    parser.add_argument("--tile", type=int, default=512, help="fixed tile size for the tiled run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    torch.manual_seed(0)
    config = EDSRConfig(scale=4)
    model = ModelDescriptor("edsr-baseline-x4", EDSR_ARCH, config, EDSR(config))
    up = Upscaler(model, device=args.device, precision=args.precision, tile="none")
    device, dtype = up.device, up.dtype

    conv_gflops = conv_throughput(device, dtype, args.repeats + 2)
    x = torch.rand(1, 3, args.size, args.size)
    macs = conv_macs(model.module, x)
    seconds = timed(lambda: up.upscale_tensor(x), args.repeats)
    gflops = 2 * macs / seconds / 1e9

    h, w = args.large
    big = torch.rand(1, 3, h, w)
    start = time.perf_counter()
    whole = up.upscale_tensor(big)
    whole_s = time.perf_counter() - start
    results = {"large": f"{h}x{w}", "whole_s": whole_s}
    for label, tile in (("fixed", args.tile), ("auto", "auto")):
        tiled_up = Upscaler(model, device=args.device, precision=args.precision, tile=tile)
        start = time.perf_counter()
        tiled = tiled_up.upscale_tensor(big)
        tiled_s = time.perf_counter() - start
        results[label] = {
            "tile": tiled_up.stats.tile,
            "seconds": tiled_s,
            "overhead": tiled_s / whole_s - 1,
            "max_abs_diff_255": (tiled - whole).abs().max().item() * 255,
        }
        del tiled

    report = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "input": f"{args.size}x{args.size}",
        "seconds": seconds,
        "gmacs": macs / 1e9,
        "gflops": gflops,
        "conv_gflops": conv_gflops,
        "ratio_to_conv": gflops / conv_gflops,
        "tiling": results,
    }
    print(f"device {report['device']} ({report['machine']}), {report['dtype']}")
    print(f"conv 64->64 3x3 on 256x256: {conv_gflops:.1f} GFLOP/s")
    print(
        f"EDSR-baseline x4 on {args.size}x{args.size}: {seconds:.2f} s, {macs / 1e9:.1f} GMAC, "
        f"{gflops:.1f} GFLOP/s = {100 * gflops / conv_gflops:.0f}% of the conv throughput"
    )
    print(f"large input {h}x{w}: whole image {whole_s:.2f} s")
    for label in ("fixed", "auto"):
        r = results[label]
        print(
            f"  tiled ({label}, tile {r['tile']}): {r['seconds']:.2f} s, overhead {100 * r['overhead']:+.1f}%, "
            f"max diff {r['max_abs_diff_255']:.4f}/255"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
