"""Crafting .rmpkg files entry by entry and byte by byte, for the package tests.

Every hostile package in ``test_package_hostile.py`` starts from :func:`baseline_entries`
(a valid package) and changes exactly one thing, so each test proves one rule. The tests
here check that the baseline really is valid and that the byte-surgery helpers do what
they say.
"""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmstudio.core.package import verify_package
from rmstudio.core.package.format import WASM_MAGIC

# A structurally valid runtime.wasm for tests that never run it (the hostile corpus): the
# wasm magic and version, then an empty module body. Runs use the real built guest.
WASM = WASM_MAGIC

CALCULATOR = {
    "version": "v1",
    "metadata": {"name": "calculator", "description": "Doubles, then adds ten."},
    "runtime": {
        "target": "wasm32-wasi",
        "entry": "runtime.wasm",
        "min_version": "0.1.0",
        "contract_version": 1,
        "preopens": ["/models", "/deps"],
    },
    "nodes": [
        {"id": "multiply", "node_type": "MultiplyNode", "params": {"multiplier": 2}},
        {"id": "add", "node_type": "AddNode", "params": {"addend": 10}},
    ],
    "connections": [{"from": "multiply", "to": "add"}],
}


def manifest(**runtime: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(CALCULATOR))
    doc["runtime"].update(runtime)
    return doc


def as_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


@dataclass
class Entry:
    name: str
    data: bytes
    method: int = zipfile.ZIP_DEFLATED
    mode: int = stat.S_IFREG | 0o644
    listed: bool = True  # listed in metadata.json's files
    meta: dict[str, Any] = field(default_factory=dict)  # overrides for its files entry


def baseline_entries() -> list[Entry]:
    return [
        Entry("manifest.json", as_bytes(CALCULATOR)),
        Entry("runtime.wasm", WASM),
        Entry("models/tiny.bin", b"model bytes " * 10),
        Entry("deps/readme.txt", b"dependency\n"),
    ]


def metadata_for(entries: list[Entry], **extra: Any) -> dict[str, Any]:
    files = {}
    for e in entries:
        if e.listed and not e.name.endswith("/"):
            files[e.name] = {"sha256": hashlib.sha256(e.data).hexdigest(), "size": len(e.data), **e.meta}
    meta: dict[str, Any] = {
        "format": "rmpkg",
        "format_version": "1.0",
        "package_name": "calculator",
        "package_version": "1.0.0",
        "created_at": "2026-11-25T00:00:00Z",
        "built_with": {"name": "rmstudio", "version": "0.1.0"},
        "files": files,
    }
    meta.update(extra)
    return meta


_AUTO = object()


def craft(
    path: Path,
    entries: list[Entry] | None = None,
    metadata: Any = _AUTO,
    **meta_extra: Any,
) -> Path:
    """Write a package: ``entries`` in order, then metadata.json (computed unless given; None omits it)."""
    entries = baseline_entries() if entries is None else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests need
        with zipfile.ZipFile(path, "w") as zf:
            for e in entries:
                zi = zipfile.ZipInfo(e.name, date_time=(1980, 1, 1, 0, 0, 0))
                zi.create_system = 3
                zi.external_attr = e.mode << 16
                zi.compress_type = e.method
                zf.writestr(zi, e.data)
            if metadata is not None:
                data = metadata
                if metadata is _AUTO:
                    data = metadata_for(entries, **meta_extra)
                if not isinstance(data, bytes):
                    data = as_bytes(data)
                zi = zipfile.ZipInfo("metadata.json", date_time=(1980, 1, 1, 0, 0, 0))
                zi.create_system = 3
                zi.external_attr = (stat.S_IFREG | 0o644) << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(zi, data)
    return path


# ---------------------------------------------------------------------- byte surgery
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # 46 bytes
_LOCAL = struct.Struct("<IHHHHHIIIHH")  # 30 bytes
_C_FIELDS = (
    "sig",
    "made_by",
    "needed",
    "flags",
    "method",
    "time",
    "date",
    "crc",
    "csize",
    "usize",
    "nlen",
    "xlen",
    "clen",
    "disk",
    "iattr",
    "eattr",
    "local_offset",
)
_L_FIELDS = ("sig", "needed", "flags", "method", "time", "date", "crc", "csize", "usize", "nlen", "xlen")


def _eocd(data: bytes) -> tuple[int, int, int]:
    pos = data.rfind(b"PK\x05\x06")
    assert pos >= 0, "no end record"
    _sig, _d, _ds, _n, total, cd_size, cd_offset, _cl = struct.unpack_from("<IHHHHIIH", data, pos)
    return cd_offset, cd_size, total


def central_headers(data: bytes) -> list[tuple[int, dict[str, int], bytes]]:
    """(offset, fields, raw name) of every central-directory header."""
    cd_offset, cd_size, _ = _eocd(data)
    out = []
    pos = cd_offset
    while pos < cd_offset + cd_size:
        values = dict(zip(_C_FIELDS, _CENTRAL.unpack_from(data, pos), strict=True))
        name = data[pos + 46 : pos + 46 + values["nlen"]]
        out.append((pos, values, name))
        pos += 46 + values["nlen"] + values["xlen"] + values["clen"]
    return out


def patch(data: bytes, name: str, *, local: bool = True, central: bool = True, **changes: int) -> bytes:
    """Change header fields of member ``name`` in the central directory and/or its local header."""
    buf = bytearray(data)
    for pos, values, raw in central_headers(data):
        if raw != name.encode():
            continue
        if central:
            new = dict(values)
            new.update({k: v for k, v in changes.items() if k in _C_FIELDS})
            _CENTRAL.pack_into(buf, pos, *(new[f] for f in _C_FIELDS))
        if local:
            lpos = values["local_offset"]
            lvalues = dict(zip(_L_FIELDS, _LOCAL.unpack_from(data, lpos), strict=True))
            lvalues.update({k: v for k, v in changes.items() if k in _L_FIELDS})
            _LOCAL.pack_into(buf, lpos, *(lvalues[f] for f in _L_FIELDS))
        return bytes(buf)
    raise AssertionError(f"no member {name!r}")


def data_range(data: bytes, name: str) -> tuple[int, int]:
    """Where member ``name``'s compressed bytes are."""
    for _pos, values, raw in central_headers(data):
        if raw == name.encode():
            lpos = values["local_offset"]
            lvalues = dict(zip(_L_FIELDS, _LOCAL.unpack_from(data, lpos), strict=True))
            start = lpos + 30 + lvalues["nlen"] + lvalues["xlen"]
            return start, start + values["csize"]
    raise AssertionError(f"no member {name!r}")


# ---------------------------------------------------------------------- self-checks
def test_the_baseline_package_verifies(tmp_path):
    report = verify_package(craft(tmp_path / "ok.rmpkg"))
    assert report.ok, [e.to_json() for e in report.errors]
    assert report.warnings == []
    assert {m.name: m.status for m in report.members} == {
        "manifest.json": "ok",
        "runtime.wasm": "ok",
        "models/tiny.bin": "ok",
        "deps/readme.txt": "ok",
        "metadata.json": "ok",
    }


def test_surgery_helpers_round_trip(tmp_path):
    data = craft(tmp_path / "ok.rmpkg").read_bytes()
    names = [raw.decode() for _, _, raw in central_headers(data)]
    assert names == ["manifest.json", "runtime.wasm", "models/tiny.bin", "deps/readme.txt", "metadata.json"]
    same = patch(data, "runtime.wasm")  # no changes: identical bytes
    assert same == data
    start, end = data_range(data, "runtime.wasm")
    assert 0 < start < end < len(data)
