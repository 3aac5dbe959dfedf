"""cocotb side of the in-simulator harness (``templates/snn_bench.v.j2``, run by
:mod:`snngen.flows.bench`): wait for the harness to finish and report its verdict.

Everything else (the clock, stimulus, stalls, capture) happens inside the simulation, so Python
costs a handful of triggers per run instead of several per clock edge.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge, Timer


@cocotb.test()
async def run_harness(dut) -> None:
    await Timer(1, unit="ns")  # past the harness's initial block
    if not int(dut.finished.value):
        await RisingEdge(dut.finished)
    assert not int(dut.failed.value), "the harness failed (see the simulator log above)"
