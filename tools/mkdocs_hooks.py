"""mkdocs hooks: the site's logo and favicon are the application icon itself.

resources/icons/rmstudio.svg is the one copy of the icon (installers/icons.py renders the PNGs
from it); this hook serves it to the site as images/rmstudio.svg instead of keeping a second
copy in docs/.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ICON = Path(__file__).resolve().parents[1] / "resources" / "icons" / "rmstudio.svg"


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "images/rmstudio.svg", abs_src_path=str(ICON)))
    return files
