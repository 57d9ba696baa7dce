#!/bin/sh
# Add this RM Studio build to the desktop for the current user: a menu entry, the icon, the
# file types (.rmpkg packages and pipeline manifests) and the `rmstudio` command.
#
#   ./install.sh              install (into $XDG_DATA_HOME, default ~/.local/share, and ~/.local/bin)
#   ./install.sh --uninstall  remove what install.sh added (the build folder itself stays)
#
# RMSTUDIO_BIN_DIR overrides where the `rmstudio` link goes. Nothing is written outside those
# directories and no root rights are needed. The build folder must stay where it is: the menu
# entry and the link point into it.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
APP_ID=io.github.rmstudio.RMStudio
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
BIN=${RMSTUDIO_BIN_DIR:-$HOME/.local/bin}
SIZES="16 24 32 48 64 128 256"

refresh() {
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime"; fi
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications"; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" \
        "$DATA/mime/packages/$APP_ID.xml" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  for s in $SIZES; do rm -f "$DATA/icons/hicolor/${s}x${s}/apps/$APP_ID.png"; done
  if [ -L "$BIN/rmstudio" ] && [ "$(readlink "$BIN/rmstudio")" = "$HERE/rmstudio" ]; then rm -f "$BIN/rmstudio"; fi
  mkdir -p "$DATA/mime/packages" "$DATA/applications"
  refresh
  echo "RM Studio removed from the desktop (the build in $HERE is untouched)"
  exit 0
fi

[ -x "$HERE/rmstudio" ] || { echo "error: $HERE/rmstudio not found; run install.sh from the build folder" >&2; exit 1; }
SHARE="$HERE/share"
mkdir -p "$BIN" "$DATA/applications" "$DATA/metainfo" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps"

ln -sf "$HERE/rmstudio" "$BIN/rmstudio"
# The menu entry runs this build by its absolute path, so it works even when $BIN is not on PATH.
# Quoted as the Desktop Entry spec asks, in case the folder's path has spaces.
sed -e "s|^Exec=rmstudio |Exec=\"$HERE/rmstudio\" |" -e "s|^TryExec=rmstudio\$|TryExec=$HERE/rmstudio|" \
  "$SHARE/applications/$APP_ID.desktop" > "$DATA/applications/$APP_ID.desktop"
cp "$SHARE/metainfo/$APP_ID.metainfo.xml" "$DATA/metainfo/"
cp "$SHARE/mime/packages/$APP_ID.xml" "$DATA/mime/packages/"
cp "$SHARE/icons/hicolor/scalable/apps/$APP_ID.svg" "$DATA/icons/hicolor/scalable/apps/"
for s in $SIZES; do
  mkdir -p "$DATA/icons/hicolor/${s}x${s}/apps"
  cp "$SHARE/icons/hicolor/${s}x${s}/apps/$APP_ID.png" "$DATA/icons/hicolor/${s}x${s}/apps/"
done
refresh
echo "RM Studio added to the desktop menu; \`rmstudio\` linked in $BIN"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "note: $BIN is not on your PATH" ;; esac
