"""DIV2K for ``sr-train`` without a DATASET: download (resumable), check, extract (safely) and
arrange into our layout: ``HR/``, ``LR/x{s}/`` and a ``val.txt`` naming the 100 validation images.

Checksums: the official sha256 values are not known to this code, so the table leaves them as
None and a download is checked against the size the server declares (Content-Length / Content-Range)
instead. Fill them in when known: they are then enforced.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
BASE_URL_ENV = "SR_DIV2K_BASE_URL"
CHUNK = 1 << 20


class DownloadError(Exception):
    """A download, check or extraction problem (or the user said no); one clear message."""


@dataclass(frozen=True)
class Archive:
    name: str  # file name under the base URL
    sha256: str | None  # None: unknown here, the declared size is checked instead
    approx_bytes: int  # only for the confirmation prompt before the sizes are asked from the server


def archives_for(scale: int) -> list[Archive]:
    s = int(scale)
    return [
        Archive("DIV2K_train_HR.zip", None, 3_530_000_000),
        Archive("DIV2K_valid_HR.zip", None, 449_000_000),
        Archive(f"DIV2K_train_LR_bicubic_X{s}.zip", None, 3_530_000_000 // (s * s)),
        Archive(f"DIV2K_valid_LR_bicubic_X{s}.zip", None, 449_000_000 // (s * s)),
    ]


def base_url() -> str:
    url = os.environ.get(BASE_URL_ENV, BASE_URL)
    return url if url.endswith("/") else url + "/"


ProgressFn = Callable[[str, int, int | None], None]  # (file name, bytes done, total or None)


def download(url: str, dest: Path, progress: ProgressFn | None = None, sha256: str | None = None) -> Path:
    """Download to ``dest`` through ``dest.part``, resuming a partial file with an HTTP Range."""
    dest = Path(dest)
    if dest.is_file():
        return dest
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: cannot download ({exc})") from None
    total: int | None = have if response is None else None
    if response is not None:
        with response:
            if have and response.status == 206:
                content_range = response.headers.get("Content-Range", "")
                total = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else None
                mode = "ab"
            else:  # the server ignored the range: start again
                have, mode = 0, "wb"
                length = response.headers.get("Content-Length")
                total = int(length) if length else None
            done = have
            with open(part, mode) as f:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(dest.name, done, total)
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{url}: got {size} of {total} bytes; run again to resume")
    if sha256:
        digest = file_sha256(part)
        if digest != sha256:
            part.unlink()
            raise DownloadError(f"{dest.name}: sha256 {digest} does not match the expected {sha256}")
    os.replace(part, dest)
    return dest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a zip, refusing (before writing anything) members that would land outside
    ``target`` (``../``, absolute paths) or that are symbolic links."""
    target = Path(target).resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DownloadError(f"{archive}: not a zip file (delete it and download again)") from None
    with zf:
        bad = []
        for info in zf.infolist():
            out = (target / info.filename).resolve()
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if is_link or (out != target and target not in out.parents):
                bad.append(info.filename)
        if bad:
            raise DownloadError(f"{archive.name}: refusing unsafe paths: {', '.join(bad[:5])}")
        zf.extractall(target)
        return [target / i.filename for i in zf.infolist() if not i.is_dir()]


def _arrange(extract_dir: Path, root: Path, scale: int) -> None:
    """Move extracted files into HR/ and LR/x{s}/ and write val.txt (the DIV2K valid split)."""
    hr, lr = root / "HR", root / "LR" / f"x{scale}"
    hr.mkdir(parents=True, exist_ok=True)
    lr.mkdir(parents=True, exist_ok=True)
    val = []
    for split in ("train", "valid"):
        for p in sorted((extract_dir / f"DIV2K_{split}_HR").glob("*.png")):
            os.replace(p, hr / p.name)
            if split == "valid":
                val.append(p.stem)
        lr_dir = extract_dir / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
        for p in sorted(lr_dir.glob("*.png")):
            os.replace(p, lr / p.name)
    (root / "val.txt").write_text("\n".join(val) + "\n")


def _ask(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    return input(question).strip().lower() in ("y", "yes")


def default_data_dir() -> Path:
    from sr_desktop.core.store import data_dir

    return data_dir() / "datasets"


def prepare_div2k(
    data_dir: str | Path | None,
    scale: int,
    assume_yes: bool = False,
    progress: ProgressFn | None = None,
    ask: Callable[[str], bool] = _ask,
) -> Path:
    """A ready DIV2K folder for ``scale`` (downloading what is missing); returns its path."""
    base = Path(data_dir) if data_dir else default_data_dir()
    root = base / f"DIV2K-x{scale}"
    marker = root / ".complete"
    if marker.is_file():
        return root
    downloads = base / "downloads"
    todo = [a for a in archives_for(scale) if not (downloads / a.name).is_file()]
    if todo and not assume_yes:
        gb = sum(a.approx_bytes for a in todo) / 1e9
        if not ask(f"Download DIV2K ({len(todo)} files, about {gb:.1f} GB) into {downloads}? [y/N] "):
            raise DownloadError(
                "DIV2K download not confirmed: pass --yes to download without asking, or give a DATASET folder"
            )
    progress = progress or _print_progress
    for a in archives_for(scale):
        download(base_url() + a.name, downloads / a.name, progress=progress, sha256=a.sha256)
    work = base / f".extract-x{scale}"
    if work.exists():
        shutil.rmtree(work)
    for a in archives_for(scale):
        safe_extract(downloads / a.name, work)
    _arrange(work, root, scale)
    shutil.rmtree(work, ignore_errors=True)
    marker.write_text("ok\n")
    return root


def _print_progress(name: str, done: int, total: int | None) -> None:
    if total:
        pct = 100.0 * done / total
        if done == total or done % (64 * CHUNK) < CHUNK:
            print(
                f"\r{name}: {done / 1e6:.0f}/{total / 1e6:.0f} MB ({pct:.0f}%)",
                end="",
                file=sys.stderr,
                flush=True,
            )
        if done == total:
            print(file=sys.stderr)
    elif done % (64 * CHUNK) < CHUNK:
        print(f"\r{name}: {done / 1e6:.0f} MB", end="", file=sys.stderr, flush=True)
