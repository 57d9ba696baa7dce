"""RM Studio's desktop window (PySide6 + pyqtgraph). Views, models and workers only.

Everything the window does goes through ``rmstudio.core``; nothing in this package parses,
validates, executes or converts on its own. Modules, one job each:

==========================  ================================================================
``app``                     QApplication, ``run_gui``, ``take_screenshot`` (``rmstudio gui``)
``main_window``             the window: docks, menus, shortcuts, status bar, open/save, drops
``document``                the open file: text, QUndoStack, parse + validation state
``json_editor``             text editor (line numbers, highlighting, problem underlines)
``problems_view``           errors and warnings with line and JSON path; click to jump
``node_list``               nodes: add / remove / reorder
``connections_editor``      connections: edit, add, remove
``param_form``              params of the selected node, generated from the catalog
``graph_view``              read-only drawing of the pipeline by topological layer
``execution_panel``         Run / Cancel, engine, limits, input, plots, log, results
``run_worker``              the run on a QThread; events and result by queued signals
``background``              short jobs on a thread pool (summaries, imports, verification)
``gui_thread_gc``           cyclic garbage collected on the GUI thread, never on a worker
``transcript_view``         a run's transcripts: text, segments (click to play), export
``telemetry`` / ``plots``   ring buffers fed by events; pyqtgraph plots redrawn by a timer
``settings``                typed QSettings spec (robust to garbage values)
``autosave``                swap files and restore after a crash
``file_types``              extension -> kind -> handler, for Open, drops and the CLI
``audio_panel``             dropped audio: file list, streamed waveform, playback, seek
``package_panel``           .rmpkg: verify + inspect on a worker, run, open its pipeline
``models_view``             the Whisper model store: list, import, remove, default, folder
``about`` / ``dialogs``     Help > About; the few modal questions (patched in tests)
==========================  ================================================================

Extension points for the next steps (see each module's docstring):

* **Audio panel** (built; the worked example of the two hooks below): added with
  ``MainWindow.add_panel("Audio", ...)`` and fed by
  ``MainWindow.register_file_handler(FileKind.AUDIO, ...)``; waveforms from
  ``core.audio.summarize_file`` on a thread pool, playback with QtMultimedia; "Use as run
  input" decodes the file on the run's worker thread (``execution_panel.audio_input``).
* **Transcript view** (built: a tab of the Run panel shown when outputs hold transcripts;
  segments click-to-play, copy, export via ``core.export``). Still to wire: a one-click
  Transcribe that takes ``AudioPanel.selected_path()``, builds the default Whisper request
  with core (model from the ``whisper/default_model`` setting) and calls
  ``ExecutionPanel.run_request(request, "wasm", audio_input(path, "wasm"))``.
* **Package panel** (built): inspect/verify (``core.package``) on a thread pool, run through
  ``ExecutionPanel.run_package`` (the worker's ``prepare``/``runner`` hooks), File > Build
  Package. Still to wire: extract, build options (models, deps, metadata fields), progress.
* **Models view** (built): list / import / remove / prepare default / show folder over
  ``core.models``; "Use for Transcribe" writes the ``whisper/default_model`` setting. Still
  to wire: downloads with progress (``core.models.download_model``), CTranslate2 conversion.
"""

import os

# Qt Multimedia probes for PipeWire and VA-API at start-up and logs each miss; on machines
# without them (servers, CI) those lines are noise, not problems.
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.symbolsresolver=false")
