"""Shared cocotb infrastructure for the RTL tests: build + run one block on one simulator.

The work is done by :mod:`snngen.flows.simrun` (also used by ``snngen verify``); this module adds
what only the tests need:

* one build directory per (block, parameter set, simulator) under ``rtl_tests/_build/``
  (``build_dir_for``), so pytest-xdist workers never share one and rebuilds are incremental;
* a missing simulator, a failed build or a failed cocotb run fails the pytest test (never
  skips), with the cocotb messages, the log's tail and the seed to rerun with (``SNN_SEED``);
  ``WAVES=1`` records waves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from snngen.flows import simrun
from snngen.flows.simrun import (  # noqa: F401  (re-exported for the tests)
    SIMS,
    TIMESCALE,
    VENV_BIN,
    SimError,
    pick_seed,
    search_path,
    waves_enabled,
)

RTL_TESTS = Path(__file__).resolve().parent
ROOT = RTL_TESTS.parent
BUILD_ROOT = RTL_TESTS / "_build"


def verilator_exe() -> str:
    """The verilator wrapper to use, or a test failure saying how to install it."""
    try:
        return simrun.verilator_exe()
    except SimError as e:
        pytest.fail(str(e), pytrace=False)


def require_simulator(sim: str) -> None:
    """Fail (never skip) when ``sim`` or what it needs is missing, saying how to install it."""
    try:
        simrun.require_simulator(sim)
    except SimError as e:
        pytest.fail(str(e), pytrace=False)


def _key(value: object) -> str:
    return re.sub(r"[^A-Za-z0-9_.+]+", ".", str(value)).strip(".")


def build_dir_for(block: str, parameters: Mapping[str, object], sim: str, tag: str = "") -> Path:
    """``rtl_tests/_build/<block>/<PARAMvalue-...>[-tag]-<sim>[-waves]``, e.g.
    ``_build/snn_fifo/DATA_WIDTH8-DEPTH2-icarus``: one directory per block, parameter set and
    simulator (and per waves on/off, which compile differently)."""
    name = "-".join(f"{_key(k)}{_key(v)}" for k, v in sorted(parameters.items())) or "default"
    if tag:
        name += f"-{_key(tag)}"
    name += f"-{sim}"
    if waves_enabled():
        name += "-waves"
    return BUILD_ROOT / block / name


def run_cocotb(
    toplevel: str,
    sources: Sequence[str | os.PathLike],
    test_module: str,
    parameters: Mapping[str, object],
    sim: str,
    build_dir: str | os.PathLike,
    extra_env: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> Path:
    """:func:`snngen.flows.simrun.run_cocotb`, failing the calling pytest test on any error."""
    __tracebackhide__ = True
    try:
        return simrun.run_cocotb(toplevel, sources, test_module, parameters, sim, build_dir,
                                 extra_env=extra_env, seed=seed)
    except SimError as e:
        pytest.fail(str(e), pytrace=False)
