"""The Package panel: what an .rmpkg is, whether it verifies, what it may read; run or open it.

Opening a package (drop, File > Open, the command line) verifies it with
``core.package.inspect_package`` on a thread-pool worker - every member's hash, every
safety rule - and shows the summary: name, version, author, how it was built, the runtime,
the pipeline, the directories the guest may read (read-only) and that it gets no network,
no environment and no other host files; then every member with size and hash, and the
verification errors and warnings. Nothing is extracted or run by looking at it: a hostile
package is an error message, nothing more.

"Run" runs the package in its own runtime with only its own directories visible
(``ExecutionPanel.run_package``); "Open pipeline" copies its manifest into the editor as a
new document. File > Build Package… (main window) builds from the open manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest.edit import format_manifest
from rmstudio.gui import dialogs
from rmstudio.gui.background import BackgroundJobs
from rmstudio.gui.text import PlainLabel

STATUS_STYLE = {
    "verified": ("✔ verified", "#1b5e20", "#e8f5e9"),
    "unverified": ("⚠ legacy package: nothing to verify", "#8a5a00", "#fff8e1"),
    "failed": ("✘ verification failed", "#8e1b1b", "#fdecea"),
}


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _inspect(path: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The inspect summary and the package's manifest (read from the zip, never extracted)."""
    from rmstudio.core.package import summarize, verify_package

    report = verify_package(path)
    return summarize(report), report.manifest


class PackagePanel(QWidget):
    message = Signal(str)
    run_requested = Signal(str)  # package path
    open_pipeline = Signal(str, str)  # manifest text, title
    inspected = Signal(str)  # package path (after success or failure)
    extracted = Signal(str)  # target folder, or "" when extraction failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: str | None = None
        self.summary: dict[str, Any] | None = None
        self.manifest: dict[str, Any] | None = None
        self.error: RMError | None = None
        self.jobs = BackgroundJobs(self, max_threads=1, error_code="package_unreadable")
        self.jobs.succeeded.connect(self._done)
        self.jobs.failed.connect(self._failed)

        self.title = PlainLabel("Open or drop an .rmpkg package to inspect it")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold;")
        self.status = PlainLabel()
        self.status.setObjectName("package_status")
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        self.details = QTreeWidget()
        self.details.setHeaderLabels(["", ""])
        self.details.setHeaderHidden(True)
        self.details.setRootIsDecorated(True)
        self.details.setWordWrap(True)
        self.details.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.details.header().resizeSection(0, 112)
        self.details.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.members = QTreeWidget()
        self.members.setHeaderLabels(["Member", "Size", "sha256"])
        self.members.setRootIsDecorated(False)
        self.members.setAlternatingRowColors(True)
        self.members.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.members.header().setStretchLastSection(True)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the package in its own runtime, seeing only its own directories")
        self.run_button.clicked.connect(lambda: self.path and self.run_requested.emit(self.path))
        self.open_button = QPushButton("Open pipeline")
        self.open_button.setToolTip("Copy the package's manifest into the editor as a new document")
        self.open_button.clicked.connect(self._open_pipeline)
        self.verify_button = QPushButton("Verify again")
        self.verify_button.clicked.connect(lambda: self.path and self.load(self.path))
        self.extract_button = QPushButton("Extract…")
        self.extract_button.setToolTip("Verify every member while unpacking into a new or empty folder")
        self.extract_button.clicked.connect(self._extract_dialog)
        self.extractions = BackgroundJobs(self, max_threads=1, error_code="package_unreadable")
        self.extractions.succeeded.connect(self._extracted)
        self.extractions.failed.connect(self._extract_failed)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.open_button, self.extract_button, self.verify_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.details)
        split.addWidget(self.members)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self._update_buttons()

    # ---------------------------------------------------------------- loading

    def load(self, path: str | Path) -> bool:
        """Verify and show a package (asynchronously; ``inspected`` fires when done)."""
        self.path = str(Path(path).resolve())
        self.summary = None
        self.manifest = None
        self.error = None
        self.title.setText(f"{Path(self.path).name}: verifying…")
        self.status.setVisible(False)
        self.details.clear()
        self.members.clear()
        self._update_buttons()
        path = self.path
        self.jobs.submit(path, lambda: _inspect(path), source=path)
        return True

    def wait(self, msecs: int = 60_000) -> bool:
        return self.jobs.wait(msecs)

    def _done(self, path: str, value: tuple[dict[str, Any], dict[str, Any] | None]) -> None:
        if path != self.path:
            return
        summary, self.manifest = value
        self.summary = summary
        self._show(summary)
        self._update_buttons()
        self.message.emit(f"{Path(path).name}: {summary['verification']['status']}")
        self.inspected.emit(path)

    def _failed(self, path: str, error: RMError) -> None:
        if path != self.path:
            return
        self.error = error
        self.title.setText(Path(path).name)
        self._set_status("failed", error.describe())
        self._update_buttons()
        self.message.emit(f"{Path(path).name}: {error.message}")
        self.inspected.emit(path)

    # ---------------------------------------------------------------- display

    def _set_status(self, status: str, detail: str = "") -> None:
        text, fg, bg = STATUS_STYLE.get(status, STATUS_STYLE["failed"])
        self.status.setText(text + (f": {detail}" if detail else ""))
        self.status.setStyleSheet(
            f"QLabel {{ color: {fg}; background: {bg}; border-radius: 4px; padding: 5px; }}"
        )
        self.status.setVisible(True)

    def _add(self, parent: QTreeWidget | QTreeWidgetItem, key: str, value: str = "") -> QTreeWidgetItem:
        item = QTreeWidgetItem([key, value])
        item.setToolTip(1, value)
        if isinstance(parent, QTreeWidget):
            # Section rows span both columns: "Pipeline · 4 nodes, 4 connections".
            item.setText(0, f"{key} · {value}" if value else key)
            item.setToolTip(0, item.text(0))
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            parent.addTopLevelItem(item)
            item.setFirstColumnSpanned(True)
        else:
            parent.addChild(item)
        return item

    def _show(self, s: dict[str, Any]) -> None:
        pkg, built, pipe, rt, acc, ver = (
            s["package"],
            s["built"],
            s["pipeline"],
            s["runtime"],
            s["access"],
            s["verification"],
        )
        name = " ".join(x for x in (pkg.get("name") or Path(s["file"]).name, pkg.get("version") or "") if x)
        self.title.setText(name)
        problems = [e.get("message", "") for e in ver["errors"]]
        self._set_status(ver["status"], problems[0] if problems else "")
        d = self.details
        about = self._add(d, "Package")
        self._add(about, "file", f"{Path(s['file']).name} ({_size(s['size'])})")
        if pkg.get("description"):
            self._add(about, "description", pkg["description"])
        self._add(about, "author", pkg.get("author") or "not stated")
        if pkg.get("license"):
            self._add(about, "license", pkg["license"])
        bw = built.get("built_with")
        tool = f"{bw.get('name', '?')} {bw.get('version', '?')}" if isinstance(bw, dict) else "unknown tool"
        self._add(about, "built", f"{built.get('created_at') or 'unknown time'} with {tool}")
        if s.get("sha256"):
            self._add(about, "sha256", s["sha256"])
        pipeline = self._add(
            d, "Pipeline", f"{pipe['node_count']} nodes, {pipe['connection_count']} connections"
        )
        for node in pipe["nodes"][:50]:
            self._add(pipeline, node["id"], node["node_type"])
        runtime = self._add(d, "Runtime", f"{rt.get('entry') or '?'} ({_size(rt.get('size'))})")
        for key, label in (
            ("target", "target"),
            ("contract_version", "contract"),
            ("executor_version", "executor"),
            ("min_rmstudio_version", "needs"),
        ):
            if rt.get(key) is not None:
                value = f"RM Studio >= {rt[key]}" if key == "min_rmstudio_version" else str(rt[key])
                self._add(runtime, label, value)
        access = self._add(d, "May read")
        for entry in acc["read_only_dirs"]:
            self._add(
                access,
                entry["guest_path"],
                f"read-only: {entry['package_dir']} ({entry['files']} files, {_size(entry['bytes'])})",
            )
        for fb in acc["fallback_models"]:
            self._add(access, fb["model"], f"your own model, for node '{fb['node_id']}'")
        self._add(access, "network", "none")
        self._add(access, "host files", "none other")
        self._add(access, "env vars", "none")
        if ver["errors"] or ver["warnings"]:
            issues = self._add(d, "Problems", f"{len(ver['errors'])} errors, {len(ver['warnings'])} warnings")
            for e in ver["errors"]:
                self._add(issues, "error", RMError.from_json(e).describe())
            for w in ver["warnings"]:
                self._add(issues, "warning", RMError.from_json(w).describe())
            issues.setExpanded(True)
        for item in (about, pipeline, runtime, access):
            item.setExpanded(True)
        for m in s["members"]:
            sha = m.get("sha256") or ""
            row = QTreeWidgetItem([m.get("name", "?"), _size(m.get("size")), sha[:16] + ("…" if sha else "")])
            row.setToolTip(2, sha)
            self.members.addTopLevelItem(row)

    def _update_buttons(self) -> None:
        ok = self.summary is not None and self.summary["verification"]["status"] == "verified"
        self.run_button.setEnabled(ok)
        self.open_button.setEnabled(self.manifest is not None)
        self.verify_button.setEnabled(self.path is not None)
        self.extract_button.setEnabled(ok)

    def _open_pipeline(self) -> None:
        if self.manifest is None or self.path is None:
            return
        self.open_pipeline.emit(format_manifest(self.manifest), f"{Path(self.path).stem} (from package).json")

    # ---------------------------------------------------------------- extracting

    def _extract_dialog(self) -> None:
        if self.path is None:
            return
        dest = dialogs.extract_directory(self, str(Path(self.path).parent))
        if dest:
            self.extract_to(dest)

    def extract_to(self, dest: str | Path) -> None:
        """Unpack the shown package into ``dest`` on a worker (all or nothing, every hash checked)."""
        from rmstudio.core.package import extract_package

        if self.path is None:
            return
        path, target = self.path, str(dest)
        self.message.emit(f"Extracting {Path(path).name} into {target}…")
        self.extractions.submit(target, lambda: extract_package(path, target), source=path)

    def _extracted(self, dest: str, _report) -> None:
        self.message.emit(f"Extracted into {dest}")
        self.extracted.emit(dest)

    def _extract_failed(self, dest: str, error: RMError) -> None:
        self.message.emit(f"Not extracted: {error.describe()}")
        self.extracted.emit("")

    def shutdown(self) -> None:
        self.extractions.shutdown(30_000)
        self.jobs.shutdown()
