"""The manifest editor: opening, the param form, undo/redo, validation, node and connection edits."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox

from tests.conftest import EXAMPLES


def settle(qtbot, window) -> None:
    """Let deferred refreshes run and validation finish."""
    QApplication.processEvents()
    window.model.validate_now()
    QApplication.processEvents()


def node_rows(window) -> list[str]:
    lst = window.node_list.list
    return [lst.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(lst.count())]


def test_window_opens_and_shows_an_example(window, qtbot):
    assert window.windowTitle().endswith("— RM Studio")
    assert window.new_from_example(EXAMPLES / "fan_out_in.json")
    settle(qtbot, window)
    text = (EXAMPLES / "fan_out_in.json").read_text()
    assert window.model.text == text
    assert window.editor.toPlainText() == text
    assert node_rows(window) == ["source", "triple", "shift", "join"]
    assert set(window.graph.items_by_id) == {"source", "triple", "shift", "join"}
    assert window.connections.connections.rowCount() == 4
    assert window.validity_label.text() == "✔ valid"
    assert "fan_out_in (example).json" in window.windowTitle()
    assert not window.model.modified
    # The first node is selected and its (empty) form shown.
    assert window.node_list.selected_id() == "source"


def test_open_file_shows_it_and_remembers_it(window, calc_file, settings):
    assert window.open_paths([calc_file]).accepted
    assert window.model.path == calc_file.resolve()
    assert window.model.text == calc_file.read_text()
    assert window.windowTitle() == "calculator.json — RM Studio"
    assert settings.recent_files()[0] == str(calc_file.resolve())


def test_param_edit_updates_text_and_undo_restores_it_byte_for_byte(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    original = calc_file.read_text()
    window.node_list.select("multiply")
    settle(qtbot, window)
    spin = window.param_form.row("multiplier")
    assert spin.value() == 2
    spin.setValue(3)
    edited = original.replace('"multiplier": 2', '"multiplier": 3')
    assert window.model.text == edited
    assert window.editor.toPlainText() == edited
    assert window.model.modified and window.windowTitle().startswith("calculator.json*")
    # Further spin-box steps on the same param merge into one undo entry.
    spin.setValue(4)
    assert window.model.undo_stack.count() == 1
    window.undo_action.trigger()
    assert window.model.text == original
    assert window.editor.toPlainText() == original
    assert not window.model.modified and window.windowTitle() == "calculator.json — RM Studio"
    settle(qtbot, window)
    assert window.param_form.row("multiplier").value() == 2
    window.redo_action.trigger()
    assert window.model.text == original.replace('"multiplier": 2', '"multiplier": 4')
    settle(qtbot, window)
    assert window.param_form.row("multiplier").value() == 4


def test_form_shows_defaults_and_reset_removes_the_param(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    window.node_list.select("add")
    settle(qtbot, window)
    form = window.param_form
    assert form.row("addend").value() == 10
    assert "Value added" in form.row("addend").toolTip()
    form.reset_param("addend")
    assert json.loads(window.model.text)["nodes"][1]["params"] == {}
    settle(qtbot, window)
    assert form.row("addend").value() == 0  # the catalog default, shown as such
    assert form._rows["addend"].tag.text() == "default"


def test_enum_and_unknown_params(window, qtbot):
    window.new_from_example(EXAMPLES / "scale_signal.json")
    text = window.model.text.replace('"operand": 0.5', '"operand": 0.5, "colour": "blue"')
    window.model.apply(text, "test edit")
    window.node_list.select("halve")
    settle(qtbot, window)
    combo = window.param_form.row("operation")
    assert combo.currentText() == "multiply"
    combo.setCurrentIndex(combo.findText("divide"))
    combo.activated.emit(combo.currentIndex())
    assert '"operation": "divide"' in window.model.text
    raw = window.param_form.raw_field("colour")
    assert raw.isReadOnly() and raw.text() == '"blue"'
    assert window.param_form.row("operand").value() == 0.5


def test_typing_bursts_merge_into_one_undo_step(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    original = window.model.text
    editor = window.editor
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, "  ")
    assert window.model.text == original + "  "
    assert window.model.undo_stack.count() == 1
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z in the editor
    assert window.model.text == original
    assert editor.toPlainText() == original


def test_invalid_json_shows_the_error_line_and_clicking_jumps(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    editor = window.editor
    # Delete the comma at the end of the line ('{"id": "multiply", ...},').
    lines = window.model.text.split("\n")
    line_no = next(n for n, ln in enumerate(lines, 1) if '"id": "multiply"' in ln)
    cursor = QTextCursor(editor.document().findBlockByNumber(line_no - 1))
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
    editor.setTextCursor(cursor)
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: bool(window.model.problems) and not window.model.validation_pending, timeout=3000)
    problem = window.model.errors[0]
    assert problem.error.code == "invalid_json"
    assert problem.line == line_no + 1  # the parser notices at the next node
    assert window.validity_label.text().startswith("1 error")
    editor.go_to_line(1)
    item = window.problems.topLevelItem(0)
    assert item.text(0) == str(line_no + 1)
    rect = window.problems.visualItemRect(item)
    qtbot.mouseClick(window.problems.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.current_line() == line_no + 1
    # The pipeline views keep the last good state, greyed out.
    assert node_rows(window) == ["multiply", "add"]
    assert not window.node_list.list.isEnabled()


def test_invalid_manifest_errors_have_lines_paths_and_mark_the_node(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    window.model.apply(window.model.text.replace('"AddNode"', '"AdNode"'), "typo")
    qtbot.waitUntil(lambda: not window.model.validation_pending, timeout=3000)
    settle(qtbot, window)
    errors = window.model.errors
    assert [p.error.code for p in errors] == ["unknown_node_type"]
    assert errors[0].path == "/nodes/1/node_type"
    expected_line = next(n for n, ln in enumerate(window.model.text.split("\n"), 1) if '"AdNode"' in ln)
    assert errors[0].line == expected_line
    assert "Did you mean 'AddNode'" in errors[0].text
    assert window.graph.items_by_id["add"].invalid
    assert not window.graph.items_by_id["multiply"].invalid
    window.problems.line_activated.emit(errors[0].line)
    assert window.editor.current_line() == expected_line


def _trigger_add(window, type_name: str) -> None:
    for section in window.node_list.add_button.menu().actions():
        for action in section.menu().actions() if section.menu() else []:
            if action.text() == type_name:
                action.trigger()
                return
    raise AssertionError(f"no {type_name} in the Add menu")


def test_add_reorder_and_remove_nodes_through_the_ui(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    original = window.model.text
    window.node_list.select("multiply")
    _trigger_add(window, "PassThroughNode")
    settle(qtbot, window)
    assert node_rows(window) == ["multiply", "pass_through", "add"]
    data = json.loads(window.model.text)
    assert [(c["from"], c["to"]) for c in data["connections"]] == [
        ("multiply", "pass_through"),
        ("pass_through", "add"),
    ]
    assert window.node_list.selected_id() == "pass_through"
    assert set(window.graph.items_by_id) == {"multiply", "pass_through", "add"}
    assert window.validity_label.text() == "✔ valid"
    window.node_list.down_button.click()
    settle(qtbot, window)
    assert node_rows(window) == ["multiply", "add", "pass_through"]
    window.node_list.remove_button.click()
    settle(qtbot, window)
    assert node_rows(window) == ["multiply", "add"]
    assert window.model.text == original  # the chain was bridged back
    for _ in range(3):
        window.model.undo_stack.undo()
    assert window.model.text == original and not window.model.modified


def test_connections_editor_and_rename(window, qtbot):
    window.new_from_example(EXAMPLES / "fan_out_in.json")
    settle(qtbot, window)
    conn = window.connections
    conn.new_from.setCurrentText("source")
    conn.new_to.setCurrentText("join")
    conn.connect_button.click()
    settle(qtbot, window)
    data = json.loads(window.model.text)
    assert data["connections"][-1] == {"from": "source", "to": "join"}
    assert conn.connections.rowCount() == 5
    # A click on an end opens its combo box; choosing a node there rewires the connection.
    table = conn.table
    row = data["connections"].index({"from": "triple", "to": "join"})
    end = conn.connections.index(row, 1)
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(end).center())
    editor = table.indexWidget(end)
    assert isinstance(editor, QComboBox) and editor.currentText() == "join"
    editor.setCurrentIndex(editor.findText("shift"))
    editor.activated.emit(editor.currentIndex())
    settle(qtbot, window)
    assert json.loads(window.model.text)["connections"][row] == {"from": "triple", "to": "shift"}
    window.model.undo_stack.undo()  # one undoable step
    settle(qtbot, window)
    assert json.loads(window.model.text) == data
    # The last column removes its row.
    remove = conn.connections.index(4, 2)
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(remove).center())
    settle(qtbot, window)
    assert len(json.loads(window.model.text)["connections"]) == 4
    assert conn.connections.rowCount() == 4
    # Rename through the form's id field: connections follow.
    window.node_list.select("triple")
    settle(qtbot, window)
    field = window.param_form.id_edit
    field.setText("times3")
    field.editingFinished.emit()
    settle(qtbot, window)
    data = json.loads(window.model.text)
    assert {"from": "source", "to": "times3"} in data["connections"]
    assert window.node_list.selected_id() == "times3"
    # A connection that would duplicate another is refused with a message, nothing changes.
    before = window.model.text
    conn.add("source", "times3")
    assert window.model.text == before
    assert "already exists" in window.statusBar().currentMessage()


def test_connections_of_a_large_pipeline_with_a_dangling_end(window, tmp_path, qtbot):
    """Thousands of connections are rows of a model, not widgets; an end that names no node
    is shown in red, as written."""
    n = 3000
    manifest = {
        "version": "v1",
        "nodes": [{"id": f"n{i}", "node_type": "AddNode"} for i in range(n)],
        "connections": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
        + [{"from": "n0", "to": "ghost"}],
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(manifest, indent=1))
    assert window.open_manifest(path)
    settle(qtbot, window)
    conn = window.connections
    assert conn.connections.rowCount() == n
    assert conn.table.findChildren(QComboBox) == []  # no editor until one is clicked
    ghost = conn.connections.index(n - 1, 1)
    assert ghost.data() == "ghost" and ghost.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert conn.connections.index(0, 1).data(Qt.ItemDataRole.ForegroundRole) is None
    # A param edit changes no view of the structure: nothing is rebuilt.
    drawn, listed = window.graph.items_by_id["n3"], window.node_list.list.item(3)
    window.model.set_param("n3", "addend", 7)
    settle(qtbot, window)
    assert window.graph.items_by_id["n3"] is drawn and window.node_list.list.item(3) is listed
    # Renaming a node (ids change: a full refresh) still leaves no widget per row.
    window.model.rename_node("n5", "five")
    settle(qtbot, window)
    assert conn.connections.index(4, 1).data() == "five"
    assert conn.table.findChildren(QComboBox) == []
    assert "five" in window.graph.items_by_id and window.node_list.list.item(5).text().startswith("five")


def test_unsaved_changes_guard(window, calc_file, dialogs, qtbot):
    from PySide6.QtWidgets import QMessageBox

    window.open_manifest(calc_file)
    window.model.set_param("add", "addend", 11)
    dialogs.question_answer = QMessageBox.StandardButton.Cancel
    window.new_document()
    assert "question" in dialogs.names()
    assert window.model.path == calc_file.resolve()  # kept: the user cancelled
    dialogs.question_answer = QMessageBox.StandardButton.Save
    window.new_document()
    assert '"addend": 11' in calc_file.read_text()
    assert window.model.path is None


def test_save_as_writes_the_text_verbatim(window, tmp_path, dialogs):
    window.new_from_example(EXAMPLES / "calculator.json")
    window.model.set_param("multiply", "multiplier", 5)
    dialogs.save_path = str(tmp_path / "mine")
    window.save_action.trigger()
    target = tmp_path / "mine.json"
    assert target.read_text() == window.model.text
    assert window.model.path == target.resolve() and not window.model.modified
    assert window.windowTitle() == "mine.json — RM Studio"


def test_about_names_every_version():
    from importlib import metadata

    from rmstudio.gui.about import about_html, versions

    names = dict(versions())
    assert names["wasmtime (Python)"] == metadata.version("wasmtime")
    assert names["Qt"] and names["PySide6"]
    assert "Guest executor" in names
    assert "wasmtime" in about_html()


def test_a_file_with_an_enormous_line_opens_with_the_text_view_off(window, tmp_path, qtbot):
    big = tmp_path / "big_request.json"
    manifest = json.loads((EXAMPLES / "calculator.json").read_text())
    big.write_text(json.dumps({"manifest": manifest, "input_data": list(range(20_000))}))
    assert window.open_manifest(big)
    area = window.editor_area
    assert not area.showing_text and "characters" in area.reason.text()
    assert window.editor.toPlainText() == ""  # nothing handed to the text widget
    # Everything else works: the form edits the exact text, undo restores it, Run gets the items.
    window.node_list.select("add")
    settle(qtbot, window)
    window.param_form.row("addend").setValue(1)
    assert '"addend": 1}' in window.model.text and window.model.modified
    assert window.execution.input_items() == list(range(20_000))
    assert window.execution.input_edit.toPlainText().startswith("<input_data of big_request.json")
    window.model.undo_stack.undo()
    assert window.model.text == big.read_text()
    area.layout_button.click()  # lay the JSON out in short lines: the text view comes back
    assert area.showing_text and window.editor.toPlainText() == window.model.text
    window.model.undo_stack.undo()
    assert not area.showing_text
    area.show_anyway.click()
    assert area.showing_text and window.editor.toPlainText() == big.read_text()


def test_format_json_and_next_problem(window, calc_file, qtbot):
    window.open_manifest(calc_file)
    squashed = json.dumps(json.loads(window.model.text))
    window.model.apply(squashed, "squash")
    window.format_action.trigger()
    assert window.model.text == calc_file.read_text()
    window.model.apply(window.model.text.replace('"AddNode"', '"Nope"'), "typo")
    settle(qtbot, window)
    window.editor.go_to_line(1)
    window.next_problem_action.trigger()
    assert window.editor.current_line() == window.model.errors[0].line


def test_random_edits_then_as_many_undos_restore_the_file_exactly(window, calc_file, qtbot):
    """Orange-style history check: 200 mixed edits, 200 undos, byte-identical and clean again."""
    import random

    from PySide6.QtGui import QTextCursor

    from rmstudio.core.errors import RMError
    from rmstudio.core.manifest import edit

    window.open_manifest(calc_file)
    original = window.model.text
    rng = random.Random(1234)
    model = window.model
    steps = 0
    while steps < 200:
        before = model.undo_stack.index()
        manifest = model.manifest
        ids = edit.node_ids(manifest) if manifest else []
        choice = rng.randrange(6)
        try:
            if choice == 0 and ids:
                model.set_param(rng.choice(ids), "addend", rng.randint(-5, 5))
            elif choice == 1 and ids:
                model.add_node(
                    rng.choice(["AddNode", "MultiplyNode", "PassThroughNode"]), after=rng.choice(ids)
                )
            elif choice == 2 and len(ids) > 2:
                model.remove_node(rng.choice(ids))
            elif choice == 3 and len(ids) > 1:
                model.move_node(rng.choice(ids), rng.randrange(len(ids)))
            elif choice == 4 and len(ids) > 1:
                a, b = rng.sample(ids, 2)
                model.add_connection(a, b)
            else:
                editor = window.editor
                cursor = editor.textCursor()
                cursor.setPosition(rng.randrange(len(editor.toPlainText()) + 1))
                editor.setTextCursor(cursor)
                editor.insertPlainText(rng.choice([" ", "\n", "x"]))
                editor.moveCursor(QTextCursor.MoveOperation.End)
        except RMError:
            continue  # e.g. a duplicate connection: refused, nothing pushed
        # Force a new undo entry per step (typing merges within a burst otherwise).
        for cmd_index in range(model.undo_stack.count()):
            cmd = model.undo_stack.command(cmd_index)
            if hasattr(cmd, "last_edit"):
                cmd.last_edit -= 10
        if model.undo_stack.index() != before:
            steps += 1
        if model.manifest is None:  # typed into a place that broke the JSON: repair by undo
            model.undo_stack.undo()
            steps -= 1
    assert model.undo_stack.count() == 200
    for _ in range(200):
        model.undo_stack.undo()
    assert model.text == original and not model.modified
    assert window.editor.toPlainText() == original
