"""One benchmark configuration, run in a process of its own: ``python -m rmstudio.core.bench.worker``.

A fresh process per configuration is what makes the peak-memory column honest: the
high-water mark of a process cannot be reset, so a model loaded by an earlier configuration
(or wasmtime's compiled module) would otherwise count against the next one.

Protocol (private to :mod:`rmstudio.core.bench.whisper`): the configuration arrives as one
line of JSON on stdin, ``{"engine", "model", "threads", "clip", "repeat", "warmup",
"language"}``; stdin then stays open while the parent lives, and the worker exits when it
closes (the parent was killed outright). JSON lines go to stdout: ``{"event": "progress",
"run", "runs", "done", "total"}`` while transcribing, then one ``{"event": "result", ...}`` or
``{"event": "error", "message"}``. Native libraries print to file descriptor 1 as well
(whisper.cpp's loader, OpenMP warnings), so the protocol keeps a private copy of stdout and
everything else written to descriptor 1 goes to stderr, which the parent keeps for error
messages.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from rmstudio.core.errors import RMError

WHISPER_RATE = 16000

# faster-whisper's transcribe() arguments that reproduce the default Transcribe manifest's
# decoding (WhisperTranscriber with its catalog defaults on top of whisper.cpp's
# whisper_full_default_params(GREEDY)); docs/PERFORMANCE.md lists what maps and what does not.
FASTER_WHISPER_DECODING: dict[str, Any] = {
    "task": "transcribe",  # translate: false
    "beam_size": 1,  # beam_size 1: greedy
    "best_of": 1,  # best_of 1 (whisper.cpp's own default would be 5; the catalog sets 1)
    "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],  # temperature 0, temperature_inc 0.2
    "compression_ratio_threshold": 2.4,  # whisper.cpp: entropy_thold 2.4 (a different measure)
    "log_prob_threshold": -1.0,  # logprob_thold -1.0
    "no_speech_threshold": 0.6,  # no_speech_thold 0.6
    "condition_on_previous_text": False,  # no_context: true
    "initial_prompt": None,  # initial_prompt ""
    "suppress_blank": True,  # suppress_blank: true
    "suppress_tokens": [],  # suppress_nst: false (faster-whisper's default [-1] would suppress them)
    "without_timestamps": False,  # timestamps: true
    "max_initial_timestamp": 1.0,  # max_initial_ts 1.0
    "word_timestamps": False,  # token_timestamps: false
    "vad_filter": False,  # no VAD in the manifest
}

Emit = Callable[[dict[str, Any]], None]


def peak_rss_bytes() -> int | None:
    """This process's resident-set high-water mark, or None where the OS does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes


def _whisper_cpp(config: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Native whisper.cpp or the sandbox, through the same transcribe_file as `rmstudio transcribe`."""
    from rmstudio.core.transcribe import WhisperOptions, transcribe_file

    engine = "wasm" if config["engine"] == "sandbox" else "native"
    options = WhisperOptions(model=config["model"], language=config["language"], threads=config["threads"])
    runs = config["warmup"] + config["repeat"]
    times: list[float] = []
    out: dict[str, Any] = {"peak_memory_bytes": None, "windows": 1}
    cpu: list[float] = []
    starts: list[float] = []
    for n in range(runs):
        started = time.perf_counter()
        first_progress: list[float] = []

        def on_event(event: dict[str, Any], run: int = n + 1, first: list[float] = first_progress) -> None:
            if event.get("event") == "progress" and event.get("unit") == "s":
                if not first:  # whisper.cpp starts on the audio (the guest reports 0 s first)
                    first.append(time.perf_counter())
                emit(
                    {
                        "event": "progress",
                        "run": run,
                        "runs": runs,
                        "done": event.get("done"),
                        "total": event.get("total"),
                    }
                )

        cpu0 = time.process_time()
        job = transcribe_file(config["clip"], options, engine=engine, on_event=on_event)
        cpu_s = time.process_time() - cpu0
        if job.transcript is None:
            assert job.result.error is not None
            raise job.result.error
        if n == 0:
            out["first_run_s"] = job.wall_s
            out["module_cache"] = job.result.host.get("module_cache")
        if n < config["warmup"]:
            continue
        times.append(job.wall_s)
        cpu.append(cpu_s)
        if engine == "wasm" and first_progress:
            starts.append((first_progress[0] - started) * 1000)
        out["text"] = job.transcript.get("text", "")
        out["windows"] = int(job.result.host.get("windows") or 1)
        if engine == "wasm":
            # The guest's linear memory: the host's sample of the first window and the merged
            # metrics' maximum over all windows (each window is a store of its own).
            peaks = [job.result.host.get("peak_memory_bytes"), job.result.metrics.get("peak_memory_bytes")]
            peak = max((int(p) for p in peaks if p), default=0)
            out["peak_memory_bytes"] = max(out["peak_memory_bytes"] or 0, peak) or None
    out["times"] = times
    out["cpu_times"] = cpu
    out["start_ms"] = starts
    return out


def _faster_whisper(config: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """faster-whisper int8 on the CTranslate2 directory the default ggml model is converted from."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: a local directory never downloads
    from faster_whisper import WhisperModel

    from rmstudio.core.audio.load import load_audio
    from rmstudio.core.audio.resample import transform

    model = WhisperModel(
        config["model"],
        device="cpu",
        compute_type="int8",
        cpu_threads=config["threads"],
        num_workers=1,
        local_files_only=True,
    )
    runs = config["warmup"] + config["repeat"]
    times: list[float] = []
    out: dict[str, Any] = {"peak_memory_bytes": None, "windows": 1}
    cpu: list[float] = []
    for n in range(runs):
        started = time.perf_counter()
        cpu0 = time.process_time()
        # Decoding and resampling are inside the timed part, as in transcribe_file, with the
        # same loader and resampler, so every engine hears the same 16 kHz samples.
        audio = load_audio(config["clip"])
        samples = transform(audio.samples, audio.sample_rate, WHISPER_RATE, 1)[:, 0]
        segments, _info = model.transcribe(samples, language=config["language"], **FASTER_WHISPER_DECODING)
        texts = []
        for seg in segments:  # a generator: decoding happens while iterating
            texts.append(seg.text.strip())
            done = min(seg.end, audio.duration)
            emit({"event": "progress", "run": n + 1, "runs": runs, "done": done, "total": audio.duration})
        wall = time.perf_counter() - started
        # The last segment ends where speech ends; say the run is done, as whisper.cpp does.
        emit(
            {"event": "progress", "run": n + 1, "runs": runs, "done": audio.duration, "total": audio.duration}
        )
        if n == 0:
            out["first_run_s"] = wall
        if n >= config["warmup"]:
            times.append(wall)
            cpu.append(time.process_time() - cpu0)
            out["text"] = " ".join(t for t in texts if t)
    out["times"] = times
    out["cpu_times"] = cpu
    return out


def run(config: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Measure one configuration in this process; RMError on failure."""
    base = peak_rss_bytes()
    if config["engine"] in ("native", "sandbox"):
        out = _whisper_cpp(config, emit)
    elif config["engine"] == "faster-whisper":
        out = _faster_whisper(config, emit)
    else:
        raise RMError("invalid_request", f"unknown benchmark engine {config['engine']!r}")
    peak = peak_rss_bytes()
    # Everything this configuration added to the process: engine, model, buffers. The
    # baseline already holds Python, numpy and soundfile, which every engine needs.
    out["rss_growth_bytes"] = peak - base if peak is not None and base is not None else None
    return out


def _exit_with_parent(stdin: TextIO) -> None:
    """The parent keeps our stdin open while it waits; end of file means it is gone (killed
    without the chance to kill us), so stop rather than burn the cores for nobody."""
    while stdin.readline():
        pass
    os._exit(1)


def main(stdin: TextIO | None = None) -> int:
    """Entry point of the worker process (see the module docstring for the protocol)."""
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)  # stray native prints go to stderr, not into the protocol

    def emit(message: dict[str, Any]) -> None:
        proto.write(json.dumps(message) + "\n")

    source = stdin or sys.stdin
    try:
        config = json.loads(source.readline())
        threading.Thread(target=_exit_with_parent, args=(source,), daemon=True).start()
        emit({"event": "result", **run(config, emit)})
        return 0
    except RMError as exc:
        emit({"event": "error", "code": exc.code, "message": exc.describe()})
        return 1
    except Exception as exc:  # reported to the parent as one line; the traceback stays on stderr
        import traceback

        traceback.print_exc()
        emit({"event": "error", "code": "internal_error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        proto.flush()


if __name__ == "__main__":
    raise SystemExit(main())
