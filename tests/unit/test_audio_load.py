"""Decoding audio files: real files of many formats, jfk in several encodings, a broken corpus."""

from __future__ import annotations

import builtins
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rmstudio.core.audio import AUDIO_EXTENSIONS, audio_info, is_audio_path, load_audio
from rmstudio.core.errors import RMError
from rmstudio.core.native.base import Context
from tests.unit.test_native_audio_nodes import import_nodes_audio

# Quantisation step of each subtype (worst case error of a round trip through the file).
STEP = {"PCM_U8": 1 / 128, "PCM_S8": 1 / 128, "PCM_16": 1 / 32768, "PCM_24": 2.0**-23, "PCM_32": 2.0**-31}


def _signal(frames: int, channels: int, rate: int) -> np.ndarray:
    t = np.arange(frames) / rate
    cols = [0.6 * np.sin(2 * np.pi * (220 + 110 * c) * t) * (1 - 0.1 * c) for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


LOSSLESS = [
    ("WAV", "PCM_U8", "wav"),
    ("WAV", "PCM_16", "wav"),
    ("WAV", "PCM_24", "wav"),
    ("WAV", "PCM_32", "wav"),
    ("WAV", "FLOAT", "wav"),
    ("WAV", "DOUBLE", "wav"),
    ("WAVEX", "PCM_24", "wav"),
    ("FLAC", "PCM_16", "flac"),
    ("FLAC", "PCM_24", "flac"),
    ("FLAC", "PCM_S8", "flac"),
    ("AIFF", "PCM_16", "aiff"),
    ("AIFF", "FLOAT", "aiff"),
    ("AU", "PCM_16", "au"),
    ("W64", "PCM_24", "w64"),
    ("RF64", "FLOAT", "rf64"),
    ("CAF", "PCM_16", "caf"),
]


@pytest.mark.parametrize(("fmt", "subtype", "ext"), LOSSLESS)
@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (44100, 2), (96000, 6)])
def test_lossless_formats_round_trip(tmp_path, fmt, subtype, ext, rate, channels):
    x = _signal(rate // 10 + 7, channels, rate)
    path = tmp_path / f"t.{ext}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert (audio.sample_rate, audio.channels, audio.frames) == (rate, channels, len(x))
    assert audio.samples.dtype == np.float32 and audio.samples.shape == (len(x), channels)
    assert audio.format == fmt and audio.subtype == subtype
    assert audio.duration == pytest.approx(len(x) / rate)
    assert np.abs(audio.samples - x).max() <= STEP.get(subtype, 1e-7)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.format) == (rate, channels, len(x), fmt)
    assert info.size_bytes == path.stat().st_size
    assert audio.warnings == []


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"),
    [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", "MPEG_LAYER_III", "mp3")],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_lossy_formats(tmp_path, fmt, subtype, ext, channels):
    rate = 48000
    x = _signal(rate, channels, rate)
    path = tmp_path / f"t.{ext}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert (audio.sample_rate, audio.channels) == (rate, channels)
    assert abs(audio.frames - rate) <= 1152  # codec framing
    n = min(audio.frames, rate) - 4000
    best = max(
        np.corrcoef(audio.samples[k : k + n, 0], x[2000 : 2000 + n, 0])[0, 1] for k in range(0, 4000, 8)
    )
    assert best > 0.99


def test_gsm_wav_which_libsndfile_reads_only_sequentially(tmp_path):
    # GSM 6.10 in WAV is not seekable: one read of the whole file needs a frame count and a
    # rewind is impossible, so this used to fail as "damaged or truncated".
    rate = 8000
    x = _signal(rate, 1, 2 * rate) * 0.5
    path = tmp_path / "phone.wav"
    sf.write(path, x, rate, subtype="GSM610")
    with sf.SoundFile(path) as f:
        assert not f.seekable()
    audio = load_audio(path)
    assert audio.warnings == [] and audio.sample_rate == rate
    assert abs(audio.frames - len(x)) <= 320  # GSM frames are 160 samples, paired in WAV
    n = min(audio.frames, len(x)) - 800
    best = max(np.corrcoef(audio.samples[k : k + n, 0], x[400 : 400 + n, 0])[0, 1] for k in range(0, 800, 4))
    assert best > 0.9  # a lossy speech codec, on a test signal


def test_unsigned_8_bit_scaling_matches_the_contract(tmp_path):
    # Write raw PCM_U8 bytes ourselves: (x - 128) / 128 is what the contract says.
    raw = bytes([0, 64, 128, 192, 255])
    data = b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8) + b"data" + struct.pack("<I", 5)
    data += raw + b"\0"
    path = tmp_path / "u8.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(data)) + data)
    got = load_audio(path).samples[:, 0]
    assert np.array_equal(got, (np.array(list(raw), dtype=np.float32) - 128) / 128)


def test_int16_scaling_matches_the_contract(tmp_path):
    values = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    path = tmp_path / "s16.wav"
    sf.write(path, values, 16000, subtype="PCM_16")
    assert np.array_equal(load_audio(path).samples[:, 0], values.astype(np.float32) / 32768)


# ------------------------------------------------------------------------------- jfk


def test_jfk_loads_with_its_list_chunk(jfk_wav):
    head = Path(jfk_wav).read_bytes()[:80]
    assert head[36:40] == b"LIST" and head.index(b"data") == 70  # samples start at byte 78
    audio = load_audio(jfk_wav)
    assert (audio.frames, audio.sample_rate, audio.channels) == (176000, 16000, 1)
    assert audio.duration == 11.0 and audio.subtype == "PCM_16"
    raw = np.frombuffer(Path(jfk_wav).read_bytes()[78:], dtype="<i2")
    assert np.array_equal(audio.samples[:, 0], raw.astype(np.float32) / 32768)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.fixture(scope="module")
def jfk_variants(jfk_wav, tmp_path_factory):
    """jfk as FLAC, 44.1 kHz stereo (made by linear interpolation, independent of our
    resampler), 8-bit unsigned WAV, and the MP3 the whisper.cpp source ships."""
    out = tmp_path_factory.mktemp("jfk")
    x, rate = sf.read(jfk_wav, dtype="float64")
    sf.write(out / "jfk.flac", x, rate, subtype="PCM_16")
    t44 = np.arange(int(len(x) * 44100 / rate)) / 44100
    mono44 = np.interp(t44, np.arange(len(x)) / rate, x)
    sf.write(out / "jfk44_stereo.wav", np.stack([mono44, 0.8 * mono44], axis=1), 44100, subtype="PCM_16")
    sf.write(out / "jfk_u8.wav", x, rate, subtype="PCM_U8")
    return {
        "flac": out / "jfk.flac",
        "44k_stereo": out / "jfk44_stereo.wav",
        "u8": out / "jfk_u8.wav",
        "mp3": Path(jfk_wav).with_suffix(".mp3"),
    }


@pytest.mark.parametrize("variant", ["flac", "44k_stereo", "u8", "mp3"])
def test_jfk_variants_load_and_transform_back_to_the_original(jfk_wav, jfk_variants, variant):
    original = load_audio(jfk_wav)
    audio = load_audio(jfk_variants[variant])
    assert abs(audio.duration - original.duration) <= 1 / audio.sample_rate  # same length, ±1 frame
    item = {
        "data": audio.samples.reshape(-1),
        "sample_rate": audio.sample_rate,
        "channels": audio.channels,
    }
    node = import_nodes_audio().AudioTransform(
        {"output_sample_rate": 16000, "output_channels": 1, "quality": "high"}
    )
    (out,) = node.process([item], Context("t", "AudioTransform", True, lambda e: None))
    assert out["sample_rate"] == 16000 and out["channels"] == 1
    assert abs(len(out["data"]) - 176000) <= 1
    assert _correlation(out["data"], original.samples[:, 0]) > 0.99


# ------------------------------------------------------------------------- broken corpus


def _code(path, **kw) -> RMError:
    with pytest.raises(RMError) as info:
        load_audio(path, **kw)
    err = info.value
    assert err.hint, f"{err.code} has no hint"
    assert err.source == str(path)
    return err


@pytest.fixture
def good_wav(tmp_path) -> Path:
    path = tmp_path / "good.wav"
    sf.write(path, _signal(8000, 2, 16000), 16000, subtype="PCM_16")
    return path


def test_missing_file(tmp_path):
    err = _code(tmp_path / "nope.wav")
    assert err.code == "audio_not_found" and "nope.wav" in err.message
    assert "does not exist either" in _code(tmp_path / "no_dir" / "x.wav").hint


def test_directory(tmp_path):
    assert _code(tmp_path).code == "audio_not_a_file"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert _code(path).code == "audio_empty"


def test_header_but_no_frames(tmp_path):
    path = tmp_path / "noframes.wav"
    sf.write(path, np.zeros((0, 1), np.float32), 16000)
    err = _code(path)
    assert err.code == "audio_empty" and "no audio frames" in err.message
    with pytest.raises(RMError, match="no audio frames"):
        audio_info(path)


def test_wav_cut_in_the_middle_of_its_data(jfk_wav, tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(Path(jfk_wav).read_bytes()[:100_000])
    err = _code(path)
    assert err.code == "audio_truncated" and "352000" in err.message
    with pytest.raises(RMError, match="truncated"):
        audio_info(path)
    partial = load_audio(path, allow_truncated=True)
    assert partial.frames == (100_000 - 78) // 2 and partial.warnings


@pytest.mark.parametrize("size", [12, 30, 44, 60])
def test_wav_cut_inside_its_header(jfk_wav, tmp_path, size):
    path = tmp_path / "cut_header.wav"
    path.write_bytes(Path(jfk_wav).read_bytes()[:size])
    assert _code(path).code == "audio_truncated"


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"),
    [
        ("AIFF", "PCM_16", "aiff"),
        ("W64", "FLOAT", "w64"),
        ("RF64", "PCM_24", "rf64"),
        ("FLAC", "PCM_16", "flac"),
    ],
)
def test_other_truncated_formats(tmp_path, fmt, subtype, ext):
    full = tmp_path / f"full.{ext}"
    rng = np.random.default_rng(0)
    sf.write(full, rng.uniform(-0.5, 0.5, (48000, 2)), 48000, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert _code(cut).code == "audio_truncated"


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFFFFF])
def test_streamed_wav_with_unknown_sizes_is_not_truncated(good_wav, tmp_path, placeholder):
    # Recorders that stream a WAV write "unknown" sizes in the header; that is not a cut file.
    data = bytearray(good_wav.read_bytes())
    data[4:8] = struct.pack("<I", placeholder)
    pos = data.index(b"data")
    data[pos + 4 : pos + 8] = struct.pack("<I", placeholder)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    audio = load_audio(path)
    assert audio.frames == 8000 and audio.warnings == []
    assert np.array_equal(audio.samples, load_audio(good_wav).samples)


def test_trailing_bytes_after_the_data_are_harmless(good_wav, tmp_path):
    path = tmp_path / "trailing.wav"
    path.write_bytes(good_wav.read_bytes() + b"JUNK" + bytes(100))
    assert load_audio(path).frames == 8000


def test_png_renamed_to_wav(tmp_path):
    path = tmp_path / "picture.wav"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + os.urandom(300))
    err = _code(path)
    assert err.code == "audio_invalid" and "PNG" in err.message


def test_text_renamed_to_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are meeting notes, not a recording\n" * 20, encoding="utf-8")
    err = _code(path)
    assert err.code == "audio_invalid" and "text" in err.message


def test_json_renamed_to_mp3(tmp_path):
    path = tmp_path / "manifest.mp3"
    path.write_text('{"version": "v1", "nodes": []}', encoding="utf-8")
    assert "JSON" in _code(path).message


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert _code(path).code == "audio_invalid"


def test_m4a_is_unsupported(tmp_path):
    path = tmp_path / "voice.m4a"
    path.write_bytes(b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom" + bytes(500))
    err = _code(path)
    assert err.code == "audio_unsupported" and "ffmpeg" in err.hint


def test_wav_with_an_undecodable_codec(good_wav, tmp_path):
    data = bytearray(good_wav.read_bytes())
    fmt = data.index(b"fmt ")
    data[fmt + 8 : fmt + 10] = struct.pack("<H", 0x0055)  # MPEG Layer 3 inside WAV
    path = tmp_path / "mp3_in_wav.wav"
    path.write_bytes(bytes(data))
    err = _code(path)
    assert err.code == "audio_unsupported" and "0x0055" in err.message and "MP3" in err.message


def test_float_wav_with_nan(tmp_path):
    x = np.zeros((100, 1), np.float32)
    x[50] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    assert _code(path).code == "audio_invalid"


def test_permission_denied(good_wav, monkeypatch):
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(good_wav):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    err = _code(good_wav)
    assert err.code == "audio_unreadable" and "permission" in err.message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_for_real(good_wav):
    good_wav.chmod(0)
    try:
        assert _code(good_wav).code == "audio_unreadable"
    finally:
        good_wav.chmod(0o644)


def test_fifo_is_not_a_file(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "pipe.wav"
    os.mkfifo(path)
    assert _code(path).code == "audio_not_a_file"


def test_non_ascii_file_name(tmp_path):
    path = tmp_path / "Grüße – 録音.flac"
    sf.write(path, _signal(1600, 1, 16000), 16000)
    assert load_audio(path).frames == 1600


_KNOWN_CODES = {
    "audio_truncated",
    "audio_invalid",
    "audio_empty",
    "audio_unsupported",
}


@given(
    cut=st.integers(0, 20000),
    flips=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 255)), max_size=4),
)
@example(cut=42, flips=[(21, 113)])  # a FLAC header claiming 2^32 frames (32 GiB as float32)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.parametrize("ext", ["wav", "flac", "aiff"])
def test_damaged_files_never_raise_anything_but_rmerror(tmp_path, ext, cut, flips):
    source = tmp_path / f"src.{ext}"
    if not source.exists():
        sf.write(source, _signal(4000, 2, 16000), 16000, subtype="PCM_16")
    data = bytearray(source.read_bytes()[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    target = tmp_path / f"damaged.{ext}"
    target.write_bytes(bytes(data))
    try:
        audio = load_audio(target)
    except RMError as err:
        assert err.code in _KNOWN_CODES and err.hint
    else:
        assert audio.frames > 0 and audio.samples.dtype == np.float32


def test_extension_filter():
    assert is_audio_path("a/B.WAV") and is_audio_path("x.flac") and is_audio_path("y.mp3")
    assert not is_audio_path("m.json") and not is_audio_path("p.rmpkg")
    assert ".ogg" in AUDIO_EXTENSIONS
