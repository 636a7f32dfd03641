"""The worker abstraction: one signal vocabulary, cancel as a flag, cleanup once."""

import sys
import threading

import pytest
from PySide6.QtCore import Qt

from sr_desktop.core.progress import Cancelled
from sr_desktop.gui.workers import Worker, running_count, start_pooled, start_thread, wait_all


def _collect(worker):
    seen = []
    for name in ("started", "progress", "file_done", "returned", "errored", "aborted", "finished"):
        getattr(worker, name).connect(lambda *a, n=name: seen.append(n))
    return seen


def test_job_runs_synchronously_and_returns(qapp):
    def job(ctx, x):
        ctx.progress.update(0.5, "half")
        ctx.file_done("a")
        return x * 2

    worker = Worker(job, 21)
    seen = _collect(worker)
    got = []
    worker.returned.connect(got.append)
    worker.run()
    assert got == [42]
    assert seen == ["started", "progress", "file_done", "returned", "finished"]


def test_cancelled_job_never_returns(qapp):
    def job(ctx):
        ctx.progress.check()
        raise AssertionError("cancel was not seen")

    worker = Worker(job)
    seen = _collect(worker)
    worker.cancel()
    worker.run()
    assert "returned" not in seen and "errored" not in seen
    assert seen[-2:] == ["aborted", "finished"]


def test_error_is_one_line(qapp):
    def job(ctx):
        raise ValueError("bad\nthing")

    worker = Worker(job)
    errors = []
    worker.errored.connect(errors.append)
    worker.run()
    assert errors == ["bad thing"]


def test_aborted_carries_partial_results(qapp):
    def job(ctx):
        exc = Cancelled()
        exc.results = [1, 2]
        raise exc

    worker = Worker(job)
    got = []
    worker.aborted.connect(got.append)
    worker.run()
    assert got == [[1, 2]]


@pytest.mark.parametrize("starter", [start_thread, start_pooled])
def test_started_worker_cleans_up(qtbot, starter):
    worker = Worker(lambda ctx: "ok", name="t")
    with qtbot.waitSignal(worker.returned, timeout=5000) as blocker:
        starter(worker)
    assert blocker.args == ["ok"]
    qtbot.waitUntil(lambda: running_count() == 0, timeout=5000)


def test_pyside_reference_bug_is_guarded(qapp):
    """PySide6 6.12 on Python 3.11 loses a reference of None per void call and of True per emit;
    the app must survive far more calls than a long session makes."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    worker = Worker(lambda ctx: 0)
    worker.progress.connect(lambda event: None)
    for i in range(20000):
        label.setText("x")  # a void call
        worker.context.progress.update(i / 20000, "tile")  # an emit
    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) > 1 << 38 and sys.getrefcount(True) > 1 << 38


def test_worker_returning_none(qapp):
    worker = Worker(lambda ctx: None)
    got = []
    worker.returned.connect(got.append)
    worker.run()
    assert got == [()]


@pytest.mark.timeout(60)
def test_pause_after_cancel_does_not_block(qapp):
    """Pause and cancel can race (a pause requested just before the user cancels)."""

    def job(ctx):
        ctx.progress.check()
        return "ran"

    worker = Worker(job)
    worker.cancel()
    worker.pause()
    aborted = []
    worker.aborted.connect(aborted.append)
    worker.run()  # would wait forever if the pause had taken effect
    assert aborted == [[]]


@pytest.mark.parametrize("starter", [start_thread, start_pooled])
def test_job_threads_never_emit_signals(qtbot, starter):
    """Every signal is emitted on the GUI thread, even to a direct connection: the job's thread
    only queues what it reports (a worker thread that calls into Qt can deadlock with the GUI)."""
    gui = threading.get_ident()
    job_thread = []

    def job(ctx):
        job_thread.append(threading.get_ident())
        for i in range(5):
            ctx.progress.update(i / 5, "step")
            ctx.file_done(i)
        return "ok"

    worker = Worker(job, name="t")
    emitted_on = []
    for name in ("started", "progress", "file_done", "returned", "finished"):
        getattr(worker, name).connect(
            lambda *a, n=name: emitted_on.append((n, threading.get_ident())),
            Qt.ConnectionType.DirectConnection,
        )
    with qtbot.waitSignal(worker.finished, timeout=10000):
        starter(worker)
    assert job_thread and job_thread[0] != gui
    assert [n for n, _ in emitted_on] == ["started"] + ["progress", "file_done"] * 5 + [
        "returned",
        "finished",
    ]
    assert {t for _, t in emitted_on} == {gui}
    assert wait_all(10) and running_count() == 0


def test_wait_all_reports_a_job_that_does_not_end(qtbot):
    release = threading.Event()
    worker = Worker(lambda ctx: release.wait(30), name="slow")
    start_thread(worker)
    assert not wait_all(0.2) and running_count() == 1
    release.set()
    assert wait_all(10) and running_count() == 0 and worker.delivered
