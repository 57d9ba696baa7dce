"""The node catalog: the single source of truth for every node type RM Studio runs.

The manifest validator, ``rmstudio nodes``, the GUI parameter forms, ``docs/NODES.md`` and
the guest's own parameter checks (``runtime/build.py`` generates a C++ table from
:func:`catalog_as_json`) all read this module. Adding a node means adding it here, in the
guest (``runtime/src/nodes_*.cpp``) and in the reference executor (``core/native``); a test
fails until all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Data kinds carried between nodes. "same" (outputs only) means "whatever came in".
DATA_KINDS: dict[str, str] = {
    "any": "any JSON value",
    "numeric": "a number, a (nested) list of numbers, or a typed numeric array",
    "audio": "an audio object {data, sample_rate, channels}",
    "transcript": "a transcript object {text, segments, language, audio_duration}",
}

PARAM_TYPES = ("number", "integer", "string", "boolean", "enum")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Param:
    """One node parameter: its type, default, bounds and the names it is also known by."""

    name: str
    type: str
    description: str
    default: Any = NO_DEFAULT
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"param {self.name}: unknown type {self.type!r}")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"param {self.name}: enum without choices")
        if self.required and self.default is not NO_DEFAULT:
            raise ValueError(f"param {self.name}: required params have no default")

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "required": self.required,
        }
        if self.has_default:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.nullable:
            out["nullable"] = True
        return out


@dataclass(frozen=True)
class NodeType:
    """A node type: what it accepts and produces, its params, and the names it answers to."""

    name: str
    category: str
    description: str
    input: str
    output: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    notes: str = ""
    streaming: bool = False
    # Source nodes ignore their input items and produce data of their own (e.g. a reader
    # whose file the host loads); they may still appear first in a pipeline.
    source: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name or name in p.aliases:
                return p
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "node_type": self.name,
            "category": self.category,
            "description": self.description,
            "input": self.input,
            "output": self.output,
            "streaming": self.streaming,
            "params": [p.to_json() for p in self.params],
        }
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.notes:
            out["notes"] = self.notes
        return out


_NODES: tuple[NodeType, ...] = (
    NodeType(
        name="PassThroughNode",
        category="utility",
        description="Hands every input item on unchanged.",
        input="any",
        output="same",
        aliases=("PassThrough", "TextOutput"),
        notes="`TextOutput` (a sink in RemoteMedia's Whisper examples) is read as a pass-through.",
    ),
    NodeType(
        name="MultiplyNode",
        category="math",
        description="Multiplies numbers and numeric arrays element-wise by a constant.",
        input="numeric",
        output="numeric",
        params=(
            Param(
                "multiplier",
                "number",
                "Factor every element is multiplied by.",
                default=2,
                aliases=("factor",),
            ),
        ),
        notes=(
            "RemoteMedia's own MultiplyNode reads `factor` while its docs and packages write "
            "`multiplier`; both are accepted and `multiplier` wins when both are given."
        ),
    ),
    NodeType(
        name="AddNode",
        category="math",
        description="Adds a constant to numbers and numeric arrays element-wise.",
        input="numeric",
        output="numeric",
        params=(Param("addend", "number", "Value added to every element.", default=0),),
    ),
    NodeType(
        name="CalculatorNode",
        category="math",
        description="Applies one arithmetic operation with a constant operand element-wise.",
        input="numeric",
        output="numeric",
        params=(
            Param(
                "operation",
                "enum",
                "Operation applied as `value <op> operand`.",
                required=True,
                choices=("add", "subtract", "multiply", "divide"),
            ),
            Param("operand", "number", "Right-hand operand.", default=0),
        ),
        notes="Dividing by zero fails the run with `node_failed` (RemoteMedia: 'Division by zero').",
    ),
    NodeType(
        name="MediaReaderNode",
        category="audio",
        description="Audio source: the host decodes the run's audio file and hands it in.",
        input="audio",
        output="audio",
        source=True,
        aliases=("AudioInput", "AudioSource", "AudioTrackSource"),
        params=(
            Param(
                "path",
                "string",
                "Audio file decoded when the run names none (relative to the manifest's folder).",
                default="",
            ),
            Param(
                "chunk_size",
                "integer",
                "Accepted for RemoteMedia compatibility and ignored; use AudioBuffer to chunk.",
                default=4096,
                minimum=1,
            ),
        ),
        notes="The guest never opens files itself: decoding (soundfile) happens on the host.",
    ),
    NodeType(
        name="AudioTransform",
        category="audio",
        description="Converts channel count (mean downmix / copy upmix) and resamples (band-limited).",
        input="audio",
        output="audio",
        aliases=("ResampleNode", "FastResampleNode", "AutoResampleNode"),
        params=(
            Param(
                "output_sample_rate",
                "integer",
                "Sample rate of the output in Hz.",
                default=16000,
                minimum=1000,
                maximum=384000,
                aliases=("target_rate",),
            ),
            Param(
                "output_channels", "integer", "Channel count of the output.", default=1, minimum=1, maximum=32
            ),
            Param(
                "quality",
                "enum",
                "Resampler length: low (8), medium (16) or high (24 zero crossings).",
                default="high",
                choices=("low", "medium", "high"),
            ),
        ),
    ),
    NodeType(
        name="AudioGain",
        category="audio",
        description="Amplifies or attenuates by a fixed number of decibels.",
        input="audio",
        output="audio",
        params=(Param("gain_db", "number", "Gain in dB.", default=0, minimum=-96, maximum=48),),
    ),
    NodeType(
        name="AudioNormalize",
        category="audio",
        description="Scales audio so its peak reaches the target level (silence is left alone).",
        input="audio",
        output="audio",
        params=(Param("target_db", "number", "Peak level in dBFS.", default=-1, minimum=-96, maximum=0),),
    ),
    NodeType(
        name="AudioBuffer",
        category="audio",
        description="Joins incoming audio and cuts it into chunks of a fixed number of frames.",
        input="audio",
        output="audio",
        streaming=True,
        params=(
            Param(
                "buffer_size_samples",
                "integer",
                "Frames per chunk (the last chunk may be shorter).",
                required=True,
                minimum=1,
                maximum=2**31 - 1,
            ),
        ),
    ),
    NodeType(
        name="VADTrim",
        category="audio",
        description="Energy-based voice-activity trim of leading and trailing silence.",
        input="audio",
        output="audio",
        params=(
            Param(
                "threshold_db",
                "number",
                "Frame RMS (dBFS) counted as voice.",
                default=-45,
                minimum=-120,
                maximum=0,
            ),
            Param("frame_ms", "number", "Analysis frame length in ms.", default=30, minimum=5, maximum=200),
            Param(
                "padding_ms",
                "number",
                "Audio kept before the first and after the last voiced frame.",
                default=300,
                minimum=0,
                maximum=10000,
            ),
        ),
    ),
    NodeType(
        name="WhisperTranscriber",
        category="speech",
        description="Speech-to-text with whisper.cpp inside the sandbox.",
        input="audio",
        output="transcript",
        streaming=True,
        aliases=("WhisperNode", "RustWhisperTranscriber", "RustWhisperNode"),
        params=(
            Param(
                "model",
                "string",
                "Model name from the model store (`rmstudio models list`), `default`, or a guest path.",
                default="default",
                aliases=("model_source", "model_path"),
            ),
            Param("language", "string", "Spoken language code (`en`, `de`, ...) or `auto`.", default="auto"),
            Param("translate", "boolean", "Translate the speech to English.", default=False),
            Param(
                "n_threads",
                "integer",
                "Requested threads; the sandbox runs one (reported as effective_threads).",
                default=1,
                minimum=1,
                maximum=256,
            ),
            Param(
                "beam_size",
                "integer",
                "Beam search width; 1 means greedy decoding.",
                default=1,
                minimum=1,
                maximum=16,
            ),
            Param(
                "best_of",
                "integer",
                "Candidates sampled per segment in greedy decoding.",
                default=1,
                minimum=1,
                maximum=16,
            ),
            Param("timestamps", "boolean", "Produce segment timestamps.", default=True),
            Param("initial_prompt", "string", "Text that primes the decoder (names, spelling).", default=""),
            Param(
                "accumulate_chunks",
                "boolean",
                "Join all incoming audio and transcribe once (false: transcribe each item).",
                default=True,
            ),
        ),
        notes="Input that is not 16 kHz mono is converted with AudioTransform's resampler first.",
    ),
)


def all_nodes() -> tuple[NodeType, ...]:
    """Every node type, in catalog order."""
    return _NODES


_BY_NAME: dict[str, NodeType] = {}
for _node in _NODES:
    for _key in (_node.name, *_node.aliases):
        if _key in _BY_NAME:
            raise RuntimeError(f"node type name {_key!r} defined twice in the catalog")
        _BY_NAME[_key] = _node


def find_node(node_type: str) -> NodeType | None:
    """The catalog entry for a node type name or alias, or None."""
    return _BY_NAME.get(node_type)


def known_type_names() -> list[str]:
    """Every accepted node type name, aliases included, sorted."""
    return sorted(_BY_NAME)


def kinds_compatible(produced: str, accepted: str) -> bool:
    """Whether data of kind ``produced`` may flow into a port accepting ``accepted``."""
    return produced == "any" or accepted == "any" or produced == accepted


def catalog_as_json() -> dict[str, Any]:
    """The machine-readable catalog (``rmstudio nodes --json``, the guest build, the docs)."""
    return {
        "catalog_version": 1,
        "data_kinds": DATA_KINDS,
        "nodes": [n.to_json() for n in _NODES],
    }
