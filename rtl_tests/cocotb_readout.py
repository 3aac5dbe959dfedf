"""cocotb tests for snn_readout, run inside the simulator by test_readout.py (through runner.py),
on the hand-written Verilog and on the Amaranth twin.

Cycle by cycle, per round: a clear (sometimes with an event in the same cycle, which the clear
must win), random output events (the counts, with forced ties at the top; EOT events in between,
which count nothing; gaps), then start; the bench plays the IF array's debug port (the membrane
of the neuron read at an edge is on dbg_rd_data after that edge; garbage in every other cycle)
with random membranes (with forced ties, sometimes only the extreme values). The class must
equal ``snngen.golden.model.readout`` (semantics.md §5: most spikes, then the larger membrane,
then the lowest index; or by membrane, then the lowest index), every count the events sent
(``==``). Exact cycles: idle (busy, m_valid, dbg_rd_en low) from the clear up to the start
cycle, dbg_rd_en with index i in the cycle before edge e + 1 + i, m_valid rising right after
edge e + F + 2 (e: the edge that took start), busy from e + 1 up to and including the transfer
cycle, m_valid/m_class/m_counts held through random m_ready stalls. start and clear
while busy are ignored; a new round may start in the cycle right after the transfer. On some
cycles the inputs are first driven to other values mid-cycle and the outputs must not move (no
combinational path). Plus hand-picked tie cases (``ties`` in the configuration) and reset (in
the scan and while holding the result: idle at once, the counts kept; a clear in a reset cycle
still clears).

The configuration comes from SNN_READOUT_CONFIG (JSON); the rng seed is cocotb.RANDOM_SEED mixed
with the test's name (the runner reports the SNN_SEED to rerun with).
"""

from __future__ import annotations

import collections
import json
import os
import random
import zlib

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer
from cocotb.types import Logic

from snngen.golden.model import readout

PERIOD_NS = 10


def _value(signal) -> int | str:
    """The signal's value as an int, or its text (e.g. ``x``) when it has no value."""
    v = signal.value
    if not v.is_resolvable:
        return str(v)
    return int(v) if isinstance(v, Logic) else v.to_unsigned()


class ReadoutBench:
    """One cycle at a time (each step called right after a rising edge): drive the inputs,
    sample the outputs in ReadOnly, wait for the edge; plays the IF array's debug port."""

    def __init__(self, dut, name: str) -> None:
        cfg = json.loads(os.environ["SNN_READOUT_CONFIG"])
        self.cfg = cfg
        self.dut = dut
        self.f, self.cw, self.vw = cfg["F"], cfg["CNT_WIDTH"], cfg["V_WIDTH"]
        self.by_count = bool(cfg["BY_COUNT"])
        self.lo, self.hi = -(1 << (self.vw - 1)), (1 << (self.vw - 1)) - 1
        seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
        self.rng = random.Random(seed)
        dut._log.info("%s: %s, rng seed %d (from COCOTB_RANDOM_SEED=%d)",
                      name, cfg, seed, cocotb.RANDOM_SEED)
        assert len(dut.m_counts) == self.f * self.cw and len(dut.dbg_rd_data) == self.vw
        assert len(dut.ev_index) == cfg["INDEX_WIDTH"]
        assert len(dut.m_class) == cfg["CLASS_WIDTH"]
        self.v_mem = [0] * self.f
        self.pending: int | None = None  # neuron read at the last edge
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()

    def msg(self, text: str) -> str:
        return f"cycle {self.cycle}: {text}"

    async def start(self) -> None:
        Clock(self.dut.clk, PERIOD_NS, unit="ns").start()
        await self.reset(2)

    def outputs(self) -> dict:
        d = self.dut
        raw = d.m_counts.value
        if raw.is_resolvable:
            mask = (1 << self.cw) - 1
            counts = [(raw.to_unsigned() >> (i * self.cw)) & mask for i in range(self.f)]
        else:
            counts = str(raw)
        return {"dbg_rd_en": _value(d.dbg_rd_en), "dbg_rd_index": _value(d.dbg_rd_index),
                "m_valid": _value(d.m_valid), "class": _value(d.m_class), "counts": counts,
                "busy": _value(d.busy)}

    def _drive(self, clear: int, ev: tuple[int, int] | None, start: int, m_ready: int) -> None:
        d = self.dut
        d.clear.value = clear
        d.ev_valid.value = int(ev is not None)
        index, eot = ev if ev is not None else (self.rng.randrange(self.f), 0)
        d.ev_index.value = index
        d.ev_eot.value = eot
        d.start.value = start
        d.m_ready.value = m_ready

    async def step(self, clear: int = 0, ev: tuple[int, int] | None = None, start: int = 0,
                   m_ready: int = 0) -> dict:
        """One cycle; returns the outputs in that cycle (before its edge)."""
        d, r = self.dut, self.rng
        # the debug port: the membrane read at the last edge, else garbage
        v = self.v_mem[self.pending] if self.pending is not None else r.randint(self.lo, self.hi)
        d.dbg_rd_data.value = v & ((1 << self.vw) - 1)
        before = None
        if r.random() < 0.2:
            # other inputs first: the outputs depend on registers only
            self._drive(r.randrange(2), (r.randrange(self.f), r.randrange(2))
                        if r.random() < 0.5 else None, r.randrange(2), r.randrange(2))
            await Timer(1, "ns")
            before = self.outputs()
        self._drive(clear, ev, start, m_ready)
        await ReadOnly()
        out = self.outputs()
        if before is not None:
            assert out == before, self.msg(f"outputs moved with the inputs: {before} -> {out}")
            self.stats["probes"] += 1
        # a read issued in a reset cycle is never compared (the reset clears the scan), and
        # before the first reset the registers hold anything (Verilator randomises them)
        if out["dbg_rd_en"] == 1 and str(d.rst.value) != "1":
            index = out["dbg_rd_index"]
            assert isinstance(index, int) and index < self.f, self.msg(f"reads neuron {index}")
            self.pending = index
        else:
            self.pending = None
        self.cycle += 1
        await RisingEdge(d.clk)
        return out

    async def reset(self, cycles: int = 1) -> None:
        self.dut.rst.value = 1
        for _ in range(cycles):
            await self.step()
        self.dut.rst.value = 0

    def make_round(self, winner: int | None = None) -> tuple[list[int], list[int]]:
        """Counts (with ties at the top in most rounds) and membranes (with ties in half); with
        ``winner``, that neuron has the most spikes and the largest membrane."""
        rng, f = self.rng, self.f
        t = rng.randint(1, (1 << self.cw) - 1)
        counts = [rng.randint(0, t) for _ in range(f)]
        n = self.stats["rounds"]
        if rng.random() < 0.7 or n % 4 == 0:
            top = max(counts)
            for i in rng.sample(range(f), rng.randint(2, min(f, 4))):
                counts[i] = top
            self.stats["count_ties"] += 1
        v = [rng.randint(self.lo, self.hi) for _ in range(f)]
        if rng.random() < 0.5 or n % 4 == 0:
            same = rng.choice(v)
            for i in range(f):
                if rng.random() < 0.5:
                    v[i] = same
            self.stats["v_ties"] += 1
        if rng.random() < 0.15:
            v = [self.lo if rng.random() < 0.5 else self.hi for _ in range(f)]  # the extremes
        if winner is not None:
            top = (1 << self.cw) - 1
            counts = [min(c, top - 1) for c in counts]
            v = [min(x, self.hi - 1) for x in v]
            counts[winner], v[winner] = top, self.hi
        return counts, v

    def golden(self, counts: list[int], v: list[int]) -> int:
        return int(readout(np.array([counts]), np.array([v]),
                           "count" if self.by_count else "membrane")[0])

    async def idle_step(self, **drive) -> dict:
        """A cycle of a round before its start: the readout is idle (no scan, no result)."""
        out = await self.step(**drive)
        assert (out["busy"], out["m_valid"], out["dbg_rd_en"]) == (0, 0, 0), self.msg(
            f"not idle before the start: {out}")
        return out

    async def round(self, p_ready: float, winner: int | None = None,
                    fixed: tuple[list[int], list[int]] | None = None) -> int:
        """clear, events, start, the scan, the result; starts and ends idle. ``fixed``: these
        counts and membranes instead of random ones. Returns the class."""
        rng, f = self.rng, self.f
        counts, v = fixed if fixed is not None else self.make_round(winner)
        # the clear, sometimes with an event in the same cycle (the clear wins)
        ev = (rng.randrange(f), 0) if rng.random() < 0.3 else None
        await self.idle_step(clear=1, ev=ev)
        assert (await self.idle_step())["counts"] == [0] * f, self.msg("counts not cleared")
        events = [(i, 0) for i in range(f) for _ in range(counts[i])]
        rng.shuffle(events)
        for e in events:
            await self.idle_step(ev=e)
            if rng.random() < 0.2:
                await self.idle_step(ev=(rng.randrange(f), 1))  # an EOT counts nothing
                self.stats["eots"] += 1
            if rng.random() < 0.1:
                await self.idle_step()  # a gap
        await self.idle_step(ev=(rng.randrange(f), 1))  # the timestep's EOT
        self.stats["eots"] += 1
        out = await self.idle_step()
        assert out["counts"] == counts, self.msg(f"counts {out['counts']}, sent {counts}")
        self.v_mem = v
        want = self.golden(counts, v)
        # start at edge e (the edge ending this cycle)
        await self.idle_step(start=1)
        # edges e + 1 .. e + F + 2: the reads, then the last capture and compare; start/clear
        # ignored
        for k in range(1, f + 3):
            junk = rng.random() < 0.3
            out = await self.step(start=int(junk), clear=int(rng.random() < 0.3),
                                  m_ready=rng.randrange(2))
            self.stats["junk_start"] += junk
            assert out["busy"] == 1, self.msg(f"busy low {k} cycles after start")
            assert out["m_valid"] == 0, self.msg(f"m_valid {k} cycles after start, F={f}")
            reading = int(k <= f)
            assert out["dbg_rd_en"] == reading, self.msg(
                f"dbg_rd_en {out['dbg_rd_en']} in cycle {k} after start")
            if reading:
                assert out["dbg_rd_index"] == k - 1, self.msg(
                    f"dbg_rd_index {out['dbg_rd_index']}, expected {k - 1}")
        # m_valid right after edge e + F + 2, held until the transfer
        stalls = 0
        while True:
            ready = int(rng.random() < p_ready)
            out = await self.step(m_ready=ready, start=int(rng.random() < 0.3),
                                  clear=int(rng.random() < 0.3))
            assert out["m_valid"] == 1 and out["busy"] == 1 and out["dbg_rd_en"] == 0, (
                self.msg(f"m_valid/busy not held until the transfer: {out}"))
            assert out["class"] == want, self.msg(
                f"class {out['class']}, golden {want} (counts {counts}, membranes {v})")
            assert out["counts"] == counts, self.msg(f"counts {out['counts']}, sent {counts}")
            if ready:
                break
            stalls += 1
        self.stats["stalls"] += stalls
        self.stats["rounds"] += 1
        self.stats["class_" + ("0" if want == 0 else "other")] += 1
        return want


@cocotb.test()
async def test_rounds(dut) -> None:
    """Random rounds back to back, under random m_ready stalls; in round 1 a random neuron
    other than 0 wins, in round 2 the last one."""
    b = ReadoutBench(dut, "test_rounds")
    await b.start()
    for r in range(b.cfg["rounds"]):
        winner = {1: b.rng.randrange(1, b.f), 2: b.f - 1}.get(r)
        await b.round(p_ready=[1.0, 0.5, 0.2][r % 3], winner=winner)
        if b.rng.random() < 0.5:
            out = await b.step()  # idle right after the transfer
            assert out["busy"] == 0 and out["m_valid"] == 0, b.msg("busy after the transfer")
    s = b.stats
    dut._log.info("%d rounds in %d cycles; %s", s["rounds"], b.cycle, dict(s))
    # the stimulus must have reached the cases it is meant to check
    for key in ("stalls", "count_ties", "v_ties", "eots", "junk_start", "probes",
                "class_other"):
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"


@cocotb.test()
async def test_tie_rules(dut) -> None:
    """Hand-picked ties (semantics.md §5, ``ties``: counts, membranes, class) through whole
    rounds; each class is also the golden model's. The cases name 4 neurons; the others get
    no spike and the lowest membrane, so they never beat any of them."""
    b = ReadoutBench(dut, "test_tie_rules")
    await b.start()
    for counts, v, want in b.cfg.get("ties", []):
        pad = b.f - len(counts)
        counts, v = counts + [0] * pad, v + [b.lo] * pad
        assert b.golden(counts, v) == want, f"golden model: {counts} {v} -> not {want}"
        got = await b.round(p_ready=1.0, fixed=(counts, v))
        assert got == want
        b.stats["ties"] += 1
    assert b.stats["ties"] == len(b.cfg.get("ties", []))


@cocotb.test()
async def test_reset(dut) -> None:
    """Reset in the scan and while holding the result: idle at once (busy, m_valid, dbg_rd_en
    low); the counts are kept (only a clear clears them); a clear in a reset cycle still
    clears; then a whole round works again."""
    b = ReadoutBench(dut, "test_reset")
    await b.start()
    await b.round(p_ready=0.5)
    for cycles_in in (2, b.f + 4):  # in the scan (F + 2 cycles), after m_valid rose
        counts = (await b.step())["counts"]
        await b.step(start=1)
        for _ in range(cycles_in):
            out = await b.step()
        assert out["busy"] == 1 and out["m_valid"] == int(cycles_in > b.f + 2), b.msg(
            f"{cycles_in} cycles after start: {out}")
        await b.reset(1)
        out = await b.step()
        assert out["busy"] == 0 and out["m_valid"] == 0 and out["dbg_rd_en"] == 0, b.msg(
            f"not idle after the reset: {out}")
        assert out["counts"] == counts, b.msg(f"reset touched the counts: {out['counts']}")
    dut.rst.value = 1
    await b.step(clear=1)
    dut.rst.value = 0
    assert (await b.step())["counts"] == [0] * b.f, b.msg("a clear in a reset cycle")
    await b.round(p_ready=0.3)  # everything works again
