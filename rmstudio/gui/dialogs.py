"""The few questions the window asks, each one function (tests replace these or QMessageBox)."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from rmstudio.gui.autosave import SwapFile
from rmstudio.gui.text import literal_html

MANIFEST_FILTER = "Manifests and run requests (*.json);;All files (*)"


def ask_save_changes(parent: QWidget, name: str) -> str:
    """ "save", "discard" or "cancel"."""
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        f"{name} has unsaved changes. Save them before continuing?",
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"


def ask_restore(parent: QWidget, swap: SwapFile, others: int) -> str:
    """ "restore", "discard" or "later" for a swap file left by a session that did not end cleanly."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(swap.saved_at))
    more = f"\n\n({others} more unsaved document(s) will be offered next time.)" if others else ""
    answer = QMessageBox.question(
        parent,
        "Restore unsaved changes?",
        f"RM Studio did not close cleanly. Unsaved changes to {swap.display_name} "
        f"(autosaved {when}) can be restored.\n\nRestore them? "
        "Choosing No deletes the autosaved copy." + more,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Yes,
    )
    if answer == QMessageBox.StandardButton.Yes:
        return "restore"
    if answer == QMessageBox.StandardButton.No:
        return "discard"
    return "later"


def open_paths(parent: QWidget, directory: str, name_filter: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, "Open", directory, name_filter)
    return list(paths)


def save_package_path(parent: QWidget, suggested: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Build package", suggested, "RM Studio packages (*.rmpkg)")
    if path and not path.lower().endswith(".rmpkg"):
        path += ".rmpkg"
    return path


def extract_directory(parent: QWidget, start: str) -> str:
    """A folder to unpack a package into (it must be new or empty; extraction checks)."""
    return QFileDialog.getExistingDirectory(parent, "Extract package into a new or empty folder", start)


def save_manifest_path(parent: QWidget, suggested: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Save manifest as", suggested, MANIFEST_FILTER)
    if path and "." not in path.rsplit("/", 1)[-1]:
        path += ".json"
    return path


def confirm_remove_model(parent: QWidget, name: str, size: str, path: str, chosen: bool) -> bool:
    """Removing a model deletes its file from the store: ask first (Cancel is the default)."""
    after = (
        "\n\nTranscribe uses this model; after removing it, Transcribe uses the default model "
        "(tiny.en, prepared again on first use)."
        if chosen
        else ""
    )
    answer = QMessageBox.question(
        parent,
        "Remove model?",
        literal_html(f"Remove {name} ({size}) from the model store?\n\nThis deletes {path}." + after),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes
