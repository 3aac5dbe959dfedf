"""cocotb tests for snn_fifo, run inside the simulator by test_fifo.py (through runner.py).

One coroutine drives and checks every cycle against a cycle-accurate model of the contract in
the header of snngen/backends/verilog/rtl/snn_fifo.v: a deque of at most DEPTH words, with

    count == len(model),  m_valid == (len(model) > 0),  s_ready == (len(model) < DEPTH)
    (s_ready low in the first cycle after reset),  m_data == model[0] when m_valid.

On some cycles the inputs are first driven to other values mid-cycle and the outputs must not
move: m_valid/s_ready/count/m_data depend on registers only (valid never depends on ready).
The configuration comes from the SNN_FIFO_CONFIG environment variable (JSON).
"""

from __future__ import annotations

import collections
import json
import os
import random
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

PERIOD_NS = 10


class FifoBench:
    def __init__(self, dut, name: str) -> None:
        cfg = json.loads(os.environ["SNN_FIFO_CONFIG"])
        self.dut = dut
        self.depth: int = cfg["DEPTH"]
        self.width: int = cfg["DATA_WIDTH"]
        # self-test of the checks: corrupt the model's copy of one word; the test must fail
        self.inject_error: bool = cfg.get("inject_error", False)
        self.mask = (1 << self.width) - 1
        seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
        self.rng = random.Random(seed)
        dut._log.info("%s: DEPTH=%d DATA_WIDTH=%d, rng seed %d (from COCOTB_RANDOM_SEED=%d)",
                      name, self.depth, self.width, seed, cocotb.RANDOM_SEED)
        assert len(dut.s_data) == self.width and len(dut.m_data) == self.width
        assert len(dut.count) == (self.depth - 1).bit_length() + 1  # $clog2(DEPTH) + 1
        self.model: collections.deque[int] = collections.deque()
        self.sent: list[int] = []  # accepted on s, in order
        self.received: list[int] = []  # taken from m, in order
        self.after_reset = False
        self.stats = collections.Counter()

    async def start(self) -> None:
        Clock(self.dut.clk, PERIOD_NS, unit="ns").start()
        await self.reset()

    async def reset(self, cycles: int = 2) -> None:
        """Hold rst for ``cycles`` edges with random inputs (called right after an edge, or
        at time 0); the FIFO must be empty after, and must refuse a word in the first cycle
        after rst falls."""
        dut = self.dut
        for i in range(cycles):
            dut.rst.value = 1
            dut.s_valid.value = self.rng.randrange(2)
            dut.s_data.value = self.rng.getrandbits(self.width)
            dut.m_ready.value = self.rng.randrange(2)
            await ReadOnly()
            if i > 0:  # after the first edge with rst high
                assert self.outputs()[:3] == ("0", "0", 0), f"in reset: {self.outputs()}"
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        self.model.clear()
        self.after_reset = True
        pushed, _ = await self.step(1, self.rng.getrandbits(self.width), self.rng.randrange(2))
        assert not pushed

    def outputs(self) -> tuple[str, str, int | str, str]:
        d = self.dut
        count = d.count.value
        return (str(d.s_ready.value), str(d.m_valid.value),
                count.to_unsigned() if count.is_resolvable else str(count), str(d.m_data.value))

    async def step(self, s_valid: int, s_data: int, m_ready: int,
                   probe: bool = False) -> tuple[bool, bool]:
        """Drive one cycle (called right after a rising edge), check the outputs against the
        model, apply the transfers, wait for the next edge. Returns (pushed, popped)."""
        dut = self.dut
        if probe:
            # other input values first: registered outputs must not react to them
            dut.s_valid.value = 1 - s_valid
            dut.s_data.value = ~s_data & self.mask
            dut.m_ready.value = 1 - m_ready
            await Timer(1, "ns")
            before = self.outputs()
        dut.s_valid.value = s_valid
        dut.s_data.value = s_data
        dut.m_ready.value = m_ready
        await ReadOnly()
        out = self.outputs()
        if probe:
            assert before == out, f"outputs follow the inputs combinationally: {before} -> {out}"
            self.stats["probes"] += 1
        s_ready, m_valid, count, m_data = out
        n = len(self.model)
        ctx = f"cycle {self.stats['cycles']}: model holds {n}, outputs {out}"
        assert count == n, f"count: {ctx}"
        assert m_valid == ("1" if n > 0 else "0"), f"m_valid: {ctx}"
        expect_ready = "0" if self.after_reset else ("1" if n < self.depth else "0")
        assert s_ready == expect_ready, f"s_ready (expected {expect_ready}): {ctx}"
        if n:
            assert int(m_data, 2) == self.model[0], f"m_data (expected {self.model[0]}): {ctx}"
        self.after_reset = False
        pushed = bool(s_valid) and s_ready == "1"
        popped = m_valid == "1" and bool(m_ready)
        if popped:
            self.received.append(self.model.popleft())
        if pushed:
            self.sent.append(s_data)
            stored = s_data
            if self.inject_error and len(self.sent) == 5:
                stored ^= 1
            self.model.append(stored)
        self.stats["cycles"] += 1
        self.stats["full"] += n == self.depth
        self.stats["empty"] += n == 0
        self.stats["full_and_popped"] += n == self.depth and popped
        self.stats["empty_and_pushed"] += n == 0 and pushed
        self.stats["push_and_pop"] += pushed and popped
        await RisingEdge(dut.clk)
        return pushed, popped

    async def drain(self) -> None:
        for _ in range(self.depth + 4):
            if not self.model:
                break
            await self.step(0, self.rng.getrandbits(self.width), 1)
        await self.step(0, 0, 1)  # checks count == 0 and m_valid == 0
        assert not self.model

    def check_order(self) -> None:
        assert self.received == self.sent, (
            f"output sequence differs from input sequence ({len(self.received)} vs "
            f"{len(self.sent)} words)")


async def random_traffic(bench: FifoBench, cycles: int, p_in: float, p_out: float) -> None:
    """Random gaps on s (a word stays offered until taken) and random backpressure on m."""
    pending: int | None = None
    for _ in range(cycles):
        if pending is None and bench.rng.random() < p_in:
            pending = bench.rng.getrandbits(bench.width)
        data = pending if pending is not None else bench.rng.getrandbits(bench.width)
        pushed, _ = await bench.step(int(pending is not None), data,
                                     int(bench.rng.random() < p_out),
                                     probe=bench.rng.random() < 0.2)
        if pushed:
            pending = None


@cocotb.test()
async def test_random_traffic(dut) -> None:
    """Phases of different input/output rates: fills, drains, balanced, saturated, random."""
    bench = FifoBench(dut, "test_random_traffic")
    await bench.start()
    cycles = max(150, 12 * bench.depth)
    phases = [(0.9, 0.25), (0.25, 0.9), (0.5, 0.5), (1.0, 1.0), (0.95, 0.6), (0.6, 0.95)]
    phases += [(bench.rng.random(), bench.rng.random()) for _ in range(4)]
    for p_in, p_out in phases:
        await random_traffic(bench, cycles, p_in, p_out)
    await bench.drain()
    bench.check_order()
    s = bench.stats
    dut._log.info("%d words through in %d cycles; %s", len(bench.sent), s["cycles"], dict(s))
    # the stimulus must have reached the corner cases it is meant to check
    for key in ("full", "empty", "full_and_popped", "empty_and_pushed", "push_and_pop", "probes"):
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"


@cocotb.test()
async def test_throughput(dut) -> None:
    """One word in and one out per cycle: from empty (latency one cycle, count stays <= 1)
    and from full (the first cycle only pops, then one in and one out every cycle)."""
    bench = FifoBench(dut, "test_throughput")
    await bench.start()
    rng, width = bench.rng, bench.width
    # from empty, producer and consumer always active
    pushed, popped = await bench.step(1, rng.getrandbits(width), 1)
    assert pushed and not popped  # empty: nothing to pop yet
    for i in range(4 * bench.depth + 20):
        pushed, popped = await bench.step(1, rng.getrandbits(width), 1, probe=i % 3 == 0)
        assert pushed and popped, f"cycle {i} of a saturated stream: {pushed=} {popped=}"
        assert len(bench.model) == 1  # a word waits exactly one cycle
    await bench.drain()
    # fill: exactly DEPTH words are accepted, then s_ready stays low
    n = 0
    for _ in range(bench.depth + 3):
        pushed, popped = await bench.step(1, rng.getrandbits(width), 0)
        n += pushed
        assert not popped
    assert n == bench.depth and len(bench.model) == bench.depth
    # full, both sides active: the first cycle pops only (s_ready is registered)
    pushed, popped = await bench.step(1, rng.getrandbits(width), 1)
    assert popped and not pushed
    for i in range(4 * bench.depth + 20):
        pushed, popped = await bench.step(1, rng.getrandbits(width), 1, probe=i % 3 == 1)
        assert pushed and popped, f"cycle {i} after full: {pushed=} {popped=}"
        assert len(bench.model) == bench.depth - 1
    await bench.drain()
    bench.check_order()


@cocotb.test()
async def test_reset_mid_stream(dut) -> None:
    """A reset while words are stored empties the FIFO; only words sent after it come out."""
    bench = FifoBench(dut, "test_reset_mid_stream")
    await bench.start()
    for _ in range(3):
        await random_traffic(bench, 4 * bench.depth, 0.9, 0.3)
        # random traffic can leave a shallow FIFO empty: top it up (consumer stalled) so that
        # the reset always finds stored words to discard
        while not bench.model:
            await bench.step(1, bench.rng.getrandbits(bench.width), 0)
        assert bench.model, "the FIFO should hold words before the reset"
        before = len(bench.sent) - len(bench.model)  # words already delivered
        del bench.sent[before:]  # the stored words are lost by the reset
        await bench.reset(cycles=bench.rng.randint(1, 3))
    await random_traffic(bench, 6 * bench.depth, 0.6, 0.6)
    await bench.drain()
    bench.check_order()
