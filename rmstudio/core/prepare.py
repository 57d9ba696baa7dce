"""Turning "this manifest, this input, this engine" into a complete run request.

One place for what the CLI (``rmstudio run``, ``rmstudio transcribe``) and the GUI both need:
read the input (JSON, a JSON file, or an audio file decoded on the host with soundfile), hand
audio to the executor as a read-only file rather than inline base64, resolve the models the
manifest names through the model store and show each to the guest in a directory of its own.
Everything the guest may read is a read-only preopen listed on the request; nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import catalog
from rmstudio.core.manifest.document import ManifestDocument
from rmstudio.core.runs import NO_INPUT, Limits, Preopen, RunRequest

if TYPE_CHECKING:
    from rmstudio.core.audio.load import Audio


@dataclass
class PreparedRun:
    """A request ready for ``execute`` plus the temporary files to remove afterwards."""

    request: RunRequest
    audio_duration: float | None = None
    audio_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    _cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def cleanup(self) -> None:
        while self._cleanup:
            self._cleanup.pop()()

    def __enter__(self) -> PreparedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def looks_like_audio(value: str) -> bool:
    """Whether ``--input VALUE`` names an audio file (by extension, and it exists)."""
    from rmstudio.core.audio.load import is_audio_path

    path = Path(value).expanduser()
    return is_audio_path(path) and path.exists()


def _reader_path(doc: ManifestDocument) -> Path | None:
    """The file a MediaReaderNode's ``path`` names, relative to the manifest's folder.

    Only for manifests read from the user's own files: a package's manifest never makes the
    host open a path it chose.
    """
    if not doc.source or ":" in Path(doc.source).name or not Path(doc.source).is_file():
        return None
    for node in doc.data.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        spec = catalog.find_node(node.get("node_type", node.get("nodeType")) or "")
        params = node.get("params") if isinstance(node.get("params"), dict) else {}
        path = params.get("path")
        if spec is not None and spec.name == "MediaReaderNode" and isinstance(path, str) and path:
            return (Path(doc.source).parent / params["path"]).expanduser()
    return None


def wants_audio_input(manifest: dict[str, Any]) -> bool:
    """Whether the pipeline starts at a node that takes audio and names no file of its own
    (e.g. a MediaReaderNode without ``path``): run without input, it would do nothing, so the
    GUI offers the selected audio file instead."""
    nodes = [n for n in manifest.get("nodes") or [] if isinstance(n, dict)]
    targets = {c.get("to") for c in manifest.get("connections") or [] if isinstance(c, dict)}
    for node in nodes:
        if node.get("id") in targets:
            continue
        spec = catalog.find_node(str(node.get("node_type", node.get("nodeType")) or ""))
        params = node.get("params") if isinstance(node.get("params"), dict) else {}
        if spec is not None and spec.input == "audio" and not params.get("path"):
            return True
    return False


def prepare_run(
    doc: ManifestDocument,
    *,
    input_value: str | None = None,
    audio_path: str | Path | None = None,
    engine: str = "wasm",
    limits: Limits | None = None,
    options: dict[str, Any] | None = None,
    mount: bool = True,
    audio: Audio | None = None,
    start_time: float = 0.0,
) -> PreparedRun:
    """Build the run request for ``doc``; the caller must call ``cleanup()`` when done.

    Input, in order: ``audio_path``; ``input_value`` (an audio file path, JSON text,
    ``@file.json`` or a .json path); the document's own ``input_data``; the file a
    MediaReaderNode's ``path`` names; otherwise no input. ``mount=False`` leaves models to the
    caller (a package maps its own). ``audio`` is already decoded audio (e.g. one window of a
    long file, which begins ``start_time`` seconds into it) and takes the place of ``audio_path``.
    """
    from rmstudio.core.inputs import parse_input
    from rmstudio.core.models.mount import mount_models

    opts = dict(doc.request_extra.get("options") or {})
    opts.update(options or {})
    prepared = PreparedRun(RunRequest(doc.data, NO_INPUT, opts, limits or Limits()))
    try:
        if audio_path is None and input_value is not None and looks_like_audio(input_value):
            audio_path = input_value
        if audio_path is None and input_value is None and not doc.has_input:
            audio_path = _reader_path(doc)
            if audio_path is not None:
                prepared.notes.append(f"input: {audio_path} (the MediaReaderNode's path)")
        if audio is not None:
            _add_audio(prepared, Path(audio.path or "audio"), audio, start_time)
        elif audio_path is not None:
            _add_audio(prepared, Path(audio_path))
        elif input_value is not None:
            prepared.request.input_data = parse_input(input_value)
        elif doc.has_input:
            prepared.request.input_data = doc.input_data

        mounted = mount_models(doc.data, engine) if mount else None
        if mounted is not None and mounted.options:
            prepared.request.options["models"] = {**opts.get("models", {}), **mounted.options}
            prepared.request.preopens.extend(mounted.preopens)
    except BaseException:
        prepared.cleanup()
        raise
    return prepared


def _add_audio(
    prepared: PreparedRun, path: Path, audio: Audio | None = None, start_time: float = 0.0
) -> None:
    from rmstudio.core.audio.item import to_item
    from rmstudio.core.audio.load import load_audio

    if audio is None:
        audio = load_audio(path)
        prepared.notes.extend(f"warning: {w}" for w in audio.warnings)  # e.g. decoded short
    if audio.frames == 0:
        raise RMError("audio_empty", "the audio file holds no samples", source=str(path))
    _check_item_limits(audio, path)
    tmp = tempfile.mkdtemp(prefix="rmstudio-input-")
    prepared._cleanup.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    payload = to_item(audio, "file", file_dir=tmp, start_time=start_time)
    prepared.request.input_data = [payload.item]
    if payload.preopen is not None:
        prepared.request.preopens.append(Preopen(Path(payload.preopen[0]), payload.preopen[1]))
    prepared.audio_duration = audio.duration
    prepared.audio_path = path


def _check_item_limits(audio: Audio, path: Path) -> None:
    """The guest contract's bounds on an audio item, as a message about the file (the guest
    would name the manifest's node and input index instead)."""
    from rmstudio.core.audio.item import MAX_CHANNELS, MAX_SAMPLE_RATE

    if audio.channels > MAX_CHANNELS:
        raise RMError(
            "audio_unsupported",
            f"{path.name} has {audio.channels} channels; pipelines take audio of at most {MAX_CHANNELS}",
            source=str(path),
            hint="Mix it down first, e.g. ffmpeg -i IN -ac 2 OUT.wav",
        )
    if audio.sample_rate > MAX_SAMPLE_RATE:
        raise RMError(
            "audio_unsupported",
            f"{path.name} is sampled at {audio.sample_rate} Hz; pipelines take at most {MAX_SAMPLE_RATE} Hz",
            source=str(path),
            hint="Resample it first, e.g. ffmpeg -i IN -ar 48000 OUT.wav",
        )
