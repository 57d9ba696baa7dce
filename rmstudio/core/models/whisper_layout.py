"""The tensor set whisper.cpp 1.8.5's loader creates for given hyper-parameters.

The loader builds every tensor up front from the header, then reads records by name and
rejects unknown names, wrong shapes and wrong byte sizes (``whisper_model_load``). Both the
validator and the converter use this table, so a file we write or accept is exactly what
the loader expects, checked before the guest ever opens it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ggml_types import TYPE_F16, TYPE_F32


@dataclass(frozen=True)
class Hparams:
    """The 11 int32 header fields, in file order."""

    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        )

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


FAMILIES = {4: "tiny", 6: "base", 12: "small", 24: "medium", 32: "large"}
N_VOCAB_MULTILINGUAL = 51865  # english-only models have 51864; large-v3 has 51866
N_FFT_BINS = 201  # 1 + 400 / 2: whisper's STFT size at 16 kHz


def family(hp: Hparams) -> str:
    """tiny/base/small/medium/large from the encoder depth, as whisper.cpp decides it."""
    return FAMILIES.get(hp.n_audio_layer, "unknown")


def english_only(hp: Hparams) -> bool:
    """whisper.cpp's own test: the vocabulary is multilingual when n_vocab >= 51865."""
    return hp.n_vocab < N_VOCAB_MULTILINGUAL


def model_label(hp: Hparams) -> str:
    """A short human name such as ``tiny.en``, ``large-v3`` or ``large-v3-turbo``."""
    name = family(hp)
    if name == "large":
        if hp.n_vocab >= 51866:
            name += "-v3"
        if hp.n_text_layer == 4:
            name += "-turbo"
    if english_only(hp):
        name += ".en"
    return name


def expected_tensors(hp: Hparams, wtype: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """name -> (ne innermost first, ggml_type) for every tensor the loader creates.

    ``wtype`` is the ggml_type for the big 2-D weights (from the header ftype). Conv weights
    are F16 unless the whole file is F32 (the im2col path needs F16); biases, norms and
    positional embeddings are always F32; conv biases have shape [1, n_state].
    """
    vtype = TYPE_F32 if wtype == TYPE_F32 else TYPE_F16
    f32 = TYPE_F32
    a, t = hp.n_audio_state, hp.n_text_state
    out: dict[str, tuple[tuple[int, ...], int]] = {
        "encoder.positional_embedding": ((a, hp.n_audio_ctx), f32),
        "encoder.conv1.weight": ((3, hp.n_mels, a), vtype),
        "encoder.conv1.bias": ((1, a), f32),
        "encoder.conv2.weight": ((3, a, a), vtype),
        "encoder.conv2.bias": ((1, a), f32),
        "encoder.ln_post.weight": ((a,), f32),
        "encoder.ln_post.bias": ((a,), f32),
        "decoder.positional_embedding": ((t, hp.n_text_ctx), f32),
        "decoder.token_embedding.weight": ((t, hp.n_vocab), wtype),
        "decoder.ln.weight": ((t,), f32),
        "decoder.ln.bias": ((t,), f32),
    }

    def block(prefix: str, n: int, attn: str) -> None:
        out[f"{prefix}.{attn}_ln.weight"] = ((n,), f32)
        out[f"{prefix}.{attn}_ln.bias"] = ((n,), f32)
        out[f"{prefix}.{attn}.query.weight"] = ((n, n), wtype)
        out[f"{prefix}.{attn}.query.bias"] = ((n,), f32)
        out[f"{prefix}.{attn}.key.weight"] = ((n, n), wtype)
        out[f"{prefix}.{attn}.value.weight"] = ((n, n), wtype)
        out[f"{prefix}.{attn}.value.bias"] = ((n,), f32)
        out[f"{prefix}.{attn}.out.weight"] = ((n, n), wtype)
        out[f"{prefix}.{attn}.out.bias"] = ((n,), f32)

    def mlp(prefix: str, n: int) -> None:
        out[f"{prefix}.mlp_ln.weight"] = ((n,), f32)
        out[f"{prefix}.mlp_ln.bias"] = ((n,), f32)
        out[f"{prefix}.mlp.0.weight"] = ((n, 4 * n), wtype)
        out[f"{prefix}.mlp.0.bias"] = ((4 * n,), f32)
        out[f"{prefix}.mlp.2.weight"] = ((4 * n, n), wtype)
        out[f"{prefix}.mlp.2.bias"] = ((n,), f32)

    for i in range(hp.n_audio_layer):
        block(f"encoder.blocks.{i}", a, "attn")
        mlp(f"encoder.blocks.{i}", a)
    for i in range(hp.n_text_layer):
        block(f"decoder.blocks.{i}", t, "attn")
        block(f"decoder.blocks.{i}", t, "cross_attn")
        mlp(f"decoder.blocks.{i}", t)
    return out
