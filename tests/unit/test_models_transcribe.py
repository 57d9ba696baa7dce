"""Real speech through real weights: the converted tiny.en (f16 and q8_0) transcribes jfk.wav
with native whisper.cpp 1.8.5 (the pywhispercpp wheel, same source version as the guest).

This is the end-to-end check of the converter: names, shapes, fused-projection splits, the
mel filterbank and the vocabulary all have to be right for these exact words to come out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXPECTED = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_converted_tiny_en_transcribes_jfk_natively(
    tiny_en_ggml: dict[str, Path], jfk_wav: Path, quant: str
) -> None:
    model_mod = pytest.importorskip(
        "pywhispercpp.model",
        reason="pywhispercpp (native whisper.cpp 1.8.5) is not installed: pip install '.[bench]'",
    )
    model = model_mod.Model(
        str(tiny_en_ggml[quant]),
        n_threads=2,
        redirect_whispercpp_logs_to=None,
        print_progress=False,
        print_realtime=False,
    )
    segments = model.transcribe(str(jfk_wav))
    text = " ".join(s.text for s in segments)
    assert normalize(text) == normalize(EXPECTED), text
