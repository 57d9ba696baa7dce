"""``rmstudio transcribe``: speech to text in the sandbox, with a progress bar and exports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rmstudio.cli.argtypes import add_limit_arguments, count, limits_from
from rmstudio.cli.interrupt import CancelOnCtrlC
from rmstudio.cli.output import print_json, print_problem
from rmstudio.cli.progress import ProgressBar, progress_listener
from rmstudio.core.errors import RMError
from rmstudio.core.execute import ENGINES
from rmstudio.core.export import FORMATS, render, write_transcript
from rmstudio.core.manifest.catalog import find_node
from rmstudio.core.transcribe import WhisperOptions, transcribe_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files with Whisper in the sandbox")
    p.add_argument("files", nargs="+", metavar="AUDIO", help="audio files (WAV, FLAC, OGG, MP3, ...)")
    p.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default=None,
        help="output format (default: txt on screen; from the -o file's extension)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="a directory (one file per input) or, for one input, a file name",
    )
    p.add_argument(
        "--model",
        "-m",
        default="default",
        help="model name (rmstudio models list), a ggml file, or 'default' (tiny.en)",
    )
    p.add_argument("--language", "-l", default="auto", help="spoken language code, or auto")
    p.add_argument("--translate", action="store_true", help="translate the speech to English")
    p.add_argument(
        "--threads",
        "-t",
        type=int,
        default=1,
        help="cores to use: in the sandbox, windows of long audio (over 30 s) transcribed at once, "
        "one guest each; with --engine native, whisper.cpp's threads (see docs/PERFORMANCE.md)",
    )
    beam = find_node("WhisperTranscriber").param("beam_size")  # the catalog's bounds
    assert beam is not None and beam.minimum is not None and beam.maximum is not None
    p.add_argument(
        "--beam-size",
        type=count(int(beam.minimum), int(beam.maximum)),
        default=1,
        help=f"beam search width (1 = greedy, at most {beam.maximum:g})",
    )
    p.add_argument("--prompt", default="", help="initial prompt (names, spelling)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="wasm",
        help="wasm: the sandbox (default); native: native whisper.cpp for comparison",
    )
    add_limit_arguments(
        p, "stop after this many seconds per file", "cap on each guest's linear memory in MiB"
    )
    p.add_argument("--json", action="store_true", help="print the transcripts and run facts as JSON")
    p.set_defaults(func=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
    return suffix if suffix in FORMATS else "txt"


def _plan_outputs(args: argparse.Namespace, fmt: str) -> list[Path | None]:
    """Where each input's transcript goes, checked before any audio is transcribed: a bad -o
    must not cost a transcription, and no output may replace an input or another output."""
    if not args.output:
        return [None] * len(args.files)
    out = Path(args.output)
    as_dir = out.is_dir() or args.output.endswith(("/", "\\")) or len(args.files) > 1
    if as_dir and out.exists() and not out.is_dir():
        raise RMError(
            "invalid_request",
            f"-o {out} is a file, but {len(args.files)} inputs need a directory (one transcript each)",
            hint="Give a directory, e.g. -o transcripts/",
        )
    targets = [out / f"{Path(name).stem}.{fmt}" if as_dir else out for name in args.files]
    for parent in (targets[0].parent, *targets[0].parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise RMError(
                    "invalid_request",
                    f"cannot write into {parent}: it is a file, not a folder",
                    hint="Choose another -o",
                )
            break
    seen: dict[str, str] = {}
    for name, target in zip(args.files, targets, strict=True):
        if target.exists() and Path(name).exists() and target.resolve() == Path(name).resolve():
            raise RMError(
                "invalid_request",
                f"-o {target} is the input audio file itself; writing the transcript would destroy it",
                hint=f"Name the transcript differently, e.g. -o {target.with_suffix('.' + fmt).name}"
                if target.suffix.lower() != "." + fmt
                else "Name the transcript differently",
            )
        key = str(target.resolve()).casefold()  # equal on case-insensitive disks too
        if key in seen:
            raise RMError(
                "invalid_request",
                f"{seen[key]} and {name} would both be transcribed to {target}",
                hint="Transcribe them into different directories, or rename one",
            )
        seen[key] = name
    return targets


def run(args: argparse.Namespace) -> int:
    options = WhisperOptions(
        args.model, args.language, args.translate, args.threads, args.beam_size, args.prompt
    )
    limits = limits_from(args)
    if args.output and len(args.files) > 1 and Path(args.output).suffix and not Path(args.output).is_dir():
        raise RMError(
            "invalid_request",
            f"{len(args.files)} inputs need a directory for -o, not a file name",
            hint="Give a directory, e.g. -o transcripts/",
        )
    fmt = _format(args)
    targets = _plan_outputs(args, fmt)
    failures = 0
    report = []
    for name, target in zip(args.files, targets, strict=True):
        audio = Path(name)
        bar = ProgressBar(audio.name, unit="s")
        try:
            with CancelOnCtrlC() as stop:  # native windows stop between windows
                job = transcribe_file(
                    audio,
                    options,
                    engine=args.engine,
                    limits=limits,
                    on_event=progress_listener(bar),
                    control=stop.control,
                )
        finally:
            bar.close()
        for w in job.result.warnings:
            print_problem(RMError.from_json(w), "warning")
        if job.transcript is None:
            assert job.result.error is not None
            print_problem(job.result.error, "error")
            failures += 1
            report.append({"file": str(audio), "ok": False, "error": job.result.error.to_json()})
            continue
        rtf = f"RTF {job.rtf:.2f}" if job.rtf else ""
        peak = job.result.host.get("peak_memory_bytes")
        facts = f"{job.audio_duration:.1f} s of audio in {job.wall_s:.1f} s ({rtf}" + (
            f", peak guest memory {peak / 2**20:.0f} MiB)" if peak else ")"
        )
        if target is not None:
            try:
                write_transcript(job.transcript, target, fmt)
            except RMError as exc:  # the other inputs still get their turn
                print_problem(exc, "error")
                failures += 1
                report.append({"file": str(audio), "ok": False, "error": exc.to_json()})
                continue
            print(f"{audio}: {facts} -> {target}", file=sys.stderr)
        elif not args.json:
            if len(args.files) > 1:
                print(f"== {audio}")
            print(render(job.transcript, fmt), end="" if fmt != "txt" else "\n")
            print(f"{audio}: {facts}", file=sys.stderr)
        report.append(
            {
                "file": str(audio),
                "ok": True,
                "transcript": job.transcript,
                "audio_duration": job.audio_duration,
                "wall_s": job.wall_s,
                "rtf": job.rtf,
                "engine": job.result.engine,
                "host": job.result.host,
                **({"output": str(target)} if target else {}),
            }
        )
    if args.json:
        print_json(report if len(report) > 1 else report[0])
    return 1 if failures else 0
