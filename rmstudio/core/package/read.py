"""Opening a package without trusting it: stages 1 and 2 of docs/RMPKG.md, and member streams.

:class:`PackageReader` checks the file (stage 1) and every central-directory entry (stage 2)
before a single byte of member data is read. :meth:`PackageReader.stream` then reads one
member with RM Studio's own inflater: the local header is checked against the central
directory, the raw data is read only within the declared compressed size, and output is
counted as it is produced, so a lying header, a zip bomb or a damaged stream stops the read
at once. ``zipfile`` is used only to parse the central directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rmstudio.core.errors import RMError
from rmstudio.core.package import names
from rmstudio.core.package.format import (
    CHUNK,
    DEFAULT_LIMITS,
    EXTENSION,
    MANIFEST,
    METADATA,
    PackageLimits,
    oci_error,
    sniff,
)

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_CENTRAL_SIG = 0x02014B50
_LOCAL_SIG = 0x04034B50
_FLAG_ENCRYPTED = 0x01
_FLAG_DESCRIPTOR = 0x08
_FLAG_STRONG_ENCRYPTION = 0x40
_FLAG_UTF8 = 0x800

# Flags that change how a reader finds or names a member's bytes: local and central must agree.
_FLAGS_THAT_MUST_AGREE = _FLAG_ENCRYPTED | _FLAG_DESCRIPTOR | _FLAG_STRONG_ENCRYPTION | _FLAG_UTF8
# A data descriptor (flag bit 3) follows the data: 12 or 16 bytes, 20 or 24 with zip64.
_DESCRIPTOR_SIZES = (12, 16, 20, 24)
_DESCRIPTOR_SIG = 0x08074B50
_ZIP64_MARK = 0xFFFFFFFF


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """(uncompressed, compressed) from a local header's zip64 extra field, if present."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        if tag == 0x0001 and size >= 16:
            return struct.unpack_from("<QQ", extra, i + 4)
        i += 4 + size
    return None


_MAX_CENTRAL_DIRECTORY = 64 << 20
_S_IFMT = 0o170000


def _fmt(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


@dataclass
class Member:
    """One entry of the central directory, after stage 2."""

    name: str
    kind: str  # "root", "models", "deps" or "dir"
    size: int  # uncompressed size the central directory declares
    packed: int  # compressed size the central directory declares
    crc: int
    method: int
    flags: int
    header_offset: int
    data_start: int = 0

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


class PackageReader:
    """An open package whose file and directory passed stages 1 and 2. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.source = str(path)
        self.limits = limits
        self.warnings: list[RMError] = []
        self.members: list[Member] = []
        self.total_out = 0
        self._f = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> PackageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def fileno(self) -> int:
        assert self._f is not None
        return self._f.fileno()

    def file_sha256(self) -> str:
        """The package id: sha256 of the whole file, read through the open handle."""
        assert self._f is not None
        h = hashlib.sha256()
        self._f.seek(0)
        while block := self._f.read(CHUNK):
            h.update(block)
        return h.hexdigest()

    def error(
        self, code: str, message: str, *, member: str | None = None, hint: str | None = None
    ) -> RMError:
        return RMError(code, message, source=self.source, path=member, hint=hint)

    # ------------------------------------------------------------------ stage 1
    def _open(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise self.error("package_not_found", "package file not found") from None
        except OSError as exc:
            raise self.error("package_not_found", f"cannot read the package: {exc.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise self.error(
                "package_not_found",
                "this is a directory, not a package file",
                hint="An unpacked package is run by its manifest: rmstudio run DIR/manifest.json",
            )
        if not stat.S_ISREG(st.st_mode):
            raise self.error("package_not_found", "this is not a regular file")
        try:
            # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening cannot hang
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError as exc:
            raise self.error("package_not_found", f"cannot open the package: {exc.strerror}") from None
        self._f = os.fdopen(fd, "rb")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # what was opened is what counts
            raise self.error("package_not_found", "this is not a regular file")
        self.file_size = st.st_size
        if self.file_size > self.limits.max_file_bytes:
            raise self.error(
                "package_too_large",
                f"the package file is {_fmt(self.file_size)}, over the limit of "
                f"{_fmt(self.limits.max_file_bytes)}",
                hint="Raise the limit with --max-size if you trust this package",
            )
        head = self._f.read(8)
        kind = sniff(self.path, head)
        if kind == "oci":
            raise oci_error(self.source)
        if kind != "zip":
            raise self.error(
                "package_not_zip", "this is not an .rmpkg package (not a ZIP archive)", hint=_guess(head)
            )
        if self.path.suffix.lower() != EXTENSION:
            self.warnings.append(
                RMError(
                    "package_extension",
                    f"the file is named '{self.path.name}'; packages are normally named *{EXTENSION} "
                    "(its content is a package, so it was read anyway)",
                    source=self.source,
                )
            )
        self._check_end_record()
        self._f.seek(0)
        try:
            zf = zipfile.ZipFile(self._f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error) as exc:
            raise self.error(
                "package_truncated",
                f"the package is damaged or incomplete: {exc}",
                hint="Was the download or copy interrupted? Fetch the package again",
            ) from None
        except NotImplementedError as exc:
            raise self.error(
                "package_truncated", f"the ZIP uses a feature RM Studio does not read: {exc}"
            ) from None
        except UnicodeDecodeError:
            raise self.error(
                "package_unsafe_path", "a member name is flagged UTF-8 but is not valid UTF-8"
            ) from None
        self._start_dir = zf.start_dir
        infos = zf.infolist()
        self._check_directory(infos)
        self._check_regions()

    def _check_end_record(self) -> None:
        """Bound the central directory before zipfile reads it into memory."""
        assert self._f is not None
        end_rec = getattr(zipfile, "_EndRecData", None)
        if end_rec is None:  # pragma: no cover - present in every CPython since 2.x
            return
        try:
            rec = end_rec(self._f)
        except (OSError, struct.error, ValueError):
            rec = None
        if not rec:
            raise self.error(
                "package_truncated",
                "the package is damaged or incomplete: its ZIP end record is missing",
                hint="Was the download or copy interrupted? Fetch the package again",
            )
        entries, cd_size = rec[4], rec[5]  # _ECD_ENTRIES_TOTAL, _ECD_SIZE
        if entries > self.limits.max_members:
            raise self.error(
                "package_too_large",
                f"the package has {entries} members, over the limit of {self.limits.max_members}",
            )
        if cd_size > min(_MAX_CENTRAL_DIRECTORY, self.file_size):
            raise self.error("package_truncated", "the ZIP central directory size is impossible")
        # The end record's count can lie: count the headers themselves (at most one over the
        # limit) before zipfile builds an object for each of them.
        pos = rec[9] - cd_size  # _ECD_LOCATION: where zipfile will read the directory
        count = 0
        while count <= self.limits.max_members and pos >= 0:
            self._f.seek(pos)
            head = self._f.read(_CENTRAL_HEADER.size)
            if len(head) < _CENTRAL_HEADER.size or int.from_bytes(head[:4], "little") != _CENTRAL_SIG:
                break
            nlen, xlen, clen = _CENTRAL_HEADER.unpack(head)[10:13]
            pos += _CENTRAL_HEADER.size + nlen + xlen + clen
            count += 1
        if count > self.limits.max_members:
            raise self.error(
                "package_too_large",
                f"the package's ZIP directory holds over {self.limits.max_members} members "
                f"(its end record claims {entries}), over the limit of {self.limits.max_members}",
            )

    # ------------------------------------------------------------------ stage 2
    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        lim = self.limits
        if len(infos) > lim.max_members:
            raise self.error(
                "package_too_large",
                f"the package has {len(infos)} members, over the limit of {lim.max_members}",
            )
        seen: dict[str, str] = {}
        keys: dict[str, str] = {}
        total = 0
        for info in infos:
            name = info.orig_filename
            names.check_name(name, self.source)
            mode = (info.external_attr >> 16) & 0xFFFF
            ftype = mode & _S_IFMT
            if ftype == stat.S_IFLNK:
                raise self.error(
                    "package_link",
                    f"member {name!r} is a symbolic link",
                    member=name,
                    hint="Packages may only hold regular files; a link could point anywhere on your disk",
                )
            if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise self.error(
                    "package_special_file",
                    f"member {name!r} is a device, FIFO or socket entry (mode {mode:#o})",
                    member=name,
                    hint="Packages may only hold regular files",
                )
            if ftype == stat.S_IFDIR and not name.endswith("/"):
                raise self.error(
                    "package_special_file", f"member {name!r} is marked as a directory", member=name
                )
            if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
                raise self.error(
                    "package_encrypted",
                    f"member {name!r} is encrypted",
                    member=name,
                    hint="RM Studio packages are never encrypted; this one was not built by RM Studio",
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(
                    "package_unsupported_compression",
                    f"member {name!r} uses compression method {info.compress_type}; "
                    "packages use deflate (8) or none (0)",
                    member=name,
                )
            if name in seen:
                raise self.error(
                    "package_duplicate_member",
                    f"the package holds two members named {name!r}",
                    member=name,
                    hint="Tools disagree about which copy wins, so the package is refused",
                )
            seen[name] = name
            key = names.collision_key(name)
            if key in keys:
                raise self.error(
                    "package_case_conflict",
                    f"members {keys[key]!r} and {name!r} differ only in case or Unicode form",
                    member=name,
                    hint="They would be the same file on macOS and Windows",
                )
            keys[key] = name
            kind = names.layout_kind(name)
            if kind is None:
                raise self.error(
                    "package_unexpected_member",
                    f"unexpected member {name!r}: a package holds only manifest.json, runtime.wasm, "
                    "metadata.json, models/ and deps/",
                    member=name,
                    hint="Rebuild the package with `rmstudio pack`",
                )
            if kind == "dir" and info.file_size:
                raise self.error("package_corrupt", f"directory entry {name!r} has content", member=name)
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise self.error(
                    "package_corrupt",
                    f"member {name!r} is stored uncompressed but its two sizes differ",
                    member=name,
                )
            limit = lim.max_json_bytes if name in (MANIFEST, METADATA) else lim.max_member_bytes
            if info.file_size > limit:
                raise self.error(
                    "package_too_large",
                    f"member {name!r} declares {_fmt(info.file_size)}, over the limit of {_fmt(limit)}",
                    member=name,
                )
            total += info.file_size
            if total > lim.max_total_bytes:
                raise self.error(
                    "package_too_large",
                    f"the members add up to more than the limit of {_fmt(lim.max_total_bytes)}",
                    hint="Raise the limit with --max-size if you trust this package",
                )
            if info.file_size > lim.ratio_floor_bytes and info.file_size > lim.max_ratio * max(
                info.compress_size, 1
            ):
                raise self.error(
                    "package_zip_bomb",
                    f"member {name!r} would expand {info.file_size / max(info.compress_size, 1):.0f} times "
                    f"({_fmt(info.compress_size)} to {_fmt(info.file_size)}); the limit is "
                    f"{lim.max_ratio} times",
                    member=name,
                    hint="Ratios like this are what zip bombs use",
                )
            self.members.append(
                Member(
                    name=name,
                    kind=kind,
                    size=info.file_size,
                    packed=info.compress_size,
                    crc=info.CRC,
                    method=info.compress_type,
                    flags=info.flag_bits,
                    header_offset=info.header_offset,
                )
            )
        files = {names.collision_key(m.name) for m in self.members if not m.is_dir}
        for m in self.members:
            parts = names.collision_key(m.name).split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in files:
                    raise self.error(
                        "package_duplicate_member",
                        f"member {m.name!r} lies under {'/'.join(parts[:i])!r}, which is a file",
                        member=m.name,
                    )

    def _check_regions(self) -> None:
        """Each member's bytes are its own: no overlaps, nothing hidden between members."""
        assert self._f is not None
        ordered = sorted(self.members, key=lambda m: m.header_offset)
        expected_start = 0
        prev: Member | None = None
        for m in ordered:
            gap = m.header_offset - expected_start
            if gap < 0:
                raise self.error(
                    "package_overlapping_members",
                    f"member {m.name!r} overlaps the data of {prev.name if prev else 'the start'!r}",
                    member=m.name,
                    hint="Overlapping members are a zip-bomb technique; the package is refused",
                )
            if gap and not (prev is not None and self._is_descriptor(prev, expected_start, gap)):
                where = (
                    f"before member {m.name!r}" if prev is None else f"between {prev.name!r} and {m.name!r}"
                )
                raise self.error("package_corrupt", f"{gap} unaccounted bytes {where}", member=m.name)
            self._f.seek(m.header_offset)
            raw = self._f.read(_LOCAL_HEADER.size)
            if len(raw) != _LOCAL_HEADER.size:
                raise self.error(
                    "package_truncated", f"member {m.name!r}: local header cut off", member=m.name
                )
            sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(raw)
            if sig != _LOCAL_SIG:
                raise self.error("package_corrupt", f"member {m.name!r}: bad local header", member=m.name)
            local_name = self._f.read(nlen)
            encoding = "utf-8" if m.flags & _FLAG_UTF8 else "cp437"
            if local_name != m.name.encode(encoding, "surrogateescape"):
                raise self.error(
                    "package_corrupt",
                    f"member {m.name!r}: the local header names it {local_name[:80]!r}",
                    member=m.name,
                    hint="Tools that read local headers would see a different file",
                )
            if (flags ^ m.flags) & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
                raise self.error("package_encrypted", f"member {m.name!r} is encrypted", member=m.name)
            if method != m.method or (flags ^ m.flags) & _FLAGS_THAT_MUST_AGREE:
                raise self.error(
                    "package_corrupt", f"member {m.name!r}: local and central headers disagree", member=m.name
                )
            extra = self._f.read(xlen)
            if not flags & _FLAG_DESCRIPTOR:
                self._check_local_sizes(m, crc, csize, usize, extra)
            m.data_start = m.header_offset + _LOCAL_HEADER.size + nlen + xlen
            expected_start = m.data_start + m.packed
            prev = m
        gap = self._start_dir - expected_start
        if gap < 0:
            raise self.error(
                "package_overlapping_members",
                f"member {prev.name if prev else ''!r} overlaps the ZIP central directory",
                hint="Overlapping members are a zip-bomb technique; the package is refused",
            )
        if gap and not (prev is not None and self._is_descriptor(prev, expected_start, gap)):
            raise self.error("package_corrupt", f"{gap} unaccounted bytes before the ZIP central directory")

    def _check_local_sizes(self, m: Member, crc: int, csize: int, usize: int, extra: bytes) -> None:
        """A local header's CRC and sizes are the central directory's (streaming unzippers,
        which read only local headers, would otherwise extract other bytes than were verified)."""
        if csize == _ZIP64_MARK or usize == _ZIP64_MARK:
            sizes = _zip64_sizes(extra)
            if sizes is None:
                raise self.error(
                    "package_corrupt",
                    f"member {m.name!r}: zip64 sizes missing in its local header",
                    member=m.name,
                )
            usize, csize = sizes
        if (crc, csize, usize) != (m.crc, m.packed, m.size):
            raise self.error(
                "package_corrupt",
                f"member {m.name!r}: its local header declares other contents "
                f"(CRC {crc:08x}, {csize} B packed, {usize} B) than the central directory "
                f"(CRC {m.crc:08x}, {m.packed} B packed, {m.size} B)",
                member=m.name,
                hint="Tools that read local headers would extract different bytes; the package is refused",
            )

    def _is_descriptor(self, m: Member, offset: int, gap: int) -> bool:
        """True if the ``gap`` bytes at ``offset`` are ``m``'s data descriptor, agreeing with
        the central directory (a descriptor that disagrees is refused outright)."""
        assert self._f is not None
        if not m.flags & _FLAG_DESCRIPTOR or gap not in _DESCRIPTOR_SIZES:
            return False
        self._f.seek(offset)
        raw = self._f.read(gap)
        if len(raw) != gap:
            return False
        if gap in (16, 24):  # with the optional signature
            if int.from_bytes(raw[:4], "little") != _DESCRIPTOR_SIG:
                return False
            raw = raw[4:]
        width = 4 if len(raw) == 12 else 8
        crc = int.from_bytes(raw[:4], "little")
        csize = int.from_bytes(raw[4 : 4 + width], "little")
        usize = int.from_bytes(raw[4 + width :], "little")
        if (crc, csize, usize) != (m.crc, m.packed, m.size):
            raise self.error(
                "package_corrupt",
                f"member {m.name!r}: its data descriptor declares other contents than the central directory",
                member=m.name,
                hint="Tools that read local headers would extract different bytes; the package is refused",
            )
        return True

    # ------------------------------------------------------------------ stage 3 primitive
    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def stream(self, m: Member) -> Iterator[bytes]:
        """The member's bytes in chunks; every limit is enforced on what is actually produced."""
        assert self._f is not None
        lim = self.limits
        limit = lim.max_json_bytes if m.name in (MANIFEST, METADATA) else lim.max_member_bytes
        pos = m.data_start
        remaining = m.packed
        produced = 0
        crc = 0
        inflater = zlib.decompressobj(-zlib.MAX_WBITS) if m.method == zipfile.ZIP_DEFLATED else None

        def read_raw() -> bytes:
            nonlocal pos, remaining
            assert self._f is not None
            self._f.seek(pos)
            data = self._f.read(min(CHUNK, remaining))
            if not data:
                raise self.error("package_truncated", f"member {m.name!r} is cut off", member=m.name)
            pos += len(data)
            remaining -= len(data)
            return data

        def account(out: bytes) -> bytes:
            nonlocal produced, crc
            produced += len(out)
            self.total_out += len(out)
            if produced > m.size:
                raise self.error(
                    "package_size_mismatch",
                    f"member {m.name!r} holds more data than the {m.size} bytes its ZIP header declares",
                    member=m.name,
                    hint="The header lies about the size; reading stopped there",
                )
            if produced > limit or self.total_out > lim.max_total_bytes:
                raise self.error(
                    "package_too_large", f"member {m.name!r} exceeds the size limit", member=m.name
                )
            if produced > lim.ratio_floor_bytes and produced > lim.max_ratio * max(m.packed, 1):
                raise self.error(
                    "package_zip_bomb",
                    f"member {m.name!r} expands beyond {lim.max_ratio} times",
                    member=m.name,
                )
            # Many members each just under the floor: the same bound over the whole package.
            if (
                self.total_out > 16 * lim.ratio_floor_bytes
                and self.total_out > lim.max_ratio * self.file_size
            ):
                raise self.error(
                    "package_zip_bomb",
                    f"the package's members expand beyond {lim.max_ratio} times its size "
                    f"(at member {m.name!r})",
                    member=m.name,
                )
            crc = zlib.crc32(out, crc)
            return out

        try:
            if inflater is None:
                while remaining > 0:
                    yield account(read_raw())
            else:
                while not inflater.eof:
                    if inflater.unconsumed_tail:
                        data = inflater.unconsumed_tail
                    elif remaining > 0:
                        data = read_raw()
                    else:
                        data = b""
                    out = inflater.decompress(data, CHUNK)
                    if out:
                        yield account(out)
                    elif not data:
                        raise self.error(
                            "package_corrupt",
                            f"member {m.name!r}: the compressed data ends early",
                            member=m.name,
                        )
                if remaining > 0 or inflater.unused_data:
                    raise self.error(
                        "package_corrupt",
                        f"member {m.name!r}: extra bytes after the end of its compressed data",
                        member=m.name,
                    )
        except zlib.error as exc:
            raise self.error(
                "package_corrupt", f"member {m.name!r} is damaged: {exc}", member=m.name
            ) from None
        if produced != m.size:
            raise self.error(
                "package_size_mismatch",
                f"member {m.name!r} holds {produced} bytes but its ZIP header declares {m.size}",
                member=m.name,
            )
        if crc != m.crc:
            raise self.error(
                "package_corrupt", f"member {m.name!r} is damaged (CRC-32 mismatch)", member=m.name
            )

    def read_all(self, m: Member) -> bytes:
        return b"".join(self.stream(m))


def _guess(head: bytes) -> str:
    text = head.lstrip()
    if text.startswith((b"{", b"[")):
        return (
            "It looks like JSON text: a manifest is run with `rmstudio run FILE.json`; "
            "build a package with `rmstudio pack`"
        )
    if head.startswith(b"\x00asm"):
        return "It is a bare WebAssembly module; packages are ZIP archives built with `rmstudio pack`"
    if head.startswith(b"\x1f\x8b"):
        return "It is gzip-compressed; packages are ZIP archives built with `rmstudio pack`"
    if not head:
        return "The file is empty"
    return "Packages are ZIP archives built with `rmstudio pack`"
