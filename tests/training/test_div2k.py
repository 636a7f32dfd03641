"""DIV2K download against a local HTTP server: layout, resumed partial downloads, zip-slip,
the confirmation prompt."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile

import pytest
from PIL import Image
from train_helpers import textured

from training.data import scan_dataset
from training.div2k import DownloadError, download, prepare_div2k, safe_extract


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files from ``self.server.files`` (name -> bytes) with HTTP Range support."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        data = self.server.files.get(name)
        self.server.requests.append((name, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.files, srv.requests = {}, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def _png(seed: int, h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured(h, w, seed)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tiny_div2k(scale: int) -> dict[str, bytes]:
    train, valid = ["0001", "0002", "0003"], ["0801"]
    hr = {n: _png(i, 48, 40) for i, n in enumerate(train + valid)}
    lr = {n: _png(10 + i, 48 // scale, 40 // scale) for i, n in enumerate(train + valid)}
    return {
        "DIV2K_train_HR.zip": _zip({f"DIV2K_train_HR/{n}.png": hr[n] for n in train}),
        "DIV2K_valid_HR.zip": _zip({f"DIV2K_valid_HR/{n}.png": hr[n] for n in valid}),
        f"DIV2K_train_LR_bicubic_X{scale}.zip": _zip(
            {f"DIV2K_train_LR_bicubic/X{scale}/{n}x{scale}.png": lr[n] for n in train}
        ),
        f"DIV2K_valid_LR_bicubic_X{scale}.zip": _zip(
            {f"DIV2K_valid_LR_bicubic/X{scale}/{n}x{scale}.png": lr[n] for n in valid}
        ),
    }


def test_prepare_div2k_downloads_extracts_and_lays_out(server, tmp_path, monkeypatch) -> None:
    server.files.update(_tiny_div2k(2))
    monkeypatch.setenv("SR_DIV2K_BASE_URL", f"http://127.0.0.1:{server.server_port}/")
    seen = []
    root = prepare_div2k(
        tmp_path / "data", 2, assume_yes=True, progress=lambda n, d, t: seen.append((n, d, t))
    )
    layout = scan_dataset(root, 2)
    assert layout.kind == "paired" and len(layout.samples) == 4
    assert layout.val_names == ["0801"]
    assert all(s.lr_path.name == f"{s.name}x2.png" for s in layout.samples)
    assert seen and seen[-1][1] == seen[-1][2]  # progress reached the total
    # a second call finds it ready and downloads nothing
    before = len(server.requests)
    assert prepare_div2k(tmp_path / "data", 2, assume_yes=False, ask=lambda q: False) == root
    assert len(server.requests) == before


def test_download_resumes_a_partial_file_with_range(server, tmp_path) -> None:
    data = bytes(range(256)) * 4000
    server.files["big.zip"] = data
    dest = tmp_path / "big.zip"
    (tmp_path / "big.zip.part").write_bytes(data[:300_000])
    download(f"http://127.0.0.1:{server.server_port}/big.zip", dest)
    assert dest.read_bytes() == data
    assert server.requests == [("big.zip", "bytes=300000-")]
    assert not (tmp_path / "big.zip.part").exists()


def test_download_checks_sha256(server, tmp_path) -> None:
    server.files["f.zip"] = b"hello"
    with pytest.raises(DownloadError, match="sha256"):
        download(f"http://127.0.0.1:{server.server_port}/f.zip", tmp_path / "f.zip", sha256="0" * 64)
    assert not (tmp_path / "f.zip").exists()


def test_zip_slip_is_refused_before_writing(tmp_path) -> None:
    evil = tmp_path / "evil.zip"
    evil.write_bytes(_zip({"ok/fine.txt": b"x", "../escaped.txt": b"pwned"}))
    with pytest.raises(DownloadError, match="unsafe"):
        safe_extract(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out" / "ok" / "fine.txt").exists()


def test_malicious_archive_from_the_server_is_refused(server, tmp_path, monkeypatch) -> None:
    files = _tiny_div2k(2)
    files["DIV2K_valid_HR.zip"] = _zip({"../../outside.png": b"x"})
    server.files.update(files)
    monkeypatch.setenv("SR_DIV2K_BASE_URL", f"http://127.0.0.1:{server.server_port}")
    with pytest.raises(DownloadError, match="unsafe"):
        prepare_div2k(tmp_path / "data", 2, assume_yes=True, progress=lambda *a: None)
    assert not (tmp_path / "outside.png").exists() and not (tmp_path / "data" / "outside.png").exists()


def test_download_needs_confirmation(server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SR_DIV2K_BASE_URL", f"http://127.0.0.1:{server.server_port}/")
    questions = []
    with pytest.raises(DownloadError, match="--yes"):
        prepare_div2k(tmp_path / "data", 4, ask=lambda q: questions.append(q) or False)
    assert "GB" in questions[0] and server.requests == []
