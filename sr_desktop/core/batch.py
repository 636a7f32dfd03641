"""Batches: collect inputs, plan output names safely, run with decode/encode overlapping
inference, report per file. A bad file never stops the batch."""

from __future__ import annotations

import json
import os
import string
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import imageio
from .cpu_memory import release_freed_memory
from .progress import Cancelled, Progress

if TYPE_CHECKING:  # torch is imported only when a batch runs: the app reads these constants early
    from .engine import Upscaler

ON_EXISTS = ("skip", "overwrite", "rename")
FORMATS = ("same", *imageio.WRITE_FORMATS)
PLACEHOLDERS = ("stem", "scale", "model")


class BatchSetupError(Exception):
    """Bad options (template, format...): the whole batch cannot start."""


@dataclass
class BatchOptions:
    outdir: Path = Path("results")
    outscale: float | None = None
    recursive: bool = False
    format: str = "same"
    quality: int = 95
    name_template: str = "{stem}"
    on_exists: str = "skip"
    max_pixels: int | None = imageio.DEFAULT_MAX_PIXELS

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise BatchSetupError(f"unknown format {self.format!r}; use one of {', '.join(FORMATS)}")
        if self.on_exists not in ON_EXISTS:
            raise BatchSetupError(f"unknown --on-exists {self.on_exists!r}; use {', '.join(ON_EXISTS)}")
        if not 1 <= self.quality <= 100:
            raise BatchSetupError(f"quality must be 1..100, not {self.quality}")
        if self.outscale is not None and not 0 < self.outscale <= 16:
            raise BatchSetupError(f"--outscale must be in (0, 16], not {self.outscale}")
        check_template(self.name_template)


@dataclass
class InputItem:
    path: Path
    subdir: Path = Path()  # relative folder under the output folder (for --recursive)


@dataclass
class FileResult:
    input: str
    output: str | None
    status: str  # done | skipped | failed
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Job:
    item: InputItem
    output: Path | None
    error: str | None = None
    skip: bool = False
    extra: dict = field(default_factory=dict)


def check_template(template: str) -> None:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise BatchSetupError(f"bad --name template {template!r}: {exc}") from None
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        raise BatchSetupError(
            f"unknown placeholder {{{unknown[0]}}} in --name; use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )
    rendered = render_name(template, "x", 4, "m")
    if not rendered.strip():
        raise BatchSetupError("--name gives an empty file name")


def render_name(template: str, stem: str, scale: int | float, model: str) -> str:
    return template.format(stem=stem, scale=scale, model=model)


def safe_name(name: str) -> str | None:
    """The name if it is a plain file name that stays inside its folder, else None."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        return None
    if os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        return None
    return name


def collect_inputs(
    paths: Iterable[str | os.PathLike], recursive: bool = False
) -> tuple[list[InputItem], list[FileResult]]:
    """Images named directly or found in folders (hidden/system files and non-images skipped).
    Returns the items and failures for paths that do not exist."""
    items: list[InputItem] = []
    missing: list[FileResult] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if recursive:
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    rel = Path(root).relative_to(path)
                    items += [
                        InputItem(Path(root) / f, rel) for f in sorted(files) if imageio.is_image_path(f)
                    ]
            else:
                items += [
                    InputItem(p) for p in sorted(path.iterdir()) if p.is_file() and imageio.is_image_path(p)
                ]
        elif path.is_file():
            items.append(InputItem(path))
        else:
            missing.append(FileResult(str(path), None, "failed", "no such file or folder"))
    return items, missing


def plan_jobs(
    items: list[InputItem], options: BatchOptions, scale: int | float, model_name: str
) -> list[Job]:
    """Output path per input: template, format, folder mirroring, on-exists policy, and
    collisions inside the batch (the later input gets a numbered name)."""
    outdir = Path(options.outdir).resolve()
    taken: set[Path] = set()
    jobs = []
    for item in items:
        fmt = options.format
        if fmt == "same":
            fmt = imageio.format_for_suffix(item.path.suffix) or "png"
            if fmt not in imageio.WRITE_FORMATS:
                fmt = "png"
        name = safe_name(render_name(options.name_template, item.path.stem, scale, model_name))
        if name is None:
            jobs.append(Job(item, None, "--name gives a path outside the output folder"))
            continue
        folder = (outdir / item.subdir).resolve()
        if not folder.is_relative_to(outdir):
            jobs.append(Job(item, None, "output would be outside the output folder"))
            continue
        suffix = imageio.suffix_for_format(fmt)
        target = folder / f"{name}{suffix}"
        if target in taken or (options.on_exists == "rename" and target.exists()):
            n = 1
            while target in taken or target.exists():
                target = folder / f"{name} ({n}){suffix}"
                n += 1
        taken.add(target)
        job = Job(item, target, extra={"format": fmt})
        job.skip = options.on_exists == "skip" and target.exists()
        jobs.append(job)
    return jobs


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return (
        text
        if isinstance(exc, (imageio.ImageReadError, imageio.ImageWriteError))
        else f"{type(exc).__name__}: {text}"
    )


def run_batch(
    paths: Iterable[str | os.PathLike],
    upscaler: Upscaler,
    options: BatchOptions,
    progress: Progress | None = None,
    model_name: str = "model",
    on_file: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Upscale every input; returns one result per input. Raises :class:`Cancelled` (with
    ``.results`` holding what finished) when cancelled."""
    from .pipeline import upscale_image
    from .tiling import TileTooSmallError

    options.validate()
    progress = progress or Progress()
    items, results = collect_inputs(paths, options.recursive)
    for r in results:
        if on_file:
            on_file(r)
    scale = options.outscale or upscaler.scale
    jobs = plan_jobs(items, options, scale if scale != int(scale) else int(scale), model_name)
    for job in jobs:
        job.extra["weight"] = _weight(job)
    total = sum(j.extra["weight"] for j in jobs) or 1.0

    def finish(result: FileResult) -> None:
        results.append(result)
        if on_file:
            on_file(result)

    todo = [j for j in jobs if not (j.skip or j.error)]
    for job in jobs:
        if job.error:
            finish(FileResult(str(job.item.path), None, "failed", job.error))
        elif job.skip:
            finish(FileResult(str(job.item.path), str(job.output), "skipped"))
    done_weight = total - sum(j.extra["weight"] for j in todo)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch-io") as pool:
        # read-ahead of the next image and write-behind of the previous one overlap inference
        def read(job: Job) -> imageio.Image:
            return imageio.read_image(job.item.path, max_pixels=options.max_pixels)

        reading: Future | None = pool.submit(read, todo[0]) if todo else None
        writing: tuple[Job, Future, float] | None = None
        try:
            for index, job in enumerate(todo):
                start = time.perf_counter()
                current, reading = (
                    reading,
                    (pool.submit(read, todo[index + 1]) if index + 1 < len(todo) else None),
                )
                weight = job.extra["weight"]
                base = done_weight

                def report(fraction: float, job: Job = job, index: int = index, base: float = base) -> None:
                    progress.update(
                        (base + fraction * job.extra["weight"]) / total,
                        job.item.path.name,
                        file_index=index,
                        path=str(job.item.path),
                        file_count=len(todo),
                        file_fraction=fraction,
                        tile=upscaler.stats.tile,
                    )

                try:
                    image = current.result()
                    progress.check()
                    report(0.0)
                    result = upscale_image(image, upscaler, options.outscale, progress, report)
                    fmt = job.extra["format"]
                    job.output.parent.mkdir(parents=True, exist_ok=True)
                    fut = pool.submit(imageio.write_image, result, job.output, fmt, options.quality)
                except Cancelled:
                    raise
                except (Exception, MemoryError) as exc:  # noqa: BLE001 - one bad file never stops the batch
                    if isinstance(exc, TileTooSmallError):
                        exc = RuntimeError(f"not enough memory: {exc}")
                    if writing is not None:  # report in input order
                        _finish_write(writing, finish)
                        writing = None
                    finish(
                        FileResult(
                            str(job.item.path), None, "failed", _one_line(exc), time.perf_counter() - start
                        )
                    )
                    done_weight += weight
                    continue
                if writing is not None:
                    _finish_write(writing, finish)
                writing = (job, fut, start)
                done_weight += weight
            if writing is not None:
                _finish_write(writing, finish)
                writing = None
        except Cancelled as exc:
            if reading is not None:
                reading.cancel()
            if writing is not None:
                _finish_write(writing, finish)
            exc.results = results  # type: ignore[attr-defined]
            raise
    progress.update(1.0, "done")
    release_freed_memory()
    return results


def _finish_write(writing: tuple[Job, Future, float], finish: Callable[[FileResult], None]) -> None:
    job, fut, start = writing
    try:
        fut.result()
        finish(FileResult(str(job.item.path), str(job.output), "done", None, time.perf_counter() - start))
    except Exception as exc:  # noqa: BLE001
        finish(FileResult(str(job.item.path), None, "failed", _one_line(exc), time.perf_counter() - start))


def _weight(job: Job) -> float:
    size = imageio.read_header_size(job.item.path)
    return float(size[0] * size[1]) if size else 1e6


def write_report(results: list[FileResult], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def exit_code(results: list[FileResult]) -> int:
    return 1 if any(r.status == "failed" for r in results) else 0
