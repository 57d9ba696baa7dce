"""Whisper's token list, turned from the GPT-2 "byte-level" text form back into raw bytes.

CTranslate2 (like Hugging Face) stores tokens as printable strings: GPT-2 maps each of the
256 byte values to a visible character (bytes that are already printable Latin-1 map to
themselves, the other 68 to U+0100 onwards, in byte order), so " the" is stored as "Ġthe".
whisper.cpp's ggml file wants the raw bytes, and only the ordinary tokens: it creates the
special ones (<|endoftext|>, languages, tasks, timestamps) itself from n_vocab.
"""

from __future__ import annotations

import json
from pathlib import Path

END_OF_TEXT = "<|endoftext|>"


def _byte_level_decoder() -> dict[str, int]:
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    keep = set(printable)
    decoder = {chr(b): b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in keep:
            decoder[chr(0x100 + shifted)] = b
            shifted += 1
    return decoder


BYTE_DECODER: dict[str, int] = _byte_level_decoder()


def token_bytes(token: str) -> bytes:
    """The raw bytes of a byte-level token; ValueError for characters outside the mapping."""
    try:
        return bytes(BYTE_DECODER[c] for c in token)
    except KeyError as exc:
        raise ValueError(
            f"token {token!r} has a character outside GPT-2's byte alphabet: {exc.args[0]!r}"
        ) from None


def read_ct2_vocabulary(model_dir: Path) -> list[str]:
    """All tokens of a CTranslate2 model directory, in id order.

    Newer CTranslate2 versions write ``vocabulary.json`` (a list), older ones
    ``vocabulary.txt`` (one token per line; byte-level tokens never contain a newline).
    A Hugging Face ``tokenizer.json`` is the fallback.
    """
    as_json = model_dir / "vocabulary.json"
    if as_json.is_file():
        tokens = json.loads(as_json.read_text(encoding="utf-8"))
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("vocabulary.json is not a list of strings")
        return tokens
    as_txt = model_dir / "vocabulary.txt"
    if as_txt.is_file():
        text = as_txt.read_text(encoding="utf-8")
        return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    as_hf = model_dir / "tokenizer.json"
    if as_hf.is_file():
        data = json.loads(as_hf.read_text(encoding="utf-8"))
        ids: dict[str, int] = dict(data["model"]["vocab"])
        for added in data.get("added_tokens", []):
            ids[added["content"]] = int(added["id"])
        ordered = [""] * (max(ids.values()) + 1)
        for token, i in ids.items():
            ordered[i] = token
        return ordered
    raise FileNotFoundError("no vocabulary.json, vocabulary.txt or tokenizer.json")


def ggml_vocabulary(tokens: list[str]) -> list[bytes]:
    """The ordinary tokens (everything before <|endoftext|>) as raw bytes, for the ggml file.

    English-only Whisper has 50256 of them and multilingual 50257, which is exactly where
    whisper.cpp puts its end-of-text token in each case.
    """
    try:
        cut = tokens.index(END_OF_TEXT)
    except ValueError:
        raise ValueError(f"the vocabulary has no {END_OF_TEXT} token") from None
    return [token_bytes(t) for t in tokens[:cut]]
