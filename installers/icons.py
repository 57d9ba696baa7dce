"""Render the application icon (resources/icons/rmstudio.svg) to PNGs with Qt's SVG renderer.

    python installers/icons.py OUT_DIR [SIZE ...]

writes ``OUT_DIR/<N>x<N>/apps/<app id>.png`` for each size (16, 24, 32, 48, 64, 128, 256 by
default): the freedesktop hicolor layout. PySide6 is already a dependency, so no other SVG
tool is needed, and no display either (Qt's offscreen platform).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SVG = REPO / "resources" / "icons" / "rmstudio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(out_dir: Path, app_id: str, sizes: tuple[int, ...] = SIZES, svg: Path = SVG) -> list[Path]:
    """The PNGs written, one per size, under ``out_dir/<N>x<N>/apps/``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"{size}x{size}" / "apps" / f"{app_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from rmstudio.gui.resources import APP_ID

    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    chosen = tuple(int(s) for s in sys.argv[2:]) or SIZES
    for p in render(Path(sys.argv[1]), APP_ID, chosen):
        print(p)
