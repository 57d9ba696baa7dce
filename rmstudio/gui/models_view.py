"""The Models view: the Whisper model store (``core.models``) - list, import, remove, default.

Lists every model in the store (name, what the weights are, format, size, where it came
from) and marks the one Transcribe uses (the ``whisper/default_model`` setting). Import
validates a ggml ``.bin`` with ``core.models.import_model`` on a worker thread - a
hundreds-of-megabytes file is hashed - and "Prepare default model" converts the bundled
tiny.en (``core.models.default_model``). "Show folder" opens the store in the file manager,
which answers the most common offline question: where do models go?
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.gui.background import BackgroundJobs
from rmstudio.gui.dialogs import confirm_remove_model
from rmstudio.gui.text import PlainLabel

NAME_ROLE = Qt.ItemDataRole.UserRole + 1


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


class ModelsView(QWidget):
    message = Signal(str)
    default_changed = Signal(str)

    def __init__(self, default_name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.default_name = default_name
        self.models: list = []
        self.jobs = BackgroundJobs(self, max_threads=1, error_code="invalid_model")
        # Bound methods (not lambdas) so the slots run on the GUI thread, queued.
        self.jobs.succeeded.connect(self._job_done)
        self.jobs.failed.connect(self._job_failed)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Model", "Weights", "Format", "Size", "Source"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.folder = PlainLabel()
        self.folder.setWordWrap(True)
        self.folder.setStyleSheet("color: #555;")
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add a whisper.cpp ggml model file (.bin) to the store")
        self.import_button.clicked.connect(self.import_dialog)
        self.default_button = QPushButton("Use for Transcribe")
        self.default_button.clicked.connect(self._make_default)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        self.prepare_button = QPushButton("Prepare default model")
        self.prepare_button.setToolTip("Convert the bundled Whisper tiny.en (offline, once)")
        self.prepare_button.clicked.connect(self._prepare_default)
        self.folder_button = QPushButton("Show folder")
        self.folder_button.clicked.connect(self._show_folder)
        buttons = QHBoxLayout()
        for b in (self.import_button, self.default_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        more = QHBoxLayout()
        more.addWidget(self.prepare_button)
        more.addWidget(self.folder_button)
        more.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 1)
        layout.addLayout(more)
        layout.addWidget(self.folder)
        self._loaded = False  # the store is read when the view is first shown

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.refresh()

    # ---------------------------------------------------------------- store

    def refresh(self) -> None:
        from rmstudio.core.models import list_models, models_dir

        self._loaded = True
        try:
            self.models = list_models()
        except RMError as exc:
            self.models = []
            self.message.emit(exc.describe())
        self.folder.setText(f"Store: {models_dir()}")
        keep = self.selected_name()
        self.tree.clear()
        for m in self.models:
            star = "★ " if self._is_chosen(m) else ""
            item = QTreeWidgetItem([star + m.name, m.label, m.ftype, _size(m.size), m.source])
            item.setData(0, NAME_ROLE, m.name)
            item.setToolTip(0, f"{m.path}\nsha256 {m.sha256}")
            self.tree.addTopLevelItem(item)
            if m.name == keep:
                self.tree.setCurrentItem(item)
        if not self.models:
            empty = QTreeWidgetItem(["No models yet: Import… or Prepare default model"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
        self._update_buttons()

    def _is_chosen(self, model) -> bool:
        """The model Transcribe uses: the setting's, or the store's default when that is unset
        or names a model no longer in the store."""
        if self.default_name in {m.name for m in self.models}:
            return model.name == self.default_name
        return model.is_default

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def _update_buttons(self) -> None:
        has = self.selected_name() is not None
        self.default_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def _start(self, fn, done, label: str) -> None:
        self.message.emit(label)
        for b in (self.import_button, self.prepare_button):
            b.setEnabled(False)
        self.jobs.submit(done, fn)

    def _job_done(self, done, value) -> None:
        done(value)

    def _job_failed(self, _done, error: RMError) -> None:
        self._failed(error)

    def _failed(self, error: RMError) -> None:
        self.import_button.setEnabled(True)
        self.prepare_button.setEnabled(True)
        self.message.emit(error.describe())

    def _added(self, model) -> None:
        self.import_button.setEnabled(True)
        self.prepare_button.setEnabled(True)
        self.refresh()
        for row in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(row).data(0, NAME_ROLE) == model.name:
                self.tree.setCurrentItem(self.tree.topLevelItem(row))
        self.message.emit(f"Model {model.name} ({model.label}, {model.ftype}) is in the store")

    def import_file(self, path: str | Path) -> None:
        from rmstudio.core.models import import_model

        self._start(lambda: import_model(path), self._added, f"Importing {Path(path).name}…")

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import Whisper model", str(Path.home()), "whisper.cpp ggml models (*.bin);;All files (*)"
        )
        if path:
            self.import_file(path)

    def _prepare_default(self) -> None:
        from rmstudio.core.models import default_model

        self._start(default_model, self._added, "Preparing the default model (converting tiny.en)…")

    def _remove(self) -> None:
        from rmstudio.core.models import remove_model

        name = self.selected_name()
        model = next((m for m in self.models if m.name == name), None)
        if model is None:
            return
        if not confirm_remove_model(self, name, _size(model.size), str(model.path), self._is_chosen(model)):
            return
        try:
            remove_model(name)
        except RMError as exc:
            self.message.emit(exc.describe())
            return
        self.message.emit(f"Removed {name}")
        self.refresh()

    def _make_default(self) -> None:
        name = self.selected_name()
        if name:
            self.default_name = name
            self.default_changed.emit(name)
            self.refresh()
            self.message.emit(f"Transcribe will use {name}")

    def _show_folder(self) -> None:
        from rmstudio.core.models import models_dir

        folder = models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def wait(self, msecs: int = 120_000) -> bool:
        return self.jobs.wait(msecs)

    def shutdown(self) -> None:
        self.jobs.shutdown(10_000)
