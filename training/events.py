"""``events.jsonl``: one JSON object per line, appended and flushed as training goes.

Types: ``start``, ``train``, ``val``, ``checkpoint``, ``done``, ``error``, ``info``. Every event has
``type``, ``iteration`` and ``time`` (Unix seconds); the app and tests read the file as it grows.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as strings so the line stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventLog:
    def __init__(self, path: Path | None, echo=None):
        self.path = Path(path) if path else None
        self.echo = echo  # optional callable(str) for a human-readable line
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, type_: str, iteration: int, **fields: Any) -> dict[str, Any]:
        event = {"type": type_, "iteration": int(iteration), "time": round(time.time(), 3)}
        event.update(_clean(fields))
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
                f.flush()
                os.fsync(f.fileno())
        if self.echo:
            self.echo(format_event(event))
        return event


def format_event(e: dict[str, Any]) -> str:
    t, it = e["type"], e["iteration"]
    if t == "train":
        eta = e.get("eta_s")
        eta_txt = f" eta {eta / 3600:.1f} h" if isinstance(eta, (int, float)) else ""
        losses = " ".join(
            f"{k} {v:.4g}" for k, v in e.get("losses", {}).items() if isinstance(v, (int, float))
        )
        return (
            f"[{it}] {losses} lr {e.get('lr', 0):.3g} {e.get('it_per_s', 0):.3g} it/s "
            f"data-wait {100 * e.get('data_wait_share', 0):.0f}%{eta_txt}"
        )
    if t == "val":
        return (
            f"[{it}] val PSNR {e.get('psnr', 0):.3f} dB SSIM {e.get('ssim', 0):.4f} "
            f"(bicubic {e.get('bicubic_psnr', 0):.3f} dB / {e.get('bicubic_ssim', 0):.4f})"
            + (f", detail {e['detail']:.0%} grid {e['grid']:.2%}" if "grid" in e and "detail" in e else "")
            + (f" hatch {e['hatch']:.2f}" if "hatch" in e else "")
        )
    if t == "error":
        return f"[{it}] error: {e.get('message', '')}"
    if t == "checkpoint":
        return f"[{it}] checkpoint saved ({e.get('reason', '')})"
    return f"[{it}] {t}: {e.get('message', '')}".rstrip(": ")


def read_events(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return out
