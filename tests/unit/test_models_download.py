"""Model downloads against a local HTTP server on 127.0.0.1 (never the internet): progress,
checksums, resume with Range after an interrupted transfer, cancel, and store integration."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.models import store as store_mod
from rmstudio.core.models.download import download_file, partial_path

from .test_models_support import build_ggml


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None  # close the connection after this many body bytes, once
    ignore_range: bool = False
    delay: float = 0.0  # seconds between 16 KiB chunks
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        state.requests.append((self.path, self.headers.get("Range")))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not state.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if state.cut_after is not None:
            limit, state.cut_after = state.cut_after, None
            self.wfile.write(body[:limit])
            self.wfile.flush()
            self.close_connection = True
            return
        for i in range(0, len(body), 16384):
            if state.delay:
                time.sleep(state.delay)
            try:
                self.wfile.write(body[i : i + 16384])
            except (BrokenPipeError, ConnectionResetError):
                return


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RMSTUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


PAYLOAD = bytes(range(256)) * 2048  # 512 KiB
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_with_progress_and_checksums(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    seen: list[tuple[int, int | None]] = []
    out = download_file(
        f"{base}/m.bin", tmp_path / "m.bin", sha256=SHA256, progress=lambda d, t: seen.append((d, t))
    )
    assert out.read_bytes() == PAYLOAD and not partial_path(out).exists()
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 4
    sha1 = hashlib.sha1(PAYLOAD).hexdigest()
    assert download_file(f"{base}/m.bin", tmp_path / "m1.bin", sha1=sha1.upper()).read_bytes() == PAYLOAD
    assert download_file(f"{base}/m.bin", tmp_path / "m2.bin").read_bytes() == PAYLOAD  # no checksum given


def test_resume_after_an_interrupted_transfer(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    state.cut_after = 200_000
    dest = tmp_path / "m.bin"
    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", dest, sha256=SHA256, retries=0)
    assert err.value.code == "download_failed" and "resume" in (err.value.hint or "")
    assert partial_path(dest).stat().st_size == 200_000 and not dest.exists()
    seen: list[tuple[int, int | None]] = []
    download_file(f"{base}/m.bin", dest, sha256=SHA256, progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == PAYLOAD
    assert state.requests[-1] == ("/m.bin", "bytes=200000-")
    assert seen[0] == (200_000, len(PAYLOAD))  # progress picks up where it left off


def test_automatic_retry_resumes_in_one_call(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    state.cut_after = 100_000
    out = download_file(f"{base}/m.bin", tmp_path / "m.bin", sha256=SHA256, retries=2)
    assert out.read_bytes() == PAYLOAD
    assert [r for _, r in state.requests] == [None, "bytes=100000-"]


def test_server_without_range_support_restarts_cleanly(
    server: tuple[str, ServerState], tmp_path: Path
) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    state.ignore_range = True
    dest = tmp_path / "m.bin"
    partial_path(dest).write_bytes(b"stale bytes from some other attempt")
    assert download_file(f"{base}/m.bin", dest, sha256=SHA256).read_bytes() == PAYLOAD


def test_complete_partial_is_finished_without_refetching(
    server: tuple[str, ServerState], tmp_path: Path
) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    dest = tmp_path / "m.bin"
    partial_path(dest).write_bytes(PAYLOAD)
    assert download_file(f"{base}/m.bin", dest, sha256=SHA256).read_bytes() == PAYLOAD
    assert state.requests == [("/m.bin", f"bytes={len(PAYLOAD)}-")]


def test_oversized_partial_is_discarded(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    dest = tmp_path / "m.bin"
    partial_path(dest).write_bytes(PAYLOAD + b"extra")
    assert download_file(f"{base}/m.bin", dest).read_bytes() == PAYLOAD  # no checksum needed to notice
    assert [r for _, r in state.requests] == [f"bytes={len(PAYLOAD) + 5}-", None]


def test_checksum_mismatch_removes_the_partial(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    dest = tmp_path / "m.bin"
    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", dest, sha256="0" * 64)
    assert err.value.code == "checksum_mismatch" and SHA256 in err.value.message
    assert not dest.exists() and not partial_path(dest).exists()
    # a resumed download whose earlier bytes were wrong is caught the same way
    partial_path(dest).write_bytes(b"X" * 1000)
    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", dest, sha1=hashlib.sha1(PAYLOAD).hexdigest())
    assert err.value.code == "checksum_mismatch"
    assert not partial_path(dest).exists()
    assert download_file(f"{base}/m.bin", dest, sha256=SHA256).read_bytes() == PAYLOAD


def test_cancel_keeps_the_partial_for_a_later_resume(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD
    state.delay = 0.002
    cancel = threading.Event()
    dest = tmp_path / "m.bin"

    def progress(done: int, total: int | None) -> None:
        if done > 100_000:
            cancel.set()

    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", dest, sha256=SHA256, progress=progress, cancel=cancel)
    assert err.value.code == "cancelled"
    kept = partial_path(dest).stat().st_size
    assert 100_000 < kept < len(PAYLOAD) and not dest.exists()
    with pytest.raises(RMError) as err:  # a set event stops before connecting
        download_file(f"{base}/m.bin", dest, cancel=cancel)
    assert err.value.code == "cancelled"
    assert download_file(f"{base}/m.bin", dest, sha256=SHA256).read_bytes() == PAYLOAD
    assert state.requests[-1][1] == f"bytes={kept}-"


def test_cancel_from_another_thread(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = PAYLOAD * 4
    state.delay = 0.01
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", tmp_path / "m.bin", cancel=cancel)
    timer.join()
    assert err.value.code == "cancelled" and time.monotonic() - started < 5


def test_http_errors_and_bad_arguments(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(RMError) as err:
        download_file(f"{base}/missing.bin", tmp_path / "x.bin")
    assert err.value.code == "download_failed" and "404" in err.value.message
    with pytest.raises(RMError) as err:
        download_file("file:///etc/passwd", tmp_path / "x.bin")
    assert err.value.code == "invalid_param"
    with pytest.raises(RMError) as err:
        download_file(f"{base}/m.bin", tmp_path / "x.bin", sha256="nothex")
    assert err.value.code == "invalid_param"
    with pytest.raises(RMError) as err:  # nothing listens there
        download_file("http://127.0.0.1:9/m.bin", tmp_path / "x.bin", retries=1, timeout=2)
    assert err.value.code == "download_failed"
    assert not (tmp_path / "x.bin").exists()


def test_store_download_validates_and_imports(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    model = build_ggml(tmp_path / "model.bin").read_bytes()
    state.files["/ggml-small-test.bin"] = model
    state.files["/not-a-model.bin"] = b"<html>sorry</html>"
    state.cut_after = len(model) // 3
    with pytest.raises(RMError) as err:
        store_mod.download_model(f"{base}/ggml-small-test.bin", sha256="f" * 64)  # wrong sum: nothing kept
    assert err.value.code == "checksum_mismatch"
    seen: list[int] = []
    stored = store_mod.download_model(
        f"{base}/ggml-small-test.bin",
        sha256=hashlib.sha256(model).hexdigest(),
        name="from-the-web",
        progress=lambda d, t: seen.append(d),
    )
    assert (
        stored.name == "from-the-web"
        and stored.source == "download"
        and stored.origin.endswith("small-test.bin")
    )
    assert stored.path.read_bytes() == model and seen[-1] == len(model)
    assert [m.name for m in store_mod.list_models()] == ["from-the-web"]
    with pytest.raises(RMError) as err:
        store_mod.download_model(f"{base}/not-a-model.bin")
    assert err.value.code == "invalid_model"
    root = store_mod.models_dir()
    assert sorted(p.name for p in root.glob("*.bin")) == ["ggml-from-the-web.bin"]
    assert list((root / "downloads").iterdir()) == []
