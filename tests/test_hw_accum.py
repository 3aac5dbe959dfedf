"""snngen.backends.amaranth.accum.Accum (the Amaranth twin of
snngen/backends/verilog/rtl/snn_accum.v) in amaranth.sim.

The same bench as rtl_tests/cocotb_accum.py, cycle by cycle: several images. Per image: a clear
(offered together with a sweep and updates, which must lose; exactly ceil(N/LANES) busy cycles),
random updates on every lane with random gaps, including runs of the same accumulator on
consecutive cycles and at spacing 2 (the read-add-write hazard), then a readout under random
backpressure; some images get more updates and a second readout (a readout leaves the
accumulators as they are), the first image also reads out the freshly cleared map (K = bias).
The expected beats come from ``snngen.hwmodel.blocks.accum.readout`` (numpy max-pool of the model
accumulators plus the bias) and are compared with ``==``: every (m_index, m_value) in order, then
the EOT (index 0, value 0). The cycle contract of the header of snn_accum.v is asserted with
the model's ``clear_cycles``, ``readout_cycles``, ``beat_offer_cycle`` and ``eot_offer_cycle``:
every beat is first offered in exactly the cycle the contract says and held unchanged while
stalled, the EOT transfers NOUT*PKH*PKW + 3 + (stall cycles) cycles after the sweep's
acceptance edge, the block is idle right after it. While busy, random updates, clears and
sweeps are offered: they must be refused (readies low). The readies' priority rule is checked
in every cycle, and on some cycles m.ready and the updates are first set to other values: the
outputs must not move (no combinational path from them).

The updates keep every partial sum within [-2^(min(A,K)-2), 2^(min(A,K)-2)) and the biases
within half the K range, so every max + bias fits K_WIDTH (the caller's guarantee); the last
image leaves the sums free: they wrap modulo 2^A_WIDTH and the value sent is the low K_WIDTH
bits of max + bias (the model's ``wrap``). Seeded from SNN_SEED (else a fresh seed), mixed with
the configuration's name; the seed is in every assertion message.

Plus: reset (in a readout and in a clear: idle, no beat; while idle: the accumulators are kept),
the parameter checks with the Verilog's rule words, the port list, Verilator lint of the
Verilog, and a formal proof (Yosys equiv_induct) that the converted module and
snngen/backends/verilog/rtl/snn_accum.v are equivalent cycle for cycle (every register, memory word
and output), which fails for a gate with another bias.
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
from snngen.backends.amaranth.accum import Accum
from snngen.backends.verilog.memfile import write_mem
from snngen.flows import simrun
from snngen.hwmodel.blocks import accum

_NOPOOL = dict(pkh=1, pkw=1, psh=1, psw=1, pph=0, ppw=0)

# LANES 1/2/4; no pooling; 2x2 stride 2; 3x3 stride 2 padding 1 on an odd map; a rectangular
# window (2x3, strides 1 and 2, padding 1) wider than its one-column map with all accumulators
# in one bank row; padding 2 on a 3-wide map (the walk's steps to the next row and channel are
# negative); one channel (the bias is a constant) with U_WIDTH = A_WIDTH; narrow (A_WIDTH 8,
# K_WIDTH < A_WIDTH) and wide (A_WIDTH 26, K_WIDTH 27) widths; address and index ports wider
# than needed and the defaults; a per-neuron bias on a dense layer's conv view (1 x 1 x 13)
CONFIGS: dict[str, dict] = {
    "L1-nopool-A12": dict(c=2, h=3, w=5, lanes=1, u_width=6, a_width=12, k_width=10,
                          **_NOPOOL, addr_width=7, out_index_width=5),
    "L2-pool2s2": dict(c=3, h=6, w=4, lanes=2, u_width=10, a_width=16, k_width=14,
                       pkh=2, pkw=2, psh=2, psw=2, pph=0, ppw=0, addr_width=6,
                       out_index_width=8),
    "L4-pool3s2p1-A26": dict(c=2, h=7, w=5, lanes=4, u_width=22, a_width=26, k_width=27,
                             pkh=3, pkw=3, psh=2, psw=2, pph=1, ppw=1),
    "L4-tiny-rect": dict(c=2, h=2, w=1, lanes=4, u_width=5, a_width=8, k_width=9,
                         pkh=2, pkw=3, psh=1, psw=2, pph=1, ppw=1, addr_width=1,
                         out_index_width=3),
    "L2-pad2-negstep": dict(c=2, h=3, w=3, lanes=2, u_width=6, a_width=10, k_width=11,
                            pkh=2, pkw=3, psh=1, psw=1, pph=1, ppw=2),
    "L1-C1-U=A": dict(c=1, h=3, w=4, lanes=1, u_width=8, a_width=8, k_width=7,
                      pkh=2, pkw=2, psh=2, psw=1, pph=1, ppw=0),
    "L4-per-neuron": dict(c=1, h=1, w=13, lanes=4, u_width=9, a_width=14, k_width=13,
                          **_NOPOOL, bias_per_neuron=1),
}
ACCUM_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC", "CASEINCOMPLETE")
assert set(ACCUM_WAIVERS) <= set(LINT_REASONS)


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


def _random_bias(rng: random.Random, c: int, kw: int) -> list[int]:
    """Biases within half the K range (so that max + bias fits K_WIDTH), signed."""
    half = 1 << (kw - 2) if kw >= 2 else 1
    return [rng.randint(-half, half - 1) for _ in range(c)]


def _n_bias(cfg: dict) -> int:
    """Bias words of a configuration: one per channel, or one per neuron (no pooling)."""
    return cfg["c"] * cfg["h"] * cfg["w"] if cfg.get("bias_per_neuron") else cfg["c"]


def _make(cfg: dict, seed: int) -> Accum:
    bias = _random_bias(random.Random(seed), _n_bias(cfg), cfg["k_width"])
    bias[0] = -abs(bias[0]) - 1  # some value is negative (the cleared map's readout is bias)
    return Accum(**cfg, bias_init=bias)


class AccumBench:
    """One cycle at a time: drive every input (one packed set per cycle), check the readies,
    sample the outputs, tick."""

    def __init__(self, ctx, dut: Accum, cd, seed: int) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x5EED)
        self.shape = (dut.c, dut.h, dut.w)
        self.n, self.nout, self.lanes = dut.n, dut.nout, dut.lanes
        self.uw, self.aw, self.kw = dut.u_width, dut.a_width, dut.k_width
        self.addr_w = dut.addr_width
        self.pool = dut.pool
        assert accum.out_shape(self.shape, self.pool) == (dut.c, dut.oh, dut.ow)
        self.rows = accum.clear_cycles(self.n, self.lanes)
        self.bias = np.array(dut.bias_init, dtype=np.int64)
        self.acc = np.zeros(self.n, dtype=np.int64)  # exact sums (valid after a clear)
        lim = 1 << (min(self.aw, self.kw) - 2)
        self.lo, self.hi = -lim, lim - 1
        self.umin, self.umax = -(1 << (self.uw - 1)), (1 << (self.uw - 1)) - 1
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()
        # every input in one Cat, set once per cycle (each set costs a settle of the design)
        fields = [("clear", dut.clear_valid, 1), ("sweep", dut.sweep_valid, 1),
                  ("upd_valid", dut.upd_valid, self.lanes),
                  ("upd_addr", dut.upd_addr.as_value(), self.lanes * self.addr_w),
                  ("upd_weight", dut.upd_weight.as_value(), self.lanes * self.uw),
                  ("m_ready", dut.m.ready, 1)]
        self.inputs = Cat(*(value for _, value, _ in fields))
        self.offsets = {}
        offset = 0
        for name, _, width in fields:
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

    def _set(self, word: int) -> None:
        if word != self.last_inputs:
            self.ctx.set(self.inputs, word)
            self.last_inputs = word

    def _outputs(self) -> tuple:
        ctx, d = self.ctx, self.dut
        return (ctx.get(d.busy), ctx.get(d.m.valid), ctx.get(d.m.payload.index),
                ctx.get(d.m.payload.value), ctx.get(d.m.payload.eot))

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, sweep=0, upd=None, m_ready=1) -> dict:
        """``upd`` is a list per lane of None or (row, weight)."""
        ctx, d = self.ctx, self.dut
        valid = addr = weight = 0
        for j, u in enumerate(upd or []):
            if u is not None:
                valid |= 1 << j
                addr |= u[0] << (j * self.addr_w)
                weight |= (u[1] & ((1 << self.uw) - 1)) << (j * self.uw)
        if self.rng.random() < 0.15:
            # m.ready and the updates first at other values: the outputs depend on registers
            self._set(self._pack(clear=clear, sweep=sweep, upd_valid=~valid,
                                 upd_addr=self.rng.getrandbits(self.lanes * self.addr_w),
                                 upd_weight=~weight, m_ready=1 - m_ready))
            before = self._outputs()
        else:
            before = None
        self._set(self._pack(clear=clear, sweep=sweep, upd_valid=valid, upd_addr=addr,
                             upd_weight=weight, m_ready=m_ready))
        outs = self._outputs()
        if before is not None:
            assert outs == before, self.msg(f"outputs moved with m.ready/upd: {before} {outs}")
        out = {
            "busy": outs[0],
            "clear_ready": ctx.get(d.clear_ready),
            "sweep_ready": ctx.get(d.sweep_ready),
            "upd_ready": ctx.get(d.upd_ready),
            "m_valid": outs[1],
        }
        # the readies follow the documented priority: clear > sweep > updates, all only idle
        idle = not out["busy"]
        all_lanes = (1 << self.lanes) - 1
        expect = (int(idle), int(idle and not clear),
                  all_lanes if idle and not clear and not sweep else 0)
        got = (out["clear_ready"], out["sweep_ready"], out["upd_ready"])
        assert got == expect, self.msg(f"readies {got}, expected {expect}")
        if out["m_valid"]:
            out["m_index"], out["m_value"], out["m_eot"] = outs[2:]
        out["upd_fire"] = valid & out["upd_ready"]
        self.cycle += 1
        await ctx.tick()
        return out

    def junk_updates(self) -> list:
        rng = self.rng
        return [(rng.randrange(1 << self.addr_w), rng.randint(self.umin, self.umax))
                if rng.random() < 0.5 else None for _ in range(self.lanes)]

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must all be refused."""
        rng = self.rng
        return {"upd": self.junk_updates(), "clear": int(rng.random() < 0.2),
                "sweep": int(rng.random() < 0.3)}

    # --- operations --------------------------------------------------------------------------

    async def reset(self, cycles: int = 2) -> dict:
        """Hold rst for ``cycles`` edges; returns the outputs of the first reset cycle."""
        self.ctx.set(self.cd.rst, 1)
        first = None
        for _ in range(cycles):
            out = await self.step(m_ready=0, **self.junk())  # the readies of the old state
            first = first or out
        self.ctx.set(self.cd.rst, 0)
        return first

    async def clear(self) -> None:
        out = await self.step(clear=1, sweep=self.rng.randrange(2),
                              upd=self.junk_updates())  # the clear wins over both
        assert out["clear_ready"] and not out["upd_fire"], self.msg("clear refused")
        # busy for exactly ceil(N/LANES) cycles, refusing everything offered
        for i in range(self.rows):
            out = await self.step(**self.junk())
            assert out["busy"], self.msg(f"clear ended after {i} cycles, expected {self.rows}")
        out = await self.step()
        assert not out["busy"], self.msg(f"clear still busy after ceil(N/LANES)={self.rows}")
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
            assert accum.lane_address(n, self.lanes) == (j, row)
            w = rng.randint(self.umin, self.umax)
            if rng.random() < 0.05:
                w = self.umin  # the most negative code
            p = int(self.acc[n])
            if not free and not self.lo <= p + w <= self.hi:
                w = rng.randint(max(self.umin, self.lo - p), min(self.umax, self.hi - p))
            self.acc[n] += w
            seq.append((row, w))

        for _ in range(rng.randint(nrows, 3 * nrows)):
            row = rng.randrange(nrows)
            r = rng.random()
            if r < 0.3:  # a run of the same accumulator on consecutive updates
                for _ in range(rng.randint(2, 5)):
                    add(row)
            elif r < 0.4 and seq:  # a, b, a: the same accumulator at spacing 2
                add(row)
                add(rng.randrange(nrows))
                add(row)
            else:
                add(row)
        if free:
            # a long same-sign run of near-extreme weights: the sum leaves the A_WIDTH range
            # and wraps
            row = rng.randrange(nrows)
            n = row * self.lanes + j
            sign = rng.choice([-1, 1])
            for _ in range((1 << (self.aw - self.uw + 1)) + rng.randint(0, 4)):
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
            assert out["upd_fire"] == expect, self.msg("update refused while idle")
            for j, u in enumerate(upd):
                if u is not None:
                    queues[j].popleft()

    def expected(self, free: bool) -> list[int]:
        held = accum.wrap(self.acc, self.aw)  # what the A_WIDTH-bit registers hold
        self.stats["wrapped_accumulators"] += int((held != self.acc).sum())
        k = accum.readout(held.reshape(self.shape), self.bias, self.pool,
                          bool(self.dut.bias_per_neuron)).ravel()
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
        assert out["sweep_ready"] and not out["upd_fire"], self.msg("sweep refused while idle")
        cycles = stalls = 0
        prev_stall = None  # the beat seen in the last cycle, if it stalled there
        beats: list[tuple[int, int]] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == self.nout * p + 3:
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], self.msg(f"busy low {cycles} cycles into a readout")
            assert cycles <= 4 * self.nout * p + 1000, self.msg("the readout never ends")
            if out["m_valid"]:
                beat = (out["m_index"], out["m_value"], out["m_eot"])
                if prev_stall is not None:
                    assert beat == prev_stall, self.msg(
                        f"beat {prev_stall} changed to {beat} in a stall")
                else:  # a new beat: offered exactly when the contract says
                    if beat[2]:
                        want = accum.eot_offer_cycle(self.nout, self.pool, stalls)
                    else:
                        want = accum.beat_offer_cycle(len(beats), self.pool, stalls)
                    assert cycles == want, self.msg(
                        f"beat {len(beats)} {beat} first offered in cycle {cycles} after the "
                        f"sweep, {stalls} stalls before; contract: cycle {want}")
                if not m_ready:
                    stalls += 1
                    prev_stall = beat
                    continue
                prev_stall = None
                if beat[2]:
                    assert beat[:2] == (0, 0), self.msg(f"EOT beat with {beat[:2]}")
                    break
                beats.append(beat[:2])
            else:
                prev_stall = None
        want_beats = list(enumerate(expected))
        assert beats == want_beats, self.msg(f"beats {beats}, expected {want_beats}")
        want = accum.readout_cycles(self.nout, self.pool, stalls)
        assert cycles == want, self.msg(
            f"readout took {cycles} cycles with {stalls} stall cycles; contract: "
            f"NOUT*PKH*PKW + 3 + stalls = {want}")
        out = await self.step()
        assert not out["busy"], self.msg("still busy after the EOT transfer")
        self.stats["readouts"] += 1
        self.stats["beats"] += len(beats)
        self.stats["stall_cycles"] += stalls
        self.stats["negative_values"] += sum(v < 0 for v in expected)

    async def gap(self, cycles: int) -> None:
        for _ in range(cycles):
            out = await self.step()
            assert not out["busy"], self.msg("busy while idle")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_accum_images(name):
    cfg = CONFIGS[name]
    seed = _seed(name)
    dut = _make(cfg, seed)
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = AccumBench(ctx, dut, cd, seed)
        await b.reset()
        rng = b.rng
        images = 3
        for image in range(images):
            free = image == images - 1  # the last image: partial sums wrap modulo 2^A_WIDTH
            await b.clear()
            if image == 0:  # an immediate readout of a cleared map: K = BIAS[c]
                await b.readout(p_ready=1.0)
            for part in range(2 if image % 2 else 1):
                await b.updates(rng.choice([0.0, 0.0, 0.3, 0.7]), free=free)
                # image 1: the sweep right after the last update (accepted at e - 1, included)
                await b.gap(0 if image == 1 else rng.randrange(3))
                p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if image + part > 0 else 1.0
                await b.readout(p_ready, force_stall=part == 1, free=free)
                await b.gap(rng.randrange(3))

    run_sim(top, testbench)
    s = bench.stats
    for key in ("stall_cycles", "back_to_back_same_accumulator", "updates",
                "wrapped_accumulators", "negative_values"):
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"


@pytest.mark.parametrize("name", ["L2-pool2s2", "L4-tiny-rect"])
def test_accum_reset(name):
    """Reset while idle keeps the accumulators; reset in a readout and in a clear: idle right
    after, no beat pending, and everything works again (a readout does not change the
    accumulators, so the interrupted one can be repeated; a clear must be redone)."""
    cfg = CONFIGS[name]
    seed = _seed(name + "-reset")
    dut = _make(cfg, seed)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = AccumBench(ctx, dut, cd, seed)
        await b.reset()
        await b.clear()
        await b.updates(0.2)
        await b.gap(1)
        await b.reset(2)  # while idle: the accumulators are kept
        out = await b.step()
        assert not out["busy"] and not out["m_valid"], b.msg("not idle after reset")
        await b.readout(0.5)
        p = b.pool[0] * b.pool[1]
        for op, busy_cycles in (("sweep", b.nout * p), ("clear", b.rows)):
            out = await b.step(**{op: 1})
            for _ in range(b.rng.randrange(busy_cycles)):
                out = await b.step(m_ready=b.rng.randrange(2))
                assert out["busy"], b.msg(f"{op} ended early")
            out = await b.reset(1)
            assert out["busy"], b.msg(f"the reset is not in the {op}")
            out = await b.step()
            assert not out["busy"] and not out["m_valid"], b.msg(f"reset in a {op}")
            assert out["clear_ready"] and out["sweep_ready"], b.msg(f"reset in a {op}")
            if op == "sweep":  # the interrupted readout changed nothing
                await b.readout(0.7, force_stall=True)
        # the accumulators are undefined after a reset in a clear: clear, and all works again
        await b.clear()
        await b.updates(0.0)
        await b.readout(0.5, force_stall=True)

    run_sim(top, testbench)


_OK = dict(c=2, h=5, w=5, lanes=2, u_width=12, a_width=20, k_width=21, pkh=3, pkw=3, psh=2,
           psw=2, pph=1, ppw=1, bias_init=[0, 0])
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"c": 0, "bias_init": []}, "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"c": 1, "h": 1, "w": 1, **_NOPOOL, "bias_init": [0]},
     "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"a_width": 33}, "A_WIDTH_must_be_2_to_32"),
    ({"a_width": 1, "u_width": 1}, "A_WIDTH_must_be_2_to_32"),
    ({"u_width": 21}, "U_WIDTH_must_be_1_to_A_WIDTH"),
    ({"u_width": 0}, "U_WIDTH_must_be_1_to_A_WIDTH"),
    ({"k_width": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"k_width": 33}, "K_WIDTH_must_be_1_to_32"),
    ({"pkw": 0, "ppw": 0}, "PKH_PKW_must_be_at_least_1"),
    ({"psh": 0}, "PSH_PSW_must_be_at_least_1"),
    ({"pph": 3}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"ppw": -1}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"oh": 4}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"ow": 2}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"h": 1, "pph": 0}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"addr_width": 5, "lanes": 1, "c": 3, "bias_init": [0] * 3},
     "ADDR_WIDTH_too_small_for_N_over_LANES"),
    ({"out_index_width": 4}, "OUT_INDEX_WIDTH_must_be_clog2_NOUT_to_32"),
    ({"out_index_width": 33}, "OUT_INDEX_WIDTH_must_be_clog2_NOUT_to_32"),
    ({"c": 1, "h": 1 << 16, "w": 1 << 15, **_NOPOOL, "bias_init": [0]}, "map_too_large"),
    ({"bias_init": None}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
    ({"bias_init": [0]}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
    ({"bias_init": [0, 1 << 21]}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
    ({"bias_init": [-(1 << 20) - 1, 0]}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
    ({"bias_init": [0, 0.5]}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
    ({"bias_per_neuron": 2}, "BIAS_PER_NEURON_must_be_0_or_1"),
    ({"bias_per_neuron": True}, "BIAS_PER_NEURON_must_be_0_or_1"),
    ({"bias_per_neuron": 1}, "BIAS_PER_NEURON_needs_no_pooling"),
    ({"bias_per_neuron": 1, **_NOPOOL, "psw": 2}, "BIAS_PER_NEURON_needs_no_pooling"),
    ({"bias_per_neuron": 1, **_NOPOOL}, "BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_accum_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_accum_ERROR_{rule}: "):
        Accum(**{**_OK, **params})


def test_accum_good_edge_parameters():
    # the limits are accepted; numpy integers too; a bias may be given as the .mem word (the
    # unsigned two's complement, write_mem's range) or signed, and is kept signed
    dut = Accum(**{**_OK, "k_width": 8, "bias_init": np.array([255, -128])})
    assert dut.bias_init == [-1, -128] and (dut.oh, dut.ow) == (3, 3)
    assert (dut.addr_width, dut.out_index_width) == (5, 5)  # the Verilog's defaults
    Fragment.get(dut, None)  # elaborates
    for params in [
        {"c": np.int64(1), "h": 2, "w": 1, **_NOPOOL, "lanes": 4, "a_width": 2, "u_width": 2,
         "k_width": 1, "bias_init": [-1]},
        {"a_width": 32, "u_width": 32, "k_width": 32, "bias_init": [(1 << 32) - 1, -(1 << 31)],
         "addr_width": 32, "out_index_width": 32, "oh": 3, "ow": 3},
    ]:
        dut = Accum(**{**_OK, **params})
        Fragment.get(dut, None)


def test_accum_ports_match_the_verilog():
    dut = _make(CONFIGS["L2-pool2s2"], 0)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "upd_valid": (2, "i"),
        "upd_ready": (2, "o"), "upd_addr": (12, "i"), "upd_weight": (20, "i"),
        "sweep_valid": (1, "i"), "sweep_ready": (1, "o"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_index": (8, "o"), "m_value": (14, "o"), "m_eot": (1, "o"),
        "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_accum\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_accum (their defaults filled in)
LINT_CONFIGS = {
    "default": dict(c=2, h=4, w=4, lanes=1, u_width=12, a_width=20, k_width=21, **_NOPOOL),
    "L4-pool3s2p1": dict(c=2, h=7, w=5, lanes=4, pkh=3, pkw=3, psh=2, psw=2, pph=1, ppw=1,
                         u_width=22, a_width=26, k_width=27),
    "L2-C1": dict(c=1, h=2, w=1, lanes=2, u_width=12, a_width=12, k_width=8, **_NOPOOL),
    "L8-wide": dict(c=3, h=5, w=3, lanes=8, pkh=2, pkw=3, psh=1, psw=2, pph=1, ppw=1,
                    addr_width=7, out_index_width=10, a_width=32, k_width=32, u_width=1),
    "L2-28x28": dict(c=16, h=28, w=28, lanes=2, pkh=2, pkw=2, psh=2, psw=2, pph=0, ppw=0,
                     u_width=16, a_width=24, k_width=24),
    "L4-per-neuron-128": dict(c=1, h=1, w=128, lanes=4, u_width=12, a_width=20, k_width=21,
                              **_NOPOOL, bias_per_neuron=1),
    "L1-per-neuron-C3": dict(c=3, h=2, w=5, lanes=1, u_width=12, a_width=20, k_width=21,
                             **_NOPOOL, out_index_width=8, bias_per_neuron=1),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_accum_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(Accum(**cfg, bias_init=_random_bias(rng, _n_bias(cfg),
                                                                  cfg["k_width"])),
                              flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_accum", ACCUM_WAIVERS, tmp_path)


# the Verilog's registers (instance u, lane j in generate block g_lane[j]) -> Accum's names
_TOP_REGS = ["state_reg", "clr_row_reg", "m_valid_reg", "m_eot_reg", "m_index_reg",
             "m_value_reg", "a_run_reg", "a_eot_reg", "a_c_reg", "a_y_reg", "a_x_reg",
             "a_i_reg", "a_j_reg", "a_h_reg", "a_w_reg", "a_n_reg", "win_h_reg", "win_w_reg",
             "win_n_reg", "a_m_reg", "b_valid_reg", "b_eot_reg", "b_in_reg", "b_first_reg",
             "b_last_reg", "b_lane_reg", "b_m_reg", "max_reg", "have_reg", "bias_q"]
_LANE_REGS = ["s1_valid_reg", "s1_row_reg", "s1_w_reg", "wb_valid_reg", "wb_row_reg",
              "wb_data_reg", "rd_q"]
EQUIV_CONFIGS = {
    "L4-pool3s2p1": dict(c=2, h=3, w=3, lanes=4, u_width=4, a_width=6, k_width=7,
                         pkh=3, pkw=3, psh=2, psw=2, pph=1, ppw=1),
    "L1-nopool-wide-ports": dict(c=3, h=1, w=3, lanes=1, u_width=5, a_width=7, k_width=5,
                                 **_NOPOOL, addr_width=6, out_index_width=7),
    "L2-pad2-negstep": dict(c=2, h=2, w=3, lanes=2, u_width=3, a_width=5, k_width=6,
                            pkh=1, pkw=3, psh=1, psw=1, pph=0, ppw=2),
    "L2-C1-rect-U=A": dict(c=1, h=2, w=1, lanes=2, u_width=5, a_width=5, k_width=4,
                           pkh=2, pkw=3, psh=1, psw=2, pph=1, ppw=1),
    "L4-per-neuron": dict(c=1, h=1, w=8, lanes=4, u_width=4, a_width=6, k_width=5,
                          **_NOPOOL, bias_per_neuron=1),
}


def _prove(dut: Accum, bias_words: list[int], tmp_path) -> None:
    """check_equivalence of ``dut`` against snn_accum.v with ``bias_words`` in BIAS_FILE."""
    write_mem(tmp_path / "bias.mem", bias_words, dut.k_width)
    pkh, pkw, psh, psw, pph, ppw = dut.pool
    params = dict(C=dut.c, H=dut.h, W=dut.w, LANES=dut.lanes, U_WIDTH=dut.u_width,
                  A_WIDTH=dut.a_width, K_WIDTH=dut.k_width, PKH=pkh, PKW=pkw, PSH=psh,
                  PSW=psw, PPH=pph, PPW=ppw, OH=dut.oh, OW=dut.ow, ADDR_WIDTH=dut.addr_width,
                  OUT_INDEX_WIDTH=dut.out_index_width, BIAS_PER_NEURON=dut.bias_per_neuron,
                  BIAS_FILE="bias.mem")
    renames = [(f"u.{r}", r) for r in _TOP_REGS]
    for j in range(dut.lanes):
        renames += [(f"u.g_lane[{j}].{r}", f"{r}_{j}") for r in _LANE_REGS]
        renames += [(f"u.g_lane[{j}].mem[{i}]", f"bank{j}[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_accum_formally_equivalent_to_the_verilog(name, tmp_path):
    cfg = EQUIV_CONFIGS[name]
    bias = _random_bias(random.Random(name), _n_bias(cfg), cfg["k_width"])
    bias[0] = -(1 << (cfg["k_width"] - 1))  # the most negative word
    dut = Accum(**cfg, bias_init=bias)
    _prove(dut, bias, tmp_path)


def test_accum_equivalence_proof_sees_a_wrong_bias(tmp_path):
    """The biases are constants of both designs (Yosys folds the ROMs): the proof compares them
    through bias_q, so a gate with another bias is not equivalent."""
    cfg = EQUIV_CONFIGS["L4-pool3s2p1"]
    dut = Accum(**cfg, bias_init=[5, -3])
    with pytest.raises(AssertionError, match="not proven equivalent"):
        _prove(dut, [5, -2], tmp_path)
