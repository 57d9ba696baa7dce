"""Which files the window opens, and with what: one table from extension to kind to handler.

Every way a file reaches the window - File > Open, Open Recent, the command line, a drop
anywhere on the window - goes through :func:`plan_open`. It sorts paths into those a
registered handler accepts and those refused, each refusal with a reason the status bar
shows ("setup.exe: not a file RM Studio opens (manifests .json, audio, .rmpkg packages)").

Extension point: a panel registers a handler for its kind with
``MainWindow.register_file_handler`` - the Audio panel does so for :attr:`FileKind.AUDIO`;
the Package panel will for :attr:`FileKind.PACKAGE`. A kind without a handler is recognised
and refused with "not supported yet".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from rmstudio.core.audio import AUDIO_EXTENSIONS


class FileKind(Enum):
    MANIFEST = "manifest"
    AUDIO = "audio"
    PACKAGE = "package"


EXTENSIONS: dict[str, FileKind] = {
    ".json": FileKind.MANIFEST,
    ".rmpkg": FileKind.PACKAGE,
    **dict.fromkeys(AUDIO_EXTENSIONS, FileKind.AUDIO),  # what core.audio can decode
}

KIND_NAMES = {
    FileKind.MANIFEST: "manifests (.json)",
    FileKind.AUDIO: "audio files",
    FileKind.PACKAGE: ".rmpkg packages",
}

NOT_YET = {
    FileKind.AUDIO: "audio files are not supported yet (the Audio panel comes next)",
    FileKind.PACKAGE: ".rmpkg packages are not supported yet (the Package panel comes next)",
}

Handler = Callable[[Path], bool]


def dialog_filter(kinds: Iterable[FileKind]) -> str:
    """A QFileDialog name filter for the kinds that have handlers ("All supported (...);;...")."""
    groups = {kind: sorted(ext for ext, k in EXTENSIONS.items() if k == kind) for kind in kinds}
    every = " ".join(f"*{ext}" for exts in groups.values() for ext in exts)
    parts = [f"All supported files ({every})"]
    for kind, exts in groups.items():
        label = KIND_NAMES[kind].split(" (")[0]
        parts.append(f"{label[:1].upper()}{label[1:]} ({' '.join('*' + e for e in exts)})")
    parts.append("All files (*)")
    return ";;".join(parts)


def classify(path: str | Path) -> FileKind | None:
    return EXTENSIONS.get(Path(path).suffix.lower())


@dataclass
class OpenPlan:
    accepted: list[tuple[Path, FileKind]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)

    def refusal_message(self) -> str:
        """One status-bar line naming each refused file and why."""
        return "; ".join(f"{p.name}: {why}" for p, why in self.refused)


def plan_open(paths: Iterable[str | Path], handlers: Mapping[FileKind, Handler]) -> OpenPlan:
    """Sort ``paths`` into those a handler will open and those refused (with the reason)."""
    plan = OpenPlan()
    supported = ", ".join(KIND_NAMES[k] for k in FileKind if k in handlers)
    for raw in paths:
        path = Path(raw)
        kind = classify(path)
        if path.is_dir():
            plan.refused.append((path, "folders cannot be opened; drop the files inside it"))
        elif kind is None:
            plan.refused.append((path, f"not a file RM Studio opens (it opens {supported})"))
        elif kind not in handlers:
            plan.refused.append((path, NOT_YET.get(kind, f"{kind.value} files are not supported")))
        elif not path.exists():
            plan.refused.append((path, "file not found"))
        elif not path.is_file():
            plan.refused.append((path, "not a regular file (a pipe, socket or device)"))
        else:
            plan.accepted.append((path, kind))
    return plan
