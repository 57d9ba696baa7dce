"""Download a model over http(s): progress, checksum, resume, cancel — with urllib only.

Whisper models are tens of megabytes to gigabytes and users are often on flaky links, so:

* bytes go to ``<dest>.partial``; an interrupted transfer keeps it and the next attempt
  (automatic retries, or a later call) asks the server for the rest with an HTTP Range
  request, falling back to a full download when the server ignores ranges;
* the finished file is checked against the expected sha256 (or sha1, which is what
  whisper.cpp publishes for its models); on a mismatch the partial is deleted, because
  resuming from bad bytes could never succeed;
* only a verified file is renamed into place, atomically;
* ``cancel`` (a ``threading.Event``) stops the transfer between chunks and keeps the partial
  for a later resume.

Errors are ``RMError`` with codes ``download_failed``, ``checksum_mismatch``, ``cancelled``
or ``invalid_param``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from rmstudio.core.errors import RMError

from .fsutil import file_hash, finish_file

Progress = Callable[[int, int | None], None]
CHUNK = 1 << 16
USER_AGENT = "rmstudio-model-download"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _Interrupted(Exception):
    """The connection ended early; the partial file is kept for a resume."""


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial")


def _expected(sha256: str | None, sha1: str | None) -> tuple[str, str] | None:
    for algorithm, value, length in (("sha256", sha256, 64), ("sha1", sha1, 40)):
        if value:
            value = value.strip().lower()
            if len(value) != length or not re.fullmatch(r"[0-9a-f]+", value):
                raise RMError("invalid_param", f"'{value}' is not a {algorithm} hex digest")
            return algorithm, value
    return None


def _fail(url: str, message: str, hint: str | None = None) -> RMError:
    return RMError("download_failed", message, hint=hint, source=url)


def _transfer(
    url: str,
    part: Path,
    progress: Progress | None,
    cancel: threading.Event | None,
    timeout: float,
) -> None:
    """One HTTP request that appends to ``part``; raises _Interrupted on an early end."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            match = re.fullmatch(r"bytes \*/(\d+)", exc.headers.get("Content-Range", "").strip())
            exc.close()
            if match and int(match.group(1)) == offset:
                return  # nothing left to fetch: the partial is already the whole file
            part.unlink(missing_ok=True)  # a partial that does not fit this file: start over
            raise _Interrupted("the partial download does not match the remote file") from None
        exc.close()
        raise _fail(url, f"the server answered HTTP {exc.code} {exc.reason}", "Check the URL") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Interrupted(str(getattr(exc, "reason", exc))) from None

    with response:
        total: int | None = None
        length = response.headers.get("Content-Length")
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                offset = 0  # a range we did not ask for: start over
                part.unlink(missing_ok=True)
                raise _Interrupted("unexpected Content-Range")
            total = int(match.group(3)) if match.group(3) != "*" else None
        else:
            offset = 0  # the server ignored Range (or there was none): full body follows
            total = int(length) if length and length.isdigit() else None
        done = offset
        if progress is not None:
            progress(done, total)
        with open(part, "ab" if offset else "wb") as out:
            while True:
                if cancel is not None and cancel.is_set():
                    raise RMError(
                        "cancelled",
                        "download cancelled",
                        hint="Run the download again to resume it",
                        source=url,
                    )
                try:
                    block = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Interrupted(str(exc)) from None
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        if total is not None and done < total:
            raise _Interrupted(f"connection closed after {done} of {total} bytes")


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    sha1: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` into ``dest`` (atomically) and return ``dest``.

    ``progress(done, total)`` reports bytes (``total`` is None when the server does not
    say). ``retries`` is how many times an interrupted transfer is resumed automatically
    before giving up with ``download_failed`` (the partial stays for a later call).
    """
    if not re.match(r"(?i)https?://", url):
        raise RMError("invalid_param", f"only http(s) URLs can be downloaded, not '{url}'")
    expected = _expected(sha256, sha1)
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(target)

    attempt = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise RMError("cancelled", "download cancelled", source=url)
        try:
            _transfer(url, part, progress, cancel, timeout)
            break
        except _Interrupted as exc:
            attempt += 1
            if attempt > retries:
                raise _fail(
                    url,
                    f"the download was interrupted ({exc})",
                    f"Run it again to resume from {part.stat().st_size if part.exists() else 0} bytes",
                ) from None

    if not part.exists():
        part.touch()  # an empty body is still a (zero-length) download
    if expected is not None:
        algorithm, want = expected
        got = file_hash(part, algorithm)
        if got != want:
            part.unlink(missing_ok=True)
            raise RMError(
                "checksum_mismatch",
                f"downloaded file has {algorithm} {got}, expected {want}",
                hint="The download was removed; check the URL and the checksum, then try again",
                source=url,
            )
    finish_file(part, target)
    return target


def url_key(url: str) -> str:
    """A short stable name for a URL, so repeated downloads of it share one partial file."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
