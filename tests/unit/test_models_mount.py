"""Model staging for the guest (rmstudio/core/models/mount.py): one directory per model file,
reused across runs, and never a cache that keeps deleted or replaced models on disk."""

from __future__ import annotations

import os

import pytest

from rmstudio.core.models import mount


@pytest.fixture()
def staging(tmp_path, monkeypatch):
    monkeypatch.setenv("RMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return mount.staging_dir()


def entries(base):
    return sorted(p.name for p in base.iterdir())


def test_an_entry_is_a_hard_link_reused_until_the_model_changes(tmp_path, staging):
    model = tmp_path / "ggml-a.bin"
    model.write_bytes(b"version 1")
    first = mount.stage_model(model)
    assert mount.stage_model(model) == first and os.listdir(first) == ["ggml-a.bin"]
    assert (first / "ggml-a.bin").stat().st_ino == model.stat().st_ino  # linked, not copied
    # Replaced on disk (new bytes, new time): a new entry, and the old one is gone with its bytes.
    model.unlink()
    model.write_bytes(b"version 2, longer")
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))
    second = mount.stage_model(model)
    assert second != first and not first.exists()
    assert (second / "ggml-a.bin").read_bytes() == b"version 2, longer"
    assert entries(staging) == [second.name]


def test_a_deleted_models_link_is_removed_at_the_next_staging(tmp_path, staging):
    kept, gone = tmp_path / "ggml-kept.bin", tmp_path / "ggml-gone.bin"
    kept.write_bytes(b"kept")
    gone.write_bytes(b"gone")
    kept_dir, gone_dir = mount.stage_model(kept), mount.stage_model(gone)
    gone.unlink()  # e.g. `rmstudio models remove`: only the staged link holds the bytes now
    assert (gone_dir / "ggml-gone.bin").stat().st_nlink == 1
    assert mount.stage_model(kept) == kept_dir
    assert entries(staging) == [kept_dir.name]


def test_copies_across_filesystems_are_kept_and_reused(tmp_path, staging, monkeypatch):
    def no_links(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(mount.os, "link", no_links)
    copied, other = tmp_path / "ggml-copied.bin", tmp_path / "ggml-other.bin"
    copied.write_bytes(b"copied")
    other.write_bytes(b"other")
    first = mount.stage_model(copied)
    assert first.name.endswith(mount.COPY_SUFFIX) and (first / "ggml-copied.bin").read_bytes() == b"copied"
    # A copy has one link by nature: staging another model must not take it for an orphan.
    mount.stage_model(other)
    assert mount.stage_model(copied) == first
    assert len(entries(staging)) == 2
