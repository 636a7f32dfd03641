"""torchrun: two CPU ranks (gloo) train, rank 0 logs and checkpoints, both end identical."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from train_helpers import REPO, make_hr_folder

from training.checkpoint import load_checkpoint
from training.events import read_events


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], hashes: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), SR_TRAIN_DEBUG_HASH_DIR=str(hashes), OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "training",
        *args,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_two_ranks_end_with_identical_weights_and_resume(tmp_path: Path) -> None:
    data = make_hr_folder(tmp_path / "ds", n=5)
    run = tmp_path / "run"
    common = [
        "--batch",
        "2",
        "--patch",
        "8",
        "--n-resblocks",
        "1",
        "--n-feats",
        "4",
        "--threads",
        "1",
        "--val-every",
        "0",
        "--log-every",
        "1",
        "--val-crop",
        "32",
        "--quiet",
        "--device",
        "cpu",
    ]
    first = _torchrun(
        [
            str(data),
            "--iters",
            "3",
            "--ckpt-every",
            "3",
            "--run-dir",
            str(run),
            "--export",
            str(tmp_path / "m.safetensors"),
            *common,
        ],
        tmp_path / "h1",
    )
    assert first.returncode == 0, first.stderr[-3000:]
    h0, h1 = ((tmp_path / "h1" / f"rank{r}.txt").read_text() for r in (0, 1))
    assert h0 == h1 and len(h0.strip()) == 64
    starts = [e for e in read_events(run / "events.jsonl") if e["type"] == "start"]
    assert len(starts) == 1 and "2 ranks" in starts[0]["message"]  # only rank 0 logs

    # all ranks resume from rank 0's checkpoint and stay in step
    again = _torchrun(["--resume", str(run), "--iters", "5", *common], tmp_path / "h2")
    assert again.returncode == 0, again.stderr[-3000:]
    r0, r1 = ((tmp_path / "h2" / f"rank{r}.txt").read_text() for r in (0, 1))
    assert r0 == r1 != h0
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] == 5
