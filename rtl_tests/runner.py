"""Shared cocotb infrastructure for the RTL tests: build + run one block on one simulator,
from either backend.

The work is done by :mod:`snngen.flows.simrun` (also used by ``snngen verify``); this module adds
what only the tests need:

* one build directory per (block, parameter set, simulator) under ``rtl_tests/_build/``
  (``build_dir_for``), so pytest-xdist workers never share one and rebuilds are incremental;
* ``block_sources``: a block's sources for a backend: the hand-written ``rtl/<module>.v`` with
  its parameters, or its Amaranth twin converted to a Verilog module of the same name and ports,
  so one cocotb bench checks both implementations;
* a missing simulator, a failed build or a failed cocotb run fails the pytest test (never
  skips), with the cocotb messages, the log's tail and the seed to rerun with (``SNN_SEED``);
  ``WAVES=1`` records waves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
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
from snngen.resources import rtl_dir

BACKENDS = ("verilog", "amaranth")
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


def build_dir_for(block: str, parameters: Mapping[str, object], sim: str, tag: str = "",
                  backend: str = "verilog") -> Path:
    """``rtl_tests/_build/<block>/[amaranth-]<PARAMvalue-...>[-tag]-<sim>[-waves]``, e.g.
    ``_build/snn_fifo/DATA_WIDTH8-DEPTH2-icarus``: one directory per block, backend, parameter
    set and simulator (and per waves on/off, which compile differently)."""
    name = "-".join(f"{_key(k)}{_key(v)}" for k, v in sorted(parameters.items())) or "default"
    if backend != "verilog":
        name = f"{backend}-{name}"
    if tag:
        name += f"-{_key(tag)}"
    name += f"-{sim}"
    if waves_enabled():
        name += "-waves"
    return BUILD_ROOT / block / name


def block_sources(backend: str, module: str, parameters: Mapping[str, object],
                  component: Callable[[], object], build_dir: str | os.PathLike,
                  ) -> tuple[list[Path], dict[str, object], tuple[str, ...]]:
    """(sources, simulator parameters, Verilator waivers) of block ``module`` for ``backend``.

    ``verilog``: the hand-written ``rtl/<module>.v``, simulated with ``parameters``.
    ``amaranth``: ``component()`` (the Amaranth twin built with the same parameters) converted
    to a Verilog module named ``module`` with the hand-written module's ports, written to
    ``build_dir/<module>.v`` (rewritten only when its text changes, so Verilator rebuilds
    incrementally); no parameters (they are built in) and the Amaranth build's Verilator
    waivers. ``component`` is only called for ``amaranth``, so the Verilog runs never import
    Amaranth."""
    if backend == "verilog":
        return [rtl_dir() / f"{module}.v"], dict(parameters), ()
    if backend != "amaranth":
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    from snngen.backends.amaranth import to_verilog
    from snngen.backends.amaranth.build import VERILATOR_WAIVERS

    path = Path(build_dir) / f"{module}.v"
    text = to_verilog(component(), name=module)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [path], {}, VERILATOR_WAIVERS


def run_cocotb(*args, **kwargs) -> Path:
    """:func:`snngen.flows.simrun.run_cocotb` (the same arguments), failing the calling pytest
    test on any error."""
    __tracebackhide__ = True
    try:
        return simrun.run_cocotb(*args, **kwargs)
    except SimError as e:
        pytest.fail(str(e), pytrace=False)


def _literal(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v)


def lint_verilator(module: str, params: Mapping[str, object],
                   cwd: Path) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` of the hand-written ``module`` with ``params``."""
    exe = verilator_exe()
    cmd = [exe, "--lint-only", "-Wall", "--default-language", "1364-2005",
           "--top-module", module, *[f"-G{k}={_literal(v)}" for k, v in params.items()],
           "-y", str(rtl_dir()), str(rtl_dir() / f"{module}.v")]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def lint_iverilog(module: str, params: Mapping[str, object],
                  cwd: Path) -> subprocess.CompletedProcess:
    """``iverilog -g2005 -Wall`` elaboration of the hand-written ``module`` with ``params``."""
    require_simulator("icarus")
    cmd = ["iverilog", "-g2005", "-Wall", "-o", str(cwd / "lint.vvp"), "-s", module,
           *[f"-P{module}.{k}={_literal(v)}" for k, v in params.items()],
           "-y", str(rtl_dir()), str(rtl_dir() / f"{module}.v")]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": search_path()})


def check_bad_parameters(tool: str, module: str, params: Mapping[str, object], message: str,
                         cwd: Path) -> None:
    """Elaborating ``module`` with ``params`` in ``tool`` (verilator or iverilog) must fail
    naming the rule: the block's check instantiates a module called
    ``<module>_ERROR_<message>``."""
    r = (lint_verilator if tool == "verilator" else lint_iverilog)(module, params, cwd)
    assert r.returncode != 0, f"{module} {dict(params)} elaborated in {tool}"
    assert message in r.stdout + r.stderr, r.stdout + r.stderr


def run_block(module: str, sim: str, backend: str, parameters: Mapping[str, object],
              component: Callable[[], object], config: Mapping[str, object], *,
              sim_parameters: Mapping[str, object] | None = None, tag: str = "",
              seed: int | None = None) -> Path:
    """Run block ``module``'s one cocotb bench (``cocotb_<block>``, ``<block>`` = ``module``
    without ``snn_``) on ``sim`` against ``backend`` (see :func:`block_sources`;
    ``component`` builds the Amaranth twin). ``parameters`` name the build directory and go to
    the hand-written module (``sim_parameters`` instead, when they differ, e.g. with a
    ``.mem`` path); ``config`` goes to the bench as JSON in ``SNN_<BLOCK>_CONFIG``. Returns the
    build directory."""
    block = module.removeprefix("snn_")
    build_dir = build_dir_for(module, parameters, sim, tag, backend)
    sources, params, waivers = block_sources(
        backend, module, parameters if sim_parameters is None else sim_parameters, component,
        build_dir)
    run_cocotb(toplevel=module, sources=sources, test_module=f"cocotb_{block}",
               parameters=params, sim=sim, build_dir=build_dir,
               extra_env={f"SNN_{block.upper()}_CONFIG": json.dumps(dict(config))}, seed=seed,
               verilator_waivers=waivers)
    return build_dir
