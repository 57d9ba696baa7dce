"""The main window: the manifest editor in the middle, docks around it, menus and status bar.

Layout (every dock can be moved, floated, closed and brought back from View):

* centre: the JSON editor,
* left, "Pipeline": node list, connections, parameters of the selected node,
* bottom (under the editor only): "Graph" and "Problems",
* right, "Run": run controls, limits, input, live plots, output and event log.

The window owns one :class:`~rmstudio.gui.document.DocumentModel`; every panel is a view
of it. It adds what a desktop user expects around that: File (new, new from example,
open, open recent, save, save as, quit), Edit (undo/redo over the model's QUndoStack, node
operations, format), Run, View, Help > About; a title with the file name and ``*`` when
modified; the unsaved-changes guard on close and open; autosave with restore after a crash
(:mod:`rmstudio.gui.autosave`); settings (:mod:`rmstudio.gui.settings`); file drops anywhere
on the window (:mod:`rmstudio.gui.file_types`).

Extension points for the next panels:

* ``register_file_handler(FileKind.AUDIO, handler)`` / ``FileKind.PACKAGE``: File > Open,
  drops and the command line then accept those files (``handler(path) -> bool``).
* ``add_panel(title, widget, area, object_name)``: a new dock (Audio, Transcript, Package,
  Models) that is listed in View and saved with the layout.
* ``self.execution.run_finished`` (a ``RunResult``) for result views such as a transcript,
  and ``self.execution.run_request(request, engine)`` to start a run built elsewhere
  (e.g. a one-click Transcribe).
* ``menus`` maps "file", "edit", "run", "view", "help" to the QMenus for new actions.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QGroupBox,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from rmstudio.core.errors import RMError
from rmstudio.core.manifest import edit
from rmstudio.core.manifest.document import read_text
from rmstudio.core.transcribe import WhisperOptions
from rmstudio.gui import dialogs
from rmstudio.gui.about import about_html
from rmstudio.gui.audio_panel import AudioPanel
from rmstudio.gui.autosave import Autosave, SwapFile, delete_swap, orphaned_swaps, restore_disabled
from rmstudio.gui.background import BackgroundJobs
from rmstudio.gui.connections_editor import ConnectionsEditor
from rmstudio.gui.document import DocumentModel
from rmstudio.gui.execution_panel import ENGINE_LABELS, ExecutionPanel
from rmstudio.gui.file_types import FileKind, Handler, OpenPlan, dialog_filter, plan_open
from rmstudio.gui.graph_view import GraphView
from rmstudio.gui.json_editor import EditorArea
from rmstudio.gui.models_view import ModelsView
from rmstudio.gui.node_list import NodeList, node_type_menu
from rmstudio.gui.package_panel import PackagePanel
from rmstudio.gui.param_form import ParamForm
from rmstudio.gui.problems_view import ProblemsView
from rmstudio.gui.resources import example_files
from rmstudio.gui.settings import Settings
from rmstudio.gui.text import PlainLabel, literal_html

APP_NAME = "RM Studio"
DEFAULT_SIZE = (1400, 900)
STATUS_MS = 8000

NEW_MANIFEST = {
    "version": "v1",
    "metadata": {"name": "untitled", "description": ""},
    "nodes": [{"id": "input", "node_type": "PassThroughNode"}],
    "connections": [],
}


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 4, 6, 6)
    layout.addWidget(widget)
    return box


class _DropFilter(QObject):
    """Routes file drags over any child widget to the window (so text fields never eat them)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        if obj is self.window or not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return False
        if kind == QEvent.Type.DragEnter:
            self.window.dragEnterEvent(event)
        elif kind == QEvent.Type.DragMove:
            self.window.dragMoveEvent(event)
        else:
            self.window.dropEvent(event)
        return True


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, remember: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.remember = remember
        self.headless = False  # --screenshot: report in the status bar, never in a modal dialog
        self.last_message = ""
        self.model = DocumentModel(self)
        self.autosave = Autosave()
        self.file_handlers: dict[FileKind, Handler] = {FileKind.MANIFEST: self.open_manifest}
        self.menus: dict[str, object] = {}
        self._close_after_run = False
        self._closing_confirmed = False
        self._drag_ok = False
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.editor_area = EditorArea(self.model)
        self.editor = self.editor_area.editor
        self.problems = ProblemsView(self.model)
        self.node_list = NodeList(self.model)
        self.connections = ConnectionsEditor(self.model)
        self.param_form = ParamForm(self.model)
        self.graph = GraphView(self.model)
        self.execution = ExecutionPanel(self.model)
        self.audio_panel = AudioPanel()
        self.package_panel = PackagePanel()
        self.package_builds = BackgroundJobs(self, max_threads=1, error_code="package_build_failed")
        self.package_builds.succeeded.connect(self._package_built)
        self.package_builds.failed.connect(self._package_build_failed)
        self.models_view = ModelsView(self.settings.get("whisper/default_model"))
        self.setCentralWidget(self.editor_area)
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._load_settings()
        self._drop_filter = _DropFilter(self)
        QApplication.instance().installEventFilter(self._drop_filter)
        self.new_document(confirm=False)

    # ---------------------------------------------------------------- construction

    def _build_docks(self) -> None:
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        pipeline = QSplitter(Qt.Orientation.Vertical)
        pipeline.setChildrenCollapsible(False)
        pipeline.addWidget(_group("Nodes", self.node_list))
        pipeline.addWidget(_group("Connections", self.connections))
        pipeline.addWidget(_group("Parameters", self.param_form))
        pipeline.setStretchFactor(0, 3)
        pipeline.setStretchFactor(1, 2)
        pipeline.setStretchFactor(2, 4)
        self.pipeline_splitter = pipeline
        self.pipeline_dock = self.add_panel("Pipeline", pipeline, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.audio_dock = self.add_panel("Audio", self.audio_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.pipeline_dock, self.audio_dock)
        self.pipeline_dock.raise_()
        self.register_file_handler(FileKind.AUDIO, self.open_audio)
        self.package_dock = self.add_panel(
            "Package", self.package_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.tabifyDockWidget(self.audio_dock, self.package_dock)
        self.pipeline_dock.raise_()
        self.register_file_handler(FileKind.PACKAGE, self.open_package)
        self.models_dock = self.add_panel("Models", self.models_view, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.package_dock, self.models_dock)
        self.pipeline_dock.raise_()
        self.run_dock = self.add_panel("Run", self.execution, Qt.DockWidgetArea.RightDockWidgetArea)
        self.graph_dock = self.add_panel("Graph", self.graph, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problems_dock = self.add_panel("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.graph_dock, self.problems_dock, Qt.Orientation.Vertical)

    def add_panel(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea, object_name: str | None = None
    ) -> QDockWidget:
        """Add a dock (listed in View, saved with the layout). The extension point for new panels."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        view = self.menus.get("view")
        if view is not None:
            view.insertAction(self._reset_layout_separator, dock.toggleViewAction())
        return dock

    def apply_default_layout(self) -> None:
        """Sensible dock sizes for the current window size (also View > Reset Layout)."""
        for dock in (
            self.pipeline_dock,
            self.audio_dock,
            self.package_dock,
            self.models_dock,
            self.run_dock,
            self.graph_dock,
            self.problems_dock,
        ):
            dock.setFloating(False)
            dock.show()
        w, h = self.width(), self.height()
        left = max(270, int(w * 0.2))
        right = max(420, int(w * 0.32))
        self.resizeDocks([self.pipeline_dock, self.run_dock], [left, right], Qt.Orientation.Horizontal)
        self.resizeDocks(
            [self.graph_dock, self.problems_dock],
            [max(160, int(h * 0.3)), max(90, int(h * 0.12))],
            Qt.Orientation.Vertical,
        )
        total = max(400, h - 120)
        self.pipeline_splitter.setSizes([int(total * 0.28), int(total * 0.24), int(total * 0.48)])
        self.execution.splitter.setSizes([int(total * 0.5), int(total * 0.3)])
        self.pipeline_dock.raise_()

    def _action(
        self,
        text: str,
        slot,
        shortcut: QKeySequence | str | list | None = None,
        icon: QStyle.StandardPixmap | None = None,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        std = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New", self.new_document, std.New, sp.SP_FileIcon, "Start a new manifest"
        )
        self.open_action = self._action(
            "&Open…",
            self.open_dialog,
            std.Open,
            sp.SP_DialogOpenButton,
            "Open a manifest or run-request file",
        )
        self.save_action = self._action(
            "&Save", self.save, std.Save, sp.SP_DialogSaveButton, "Save the manifest"
        )
        self.save_as_action = self._action(
            "Save &As…", self.save_as, QKeySequence("Ctrl+Shift+S"), None, "Save under a new name"
        )
        self.build_package_action = self._action(
            "&Build Package…",
            self.build_package,
            None,
            None,
            "Pack the manifest and the runtime into an .rmpkg",
        )
        self.quit_action = self._action("&Quit", self.close, QKeySequence("Ctrl+Q"), None, "Quit RM Studio")
        stack = self.model.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(std.Undo)])
        self.undo_action.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(self.style().standardIcon(sp.SP_ArrowForward))
        self.remove_node_action = self._action(
            "&Remove Node", self.node_list.remove_selected, None, sp.SP_TrashIcon, "Remove the selected node"
        )
        self.format_action = self._action(
            "&Format JSON", self._format, QKeySequence("Ctrl+Shift+F"), None, "Lay the JSON out again"
        )
        self.goto_action = self._action("&Go to Line…", self._goto_line, QKeySequence("Ctrl+L"))
        self.next_problem_action = self._action(
            "&Next Problem", self._next_problem, QKeySequence("F8"), None, "Jump to the next error or warning"
        )
        self.run_action = self._action(
            "&Run",
            self.execution.run,
            [QKeySequence("F5"), QKeySequence("Ctrl+R")],
            sp.SP_MediaPlay,
            "Run the pipeline (F5)",
        )
        self.cancel_action = self._action(
            "&Cancel Run",
            self.execution.cancel,
            QKeySequence("Esc"),
            sp.SP_MediaStop,
            "Stop the running pipeline",
        )
        self.cancel_action.setEnabled(False)
        self.transcribe_action = self._action(
            "&Transcribe Selected Audio",
            self.transcribe_selected,
            QKeySequence("Ctrl+T"),
            sp.SP_MediaVolume,
            "Transcribe the audio file selected in the Audio panel with Whisper, in the sandbox",
        )
        self.about_action = self._action("&About RM Studio", self.show_about)
        self.about_qt_action = self._action("About &Qt", QApplication.aboutQt)
        self.engine_group = QActionGroup(self)
        self.engine_actions: dict[str, QAction] = {}
        for key, label in ENGINE_LABELS.items():
            action = QAction(label, self, checkable=True)
            action.triggered.connect(lambda _=False, k=key: self.execution.set_engine(k))
            self.engine_group.addAction(action)
            self.engine_actions[key] = action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        self.examples_menu = file_menu.addMenu("New from &Example")
        for path in example_files():
            action = self.examples_menu.addAction(path.stem.replace("_", " "))
            action.setStatusTip(f"Start a new document from {path.name}")
            action.triggered.connect(lambda _=False, p=path: self.new_from_example(p))
        self.examples_menu.setEnabled(bool(example_files()))
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.build_package_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        add_menu = node_type_menu(self, self.node_list.add_node)
        add_menu.setTitle("&Add Node")
        edit_menu.addMenu(add_menu)
        edit_menu.addAction(self.remove_node_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.format_action)
        edit_menu.addAction(self.goto_action)
        edit_menu.addAction(self.next_problem_action)

        run_menu = bar.addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.cancel_action)
        run_menu.addAction(self.transcribe_action)
        run_menu.addSeparator()
        engine_menu = run_menu.addMenu("&Engine")
        for action in self.engine_actions.values():
            engine_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        for dock in (
            self.pipeline_dock,
            self.audio_dock,
            self.package_dock,
            self.models_dock,
            self.run_dock,
            self.graph_dock,
            self.problems_dock,
        ):
            view_menu.addAction(dock.toggleViewAction())
        self._reset_layout_separator = view_menu.addSeparator()
        view_menu.addAction(self._action("&Reset Layout", self.apply_default_layout))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)
        help_menu.addAction(self.about_qt_action)
        self.menus = {
            "file": file_menu,
            "edit": edit_menu,
            "run": run_menu,
            "view": view_menu,
            "help": help_menu,
        }

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.new_action, self.open_action, self.save_action):
            tb.addAction(action)
        tb.addSeparator()
        tb.addAction(self.undo_action)
        tb.addAction(self.redo_action)
        for action in (self.undo_action, self.redo_action):
            # Their text names the step ("Undo Set add.addend"): icon only, the text in the tooltip.
            button = tb.widgetForAction(action)
            if button is not None:
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.addSeparator()
        tb.addAction(self.run_action)
        tb.addAction(self.cancel_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.validity_label = PlainLabel()
        self.validity_label.setObjectName("validity")
        self.position_label = PlainLabel("Ln 1, Col 1")
        self.engine_label = PlainLabel()
        for w in (self.validity_label, self.position_label, self.engine_label):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)

    def _connect(self) -> None:
        m = self.model
        m.modified_changed.connect(self._update_title)
        m.source_changed.connect(self._update_title)
        m.text_changed.connect(self._autosave)
        m.modified_changed.connect(self._autosave)
        m.validation_changed.connect(self._update_validity)
        self.editor.cursor_moved.connect(lambda ln, col: self.position_label.setText(f"Ln {ln}, Col {col}"))
        self.problems.line_activated.connect(self.editor.go_to_line)
        self.node_list.selected.connect(self._node_selected)
        self.graph.node_clicked.connect(self.node_list.select)
        self.param_form.renamed.connect(self.node_list.select)
        for source in (
            self.node_list,
            self.connections,
            self.param_form,
            self.execution,
            self.audio_panel,
            self.package_panel,
            self.models_view,
        ):
            source.message.connect(self.show_message)
        self.audio_panel.use_as_input.connect(self.execution.set_audio_input)
        self.execution.audio_fallback = self.audio_panel.use_selected_as_input
        self.audio_panel.transcribe_requested.connect(self.transcribe)
        self.package_panel.run_requested.connect(self.execution.run_package)
        self.execution.transcript.segment_activated.connect(self._play_segment)
        self.execution.transcript.message.connect(self.show_message)
        self.package_panel.open_pipeline.connect(self._pipeline_from_package)
        self.models_view.default_changed.connect(
            lambda name: self.settings.set("whisper/default_model", name)
        )
        self.execution.run_started.connect(self._run_state_changed)
        self.execution.run_finished.connect(self._run_state_changed)
        self.execution.engine_combo.currentIndexChanged.connect(self._engine_changed)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.execution.shutdown)

    # ---------------------------------------------------------------- settings

    def _load_settings(self) -> None:
        s = self.settings
        self.execution.set_engine(s.get("run/engine"))
        self.execution.memory_spin.setValue(s.get("run/memory_limit_mib"))
        self.execution.timeout_spin.setValue(s.get("run/timeout_s"))
        self.execution.input_edit.setPlainText(s.get("run/input"))
        self._engine_changed()
        self.resize(*DEFAULT_SIZE)
        self.apply_default_layout()
        if self.remember:
            geometry = s.get("window/geometry")
            state = s.get("window/state")
            if geometry:
                self.restoreGeometry(geometry)
            if state:
                self.restoreState(state)

    def _save_settings(self) -> None:
        if not self.remember:
            return
        s = self.settings
        s.set("run/engine", self.execution.engine)
        s.set("run/memory_limit_mib", self.execution.memory_spin.value())
        s.set("run/timeout_s", self.execution.timeout_spin.value())
        s.set("run/input", self.execution.input_text_to_remember())
        s.set("window/geometry", bytes(self.saveGeometry().data()))
        s.set("window/state", bytes(self.saveState().data()))
        s.sync()

    # ---------------------------------------------------------------- documents

    def show_message(self, text: str, ms: int = STATUS_MS) -> None:
        self.last_message = text  # open_paths quotes a failed file's own message
        self.statusBar().showMessage(text, ms)

    def maybe_save(self) -> bool:
        """The unsaved-changes guard: True when it is fine to replace or close the document."""
        if not self.model.modified:
            return True
        answer = dialogs.ask_save_changes(self, self.model.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def _replace_document(self) -> None:
        self.autosave.discard()

    def new_document(self, confirm: bool = True) -> None:
        if confirm and not self.maybe_save():
            return
        self._replace_document()
        self.model.load_text(edit.format_manifest(NEW_MANIFEST), "untitled.json")
        self.node_list.select(None)

    def new_from_example(self, path: Path) -> bool:
        if not self.maybe_save():
            return False
        try:
            text = read_text(path)
        except RMError as exc:
            self.show_message(exc.describe())
            return False
        self._replace_document()
        self.model.load_text(text, f"{path.stem} (example).json")
        self.execution.set_input_from_document()
        self.show_message(f"New document from the example {path.name}; Save As to keep it")
        return True

    def open_dialog(self) -> None:
        start = self.settings.get("files/last_dir") or str(Path.home())
        paths = dialogs.open_paths(self, start, dialog_filter(self.file_handlers))
        if paths:
            self.open_paths(paths)

    def register_file_handler(self, kind: FileKind, handler: Handler) -> None:
        """Let a panel open a kind of file (audio, .rmpkg) from Open, drops and the command line."""
        self.file_handlers[kind] = handler

    def open_paths(self, paths: list[str | Path]) -> OpenPlan:
        """Open what can be opened; refused files are named in the status bar with the reason."""
        plan = plan_open(paths, self.file_handlers)
        manifests = [p for p, k in plan.accepted if k == FileKind.MANIFEST]
        opened = []
        for path, kind in plan.accepted:
            if kind == FileKind.MANIFEST and path != manifests[0]:
                plan.refused.append((path, "only one manifest is open at a time"))
                continue
            self.last_message = ""
            if self.file_handlers[kind](path):
                opened.append(path)
            else:  # keep its reason: a later file's status message would replace it
                plan.refused.append((path, self.last_message or "could not be opened"))
        if plan.refused:
            self.show_message(plan.refusal_message(), 12000)
        return plan

    def open_audio(self, path: str | Path) -> bool:
        """Add an audio file to the Audio panel and bring the panel to the front."""
        if not self.audio_panel.add_file(path):
            return False
        self.audio_dock.show()
        self.audio_dock.raise_()
        return True

    def open_package(self, path: str | Path) -> bool:
        """Verify and show an .rmpkg in the Package panel (nothing is extracted or run)."""
        self.package_panel.load(path)
        self.package_dock.show()
        self.package_dock.raise_()
        return True

    def _play_segment(self, start: float, _end: float) -> None:
        """A transcript segment was clicked: play the Audio panel's file from its start."""
        if self.audio_panel.selected_path() is None:
            self.show_message("Add the audio file to the Audio panel to play segments")
            return
        self.audio_dock.show()
        self.audio_dock.raise_()
        self.audio_panel.seek(start)
        self.audio_panel.play()

    def _pipeline_from_package(self, text: str, title: str) -> None:
        if not self.maybe_save():
            return
        self._replace_document()
        self.model.load_text(text, title)
        self.show_message(f"Opened the package's pipeline as {title}; Save As to keep it")

    def build_package(self) -> None:
        """File > Build Package…: the open manifest, the installed runtime, into an .rmpkg."""
        if self.model.manifest is None or self.model.errors:
            self.show_message("Fix the manifest's errors before building a package (see Problems)")
            return
        start = self.settings.get("files/last_dir") or str(Path.home())
        stem = Path(self.model.display_name).stem.replace(" (example)", "")
        out = dialogs.save_package_path(self, str(Path(start) / f"{stem}.rmpkg"))
        if not out:
            return
        text = self.model.text
        self.show_message(f"Building {Path(out).name}…", 60_000)

        chosen = self.settings.get("whisper/default_model") or "default"

        def build():
            from rmstudio.core.package import build_from_text

            return build_from_text(text, out, chosen)

        self.package_builds.submit(out, build, source=out)

    def _package_build_failed(self, _path: str, error: RMError) -> None:
        self.show_message("Build failed: " + error.describe(), 15_000)

    def _package_built(self, path: str, value) -> None:
        result, missing = value
        note = ""
        if missing:
            note = f"; not in your model store, left out: {', '.join(missing)} (runs use the runner's model)"
        self.show_message(f"Built {path} ({result.size / 1e6:.1f} MB){note}", 15_000)
        self.open_package(path)

    def open_manifest(self, path: str | Path) -> bool:
        path = Path(path)
        if not self.maybe_save():
            return False
        try:
            self._replace_document()
            self.model.load_file(path)
        except RMError as exc:
            self.show_message(exc.describe())
            if not self.headless:  # nobody could dismiss a dialog in --screenshot mode
                QMessageBox.warning(self, "Cannot open file", literal_html(exc.describe()))
            return False
        self.execution.set_input_from_document()
        if self.remember:
            self.settings.add_recent(path)
            self.settings.set("files/last_dir", str(path.resolve().parent))
        problems = len(self.model.errors)
        note = f" ({problems} error{'s' if problems != 1 else ''}, see Problems)" if problems else ""
        self.show_message(f"Opened {path}{note}")
        return True

    def save(self) -> bool:
        if self.model.path is None:
            return self.save_as()
        return self._save_to(self.model.path)

    def save_as(self) -> bool:
        start = self.settings.get("files/last_dir") or str(Path.home())
        suggested = str(Path(start) / self.model.display_name.replace(" (example)", ""))
        path = dialogs.save_manifest_path(self, suggested)
        if not path:
            return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.model.save(path)
        except RMError as exc:
            self.show_message(exc.describe())
            QMessageBox.warning(self, "Cannot save", literal_html(exc.describe()))
            return False
        self.autosave.discard()
        if self.remember:
            self.settings.add_recent(saved)
            self.settings.set("files/last_dir", str(saved.parent))
        errors = len(self.model.errors)
        note = f" (with {errors} error{'s' if errors != 1 else ''})" if errors else ""
        self.show_message(f"Saved {saved}{note}")
        return True

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self._open_recent(p))
        if not recent:
            none = menu.addAction("No recent files")
            none.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Recent Files")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda: self.settings.set("files/recent", []))

    def _open_recent(self, path: str) -> None:
        if not Path(path).is_file():
            self.settings.remove_recent(path)
            self.show_message(f"{path} no longer exists; removed from Open Recent")
            return
        self.open_paths([path])

    # ---------------------------------------------------------------- autosave and restore

    def _autosave(self, *_: object) -> None:
        m = self.model
        try:
            if m.modified:
                self.autosave.write(m.text, str(m.path) if m.path else None, m.display_name)
            else:
                self.autosave.discard()
        except OSError as exc:
            self.show_message(f"Autosave failed: {exc}")

    def offer_restore(self) -> bool:
        """Offer the newest swap file left by a session that did not end cleanly."""
        if restore_disabled():
            return False
        swaps = orphaned_swaps(self.autosave.directory)
        if not swaps:
            return False
        swap = swaps[0]
        answer = dialogs.ask_restore(self, swap, len(swaps) - 1)
        if answer == "discard":
            delete_swap(swap)
            return False
        if answer != "restore":
            return False
        return self.restore(swap)

    def restore(self, swap: SwapFile) -> bool:
        if not self.maybe_save():
            return False
        self._replace_document()
        source = Path(swap.source) if swap.source else None
        try:
            if source is not None and source.is_file():
                self.model.load_file(source)
            else:
                self.model.load_text("", swap.title, source)
        except RMError:
            self.model.load_text("", swap.title)
        delete_swap(swap)
        self.model.apply(swap.text, "Restore autosaved changes")
        self.execution.set_input_from_document()
        self.show_message(f"Restored unsaved changes to {swap.display_name}")
        return True

    # ---------------------------------------------------------------- view updates

    def _update_title(self, *_: object) -> None:
        star = "*" if self.model.modified else ""
        self.setWindowTitle(f"{self.model.display_name}{star} — {APP_NAME}")

    def _update_validity(self) -> None:
        m = self.model
        errors, warnings = len(m.errors), len(m.warnings)
        if not errors and not warnings:
            text, color = "✔ valid", "#2e7d32"
        else:
            parts = []
            if errors:
                parts.append(f"{errors} error{'s' if errors != 1 else ''}")
            if warnings:
                parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
            text, color = " · ".join(parts), "#c62828" if errors else "#b26a00"
        self.validity_label.setText(text)
        self.validity_label.setStyleSheet(f"color: {color};")
        self.problems_dock.setWindowTitle(
            f"Problems ({errors + warnings})" if errors + warnings else "Problems"
        )

    def _node_selected(self, node_id: str) -> None:
        self.param_form.show_node(node_id or None)
        self.graph.select(node_id or None)
        self.connections.suggest_from(node_id)
        self.remove_node_action.setEnabled(bool(node_id))

    def _engine_changed(self, *_: object) -> None:
        engine = self.execution.engine
        self.engine_label.setText(ENGINE_LABELS.get(engine, engine))
        if engine in self.engine_actions:
            self.engine_actions[engine].setChecked(True)

    def _run_state_changed(self, *_: object) -> None:
        running = self.execution.running
        self.run_action.setEnabled(not running)
        self.cancel_action.setEnabled(running)
        if not running and self._close_after_run:
            QTimer.singleShot(0, self.close)

    def _format(self) -> None:
        try:
            self.model.reformat()
        except RMError as exc:
            self.show_message(exc.describe())

    def _goto_line(self) -> None:
        line, ok = QInputDialog.getInt(
            self, "Go to line", "Line:", self.editor.current_line(), 1, max(1, self.editor.blockCount())
        )
        if ok:
            self.editor.go_to_line(line)

    def _next_problem(self) -> None:
        lines = sorted({p.line for p in self.model.problems if p.line})
        if not lines:
            self.show_message("No problems")
            return
        current = self.editor.current_line()
        target = next((ln for ln in lines if ln > current), lines[0])
        self.editor.go_to_line(target)

    def transcribe_selected(self) -> bool:
        path = self.audio_panel.selected_path()
        if path is None:
            self.show_message("Add an audio file first (drop it on the window or File > Open)")
            return False
        return self.transcribe(path)

    def transcribe(self, path: str) -> bool:
        """Run the default Whisper pipeline on ``path`` with the model chosen in the Models view."""
        options = WhisperOptions(
            model=self.settings.get("whisper/default_model") or "default",
            threads=self.settings.get("whisper/threads"),
        )
        started = self.execution.transcribe(path, options)
        if started:
            self.show_message(f"Transcribing {Path(path).name} with {options.model}…")
        return started

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", about_html())

    # ---------------------------------------------------------------- drag and drop

    @staticmethod
    def _dragged_paths(event) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event) -> None:
        paths = self._dragged_paths(event)
        if not paths:
            self._drag_ok = False
            event.ignore()
            return
        plan = plan_open(paths, self.file_handlers)
        self._drag_ok = bool(plan.accepted)
        if plan.accepted:
            event.acceptProposedAction()
            self.show_message("Drop to open " + ", ".join(p.name for p, _ in plan.accepted))
        else:
            event.ignore()
            self.show_message("Cannot open " + plan.refusal_message(), 12000)

    def dragMoveEvent(self, event) -> None:
        if self._drag_ok:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = self._dragged_paths(event)
        if not paths or not self._drag_ok:
            event.ignore()
            return
        event.acceptProposedAction()
        self._drag_ok = False
        # Open after the drop returns, so a dialog (unsaved changes) never runs inside it.
        QTimer.singleShot(0, lambda: self.open_paths(paths))

    # ---------------------------------------------------------------- closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_confirmed:
            if not self.maybe_save():
                event.ignore()
                return
            self._closing_confirmed = True
        if self.execution.running:
            # Cancel and close when the worker has finished: the window stays responsive.
            self._close_after_run = True
            self.execution.cancel()
            self.show_message("Cancelling the run before closing…")
            event.ignore()
            return
        self.execution.shutdown()
        self.audio_panel.shutdown()
        self.package_builds.shutdown(60_000)
        self.package_panel.shutdown()
        self.models_view.shutdown()
        self._save_settings()
        self.autosave.close()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._drop_filter)
            with contextlib.suppress(RuntimeError, TypeError):
                app.aboutToQuit.disconnect(self.execution.shutdown)
        event.accept()
