"""What a careful person wants to know before running someone else's package.

:func:`summarize` turns a :class:`PackageReport` into one JSON-ready document (``inspect
--json``); :func:`render` writes the same for people. Both always include what the guest
would be allowed to read and the verification result.
"""

from __future__ import annotations

import os
from typing import Any

from rmstudio.core.package.format import (
    DEFAULT_LIMITS,
    DEPS_DIR,
    FALLBACK_MODELS_GUEST_DIR,
    FORMAT_NAME,
    GUEST_DIRS,
    METADATA,
    MODELS_DIR,
    RUNTIME,
    PackageLimits,
)
from rmstudio.core.package.verify import PackageReport, unbundled_models, verify_package
from rmstudio.core.printable import printable


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _str(d: Any, key: str) -> str | None:
    value = d.get(key) if isinstance(d, dict) else None
    return value if isinstance(value, str) and value else None


def summarize(report: PackageReport) -> dict[str, Any]:
    meta = report.metadata or {}
    manifest = report.manifest or {}
    section = report.runtime
    raw_nodes = manifest.get("nodes")
    nodes = [n for n in raw_nodes if isinstance(n, dict)] if isinstance(raw_nodes, list) else []
    conns = manifest.get("connections") if isinstance(manifest.get("connections"), list) else []
    runtime_member = report.member(RUNTIME)
    built_with = meta.get("built_with") if isinstance(meta.get("built_with"), dict) else None
    runtime_build = meta.get("runtime_build") if isinstance(meta.get("runtime_build"), dict) else {}
    models_by_file = {v: k for k, v in (section.models if section else {}).items()}
    access = []
    for top in (MODELS_DIR, DEPS_DIR):
        guest = GUEST_DIRS[top]
        files = report.bundled(top)
        if section is not None and guest in section.preopens and files:
            access.append(
                {
                    "guest_path": guest,
                    "package_dir": f"{top}/",
                    "read_only": True,
                    "files": len(files),
                    "bytes": sum(m.size for m in files),
                }
            )
    missing_models = unbundled_models(report)
    status = "verified" if report.ok and not report.legacy else ("unverified" if report.legacy else "failed")
    return {
        "file": str(report.path),
        "size": report.file_size,
        "sha256": report.package_sha256,
        "format": FORMAT_NAME,
        "format_version": report.format_version,
        "legacy": report.legacy,
        "package": {
            "name": _str(meta, "package_name") or _str(manifest.get("metadata"), "name"),
            "version": _str(meta, "package_version"),
            "description": _str(meta, "description") or _str(manifest.get("metadata"), "description"),
            "author": _str(meta, "author"),
            "license": _str(meta, "license"),
        },
        "built": {
            "created_at": _str(meta, "created_at"),
            "built_with": built_with,
            "runtime_build": runtime_build,
        },
        "pipeline": {
            "name": _str(manifest.get("metadata"), "name"),
            "node_count": len(nodes),
            "connection_count": len(conns),
            "nodes": [
                {"id": str(n.get("id")), "node_type": str(n.get("node_type", n.get("nodeType")))}
                for n in nodes
            ],
        },
        "runtime": {
            "target": section.target if section else None,
            "entry": section.entry if section else None,
            "size": runtime_member.size if runtime_member else None,
            "sha256": runtime_member.sha256 if runtime_member else None,
            "contract_version": section.contract_version if section else None,
            "min_rmstudio_version": section.min_version if section else None,
            "executor_version": runtime_build.get("executor_version"),
        },
        "models": [
            {"name": models_by_file.get(m.name[len(MODELS_DIR) + 1 :]), "member": m.name, "size": m.size}
            for m in report.bundled(MODELS_DIR)
        ],
        "access": {
            "read_only_dirs": access,
            "fallback_models": [{"node_id": r.node_id, "model": r.value} for r in missing_models],
            "fallback_guest_path": FALLBACK_MODELS_GUEST_DIR if missing_models else None,
            "other_host_files": False,
            "network": False,
            "environment_variables": False,
        },
        "members": [m.to_json() for m in report.members],
        "verification": {
            "ok": report.ok,
            "status": status,
            "errors": [e.to_json() for e in report.errors],
            "warnings": [w.to_json() for w in report.warnings],
        },
    }


def inspect_package(path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Verify ``path`` and summarize it (stage 1-2 problems raise; see docs/RMPKG.md)."""
    return summarize(verify_package(path, limits))


def render(summary: dict[str, Any]) -> str:
    """The summary as text for a terminal."""
    s = summary
    pkg, built, pipe, rt, acc = s["package"], s["built"], s["pipeline"], s["runtime"], s["access"]
    lines: list[str] = []
    title = f"{os.path.basename(s['file'])}: "
    title += (
        f".rmpkg format {s['format_version']}"
        if s["format_version"]
        else "RemoteMedia v1 package (legacy, no hashes)"
    )
    lines.append(printable(title))

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<11} {printable(text)}")  # the package's own text: no escapes

    name = " ".join(x for x in (pkg["name"] or "(unnamed)", pkg["version"] or "") if x)
    row("package", name)
    if pkg["description"]:
        row("", pkg["description"])
    row("author", pkg["author"] or "not stated")
    if pkg["license"]:
        row("license", pkg["license"])
    bw = built["built_with"]
    tool = f"{bw.get('name', '?')} {bw.get('version', '?')}" if isinstance(bw, dict) else "an unknown tool"
    row("built", f"{built['created_at'] or 'at an unknown time'} with {tool}")
    node_text = ", ".join(f"{n['id']} ({n['node_type']})" for n in pipe["nodes"][:8])
    if len(pipe["nodes"]) > 8:
        node_text += f", ... {len(pipe['nodes']) - 8} more"
    row(
        "pipeline",
        f"{pipe['node_count']} node{'s' if pipe['node_count'] != 1 else ''}: {node_text}; "
        f"{pipe['connection_count']} connection{'s' if pipe['connection_count'] != 1 else ''}",
    )
    parts = [f"{rt['entry'] or RUNTIME}", str(rt["target"] or "?"), _fmt_bytes(rt["size"])]
    if rt["contract_version"] is not None:
        parts.append(f"guest contract {rt['contract_version']}")
    if rt["executor_version"]:
        parts.append(f"executor {rt['executor_version']}")
    runtime_text = ", ".join(parts)
    if rt["min_rmstudio_version"]:
        runtime_text += f"; needs RM Studio >= {rt['min_rmstudio_version']}"
    row("runtime", runtime_text)
    if s["models"]:
        for i, m in enumerate(s["models"]):
            row(
                "models" if i == 0 else "",
                f"{m['name'] or '(unnamed)'} = {m['member']} ({_fmt_bytes(m['size'])})",
            )
    else:
        row("models", "none bundled")
    dirs = acc["read_only_dirs"]
    if dirs:
        for i, d in enumerate(dirs):
            row(
                "may read" if i == 0 else "",
                f"{d['guest_path']}: the package's own {d['package_dir']} ({d['files']} file"
                f"{'s' if d['files'] != 1 else ''}, {_fmt_bytes(d['bytes'])}), read-only",
            )
    else:
        row("may read", "only its input: no directory is shared with it")
    for fb in acc["fallback_models"]:
        row(
            "",
            f"model '{fb['model']}' is not bundled: one model of yours is lent read-only at "
            f"{acc['fallback_guest_path']}",
        )
    row("", "no other files of this computer, no network, no environment variables")
    row("package id", f"sha256 {s['sha256']} ({_fmt_bytes(s['size'])})")

    lines.append("")
    members = s["members"]
    width = max([len(printable(m["name"])) for m in members] + [6])
    lines.append(f"  {'member':<{width}}  {'size':>10}  {'packed':>10}  {'check':<13} sha256")
    for m in members:
        if m["status"] == "directory":
            continue
        check = {"ok": "ok", "unverified": "no hash"}.get(m["status"], m["status"].replace("_", " ").upper())
        if m["name"] == METADATA and m["status"] == "ok":
            check = "(the hashes)"
        lines.append(
            f"  {printable(m['name']):<{width}}  "
            f"{_fmt_bytes(m['size']):>10}  {_fmt_bytes(m['packed_size']):>10}  "
            f"{check:<13} {m['sha256'] or '-'}"
        )

    lines.append("")
    v = s["verification"]
    hashed = [m for m in members if m["status"] not in ("directory",) and m["name"] != METADATA]
    good = sum(1 for m in hashed if m["status"] == "ok")
    if v["status"] == "verified":
        lines.append(f"verification: OK (structure safe, {good} of {len(hashed)} member hashes match)")
    elif v["status"] == "unverified":
        lines.append("verification: UNVERIFIED (structure safe, but a legacy package has no hashes to check)")
    else:
        n = len(v["errors"])
        lines.append(f"verification: FAILED ({n} problem{'s' if n != 1 else ''}); do not run this package")
    for e in v["errors"]:
        if e["code"] != "package_unverified":
            lines.append(f"  error: {e['code']}: {printable(e['message'])}")
    for w in v["warnings"]:
        lines.append(f"  warning: {printable(w['message'])}")
    return "\n".join(lines) + "\n"
