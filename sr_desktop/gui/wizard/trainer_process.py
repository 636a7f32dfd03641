"""``sr-train`` in a separate process (QProcess, same executable as the app, so it works from the
PyInstaller bundle too), reporting through its run folder's ``events.jsonl``.

The process never shares the GUI's interpreter: a crash, an out-of-memory kill or a hung CUDA
driver ends the trainer, not the app. Stopping sends SIGTERM (``QProcess.terminate``), which the
trainer turns into "checkpoint at the next step, then exit 130".
"""

from __future__ import annotations

import re
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from sr_desktop.cli import training_command

from .events_tail import EventTail

POLL_MS = 250
EXIT_INTERRUPTED = 130
_PERCENT = re.compile(r"(\d{1,3})%\|")  # torch.hub's download bar: " 45%|████   | 250M/548M"


class TrainerProcess(QObject):
    event = Signal(dict)  # one events.jsonl record (with "stage")
    output = Signal(str)  # a line the trainer printed (stdout or stderr)
    download_progress = Signal(int)  # percent of the VGG19 download
    finished = Signal(int, str)  # exit code (-1: crashed or could not start), last error text

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.tail: EventTail | None = None
        self.run_dir: Path | None = None
        self.stop_requested = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._lines: deque[str] = deque(maxlen=40)
        self._buffers = {"out": "", "err": ""}
        self.last_error = ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def start(self, args: list[str], run_dir: Path | str) -> None:
        if self.running:
            raise RuntimeError("the trainer is already running")
        self.run_dir = Path(run_dir)
        # From the start of the files: a resumed run's earlier events fill the charts first.
        self.tail = EventTail(self.run_dir)
        self.stop_requested = False
        self.last_error = ""
        self._lines.clear()
        command = training_command(list(args))
        proc = QProcess(self)
        proc.setProgram(command[0])
        proc.setArguments(command[1:])
        proc.readyReadStandardOutput.connect(lambda: self._read(proc, "out"))
        proc.readyReadStandardError.connect(lambda: self._read(proc, "err"))
        proc.finished.connect(lambda code, status: self._finished(proc, code, status))
        proc.errorOccurred.connect(lambda error: self._error(proc, error))
        self.proc = proc
        self._timer.start()
        proc.start()

    def stop(self) -> None:
        """Ask for a checkpoint and a clean exit (exit code 130): a stop file in the run folder,
        which works on every platform, and SIGTERM where there are signals."""
        if self.running:
            self.stop_requested = True
            try:
                (self.run_dir / "STOP").touch()
            except OSError:
                pass
            if sys.platform != "win32":
                self.proc.terminate()

    def kill(self) -> None:
        if self.running:
            self.proc.kill()

    def wait(self, msecs: int) -> bool:
        """Block until the process ends (closing the app); True when it did."""
        if not self.running:
            return True
        return self.proc.waitForFinished(msecs)

    def poll(self, drain: bool = False) -> None:
        if self.tail is None:
            return
        while True:
            events = self.tail.poll()
            for event in events:
                if event.get("type") == "error":
                    self.last_error = str(event.get("message", ""))
                self.event.emit(event)
            if not (drain and events):
                return

    def _read(self, proc: QProcess, which: str) -> None:
        data = proc.readAllStandardOutput() if which == "out" else proc.readAllStandardError()
        text = self._buffers[which] + bytes(data.data()).decode("utf-8", errors="replace")
        # tqdm redraws with carriage returns: treat them as line ends too
        parts = re.split(r"[\r\n]", text)
        self._buffers[which] = parts.pop()
        for line in parts:
            self._line(line)

    def _line(self, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        match = _PERCENT.search(line)
        if match:
            self.download_progress.emit(int(match.group(1)))
            return
        self._lines.append(line)
        self.output.emit(line)

    def _error_text(self) -> str:
        """The trainer's one-line reason (``sr-train: ...``), else its last lines (a traceback)."""
        for line in reversed(self._lines):
            if line.startswith("sr-train:"):
                idx = list(self._lines).index(line)
                tail = [line[len("sr-train:") :].strip()] + [
                    extra for extra in list(self._lines)[idx + 1 :] if extra.startswith("  ")
                ]
                return "\n".join(tail)
        return self.last_error or "\n".join(list(self._lines)[-6:])

    def _finished(self, proc: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if proc is not self.proc:
            return
        for which in ("out", "err"):
            if self._buffers[which]:
                self._line(self._buffers[which])
                self._buffers[which] = ""
        self.poll(drain=True)
        self._timer.stop()
        if status == QProcess.ExitStatus.CrashExit:
            code = -1 if not self.stop_requested else EXIT_INTERRUPTED
        text = "" if code in (0, EXIT_INTERRUPTED) else self._error_text()
        if status == QProcess.ExitStatus.CrashExit and not self.stop_requested:
            text = (text + "\n" if text else "") + "the trainer process ended abruptly (killed or crashed)"
        self.proc = None
        proc.deleteLater()
        self.finished.emit(int(code), text)

    def _error(self, proc: QProcess, error: QProcess.ProcessError) -> None:
        if proc is not self.proc or error != QProcess.ProcessError.FailedToStart:
            return
        self._timer.stop()
        self.proc = None
        proc.deleteLater()
        self.finished.emit(-1, f"the trainer could not be started ({proc.errorString()})")
