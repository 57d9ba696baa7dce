"""The documentation site builds with --strict (no broken links or anchors) and its generated
pages match the code they are generated from."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_cli_reference_is_up_to_date() -> None:
    from rmstudio.cli.reference import markdown

    page = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert page == markdown(), "docs/CLI.md is stale: run `python -m rmstudio.cli.reference > docs/CLI.md`"


def test_every_command_is_documented() -> None:
    from rmstudio.cli import build_parser

    page = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"## `rmstudio {name}`" in page


def test_site_builds_strict(tmp_path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra: run ./setup.sh")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    for page in ("index.html", "INSTALL.html", "CLI.html", "ARCHITECTURE.html", "images/rmstudio.svg"):
        assert (tmp_path / page).is_file(), page


def test_every_page_is_in_the_navigation() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([A-Za-z_]+\.md)\s*$", config, flags=re.M))
    present = {p.name for p in (REPO / "docs").glob("*.md")}
    assert present == listed


def test_readme_links_resolve() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert local, "the README links into the docs"
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, missing
