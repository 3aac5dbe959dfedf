"""snngen.backends.amaranth.maxpool_gate.MaxPoolGate (the Amaranth twin of
snngen/backends/verilog/rtl/snn_maxpool_gate.v) in amaranth.sim.

The same bench as rtl_tests/cocotb_maxpool_gate.py, cycle by cycle: images of timesteps. Per
image: a clear (offered together with an event or EOT, which must lose; exactly C*H*W busy
cycles refusing everything offered), then per timestep a random spike pattern (empty,
all-spiking, or random densities on top of a few neurons that spike in every timestep of the
last image, so that counts reach the image's T and ties are common) as input events in random,
ascending or descending order with random gaps, then the EOT beat; then the sweep under random
backpressure with junk offered on the input side (refused). Every output event of every
timestep is compared with ``==`` against ``snngen.golden.model.maxpool_gate`` (and the model
``snngen.hwmodel.blocks.gate.gate_step`` must agree). Exact cycle counts from the contract
(``snngen.hwmodel.blocks.gate``): every input beat accepted in the cycle it is offered
(``collect_cycles``), output o's event first offered right after edge
``event_offer_cycle(o, stalls so far)``, the output EOT transfer exactly ``sweep_cycles(stalls)``
after the input EOT's acceptance edge, busy in every cycle of it, an offered event held
unchanged while stalled; the readies follow the priority rule (clear > event, both only idle)
in every cycle. Geometries: disjoint windows, overlapping windows with padding on both axes,
stride 1 (every input in up to 9 windows), non-square kernel/stride/padding with counts up to
2^CNT_WIDTH - 1, a 1x1 subsampling; index ports at their minimum and wider.

Seeded from SNN_SEED (else a fresh seed), mixed with the configuration's name; the seed is in
every assertion message. Plus: reset (in a sweep, in a clear, while idle: RAM and ts kept, an
interrupted sweep can be redone), a clear in the middle of a timestep, the parameter checks with
the Verilog's rule words, the port list, Verilator lint of the converted Verilog, and a formal
proof (Yosys equiv_induct) that the converted module and
snngen/backends/verilog/rtl/snn_maxpool_gate.v are equivalent cycle for cycle (every register,
memory word and output).
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
from snngen.backends.amaranth.maxpool_gate import MaxPoolGate
from snngen.flows import simrun
from snngen.golden.model import maxpool_gate
from snngen.hwmodel.blocks.gate import (
    GateGeometry,
    clear_cycles,
    collect_cycles,
    event_offer_cycle,
    gate_step,
    sweep_cycles,
    sweep_order,
)
from snngen.ir.graph import maxpool


def _params(c, h, w, k, s, p, cnt, iw=None, ow=None) -> dict:
    """MaxPoolGate's parameters (the Verilog's, lowercased) for a torch-style geometry."""
    g = GateGeometry.make((c, h, w), k, s, p)
    params = {name.lower(): value for name, value in g.verilog_params(cnt).items()}
    if iw is not None:
        params["in_index_width"] = iw
    if ow is not None:
        params["out_index_width"] = ow
    return params


# (parameters, images, timesteps per image (lo, hi)); hi < 2^cnt_width. The first four are
# rtl_tests/test_maxpool_gate.py's configurations, with its images and timesteps.
CONFIGS: dict[str, tuple[dict, int, tuple[int, int]]] = {
    # 2x2 stride 2, disjoint windows
    "c3-6x6-k2s2": (_params(3, 6, 6, 2, 2, 0, 5), 3, (8, 20)),
    # 3x3 stride 2 padding 1, odd H and W: overlapping windows; index ports wider than needed
    "c2-7x5-k3s2p1": (_params(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8), 3, (8, 12)),
    # 3x3 stride 1 padding 1: every input in up to 9 windows
    "c1-5x6-k3s1p1": (_params(1, 5, 6, 3, 1, 1, 8), 3, (8, 12)),
    # H != W, 2x3 kernel, strides 2/1, column padding only, row 4 in no window; cnt_width 4
    # with 15 timesteps in the last image: counts reach 15 = 2^4 - 1
    "c1-5x7-k2x3s2x1p0x1-cnt4": (_params(1, 5, 7, (2, 3), (2, 1), (0, 1), 4), 3, (8, 15)),
    # 1x1 kernel with stride 2: a subsampling (no ties, nothing blocked); cnt_width 2, T = 3
    "c2-6x5-k1s2-cnt2": (_params(2, 6, 5, 1, 2, 0, 2, iw=7), 3, (3, 3)),
}


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


class GateBench:
    """One cycle at a time: drive every input (one packed word per cycle), check the readies,
    sample the outputs, tick. Keeps the model counts of the current image."""

    def __init__(self, ctx, dut: MaxPoolGate, cd, seed: int) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x6A7E)
        g = GateGeometry(dut.c, dut.h, dut.w, dut.kh, dut.kw, dut.sh, dut.sw, dut.ph, dut.pw)
        assert (dut.oh, dut.ow) == (g.OH, g.OW)
        self.g = g
        self.op = maxpool((g.KH, g.KW), (g.SH, g.SW), (g.PH, g.PW))
        self.iw, self.ow = dut.in_index_width, dut.out_index_width
        self.shape = (g.C, g.H, g.W)
        self.counts = np.zeros(self.shape, dtype=np.int64)
        # the output windows as lists of input indices (padding left out), for the statistics
        self.windows: list[list[int]] = [[] for _ in range(g.n_out)]
        for o, i in sweep_order(g):
            if i is not None:
                self.windows[o].append(i)
        self.cycle = 0
        self.prev: tuple | None = None  # outputs of the last cycle when it was a stall
        self.stats: collections.Counter = collections.Counter()
        # inputs: clear_valid, s.valid, s.payload {index, eot}, m.ready in one word; outputs
        # in another (each ctx.set costs a settle of the design)
        self.inputs = Cat(dut.clear_valid, dut.s.valid, dut.s.payload.as_value(), dut.m.ready)
        self.outputs = Cat(dut.busy, dut.clear_ready, dut.s.ready, dut.m.valid,
                           dut.m.payload.eot, dut.m.payload.index)
        self.last_inputs: int | None = None

    def msg(self, text: str) -> str:
        return f"seed {self.seed} (SNN_SEED), cycle {self.cycle}: {text}"

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, ev=None, eot=0, m_ready=1) -> dict:
        """Drive one cycle: ``ev`` an input index (with ``eot`` 0) or None; ``eot`` 1 offers the
        EOT beat (``ev`` then only fills the index). Returns the sampled outputs."""
        s_valid = int(ev is not None or bool(eot))
        index = ev if ev is not None else self.rng.getrandbits(self.iw)
        eot_bit = eot if s_valid else self.rng.randrange(2)
        word = (clear | s_valid << 1 | index << 2 | eot_bit << (2 + self.iw)
                | m_ready << (3 + self.iw))
        if word != self.last_inputs:
            self.ctx.set(self.inputs, word)
            self.last_inputs = word
        o = self.ctx.get(self.outputs)
        out = {"busy": o & 1, "clear_ready": o >> 1 & 1, "s_ready": o >> 2 & 1,
               "m_valid": o >> 3 & 1}
        idle = not out["busy"]
        expect = (int(idle), int(idle and not clear))
        got = (out["clear_ready"], out["s_ready"])
        assert got == expect, self.msg(f"readies (clear, s) {got}, expected {expect}")
        if out["m_valid"]:
            out["m_eot"] = o >> 4 & 1
            out["m_index"] = o >> 5
        if self.prev is not None:  # the last cycle stalled: the same event must still be there
            same = (out["m_valid"], out.get("m_index"), out.get("m_eot"))
            assert same == self.prev, self.msg(f"stalled event changed: {self.prev} -> {same}")
        stall = bool(out["m_valid"] and not m_ready)
        self.prev = (out["m_valid"], out.get("m_index"), out.get("m_eot")) if stall else None
        out["stall"] = int(stall)
        out["s_fire"] = int(bool(s_valid and out["s_ready"]))
        out["m_fire"] = int(bool(out["m_valid"] and m_ready))
        self.cycle += 1
        await self.ctx.tick()
        return out

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must be refused."""
        rng = self.rng
        r = rng.random()
        ev = rng.randrange(self.g.n_in) if r < 0.5 else None
        return {"clear": int(rng.random() < 0.3), "ev": ev, "eot": int(0.5 <= r < 0.7)}

    # --- operations --------------------------------------------------------------------------

    async def reset(self, cycles: int = 2) -> None:
        self.ctx.set(self.cd.rst, 1)
        for _ in range(cycles):
            # random events and EOT beats, no clear: a clear offered in a reset cycle while
            # idle sets ts to 1 (the datapath registers are not reset), which the contract
            # leaves open (inputs in reset are not transfers)
            self.prev = None
            await self.step(m_ready=self.rng.randrange(2), **{**self.junk(), "clear": 0})
        self.ctx.set(self.cd.rst, 0)
        self.prev = None
        out = await self.step(m_ready=0)
        assert not out["busy"] and not out["m_valid"], self.msg(f"after reset: {out}")
        self.stats["resets"] += 1

    async def clear(self) -> None:
        # the clear wins over an event or EOT offered with it
        out = await self.step(clear=1, ev=self.rng.randrange(self.g.n_in),
                              eot=self.rng.randrange(2))
        assert out["clear_ready"] and not out["s_fire"] and not out["busy"], self.msg(
            f"clear refused: {out}")
        n = clear_cycles(self.g)
        for i in range(n):
            out = await self.step(m_ready=self.rng.randrange(2), **self.junk())
            assert out["busy"], self.msg(f"clear ended after {i} cycles, expected {n}")
            assert not out["m_valid"], self.msg("m.valid during a clear")
        out = await self.step()
        assert not out["busy"], self.msg(f"clear still busy after C*H*W={n} cycles")
        self.counts[:] = 0
        self.stats["clears"] += 1

    def pattern(self, rates: np.ndarray, always: np.ndarray, allow_empty: bool,
                force: str = "") -> np.ndarray:
        """This timestep's input spikes: none, all, or each neuron with its own rate (times a
        random scale), plus the always-on neurons. ``force`` "empty"/"all" picks one."""
        rng = self.rng
        r = rng.random()
        if force:
            r = 0.0 if force == "empty" else 0.2
        if r < 0.12 and allow_empty:
            self.stats["empty_timesteps"] += 1
            return np.zeros(self.shape, dtype=bool)
        if r < 0.24:
            self.stats["all_spiking_timesteps"] += 1
            return np.ones(self.shape, dtype=bool)
        scale = rng.choice([0.3, 0.7, 1.0, 1.5])
        flat = [rng.random() < p * scale for p in rates.reshape(-1)]
        return np.array(flat, dtype=bool).reshape(self.shape) | always

    def expected(self, spikes: np.ndarray) -> tuple[list[int], np.ndarray]:
        """The output indices of this timestep (golden; the model must agree), new counts."""
        g = self.g
        new_counts = self.counts + spikes
        gold = maxpool_gate(spikes[None].astype(np.int64), new_counts[None], self.op)[0]
        model, model_counts = gate_step(spikes, self.counts, (g.KH, g.KW), (g.SH, g.SW),
                                        (g.PH, g.PW))
        assert np.array_equal(model_counts, new_counts)
        assert np.array_equal(model, gold.astype(bool)), "gate_step disagrees with golden"
        self.statistics(spikes, new_counts, gold.reshape(-1))
        return [int(o) for o in np.flatnonzero(gold.reshape(-1))], new_counts

    async def collect(self, spikes: np.ndarray, p_gap: float, eot: bool = True) -> None:
        """The events of ``spikes`` in random/descending/ascending order with random gaps, then
        (``eot``) the EOT beat: each accepted in the cycle it is offered."""
        rng = self.rng
        events = [int(i) for i in np.flatnonzero(spikes.reshape(-1))]
        order = rng.random()
        if order < 0.6:
            rng.shuffle(events)
            self.stats["random_order"] += 1
        elif order < 0.8:
            events.reverse()
        cycles = gaps = 0
        for i in [*events, None] if eot else events:
            while rng.random() < p_gap:
                out = await self.step(m_ready=rng.randrange(2))
                assert not out["busy"] and not out["m_valid"], self.msg(f"gap: {out}")
                gaps += 1
                cycles += 1
            out = await self.step(ev=i, eot=int(i is None), m_ready=rng.randrange(2))
            assert out["s_fire"], self.msg("input beat refused while idle")
            assert not out["m_valid"], self.msg("m.valid while collecting")
            cycles += 1
        if eot:
            assert cycles == collect_cycles(len(events)) + gaps
        self.stats["events_in"] += len(events)
        self.stats["input_gap_cycles"] += gaps

    async def sweep(self, expected: list[int], p_ready: float, stop_after: int | None = None,
                    force_stall: bool = False) -> bool:
        """The sweep of a timestep whose EOT was accepted at the last edge e: sweep cycle j lies
        between edges e + j - 1 and e + j. Checks the events and every cycle count; with
        ``stop_after`` returns False after that many cycles (the caller resets)."""
        g, rng = self.g, self.rng
        got: list[int] = []
        stalls = j = 0
        offered = False  # an event is being held from an earlier cycle
        while True:
            if stop_after is not None and j == stop_after:
                return False
            j += 1
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and j == sweep_cycles(g):
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            assert out["busy"], self.msg(f"busy low {j} cycles into a sweep")
            assert not out["s_fire"], self.msg("input accepted during a sweep")
            assert j <= 10 * sweep_cycles(g) + 1000, self.msg("the sweep never ends")
            if out["m_valid"] and not offered:
                if out["m_eot"]:
                    want = sweep_cycles(g, stalls)  # loaded at e + 2 + P + stalls
                    assert out["m_index"] == 0, self.msg("EOT event with a nonzero index")
                else:
                    want = event_offer_cycle(g, out["m_index"], stalls) + 1
                assert j == want, self.msg(
                    f"event {out['m_index']} eot={out['m_eot']} offered in sweep cycle {j}, "
                    f"contract says {want} (stalls so far {stalls})")
            offered = bool(out["stall"])
            stalls += out["stall"]
            if out["m_fire"]:
                if out["m_eot"]:
                    break
                got.append(out["m_index"])
        assert got == expected, self.msg(f"events {got}, expected {expected}")
        assert j == sweep_cycles(g, stalls), self.msg(
            f"sweep took {j} cycles with {stalls} stall cycles; contract: "
            f"C*OH*OW*KH*KW + 3 + stalls = {sweep_cycles(g, stalls)}")
        self.stats["timesteps"] += 1
        self.stats["events_out"] += len(got)
        self.stats["stall_cycles"] += stalls
        return True

    async def timestep(self, spikes: np.ndarray, p_gap: float, p_ready: float,
                       force_stall: bool = False) -> None:
        expected, new_counts = self.expected(spikes)
        await self.collect(spikes, p_gap)
        await self.sweep(expected, p_ready, force_stall=force_stall)
        self.counts = new_counts

    async def idle_gap(self) -> None:
        for _ in range(self.rng.randrange(3)):
            out = await self.step(m_ready=self.rng.randrange(2))
            assert not out["busy"] and not out["m_valid"], self.msg(f"idle gap: {out}")

    def statistics(self, spikes: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:
        s, c = spikes.reshape(-1), counts.reshape(-1)
        for o, win in enumerate(self.windows):
            if not any(s[i] for i in win):
                continue
            best = max(c[i] for i in win)
            if not out[o]:
                self.stats["blocked_windows"] += 1  # a spike in the window, not the maximum
            elif sum(1 for i in win if c[i] == best) > 1:
                self.stats["tied_windows"] += 1  # passed with a tie for the maximum
        self.stats["max_count"] = max(self.stats["max_count"], int(c.max()))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_maxpool_gate_images(name):
    params, images, (t_lo, t_hi) = CONFIGS[name]
    assert t_hi < 2 ** params["cnt_width"], "the counts would overflow cnt_width"
    seed = _seed(name)
    dut = MaxPoolGate(**params)
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = GateBench(ctx, dut, cd, seed)
        await b.reset()
        rng = b.rng
        n_in = b.g.n_in
        for image in range(images):
            await b.clear()
            last = image == images - 1
            # the last image runs the most timesteps: its always-on neurons reach count t_hi
            steps = t_hi if last else rng.randint(t_lo, t_hi)
            rates = np.array([rng.random() ** 2 for _ in range(n_in)])
            always = np.zeros(n_in, dtype=bool)
            if last:
                always[rng.sample(range(n_in), max(1, n_in // 20))] = True
            always = always.reshape(b.shape)
            force = {(0, 0): "empty", (0, 2): "all", (1, 1): "all", (1, 2): "empty"}
            for t in range(steps):
                spikes = b.pattern(rates, always, allow_empty=not last,
                                   force=force.get((image, t), ""))
                p_gap = rng.choice([0.0, 0.0, 0.2, 0.5])
                p_ready = rng.choice([1.0, 1.0, 0.7, 0.3]) if t > 0 else 1.0
                await b.timestep(spikes, p_gap, p_ready, force_stall=t == 1)
                await b.idle_gap()

    run_sim(top, testbench)
    s = bench.stats
    keys = ["stall_cycles", "events_out", "empty_timesteps", "all_spiking_timesteps",
            "random_order", "input_gap_cycles"]
    if dut.kh * dut.kw > 1:  # a 1x1 window has neither ties nor blocked spikes
        keys += ["blocked_windows", "tied_windows"]
    for key in keys:
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"
    assert s["max_count"] == t_hi, f"seed {seed}: counts never reached {t_hi}: {dict(s)}"


@pytest.mark.parametrize("name", ["c2-7x5-k3s2p1", "c1-5x7-k2x3s2x1p0x1-cnt4"])
def test_maxpool_gate_reset_and_clear_mid_timestep(name):
    """Reset keeps the RAM and ts: a sweep cut by a reset, redone with an EOT alone, gives the
    same events; reset while idle loses nothing; reset in a clear leaves the gate idle (then
    clear again). A clear accepted after some events of a timestep drops them."""
    params = CONFIGS[name][0]
    seed = _seed(name + "-reset")
    dut = MaxPoolGate(**params)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = GateBench(ctx, dut, cd, seed)
        rng = b.rng
        await b.reset()
        await b.clear()
        rates = np.full(b.shape, 0.4)
        none = np.zeros(b.shape, dtype=bool)
        for _ in range(2):
            await b.timestep(b.pattern(rates, none, True), 0.2, 0.5)
        # a sweep cut by a reset (after some events came out), then redone: the same events,
        # exact cycle counts; the collect's RAM writes and ts survived the reset
        spikes = b.pattern(rates, none, False, force="")
        expected, new_counts = b.expected(spikes)
        await b.collect(spikes, 0.0)
        cut = rng.randrange(2, sweep_cycles(b.g))
        assert not await b.sweep(expected, 0.6, stop_after=cut)
        await b.reset(rng.randint(1, 2))
        await b.collect(none, 0.0)  # the EOT beat alone
        await b.sweep(expected, 0.6)
        b.counts = new_counts
        b.stats["redone_sweeps"] += 1
        # reset while idle: nothing lost
        await b.reset(1)
        await b.timestep(b.pattern(rates, none, True), 0.0, 0.7)
        # a clear after some events of a timestep (no EOT): they are dropped, ts is 1 again
        spikes = b.pattern(rates, none, False, force="all")
        await b.collect(spikes, 0.3, eot=False)
        await b.clear()
        await b.timestep(b.pattern(rates, none, True), 0.1, 0.5)
        # reset in the middle of a clear: idle right after; clear again and everything works
        out = await b.step(clear=1)
        assert out["clear_ready"], b.msg("clear refused")
        for _ in range(rng.randrange(1, b.g.n_in)):
            out = await b.step(m_ready=rng.randrange(2), **b.junk())
            assert out["busy"], b.msg("clear ended early")
        await b.reset(1)
        await b.clear()
        for _ in range(3):
            await b.timestep(b.pattern(rates, none, True), 0.2, 0.5, force_stall=True)
        assert b.stats["redone_sweeps"] == 1 and b.stats["timesteps"] == 8

    run_sim(top, testbench)


@pytest.mark.parametrize("name", ["c2-6x5-k1s2-cnt2", "c1-5x7-k2x3s2x1p0x1-cnt4"])
def test_maxpool_gate_stale_tags(name):
    """The tags of earlier timesteps never look current, up to the last timestep an image may
    have (2^cnt_width - 1): one timestep with spikes (the first, then the second), then empty
    timesteps only, each of which must give no event (a ts that skips or repeats a value
    would make old tags match)."""
    params = CONFIGS[name][0]
    seed = _seed(name + "-stale")
    dut = MaxPoolGate(**params)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = GateBench(ctx, dut, cd, seed)
        await b.reset()
        rates = np.full(b.shape, 0.5)
        none = np.zeros(b.shape, dtype=bool)
        for first in (0, 1):
            await b.clear()
            for t in range((1 << dut.cnt_width) - 1):
                spikes = b.pattern(rates, none, False) if t == first else none
                await b.timestep(spikes, 0.0, 0.8)
        assert b.stats["events_out"] > 0 and b.stats["timesteps"] == 2 * t + 2

    run_sim(top, testbench)


_OK = _params(2, 7, 5, 3, 2, 1, 6)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"c": 0, "out_index_width": 1, "in_index_width": 1}, "C_must_be_at_least_1"),
    ({"h": 0}, "H_and_W_must_be_at_least_1"),
    ({"kw": 0}, "KH_and_KW_must_be_at_least_1"),
    ({"sh": 0}, "SH_and_SW_must_be_at_least_1"),
    ({"ph": 3}, "PH_must_be_0_to_KH_minus_1"),
    ({"pw": -1}, "PW_must_be_0_to_KW_minus_1"),
    ({"h": 1, "kh": 4, "ph": 1, "oh": 1}, "KH_must_be_at_most_H_plus_2_PH"),
    ({"w": 2, "kw": 5, "pw": 1, "ow": 1}, "KW_must_be_at_most_W_plus_2_PW"),
    ({"oh": 3}, "OH_must_be_H_plus_2_PH_minus_KH_over_SH_plus_1"),
    ({"ow": 4}, "OW_must_be_W_plus_2_PW_minus_KW_over_SW_plus_1"),
    ({"cnt_width": 0}, "CNT_WIDTH_must_be_1_to_32"),
    ({"cnt_width": 33}, "CNT_WIDTH_must_be_1_to_32"),
    ({"in_index_width": 6}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"in_index_width": 33}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"out_index_width": 4}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
    ({"out_index_width": 0}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
    ({"c": 1 << 12, "h": 1 << 9, "w": 1 << 9, "oh": None, "ow": None, "in_index_width": 32,
      "out_index_width": 32},
     "C_H_W_map_too_large"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS, ids=[r for _, r in BAD_PARAMS])
def test_maxpool_gate_bad_parameters(params, rule):
    # the same cases as rtl_tests/test_maxpool_gate.py (the Verilog's elaboration errors)
    with pytest.raises(ValueError, match=f"snn_maxpool_gate_ERROR_{rule}: "):
        MaxPoolGate(**{**_OK, **params})


def test_maxpool_gate_defaults():
    # the Verilog's default expressions: SH/SW = the window, OH/OW from the geometry, the
    # index widths at their minimum (at least 1), CNT_WIDTH 8; numpy integers are accepted
    dut = MaxPoolGate(np.int64(2), 7, 5, 3, 2, ph=1)
    assert (dut.sh, dut.sw, dut.oh, dut.ow) == (3, 2, 3, 2)
    assert (dut.cnt_width, dut.in_index_width, dut.out_index_width) == (8, 7, 4)
    Fragment.get(dut, None)  # elaborates
    dut = MaxPoolGate(1, 1, 1, 1, 1, cnt_width=1)
    assert (dut.oh, dut.ow, dut.in_index_width, dut.out_index_width, dut.depth) == (
        1, 1, 1, 1, 2)
    Fragment.get(dut, None)
    # positional parameters in the Verilog's order
    dut = MaxPoolGate(2, 7, 5, 3, 3, 2, 2, 1, 1, 4, 3, 6)
    Fragment.get(dut, None)
    for key, want in _params(2, 7, 5, 3, 2, 1, 6).items():
        assert getattr(dut, key) == want, key


def test_maxpool_gate_ports_match_the_verilog():
    dut = MaxPoolGate(**_params(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8))
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "s_valid": (1, "i"),
        "s_ready": (1, "o"), "s_index": (10, "i"), "s_eot": (1, "i"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_index": (8, "o"), "m_eot": (1, "o"), "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_maxpool_gate\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


MAXPOOL_GATE_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC")
assert set(MAXPOOL_GATE_WAIVERS) <= set(LINT_REASONS)

# the parameter sets of rtl_tests/test_lint.py for snn_maxpool_gate ({} = the Verilog defaults)
LINT_CONFIGS = {
    "default": dict(c=2, h=6, w=6, kh=2, kw=2),
    "c2-7x5-k3s2p1": _params(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8),
    "c1-1x1-k1-cnt1": _params(1, 1, 1, 1, 1, 0, 1),
    "c16-28x28-k2s2": _params(16, 28, 28, 2, 2, 0, 9),
    "c3-13x11-k3x2s2x3p1-cnt32": _params(3, 13, 11, (3, 2), (2, 3), (1, 1), 32, iw=32, ow=32),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_maxpool_gate_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(MaxPoolGate(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_maxpool_gate", MAXPOOL_GATE_WAIVERS, tmp_path)


# every register of snn_maxpool_gate.v (instance u) keeps its name in MaxPoolGate
_REGS = ["state_reg", "ts_reg", "clr_addr_reg", "ev_valid_reg", "ev_addr_reg", "m_valid_reg",
         "m_eot_reg", "m_index_reg", "a_run_reg", "a_eot_reg", "oc_reg", "oy_reg", "ox_reg",
         "ky_reg", "kx_reg", "h0_reg", "w0_reg", "h_reg", "w_reg", "cbase_reg", "lbase_reg",
         "base_reg", "row_reg", "addr_reg", "b_valid_reg", "b_eot_reg", "b_pad_reg",
         "b_last_reg", "best_reg", "hit_reg", "oidx_reg", "rd_q"]
EQUIV_CONFIGS = {
    # overlapping windows (stride 1), two timestep bits
    "c1-3x3-k2s1-cnt2": _params(1, 3, 3, 2, 1, 0, 2),
    # padding on both axes, two channels, index ports wider than needed
    "c2-3x2-k2s2p1-cnt3": _params(2, 3, 2, 2, 2, 1, 3, iw=5, ow=4),
    # non-square window, strides 2/1, row padding, a row in no window
    "c1-4x3-k3x2s2x1p1x0-cnt2": _params(1, 4, 3, (3, 2), (2, 1), (1, 0), 2),
    # the smallest gate: one neuron (a RAM of 2 words), every width 1
    "c1-1x1-k1-cnt1": _params(1, 1, 1, 1, 1, 0, 1),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_maxpool_gate_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = MaxPoolGate(**EQUIV_CONFIGS[name])
    params = dict(C=dut.c, H=dut.h, W=dut.w, KH=dut.kh, KW=dut.kw, SH=dut.sh, SW=dut.sw,
                  PH=dut.ph, PW=dut.pw, OH=dut.oh, OW=dut.ow, CNT_WIDTH=dut.cnt_width,
                  IN_INDEX_WIDTH=dut.in_index_width, OUT_INDEX_WIDTH=dut.out_index_width)
    renames = [(f"u.{r}", r) for r in _REGS]
    renames += [(f"u.mem[{i}]", f"mem[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)
