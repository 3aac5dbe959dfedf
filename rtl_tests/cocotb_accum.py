"""cocotb test for snn_accum, run inside the simulator by test_accum.py (through runner.py).

Several images. Per image: a clear (offered together with a sweep and updates, which it must
win over; checked to take exactly ceil(N/LANES) busy cycles), random updates on every lane with
random gaps, including runs of the same accumulator on consecutive cycles and at spacing 2 (the
read-add-write hazard), then a readout under random backpressure; some images get more updates
and a second readout (a readout leaves the accumulators as they are). The expected beats come
from ``snngen.hwmodel.blocks.accum.readout`` (numpy max-pool of the model accumulators plus the
bias) and are compared with ``==``: every (m_index, m_value) in order, then the EOT (index 0, value
0). The cycle contract of the header of snngen/backends/verilog/rtl/snn_accum.v is asserted: the EOT
transfers NOUT*PKH*PKW + 3 + (stall cycles) cycles after the sweep's acceptance edge, every beat is
first offered in the cycle ``beat_offer_cycle``/``eot_offer_cycle`` says and held unchanged while
stalled, the block is idle right after the EOT. While busy, random updates, clears and sweeps
are offered: they must be refused (readies low). The readies' priority rule is checked every
cycle.

The updates keep every partial sum within [-2^(min(A,K)-2), 2^(min(A,K)-2)) and the biases are
within half the K range, so every max + bias fits K_WIDTH (the caller's guarantee). The last
image leaves the partial sums free: the accumulators wrap modulo 2^A_WIDTH and the value sent is
the low K_WIDTH bits of max + bias, which the model reproduces with ``wrap``. The configuration
comes from SNN_ACCUM_CONFIG (JSON).
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
from snngen.hwmodel.blocks import accum

PERIOD_NS = 10


def _uint(value) -> int:
    """A LogicArray or (a 1-bit port) a Logic as an unsigned int."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


class AccumBench:
    def __init__(self, dut) -> None:
        cfg = json.loads(os.environ["SNN_ACCUM_CONFIG"])
        self.dut = dut
        self.cfg = cfg
        self.shape = (cfg["C"], cfg["H"], cfg["W"])
        self.n = int(np.prod(self.shape))
        self.lanes: int = cfg["LANES"]
        self.uw: int = cfg["U_WIDTH"]
        self.aw: int = cfg["A_WIDTH"]
        self.kw: int = cfg["K_WIDTH"]
        self.addr_w: int = cfg["ADDR_WIDTH"]
        self.oiw: int = cfg["OUT_INDEX_WIDTH"]
        self.pool = tuple(cfg[k] for k in ("PKH", "PKW", "PSH", "PSW", "PPH", "PPW"))
        c, oh, ow = accum.out_shape(self.shape, self.pool)
        assert (oh, ow) == (cfg["OH"], cfg["OW"])
        self.nout = c * oh * ow
        self.rows = accum.clear_cycles(self.n, self.lanes)
        self.rng = random.Random(cocotb.RANDOM_SEED)
        dut._log.info("config %s, rng seed %d (COCOTB_RANDOM_SEED)", cfg, cocotb.RANDOM_SEED)
        self.bias = np.array(read_mem(cfg["bias_file"], self.kw, signed=True), dtype=np.int64)
        self.per_neuron = bool(cfg.get("BIAS_PER_NEURON", 0))  # one bias per output neuron
        assert len(self.bias) == (self.nout if self.per_neuron else cfg["C"])
        self.acc = np.zeros(self.n, dtype=np.int64)  # exact sums (valid after a clear)
        lim = 1 << (min(self.aw, self.kw) - 2)
        self.lo, self.hi = -lim, lim - 1
        self.umin, self.umax = -(1 << (self.uw - 1)), (1 << (self.uw - 1)) - 1
        self.cycle = 0
        self.stats = collections.Counter()
        assert len(dut.upd_addr) == self.lanes * self.addr_w
        assert len(dut.upd_weight) == self.lanes * self.uw
        assert len(dut.m_index) == self.oiw and len(dut.m_value) == self.kw

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, sweep=0, upd=None, m_ready=1, check=True) -> dict:
        """Drive one cycle (called right after a rising edge), sample the outputs at ReadOnly,
        wait for the next edge. ``upd`` is a list per lane of None or (row, weight)."""
        d = self.dut
        d.clear_valid.value = clear
        d.sweep_valid.value = sweep
        valid = addr = weight = 0
        for j, u in enumerate(upd or []):
            if u is not None:
                valid |= 1 << j
                addr |= u[0] << (j * self.addr_w)
                weight |= (u[1] & ((1 << self.uw) - 1)) << (j * self.uw)
        d.upd_valid.value = valid
        d.upd_addr.value = addr
        d.upd_weight.value = weight
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
            out["m_value"] = d.m_value.value.to_signed()
            out["m_eot"] = int(d.m_eot.value)
        out["upd_fire"] = valid & out["upd_ready"]
        self.cycle += 1
        await RisingEdge(d.clk)
        return out

    def junk_updates(self) -> list:
        rng = self.rng
        return [(rng.randrange(self.rows), rng.randint(self.umin, self.umax))
                if rng.random() < 0.5 else None for _ in range(self.lanes)]

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must all be refused."""
        rng = self.rng
        return {"upd": self.junk_updates(), "clear": int(rng.random() < 0.2),
                "sweep": int(rng.random() < 0.3)}

    # --- operations --------------------------------------------------------------------------

    async def reset(self) -> None:
        self.dut.rst.value = 1
        for _ in range(2):
            await self.step(m_ready=0, check=False)
        self.dut.rst.value = 0

    async def clear(self) -> None:
        out = await self.step(clear=1, sweep=self.rng.randrange(2),
                              upd=self.junk_updates())  # the clear wins over both
        assert out["clear_ready"] and not out["upd_fire"]
        # busy for exactly ceil(N/LANES) cycles, refusing everything offered
        for i in range(self.rows):
            out = await self.step(**self.junk())
            assert out["busy"], f"clear ended after {i} cycles, expected {self.rows}"
        out = await self.step()
        assert not out["busy"], f"clear still busy after ceil(N/LANES)={self.rows} cycles"
        self.acc[:] = 0
        self.stats["clears"] += 1

    def lane_updates(self, j: int, free: bool) -> list[tuple[int, int]]:
        """A random update sequence for lane j; the model sums ``self.acc`` are updated. Unless
        ``free``, every partial sum stays in [lo, hi]."""
        rng = self.rng
        nrows = len(range(j, self.n, self.lanes))
        if nrows == 0:
            return []
        seq: list[tuple[int, int]] = []

        def add(row: int) -> None:
            n = row * self.lanes + j
            w = rng.randint(self.umin, self.umax)
            if rng.random() < 0.05:
                w = self.umin  # the most negative code
            p = int(self.acc[n])
            if not free and not self.lo <= p + w <= self.hi:
                w = rng.randint(max(self.umin, self.lo - p), min(self.umax, self.hi - p))
            self.acc[n] += w
            seq.append((row, w))

        for _ in range(rng.randint(nrows, 4 * nrows)):
            row = rng.randrange(nrows)
            r = rng.random()
            if r < 0.3:  # a run of the same accumulator on consecutive updates
                for _ in range(rng.randint(2, 6)):
                    add(row)
            elif r < 0.4 and seq:  # a, b, a: the same accumulator at spacing 2
                add(row)
                add(rng.randrange(nrows))
                add(row)
            else:
                add(row)
        if free:
            # a couple of long same-sign runs of near-extreme weights: the sums leave the
            # A_WIDTH range and wrap (at least once for each such accumulator)
            for row in rng.sample(range(nrows), min(2, nrows)):
                n = row * self.lanes + j
                sign = rng.choice([-1, 1])
                for _ in range((1 << (self.aw - self.uw + 1)) + rng.randint(0, 20)):
                    w = (rng.randint(self.umax - 2, self.umax) if sign > 0
                         else rng.randint(self.umin, self.umin + 2))
                    self.acc[n] += w
                    seq.append((row, w))
        return seq

    async def updates(self, p_gap: float, free: bool = False) -> None:
        rng = self.rng
        queues = [collections.deque(self.lane_updates(j, free)) for j in range(self.lanes)]
        self.stats["updates"] += sum(len(q) for q in queues)
        prev = [None] * self.lanes
        while any(queues):
            upd = []
            for j, q in enumerate(queues):
                u = q[0] if q and rng.random() >= p_gap else None
                upd.append(u)
                if u is not None and prev[j] is not None and prev[j][0] == u[0]:
                    self.stats["back_to_back_same_accumulator"] += 1
                prev[j] = u
            out = await self.step(upd=upd)
            expect = sum(1 << j for j, u in enumerate(upd) if u is not None)
            assert out["upd_fire"] == expect, f"cycle {self.cycle}: update refused while idle"
            for j, u in enumerate(upd):
                if u is not None:
                    queues[j].popleft()

    def expected(self, free: bool) -> list[int]:
        held = accum.wrap(self.acc, self.aw)  # what the A_WIDTH-bit registers hold
        self.stats["wrapped_accumulators"] += int((held != self.acc).sum())
        k = accum.readout(held.reshape(self.shape), self.bias, self.pool,
                          self.per_neuron).ravel()
        if not free:
            assert (held == self.acc).all()
            lo, hi = -(1 << (self.kw - 1)), (1 << (self.kw - 1)) - 1
            assert ((lo <= k) & (k <= hi)).all(), "stimulus broke the K_WIDTH guarantee"
        return [int(v) for v in accum.wrap(k, self.kw)]

    async def readout(self, p_ready: float, force_stall: bool = False,
                      free: bool = False) -> None:
        rng = self.rng
        expected = self.expected(free)
        p = self.pool[0] * self.pool[1]
        # the sweep, offered together with updates (which must be refused)
        out = await self.step(sweep=1, upd=self.junk_updates() if rng.random() < 0.5 else None)
        assert out["sweep_ready"], "sweep refused while idle"
        cycles = stalls = 0
        prev_stall = None  # the beat seen in the last cycle, if it stalled there
        beats: list[tuple[int, int]] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == self.nout * p + 3:
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], f"busy low {cycles} cycles into a readout"
            assert cycles <= 4 * self.nout * p + 1000, "the readout never ends"
            if out["m_valid"]:
                beat = (out["m_index"], out["m_value"], out["m_eot"])
                if prev_stall is not None:
                    assert beat == prev_stall, f"beat {prev_stall} changed to {beat} in a stall"
                else:  # a new beat: offered exactly when the contract says
                    if beat[2]:
                        want = accum.eot_offer_cycle(self.nout, self.pool, stalls)
                    else:
                        want = accum.beat_offer_cycle(len(beats), self.pool, stalls)
                    assert cycles == want, (
                        f"beat {len(beats)} {beat} first offered in cycle {cycles} after the "
                        f"sweep, {stalls} stalls before; contract: cycle {want}")
                if not m_ready:
                    stalls += 1
                    prev_stall = beat
                    continue
                prev_stall = None
                if beat[2]:
                    assert beat[:2] == (0, 0), f"EOT beat with index/value {beat[:2]}"
                    break
                beats.append(beat[:2])
            else:
                prev_stall = None
        want_beats = list(enumerate(expected))
        assert beats == want_beats, (
            f"cycle {self.cycle}: beats {beats}, expected {want_beats}")
        want = accum.readout_cycles(self.nout, self.pool, stalls)
        assert cycles == want, (
            f"readout took {cycles} cycles with {stalls} stall cycles; contract: "
            f"NOUT*PKH*PKW + 3 + stalls = {want}")
        out = await self.step()
        assert not out["busy"], "still busy after the EOT transfer"
        self.stats["readouts"] += 1
        self.stats["beats"] += len(beats)
        self.stats["stall_cycles"] += stalls
        self.stats["negative_values"] += sum(v < 0 for v in expected)


@cocotb.test()
async def test_images(dut) -> None:
    bench = AccumBench(dut)
    # every input has a defined value before the first clock edge (Verilator starts inputs at
    # random values and may see a rising edge at time 0); the accumulators are cleared before
    # use and BIAS is never written, so nothing a reset does not restore can be corrupted
    dut.rst.value = 1
    for name in ("clear_valid", "sweep_valid", "upd_valid", "upd_addr", "upd_weight", "m_ready"):
        getattr(dut, name).value = 0
    await Timer(1, unit="ns")
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await bench.reset()
    rng = bench.rng
    images = bench.cfg["images"]
    for image in range(images):
        free = image == images - 1  # the last image: partial sums wrap modulo 2^A_WIDTH
        await bench.clear()
        # an immediate readout of a cleared map: K = BIAS[c]
        if image == 0:
            await bench.readout(p_ready=1.0)
        for part in range(2 if image % 2 else 1):
            await bench.updates(rng.choice([0.0, 0.0, 0.3, 0.7]), free=free)
            for _ in range(rng.randrange(3)):
                await bench.step()
            p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if image + part > 0 else 1.0
            await bench.readout(p_ready, force_stall=part == 1, free=free)
            for _ in range(rng.randrange(3)):
                await bench.step()
    s = bench.stats
    dut._log.info("%d cycles; %s", bench.cycle, dict(s))
    keys = ("stall_cycles", "back_to_back_same_accumulator", "updates", "wrapped_accumulators")
    for key in keys:
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"
