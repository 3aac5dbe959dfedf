"""cocotb test for snn_readout, run inside the simulator by test_readout.py.

Per round: a clear, random output events (counts, with forced ties), then start; the bench
plays the IF array's debug port (data for the index read at an edge is on dbg_rd_data after
it) with random membranes (with forced ties). The class must equal
``snngen.golden.model.readout`` (ties: count, then membrane, then lowest index; or by membrane),
every count must equal the events sent, and m_valid must rise exactly F + 1 edges after the edge
that took start, and hold under random m_ready.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from snngen.golden.model import readout


@cocotb.test()
async def rounds(dut) -> None:
    cfg = json.loads(os.environ["SNN_READOUT_CONFIG"])
    f, cw, vw, by_count = cfg["F"], cfg["CNT_WIDTH"], cfg["V_WIDTH"], cfg["BY_COUNT"]
    rng = random.Random(cocotb.RANDOM_SEED)
    for name in ("clear", "ev_valid", "ev_index", "ev_eot", "start", "dbg_rd_data", "m_ready"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await Timer(1, unit="ns")
    Clock(dut.clk, 10, unit="ns").start()
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    v_mem = [0] * f
    pending = None  # index read at the last edge

    async def cycle(**drive) -> None:
        nonlocal pending
        await RisingEdge(dut.clk)
        if pending is not None:
            dut.dbg_rd_data.value = v_mem[pending] & ((1 << vw) - 1)
        for k, v in drive.items():
            getattr(dut, k).value = v
        await ReadOnly()
        pending = int(dut.dbg_rd_index.value) if int(dut.dbg_rd_en.value) else None

    for rnd in range(cfg["rounds"]):
        await cycle(clear=1)
        await cycle(clear=0)
        t = rng.randint(1, (1 << cw) - 1)
        counts = [rng.randint(0, t) for _ in range(f)]
        if rng.random() < 0.7:  # ties in count at the top
            top = max(counts)
            for i in rng.sample(range(f), rng.randint(2, min(f, 4))):
                counts[i] = top
        lo, hi = -(1 << (vw - 1)), (1 << (vw - 1)) - 1
        v_mem = [rng.randint(lo, hi) for _ in range(f)]
        if rng.random() < 0.5:  # ties in membrane too
            same = rng.choice(v_mem)
            for i in range(f):
                if rng.random() < 0.5:
                    v_mem[i] = same
        events = [i for i in range(f) for _ in range(counts[i])]
        rng.shuffle(events)
        for i in events:
            await cycle(ev_valid=1, ev_index=i, ev_eot=0)
            if rng.random() < 0.2:
                await cycle(ev_valid=1, ev_index=rng.randrange(f), ev_eot=1)  # EOTs count 0
        await cycle(ev_valid=0)
        await cycle(start=1)
        await cycle(start=0)  # returns after edge e, the edge that took start
        start_edge = edges = 0
        while not int(dut.m_valid.value):
            await cycle()
            edges += 1
            assert edges < f + 20, "no result"
        assert edges - start_edge == f + 1, f"m_valid after {edges} edges, contract F + 1 = {f + 1}"
        while True:
            ready = int(rng.random() < 0.5)
            await cycle(m_ready=ready)
            assert int(dut.m_valid.value)
            got_class = int(dut.m_class.value)
            raw = int(dut.m_counts.value)
            got_counts = [(raw >> (i * cw)) & ((1 << cw) - 1) for i in range(f)]
            if ready:
                break
        await cycle(m_ready=0)
        assert not int(dut.m_valid.value), "m_valid held after the transfer"
        want = int(readout(np.array([counts]), np.array([v_mem]),
                           "count" if by_count else "membrane")[0])
        assert got_counts == counts, f"round {rnd}: counts {got_counts}, sent {counts}"
        assert got_class == want, (f"round {rnd}: class {got_class}, golden {want} "
                                   f"(counts {counts}, membranes {v_mem})")
