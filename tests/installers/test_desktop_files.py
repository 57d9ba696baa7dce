"""The freedesktop files in resources/linux: valid, and consistent with each other and the app."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from rmstudio.gui.resources import APP_ID, icon_path
from tests.conftest import REPO

LINUX = REPO / "resources" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
MIME = LINUX / f"{APP_ID}.mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (./setup.sh installs it on Debian/Ubuntu)")
    return path


def test_desktop_file_validates() -> None:
    proc = subprocess.run([_tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout + proc.stderr


def test_metainfo_validates() -> None:
    proc = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_files_agree() -> None:
    entry = _desktop_entry()
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == "rmstudio gui %F"  # `rmstudio gui FILE...` opens files
    declared = {t.get("type") for t in ET.parse(MIME).getroot().iter(f"{MIME_NS}mime-type")}
    handled = {t for t in entry["MimeType"].split(";") if t}
    assert handled == declared == {"application/x-rmstudio-package", "application/x-rmstudio-manifest+json"}

    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == APP_ID
    assert component.find("launchable").text == f"{APP_ID}.desktop"
    assert {m.text for m in component.iter("mediatype")} == declared
    assert component.find("releases/release").get("version") == __import__("rmstudio").__version__
    assert icon_path() is not None and icon_path().suffix == ".svg"


def test_rmpkg_glob_and_manifest_magic() -> None:
    types = {t.get("type"): t for t in ET.parse(MIME).getroot().iter(f"{MIME_NS}mime-type")}
    package = types["application/x-rmstudio-package"]
    assert [g.get("pattern") for g in package.iter(f"{MIME_NS}glob")] == ["*.rmpkg"]
    manifest = types["application/x-rmstudio-manifest+json"]
    assert not list(manifest.iter(f"{MIME_NS}glob")), "claiming *.json would take over every JSON file"
    needles = [m.get("value") for m in manifest.iter(f"{MIME_NS}match")]
    example = (REPO / "resources" / "examples" / "calculator.json").read_text()[:4096]
    assert needles and all(n in example for n in needles)


def test_mime_database_compiles(tmp_path) -> None:
    tool = _tool("update-mime-database")
    mime = tmp_path / "mime"
    (mime / "packages").mkdir(parents=True)
    shutil.copy(MIME, mime / "packages" / f"{APP_ID}.xml")
    env = {"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.run([tool, str(mime)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr  # it warns about bad XML
    assert "application/x-rmstudio-package:*.rmpkg" in (mime / "globs2").read_text()
    assert "application/x-rmstudio-manifest+json" in (mime / "magic").read_bytes().decode("latin-1")
