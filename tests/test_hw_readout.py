"""snngen.backends.amaranth.readout.Readout (the Amaranth twin of
snngen/backends/verilog/rtl/snn_readout.v) in amaranth.sim.

The bench of rtl_tests/cocotb_readout.py, cycle by cycle. Per round: a clear (sometimes with an
event in the same cycle, which the clear must win), random output events (the counts, with
forced ties at the top; EOT events in between, which count nothing), then start; the bench
plays the IF array's debug port (the membrane of the neuron read at an edge is on dbg_rd_data
after that edge; garbage in every other cycle) with random membranes (with forced ties). The
class must equal ``snngen.golden.model.readout`` (semantics.md §5: most spikes, then the larger
membrane, then the lowest index; or by membrane, then the lowest index), every count the events
sent (``==``). Exact cycles: dbg_rd_en with index i in the cycle before edge e + 1 + i, m.valid
rising right after edge e + F + 1 (e: the edge that took start), busy from e + 1 up to and
including the transfer cycle, m.valid/m.payload held through random m.ready stalls. start and
clear while busy are ignored; a new round may start in the cycle right after the transfer.
On some cycles the inputs are first set to other values and the outputs must not move (no
combinational path). Plus reset (idle at once, counts kept), the parameter checks with the
Verilog's rule words, the port list, Verilator lint of the Verilog, and a formal proof (Yosys
equiv_induct) that the converted module and snngen/backends/verilog/rtl/snn_readout.v are equivalent
cycle for cycle (every register and output).

Seeded from SNN_SEED (else a fresh seed), mixed with the configuration's name; the seed is in
every assertion message.
"""

from __future__ import annotations

import collections
import random
import re
import zlib

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint, run_sim, sim_top

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.readout import Readout
from snngen.flows import simrun
from snngen.golden.model import readout

# F 2/3/5/7/10 (powers of two and not), by count and by membrane, 1-bit counts, 2-bit
# membranes, index and class ports wider and narrower than needed
CONFIGS: dict[str, dict] = {
    "F10-C4-V8-count": dict(f=10, cnt_width=4, v_width=8, by_count=1),
    "F2-C1-V2-count": dict(f=2, cnt_width=1, v_width=2, by_count=1),
    "F3-C3-V6-membrane": dict(f=3, cnt_width=3, v_width=6, by_count=0),
    "F5-C2-V12-wide-class": dict(f=5, cnt_width=2, v_width=12, index_width=6, class_width=8,
                                 by_count=1),
    "F7-C3-V16-narrow-class": dict(f=7, cnt_width=3, v_width=16, index_width=5, class_width=3,
                                   by_count=0),
    "F4-C5-V3-count": dict(f=4, cnt_width=5, v_width=3, by_count=1),
}
READOUT_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                   "CASEINCOMPLETE")
assert set(READOUT_WAIVERS) <= set(LINT_REASONS)


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


class ReadoutBench:
    """One cycle at a time: drive the inputs, sample the outputs, tick; plays the IF array's
    debug port."""

    def __init__(self, ctx, dut: Readout, cd, seed: int) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x5EED)
        self.f, self.cw, self.vw = dut.f, dut.cnt_width, dut.v_width
        self.v_mem = [0] * self.f
        self.pending: int | None = None  # neuron read at the last edge
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()

    def msg(self, text: str) -> str:
        return f"seed {self.seed} (SNN_SEED), cycle {self.cycle}: {text}"

    def outputs(self) -> dict:
        ctx, d = self.ctx, self.dut
        return {"dbg_rd_en": ctx.get(d.dbg_rd_en), "dbg_rd_index": ctx.get(d.dbg_rd_index),
                "m_valid": ctx.get(d.m.valid), "class": ctx.get(d.m.payload["class"]),
                "counts": [ctx.get(d.m.payload.counts[i]) for i in range(self.f)],
                "busy": ctx.get(d.busy), "ev_ready": ctx.get(d.ev.ready)}

    def _drive(self, clear, ev, start, m_ready) -> None:
        ctx, d = self.ctx, self.dut
        ctx.set(d.clear, clear)
        ctx.set(d.ev.valid, ev is not None)
        index, eot = ev if ev is not None else (self.rng.randrange(self.f), 0)
        ctx.set(d.ev.payload.index, index)
        ctx.set(d.ev.payload.eot, eot)
        ctx.set(d.start, start)
        ctx.set(d.m.ready, m_ready)

    async def step(self, clear: int = 0, ev: tuple[int, int] | None = None, start: int = 0,
                   m_ready: int = 0) -> dict:
        """One cycle; returns the outputs in that cycle (before its edge)."""
        ctx, d = self.ctx, self.dut
        # the debug port: the membrane read at the last edge, else garbage
        if self.pending is not None:
            ctx.set(d.dbg_rd_data, self.v_mem[self.pending])
        else:
            ctx.set(d.dbg_rd_data, self.rng.randint(-(1 << (self.vw - 1)),
                                                    (1 << (self.vw - 1)) - 1))
        before = None
        if self.rng.random() < 0.2:
            # other inputs first: the outputs depend on registers only
            r = self.rng
            self._drive(r.randrange(2), (r.randrange(self.f), r.randrange(2))
                        if r.random() < 0.5 else None, r.randrange(2), r.randrange(2))
            before = self.outputs()
        self._drive(clear, ev, start, m_ready)
        out = self.outputs()
        if before is not None:
            assert out == before, self.msg(f"outputs moved with the inputs: {before} -> {out}")
            self.stats["probes"] += 1
        assert out["ev_ready"] == 1, self.msg("ev.ready low")
        self.pending = out["dbg_rd_index"] if out["dbg_rd_en"] else None
        self.cycle += 1
        await ctx.tick()
        return out

    async def reset(self, cycles: int = 1) -> None:
        ctx = self.ctx
        ctx.set(self.cd.rst, 1)
        for _ in range(cycles):
            await self.step()
        ctx.set(self.cd.rst, 0)

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
        lo, hi = -(1 << (self.vw - 1)), (1 << (self.vw - 1)) - 1
        v = [rng.randint(lo, hi) for _ in range(f)]
        if rng.random() < 0.5 or n % 4 == 0:
            same = rng.choice(v)
            for i in range(f):
                if rng.random() < 0.5:
                    v[i] = same
            self.stats["v_ties"] += 1
        if rng.random() < 0.15:
            v = [lo if rng.random() < 0.5 else hi for _ in range(f)]  # the extremes
        if winner is not None:
            top = (1 << self.cw) - 1
            counts = [min(c, top - 1) for c in counts]
            v = [min(x, hi - 1) for x in v]
            counts[winner], v[winner] = top, hi
        return counts, v

    async def round(self, p_ready: float, winner: int | None = None) -> None:
        """clear, events, start, the scan, the result; starts and ends idle."""
        rng, f = self.rng, self.f
        counts, v = self.make_round(winner) if winner is not None else self.make_round()
        # the clear, sometimes with an event in the same cycle (the clear wins)
        ev = (rng.randrange(f), 0) if rng.random() < 0.3 else None
        out = await self.step(clear=1, ev=ev)
        assert not out["busy"], self.msg("busy before the round")
        assert [0] * f == (await self.step())["counts"], self.msg("counts not cleared")
        events = [(i, 0) for i in range(f) for _ in range(counts[i])]
        rng.shuffle(events)
        for e in events:
            await self.step(ev=e)
            if rng.random() < 0.2:
                await self.step(ev=(rng.randrange(f), 1))  # an EOT counts nothing
                self.stats["eots"] += 1
            if rng.random() < 0.1:
                await self.step()  # a gap
        await self.step(ev=(rng.randrange(f), 1))  # the timestep's EOT
        self.stats["eots"] += 1
        out = await self.step()
        assert out["counts"] == counts, self.msg(f"counts {out['counts']}, sent {counts}")
        self.v_mem = v
        want = int(readout(np.array([counts]), np.array([v]),
                           "count" if self.dut.by_count else "membrane")[0])
        # start at edge e (the edge ending this cycle)
        out = await self.step(start=1)
        assert not out["busy"] and not out["m_valid"], self.msg("not idle at start")
        # edges e + 1 .. e + F + 1: the reads, then the last compare; start/clear ignored
        for k in range(1, f + 2):
            junk = rng.random() < 0.3
            out = await self.step(start=int(junk), clear=int(rng.random() < 0.3),
                                  m_ready=rng.randrange(2))
            self.stats["junk_start"] += junk
            assert out["busy"], self.msg(f"busy low {k} cycles after start")
            assert not out["m_valid"], self.msg(f"m.valid {k} cycles after start, F={f}")
            reading = k <= f
            assert out["dbg_rd_en"] == reading, self.msg(f"dbg_rd_en {out['dbg_rd_en']} in "
                                                         f"cycle {k} after start")
            if reading:
                assert out["dbg_rd_index"] == k - 1, self.msg(
                    f"dbg_rd_index {out['dbg_rd_index']}, expected {k - 1}")
        # m.valid right after edge e + F + 1, held until the transfer
        stalls = 0
        while True:
            ready = int(rng.random() < p_ready)
            out = await self.step(m_ready=ready, start=int(rng.random() < 0.3),
                                  clear=int(rng.random() < 0.3))
            assert out["m_valid"] and out["busy"] and not out["dbg_rd_en"], self.msg(
                "m.valid/busy not held until the transfer")
            assert out["class"] == want, self.msg(
                f"class {out['class']}, golden {want} (counts {counts}, membranes {v})")
            assert out["counts"] == counts, self.msg(f"counts {out['counts']}, sent {counts}")
            if ready:
                break
            stalls += 1
        self.stats["stalls"] += stalls
        self.stats["rounds"] += 1
        self.stats["class_" + ("0" if want == 0 else "other")] += 1


@pytest.mark.parametrize("name", list(CONFIGS))
def test_readout_rounds(name):
    cfg = CONFIGS[name]
    seed = _seed(name)
    dut = Readout(**cfg)
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = ReadoutBench(ctx, dut, cd, seed)
        await b.reset(2)
        for r in range(10):
            # in round 1 a random neuron other than 0 wins (the last one in round 2)
            winner = {1: b.rng.randrange(1, b.f), 2: b.f - 1}.get(r)
            await b.round(p_ready=[1.0, 0.5, 0.2][r % 3], winner=winner)
            if b.rng.random() < 0.5:
                out = await b.step()  # idle right after the transfer
                assert not out["busy"] and not out["m_valid"], b.msg("busy after transfer")

    run_sim(top, testbench)
    s = bench.stats
    for key in ("stalls", "count_ties", "v_ties", "eots", "junk_start", "probes",
                "class_other"):
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"


@pytest.mark.parametrize(("by_count", "counts", "v", "want"), [
    (1, [3, 5, 5, 1], [9, -2, -2, 30], 1),  # count tie, membrane tie: lowest index
    (1, [3, 5, 5, 1], [9, -2, 4, 30], 2),  # count tie: the larger membrane
    (1, [0, 0, 0, 0], [-8, -8, -8, -8], 0),  # all equal: index 0
    (1, [0, 0, 0, 1], [7, 7, 7, -8], 3),  # one spike beats any membrane
    (0, [9, 0, 0, 0], [-3, 5, 5, 1], 1),  # by membrane: counts ignored, tie: lowest index
    (0, [0, 0, 0, 0], [-8, -8, -8, 7], 3),
])
def test_readout_tie_rules(by_count, counts, v, want):
    """Hand-picked ties (semantics.md §5), through the whole round, also checked against
    golden.readout."""
    dut = Readout(4, 4, 4, by_count=by_count)
    top, cd = sim_top(dut)
    assert int(readout(np.array([counts]), np.array([v]),
                       "count" if by_count else "membrane")[0]) == want

    async def testbench(ctx):
        b = ReadoutBench(ctx, dut, cd, seed=0)
        b.make_round = lambda: (counts, v)
        await b.reset()
        await b.round(p_ready=1.0)

    run_sim(top, testbench)


def test_readout_reset():
    """Reset in the scan and while holding the result: idle at once, m.valid low; the counts
    are kept (only a clear clears them); a clear in a reset cycle still clears."""
    dut = Readout(5, 3, 6)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = ReadoutBench(ctx, dut, cd, seed=1)
        await b.reset()
        await b.round(p_ready=0.5)
        for cycles_in in (2, 8):  # in the scan (F + 1 = 6 cycles), after m.valid rose
            counts = (await b.step())["counts"]
            await b.step(start=1)
            for _ in range(cycles_in):
                await b.step()
            ctx.set(cd.rst, 1)
            await b.step()
            ctx.set(cd.rst, 0)
            out = await b.step()
            assert not out["busy"] and not out["m_valid"] and not out["dbg_rd_en"]
            assert out["counts"] == counts, "reset touched the counts"
        ctx.set(cd.rst, 1)
        await b.step(clear=1)
        ctx.set(cd.rst, 0)
        assert (await b.step())["counts"] == [0] * 5
        await b.round(p_ready=0.3)  # everything works again

    run_sim(top, testbench)


_OK = dict(f=10, cnt_width=8, v_width=16)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"f": 1}, "F_must_be_at_least_2"),
    ({"cnt_width": 0}, "CNT_WIDTH_must_be_1_to_32"),
    ({"cnt_width": 33}, "CNT_WIDTH_must_be_1_to_32"),
    ({"v_width": 1}, "V_WIDTH_must_be_2_to_32"),
    ({"v_width": 33}, "V_WIDTH_must_be_2_to_32"),
    ({"index_width": 3}, "INDEX_WIDTH_too_small_for_F"),
    ({"class_width": 3}, "CLASS_WIDTH_too_small_for_F"),
    ({"class_width": 33}, "CLASS_WIDTH_too_small_for_F"),
    ({"by_count": 2}, "BY_COUNT_must_be_0_or_1"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_readout_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_readout_ERROR_{rule}: {next(iter(params))}="):
        Readout(**{**_OK, **params})


def test_readout_defaults_and_edge_parameters():
    dut = Readout(np.int64(10), 8, 16)
    assert (dut.index_width, dut.class_width, dut.by_count) == (4, 4, True)
    Fragment.get(dut, None)
    dut = Readout(2, 1, 2, by_count=False)
    assert (dut.index_width, dut.class_width) == (1, 1)
    Fragment.get(dut, None)  # elaborates
    Fragment.get(Readout(37, 32, 32, index_width=32, class_width=32), None)


def test_readout_ports_match_the_verilog():
    dut = Readout(10, 8, 16, index_width=5, class_width=6, by_count=0)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear": (1, "i"), "ev_valid": (1, "i"), "ev_index": (5, "i"), "ev_eot": (1, "i"),
        "start": (1, "i"), "dbg_rd_en": (1, "o"), "dbg_rd_index": (5, "o"),
        "dbg_rd_data": (16, "i"), "m_valid": (1, "o"), "m_ready": (1, "i"),
        "m_class": (6, "o"), "m_counts": (80, "o"), "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_readout\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_readout
LINT_CONFIGS = {
    "default": dict(f=10, cnt_width=8, v_width=16),
    "F2-C1-V2": dict(f=2, cnt_width=1, v_width=2),
    "F37-wide": dict(f=37, cnt_width=8, v_width=32, index_width=8, class_width=6, by_count=0),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_readout_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(Readout(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_readout", READOUT_WAIVERS, tmp_path)


_REGS = ["run_reg", "rd_idx_reg", "cmp_reg", "cmp_idx_reg", "cmp_last_reg", "have_reg",
         "best_idx_reg", "best_v_reg", "m_valid_reg"]
EQUIV_CONFIGS = {
    "F10-C3-V4-count": dict(f=10, cnt_width=3, v_width=4, by_count=1),
    "F3-C2-V3-membrane": dict(f=3, cnt_width=2, v_width=3, by_count=0),
    "F5-C2-V2-wide-class": dict(f=5, cnt_width=2, v_width=2, index_width=3, class_width=4,
                                by_count=1),
    "F4-C2-V3-narrow-class": dict(f=4, cnt_width=2, v_width=3, index_width=4, class_width=2,
                                  by_count=1),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_readout_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = Readout(**EQUIV_CONFIGS[name])
    params = dict(F=dut.f, CNT_WIDTH=dut.cnt_width, V_WIDTH=dut.v_width,
                  INDEX_WIDTH=dut.index_width, CLASS_WIDTH=dut.class_width,
                  BY_COUNT=int(dut.by_count))
    # best_cnt_reg is only read when by count (Yosys removes it from the Verilog otherwise)
    regs = [*_REGS, "best_cnt_reg"] if dut.by_count else _REGS
    renames = [(f"u.{r}", r) for r in regs] + [(f"u.cnt[{i}]", f"cnt_{i}")
                                               for i in range(dut.f)]
    # With F not a power of two, the Verilog reads an x for a count index >= F; the scan
    # compares such an index only in states that no run reaches, but the induction must rule
    # them out: rd_idx_reg counting up from an index >= F to 2**INDEX_WIDTH, so many cycles
    seq = max(3, (1 << dut.index_width) - dut.f + 2)
    check_equivalence(dut, params, renames, tmp_path, seq=seq)
