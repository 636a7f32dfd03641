"""One prepared, time-limited GPU session for the bundled models (the `device` tool's machine:
one command of at most 10 minutes, 15 minutes of device time in all, files back only from
$OUT: at most 8, 16 MiB each).

Here, before the call (the device gets a copy of the working tree, at most 64 MiB, and nothing
from ../shared):

    python3 scripts/gpu_session.py prepare        # photos-hr and Set5 into .gpu-data/ (git-ignored)
    mv training-state /tmp/training-state         # 71 MB of CPU run states would not fit; put it back after

On the device (`run` with carry [".gpu-data"], timeout_s 600):

    python3 scripts/gpu_session.py train --minutes 7 --out $OUT

`train` first checks the CUDA path of the app's engine (fp16, bf16 and fp32 on the GPU against
fp32 on the CPU, edsr-x4 on a Set5 image, whole and tiled), then fine-tunes each bundled EDSR
model from its current weights, all at once on the one GPU, for ``--minutes`` each (the cosine
schedule is fitted to the measured speed; bf16 autocast; batch 32). Each run's exported model
and event log come back in $OUT with ``summary.json`` (the CUDA check, each run's last
validation); publish a model here with ``scripts/publish_model.py``, which measures it on Set5
and refuses one that is not better than the bundled file.

Runs need no installed package: the repository root is put on ``sys.path`` (torch, numpy,
pillow, safetensors, opencv and tifffile are on the device image; PySide6 is not needed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".gpu-data"
JOBS = ("edsr-x2", "edsr-x3", "edsr-x4")
TREE_LIMIT = 64 * 2**20


def prepare(shared: Path) -> int:
    """Copy the training photos and Set5 into .gpu-data/ and make git ignore it."""
    for name in ("photos-hr", "Set5"):
        src = shared / "datasets" / name
        if not src.is_dir():
            print(f"{src}: not found", file=sys.stderr)
            return 2
        shutil.copytree(src, DATA / name, dirs_exist_ok=True)
    exclude = REPO / ".git" / "info" / "exclude"
    if exclude.parent.is_dir() and "/.gpu-data/" not in exclude.read_text(errors="replace").split():
        with exclude.open("a") as f:
            f.write("/.gpu-data/\n")
    data = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    tree = sum((REPO / p.decode()).stat().st_size for p in tracked if p and (REPO / p.decode()).is_file())
    print(f".gpu-data: {data / 1e6:.1f} MB; tracked files now: {tree / 1e6:.1f} MB")
    if data + tree > TREE_LIMIT:
        print(
            f"together {(data + tree) / 2**20:.1f} MiB: over the device's 64 MiB; move training-state/ "
            "out of the tree for the call (mv training-state /tmp/) and back afterwards"
        )
    return 0


def cuda_check(
    data: Path, device: str = "cuda", precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")
) -> dict:
    """The app's engine on the GPU: each precision against fp32 on the CPU, whole and tiled."""
    import numpy as np
    import torch
    from PIL import Image

    from sr_desktop.core.engine import Upscaler
    from sr_desktop.core.modelfile import load_model

    if device.startswith("cuda") and not torch.cuda.is_available():
        return {"cuda": False}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    lr_files = sorted((data / "Set5" / "x4" / "LR").glob("*.png"))
    rgb = np.asarray(Image.open(lr_files[0]).convert("RGB"), dtype=np.float32) / 255.0
    model = load_model(REPO / "resources" / "models" / "edsr-x4.safetensors")
    reference = Upscaler(model, device="cpu", precision="fp32", tile="none").upscale_array(rgb)
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    result: dict = {"device": device, "name": name, "image": lr_files[0].name}
    for precision in precisions:
        for tile in ("none", 64):
            up = Upscaler(model, device=device, precision=precision, tile=tile)
            up.upscale_array(rgb)  # warm-up
            sync()
            t = time.perf_counter()
            out = up.upscale_array(rgb)
            sync()
            result[f"{precision}_tile_{tile}"] = {
                "max_diff_255": float(np.abs(out - reference).max() * 255),
                "mean_diff_255": float(np.abs(out - reference).mean() * 255),
                "seconds": round(time.perf_counter() - t, 4),
            }
    return result


def train_command(
    name: str, minutes: float, data: Path, run_dir: Path, batch: int, device: str, patch: int | None
) -> list[str]:
    return [
        sys.executable, "-m", "training", str(data / "photos-hr"),
        "--config", str(REPO / "recipes" / "gpu" / f"{name}.json"),
        "--init-from", str(REPO / "resources" / "models" / f"{name}.safetensors"),
        "--iters", "0", "--minutes", str(minutes), "--lr", "1e-4", "--warmup", "200",
        "--batch", str(batch), "--device", device, "--workers", "4",
        "--val-every", "2000", "--ckpt-every", "2000",
        "--run-dir", str(run_dir), "--export", str(run_dir / f"{name}.safetensors"), "--quiet",
    ] + (["--patch", str(patch)] if patch else [])  # fmt: skip


def last_val(events: Path) -> dict:
    vals = [json.loads(line) for line in events.read_text().splitlines() if '"type": "val"' in line]
    if not vals:
        return {}
    v = vals[-1]
    return {k: v.get(k) for k in ("iteration", "psnr", "bicubic_psnr", "detail", "grid")}


def train(args: argparse.Namespace) -> int:
    out = Path(args.out or os.environ.get("OUT", "gpu-out"))
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs)
    summary: dict = {"minutes": args.minutes, "jobs": {}}
    if not args.skip_check:
        try:
            summary["cuda_check"] = cuda_check(args.data, args.device, tuple(args.check_precisions))
        except Exception as exc:  # the training below is still worth its minutes
            summary["cuda_check"] = {"error": repr(exc)}
        print(json.dumps(summary["cuda_check"], indent=1), flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = {}
    for name in args.jobs:
        run_dir = runs / name
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = train_command(name, args.minutes, args.data, run_dir, args.batch, args.device, args.patch)
        procs[name] = (subprocess.Popen(cmd, cwd=REPO, env=env), run_dir)
    # a hard limit behind --minutes: validation and export get two more minutes, then SIGTERM
    deadline = time.monotonic() + args.minutes * 60 + 120
    for name, (proc, run_dir) in procs.items():
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.terminate()
            rc = proc.wait()
        job: dict = {"rc": rc}
        events = run_dir / "events.jsonl"
        if events.is_file():
            shutil.copyfile(events, out / f"{name}.events.jsonl")
            job["val"] = last_val(events)
        model = run_dir / f"{name}.safetensors"
        if model.is_file():
            shutil.copyfile(model, out / f"{name}.safetensors")
            job["model"] = f"{name}.safetensors"
        summary["jobs"][name] = job
        print(name, json.dumps(job), flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(j["rc"] == 0 for j in summary["jobs"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="copy the data the device needs into .gpu-data/")
    prep.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    tr = sub.add_parser("train", help="on the device: CUDA check, then the fine-tunes")
    tr.add_argument("--minutes", type=float, default=7.0, help="training time per model (all run at once)")
    tr.add_argument("--out", help="where results go (default $OUT)")
    tr.add_argument("--data", type=Path, default=DATA)
    tr.add_argument("--runs", default="/tmp/gpu-runs", help="run folders (checkpoints stay here)")
    tr.add_argument("--jobs", nargs="+", default=list(JOBS), choices=JOBS)
    tr.add_argument("--batch", type=int, default=32)
    tr.add_argument("--device", default="cuda")
    tr.add_argument("--patch", type=int, help="LR patch side (default: the recipe's)")
    tr.add_argument("--skip-check", action="store_true", help="no CUDA check first")
    tr.add_argument("--check-precisions", nargs="+", default=["fp32", "fp16", "bf16"])
    args = p.parse_args(argv)
    if args.command == "prepare":
        return prepare(args.shared)
    sys.path.insert(0, str(REPO))
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
