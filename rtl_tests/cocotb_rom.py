"""cocotb test for snn_rom, run inside the simulator by test_rom.py (through runner.py), on the
hand-written Verilog (reading the .mem file) and on the Amaranth Rom (built from its words).

Reads every address once per pass, in random order (small ROMs get several passes), with
random cycles of en low in between (a random address is driven then, and data must hold).
Checks the one-cycle read latency, that data is registered (it does not follow addr/en
within a cycle), and finally that the words read equal the values test_rom.py wrote with
write_mem (``==`` on Python ints, signed or unsigned as configured). The configuration
comes from SNN_ROM_CONFIG (JSON); the rng seed is cocotb.RANDOM_SEED mixed with the test's
name (the runner reports the SNN_SEED to rerun with; test_rom.py made the contents from it).
"""

from __future__ import annotations

import json
import os
import random
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer
from cocotb.types import Logic, LogicArray

PERIOD_NS = 10


@cocotb.test()
async def test_read_every_address_random_order(dut) -> None:
    cfg = json.loads(os.environ["SNN_ROM_CONFIG"])
    depth, width, addr_width = cfg["DEPTH"], cfg["DATA_WIDTH"], cfg["ADDR_WIDTH"]
    signed: bool = cfg["signed"]
    with open(cfg["expected_file"]) as f:
        expected: list[int] = json.load(f)
    assert len(expected) == depth
    assert len(dut.data) == width and len(dut.addr) == addr_width
    name = "test_read_every_address_random_order"
    seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
    rng = random.Random(seed)
    dut._log.info("DEPTH=%d DATA_WIDTH=%d ADDR_WIDTH=%d signed=%s, rng seed %d (from "
                  "COCOTB_RANDOM_SEED=%d)", depth, width, addr_width, signed, seed,
                  cocotb.RANDOM_SEED)

    def data() -> int:
        v = dut.data.value
        if isinstance(v, Logic):  # a 1-bit port (some simulators) reads as one Logic
            v = LogicArray([v])
        return v.to_signed() if signed else v.to_unsigned()

    # every address once per pass, in random order; small ROMs get several passes so the
    # random gaps and probes happen often enough
    passes = -(-64 // depth)
    order: list[int] = []
    for _ in range(passes):
        order += rng.sample(range(depth), depth)
    got: list[int | None] = [None] * len(order)
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.en.value = 0
    dut.addr.value = 0
    await RisingEdge(dut.clk)

    last: int | None = None  # index in order of the read at the previous edge, else None
    held: int | None = None  # what data must show while en is low
    i = holds = probes = 0
    while i < len(order) or last is not None:
        en = i < len(order) and rng.random() < 0.7
        addr = order[i] if en else rng.getrandbits(addr_width)
        if rng.random() < 0.2:
            # other inputs first: the registered output must not react within the cycle
            dut.en.value = rng.randrange(2)
            dut.addr.value = rng.getrandbits(addr_width)
            await Timer(1, "ns")
            before = str(dut.data.value)
            probes += 1
        else:
            before = None
        dut.en.value = int(en)
        dut.addr.value = addr
        await ReadOnly()
        if before is not None:
            assert str(dut.data.value) == before, "data follows addr/en within the cycle"
        if last is not None:
            got[last] = held = data()  # one cycle after the edge that read order[last]
        elif held is not None:
            assert data() == held, f"data changed with en low: {data()} != {held}"
            holds += 1
        await RisingEdge(dut.clk)
        last = i if en else None
        i += en
    dut._log.info("%d reads in %d passes, %d hold checks, %d probes",
                  len(order), passes, holds, probes)
    for p in range(passes):
        by_addr = [None] * depth
        for k in range(p * depth, (p + 1) * depth):
            by_addr[order[k]] = got[k]
        assert by_addr == expected, f"pass {p}: words read differ from the .mem contents"
    assert holds > 0 and probes > 0, "the stimulus missed the hold or the probe check"
