"""Reads a run's ``events.jsonl`` files as they grow: only new bytes, only complete lines.

Plain Python (no Qt): the run page polls :meth:`EventTail.poll` from a timer. A line cut in
half by a write in progress stays in a buffer until its newline arrives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .plan import event_files

MAX_READ = 256 << 10  # bytes per file per poll: a long run's backlog is read over several polls


class EventTail:
    def __init__(self, run_dir: Path | str):
        self.run_dir = Path(run_dir)
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def poll(self) -> list[dict[str, Any]]:
        """New events since the last poll, each with a ``stage`` key ("" for one-stage runs)."""
        out: list[dict[str, Any]] = []
        for stage, path in event_files(self.run_dir):
            out.extend(self._read(stage, path))
        return out

    def _read(self, stage: str, path: Path) -> list[dict[str, Any]]:
        offset = self._offsets.get(path, 0)
        try:
            size = path.stat().st_size
        except OSError:
            return []
        if size < offset:  # replaced by a shorter file: start again
            offset, self._partial[path] = 0, b""
        if size == offset:
            return []
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read(min(size - offset, MAX_READ))
        self._offsets[path] = offset + len(chunk)
        data = self._partial.get(path, b"") + chunk
        lines = data.split(b"\n")
        self._partial[path] = lines.pop()  # b"" when the chunk ended with a newline
        events = []
        for raw in lines:
            raw = raw.strip()
            if not raw:
                continue
            try:
                event = json.loads(raw.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(event, dict):
                event["stage"] = stage or event.get("stage", "")
                events.append(event)
        return events
