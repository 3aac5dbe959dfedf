"""cocotb test for snn_if_array, run inside the simulator by test_if_array.py (through runner.py).

Several images of several timesteps. Per image: a few k_wr writes (the per-image current),
a clear (checked to take exactly ceil(N/LANES) cycles and to set every membrane to V0), then
per timestep random updates on every lane with random gaps, including runs of the same neuron
on consecutive cycles and at spacing 2 (the read-add-write hazard), then a sweep under random
backpressure. The expected values come from ``snngen.golden.model.if_update`` on int64 arrays, one
call per timestep with current = (sum of the neuron's updates) + K: every event of every
timestep (the spiking indices in ascending order, then EOT) and, after every timestep, every
membrane (through the debug read port) are compared with ``==``. The sweep's cycle count
(acceptance edge to EOT transfer edge) must equal N + 3 + the cycles with m_valid && !m_ready,
the clear's ceil(N/LANES), as in the header of snngen/backends/verilog/rtl/snn_if_array.v. While
busy, random updates, k writes and debug reads are offered: they must be refused (readies low) or
ignored.

The weights are chosen so that every partial sum and every membrane stays within half of the
V_WIDTH range (the width analysis guarantees no wrap in real networks; here it keeps the int64
model and the hardware comparable). The configuration comes from SNN_IF_ARRAY_CONFIG (JSON).
"""

from __future__ import annotations

import collections
import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from snngen.backends.verilog.memfile import read_mem
from snngen.golden.model import if_update

PERIOD_NS = 10


def _uint(value) -> int:
    """A LogicArray or (a 1-bit port) a Logic as an unsigned int."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


class IfArrayBench:
    def __init__(self, dut) -> None:
        cfg = json.loads(os.environ["SNN_IF_ARRAY_CONFIG"])
        self.dut = dut
        self.cfg = cfg
        self.n: int = cfg["N"]
        self.lanes: int = cfg["LANES"]
        self.ww: int = cfg["W_WIDTH"]
        self.vw: int = cfg["V_WIDTH"]
        self.kw: int = cfg["K_WIDTH"]
        self.aw: int = cfg["ADDR_WIDTH"]
        self.iw: int = cfg["INDEX_WIDTH"]
        self.theta: int = cfg["THRESHOLD"]
        self.v0: int = cfg["V0"]
        self.vmin: int | None = cfg["VMIN"] if cfg["HAS_VMIN"] else None
        self.spiking: bool = bool(cfg["SPIKING"])
        self.rows = -(-self.n // self.lanes)
        self.rng = random.Random(cocotb.RANDOM_SEED)
        dut._log.info("config %s, rng seed %d (COCOTB_RANDOM_SEED)", cfg, cocotb.RANDOM_SEED)
        self.k = np.array(read_mem(cfg["k_file"], self.kw, signed=True), dtype=np.int64)
        assert len(self.k) == self.n
        self.v = np.zeros(self.n, dtype=np.int64)  # model membranes (valid after a clear)
        # the stimulus keeps every partial sum in [lo, hi]: half the membrane range
        self.lo, self.hi = -(1 << (self.vw - 2)), (1 << (self.vw - 2)) - 1
        self.wmax = (1 << (self.ww - 1)) - 1
        self.kmax = (1 << (self.kw - 1)) - 1
        assert self.kmax + self.wmax < self.hi // 2, "K/W too wide for this V_WIDTH"
        self.cycle = 0
        self.stats = collections.Counter()
        assert len(dut.upd_addr) == self.lanes * self.aw
        assert len(dut.upd_weight) == self.lanes * self.ww
        assert len(dut.m_index) == self.iw and len(dut.dbg_rd_data) == self.vw

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, sweep=0, upd=None, k_wr=None, dbg=None, m_ready=1,
                   check=True) -> dict:
        """Drive one cycle (called right after a rising edge), sample the outputs at ReadOnly,
        wait for the next edge. ``upd`` is a list per lane of None or (row, weight)."""
        d = self.dut
        d.clear_valid.value = clear
        d.sweep_valid.value = sweep
        valid = addr = weight = 0
        for j, u in enumerate(upd or []):
            if u is not None:
                valid |= 1 << j
                addr |= u[0] << (j * self.aw)
                weight |= (u[1] & ((1 << self.ww) - 1)) << (j * self.ww)
        d.upd_valid.value = valid
        d.upd_addr.value = addr
        d.upd_weight.value = weight
        d.k_wr_en.value = int(k_wr is not None)
        d.k_wr_addr.value = k_wr[0] if k_wr else 0
        d.k_wr_data.value = (k_wr[1] & ((1 << self.kw) - 1)) if k_wr else 0
        d.dbg_rd_en.value = int(dbg is not None)
        d.dbg_rd_index.value = dbg if dbg is not None else 0
        d.m_ready.value = m_ready
        await ReadOnly()
        if not check:  # in reset: the outputs may be X
            await RisingEdge(d.clk)
            return {}
        out = {
            "busy": int(d.busy.value),
            "clear_ready": int(d.clear_ready.value),
            "sweep_ready": int(d.sweep_ready.value),
            "upd_ready": _uint(d.upd_ready.value),
            "m_valid": int(d.m_valid.value),
            "dbg_data": d.dbg_rd_data.value,  # converted only where a read is due
        }
        # the readies follow the documented priority: clear > sweep > updates, all only idle
        idle = not out["busy"]
        all_lanes = (1 << self.lanes) - 1
        expect = (int(idle), int(idle and not clear),
                  all_lanes if idle and not clear and not sweep else 0)
        got = (out["clear_ready"], out["sweep_ready"], out["upd_ready"])
        assert got == expect, f"cycle {self.cycle}: readies {got}, expected {expect}"
        if out["m_valid"]:
            out["m_index"] = _uint(d.m_index.value)
            out["m_eot"] = int(d.m_eot.value)
        out["upd_fire"] = valid & out["upd_ready"]
        self.cycle += 1
        await RisingEdge(d.clk)
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

    async def reset(self) -> None:
        self.dut.rst.value = 1
        for _ in range(2):
            await self.step(m_ready=0, check=False)
        self.dut.rst.value = 0

    async def k_writes(self, count: int) -> None:
        for _ in range(count):
            n = self.rng.randrange(self.n)
            k = self.rng.randint(-self.kmax - 1, self.kmax)
            out = await self.step(k_wr=(n, k))
            assert not out["busy"]
            self.k[n] = k
            self.stats["k_writes"] += 1

    async def clear(self) -> None:
        out = await self.step(clear=1, sweep=self.rng.randrange(2),
                              upd=self.junk()["upd"])  # the clear wins over both
        assert out["clear_ready"] and not out["upd_fire"]
        # busy for exactly ceil(N/LANES) cycles, refusing or ignoring everything offered
        for i in range(self.rows):
            out = await self.step(**self.junk())
            assert out["busy"], f"clear ended after {i} cycles, expected {self.rows}"
        out = await self.step()
        assert not out["busy"], f"clear still busy after ceil(N/LANES)={self.rows} cycles"
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

        for _ in range(rng.randint(nrows, 4 * nrows)):
            row = rng.randrange(nrows)
            r = rng.random()
            if r < 0.3:  # a run of the same neuron on consecutive updates
                for _ in range(rng.randint(2, 6)):
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
            assert out["upd_fire"] == expect, f"cycle {self.cycle}: update refused while idle"
            for j, u in enumerate(upd):
                if u is not None:
                    queues[j].popleft()
        # expected result of this timestep
        v_new, spikes = if_update(self.v, current + self.k, self.theta, self.vmin, self.spiking)
        expected = [int(i) for i in np.flatnonzero(spikes)]
        # sweep, offered together with an update (which must be refused)
        if rng.random() < 0.5:
            out = await self.step(sweep=1, upd=self.junk()["upd"])
        else:
            out = await self.step(sweep=1)
        assert out["sweep_ready"], "sweep refused while idle"
        cycles = stalls = 0
        events: list[int] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == self.n + 3:
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], f"busy low {cycles} cycles into a sweep"
            assert cycles <= 4 * self.n + 1000, "the sweep never ends"
            if out["m_valid"] and not m_ready:
                stalls += 1
            if out["m_valid"] and m_ready:
                if out["m_eot"]:
                    assert out["m_index"] == 0, "EOT event with a nonzero index"
                    break
                events.append(out["m_index"])
        assert events == expected, (
            f"cycle {self.cycle}: events {events}, expected {expected}")
        assert cycles == self.n + 3 + stalls, (
            f"sweep took {cycles} cycles with {stalls} stall cycles; "
            f"contract: N + 3 + stalls = {self.n + 3 + stalls}")
        self.v = v_new
        self.stats["timesteps"] += 1
        self.stats["spikes"] += len(events)
        self.stats["stall_cycles"] += stalls
        await self.check_membranes()

    async def check_membranes(self) -> None:
        got: list[int] = []
        out = await self.step(dbg=0)
        assert not out["busy"]
        for n in range(1, self.n + 1):
            out = await self.step(dbg=n if n < self.n else None)
            got.append(out["dbg_data"].to_signed())
        want = [int(x) for x in self.v]
        assert got == want, f"cycle {self.cycle}: membranes {got}, expected {want}"


@cocotb.test()
async def test_images(dut) -> None:
    bench = IfArrayBench(dut)
    # every input has a defined value before the first clock edge: Verilator starts inputs at
    # random values (x-initial unique), and a random k_wr_en at the first edge is a real K write
    dut.rst.value = 1
    for name in ("clear_valid", "sweep_valid", "upd_valid", "upd_addr", "upd_weight", "k_wr_en",
                 "k_wr_addr", "k_wr_data", "dbg_rd_en", "dbg_rd_index", "m_ready"):
        getattr(dut, name).value = 0
    await Timer(1, unit="ns")
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await bench.reset()
    if cocotb.SIM_NAME.lower().startswith("verilator"):
        # Verilator starts every signal at a random value (x-initial unique) and its first
        # evaluation at time 0 can see a rising clk edge before cocotb has driven any input: a
        # random k_wr_en there is a real K write (seen in CI). Rewrite K from the .mem file so
        # the run starts from it; the $readmemh load itself is checked on Icarus, which starts
        # inputs at X and has no such edge.
        for n, k in enumerate(bench.k):
            await bench.step(k_wr=(n, int(k)))
    rng = bench.rng
    images, steps = bench.cfg["images"], bench.cfg["timesteps"]
    for image in range(images):
        if image > 0:
            await bench.k_writes(rng.randint(1, bench.n))
        await bench.clear()
        await bench.check_membranes()
        for t in range(steps):
            p_gap = rng.choice([0.0, 0.0, 0.3, 0.7])
            p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if t > 0 else 1.0
            await bench.timestep(p_gap, p_ready, force_stall=t == steps - 1)
            # idle gaps between timesteps
            for _ in range(rng.randrange(3)):
                await bench.step()
    s = bench.stats
    dut._log.info("%d cycles; %s", bench.cycle, dict(s))
    keys = ["stall_cycles", "back_to_back_same_neuron", "k_writes", "exactly_threshold"]
    for key in [*keys, "spikes"] if bench.spiking else keys:
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"
    if bench.spiking:
        assert s["spikes"] < s["timesteps"] * bench.n, f"every neuron always spiked: {dict(s)}"
