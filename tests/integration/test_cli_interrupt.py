"""Ctrl-C on a command whose guest never stops by itself: exit 130, "cancelled", no traceback.

The guest is a package's own runtime that loops forever (as a hostile package could ship),
so only cancelling can end the run; there is no default timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import wasmtime

from rmstudio.cli import main
from tests.conftest import EXAMPLES, REPO

SPIN = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'


@pytest.mark.parametrize(
    ("sig", "code", "last_line"), [(signal.SIGINT, 130, "cancelled"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_or_sigterm_stops_a_guest_that_never_returns(tmp_path, sig, code, last_line):
    runtime = tmp_path / "spin.wasm"
    runtime.write_bytes(wasmtime.wat2wasm(SPIN))
    package = tmp_path / "spin.rmpkg"
    pack = ["pack", str(EXAMPLES / "calculator.json"), "--runtime", str(runtime), "-o", str(package)]
    assert main(pack) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmstudio", "run", str(package), "--input", "[1]", "--events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    running = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "memory: source=host" in line:  # the host samples the running guest
                running.set()
            lines.append(line)

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    try:
        assert running.wait(120), "".join(lines)
        sent = time.perf_counter()
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        proc.kill()
    reader.join(10)
    print(f"stopped {time.perf_counter() - sent:.2f} s after {sig.name}")  # reported, not asserted
    text = "".join(lines)
    assert proc.returncode == code, text
    assert lines[-1].strip() == last_line
    assert "Traceback" not in text and "Exception ignored" not in text
