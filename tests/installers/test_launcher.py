"""The frozen launcher: `rmstudio FILE` (Finder, Windows file associations) opens the window."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "installers"))
from launcher import _arguments


def test_a_file_alone_means_gui(tmp_path) -> None:
    pkg = tmp_path / "calc.rmpkg"
    pkg.write_bytes(b"PK\x05\x06" + bytes(18))
    assert _arguments([str(pkg)]) == ["gui", str(pkg)]


def test_commands_and_options_are_left_alone(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").write_text("a file named like a command")
    assert _arguments(["run", "x.json"]) == ["run", "x.json"]
    assert _arguments(["--version"]) == ["--version"]
    assert _arguments(["missing.json"]) == ["missing.json"]
    assert _arguments([]) == []
