#!/usr/bin/env bash
# RM Studio setup: everything a fresh machine needs to run and test RM Studio.
#   1. Debian packages Qt needs at run time (installed when we are root or have sudo;
#      otherwise the exact apt-get command is printed and setup stops),
#   2. a virtual environment in .venv with RM Studio and its test tools (PyPI only),
#   3. the guest runtime rm_executor.wasm, built with Zig from PyPI (cached),
#   4. the default Whisper model, converted once into the user data directory.
# Safe to run again: every step reuses what is already there.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
"$PY" - <<'PYCHECK' || { echo "error: RM Studio needs Python 3.11 or newer ($PY is older)" >&2; exit 1; }
import sys; raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PYCHECK

# Qt's xcb window plugin, QtMultimedia (PulseAudio client), fonts and GL for widgets; the
# freedesktop tools that check and install the desktop files (desktop-file-utils, appstream,
# shared-mime-info).
DEBIAN_PACKAGES="libpulse0 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 \
libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 \
libxcb-render-util0 libxcb-image0 libxcb-xinerama0 desktop-file-utils appstream shared-mime-info"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for p in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "==> installing Debian packages:$missing"
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "error: these Debian packages are missing:$missing" >&2
      echo "       run: sudo apt-get install -y$missing   and then run ./setup.sh again" >&2
      exit 1
    fi
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
else
  echo "note: not a Debian system; make sure the Qt 6 runtime libraries listed in setup.sh are installed"
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> installing RM Studio and its tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

echo "==> building the guest runtime (rm_executor.wasm)"
.venv/bin/python runtime/build.py

if .venv/bin/rmstudio models --help >/dev/null 2>&1 && .venv/bin/rmstudio models prepare-default --help >/dev/null 2>&1; then
  echo "==> preparing the default Whisper model"
  .venv/bin/rmstudio models prepare-default
fi

echo
echo "RM Studio is ready:  .venv/bin/rmstudio --help    (or: source .venv/bin/activate)"
