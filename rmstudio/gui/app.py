"""Starting the GUI: the QApplication, the main window, and the headless screenshot mode.

``run_gui(files)`` shows the window and enters the event loop. ``take_screenshot(out,
files, run=...)`` opens the files, optionally runs the pipeline to completion, renders the
window at 1400x900 and writes a PNG - with ``QT_QPA_PLATFORM=offscreen`` when no display is
needed (the ``rmstudio gui --screenshot`` command sets that itself unless told otherwise).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rmstudio import __version__
from rmstudio.core.errors import RMError

SCREENSHOT_SIZE = (1400, 900)


def ensure_app():
    """The process's QApplication (created once, Fusion style, app metadata set, cyclic
    garbage collected on its thread: see gui_thread_gc)."""
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from rmstudio.gui import gui_thread_gc

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setStyle("Fusion")
        font = QFont(app.font())
        if font.pointSizeF() < 9:
            font.setPointSizeF(9.5)
            app.setFont(font)
    gui_thread_gc.install(app)
    app.setApplicationName("RM Studio")
    app.setOrganizationName("RM Studio")
    app.setApplicationVersion(__version__)
    from rmstudio.gui.resources import APP_ID, icon_path

    app.setDesktopFileName(APP_ID)
    icon = icon_path()
    if icon is not None and app.windowIcon().isNull():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def create_window(files: Sequence[str | Path] = (), remember: bool = True, offer_restore: bool = True):
    from rmstudio.gui.main_window import MainWindow

    ensure_app()
    window = MainWindow(remember=remember)
    if files:
        window.open_paths(list(files))
    return window


def run_gui(files: Sequence[str | Path] = ()) -> int:
    from PySide6.QtCore import QTimer

    app = ensure_app()
    window = create_window(files)
    window.show()
    QTimer.singleShot(0, window.offer_restore)
    return app.exec()


@dataclass
class ScreenshotResult:
    path: Path
    width: int
    height: int
    run_ok: bool | None  # None when no run was requested
    message: str


def take_screenshot(
    out: str | Path,
    files: Sequence[str | Path] = (),
    run: bool = False,
    input_text: str | None = None,
    engine: str | None = None,
    timeout_s: float = 600.0,
) -> ScreenshotResult:
    """Render the window (with ``files`` open, after an optional run) into a PNG at ``out``."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = ensure_app()
    window = create_window((), remember=False)
    window.headless = True
    try:
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        window.apply_default_layout()
        app.processEvents()
        if files:  # after the layout, so a panel that a file brings forward stays in front
            plan = window.open_paths(list(files))
            if plan.refused:
                raise RMError("invalid_request", "cannot open " + plan.refusal_message())
            window.package_panel.wait()
            app.processEvents()
        if input_text is not None:  # an explicit --input wins over a run request's own items
            window.execution.input_edit.setPlainText(input_text)
        if engine is not None:
            window.execution.set_engine(engine)
        run_ok: bool | None = None
        message = ""
        if run:
            loop = QEventLoop()
            window.execution.run_finished.connect(lambda _r: loop.quit())
            if window.execution.run():
                timer = QTimer()
                timer.setSingleShot(True)
                timer.timeout.connect(loop.quit)
                timer.start(int(timeout_s * 1000))
                loop.exec()
                if window.execution.running:
                    window.execution.cancel()
                    window.execution.shutdown()
                    raise RMError("timeout", f"the run did not finish within {timeout_s:g} s")
            result = window.execution.last_result
            run_ok = bool(result and result.ok)
            if result is None:
                message = "run not started: " + window.execution.error_box.text()
            elif not result.ok and result.error is not None:
                message = "run failed: " + result.error.describe()
        window.audio_panel.wait_for_summaries()  # waveforms are computed on worker threads
        # Let deferred refreshes, the plot timer and layout settle before rendering.
        for _ in range(3):
            app.processEvents()
            QTimer.singleShot(50, lambda: None)
        window.model.validate_now()
        window.execution.plots.refresh(force=True)
        app.processEvents()
        pixmap = window.grab()
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not pixmap.save(str(target), "PNG"):
            raise RMError("io_error", "could not write the screenshot", source=str(target))
        return ScreenshotResult(target, pixmap.width(), pixmap.height(), run_ok, message)
    finally:
        window.model.undo_stack.setClean()
        window.close()
        window.deleteLater()
        QApplication.processEvents()


def use_offscreen_if_headless() -> None:
    """Render without a display unless the user chose a platform; keep its chatter quiet."""
    from PySide6.QtCore import qInstallMessageHandler

    if "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:  # the offscreen plugin says this for every window
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)
