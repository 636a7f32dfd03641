"""One way to run background work: a job is a plain function ``job(ctx, *args)`` that gets a
:class:`JobContext` (a Qt-free core :class:`Progress` plus a ``file_done`` callback), so the same
function runs synchronously in a unit test. :class:`Worker` wraps it in a small signal
vocabulary, and :func:`start_thread` / :func:`start_pooled` run it on a QThread (long jobs:
batches) or on the shared QThreadPool (short jobs: thumbnails, previews).

A job's thread never calls into Qt. What it reports goes into a plain Python queue, and a timer
on the GUI thread (the mailbox) emits the worker's signals from there. PySide calls C++ while
holding the GIL, so a worker thread that emits a queued signal holds the GIL while it waits for
Qt's locks; a GUI thread that holds one of those locks and needs the GIL then waits for good.
Keeping Qt out of the worker threads rules that deadlock out.

Cancel only sets a flag that the job checks at safe points; an aborted job never emits
``returned``. Every worker emits ``finished`` exactly once, last.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, QThreadPool, QTimer, Signal

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
        self._mailbox: _Mailbox | None = None  # set when started on another thread
        self.delivered = False  # True once ``finished`` was emitted on the GUI thread

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
        """The job function has returned (its last signals may still be on their way)."""
        return self._done.is_set()

    def _emit(self, signal: str, *args: Any) -> None:
        if self._mailbox is None:  # run synchronously on the calling (GUI or test) thread
            self._deliver(signal, args)
        else:
            self._mailbox.post(self, signal, args)

    def _deliver(self, signal: str, args: tuple) -> None:
        if signal == "finished":
            self.delivered = True
        getattr(self, signal).emit(*args)

    def _emit_progress(self, event: ProgressEvent) -> None:
        self._emit("progress", event)

    def _emit_file(self, item: Any) -> None:
        self._emit("file_done", item)

    def run(self) -> None:
        """Runs the job in whatever thread calls it; its signals are emitted on the GUI thread."""
        self._emit("started")
        try:
            self.context.progress.check()
            result = self._job(self.context, *self._args, **self._kwargs)
        except Cancelled as exc:
            self._emit("aborted", list(getattr(exc, "results", None) or []))
        except Exception as exc:  # noqa: BLE001 - one error path for every job
            log.exception("%s failed", self.name)
            text = " ".join(str(exc).split()) or type(exc).__name__
            self._emit("errored", text)
        else:
            if self.cancelled:
                self._emit("aborted", [])
            else:
                self._emit("returned", result if result is not None else ())
        finally:
            self._done.set()
            self._emit("finished")


class _Mailbox(QObject):
    """The GUI-thread end of every started worker. Worker threads only append to a Python queue
    (no Qt call); a timer here empties it, emits the signals, and forgets finished workers and
    their threads (a QThread object is dropped only once its thread has ended)."""

    POLL_MS = 15

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._live: list[tuple[Worker, QThread | None]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self.deliver)

    def adopt(self, worker: Worker, thread: QThread | None) -> None:
        """From the GUI thread, before the job starts."""
        worker._mailbox = self
        self._live.append((worker, thread))
        if not self._timer.isActive():
            self._timer.start()

    def post(self, worker: Worker, signal: str, args: tuple) -> None:
        """From any thread: plain Python, never Qt."""
        self._queue.put((worker, signal, args))

    def deliver(self) -> None:
        while True:
            try:
                worker, signal, args = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                worker._deliver(signal, args)
            except Exception:  # noqa: BLE001 - a failing slot must not stop the others' signals
                log.exception("a slot of %s's %s signal failed", worker.name, signal)
        # wait(0) never blocks: True once the thread has left QThread's finish code entirely (a
        # QThread destroyed while still in there would wait for it, holding the GIL)
        self._live = [(w, t) for w, t in self._live if not (w.delivered and (t is None or t.wait(0)))]
        if not self._live:
            self._timer.stop()

    def running_count(self) -> int:
        return len(self._live)


_mailbox: _Mailbox | None = None


def _the_mailbox() -> _Mailbox:
    global _mailbox
    if _mailbox is None:
        _mailbox = _Mailbox()
    return _mailbox


class _JobThread(QThread):
    """A QThread whose run() is the job: it ends when the job returns (no event loop, and no
    signal of its own connected to Python)."""

    def __init__(self, worker: Worker):
        super().__init__()
        self.worker = worker
        self.setObjectName(f"worker-{worker.name}")

    def run(self) -> None:
        self.worker.run()


def start_thread(worker: Worker) -> QThread:
    """Run ``worker`` on a new QThread (call from the GUI thread); it is cleaned up once it ends."""
    thread = _JobThread(worker)
    _the_mailbox().adopt(worker, thread)
    thread.start()
    return thread


def start_pooled(worker: Worker, pool: QThreadPool | None = None) -> Worker:
    """Run ``worker`` on the shared thread pool (call from the GUI thread)."""
    _the_mailbox().adopt(worker, None)
    (pool or QThreadPool.globalInstance()).start(worker.run)
    return worker


def running_count() -> int:
    """Workers started here whose ``finished`` has not reached the GUI thread yet, or whose
    thread still runs (threads and pooled jobs)."""
    return 0 if _mailbox is None else _mailbox.running_count()


def wait_all(timeout_s: float) -> bool:
    """From the GUI thread: deliver what the workers report until every started worker has
    finished and its thread has ended, or ``timeout_s`` passed; True when none is left. It
    sleeps in Python (the GIL is free) rather than blocking in a Qt call."""
    deadline = time.monotonic() + timeout_s
    while running_count():
        if time.monotonic() >= deadline:
            return False
        if _mailbox is not None:
            _mailbox.deliver()
        time.sleep(0.005)
    return True
