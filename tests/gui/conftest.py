"""GUI test harness: no dialog ever blocks, settings and autosave live under tmp.

Every QMessageBox / QFileDialog / QInputDialog static call is replaced by a recorder
(``dialogs`` fixture) that answers what the test asked for - or a safe default ("Discard",
"No file chosen") - so a test can never hang on a modal window.
"""

from __future__ import annotations

import gc
import shutil
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from tests.conftest import EXAMPLES, FIXTURES


class DialogRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.question_answer = QMessageBox.StandardButton.Discard
        self.open_path = ""
        self.save_path = ""

    def question(self, *args, **kwargs):
        self.calls.append(("question", args))
        return self.question_answer

    def record(self, name, result):
        def fn(*args, **kwargs):
            self.calls.append((name, args))
            return result() if callable(result) else result

        return fn

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    rec = DialogRecorder()
    ok = QMessageBox.StandardButton.Ok
    monkeypatch.setattr(QMessageBox, "question", rec.question)
    for name in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, rec.record(name, ok))
    monkeypatch.setattr(QMessageBox, "about", rec.record("about", None))
    monkeypatch.setattr(QMessageBox, "aboutQt", rec.record("aboutQt", None))
    monkeypatch.setattr(QMessageBox, "exec", rec.record("exec", ok))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", rec.record("open", lambda: (rec.open_path, "")))
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileNames",
        rec.record("open", lambda: ([rec.open_path] if rec.open_path else [], "")),
    )
    monkeypatch.setattr(QFileDialog, "getSaveFileName", rec.record("save", lambda: (rec.save_path, "")))
    monkeypatch.setattr(QInputDialog, "getInt", rec.record("getInt", (1, False)))
    monkeypatch.delenv("RMSTUDIO_NO_RESTORE", raising=False)
    return rec


@pytest.fixture(autouse=True)
def _gui_thread_gc(qapp):
    """Cycles are collected on the GUI thread, as in the app (``ensure_app``); afterwards
    Python's own collection is back for the tests that follow."""
    from rmstudio.gui import gui_thread_gc

    collector = gui_thread_gc.install(qapp)
    yield collector
    collector.uninstall()


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Models view reads (and Import writes) the model store: never the user's own."""
    monkeypatch.setenv("RMSTUDIO_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def settings(tmp_path: Path):
    """Typed settings in a private INI file under tmp (a random name, never the user's)."""
    from rmstudio.gui.settings import Settings

    path = tmp_path / f"settings-{uuid.uuid4().hex}.ini"
    s = Settings(QSettings(str(path), QSettings.Format.IniFormat))
    yield s
    s.qsettings.clear()


@pytest.fixture
def make_window(qtbot, settings):
    """Create main windows; at teardown they are closed without prompts and runs are stopped."""
    from rmstudio.gui.main_window import MainWindow

    windows = []

    def make(**kwargs):
        kwargs.setdefault("settings", settings)
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.execution.shutdown()
        w.model.undo_stack.setClean()
        w.close()
    # qtbot.addWidget has already queued deleteLater. Gone before the next test: deleted and
    # their Python cycles collected here, on the GUI thread, not whenever a later test's
    # event loop or worker thread gets round to it.
    windows.clear()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def calc_file(tmp_path: Path) -> Path:
    """A writable copy of the calculator example."""
    target = tmp_path / "calculator.json"
    shutil.copy(EXAMPLES / "calculator.json", target)
    return target


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    """A run-request file (manifest + input_data [5, 7, 3])."""
    target = tmp_path / "calc_with_input.json"
    shutil.copy(FIXTURES / "manifests" / "calc_with_input.json", target)
    return target
