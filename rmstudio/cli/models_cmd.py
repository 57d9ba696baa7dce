"""``rmstudio models``: the Whisper model store (list, import, convert, quantize, download, remove)."""

from __future__ import annotations

import argparse
import threading

from rmstudio.cli.interrupt import CancelOnCtrlC
from rmstudio.cli.output import format_bytes, print_json
from rmstudio.cli.progress import ProgressBar
from rmstudio.core import models
from rmstudio.core.models.quantize import canonical_type


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="manage Whisper models (list, import, convert, quantize, download)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")

    ls = msub.add_parser("list", help="list the models in the store (default action)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    imp = msub.add_parser("import", help="import a ggml model file (validated, copied into the store)")
    imp.add_argument("path")
    imp.add_argument("--name", help="store name (default: derived from the weights)")
    imp.set_defaults(func=_import)

    conv = msub.add_parser("convert", help="convert a CTranslate2 (faster-whisper) model directory to ggml")
    conv.add_argument("ct2_dir")
    conv.add_argument(
        "--quant",
        choices=models.QUANTS,
        default=models.DEFAULT_QUANT,
        help="weight format (default %(default)s)",
    )
    conv.add_argument("--name")
    conv.set_defaults(func=_convert)

    q = msub.add_parser(
        "quantize",
        help="make another weight format of a stored model (ggml's quantizer, in the sandbox)",
        description="Quantize a stored f16 or f32 model with ggml's own quantizer inside the sandbox "
        "and store the result as NAME-TYPE (tiny.en -> tiny.en-q5_1).",
    )
    q.add_argument("model", metavar="NAME", help="a stored model with f16 or f32 weights (models list)")
    q.add_argument(
        "--type",
        required=True,
        metavar="TYPE",
        help="weight format: " + ", ".join(models.QUANTIZE_TYPES) + " (q*_K need rows of 256: not tiny)",
    )
    q.add_argument("--name", help="store name (default: NAME with the format appended, e.g. tiny.en-q5_1)")
    q.add_argument("--force", action="store_true", help="replace an existing model of that name")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.set_defaults(func=_quantize)

    dl = msub.add_parser("download", help="download a ggml model with progress, checksum and resume")
    dl.add_argument("url")
    group = dl.add_mutually_exclusive_group(required=True)
    group.add_argument("--sha256", help="expected SHA-256 of the file")
    group.add_argument("--sha1", help="expected SHA-1 (as whisper.cpp publishes them)")
    dl.add_argument("--name")
    dl.set_defaults(func=_download)

    rm = msub.add_parser("remove", help="delete a model from the store")
    rm.add_argument("name")
    rm.set_defaults(func=_remove)

    info = msub.add_parser("info", help="validate a ggml file and show what it contains")
    info.add_argument("path")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)

    prep = msub.add_parser("prepare-default", help="convert the embedded default model (tiny.en) once")
    prep.set_defaults(func=_prepare_default)

    where = msub.add_parser("path", help="print the model store directory")
    where.set_defaults(func=lambda args: print(models.models_dir()) or 0)
    p.set_defaults(func=_list, json=False)


def _list(args: argparse.Namespace) -> int:
    items = models.list_models()
    if args.json:
        print_json([m.to_json() for m in items])
        return 0
    if not items:
        print(f"no models in {models.models_dir()} yet; `rmstudio models prepare-default` converts tiny.en")
        return 0
    print(f"{'name':<24} {'weights':<10} {'format':<7} {'size':>10}  source")
    for m in items:
        mark = "  (default)" if m.is_default else ""
        print(f"{m.name:<24} {m.label:<10} {m.ftype:<7} {format_bytes(m.size):>10}  {m.source}{mark}")
    print(f"\nstore: {models.models_dir()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    m = models.import_model(args.path, name=args.name)
    print(f"imported {m.name} ({m.label}, {m.ftype}, {format_bytes(m.size)})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    with ProgressBar("converting", unit="") as bar:
        m = models.convert(args.ct2_dir, args.quant, name=args.name, progress=lambda d, t: bar(d, t))
    print(f"converted to {m.name} ({m.label}, {m.ftype}, {format_bytes(m.size)}): {m.path}")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    """Ctrl-C cancels the guest, which removes its partial output; the command exits 130."""
    qtype = canonical_type(args.type)  # an unknown type fails here, before any work
    bar = ProgressBar(f"quantizing {args.model} to {qtype}", unit="B")

    def on_event(event: dict) -> None:
        if event.get("event") == "progress" and isinstance(event.get("tensor"), str):
            bar.suffix = event["tensor"]

    try:
        with CancelOnCtrlC() as stop:
            result = models.quantize_model(
                args.model,
                qtype,
                name=args.name,
                force=args.force,
                progress=lambda d, t: bar(d, t),
                on_event=on_event,
                control=stop.control,
            )
    finally:
        bar.close()
    if args.json:
        print_json(result.to_json())
        return 0
    m, src = result.model, result.source
    if result.duplicate:
        print(
            f"the {result.type} weights of {src.name} are identical to the stored model {m.name} "
            f"({m.ftype}, {format_bytes(m.size)}); nothing new was added"
        )
        return 0
    g = result.guest
    detail = ""
    if g.get("tensors"):
        detail = f": {g['quantized']} tensors quantized, {g['tensors'] - g['quantized']} kept"
    print(
        f"quantized {src.name} ({src.ftype}, {format_bytes(src.size)}) to {m.name} "
        f"({m.ftype}, {format_bytes(m.size)}) in {result.seconds:.1f} s{detail}"
        + (f" (replaced the previous {m.name})" if result.replaced else "")
    )
    return 0


def _download(args: argparse.Namespace) -> int:
    cancel = threading.Event()
    with ProgressBar("downloading", unit="B") as bar:
        try:
            m = models.download_model(
                args.url,
                sha256=args.sha256,
                sha1=args.sha1,
                name=args.name,
                progress=lambda d, t: bar(d, t),
                cancel=cancel,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise
    print(f"downloaded {m.name} ({m.label}, {m.ftype}, {format_bytes(m.size)})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    m = models.remove_model(args.name)
    print(f"removed {m.name}")
    return 0


def _info(args: argparse.Namespace) -> int:
    info = models.read_model_info(args.path, sha256=True)
    if args.json:
        print_json(info.to_json())
        return 0
    data = info.to_json()
    types = ", ".join(f"{n} {k}" for k, n in data.get("tensor_types", {}).items())
    rows = [
        ("file", data["path"]),
        ("weights", f"{data['label']} ({'English only' if data['english_only'] else 'multilingual'})"),
        ("format", data["ftype"]),
        ("size", f"{format_bytes(data['size'])} ({data['size']} bytes)"),
        ("tensors", f"{data['n_tensors']} ({types})"),
        ("sha256", data.get("sha256") or "?"),
    ]
    for key, value in rows:
        print(f"{key:>8}: {value}")
    return 0


def _prepare_default(args: argparse.Namespace) -> int:
    with ProgressBar("converting the default model (tiny.en)") as bar:
        m = models.default_model(progress=lambda d, t: bar(d, t))
    print(f"default model ready: {m.name} ({m.ftype}, {format_bytes(m.size)}) in {m.path.parent}")
    return 0
