"""One way to run background work: a job is a plain function ``job(ctx, *args)`` that gets a
:class:`JobContext` (a Qt-free core :class:`Progress` plus a ``file_done`` callback), so the same
function runs synchronously in a unit test. :class:`Worker` wraps it in a small signal
vocabulary, and :func:`start_thread` / :func:`start_pooled` run it on a QThread (long jobs:
batches) or on the shared QThreadPool (short jobs: thumbnails, previews).

Cancel only sets a flag that the job checks at safe points; an aborted job never emits
``returned``. Every worker emits ``finished`` exactly once, last.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QThreadPool, Signal, Slot

from ..core.progress import Cancelled, Progress, ProgressEvent

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a job function may use: check/update ``progress``; report finished files."""

    progress: Progress
    file_done: Callable[[Any], None]


class Worker(QObject):
    started = Signal()
    progress = Signal(object)  # core ProgressEvent
    file_done = Signal(object)  # anything per item (a FileResult in batches)
    returned = Signal(object)  # the job's return value (never after a cancel)
    errored = Signal(str)  # one line for the user; the traceback goes to the log
    aborted = Signal(object)  # partial results the job attached to Cancelled, or []
    finished = Signal()

    def __init__(self, job: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        super().__init__()
        self._job, self._args, self._kwargs = job, args, kwargs
        self.name = name or getattr(job, "__name__", "job")
        self.context = JobContext(Progress(self._emit_progress), self._emit_file)
        self._done = threading.Event()
        self._control = threading.Lock()  # pause and cancel may come from different threads

    # control, from the GUI thread
    def cancel(self) -> None:
        with self._control:
            self.context.progress.cancel()

    def pause(self) -> None:
        # core Progress.pause() after cancel() would block the job for good: never pause then
        with self._control:
            if not self.context.progress.cancelled:
                self.context.progress.pause()

    def resume(self) -> None:
        self.context.progress.resume()

    @property
    def cancelled(self) -> bool:
        return self.context.progress.cancelled

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _emit_progress(self, event: ProgressEvent) -> None:
        self.progress.emit(event)

    def _emit_file(self, item: Any) -> None:
        self.file_done.emit(item)

    def run(self) -> None:
        """Runs the job in whatever thread calls it. The worker object stays in the GUI thread, so
        its signals are queued to GUI-thread slots (never run in the worker thread)."""
        self.started.emit()
        try:
            self.context.progress.check()
            result = self._job(self.context, *self._args, **self._kwargs)
        except Cancelled as exc:
            self.aborted.emit(list(getattr(exc, "results", None) or []))
        except Exception as exc:  # noqa: BLE001 - one error path for every job
            log.exception("%s failed", self.name)
            text = " ".join(str(exc).split()) or type(exc).__name__
            self.errored.emit(text)
        else:
            if self.cancelled:
                self.aborted.emit([])
            else:
                self.returned.emit(result if result is not None else ())
        finally:
            self._done.set()
            self.finished.emit()


# Workers and threads are kept alive here until they finish (Python must not collect them
# while a thread still runs); tests read it to prove no thread was left running.
_live: set[Any] = set()
_lock = threading.Lock()


class _Runner(QObject):
    """Lives on the QThread and calls the worker's job there. The worker itself stays in the
    GUI thread, so every slot connected to its signals (lambdas included) runs in the GUI thread."""

    def __init__(self, worker: Worker):
        super().__init__()
        self.worker = worker

    @Slot()
    def run(self) -> None:
        self.worker.run()


def start_thread(worker: Worker) -> QThread:
    """Run ``worker`` on a new QThread, and clean the thread up once it finishes."""
    thread = QThread()
    thread.setObjectName(f"worker-{worker.name}")
    runner = _Runner(worker)
    runner.moveToThread(thread)
    thread.started.connect(runner.run)
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)  # quit() is thread-safe
    thread.finished.connect(runner.deleteLater)
    thread.finished.connect(thread.deleteLater)
    entry = (worker, thread, runner)
    with _lock:
        _live.add(entry)
    thread.finished.connect(lambda: _forget(entry))
    thread.start()
    return thread


def start_pooled(worker: Worker, pool: QThreadPool | None = None) -> Worker:
    """Run ``worker`` on the shared thread pool (it stays owned by the GUI thread)."""
    with _lock:
        _live.add(worker)
    worker.finished.connect(lambda: _forget(worker))
    (pool or QThreadPool.globalInstance()).start(worker.run)
    return worker


def _forget(item: Any) -> None:
    with _lock:
        _live.discard(item)


def running_count() -> int:
    """Workers started here that have not finished (threads and pooled jobs)."""
    with _lock:
        items = list(_live)
    count = 0
    for item in items:
        if isinstance(item, tuple):
            worker, thread, _runner = item
            try:
                count += int(thread.isRunning() or not worker.done)
            except RuntimeError:  # the C++ object is already gone: finished
                pass
        elif not item.done:
            count += 1
    return count
