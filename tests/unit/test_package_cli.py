"""``rmstudio pack | inspect | verify | unpack`` (and ``run`` on packages) as a user runs them:
exit codes, messages, and never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from rmstudio.cli import main
from rmstudio.core.package.format import ZSTD_MAGIC
from tests.conftest import EXAMPLES, REPO
from tests.unit.test_package_build import CREATED, runtime_file
from tests.unit.test_package_zipcraft import Entry, baseline_entries, craft, metadata_for


def rmstudio(*args: str, cwd=REPO, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rmstudio", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )


@pytest.fixture
def packed(tmp_path):
    runtime = runtime_file(tmp_path)
    out = tmp_path / "calc.rmpkg"
    code = main(
        [
            "pack",
            str(EXAMPLES / "calculator.json"),
            "-o",
            str(out),
            "--runtime",
            str(runtime),
            "--created",
            CREATED,
        ]
    )
    assert code == 0
    return out, runtime


def test_help_lists_the_package_commands():
    proc = rmstudio("--help")
    assert proc.returncode == 0
    for command in ("pack", "inspect", "verify", "unpack"):
        assert command in proc.stdout


def test_pack_prints_what_it_wrote_and_refuses_to_overwrite(tmp_path, capsys):
    runtime = runtime_file(tmp_path)
    out = tmp_path / "calc.rmpkg"
    args = [
        "pack",
        str(EXAMPLES / "calculator.json"),
        "-o",
        str(out),
        "--runtime",
        str(runtime),
        "--created",
        CREATED,
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "package id  sha256 " in text and "runtime.wasm" in text
    proc = rmstudio(*args)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the output file already exists") and "--force" in proc.stderr
    assert main([*args, "--force", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == str(out) and len(result["sha256"]) == 64


def test_pack_default_output_name(tmp_path):
    runtime = runtime_file(tmp_path)
    proc = rmstudio("pack", str(EXAMPLES / "calculator.json"), "--runtime", str(runtime), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "calculator.rmpkg").is_file()


def test_pack_errors_are_one_paragraph(tmp_path):
    runtime = runtime_file(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"version": "v1", "nodes": [{"id": "a", "node_type": "Nope"}], "connections": []})
    )
    for args in (
        ("pack", str(bad), "-o", str(tmp_path / "x.rmpkg"), "--runtime", str(runtime)),
        ("pack", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.rmpkg")),
        ("pack", str(EXAMPLES / "calculator.json"), "-o", str(tmp_path / "x.rmpkg"), "--runtime", str(bad)),
        (
            "pack",
            str(EXAMPLES / "calculator.json"),
            "-o",
            str(tmp_path / "x.rmpkg"),
            "--created",
            "yesterday",
        ),
    ):
        proc = rmstudio(*args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "x.rmpkg").exists()


def test_inspect_shows_what_a_careful_user_needs(packed, capsys):
    pkg, _ = packed
    assert main(["inspect", str(pkg)]) == 0
    text = capsys.readouterr().out
    for needle in (
        "calc.rmpkg: .rmpkg format 1.0",
        "package     calculator 1.0.0",
        "author      not stated",
        "built       2026-11-25T00:00:00Z with rmstudio 0.1.0",
        "pipeline    2 nodes: multiply (MultiplyNode), add (AddNode); 1 connection",
        "runtime     runtime.wasm, wasm32-wasi",
        "needs RM Studio >= 0.1.0",
        "may read    only its input: no directory is shared with it",
        "no other files of this computer, no network, no environment variables",
        "package id  sha256 ",
        "verification: OK (structure safe, 2 of 2 member hashes match)",
    ):
        assert needle in text, needle
    assert main(["inspect", str(pkg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verification"]["status"] == "verified"
    assert doc["package"]["name"] == "calculator" and doc["built"]["created_at"] == CREATED
    assert doc["access"] == {
        "read_only_dirs": [],
        "fallback_models": [],
        "fallback_guest_path": None,
        "other_host_files": False,
        "network": False,
        "environment_variables": False,
    }
    assert [m["name"] for m in doc["members"]] == ["manifest.json", "runtime.wasm", "metadata.json"]


def tampered(pkg, tmp_path):
    """The same package with runtime.wasm replaced after it was built (zip rebuilt, metadata not)."""
    bad = tmp_path / "tampered.rmpkg"
    with zipfile.ZipFile(pkg) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "runtime.wasm":
                data = data[:-1] + b"!"
            dst.writestr(info, data)
    return bad


def test_verify_exit_status_and_messages(packed, tmp_path, capsys):
    pkg, _ = packed
    assert main(["verify", str(pkg)]) == 0
    assert "verified (2 member hashes match, structure safe" in capsys.readouterr().out
    bad = tampered(pkg, tmp_path)
    proc = rmstudio("verify", str(bad))
    assert proc.returncode == 1
    assert (
        "error: member 'runtime.wasm' has sha256" in proc.stderr and "NOT verified (1 problem)" in proc.stderr
    )
    assert "do not run it" in proc.stderr and "Traceback" not in proc.stderr
    assert main(["verify", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["errors"][0]["code"] == "package_hash_mismatch"
    # inspect still shows everything, flags the member, and exits 1
    proc = rmstudio("inspect", str(bad))
    assert proc.returncode == 1
    assert (
        "HASH MISMATCH" in proc.stdout
        and "verification: FAILED (1 problem); do not run this package" in proc.stdout
    )


def test_unpack(packed, tmp_path):
    pkg, _ = packed
    out = tmp_path / "unpacked"
    proc = rmstudio("unpack", str(pkg), str(out))
    assert proc.returncode == 0 and "unpacked 3 files" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "metadata.json", "runtime.wasm"]
    proc = rmstudio("unpack", str(pkg), str(out))
    assert proc.returncode == 1 and proc.stderr.startswith("error: the target directory is not empty")


def test_max_size_is_configurable(packed):
    pkg, _ = packed
    proc = rmstudio("verify", str(pkg), "--max-size", "0.0005")  # 524 bytes
    assert proc.returncode == 1 and "over the limit" in proc.stderr
    assert rmstudio("verify", str(pkg), "--max-size", "100").returncode == 0


def test_hostile_files_never_show_a_traceback(tmp_path):
    files = {
        "text.rmpkg": b"just text",
        "bundle.rmpkg": ZSTD_MAGIC + b"\x00" * 32,
        "bundle.json": ZSTD_MAGIC + b"\x00" * 32,  # recognised by its bytes, not its name
        "manifest.rmpkg": (EXAMPLES / "calculator.json").read_bytes(),
        "empty.rmpkg": b"",
        "cut.rmpkg": b"PK\x03\x04" + b"\x00" * 20,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    craft(tmp_path / "evil.rmpkg", [*baseline_entries(), Entry("../../evil.txt", b"x")])
    craft(tmp_path / "bomb.rmpkg", [*baseline_entries(), Entry("deps/zeros.bin", bytes(64 << 20))])
    targets = [*files, "evil.rmpkg", "bomb.rmpkg", "missing.rmpkg"]
    expected = {
        "bundle.rmpkg": "RemoteMedia-SDK native plugin bundle",
        "bundle.json": "RemoteMedia-SDK native plugin bundle",
        "manifest.rmpkg": "It looks like JSON text",
        "evil.rmpkg": "unsafe member name",
        "bomb.rmpkg": "zip bombs",
        "missing.rmpkg": "package file not found",
    }
    for name in targets:
        path = str(tmp_path / name)
        for args in (
            ("verify", path),
            ("inspect", path),
            ("unpack", path, str(tmp_path / "out")),
            ("run", path),
        ):
            proc = rmstudio(*args)
            assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
            assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
            if name in expected:
                assert expected[name] in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_inspect_json_on_a_refused_package(tmp_path, capsys):
    (tmp_path / "x.rmpkg").write_bytes(ZSTD_MAGIC + b"\x00" * 8)
    assert main(["inspect", str(tmp_path / "x.rmpkg"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verification"]["status"] == "refused"
    assert doc["verification"]["errors"][0]["code"] == "package_oci_format"


def test_package_text_cannot_forge_or_hide_lines_on_the_terminal(tmp_path, capsys):
    # A damaged package (runtime.wasm's hash is wrong) whose description fakes a passing
    # verdict and then hides everything after it (SGR 8), and whose runtime target clears lines.
    entries = baseline_entries()
    forged = "Nice.\n\nverification: OK (structure safe, 4 of 4 member hashes match)\n\x1b[8m"
    meta = metadata_for(entries, description=forged, author="\r\x1b[2Kmallory\u202e")
    meta["files"]["runtime.wasm"]["sha256"] = "0" * 64
    pkg = craft(tmp_path / "forged.rmpkg", entries, metadata=meta)
    assert main(["inspect", str(pkg)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    verdicts = [line for line in out.splitlines() if line.startswith("verification:")]
    assert verdicts == ["verification: FAILED (1 problem); do not run this package"]
    assert "Nice.\\x0a\\x0averification: OK" in out  # shown, visibly, as the package's own text
