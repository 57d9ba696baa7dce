"""Build the self-contained RM Studio folder with PyInstaller.

    python installers/build.py [--dist DIR] [--work DIR] [--clean]

Steps: make sure the guest runtime ``rmstudio/_guest/rm_executor.wasm`` is built (runs
``runtime/build.py`` if not), render the icon, run PyInstaller on ``installers/rmstudio.spec``
and, on Linux, lay out the desktop files beside the program::

    DIST/rmstudio/rmstudio            the program (rmstudio.exe on Windows)
    DIST/rmstudio/_internal/          Python, Qt, the guest, the default model, examples
    DIST/rmstudio/share/              .desktop, AppStream metainfo, MIME types, icons (Linux)
    DIST/rmstudio/install.sh          adds the build to the desktop menu (Linux)
    DIST/RM Studio.app                the application bundle (macOS)

DIST defaults to ``dist/`` and DIR for PyInstaller's intermediate files to ``build/pyinstaller``
in the repository; both are ignored by git. Works on Linux, Windows and macOS with the same
command (see docs/install.md for what differs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "installers" / "rmstudio.spec"
GUEST = REPO / "rmstudio" / "_guest" / "rm_executor.wasm"
LINUX_RESOURCES = REPO / "resources" / "linux"

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "installers"))


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def ensure_guest() -> None:
    if GUEST.is_file():
        return
    print("==> the guest runtime is not built yet: running runtime/build.py", flush=True)
    subprocess.run([sys.executable, str(REPO / "runtime" / "build.py")], check=True, cwd=REPO)


def lay_out_linux_share(app_dir: Path, icons_dir: Path, app_id: str) -> None:
    """share/ in the freedesktop layout, and install.sh that copies it into the user's data dir."""
    share = app_dir / "share"
    if share.exists():
        shutil.rmtree(share)
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    (share / "mime" / "packages").mkdir(parents=True)
    shutil.copy2(LINUX_RESOURCES / f"{app_id}.desktop", share / "applications")
    shutil.copy2(LINUX_RESOURCES / f"{app_id}.metainfo.xml", share / "metainfo")
    # update-mime-database wants the package file named <package>.xml
    shutil.copy2(LINUX_RESOURCES / f"{app_id}.mime.xml", share / "mime" / "packages" / f"{app_id}.xml")
    shutil.copytree(icons_dir, share / "icons" / "hicolor")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy2(REPO / "resources" / "icons" / "rmstudio.svg", scalable / f"{app_id}.svg")
    shutil.copy2(REPO / "installers" / "linux" / "install.sh", app_dir / "install.sh")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the self-contained RM Studio folder (PyInstaller).")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="where the build goes (dist/)")
    parser.add_argument(
        "--work", type=Path, default=REPO / "build" / "pyinstaller", help="PyInstaller's scratch folder"
    )
    parser.add_argument("--clean", action="store_true", help="ignore PyInstaller's cache from earlier builds")
    args = parser.parse_args(argv)

    import icons

    from rmstudio import __version__
    from rmstudio.gui.resources import APP_ID

    started = time.monotonic()
    ensure_guest()
    icons_dir = args.work.resolve() / "icons"
    if icons_dir.exists():
        shutil.rmtree(icons_dir)
    pngs = icons.render(icons_dir, APP_ID)

    env = dict(os.environ, RMSTUDIO_APP_ICON=str(pngs[-1]))  # the 256 px one, for .exe / .app
    # The spec imports nothing from the source tree, but PyInstaller's analysis must find the
    # rmstudio package of this checkout, not some other installed copy.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(args.dist.resolve()),
        "--workpath",
        str(args.work.resolve()),
    ]
    if args.clean:
        command.append("--clean")
    print(f"==> PyInstaller: RM Studio {__version__} into {args.dist}", flush=True)
    subprocess.run([*command, str(SPEC)], check=True, env=env, cwd=REPO)

    app_dir = args.dist.resolve() / "rmstudio"
    if sys.platform.startswith("linux"):
        lay_out_linux_share(app_dir, icons_dir, APP_ID)
    seconds = time.monotonic() - started
    size = folder_size(app_dir)
    exe = app_dir / ("rmstudio.exe" if sys.platform == "win32" else "rmstudio")
    print(f"built {exe} in {seconds:.0f} s; the folder holds {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
