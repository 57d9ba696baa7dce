"""The hostile corpus: every package here is built inside its test and breaks exactly one rule.

Each case checks three things: ``verify_package`` names the exact rule (error code),
``extract_package`` refuses with the same code, and afterwards the whole test directory is
byte-for-byte the listing it was before (nothing written inside or outside the target, no
partial directory left). Rules and codes: docs/RMPKG.md, "Safety rules".
"""

from __future__ import annotations

import json
import os
import stat
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from rmstudio.core.errors import RMError
from rmstudio.core.package import (
    DEFAULT_LIMITS,
    PackageLimits,
    extract_package,
    render,
    summarize,
    verify_package,
)
from rmstudio.core.package.format import CHUNK, ZSTD_MAGIC
from rmstudio.core.package.read import PackageReader
from tests.unit.test_package_zipcraft import (
    CALCULATOR,
    WASM,
    Entry,
    as_bytes,
    baseline_entries,
    central_headers,
    craft,
    data_range,
    manifest,
    metadata_for,
    patch,
)

# An absolute path no test run could have created by itself; a hostile member aims at it.
ESCAPE = f"/tmp/rmstudio-escape-{uuid.uuid4().hex}"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = os.lstat(p)
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size)
    return out


def refusal(pkg: Path, limits: PackageLimits = DEFAULT_LIMITS) -> RMError:
    try:
        report = verify_package(pkg, limits)
    except RMError as exc:
        return exc
    assert report.errors, f"{pkg.name} was accepted"
    return report.errors[0]


def assert_refused(tmp_path: Path, pkg: Path, code: str, limits: PackageLimits = DEFAULT_LIMITS) -> RMError:
    err = refusal(pkg, limits)
    assert err.code == code, err.to_json()
    assert err.message and "Traceback" not in err.describe()
    parent = tmp_path / "unpack-here"
    parent.mkdir(exist_ok=True)
    before = snapshot(tmp_path)
    with pytest.raises(RMError) as exc:
        extract_package(pkg, parent / "out", limits)
    assert exc.value.code == code, exc.value.to_json()
    assert snapshot(tmp_path) == before, "extraction left something behind"
    assert not Path(ESCAPE).exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    return err


Builder = Callable[[Path], "Path | tuple[Path, PackageLimits]"]


def replace_entry(name: str, **changes) -> list[Entry]:
    entries = baseline_entries()
    for e in entries:
        if e.name == name:
            for k, v in changes.items():
                setattr(e, k, v)
    return entries


def add(*extra: Entry) -> list[Entry]:
    return [*baseline_entries(), *extra]


def without(name: str) -> list[Entry]:
    return [e for e in baseline_entries() if e.name != name]


def surgery(edit: Callable[[bytes], bytes], entries: list[Entry] | None = None) -> Builder:
    def build(tmp: Path) -> Path:
        pkg = craft(tmp / "hostile.rmpkg", entries)
        pkg.write_bytes(edit(pkg.read_bytes()))
        return pkg

    return build


def crafted(entries: list[Entry] | None = None, **kw) -> Builder:
    return lambda tmp: craft(tmp / "hostile.rmpkg", entries, **kw)


def with_limits(builder: Builder, **limits) -> Builder:
    return lambda tmp: (builder(tmp), PackageLimits(**limits))


def raw(data: bytes, name: str = "hostile.rmpkg") -> Builder:
    def build(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return build


def _swap_name(old: str, new: str) -> Callable[[bytes], bytes]:
    assert len(old) == len(new)
    return lambda data: data.replace(old.encode(), new.encode())


def _local_name(member: str, new: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        for _pos, values, raw_name in central_headers(data):
            if raw_name == member.encode():
                start = values["local_offset"] + 30
                return data[:start] + new.encode() + data[start + len(new) :]
        raise AssertionError(member)

    return edit


def _flip_byte(member: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        start, end = data_range(data, member)
        mid = (start + end) // 2
        return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]

    return edit


def _same_offset(member: str, as_member: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        target = next(v["local_offset"] for _, v, n in central_headers(data) if n == as_member.encode())
        return patch(data, member, local=False, local_offset=target)

    return edit


def _lie_about_size(member: str, delta: int) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        size = next(v["usize"] for _, v, n in central_headers(data) if n == member.encode())
        return patch(data, member, usize=size + delta)

    return edit


def _prefix_junk(data: bytes) -> bytes:
    # A fake local-header signature first, so the file still "looks like" a ZIP.
    return b"PK\x03\x04" + b"\x00" * 26 + data


def local_header(member: str, **changes: int) -> Builder:
    """A package whose local header for ``member`` says other than its central entry."""
    return surgery(lambda d: patch(d, member, central=False, **changes))


def _smuggled_runtime(data: bytes) -> bytes:
    """deps/readme.txt's central entry covers a hidden local header + other runtime.wasm bytes;
    its local header declares only the visible part, so a streaming unzipper (which reads
    local headers in order) would extract that hidden runtime.wasm."""
    visible = b"dependency\n"
    start, end = data_range(data, "deps/readme.txt")
    hidden = data[start + len(visible) : end]
    assert hidden.startswith(b"PK\x03\x04")
    return patch(
        data,
        "deps/readme.txt",
        central=False,
        csize=len(visible),
        usize=len(visible),
        crc=zlib.crc32(visible),
    )


def _with_hidden_member(entries: list[Entry]) -> list[Entry]:
    evil = WASM + b"EVIL RUNTIME"
    header = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(evil), len(evil), len(evil), 12, 0
    )
    out = []
    for e in entries:
        if e.name == "deps/readme.txt":
            e = Entry(e.name, e.data + header + b"runtime.wasm" + evil, method=zipfile.ZIP_STORED)
        out.append(e)
    return out


def _end_record_claims_one_member(data: bytes) -> bytes:
    pos = data.rfind(b"PK\x05\x06")
    return data[: pos + 8] + struct.pack("<HH", 1, 1) + data[pos + 12 :]


BIG_RANDOM = os.urandom(2 * CHUNK)
BIG_RANDOM = os.urandom(2 * CHUNK)

CASES: dict[str, tuple[Builder, str]] = {
    # --- stage 1: the file
    "not a zip: text": (raw(b"hello, this is not a package\n"), "package_not_zip"),
    "not a zip: empty file": (raw(b""), "package_not_zip"),
    "not a zip: a JSON manifest named .rmpkg": (raw(as_bytes(CALCULATOR)), "package_not_zip"),
    "not a zip: a bare wasm module": (raw(WASM + b"\x00" * 16), "package_not_zip"),
    "not a zip: gzip": (raw(b"\x1f\x8b\x08\x00" + b"\x00" * 40), "package_not_zip"),
    "zstd OCI bundle named .rmpkg": (raw(ZSTD_MAGIC + b"\x00" * 64), "package_oci_format"),
    "zstd OCI bundle named .tar.zst": (
        raw(ZSTD_MAGIC + b"\x00" * 64, "bundle.tar.zst"),
        "package_oci_format",
    ),
    "truncated to half": (surgery(lambda d: d[: len(d) // 2]), "package_truncated"),
    "truncated by 5 bytes": (surgery(lambda d: d[:-5]), "package_truncated"),
    "only a local header": (surgery(lambda d: d[:40]), "package_truncated"),
    "file over the size limit": (with_limits(crafted(), max_file_bytes=200), "package_too_large"),
    # --- local headers must say what the central directory says (streaming readers use them)
    "local header: other CRC": (local_header("runtime.wasm", crc=0xDEADBEEF), "package_corrupt"),
    "local header: other size": (local_header("runtime.wasm", usize=1), "package_corrupt"),
    "local header: other packed size": (local_header("runtime.wasm", csize=3), "package_corrupt"),
    "local header: data-descriptor flag only there": (
        local_header("runtime.wasm", flags=0x08),
        "package_corrupt",
    ),
    "local header: UTF-8 flag only there": (local_header("deps/readme.txt", flags=0x800), "package_corrupt"),
    "local header: a second runtime.wasm hidden inside a member": (
        surgery(_smuggled_runtime, _with_hidden_member(baseline_entries())),
        "package_corrupt",
    ),
    "end record hides how many members there are": (
        with_limits(
            surgery(
                _end_record_claims_one_member,
                add(*(Entry(f"deps/{i}.txt", b"x") for i in range(60))),
            ),
            max_members=50,
        ),
        "package_too_large",
    ),
    "many members of exactly the ratio floor (1 MiB of zeros each)": (
        crafted(add(*(Entry(f"deps/zeros-{i}.bin", bytes(1 << 20)) for i in range(20)))),
        "package_zip_bomb",
    ),
    "metadata.json with two hash lists (readers keeping the first or the last key differ)": (
        lambda tmp: craft(
            tmp / "hostile.rmpkg",
            baseline_entries(),
            metadata=as_bytes(metadata_for(baseline_entries())).rstrip()[:-1] + b', "files": {}}',
        ),
        "package_invalid_metadata",
    ),
    # --- stage 2: names
    "absolute path": (crafted(add(Entry(ESCAPE, b"x"))), "package_unsafe_path"),
    "absolute path into models": (crafted(add(Entry("/models/x.bin", b"x"))), "package_unsafe_path"),
    "dot-dot at the start": (crafted(add(Entry("../evil.txt", b"x"))), "package_unsafe_path"),
    "dot-dot inside models": (crafted(add(Entry("models/../../../evil.txt", b"x"))), "package_unsafe_path"),
    "dot component": (crafted(add(Entry("deps/./x.txt", b"x"))), "package_unsafe_path"),
    "empty component": (crafted(add(Entry("deps//x.txt", b"x"))), "package_unsafe_path"),
    "backslashes": (crafted(add(Entry("models\\..\\..\\evil.txt", b"x"))), "package_unsafe_path"),
    "drive letter": (crafted(add(Entry("C:/evil.txt", b"x"))), "package_unsafe_path"),
    "drive-relative": (crafted(add(Entry("C:evil.txt", b"x"))), "package_unsafe_path"),
    "alternate data stream": (crafted(add(Entry("deps/a.txt:hidden", b"x"))), "package_unsafe_path"),
    "NUL byte in a name": (
        surgery(_swap_name("deps/aXb.txt", "deps/a\x00b.txt"), add(Entry("deps/aXb.txt", b"x"))),
        "package_unsafe_path",
    ),
    "newline in a name": (crafted(add(Entry("deps/a\nb.txt", b"x"))), "package_unsafe_path"),
    "right-to-left override disguising a name": (
        crafted(add(Entry("deps/report\u202etxt.exe", b"x"))),
        "package_unsafe_path",
    ),
    "zero-width space in a name": (crafted(add(Entry("deps/read\u200bme.txt", b"x"))), "package_unsafe_path"),
    "Windows device name": (crafted(add(Entry("deps/CON.txt", b"x"))), "package_unsafe_path"),
    "trailing dot": (crafted(add(Entry("deps/file.", b"x"))), "package_unsafe_path"),
    "overlong component": (crafted(add(Entry("deps/" + "a" * 300, b"x"))), "package_unsafe_path"),
    # --- stage 2: entry types
    "symbolic link": (
        crafted(add(Entry("models/link.bin", b"/etc/passwd", mode=stat.S_IFLNK | 0o777))),
        "package_link",
    ),
    "symbolic link to a directory": (
        crafted(add(Entry("deps/up", b"../..", mode=stat.S_IFLNK | 0o777))),
        "package_link",
    ),
    "character device": (
        crafted(add(Entry("deps/tty", b"", mode=stat.S_IFCHR | 0o644))),
        "package_special_file",
    ),
    "block device": (crafted(add(Entry("deps/sda", b"", mode=stat.S_IFBLK | 0o644))), "package_special_file"),
    "FIFO": (crafted(add(Entry("deps/pipe", b"", mode=stat.S_IFIFO | 0o644))), "package_special_file"),
    "socket": (crafted(add(Entry("deps/sock", b"", mode=stat.S_IFSOCK | 0o644))), "package_special_file"),
    "directory mode on a file name": (
        crafted(add(Entry("deps/dir", b"", mode=stat.S_IFDIR | 0o755))),
        "package_special_file",
    ),
    "encrypted member": (surgery(lambda d: patch(d, "runtime.wasm", flags=0x1)), "package_encrypted"),
    "strong encryption flag": (surgery(lambda d: patch(d, "runtime.wasm", flags=0x40)), "package_encrypted"),
    "encrypted in the local header only": (
        surgery(lambda d: patch(d, "runtime.wasm", central=False, flags=0x1)),
        "package_encrypted",
    ),
    "bzip2 member": (
        crafted(replace_entry("deps/readme.txt", method=zipfile.ZIP_BZIP2)),
        "package_unsupported_compression",
    ),
    "unknown compression method": (
        surgery(lambda d: patch(d, "deps/readme.txt", method=99)),
        "package_unsupported_compression",
    ),
    # --- stage 2: duplicates and collisions
    "duplicate names": (crafted(add(Entry("deps/readme.txt", b"the other one"))), "package_duplicate_member"),
    "names differing only in case": (crafted(add(Entry("deps/README.txt", b"x"))), "package_case_conflict"),
    "names equal only after case folding is normalised again (Greek dialytika and tonos)": (
        crafted(add(Entry("deps/\u0390.txt", b"a"), Entry("deps/\u03aa\u0301.txt", b"b"))),
        "package_case_conflict",
    ),
    "a character Windows forbids": (crafted(add(Entry("deps/what?.txt", b"x"))), "package_unsafe_path"),
    "names differing only in Unicode form": (
        crafted(add(Entry("deps/caf\u00e9.txt", b"a"), Entry("deps/cafe\u0301.txt", b"b"))),
        "package_case_conflict",
    ),
    "a file and a directory of one name": (
        crafted(add(Entry("deps/x", b"a"), Entry("deps/x/y", b"b"))),
        "package_duplicate_member",
    ),
    # --- stage 2: layout
    "unexpected root file": (crafted(add(Entry("install.sh", b"rm -rf ~\n"))), "package_unexpected_member"),
    "macOS resource fork folder": (
        crafted(add(Entry("__MACOSX/._manifest.json", b"x"))),
        "package_unexpected_member",
    ),
    "a file named models": (crafted(add(Entry("models", b"x"))), "package_unexpected_member"),
    "directory entry with content": (crafted(add(Entry("deps/sub/", b"abc"))), "package_corrupt"),
    # --- stage 2: sizes and ratios
    "member over the size limit": (with_limits(crafted(), max_member_bytes=100), "package_too_large"),
    "manifest over the JSON limit": (with_limits(crafted(), max_json_bytes=100), "package_too_large"),
    "total over the configured limit": (with_limits(crafted(), max_total_bytes=300), "package_too_large"),
    "too many members": (with_limits(crafted(), max_members=3), "package_too_large"),
    "zip bomb: 64 MiB of zeros": (crafted(add(Entry("deps/zeros.bin", bytes(64 << 20)))), "package_zip_bomb"),
    "stored member with two sizes": (
        surgery(
            lambda d: patch(d, "deps/readme.txt", csize=5),
            replace_entry("deps/readme.txt", method=zipfile.ZIP_STORED),
        ),
        "package_corrupt",
    ),
    # --- stage 2: regions
    "two members sharing their data": (
        surgery(_same_offset("deps/readme.txt", "models/tiny.bin")),
        "package_overlapping_members",
    ),
    "local header names another file": (
        surgery(_local_name("models/tiny.bin", "../../etc/x.bi")),
        "package_corrupt",
    ),
    "bytes hidden before the first member": (surgery(_prefix_junk), "package_corrupt"),
    # --- stage 3: member data
    "header declares less than the data holds": (
        surgery(_lie_about_size("deps/big.bin", -(2 * CHUNK - 10)), add(Entry("deps/big.bin", BIG_RANDOM))),
        "package_size_mismatch",
    ),
    "header declares more than the data holds": (
        surgery(_lie_about_size("deps/readme.txt", 1000)),
        "package_size_mismatch",
    ),
    "damaged deflate data": (surgery(_flip_byte("models/tiny.bin")), "package_corrupt"),
    "CRC-32 mismatch": (surgery(lambda d: patch(d, "deps/readme.txt", crc=0x12345678)), "package_corrupt"),
    # --- stage 3: against metadata.json
    "hash mismatch": (
        crafted(replace_entry("runtime.wasm", meta={"sha256": "0" * 64})),
        "package_hash_mismatch",
    ),
    "hash mismatch in a model": (
        crafted(replace_entry("models/tiny.bin", meta={"sha256": "f" * 64})),
        "package_hash_mismatch",
    ),
    "size differs from metadata": (
        crafted(replace_entry("deps/readme.txt", meta={"size": 3})),
        "package_size_mismatch",
    ),
    "member not listed in metadata": (
        crafted(add(Entry("deps/added-later.txt", b"x", listed=False))),
        "package_unlisted_member",
    ),
    "listed member missing": (
        lambda tmp: craft(
            tmp / "hostile.rmpkg",
            baseline_entries(),
            metadata=metadata_for([*baseline_entries(), Entry("models/gone.bin", b"g")]),
        ),
        "package_missing_member",
    ),
    "no manifest.json": (crafted(without("manifest.json")), "package_missing_member"),
    "no runtime.wasm": (crafted(without("runtime.wasm")), "package_missing_member"),
    "runtime.wasm without the wasm magic": (
        crafted(replace_entry("runtime.wasm", data=b"MZ\x90\x00" * 8)),
        "package_not_wasm",
    ),
    "runtime.wasm is a component": (
        crafted(replace_entry("runtime.wasm", data=b"\x00asm\x0d\x00\x01\x00")),
        "package_not_wasm",
    ),
    "metadata.json not JSON": (crafted(metadata=b"{not json"), "package_invalid_metadata"),
    "metadata.json of another format": (crafted(format="oci"), "package_invalid_metadata"),
    "metadata.json malformed version": (crafted(format_version="one"), "package_invalid_metadata"),
    "metadata.json without files": (crafted(files=None), "package_invalid_metadata"),
    "metadata.json lists an unsafe name": (
        crafted(files={"../evil.txt": {"sha256": "0" * 64, "size": 1}}),
        "package_invalid_metadata",
    ),
    "format major version 2": (crafted(format_version="2.0"), "package_version_unsupported"),
    "format major version 0": (crafted(format_version="0.9"), "package_version_unsupported"),
    # --- stage 3: the manifest
    "manifest not JSON": (crafted(replace_entry("manifest.json", data=b"{oops")), "package_invalid_manifest"),
    "manifest with odd shapes": (
        crafted(
            replace_entry("manifest.json", data=as_bytes({"version": "v1", "metadata": [1], "nodes": "x"}))
        ),
        "package_invalid_manifest",
    ),
    "manifest not an object": (
        crafted(replace_entry("manifest.json", data=b"[1, 2]")),
        "package_invalid_manifest",
    ),
    "manifest with a cycle": (
        crafted(
            replace_entry(
                "manifest.json",
                data=as_bytes(
                    {
                        **CALCULATOR,
                        "connections": [{"from": "multiply", "to": "add"}, {"from": "add", "to": "multiply"}],
                    }
                ),
            )
        ),
        "package_invalid_manifest",
    ),
    "manifest with an unknown node type": (
        crafted(
            replace_entry(
                "manifest.json",
                data=as_bytes(
                    {**CALCULATOR, "nodes": [{"id": "x", "node_type": "ShellCommandNode"}], "connections": []}
                ),
            )
        ),
        "package_invalid_manifest",
    ),
    "target native": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(target="native")))),
        "package_unknown_target",
    ),
    "target wasm32-unknown-unknown": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(target="wasm32-unknown-unknown")))),
        "package_unknown_target",
    ),
    "no runtime section": (
        crafted(
            replace_entry(
                "manifest.json", data=as_bytes({k: v for k, v in CALCULATOR.items() if k != "runtime"})
            )
        ),
        "package_invalid_manifest",
    ),
    "preopen of a host directory": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(preopens=["/etc"])))),
        "package_invalid_manifest",
    ),
    "preopen of the root": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(preopens=["/models", "/"])))),
        "package_invalid_manifest",
    ),
    "model mapped outside models/": (
        crafted(
            replace_entry("manifest.json", data=as_bytes(manifest(models={"tiny": "../../../etc/passwd"})))
        ),
        "package_invalid_manifest",
    ),
    "model mapped to an absolute path": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(models={"tiny": "/etc/passwd"})))),
        "package_invalid_manifest",
    ),
    "entry other than runtime.wasm": (
        crafted(replace_entry("manifest.json", data=as_bytes(manifest(entry="deps/evil.wasm")))),
        "package_invalid_manifest",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_package_is_refused_and_leaves_nothing(tmp_path, case):
    builder, code = CASES[case]
    built = builder(tmp_path)
    pkg, limits = built if isinstance(built, tuple) else (built, DEFAULT_LIMITS)
    err = assert_refused(tmp_path, pkg, code, limits)
    assert err.source and str(pkg) in err.source
    try:
        report = verify_package(pkg, limits)
    except RMError:
        return
    # inspect still shows what it could read, without tripping over the hostile parts
    text = render(summarize(report))
    assert "verification: FAILED" in text and code in text


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.rmpkg"
    os.mkfifo(fifo)
    err = refusal(fifo)
    assert err.code == "package_not_found" and "not a regular file" in err.message


def test_lying_header_stops_the_read_at_once(tmp_path):
    """The central directory says 10 bytes; reading stops before handing out a single byte more."""
    pkg = surgery(_lie_about_size("deps/big.bin", -(2 * CHUNK - 10)), add(Entry("deps/big.bin", BIG_RANDOM)))(
        tmp_path
    )
    with PackageReader(pkg) as reader:
        member = reader.member("deps/big.bin")
        assert member is not None and member.size == 10
        got = 0
        with pytest.raises(RMError) as exc:
            for chunk in reader.stream(member):
                got += len(chunk)
        assert exc.value.code == "package_size_mismatch"
        assert got == 0
        assert reader.total_out <= CHUNK  # one inflate step at most, then it stopped


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    pkg = craft(tmp_path / "bomb.rmpkg", add(Entry("deps/zeros.bin", bytes(64 << 20))))
    assert pkg.stat().st_size < 1 << 20
    with pytest.raises(RMError) as exc, PackageReader(pkg) as reader:
        reader.total_out  # noqa: B018 - never reached
    assert exc.value.code == "package_zip_bomb"
    assert "64.0 MiB" in exc.value.message


def test_total_limit_is_configurable(tmp_path):
    pkg = craft(tmp_path / "ok.rmpkg", add(Entry("deps/data.bin", os.urandom(200_000))))
    assert verify_package(pkg).ok
    assert_refused(tmp_path, pkg, "package_too_large", PackageLimits.with_total(100_000))


def test_extraction_refuses_a_non_empty_or_linked_target(tmp_path):
    pkg = craft(tmp_path / "ok.rmpkg")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(RMError) as exc:
        extract_package(pkg, full)
    assert exc.value.code == "package_exists"
    assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(RMError) as exc:
        extract_package(pkg, link)
    assert exc.value.code == "package_exists"
    assert not (tmp_path / "elsewhere").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_good_package_extracts_with_fixed_permissions(tmp_path):
    pkg = craft(tmp_path / "ok.rmpkg", replace_entry("runtime.wasm", mode=stat.S_IFREG | 0o4777))
    out = tmp_path / "out"
    report = extract_package(pkg, out)
    assert report.ok
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "deps",
        "deps/readme.txt",
        "manifest.json",
        "metadata.json",
        "models",
        "models/tiny.bin",
        "runtime.wasm",
    ]
    assert stat.S_IMODE((out / "runtime.wasm").stat().st_mode) == 0o644  # setuid and x bits ignored
    assert stat.S_IMODE((out / "models").stat().st_mode) == 0o755
    assert (out / "models" / "tiny.bin").read_bytes() == b"model bytes " * 10
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_empty_existing_target_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    inode = out.stat().st_ino
    extract_package(craft(tmp_path / "ok.rmpkg"), out)
    assert (out / "manifest.json").is_file()
    assert out.stat().st_ino == inode  # filled, not replaced: it may be someone's cwd


def test_unpacking_into_the_current_directory(tmp_path, monkeypatch):
    pkg = craft(tmp_path / "ok.rmpkg")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    extract_package(pkg, ".")
    assert Path("manifest.json").is_file() and Path.cwd() == here


def test_a_refused_unpack_leaves_no_parent_directories(tmp_path):
    pkg = local_header("runtime.wasm", crc=0xDEADBEEF)(tmp_path)
    with pytest.raises(RMError):
        extract_package(pkg, tmp_path / "a" / "b" / "c" / "out")
    assert not (tmp_path / "a").exists()


def test_filesystem_problems_are_io_errors(tmp_path):
    pkg = craft(tmp_path / "ok.rmpkg")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(RMError) as exc:
        extract_package(pkg, blocker / "out")
    assert exc.value.code == "io_error" and "is a file, not a folder" in exc.value.message
    long_name = tmp_path / ("x" * 250)  # fine as a name; the temp directory's must fit too
    extract_package(pkg, long_name)
    assert (long_name / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ok.rmpkg", "afile", "x" * 250])


# ---------------------------------------------------------------------- read, but with a warning
def test_wrong_extension_warns_but_reads(tmp_path):
    for name in ("calculator.zip", "calculator"):
        report = verify_package(craft(tmp_path / name))
        assert report.ok
        assert [w.code for w in report.warnings] == ["package_extension"]


def test_newer_minor_format_is_read_with_a_warning(tmp_path):
    pkg = craft(tmp_path / "newer.rmpkg", format_version="1.7", shiny_new_field={"x": 1})
    report = verify_package(pkg)
    assert report.ok and report.format_version == "1.7"
    assert "package_newer_minor" in [w.code for w in report.warnings]


def test_major_version_message_says_what_to_do(tmp_path):
    err = refusal(craft(tmp_path / "v2.rmpkg", format_version="2.0"))
    assert "format 2.0" in err.message and "1.x" in err.message
    assert err.hint and "Update RM Studio" in err.hint


def test_newer_requirements_are_warnings_for_verify(tmp_path):
    pkg = craft(
        tmp_path / "future.rmpkg",
        replace_entry("manifest.json", data=as_bytes(manifest(min_version="99.0.0", contract_version=7))),
    )
    report = verify_package(pkg)
    assert report.ok
    codes = [w.code for w in report.warnings]
    assert "package_requires_newer" in codes and "package_runtime_incompatible" in codes


def test_legacy_remotemedia_package_is_structurally_checked_but_unverified(tmp_path):
    legacy_manifest = {k: v for k, v in CALCULATOR.items() if k != "runtime"}
    entries = [Entry("manifest.json", as_bytes(legacy_manifest)), Entry("runtime.wasm", WASM)]
    pkg = craft(tmp_path / "legacy.rmpkg", entries, metadata={"package_name": "calc", "license": "MIT"})
    report = verify_package(pkg)
    assert report.legacy
    assert [e.code for e in report.errors] == ["package_unverified"]
    assert {"package_legacy", "package_target_assumed"} <= {w.code for w in report.warnings}
    assert report.member("runtime.wasm").status == "unverified"
    # unpacking is allowed (the extraction rules protect the disk) ...
    out = tmp_path / "out"
    assert extract_package(pkg, out).legacy
    assert (out / "manifest.json").is_file()
    # ... but its safety rules still apply
    hostile = craft(tmp_path / "legacy-evil.rmpkg", [*entries, Entry("../evil.txt", b"x")], metadata=None)
    assert_refused(tmp_path, hostile, "package_unsafe_path")


def test_every_problem_is_listed_for_inspect(tmp_path):
    entries = add(Entry("deps/late.txt", b"x", listed=False))
    entries[1].meta = {"sha256": "0" * 64}
    report = verify_package(craft(tmp_path / "many.rmpkg", entries))
    assert [e.code for e in report.errors] == ["package_hash_mismatch", "package_unlisted_member"]
    assert report.member("runtime.wasm").status == "hash_mismatch"
    assert report.member("deps/late.txt").status == "unlisted"


def test_json_helpers_are_what_the_corpus_uses():
    # The corpus's manifest really is valid apart from the one change each case makes.
    doc = json.loads(as_bytes(manifest()))
    assert doc["runtime"]["preopens"] == ["/models", "/deps"]


class _Unseekable:
    """A write-only stream: zipfile then writes each member with a data descriptor (flag bit 3)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass


def _streamed(tmp_path: Path) -> tuple[Path, bytes]:
    entries = baseline_entries()
    out = _Unseekable()
    with zipfile.ZipFile(out, "w") as zf:  # type: ignore[arg-type]
        for e in [*entries, Entry("metadata.json", as_bytes(metadata_for(entries)))]:
            zi = zipfile.ZipInfo(e.name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.create_system = 3
            zi.external_attr = e.mode << 16
            zi.compress_type = e.method
            zf.writestr(zi, e.data)
    assert all(v["flags"] & 0x08 for _, v, _ in central_headers(bytes(out.data)))
    return tmp_path / "streamed.rmpkg", bytes(out.data)


def test_members_with_data_descriptors_verify(tmp_path):
    path, data = _streamed(tmp_path)
    path.write_bytes(data)
    assert verify_package(path).ok


def test_a_data_descriptor_that_disagrees_is_refused(tmp_path):
    path, data = _streamed(tmp_path)
    _start, end = data_range(data, "runtime.wasm")
    assert data[end : end + 4] == b"PK\x07\x08"  # the descriptor's signature, then its CRC
    path.write_bytes(data[: end + 4] + b"\xde\xad\xbe\xef" + data[end + 8 :])
    assert_refused(tmp_path, path, "package_corrupt")


def test_a_lying_member_count_is_caught_before_zipfile_reads_the_directory(tmp_path, monkeypatch):
    pkg = surgery(_end_record_claims_one_member, add(*(Entry(f"deps/{i}.txt", b"x") for i in range(60))))(
        tmp_path
    )

    def no_parse(*args, **kwargs):
        raise AssertionError("zipfile parsed a directory that is over the limit")

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", no_parse)
    err = refusal(pkg, PackageLimits(max_members=50))
    assert err.code == "package_too_large" and "claims 1" in err.message
