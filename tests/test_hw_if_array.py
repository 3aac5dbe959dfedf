"""snngen.backends.amaranth.if_array.IfArray (the Amaranth twin of
snngen/backends/verilog/rtl/snn_if_array.v) in amaranth.sim.

The same bench as rtl_tests/cocotb_if_array.py, cycle by cycle: images of timesteps. Per image:
a few k_wr writes, a clear (offered with a sweep and updates, which must lose; exactly
ceil(N/LANES) busy cycles; every membrane V0 after), then per timestep random updates on every
lane with random gaps, including runs of the same neuron on consecutive cycles and at spacing 2
(the read-add-write hazard), then a sweep (sometimes offered with updates, which must lose, and
with a K write, which it must see) under random backpressure. Expected values come from
``snngen.golden.model.if_update`` on int64 arrays: every event (the spiking indices in ascending
order, then EOT with index 0) and, after every timestep, every membrane (through the debug
read port) are compared with ``==``. The sweep must take N + 3 + (cycles with m.valid &
~m.ready) cycles, busy in each of them. While busy, random updates, K writes and debug reads
are offered: refused (readies low) or ignored. The readies are checked in every cycle against
the priority rule (clear > sweep > updates, all only while idle).

Seeded from SNN_SEED (else a fresh seed), mixed with the configuration's name; the seed is in
every assertion message. The stimulus keeps every partial sum within half the V_WIDTH range, as
the width analysis does for real networks, so the int64 model and the hardware agree.
Plus: reset (idle, no event, membranes and K kept, K writes in reset ignored), the parameter
checks with the Verilog's rule words, the port list, Verilator lint of the Verilog, and a formal
proof (Yosys equiv_induct) that the converted module and snngen/backends/verilog/rtl/snn_if_array.v
are equivalent cycle for cycle (every register, memory word and output).
"""

from __future__ import annotations

import collections
import random
import re
import zlib

import numpy as np
import pytest
from amaranth.hdl import Cat, Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint, run_sim, sim_top

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.if_array import IfArray
from snngen.backends.verilog.memfile import write_mem
from snngen.flows import simrun
from snngen.golden.model import if_update

# LANES 1/2/4, odd N (never a multiple of LANES), SPIKING 0/1, v_min on/off, narrow and wide
# membranes, THRESHOLD 1, index/address ports wider than needed and the defaults
CONFIGS: dict[str, dict] = {
    "L1-N13-V10": dict(n=13, lanes=1, w_width=4, v_width=10, k_width=6, threshold=40, v0=0,
                       v_min=None, spiking=1, index_width=5, addr_width=4),
    "L2-N11-V24-vmin": dict(n=11, lanes=2, w_width=8, v_width=24, k_width=10, threshold=300,
                            v0=-5, v_min=-200, spiking=1, index_width=7, addr_width=6),
    "L4-N15-V16-vmin": dict(n=15, lanes=4, w_width=6, v_width=16, k_width=8, threshold=100,
                            v0=7, v_min=-60, spiking=1),
    "L4-N7-V12-readout": dict(n=7, lanes=4, w_width=5, v_width=12, k_width=7, threshold=50,
                              v0=3, v_min=None, spiking=0, index_width=3, addr_width=1),
    "L2-N9-V10-theta1": dict(n=9, lanes=2, w_width=4, v_width=10, k_width=4, threshold=1,
                             v0=0, v_min=-3, spiking=1, index_width=4, addr_width=3),
    "L1-N3-V8-readout-vmin": dict(n=3, lanes=1, w_width=3, v_width=8, k_width=3,
                                  threshold=20, v0=-1, v_min=-10, spiking=0),
}
IF_ARRAY_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                    "CASEINCOMPLETE")
assert set(IF_ARRAY_WAIVERS) <= set(LINT_REASONS)


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


def _random_k(rng: random.Random, n: int, kw: int) -> list[int]:
    return [rng.randint(-(1 << (kw - 1)), (1 << (kw - 1)) - 1) for _ in range(n)]


class IfArrayBench:
    """One cycle at a time: drive every input (one packed set per cycle), check the readies,
    sample the outputs, tick."""

    def __init__(self, ctx, dut: IfArray, cd, seed: int, k: list[int]) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x5EED)
        self.n, self.lanes = dut.n, dut.lanes
        self.ww, self.vw, self.kw = dut.w_width, dut.v_width, dut.k_width
        self.aw, self.iw = dut.addr_width, dut.index_width
        self.theta, self.v0, self.vmin, self.spiking = (dut.threshold, dut.v0, dut.v_min,
                                                        dut.spiking)
        self.rows = -(-self.n // self.lanes)
        self.k = np.array(k, dtype=np.int64)  # model of the K RAM
        self.v = np.zeros(self.n, dtype=np.int64)  # model membranes (valid after a clear)
        # the stimulus keeps every partial sum in [lo, hi]: half the membrane range
        self.lo, self.hi = -(1 << (self.vw - 2)), (1 << (self.vw - 2)) - 1
        self.wmax = (1 << (self.ww - 1)) - 1
        self.kmax = (1 << (self.kw - 1)) - 1
        assert self.kmax + self.wmax < self.hi // 2, "K/W too wide for this V_WIDTH"
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()
        # every input in one Cat, set once per cycle (each set costs a settle of the design)
        fields = [(dut.clear_valid, 1), (dut.sweep_valid, 1), (dut.upd_valid, self.lanes),
                  (dut.upd_addr.as_value(), self.lanes * self.aw),
                  (dut.upd_weight.as_value(), self.lanes * self.ww), (dut.k_wr_en, 1),
                  (dut.k_wr_addr, self.iw), (dut.k_wr_data, self.kw), (dut.dbg_rd_en, 1),
                  (dut.dbg_rd_index, self.iw), (dut.m.ready, 1)]
        self.inputs = Cat(*(value for value, _ in fields))
        self.offsets = {}
        offset = 0
        for name, (_, width) in zip(
                ["clear", "sweep", "upd_valid", "upd_addr", "upd_weight", "k_wr_en", "k_wr_addr",
                 "k_wr_data", "dbg_en", "dbg_index", "m_ready"], fields, strict=True):
            self.offsets[name] = (offset, width)
            offset += width
        self.last_inputs = None

    def msg(self, text: str) -> str:
        return f"seed {self.seed} (SNN_SEED), cycle {self.cycle}: {text}"

    def _pack(self, **fields: int) -> int:
        word = 0
        for name, value in fields.items():
            offset, width = self.offsets[name]
            word |= (value & ((1 << width) - 1)) << offset
        return word

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, sweep=0, upd=None, k_wr=None, dbg=None, m_ready=1) -> dict:
        """``upd`` is a list per lane of None or (row, weight); ``k_wr`` (index, value)."""
        ctx, d = self.ctx, self.dut
        valid = addr = weight = 0
        for j, u in enumerate(upd or []):
            if u is not None:
                valid |= 1 << j
                addr |= u[0] << (j * self.aw)
                weight |= (u[1] & ((1 << self.ww) - 1)) << (j * self.ww)
        word = self._pack(
            clear=clear, sweep=sweep, upd_valid=valid, upd_addr=addr, upd_weight=weight,
            k_wr_en=int(k_wr is not None), k_wr_addr=k_wr[0] if k_wr else 0,
            k_wr_data=k_wr[1] if k_wr else 0, dbg_en=int(dbg is not None),
            dbg_index=dbg if dbg is not None else 0, m_ready=m_ready)
        if word != self.last_inputs:
            ctx.set(self.inputs, word)
            self.last_inputs = word
        out = {
            "busy": ctx.get(d.busy),
            "clear_ready": ctx.get(d.clear_ready),
            "sweep_ready": ctx.get(d.sweep_ready),
            "upd_ready": ctx.get(d.upd_ready),
            "m_valid": ctx.get(d.m.valid),
            "dbg_data": ctx.get(d.dbg_rd_data),
        }
        # the readies follow the documented priority: clear > sweep > updates, all only idle
        idle = not out["busy"]
        all_lanes = (1 << self.lanes) - 1
        expect = (int(idle), int(idle and not clear),
                  all_lanes if idle and not clear and not sweep else 0)
        got = (out["clear_ready"], out["sweep_ready"], out["upd_ready"])
        assert got == expect, self.msg(f"readies {got}, expected {expect}")
        if out["m_valid"]:
            out["m_index"] = ctx.get(d.m.payload.index)
            out["m_eot"] = ctx.get(d.m.payload.eot)
        out["upd_fire"] = valid & out["upd_ready"]
        self.cycle += 1
        await ctx.tick()
        return out

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must be refused or ignored."""
        rng = self.rng
        upd = [(rng.randrange(self.rows), rng.randint(-self.wmax, self.wmax))
               if rng.random() < 0.5 else None for _ in range(self.lanes)]
        k_wr = ((rng.randrange(self.n), rng.randint(-self.kmax, self.kmax))
                if rng.random() < 0.3 else None)
        dbg = rng.randrange(self.n) if rng.random() < 0.3 else None
        return {"upd": upd, "k_wr": k_wr, "dbg": dbg}

    # --- operations --------------------------------------------------------------------------

    async def reset(self, cycles: int = 2, **inputs) -> None:
        self.ctx.set(self.cd.rst, 1)
        for _ in range(cycles):
            await self.step(m_ready=0, **inputs)  # the readies are those of the old state
        self.ctx.set(self.cd.rst, 0)

    async def k_writes(self, count: int) -> None:
        for _ in range(count):
            n = self.rng.randrange(self.n)
            k = self.rng.randint(-self.kmax - 1, self.kmax)
            out = await self.step(k_wr=(n, k))
            assert not out["busy"], self.msg("busy during K writes")
            self.k[n] = k
            self.stats["k_writes"] += 1

    async def clear(self) -> None:
        out = await self.step(clear=1, sweep=self.rng.randrange(2),
                              upd=self.junk()["upd"])  # the clear wins over both
        assert out["clear_ready"] and not out["upd_fire"], self.msg("clear refused")
        # busy for exactly ceil(N/LANES) cycles, refusing or ignoring everything offered
        for i in range(self.rows):
            out = await self.step(**self.junk())
            assert out["busy"], self.msg(f"clear ended after {i} cycles, expected {self.rows}")
        out = await self.step()
        assert not out["busy"], self.msg(f"clear busy after ceil(N/LANES)={self.rows} cycles")
        self.v[:] = self.v0
        self.stats["clears"] += 1

    def lane_updates(self, j: int, current: np.ndarray) -> list[tuple[int, int]]:
        """A random update sequence for lane j; ``current`` (the partial sums) is updated."""
        rng = self.rng
        nrows = len(range(j, self.n, self.lanes))
        if nrows == 0:
            return []
        seq: list[tuple[int, int]] = []

        def add(row: int, w: int) -> None:
            n = row * self.lanes + j
            p = self.v[n] + current[n]
            if not self.lo <= p + w <= self.hi:
                flip = min(-w, self.wmax)
                w = flip if self.lo <= p + flip <= self.hi else 0
            current[n] += w
            seq.append((row, w))

        def weight() -> int:
            w = rng.randint(-self.wmax // 2, self.wmax)
            if rng.random() < 0.05:
                w = -self.wmax - 1  # the most negative code
            return w

        for _ in range(rng.randint(nrows, 3 * nrows)):
            row = rng.randrange(nrows)
            r = rng.random()
            if r < 0.3:  # a run of the same neuron on consecutive updates
                for _ in range(rng.randint(2, 5)):
                    add(row, weight())
            elif r < 0.4 and seq:  # a, b, a: the same neuron at spacing 2
                other = rng.randrange(nrows)
                add(row, weight())
                add(other, weight())
                add(row, weight())
            else:
                add(row, weight())
        # some neurons end exactly on the threshold (v + I == THRESHOLD: fires, >= not >)
        for row in range(nrows):
            n = row * self.lanes + j
            diff = self.theta - int(self.v[n] + current[n] + self.k[n])
            if rng.random() < 0.2 and 0 < abs(diff) <= 6 * self.wmax:
                while diff:
                    w = max(-self.wmax, min(self.wmax, diff))
                    add(row, w)
                    diff -= w
                self.stats["exactly_threshold"] += 1
        # corrections: v + updates + K must stay in range
        for row in range(nrows):
            n = row * self.lanes + j
            while not self.lo <= self.v[n] + current[n] + self.k[n] <= self.hi:
                p = self.v[n] + current[n] + self.k[n]
                add(row, -self.wmax if p > self.hi else self.wmax)
        return seq

    async def timestep(self, p_gap: float, p_ready: float, force_stall: bool = False) -> None:
        rng = self.rng
        current = np.zeros(self.n, dtype=np.int64)
        queues = [collections.deque(self.lane_updates(j, current)) for j in range(self.lanes)]
        self.stats["updates"] += sum(len(q) for q in queues)
        prev = [None] * self.lanes
        while any(queues):
            upd = []
            for j, q in enumerate(queues):
                u = q[0] if q and rng.random() >= p_gap else None
                upd.append(u)
                if u is not None and prev[j] is not None and prev[j][0] == u[0]:
                    self.stats["back_to_back_same_neuron"] += 1
                prev[j] = u
            out = await self.step(upd=upd)
            expect = sum(1 << j for j, u in enumerate(upd) if u is not None)
            assert out["upd_fire"] == expect, self.msg("update refused while idle")
            for j, u in enumerate(upd):
                if u is not None:
                    queues[j].popleft()
        # the sweep, sometimes offered with updates (refused) and with a K write (seen by it)
        junk = self.junk()
        k_wr = junk["k_wr"]
        if k_wr is not None:
            self.k[k_wr[0]] = k_wr[1]
            self.stats["k_write_at_sweep"] += 1
        # keep v + updates + K in range after the late K write
        k_ok = all(self.lo <= self.v[n] + current[n] + self.k[n] <= self.hi
                   for n in range(self.n))
        if not k_ok:
            self.k[k_wr[0]] = 0
            k_wr = (k_wr[0], 0)
        v_new, spikes = if_update(self.v, current + self.k, self.theta, self.vmin, self.spiking)
        expected = [int(i) for i in np.flatnonzero(spikes)]
        out = await self.step(sweep=1, upd=junk["upd"] if rng.random() < 0.5 else None,
                              k_wr=k_wr)
        assert out["sweep_ready"] and not out["upd_fire"], self.msg("sweep refused while idle")
        cycles = stalls = 0
        events: list[int] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == self.n + 3:
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], self.msg(f"busy low {cycles} cycles into a sweep")
            assert cycles <= 4 * self.n + 1000, self.msg("the sweep never ends")
            if out["m_valid"] and not m_ready:
                stalls += 1
            if out["m_valid"] and m_ready:
                if out["m_eot"]:
                    assert out["m_index"] == 0, self.msg("EOT event with a nonzero index")
                    break
                events.append(out["m_index"])
        assert events == expected, self.msg(f"events {events}, expected {expected}")
        assert cycles == self.n + 3 + stalls, self.msg(
            f"sweep took {cycles} cycles with {stalls} stall cycles; "
            f"contract: N + 3 + stalls = {self.n + 3 + stalls}")
        self.v = v_new
        self.stats["timesteps"] += 1
        self.stats["spikes"] += len(events)
        self.stats["stall_cycles"] += stalls
        await self.check_membranes()

    async def check_membranes(self) -> None:
        """Every membrane through the debug port (a read at edge e is on dbg_rd_data after e),
        one read per cycle; starts idle."""
        got: list[int] = []
        out = await self.step(dbg=0)
        assert not out["busy"], self.msg("busy after the sweep's EOT transfer")
        for n in range(1, self.n + 1):
            out = await self.step(dbg=n if n < self.n else None)
            got.append(out["dbg_data"])
        want = [int(x) for x in self.v]
        assert got == want, self.msg(f"membranes {got}, expected {want}")


def _make(cfg: dict, seed: int) -> tuple[IfArray, list[int]]:
    k = _random_k(random.Random(seed), cfg["n"], cfg["k_width"])
    return IfArray(**cfg, k_init=k), k


@pytest.mark.parametrize("name", list(CONFIGS))
def test_if_array_images(name):
    cfg = CONFIGS[name]
    seed = _seed(name)
    dut, k = _make(cfg, seed)
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = IfArrayBench(ctx, dut, cd, seed, k)
        await b.reset()
        rng = b.rng
        images, steps = 3, 4
        for image in range(images):
            if image > 0:
                await b.k_writes(rng.randint(1, b.n))
            await b.clear()
            await b.check_membranes()
            for t in range(steps):
                p_gap = rng.choice([0.0, 0.0, 0.3, 0.7])
                p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if t > 0 else 1.0
                await b.timestep(p_gap, p_ready, force_stall=t == steps - 1)
                for _ in range(rng.randrange(3)):  # idle gaps between timesteps
                    await b.step()

    run_sim(top, testbench)
    s = bench.stats
    keys = ["stall_cycles", "back_to_back_same_neuron", "k_writes"]
    for key in [*keys, "spikes", "exactly_threshold"] if bench.spiking else keys:
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"
    if bench.spiking:
        assert s["spikes"] < s["timesteps"] * bench.n, f"seed {seed}: always spiked: {dict(s)}"


@pytest.mark.parametrize("name", ["L2-N9-V10-theta1", "L4-N7-V12-readout"])
def test_if_array_reset(name):
    """Reset in a sweep and in a clear: idle, no event, nothing lost afterwards. Reset while
    idle keeps the membranes; K keeps its writes across reset, and a K write in reset is
    ignored."""
    cfg = CONFIGS[name]
    seed = _seed(name + "-reset")
    dut, k = _make(cfg, seed)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = IfArrayBench(ctx, dut, cd, seed, k)
        await b.reset()
        await b.clear()
        await b.timestep(0.2, 0.5)
        await b.k_writes(3)
        # reset while idle: the membranes are kept; a K write offered in reset is ignored
        await b.reset(2, k_wr=(b.n - 1, int(b.k[b.n - 1]) ^ 1))
        out = await b.step()
        assert not out["busy"] and not out["m_valid"], b.msg("not idle after reset")
        await b.check_membranes()
        await b.timestep(0.0, 1.0)  # K as written before the reset
        # reset in the middle of a sweep and of a clear: idle right after, no event pending
        for op in ("sweep", "clear"):
            out = await b.step(**{op: 1})
            for _ in range(b.rng.randrange(1, b.rows if op == "clear" else b.n)):
                out = await b.step(m_ready=b.rng.randrange(2))
                assert out["busy"], b.msg(f"{op} ended early")
            await b.reset(1)
            out = await b.step()
            assert not out["busy"] and not out["m_valid"], b.msg(f"reset in a {op}")
            assert out["clear_ready"] and out["sweep_ready"], b.msg(f"reset in a {op}")
        # the membranes are undefined now: clear, and everything works again
        await b.clear()
        await b.check_membranes()
        await b.timestep(0.3, 0.5, force_stall=True)

    run_sim(top, testbench)


_OK = dict(n=10, lanes=2, w_width=6, v_width=12, k_width=8, threshold=100, v0=0, v_min=None,
           spiking=1, k_init=[0] * 10)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"n": 1, "k_init": [0]}, "N_must_be_at_least_2"),
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"v_width": 33}, "V_WIDTH_must_be_2_to_32"),
    ({"v_width": 1, "w_width": 1}, "V_WIDTH_must_be_2_to_32"),
    ({"w_width": 13}, "W_WIDTH_must_be_1_to_V_WIDTH"),
    ({"w_width": 0}, "W_WIDTH_must_be_1_to_V_WIDTH"),
    ({"k_width": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"k_width": 33}, "K_WIDTH_must_be_1_to_32"),
    ({"threshold": 0}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"threshold": 2048}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"v0": -2049}, "V0_must_fit_V_WIDTH"),
    ({"v0": 2048}, "V0_must_fit_V_WIDTH"),
    ({"v_min": 2048}, "VMIN_must_fit_V_WIDTH"),
    ({"v_min": -2049}, "VMIN_must_fit_V_WIDTH"),
    ({"spiking": 2}, "SPIKING_must_be_0_or_1"),
    ({"index_width": 3}, "INDEX_WIDTH_must_be_clog2_N_to_32"),
    ({"index_width": 33}, "INDEX_WIDTH_must_be_clog2_N_to_32"),
    ({"addr_width": 2}, "ADDR_WIDTH_too_small_for_N_over_LANES"),
    ({"k_init": [0] * 9}, "K_INIT_must_hold_N_values_that_fit_K_WIDTH"),
    ({"k_init": [0] * 9 + [128]}, "K_INIT_must_hold_N_values_that_fit_K_WIDTH"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_if_array_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_if_array_ERROR_{rule}: .*{next(iter(params))}="):
        IfArray(**{**_OK, **params})


def test_if_array_good_edge_parameters():
    # the limits themselves are accepted; numpy integers too
    for params in [
        {"threshold": 2047, "v0": -2048, "v_min": 2047, "index_width": 32, "addr_width": 4,
         "k_init": np.array([-128] * 5 + [127] * 5)},
        {"n": np.int64(2), "lanes": 4, "v_width": 2, "w_width": 2, "threshold": 1,
         "k_init": [0, 0]},
    ]:
        dut = IfArray(**{**_OK, **params})
        Fragment.get(dut, None)  # elaborates
        assert dut.k_init == [int(k) for k in params["k_init"]]


def test_if_array_ports_match_the_verilog():
    cfg = CONFIGS["L4-N15-V16-vmin"]
    dut = IfArray(**cfg, index_width=6, addr_width=3, k_init=[1] * 15)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "upd_valid": (4, "i"),
        "upd_ready": (4, "o"), "upd_addr": (12, "i"), "upd_weight": (24, "i"),
        "k_wr_en": (1, "i"), "k_wr_addr": (6, "i"), "k_wr_data": (8, "i"),
        "sweep_valid": (1, "i"), "sweep_ready": (1, "o"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_index": (6, "o"), "m_eot": (1, "o"), "busy": (1, "o"),
        "dbg_rd_en": (1, "i"), "dbg_rd_index": (6, "i"), "dbg_rd_data": (16, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_if_array\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_if_array
LINT_CONFIGS = {
    "default": dict(n=16, lanes=1, w_width=8, v_width=16, k_width=16, threshold=100, v0=0,
                    v_min=None, spiking=1),
    "L4-N13": dict(n=13, lanes=4, w_width=4, v_width=10, k_width=6, threshold=50, v0=3,
                   v_min=-20, spiking=1),
    "L2-N2-wide": dict(n=2, lanes=2, w_width=32, v_width=32, k_width=32, threshold=100, v0=0,
                       v_min=None, spiking=1, index_width=8, addr_width=5),
    "L1-N100-readout": dict(n=100, lanes=1, w_width=8, v_width=24, k_width=24, threshold=100,
                            v0=0, v_min=None, spiking=0),
    "L8-N37": dict(n=37, lanes=8, w_width=3, v_width=12, k_width=4, threshold=100, v0=0,
                   v_min=None, spiking=1),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_if_array_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(IfArray(**cfg, k_init=_random_k(rng, cfg["n"], cfg["k_width"])),
                              flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_if_array", IF_ARRAY_WAIVERS, tmp_path)


# the Verilog's registers (instance u, lane j in generate block g_lane[j]) -> IfArray's names
_TOP_REGS = ["state_reg", "clr_row_reg", "m_valid_reg", "m_eot_reg", "m_index_reg", "a_run_reg",
             "a_eot_reg", "a_idx_reg", "a_lane_reg", "a_row_reg", "b_valid_reg", "b_eot_reg",
             "b_idx_reg", "b_lane_reg", "b_row_reg", "k_q", "dbg_lane_reg"]
_LANE_REGS = ["s1_valid_reg", "s1_row_reg", "s1_w_reg", "wb_valid_reg", "wb_row_reg",
              "wb_data_reg", "rd_q"]
EQUIV_CONFIGS = {
    "L2-N7-vmin": dict(n=7, lanes=2, w_width=3, v_width=8, k_width=4, threshold=20, v0=1,
                       v_min=-9, spiking=1),
    "L4-N11-readout": dict(n=11, lanes=4, w_width=4, v_width=10, k_width=6, threshold=50, v0=-3,
                           v_min=None, spiking=0, index_width=6, addr_width=3),
    "L1-N5": dict(n=5, lanes=1, w_width=5, v_width=6, k_width=7, threshold=31, v0=0,
                  v_min=None, spiking=1),
    "L2-N2-W=V": dict(n=2, lanes=2, w_width=16, v_width=16, k_width=16, threshold=100, v0=0,
                      v_min=-(1 << 15), spiking=1, index_width=8, addr_width=5),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_if_array_formally_equivalent_to_the_verilog(name, tmp_path):
    cfg = EQUIV_CONFIGS[name]
    k = _random_k(random.Random(name), cfg["n"], cfg["k_width"])
    dut = IfArray(**cfg, k_init=k)
    write_mem(tmp_path / "k.mem", k, dut.k_width)
    params = dict(N=dut.n, LANES=dut.lanes, W_WIDTH=dut.w_width, V_WIDTH=dut.v_width,
                  K_WIDTH=dut.k_width, THRESHOLD=dut.threshold, V0=dut.v0,
                  HAS_VMIN=int(dut.v_min is not None), VMIN=dut.v_min or 0,
                  SPIKING=int(dut.spiking), INDEX_WIDTH=dut.index_width,
                  ADDR_WIDTH=dut.addr_width, K_INIT_FILE="k.mem")
    renames = [(f"u.{r}", r) for r in _TOP_REGS]
    renames += [(f"u.kmem[{i}]", f"kmem[{i}]") for i in range(dut.n)]
    for j in range(dut.lanes):
        renames += [(f"u.g_lane[{j}].{r}", f"{r}_{j}") for r in _LANE_REGS]
        renames += [(f"u.g_lane[{j}].mem[{i}]", f"bank{j}[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)
