"""Drops, settings, autosave and restore, the screenshot command, the PySide6 guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from rmstudio.gui import autosave, file_types
from rmstudio.gui.settings import SPEC, Settings, settings_path
from tests.conftest import FIXTURES, REPO
from tests.gui.dnd import drag_drop, drag_enter_refused, file_mime

# ---------------------------------------------------------------- drag and drop


def test_dropping_a_manifest_on_the_editor_opens_it(window, calc_file, qtbot):
    assert drag_drop(window.editor.viewport(), file_mime(calc_file))
    qtbot.waitUntil(lambda: window.model.path == calc_file.resolve(), timeout=3000)
    assert window.model.text == calc_file.read_text()


def test_dropping_on_any_panel_reaches_the_window(window, request_file, qtbot):
    # A text field would otherwise paste the file's path.
    assert drag_drop(window.execution.input_edit.viewport(), file_mime(request_file))
    qtbot.waitUntil(lambda: window.model.path == request_file.resolve(), timeout=3000)
    assert window.execution.input_edit.toPlainText() == "[5, 7, 3]"


def test_dropping_an_exe_is_refused_with_a_reason(window, tmp_path):
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00")
    before = window.model.text
    assert not drag_drop(window, file_mime(exe))
    assert drag_enter_refused(window.editor.viewport(), file_mime(exe))
    message = window.statusBar().currentMessage()
    assert "setup.exe" in message and "not a file RM Studio opens" in message
    assert window.model.text == before


def _tone(path: Path, seconds: float = 1.5, rate: int = 16000, channels: int = 1) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, t * 2)).astype(np.float32)
    sf.write(str(path), np.repeat(wave[:, None], channels, axis=1), rate)
    return path


def test_dropped_audio_goes_to_the_audio_panel_with_a_waveform(window, tmp_path, qtbot):
    wav = _tone(tmp_path / "tone.wav", channels=2)
    before = window.model.text
    assert drag_drop(window.editor.viewport(), file_mime(wav))
    panel = window.audio_panel
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=3000)
    assert window.model.text == before  # the manifest is untouched
    assert panel.selected_path() == str(wav.resolve())
    assert "tone.wav" in panel.list.item(0).text() and "stereo" in panel.list.item(0).text()
    assert "16000 Hz" in panel.info.text() and "0:01.5" in panel.info.text()
    qtbot.waitUntil(lambda: str(wav.resolve()) in panel.summaries, timeout=30_000)
    qtbot.waitUntil(lambda: panel.wave.xData is not None and len(panel.wave.xData) > 0, timeout=3000)
    x, y = panel.wave.getData()
    assert max(y) == pytest.approx(0.5, abs=0.02) and min(y) == pytest.approx(-0.5, abs=0.02)
    assert max(x) <= 1.5
    panel.seek(0.75)
    assert panel.cursor.value() == pytest.approx(0.75)
    # Adding the same file again selects it instead of listing it twice.
    assert window.open_paths([wav]).accepted
    assert panel.list.count() == 1


def test_unreadable_audio_is_refused_with_the_reason(window, tmp_path):
    fake = tmp_path / "speech.wav"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    window.open_paths([fake])
    assert window.audio_panel.list.count() == 0
    assert "speech.wav" in window.statusBar().currentMessage()


def test_open_dialog_offers_every_supported_kind(window, calc_file, dialogs):
    dialogs.open_path = str(calc_file)
    window.open_action.trigger()
    assert window.model.path == calc_file.resolve()
    name_filter = next(args for name, args in dialogs.calls if name == "open")[3]
    assert (
        name_filter.startswith("All supported files (") and "*.json" in name_filter and "*.wav" in name_filter
    )


def test_plan_open_sorts_paths(tmp_path):
    good = tmp_path / "a.json"
    good.write_text("{}")
    plan = file_types.plan_open(
        [good, tmp_path / "missing.json", tmp_path, tmp_path / "x.rmpkg", tmp_path / "y.txt"],
        {file_types.FileKind.MANIFEST: lambda p: True},
    )
    assert plan.accepted == [(good, file_types.FileKind.MANIFEST)]
    reasons = dict((p.name, why) for p, why in plan.refused)
    assert reasons["missing.json"] == "file not found"
    assert "folders" in reasons[tmp_path.name]
    assert "not supported yet" in reasons["x.rmpkg"]
    assert "manifests (.json)" in reasons["y.txt"]


# ---------------------------------------------------------------- settings


VALUES = {
    "run/engine": "native",
    "run/memory_limit_mib": 512,
    "run/timeout_s": 12.5,
    "run/input": "[1, 2]",
    "files/recent": ["/a/b.json", "/c/d.json"],
    "files/last_dir": "/tmp/somewhere",
    "window/geometry": b"\x01\x02\x03",
    "window/state": b"\x00\xff",
    "whisper/default_model": "base.en",
    "whisper/threads": 4,
}


def test_every_setting_round_trips(settings):
    assert set(VALUES) == {s.key for s in SPEC}
    for key, value in VALUES.items():
        settings.set(key, value)
    settings.sync()
    again = Settings(QSettings(settings.qsettings.fileName(), QSettings.Format.IniFormat))
    for key, value in VALUES.items():
        assert again.get(key) == value, key


def test_garbage_values_fall_back_to_defaults(settings):
    raw = settings.qsettings
    for key, junk in {
        "run/engine": "quantum",
        "run/memory_limit_mib": "lots",
        "run/timeout_s": "nan",
        "files/recent": "{not json",
        "window/geometry": 42,
        "whisper/threads": -3,
    }.items():
        raw.setValue(key, junk)
    raw.sync()
    for spec in SPEC:
        value = settings.get(spec.key)
        assert isinstance(value, spec.type), spec.key
    assert settings.get("run/engine") == "wasm"
    assert settings.get("run/memory_limit_mib") == 2048
    assert settings.get("files/recent") == []
    with pytest.raises(ValueError):
        settings.set("run/engine", "quantum")
    with pytest.raises(KeyError):
        settings.get("no/such/key")


def test_default_settings_file_lives_in_the_isolated_config_dir(tmp_path_factory):
    path = settings_path()
    assert str(path).startswith(os.environ["RMSTUDIO_CONFIG_DIR"])
    assert str(path).startswith(str(tmp_path_factory.getbasetemp()))
    s = Settings()
    s.add_recent("/x/y.json")
    s.sync()
    assert path.is_file()


def test_window_remembers_engine_limits_and_recent_files(make_window, settings, calc_file):
    w = make_window()
    w.execution.set_engine("native")
    w.execution.memory_spin.setValue(256)
    w.open_manifest(calc_file)
    w.close()
    w2 = make_window()
    assert w2.execution.engine == "native"
    assert w2.execution.memory_spin.value() == 256
    assert w2.settings.recent_files()[0] == str(calc_file.resolve())
    w2.recent_menu.aboutToShow.emit()
    assert w2.recent_menu.actions()[0].text() == "calculator.json"


# ---------------------------------------------------------------- autosave and restore


def test_swap_file_follows_the_undo_stack(window, calc_file):
    window.open_manifest(calc_file)
    assert window.autosave.current is None
    window.model.set_param("add", "addend", 1)
    swap = window.autosave.current
    assert swap is not None and swap.is_file()
    assert str(swap).startswith(os.environ["RMSTUDIO_CONFIG_DIR"])
    assert json.loads(swap.read_text())["text"] == window.model.text
    window.model.undo_stack.undo()  # back to the saved state: nothing to recover
    assert not swap.exists()
    window.model.undo_stack.redo()
    assert window.autosave.current.is_file()
    window.save()  # a clean save removes it
    assert window.autosave.current is None and not swap.exists()


def test_restore_after_a_simulated_crash(make_window, calc_file, dialogs):
    first = make_window()
    first.open_manifest(calc_file)
    first.model.set_param("multiply", "multiplier", 7)
    first.model.add_node("PassThroughNode", after="add")
    edited = first.model.text
    first.autosave.abandon()  # the process "dies": the swap file stays behind
    first.model.undo_stack.setClean()
    assert autosave.orphaned_swaps()

    dialogs.question_answer = QMessageBox.StandardButton.Yes
    second = make_window()
    assert second.offer_restore()
    assert second.model.text == edited
    assert second.model.path == calc_file.resolve()
    assert second.model.modified and second.windowTitle().startswith("calculator.json*")
    assert calc_file.read_text() != edited  # nothing was written to the file itself
    second.model.undo_stack.undo()  # the restore is one undoable step back to the file
    assert second.model.text == calc_file.read_text()


def test_restore_prompt_can_be_silenced_and_declined(make_window, calc_file, dialogs, monkeypatch):
    first = make_window()
    first.open_manifest(calc_file)
    first.model.set_param("add", "addend", 3)
    first.autosave.abandon()
    first.model.undo_stack.setClean()
    monkeypatch.setenv("RMSTUDIO_NO_RESTORE", "1")
    second = make_window()
    asked = len(dialogs.calls)
    assert not second.offer_restore() and len(dialogs.calls) == asked
    monkeypatch.delenv("RMSTUDIO_NO_RESTORE")
    dialogs.question_answer = QMessageBox.StandardButton.No  # "No" deletes the copy
    assert not second.offer_restore()
    assert autosave.orphaned_swaps() == []


def test_a_live_window_never_offers_another_windows_work(make_window, calc_file):
    first = make_window()
    first.open_manifest(calc_file)
    first.model.set_param("add", "addend", 3)
    assert autosave.orphaned_swaps() == []


# ---------------------------------------------------------------- screenshot command


def _variance(path: Path) -> float:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    ptr = img.constBits()
    data = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(
        img.height(), img.bytesPerLine()
    )
    return float(data[:, : img.width()].var())


def test_screenshot_command_writes_a_non_blank_1400x900_png(tmp_path):
    out = tmp_path / "shots" / "calculator.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RMSTUDIO_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rmstudio",
            "gui",
            "--screenshot",
            str(out),
            str(FIXTURES / "manifests" / "calc_with_input.json"),
            "--run",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1400, 900)
    assert _variance(out) > 200  # a real window, not a flat colour
    assert (
        not (tmp_path / "config" / "gui.ini").exists()
        or "recent" not in (tmp_path / "config" / "gui.ini").read_text()
    )


def test_screenshot_command_fails_cleanly_on_a_bad_file(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RMSTUDIO_CONFIG_DIR=str(tmp_path / "config"))
    not_utf8 = tmp_path / "latin1.json"  # a manifest that fails to load used to open a modal
    not_utf8.write_bytes(b'{"name": "caf\xe9"}')  # dialog nobody could close: the command hung
    fake_audio = tmp_path / "notes.wav"  # an audio file the panel refuses: it used to exit 0
    fake_audio.write_text("not audio")
    for bad in ("nothing.exe", str(not_utf8), str(fake_audio)):
        proc = subprocess.run(
            [sys.executable, "-m", "rmstudio", "gui", "--screenshot", str(tmp_path / "x.png"), bad],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, (bad, proc.stderr)
        assert Path(bad).name in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_refused_file_in_a_multi_file_drop_keeps_its_reason(window, tmp_path, calc_file):
    fake_audio = tmp_path / "notes.wav"
    fake_audio.write_text("not audio")
    plan = window.open_paths([fake_audio, calc_file])  # the manifest's own message comes later
    reasons = dict((p.name, why) for p, why in plan.refused)
    assert "notes.wav" in reasons and "not an audio file" in reasons["notes.wav"]
    assert "notes.wav" in window.statusBar().currentMessage()


# ---------------------------------------------------------------- the pinned PySide6


def test_pinned_pyside_keeps_reference_counts():
    """PySide6 6.12.0's abi3 wheels drop a reference to None/True per void call or emit, which
    aborts CPython 3.11 within seconds of live plotting; pyproject pins 6.11.3, which does not."""
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        s = Signal()

    o = Emitter()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200_000):  # far more than None's or True's original reference count
        o.s.emit()
        o.setObjectName("x")
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert all(abs(a - b) < 1000 for a, b in zip(before, after, strict=True)), (before, after)


# ---------------------------------------------------------------- packages


def test_build_inspect_and_run_a_package(window, request_file, tmp_path, dialogs, qtbot):
    window.open_manifest(request_file)
    out = tmp_path / "calc.rmpkg"
    dialogs.save_path = str(out)
    panel = window.package_panel
    with qtbot.waitSignal(panel.inspected, timeout=120_000):
        window.build_package_action.trigger()
    assert out.is_file()
    assert panel.summary is not None and panel.summary["verification"]["status"] == "verified"
    assert panel.status.text().startswith("✔ verified")
    assert panel.members.topLevelItemCount() >= 3  # manifest, runtime, metadata
    assert panel.run_button.isEnabled()
    with qtbot.waitSignal(window.execution.run_finished, timeout=120_000) as blocker:
        panel.run_button.click()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    assert result.outputs == [20, 24, 16]


def test_extract_a_package_from_the_panel(window, request_file, tmp_path, dialogs, qtbot):
    import json

    out = tmp_path / "calc.rmpkg"
    dialogs.save_path = str(out)
    panel = window.package_panel
    with qtbot.waitSignal(panel.inspected, timeout=120_000):
        window.build_package_action.trigger()
    assert panel.extract_button.isEnabled()
    dest = tmp_path / "unpacked"
    with qtbot.waitSignal(panel.extracted, timeout=60_000) as blocker:
        panel.extract_to(dest)
    assert blocker.args == [str(dest)]
    assert json.loads((dest / "manifest.json").read_text())["nodes"]
    assert (dest / "runtime.wasm").read_bytes()[:4] == b"\0asm"
    # A second extraction into the same, now non-empty folder is refused and changes nothing.
    before = sorted(p.name for p in dest.iterdir())
    with qtbot.waitSignal(panel.extracted, timeout=60_000) as blocker:
        panel.extract_to(dest)
    assert blocker.args == [""]
    assert sorted(p.name for p in dest.iterdir()) == before


def test_a_package_runs_on_the_audio_panels_file(window, tmp_path, dialogs, qtbot):
    import json

    import numpy as np
    import soundfile as sf

    from rmstudio.core import typed_arrays

    manifest = {
        "version": "v1",
        "metadata": {"name": "gain"},
        "nodes": [{"id": "gain", "node_type": "AudioGain", "params": {"gain_db": -6}}],
        "connections": [],
    }
    window.model.apply(json.dumps(manifest, indent=2) + "\n", "audio manifest")
    out = tmp_path / "gain.rmpkg"
    dialogs.save_path = str(out)
    with qtbot.waitSignal(window.package_panel.inspected, timeout=120_000):
        window.build_package_action.trigger()
    wav = tmp_path / "tone.wav"
    sf.write(str(wav), (0.5 * np.sin(np.arange(8000) / 8)).astype(np.float32), 8000)
    assert window.open_audio(wav)
    window.audio_panel.input_button.click()
    with qtbot.waitSignal(window.execution.run_finished, timeout=120_000) as blocker:
        window.package_panel.run_button.click()
    result = blocker.args[0]
    assert result.ok, result.error and result.error.describe()
    samples = typed_arrays.decode(result.outputs[0]["data"])
    assert float(np.abs(samples).max()) == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)


def test_a_hostile_package_shows_an_error_and_changes_nothing(window, calc_file, tmp_path, qtbot):
    import zipfile

    window.open_manifest(calc_file)
    before = window.model.text
    evil = tmp_path / "evil.rmpkg"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("manifest.json", calc_file.read_text())
        z.writestr("../escaped.txt", "gotcha")
    panel = window.package_panel
    with qtbot.waitSignal(panel.inspected, timeout=30_000):
        assert drag_drop(window, file_mime(evil))
    assert panel.status.text().startswith("✘")
    assert not panel.run_button.isEnabled()
    assert "Traceback" not in panel.status.text()
    assert window.model.text == before and window.model.path == calc_file.resolve()
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*"))


def test_package_text_is_never_rendered_as_html(window, tmp_path, qtbot):
    from PySide6.QtCore import Qt

    from rmstudio.gui.text import PlainLabel
    from tests.unit.test_package_zipcraft import baseline_entries, craft

    entries = baseline_entries()  # (member names with < > are refused by the name rules)
    meta_name = "<b><font color=red size=40>PWNED</font></b>"
    pkg = craft(tmp_path / "html.rmpkg", entries, package_name=meta_name)
    panel = window.package_panel
    with qtbot.waitSignal(panel.inspected, timeout=30_000):
        assert drag_drop(window, file_mime(pkg))
    labels = window.findChildren(PlainLabel)
    assert panel.title in labels and panel.status in labels and window.execution.error_box in labels
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)
    assert meta_name in panel.title.text()  # shown as written, not as a big red word


def test_message_box_text_is_literal_and_wraps():
    from PySide6.QtGui import QTextDocument

    from rmstudio.gui.text import literal_html

    text = "the package <b>x</b> failed:\n" + "word " * 200
    html = literal_html(text)
    doc = QTextDocument()
    doc.setHtml(html)
    assert doc.toPlainText().split() == text.split()  # tags shown as written
    assert "\xa0" not in html and "&nbsp;" not in html  # ordinary spaces: the box can wrap


# ---------------------------------------------------------------- models


def test_models_view_imports_lists_chooses_and_removes(window, tiny_en_ggml, settings, dialogs, qtbot):
    view = window.models_view
    window.models_dock.show()
    window.models_dock.raise_()
    qtbot.waitUntil(lambda: view._loaded, timeout=3000)
    assert "No models yet" in view.tree.topLevelItem(0).text(0)
    assert str(view.folder.text()).startswith("Store: ")
    assert os.environ["RMSTUDIO_DATA_DIR"] in view.folder.text()
    test_model = tiny_en_ggml["q8_0"]  # tiny.en converted from the bundled package
    with qtbot.waitSignal(view.message, timeout=60_000, check_params_cb=lambda m: "is in the store" in m):
        view.import_file(test_model)
    assert view.tree.topLevelItemCount() == 1
    name = view.selected_name()
    assert name and "tiny" in view.tree.topLevelItem(0).text(1)
    view.default_button.click()
    assert settings.get("whisper/default_model") == name
    assert view.tree.topLevelItem(0).text(0).startswith("★ ")
    # Remove asks first (the file is deleted); Cancel keeps the model.
    view.remove_button.click()
    assert dialogs.names()[-1] == "question"
    question = dialogs.calls[-1][1][2]
    assert name in question and "Transcribe uses this model" in question
    assert view.tree.topLevelItemCount() == 1 and view.selected_name() == name
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    view.remove_button.click()
    assert "No models yet" in view.tree.topLevelItem(0).text(0)


def test_importing_a_file_that_is_not_a_model_says_why(window, tmp_path, qtbot):
    bad = tmp_path / "notes.bin"
    bad.write_bytes(b"this is not a ggml model")
    view = window.models_view
    with qtbot.waitSignal(view.message, timeout=30_000, check_params_cb=lambda m: "notes.bin" in m) as msg:
        view.import_file(bad)
    assert "Traceback" not in msg.args[0]
    view.refresh()
    assert "No models yet" in view.tree.topLevelItem(0).text(0)
