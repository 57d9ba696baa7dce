"""Reading audio files with soundfile (libsndfile): WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, ...

Every failure becomes an :class:`~rmstudio.core.errors.RMError` with one of these codes and a
hint; no soundfile or libsndfile exception ever leaves this module:

==================== ============================================================================
``audio_not_found``   the path does not exist
``audio_not_a_file``  the path is a directory or a device, pipe, socket
``audio_unreadable``  the operating system refuses to read it (permissions, I/O error)
``audio_empty``       the file has zero bytes, or a valid header but no audio frames
``audio_truncated``   the file ends before its header says it should (cut download or copy)
``audio_unsupported`` a media format this libsndfile cannot decode (M4A/AAC, WMA, video, ...)
``audio_invalid``     not an audio file at all (text, image, archive) or corrupt beyond reading
``audio_too_large``   the decoded samples do not fit in memory
==================== ============================================================================

libsndfile walks the RIFF chunks, so WAV files with chunks before ``data`` (jfk.wav has a
LIST chunk) load correctly; nothing here assumes a 44-byte header. A frame count in a header
is not trusted with one big allocation when it is implausible for the file's size (a damaged
FLAC header can claim four billion frames); such files are decoded block by block.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from rmstudio.core.errors import RMError

# Header sizes writers use for "length unknown" (streaming); not a sign of truncation.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFFFFFFFFFF}

# libsndfile log lines that compare a declared chunk size with what the file holds, e.g.
# "data : 352000 (should be 99922)" (WAV), " SSND : ..." (AIFF), "riff : ..." (W64),
# "  Riff size : ..." (RF64).
_SIZE_MISMATCH = re.compile(r"^\s*(data|SSND|riff|Riff size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)

# Formats whose frame count is an estimate (no exact length in the header).
_ESTIMATED_LENGTH = {"MP3"}

TRUNCATED_HINT = "The copy, download or recording was cut short; get the complete file again"
_DECODER_HINT = "Convert it to WAV or FLAC first (e.g. ffmpeg -i INPUT -ar 16000 OUTPUT.wav)"


@dataclass(frozen=True)
class AudioInfo:
    """What the header says, read without decoding (:func:`audio_info`)."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str  # soundfile's major format name: "WAV", "FLAC", "MP3", ...
    subtype: str  # "PCM_16", "FLOAT", "VORBIS", "MPEG_LAYER_III", ...
    format_info: str  # human names: "WAV (Microsoft)"
    subtype_info: str  # "Signed 16 bit PCM"
    size_bytes: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass
class Audio:
    """A decoded file: float32 samples shaped (frames, channels), full scale at ±1.0."""

    samples: np.ndarray
    sample_rate: int
    path: str | None = None
    format: str = ""
    subtype: str = ""
    format_info: str = ""
    subtype_info: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


_PERMISSION_HINT = "Check the permissions of the file and of its folders"
_IO_HINT = "The disk or network share may be failing; copy the file somewhere local and try again"
_PICK_AUDIO_HINT = "Pick an audio file (WAV, FLAC, OGG, MP3, AIFF, ...)"


def _error(code: str, message: str, path: Path, hint: str) -> RMError:
    return RMError(code, message, source=str(path), hint=hint)


def _check_path(path: Path) -> int:
    """Stat the path and return its size, or raise the matching RMError."""
    try:
        st = path.stat()
    except FileNotFoundError:
        parent = path.parent
        hint = "Check the spelling and the folder" + (
            "" if parent.is_dir() else f"; the folder {parent} does not exist either"
        )
        raise _error("audio_not_found", f"audio file {path.name} does not exist", path, hint) from None
    except PermissionError:
        raise _error(
            "audio_unreadable",
            f"cannot access {path.name}: permission denied",
            path,
            "Check the permissions of the file and its folders",
        ) from None
    except OSError as exc:
        raise _error(
            "audio_unreadable", f"cannot access {path.name}: {exc.strerror or exc}", path, _IO_HINT
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise _error(
            "audio_not_a_file", f"{path.name} is a folder, not an audio file", path, "Pick a file inside it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise _error(
            "audio_not_a_file",
            f"{path.name} is not a regular file (device, pipe or socket)",
            path,
            "Save the audio to a file first",
        )
    return st.st_size


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except PermissionError:
        raise _error(
            "audio_unreadable",
            f"cannot read {path.name}: permission denied",
            path,
            "Check the file's permissions (it must be readable by you)",
        ) from None
    except OSError as exc:
        raise _error(
            "audio_unreadable", f"cannot read {path.name}: {exc.strerror or exc}", path, _IO_HINT
        ) from None


def _sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, name) for recognisable non-audio or undecodable files: kind is invalid|unsupported."""
    if head[4:8] == b"ftyp":
        return "unsupported", "an MP4/M4A/MOV container (AAC or ALAC audio, or video)"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "unsupported", "a Windows Media (ASF/WMA/WMV) file"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "unsupported", "a Matroska/WebM container"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "unsupported", "an AVI video"
    if head.startswith(b"\x0b\x77"):
        return "unsupported", "an AC-3 (Dolby Digital) stream"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "unsupported", "a raw AAC (ADTS) stream"
    if head.startswith(b"#!AMR"):
        return "unsupported", "an AMR voice recording"
    signatures = {
        b"\x89PNG\r\n\x1a\n": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"GIF8": "a GIF image",
        b"%PDF": "a PDF document",
        b"PK\x03\x04": "a zip archive (an .rmpkg package, an Office document, ...)",
        b"\x1f\x8b": "a gzip archive",
        b"\x7fELF": "a program (ELF executable)",
        b"MZ": "a Windows program",
        b"\0asm": "a WebAssembly module",
        b"(\xb5/\xfd": "a zstd archive",
    }
    for magic, name in signatures.items():
        if head.startswith(magic):
            return "invalid", name
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "invalid", "a JSON document (a manifest or request?)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "invalid", "a text file"
    return None


def _declared_container_size(head: bytes) -> int | None:
    """Total size a RIFF/RF64/AIFF header promises, or None when it does not say."""
    if head[:4] in (b"RIFF", b"FORM") and len(head) >= 8:
        order = "little" if head[:4] == b"RIFF" else "big"
        n = int.from_bytes(head[4:8], order)
        return None if n in _UNKNOWN_SIZES else n + 8
    return None


def _open_error(path: Path, size: int, head: bytes, exc: Exception) -> RMError:
    """Turn a failure to open into the most useful RMError."""
    detail = str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")
    name = path.name
    if size == 0:
        return _error(
            "audio_empty", f"{name} is empty (0 bytes)", path, "The file was not written completely"
        )
    declared = _declared_container_size(head)
    if declared is not None and size < declared:
        return _error(
            "audio_truncated",
            f"{name} is truncated: its header promises {declared} bytes but the file has {size} ({detail})",
            path,
            "The copy or download was cut short; get the complete file again",
        )
    sniffed = _sniff(head)
    if sniffed is not None:
        kind, what = sniffed
        if kind == "unsupported":
            return _error(
                "audio_unsupported",
                f"{name} is {what}, which this audio reader cannot decode",
                path,
                _DECODER_HINT,
            )
        return _error(
            "audio_invalid", f"{name} is not an audio file: it looks like {what}", path, _PICK_AUDIO_HINT
        )
    if "not recognised" in detail.lower() or "unknown format" in detail.lower():
        return _error(
            "audio_invalid",
            f"{name} is not in an audio format this reader recognises ({detail})",
            path,
            f"Supported: {', '.join(sorted(readable_formats()))}. {_DECODER_HINT}",
        )
    tag = _wav_format_tag(head)
    if tag is not None and tag not in _WAV_DECODABLE:
        codec = _WAV_CODECS.get(tag, "an unknown codec")
        return _error(
            "audio_unsupported",
            f"{name} is a WAV file holding {codec} (format tag 0x{tag:04X}), which this reader cannot decode",
            path,
            _DECODER_HINT,
        )
    if not _has_audio_signature(head):
        return _error(
            "audio_invalid",
            f"{name} is not an audio file this reader recognises: it does not start like any "
            "audio format (no WAV, FLAC, Ogg, MP3, AIFF, CAF ... header)",
            path,
            f"Supported: {', '.join(sorted(readable_formats()))}. {_DECODER_HINT}",
        )
    if "does not exist" in detail:  # libsndfile's words for "no decoder took it"; the file is there
        detail = "no decoder could read it"
    return _error(
        "audio_invalid",
        f"{name} is damaged or truncated and cannot be decoded ({detail})",
        path,
        TRUNCATED_HINT,
    )


# First bytes of the containers libsndfile reads (and of MP3: an ID3 tag or a frame sync).
_AUDIO_SIGNATURES = (
    b"RIFF", b"RF64", b"riff", b"FORM", b"fLaC", b"OggS", b"ID3", b".snd", b"dns.", b"caff",
    b"NIST", b"Creative Voice", b"MATLAB", b"wvpk", b"2BIT", b"IMPS", b"\x00\x00\x00\x00",
)  # fmt: skip


def _has_audio_signature(head: bytes) -> bool:
    if head.startswith(_AUDIO_SIGNATURES):
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # an MPEG audio frame


# WAVE format tags libsndfile decodes: PCM, ADPCM (MS, IMA), float, A-law, mu-law, GSM 6.10,
# G.721, extensible (whose real codec is a GUID further on).
_WAV_DECODABLE = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0040, 0xFFFE}
_WAV_CODECS = {
    0x0050: "MPEG-1 audio",
    0x0055: "MP3 audio",
    0x00FF: "AAC audio",
    0x0161: "Windows Media Audio",
    0x0162: "Windows Media Audio Pro",
    0x0163: "Windows Media Audio Lossless",
    0x1610: "HE-AAC audio",
    0x2000: "AC-3 (Dolby Digital) audio",
    0x2001: "DTS audio",
}


def _wav_format_tag(head: bytes) -> int | None:
    """The format tag of a RIFF/RF64 WAVE file's ``fmt `` chunk, if it is within ``head``."""
    if head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            return int.from_bytes(head[pos + 8 : pos + 10], "little") if pos + 10 <= len(head) else None
        pos += 8 + size + (size & 1)
    return None


def _open(path: Path) -> tuple[sf.SoundFile, int]:
    """Open for reading; every failure becomes an RMError."""
    size = _check_path(path)
    head = _read_head(path)
    if size == 0:
        raise _open_error(path, size, head, RuntimeError("empty"))
    try:
        return sf.SoundFile(str(path)), size
    except PermissionError:
        raise _error(
            "audio_unreadable", f"cannot read {path.name}: permission denied", path, _PERMISSION_HINT
        ) from None
    except (sf.SoundFileError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise _open_error(path, size, head, exc) from None


def _truncation(f: sf.SoundFile) -> str | None:
    """A description of the shortfall when the header declares more audio than the file holds."""
    try:
        log = f.extra_info
    except Exception:
        return None
    for m in _SIZE_MISMATCH.finditer(log):
        declared, actual = int(m.group(2)), int(m.group(3))
        if declared not in _UNKNOWN_SIZES and declared > actual:
            return f"the header declares {declared} bytes of audio but only {actual} are present"
    return None


def _info_of(f: sf.SoundFile, path: Path, size: int) -> AudioInfo:
    return AudioInfo(
        path=str(path),
        sample_rate=int(f.samplerate),
        channels=int(f.channels),
        frames=int(f.frames),
        format=f.format,
        subtype=f.subtype,
        format_info=f.format_info,
        subtype_info=f.subtype_info,
        size_bytes=size,
    )


def no_frames_error(path: Path) -> RMError:
    return _error(
        "audio_empty",
        f"{path.name} has a valid header but contains no audio frames",
        path,
        "The recording is empty; check the source",
    )


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Sample rate, channels, length and format from the header only (cheap, for file lists).

    Raises the same errors as :func:`load_audio` for files that cannot be opened, and
    ``audio_truncated`` when the header reveals that the data was cut short.
    """
    p = Path(path)
    f, size = _open(p)
    with f:
        info = _info_of(f, p, size)
        cut = _truncation(f)
    if cut:
        raise _error("audio_truncated", f"{p.name} is truncated: {cut}", p, TRUNCATED_HINT)
    if info.frames == 0 and info.format not in _ESTIMATED_LENGTH:
        raise no_frames_error(p)
    return info


def load_audio(path: str | os.PathLike[str], *, allow_truncated: bool = False) -> Audio:
    """Decode a whole file to float32 samples shaped (frames, channels).

    Integer PCM is scaled to [-1, 1) the way the contract scales integer typed arrays
    (int16 / 32768, 8-bit unsigned (x - 128) / 128, ...); float files keep their values.
    A truncated file is an ``audio_truncated`` error unless ``allow_truncated`` is set, in
    which case the frames that are present are returned with a warning in ``Audio.warnings``.
    MP3 headers only estimate the length, so a short MP3 is always a warning, never an error.
    """
    p = Path(path)
    f, size = _open(p)
    warnings: list[str] = []
    with f:
        info = _info_of(f, p, size)
        cut = _truncation(f)
        if cut:
            if not allow_truncated:
                raise _error("audio_truncated", f"{p.name} is truncated: {cut}", p, TRUNCATED_HINT)
            warnings.append(f"{p.name} is truncated ({cut}); using the frames that are present")
        if info.frames == 0 and info.format not in _ESTIMATED_LENGTH:
            raise no_frames_error(p)
        samples, failure = _decode(f, info, p)
        if failure is not None:
            if not allow_truncated:
                raise _error(
                    "audio_truncated",
                    f"{p.name} could not be decoded to the end ({failure}); it is damaged or truncated",
                    p,
                    TRUNCATED_HINT,
                )
            warnings.append(f"{p.name} could not be decoded to the end ({failure})")
    frames = samples.shape[0]
    if frames < info.frames:
        message = f"decoded {frames} of the {info.frames} frames the header announces"
        if info.format in _ESTIMATED_LENGTH:
            warnings.append(f"{p.name}: {message} (the header's length is an estimate)")
        elif not allow_truncated:
            raise _error("audio_truncated", f"{p.name} is truncated or damaged: {message}", p, TRUNCATED_HINT)
        else:
            warnings.append(f"{p.name}: {message}")
    if frames == 0:
        raise no_frames_error(p)
    if info.subtype in ("FLOAT", "DOUBLE") and not np.isfinite(samples).all():
        raise _error(
            "audio_invalid",
            f"{p.name} contains non-finite samples (NaN or infinity)",
            p,
            "The file was written by a faulty program; re-export it",
        )
    return Audio(
        samples=np.ascontiguousarray(samples),
        sample_rate=info.sample_rate,
        path=str(p),
        format=info.format,
        subtype=info.subtype,
        format_info=info.format_info,
        subtype_info=info.subtype_info,
        warnings=warnings,
    )


# A header whose frame count would decode to more than this many times the file's size (and
# more than the floor below) is not trusted with a single allocation: the file is decoded
# block by block instead, so a damaged header cannot ask for gigabytes up front.
_PLAUSIBLE_EXPANSION = 64
_PLAUSIBLE_FLOOR = 256 << 20
_BLOCK_FRAMES = 1 << 18


def _decode(f: sf.SoundFile, info: AudioInfo, path: Path) -> tuple[np.ndarray, str | None]:
    """All frames as float32 (frames, channels), plus why decoding stopped early (or None)."""
    claimed = info.frames * info.channels * 4
    trusted = claimed <= max(_PLAUSIBLE_FLOOR, _PLAUSIBLE_EXPANSION * info.size_bytes)
    try:
        if not f.seekable():  # e.g. GSM 6.10 WAV: one whole read needs a frame count, blocks do not
            return _read_blocks(f, restart=False)
        if trusted or info.format in _ESTIMATED_LENGTH:
            # One read: fastest, and libsndfile decodes some MP3s correctly only this way.
            try:
                return f.read(dtype="float32", always_2d=True), None
            except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
                return _read_blocks(f, restart=True)[0], _detail(exc)
        return _read_blocks(f, restart=False)
    except MemoryError:
        raise _error(
            "audio_too_large",
            f"{path.name} is too large to decode in memory ({info.frames} frames x {info.channels} "
            f"channels = {claimed / 2**30:.1f} GiB as float32)",
            path,
            "Split the recording, or convert it to mono or a lower sample rate first",
        ) from None


def _detail(exc: BaseException) -> str:
    return str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")


def _read_blocks(f: sf.SoundFile, restart: bool) -> tuple[np.ndarray, str | None]:
    """Read block by block (from the start if ``restart``); keep what decodes before an error."""
    parts: list[np.ndarray] = []
    failure = None
    try:
        if restart:
            f.seek(0)
        while True:
            data = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            if len(data) == 0:
                break
            parts.append(data)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        failure = _detail(exc)
    if not parts:
        return np.zeros((0, f.channels), dtype=np.float32), failure
    return np.concatenate(parts), failure


def readable_formats() -> dict[str, str]:
    """Major formats the installed libsndfile reads: {"WAV": "WAV (Microsoft)", ...}."""
    return dict(sf.available_formats())


# File name extensions of the formats above, for file dialogs and drag-and-drop filters.
AUDIO_EXTENSIONS: tuple[str, ...] = (
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
    ".snd", ".caf", ".w64", ".rf64", ".voc", ".sd2", ".sf", ".ircam", ".nist", ".sph", ".avr",
    ".htk", ".mat", ".paf", ".pvf", ".xi", ".wve", ".mpc", ".sds", ".svx", ".8svx", ".iff",
)  # fmt: skip


def is_audio_path(path: str | os.PathLike[str]) -> bool:
    """Whether a file name has one of :data:`AUDIO_EXTENSIONS` (no I/O; for UI filters)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS
