"""Decoded audio as a contract audio item: base64 typed arrays and read-only file references."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from rmstudio.core import typed_arrays
from rmstudio.core.audio import GUEST_INPUT_DIR, Audio, read_file_reference, to_item
from rmstudio.core.errors import RMError


@pytest.fixture
def stereo() -> Audio:
    rng = np.random.default_rng(0)
    return Audio(rng.uniform(-1, 1, (1000, 2)).astype(np.float32), 44100, path="x.wav")


def test_base64_item_is_interleaved_little_endian_float32(stereo):
    payload = to_item(stereo)
    item = payload.item
    assert payload.preopen is None and payload.files == ()
    assert (item["sample_rate"], item["channels"], item["start_time"]) == (44100, 2, 0.0)
    data = item["data"]
    assert data["dtype"] == "float32" and data["shape"] == [2000] and data["encoding"] == "base64"
    raw = np.frombuffer(base64.b64decode(data["data"]), dtype="<f4")
    assert np.array_equal(raw[0::2], stereo.samples[:, 0]) and np.array_equal(raw[1::2], stereo.samples[:, 1])
    assert np.array_equal(typed_arrays.decode(data), stereo.samples.reshape(-1))


def test_file_item_writes_raw_float32_for_a_read_only_preopen(stereo, tmp_path):
    payload = to_item(stereo, "file", tmp_path / "inputs", start_time=1.5)
    ref = payload.item["data"]
    assert ref["encoding"] == "file" and ref["dtype"] == "float32" and ref["shape"] == [2000]
    assert ref["path"].startswith(GUEST_INPUT_DIR + "/") and ref["path"].endswith(".f32")
    host_dir, guest_dir = payload.preopen
    assert guest_dir == "/input" and host_dir == str((tmp_path / "inputs").resolve())
    (written,) = payload.files
    raw = np.fromfile(written, dtype="<f4")
    assert np.array_equal(raw, stereo.samples.reshape(-1))
    assert payload.item["start_time"] == 1.5
    # The host reads it back exactly as the guest would.
    back = read_file_reference(ref, {guest_dir: host_dir})
    assert np.array_equal(back, stereo.samples.reshape(-1))
    # Same content, same file: a second run reuses it.
    assert to_item(stereo, "file", tmp_path / "inputs").files == payload.files


def test_file_encoding_needs_a_directory(stereo):
    with pytest.raises(RMError, match="needs a host directory"):
        to_item(stereo, "file")
    with pytest.raises(RMError, match="must be one of"):
        to_item(stereo, "hex")


def test_file_reference_checks(stereo, tmp_path):
    payload = to_item(stereo, "file", tmp_path)
    ref = payload.item["data"]
    pre = {"/input": str(tmp_path)}

    def err(**change) -> RMError:
        with pytest.raises(RMError) as info:
            read_file_reference({**ref, **change}, pre, "/input_data/0/data")
        assert info.value.code == "invalid_input" and info.value.path.startswith("/input_data/0/data")
        return info.value

    assert "float32" in err(dtype="int16").message
    assert "not inside a preopened" in err(path="/models/x.f32").message
    assert "'..'" in err(path="/input/../etc/passwd").message
    assert "absolute" in err(path="input/x.f32").message
    assert "does not exist" in err(path="/input/missing.f32").message
    assert "needs 8004 bytes" in err(shape=[2001]).message
    assert "shape" in err(shape="2000").message
