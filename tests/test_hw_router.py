"""snngen.backends.amaranth.router.Router (the Amaranth twin of
snngen/backends/verilog/rtl/snn_router.v) in amaranth.sim.

The same bench as rtl_tests/cocotb_router.py, cycle by cycle. The testbench plays the IF array:
it records every update transfer, drops random upd_ready bits (partial groups: some lanes of a
group transfer, the others wait) and delays sweep_ready randomly. Several timesteps of ascending
input events (none, all, only the first, only the last, random densities; pixel values with
value_width > 0, random junk on s.payload.value with value_width = 0, which must be ignored),
offered back to back or with random gaps. Per timestep:

(a) golden: the per-neuron sum of the transferred updates (neuron upd_addr*lanes + lane) equals
    snngen.golden.model.synaptic_current of the IR node for the event pattern, with ``==``;
(b) the sequence of groups (the lanes of one issue slot, with their neurons and weights) equals
    snngen.hwmodel.blocks.router.groups, weight = W[o, c, kh, kw] * value;
(c) cycles: back to back, sweep_valid first rises at edge e0 + SWEEP_LATENCY + sum max(G, 1) +
    the stall cycles; without stalls, every acceptance edge, every group's transfer edge and the
    sweep edge equal rtlmodel.router.schedule (for gapped inputs too), and the first update
    transfers at e0 + FIRST_UPDATE_LATENCY.

Protocol checks every cycle: a lane's update and sweep_valid are held until they transfer, no
update is offered together with sweep_valid, s.ready is low from an EOT's acceptance until the
sweep handshake (the next timestep's first event is offered meanwhile) and high in the cycle
after it, busy is high while anything is in flight and low once the sweep is done, and (on
random cycles) no output moves when only s.valid and s.payload change. One timestep is cut short
by rst in the middle: the router must come back idle with nothing in flight.

Geometries: a conv with stride 2 and padding 1 (2 lanes), a Linear through the mapping (4 lanes),
the first layer's pixel-value conv (value_width 6, 4 lanes, ports wider than needed), a 1x1
stride-2 conv on 1 lane (events that reach nothing: G = 0) and an asymmetric conv (SW = 3, most
ROM fields empty) with a 2-bit value. Seeded from SNN_SEED (else a fresh seed), mixed with the
configuration's name; the seed is in every assertion message. Plus: the parameter checks with the
Verilog's rule words, the port list, Verilator lint of the Verilog, and a formal proof (Yosys
equiv_induct) that the converted module and snngen/backends/verilog/rtl/snn_router.v are equivalent
cycle for cycle (every register and output) for four parameter sets.
"""

from __future__ import annotations

import collections
import random
import re
import zlib
from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Cat, Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint, run_sim, sim_top

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.router import Router
from snngen.backends.verilog.memfile import write_mem
from snngen.flows import simrun
from snngen.golden.model import synaptic_current
from snngen.hwmodel.blocks import router as rm
from snngen.ir import graph as ir
from snngen.resources import rtl_dir

CONFIGS: dict[str, dict] = {
    "conv3x3-s2-p1-L2": dict(kind="conv", in_shape=(2, 5, 5), cout=3, kernel=(3, 3),
                             stride=(2, 2), padding=(1, 1), lanes=2, w_width=6, value_width=0),
    "linear12x6-L4": dict(kind="linear", f_in=12, f_out=6, lanes=4, w_width=5, value_width=0),
    "pixels-v6-L4": dict(kind="conv", in_shape=(1, 4, 5), cout=2, kernel=(3, 3), stride=(1, 1),
                         padding=(1, 1), lanes=4, w_width=6, value_width=6, in_index_width=7,
                         addr_width=5),
    "conv1x1-s2-L1": dict(kind="conv", in_shape=(2, 5, 4), cout=2, kernel=(1, 1),
                          stride=(2, 2), padding=(0, 0), lanes=1, w_width=4, value_width=0,
                          expect_empty_events=True),
    "conv2x4-s1x3-L2-v2": dict(kind="conv", in_shape=(1, 4, 7), cout=2, kernel=(2, 4),
                               stride=(1, 3), padding=(1, 2), lanes=2, w_width=3,
                               value_width=2),
}
ROUTER_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC")
assert set(ROUTER_WAIVERS) <= set(LINT_REASONS)


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


def _signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) else v


def make_node(spec: dict, rng: random.Random) -> tuple[ir.Node, tuple[int, ...]]:
    """The IR node of a layer set (ir.conv / ir.linear, no bias) with random w_width-bit
    integer weights covering both extremes and zeros, and its input shape (as
    rtl_tests/test_router.py makes them)."""
    ww = spec["w_width"]
    lo, hi = -(1 << (ww - 1)), (1 << (ww - 1)) - 1
    if spec["kind"] == "linear":
        shape: tuple[int, ...] = (spec["f_out"], spec["f_in"])
        in_shape: tuple[int, ...] = (spec["f_in"],)
    else:
        in_shape = tuple(spec["in_shape"])
        shape = (spec["cout"], in_shape[0], *spec["kernel"])
    w = np.array([rng.choice([lo, hi, 0]) if rng.random() < 0.2 else rng.randint(lo, hi)
                  for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
    op = ir.linear(w) if spec["kind"] == "linear" else ir.conv(w, stride=spec["stride"],
                                                                padding=spec["padding"])
    op = replace(op, weight=w)  # integer weights, as in a quantised graph
    return ir.Node("layer", op, ("x",), ir.infer_shape(op, [in_shape])), in_shape


def make_router(spec: dict, rng: random.Random) -> tuple[Router, ir.Node, tuple[int, ...]]:
    """The Router of a layer set, its ROM from rom_words exactly as snngen.backends.verilog.writer
    writes the .mem file."""
    node, in_shape = make_node(spec, rng)
    geom = rm.geometry(node, in_shape)
    words = rm.rom_words(geom, rm.weight4d(node), spec["lanes"], spec["w_width"])
    extra = {k: spec[k] for k in ("in_index_width", "addr_width") if k in spec}
    dut = Router(**{k.lower(): v for k, v in geom.params().items()}, lanes=spec["lanes"],
                 w_width=spec["w_width"], value_width=spec["value_width"], weight_init=words,
                 **extra)
    return dut, node, in_shape


class RouterBench:
    """One cycle at a time: drive every input (one packed word per cycle), sample the
    outputs, check the protocol, tick."""

    def __init__(self, ctx, dut: Router, cd, node: ir.Node, in_shape, seed: int,
                 expect_empty_events: bool = False) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x5EED)
        self.lanes, self.ww, self.vw = dut.lanes, dut.w_width, dut.value_width
        self.uw, self.aw, self.iw = dut.u_width, dut.addr_width, dut.in_index_width
        self.node, self.in_shape = node, in_shape
        self.geom = rm.geometry(node, in_shape)
        self.w4d = rm.weight4d(node)
        self.n_in, self.n_out = self.geom.n_in, self.geom.n_out
        self.expect_empty_events = expect_empty_events
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()
        self.prev: dict | None = None  # the last sampled cycle (protocol checks)
        # every input in one Cat, set once per cycle (each set costs a settle of the design)
        p = dut.s.payload
        fields = [("s_valid", dut.s.valid), ("s_index", p.index), ("s_value", p.value),
                  ("s_eot", p.eot), ("upd_ready", dut.upd_ready),
                  ("sweep_ready", dut.sweep_ready)]
        self.inputs = Cat(*(v for _, v in fields))
        self.offsets = {}
        offset = 0
        for name, value in fields:
            self.offsets[name] = (offset, len(value))
            offset += len(value)
        self.s_mask = sum(((1 << self.offsets[k][1]) - 1) << self.offsets[k][0]
                          for k in ("s_valid", "s_index", "s_value", "s_eot"))
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

    def _outputs(self) -> tuple[int, ...]:
        ctx, d = self.ctx, self.dut
        return (ctx.get(d.s.ready), ctx.get(d.upd_valid), ctx.get(d.sweep_valid),
                ctx.get(d.busy))

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, item=None, upd_ready: int | None = None, sweep_ready: int = 1,
                   check: bool = True) -> dict:
        """Drive one cycle, sample, check the protocol, tick. ``item`` is None (s.valid low,
        random junk on the payload) or (index, value, eot)."""
        ctx, d, rng = self.ctx, self.dut, self.rng
        all_lanes = (1 << self.lanes) - 1
        if upd_ready is None:
            upd_ready = all_lanes
        if item is None:
            s_valid = 0
            index, value, eot = rng.randrange(1 << self.iw), rng.randrange(2), rng.randrange(2)
        else:
            s_valid = 1
            index, value, eot = item
        if self.vw == 0:
            value = rng.randrange(2)  # must be ignored
        word = self._pack(s_valid=s_valid, s_index=index, s_value=value, s_eot=eot,
                          upd_ready=upd_ready, sweep_ready=sweep_ready)
        before = None
        if check and rng.random() < 0.1:
            # other s.valid/s.payload first: no output may depend on them
            self._set(word ^ (rng.getrandbits(32) & self.s_mask))
            before = self._outputs()
        self._set(word)
        if not check:
            self.prev = None
            self.cycle += 1
            await ctx.tick()
            return {}
        s_ready, upd_valid, sweep_valid, busy = outs = self._outputs()
        if before is not None:
            assert outs == before, self.msg(f"outputs moved with s.valid/s.payload: "
                                            f"{before} -> {outs}")
        out = {
            "cycle": self.cycle, "s_valid": s_valid, "s_ready": s_ready,
            "upd_valid": upd_valid, "upd_ready": upd_ready, "sweep_valid": sweep_valid,
            "sweep_ready": sweep_ready, "busy": busy, "lanes": {},
        }
        if upd_valid:
            addr = ctx.get(d.upd_addr.as_value())
            weight = ctx.get(d.upd_weight.as_value())
            for j in range(self.lanes):
                if upd_valid >> j & 1:
                    a = (addr >> (j * self.aw)) & ((1 << self.aw) - 1)
                    u = _signed((weight >> (j * self.uw)) & ((1 << self.uw) - 1), self.uw)
                    out["lanes"][j] = (a * self.lanes + j, u)
        out["s_fire"] = s_valid and s_ready
        out["upd_fire"] = upd_valid & upd_ready
        out["stall"] = (upd_valid & ~upd_ready & all_lanes) != 0
        out["sweep_fire"] = sweep_valid and sweep_ready
        self.protocol(out)
        self.prev = out
        self.cycle += 1
        await ctx.tick()
        return out

    def protocol(self, out: dict) -> None:
        c = out["cycle"]
        assert not (out["sweep_valid"] and out["upd_valid"]), self.msg("updates with sweep")
        p = self.prev
        if p is None:
            return
        for j, u in p["lanes"].items():
            if not p["upd_ready"] >> j & 1:
                assert out["lanes"].get(j) == u, self.msg(
                    f"cycle {c}: lane {j} dropped or changed its waiting update {u}: "
                    f"{out['lanes'].get(j)}")
        if p["sweep_valid"] and not p["sweep_ready"]:
            assert out["sweep_valid"], self.msg("sweep_valid dropped before its handshake")

    # --- stimulus ----------------------------------------------------------------------------

    def pattern(self, kind: str) -> list[int]:
        rng, n = self.rng, self.n_in
        if kind == "none":
            return []
        if kind == "all":
            return list(range(n))
        if kind == "first":
            return [0]
        if kind == "last":
            return [n - 1]
        if kind == "ends":
            return [0, n - 1] if n > 1 else [0]
        p = {"sparse": 0.08, "medium": 0.3, "dense": 0.7}[kind]
        return [i for i in range(n) if rng.random() < p]

    def value(self) -> int:
        if self.vw == 0:
            return 1
        top = (1 << self.vw) - 1
        r = self.rng.random()
        return top if r < 0.15 else 0 if r < 0.25 else self.rng.randint(1, top)

    # --- one timestep ------------------------------------------------------------------------

    async def timestep(self, kind: str, gaps: bool, stalls: bool, sweep_delay: bool,
                       cut_at: int | None = None) -> None:
        """Offer the events of pattern ``kind`` and the EOT; check (a) to (c). With ``cut_at``,
        rst is raised after that many cycles instead and the router must come back idle."""
        rng, lanes = self.rng, self.lanes
        events = self.pattern(kind)
        values = [self.value() for _ in events]
        items = [(i, v, 0) for i, v in zip(events, values, strict=True)]
        items.append((rng.randrange(1 << self.iw), rng.randrange(1 << max(self.vw, 1)), 1))
        all_lanes = (1 << lanes) - 1
        offers: list[int] = []
        accepts: list[int] = []
        wait = 0  # gap cycles before the next item is offered
        stall_cycles = 0
        sweep_edge = None  # the edge from which sweep_valid is high
        recs: list[dict] = []
        t0 = self.cycle
        while True:
            k = len(accepts)
            item = None
            if k < len(items):
                if wait > 0:
                    wait -= 1
                else:
                    item = items[k]
                    if len(offers) == k:
                        offers.append(self.cycle)
            elif rng.random() < 0.7:
                # the next timestep's first event, offered too early: must be refused
                item = (rng.randrange(self.n_in), self.value(), 0)
            ready = all_lanes
            if stalls and rng.random() < 0.3:
                ready = rng.randrange(all_lanes)  # at least one lane not ready
            sweep_ready = int(not sweep_delay or rng.random() < 0.35)
            if cut_at is not None and self.cycle - t0 == cut_at:
                await self.cut()
                return
            out = await self.step(item, ready, sweep_ready)
            recs.append(out)
            if k < len(items):
                if out["s_fire"]:
                    accepts.append(out["cycle"])
                    if gaps:
                        wait = rng.choice([0, 0, 1, 2, 5])
            else:
                assert not out["s_ready"], self.msg("s.ready high after the EOT, before the "
                                                    "sweep")
            if out["stall"] and sweep_edge is None:
                stall_cycles += 1
            if out["sweep_valid"] and sweep_edge is None:
                sweep_edge = out["cycle"] - 1
                assert len(accepts) == len(items), self.msg("sweep before the EOT arrived")
            if out["sweep_fire"]:
                break
            g = self.geom
            assert self.cycle - t0 < 100 * (len(items) + 10) * (g.cout * g.kh * g.kw + 1), (
                self.msg("the timestep never ends"))
        # right after the sweep handshake: idle, ready for the next timestep
        out = await self.step(None)
        assert out["s_ready"] and not out["busy"] and not out["upd_valid"] \
            and not out["sweep_valid"], self.msg(f"not idle after the sweep: {out}")
        self.check_busy(recs, accepts, gaps)
        self.check_results(events, values, recs, accepts, offers, stall_cycles, sweep_edge,
                           gaps, stalls)
        self.stats["timesteps"] += 1
        self.stats["events"] += len(events)
        self.stats["stall_cycles"] += stall_cycles
        self.stats["empty_events"] += sum(not rm.groups(self.geom, lanes, i) for i in events)

    def check_busy(self, recs: list[dict], accepts: list[int], gaps: bool) -> None:
        """busy is high in the cycle after every acceptance, while an update or the sweep
        request is offered, and, with items offered back to back, in every cycle from the first
        acceptance up to the sweep handshake."""
        after = {a + 1 for a in accepts}
        for out in recs:
            c = out["cycle"]
            due = c in after or (not gaps and c > accepts[0])
            if due or out["upd_valid"] or out["sweep_valid"]:
                assert out["busy"], self.msg(f"cycle {c}: busy low with something in flight")

    def check_results(self, events, values, recs, accepts, offers, stall_cycles, sweep_edge,
                      gaps, stalls) -> None:
        g, lanes = self.geom, self.lanes
        # the groups, from the cycles: a group starts when updates are offered and nothing of
        # an earlier group is still waiting; it is done when its last lane has transferred
        got_groups: list[dict[int, tuple[int, int]]] = []
        done_edges: list[int] = []
        waiting = 0
        for out in recs:
            if out["upd_valid"] and not waiting:
                got_groups.append(dict(out["lanes"]))
                waiting = out["upd_valid"]
            waiting &= ~out["upd_fire"]
            if out["upd_fire"] and not waiting:
                done_edges.append(out["cycle"])
        assert not waiting, self.msg("an update was never transferred")
        # (b) the group sequence
        want_groups: list[dict[int, tuple[int, int]]] = []
        for index, value in zip(events, values, strict=True):
            c = index // (g.h * g.w)
            for grp in rm.groups(g, lanes, index):
                want_groups.append({n % lanes: (n, int(self.w4d[n // (g.oh * g.ow), c, kh, kw])
                                                * value) for n, kh, kw in grp})
        assert len(got_groups) == len(want_groups), self.msg(
            f"{len(got_groups)} groups issued, expected {len(want_groups)}")
        for j, (got, want) in enumerate(zip(got_groups, want_groups, strict=True)):
            assert got == want, self.msg(f"group {j}: got {got}, expected {want}")
        # (a) golden: per-neuron sums of every transfer
        acc = np.zeros(self.n_out, dtype=np.int64)
        for out in recs:
            for j, (n, u) in out["lanes"].items():
                if out["upd_fire"] >> j & 1:
                    assert 0 <= n < self.n_out, self.msg(f"update to neuron {n}")
                    acc[n] += u
        x = np.zeros((1, *self.in_shape), dtype=np.int64)
        x.reshape(-1)[events] = values
        gold = synaptic_current(self.node, x).reshape(-1)
        assert gold.dtype == np.int64
        assert np.array_equal(acc, gold), self.msg(f"currents {acc.tolist()}, golden "
                                                   f"{gold.tolist()}")
        # (c) cycles
        e0 = accepts[0]
        s = sum(rm.event_cycles(g, lanes, i) for i in events)
        if not gaps:
            want = e0 + rm.timestep_cycles(g, lanes, events) + stall_cycles
            assert want == e0 + rm.SWEEP_LATENCY + s + stall_cycles
            assert sweep_edge == want, self.msg(
                f"sweep_valid rose at edge {sweep_edge}, contract: e0 {e0} + A' "
                f"{rm.SWEEP_LATENCY} + sum max(G,1) {s} + stalls {stall_cycles} = {want}")
            self.stats["checked_formula"] += 1
        if not stalls:
            assert stall_cycles == 0
            sched = rm.schedule(g, lanes, events, offers)
            assert tuple(accepts) == sched.accept, self.msg(
                f"accepted at {accepts}, model {sched.accept}")
            assert tuple(done_edges) == sched.transfer, self.msg(
                f"groups transferred at {done_edges}, model {sched.transfer}")
            assert sweep_edge == sched.sweep, self.msg(
                f"sweep at {sweep_edge}, model {sched.sweep}")
            if not gaps and events and rm.groups(g, lanes, events[0]):
                assert done_edges[0] == e0 + rm.FIRST_UPDATE_LATENCY, self.msg("first update")
                self.stats["checked_first_latency"] += 1
            self.stats["checked_schedule"] += 1
        self.stats["groups"] += len(got_groups)

    async def reset(self, cycles: int) -> None:
        self.ctx.set(self.cd.rst, 1)
        for _ in range(cycles):
            await self.step(None, upd_ready=self.rng.randrange(1 << self.lanes), check=False)
        self.ctx.set(self.cd.rst, 0)

    async def cut(self) -> None:
        """rst in the middle of a timestep: afterwards idle, nothing in flight, nothing left."""
        await self.reset(self.rng.randint(1, 2))
        for _ in range(3):
            out = await self.step(None, upd_ready=self.rng.randrange(1 << self.lanes))
            assert out["s_ready"] and not out["busy"] and not out["upd_valid"] \
                and not out["sweep_valid"], self.msg(f"not idle after rst: {out}")
        self.stats["resets"] += 1


@pytest.mark.parametrize("name", list(CONFIGS))
def test_router_timesteps(name):
    spec = CONFIGS[name]
    seed = _seed(name)
    dut, node, in_shape = make_router(spec, random.Random(seed))
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = RouterBench(ctx, dut, cd, node, in_shape, seed,
                                spec.get("expect_empty_events", False))
        await b.reset(2)
        await b.step(None)
        rng = b.rng
        # (pattern, gaps, stalls, sweep delay): every pattern back to back without stalls (the
        # exact schedule and the formula), then mixed timing
        plan = [(k, False, False, False)
                for k in ("none", "first", "last", "all", "sparse", "ends")]
        plan += [("medium", False, True, True), ("all", False, True, False),
                 ("dense", True, False, True), ("sparse", True, False, False),
                 ("none", False, True, True), ("medium", True, True, True),
                 ("last", True, True, False)]
        plan += [(rng.choice(["sparse", "medium", "dense", "ends"]), rng.random() < 0.5,
                  rng.random() < 0.5, rng.random() < 0.5) for _ in range(3)]
        for n, (kind, gaps, stalls, delay) in enumerate(plan):
            if n == 8:
                # a timestep cut short by rst (every input: it takes more than 25 cycles in
                # each configuration), then the plan goes on
                await b.timestep("all", False, True, False, cut_at=rng.randint(3, 25))
            await b.timestep(kind, gaps, stalls, delay)
            for _ in range(rng.randrange(3)):  # idle cycles between timesteps
                await b.step(None, upd_ready=rng.randrange(1 << b.lanes))

    run_sim(top, testbench)
    s = bench.stats
    print(f"{name}: {bench.cycle} cycles, {dict(s)}")
    for key in ("stall_cycles", "checked_formula", "checked_schedule", "checked_first_latency",
                "resets"):
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"
    if bench.expect_empty_events:
        assert s["empty_events"] > 0, f"seed {seed}: no event with G = 0: {dict(s)}"


def test_router_first_update_and_sweep_latency():
    """The exact latencies of the contract on the smallest case: one event accepted at edge e0
    (router idle) transfers its first update at e0 + 6; the EOT right behind it raises
    sweep_valid in the cycle after edge e0 + 5 + max(G, 1); s.ready is low from the cycle after
    the EOT's acceptance until the sweep handshake and high right after it."""
    spec = CONFIGS["conv3x3-s2-p1-L2"]
    dut, node, in_shape = make_router(spec, random.Random(7))
    top, cd = sim_top(dut)
    g = rm.geometry(node, in_shape)
    index = 6  # (c, h, w) = (0, 1, 1): reaches 4 targets per output channel
    ngroups = len(rm.groups(g, 2, index))
    assert ngroups > 1

    async def testbench(ctx):
        b = RouterBench(ctx, dut, cd, node, in_shape, seed=7)
        await b.reset(1)
        out = await b.step((index, 0, 0))  # edge e0 = this cycle's end
        assert out["s_fire"]
        e0 = out["cycle"]
        out = await b.step((0, 0, 1))  # the EOT, back to back
        assert out["s_fire"]
        edges = []
        while True:
            out = await b.step(None, sweep_ready=0)
            assert not out["s_ready"]
            if out["upd_fire"]:
                edges.append(out["cycle"])
            if out["sweep_valid"]:
                break
        assert edges == [e0 + rm.FIRST_UPDATE_LATENCY + k for k in range(ngroups)]
        assert out["cycle"] - 1 == e0 + rm.SWEEP_LATENCY + ngroups
        out = await b.step(None, sweep_ready=0)  # held without the handshake
        assert out["sweep_valid"] and not out["s_ready"] and out["busy"]
        out = await b.step(None, sweep_ready=1)
        assert out["sweep_fire"]
        out = await b.step(None)
        assert out["s_ready"] and not out["busy"] and not out["sweep_valid"]

    run_sim(top, testbench)


# --- parameters --------------------------------------------------------------------------------

_OK = dict(cin=2, h=5, w=5, cout=3, oh=3, ow=3, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, lanes=2,
           w_width=6, value_width=0, weight_init=[0] * 54)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"sh": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"cin": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"pw": -1}, "PH_PW_must_be_non_negative"),
    ({"kh": 8, "oh": 1}, "kernel_must_fit_the_padded_input"),
    ({"oh": 2}, "OH_must_be_H_plus_2PH_minus_KH_over_SH_plus_1"),
    ({"ow": 4}, "OW_must_be_W_plus_2PW_minus_KW_over_SW_plus_1"),
    ({"h": 1 << 30, "oh": (1 << 29)}, "sizes_must_be_below_2_to_the_30"),
    ({"w_width": 0, "u_width": 0}, "W_WIDTH_must_be_1_to_32"),
    ({"w_width": 33}, "W_WIDTH_must_be_1_to_32"),
    ({"value_width": 33}, "VALUE_WIDTH_must_be_0_to_32"),
    ({"value_width": 8, "u_width": 6}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"u_width": 7}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"in_index_width": 5}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"in_index_width": 31}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"addr_width": 3}, "ADDR_WIDTH_too_small_for_COUT_OH_OW_over_LANES"),
    ({"addr_width": 31}, "ADDR_WIDTH_too_small_for_COUT_OH_OW_over_LANES"),
    ({"weight_init": None}, "WEIGHT_INIT_must_hold_COUT_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"),
    ({"weight_init": [0] * 53},
     "WEIGHT_INIT_must_hold_COUT_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"),
    ({"weight_init": [0] * 53 + [1 << 12]},
     "WEIGHT_INIT_must_hold_COUT_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"),
    ({"weight_init": [0] * 53 + [-(1 << 11) - 1]},
     "WEIGHT_INIT_must_hold_COUT_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_router_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_router_ERROR_{rule}: .*{next(iter(params))}="):
        Router(**{**_OK, **params})


def test_router_defaults_and_edge_parameters():
    # the Verilog's default expressions; numpy integers; the limits themselves
    dut = Router(**{**_OK, "oh": None, "ow": None, "cin": np.int64(2),
                    "weight_init": np.zeros(54, dtype=np.int64)})
    assert (dut.oh, dut.ow, dut.u_width, dut.in_index_width, dut.addr_width) == (3, 3, 6, 6, 4)
    assert dut.cin == 2 and type(dut.cin) is int
    Fragment.get(dut, None)  # elaborates
    # a negative word is its two's complement (as hwfiles.write_mem writes it)
    dut = Router(**{**_OK, "weight_init": [-1] + [(1 << 12) - 1] * 53, "value_width": 32,
                    "u_width": 38, "in_index_width": 30, "addr_width": 30})
    assert dut.weight_init == [(1 << 12) - 1] * 54
    Fragment.get(dut, None)


def test_router_ports_match_the_verilog():
    spec = CONFIGS["pixels-v6-L4"]
    dut, _, _ = make_router(spec, random.Random(1))
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "s_valid": (1, "i"), "s_ready": (1, "o"), "s_index": (7, "i"), "s_value": (6, "i"),
        "s_eot": (1, "i"), "upd_valid": (4, "o"), "upd_ready": (4, "i"),
        "upd_addr": (20, "o"), "upd_weight": (48, "o"), "sweep_valid": (1, "o"),
        "sweep_ready": (1, "i"), "busy": (1, "o")}
    # names and directions as in the hand-written module's port list
    text = (rtl_dir() / "snn_router.v").read_text()
    decl = re.findall(r"^\s*(input|output)\s+wire\s+(?:\[.*?\]\s+)?(\w+),?\s*$", text, re.M)
    assert {n: d[0] for d, n in decl} == {"clk": "i", "rst": "i",
                                          **{n: d for n, (_, d) in ports.items()}}
    spike = Router(**_OK)
    assert len(spike.verilog_ports()["s_value"][0]) == 1  # 1 bit and ignored
    Fragment.get(spike, None)
    text = to_verilog(dut)
    header = re.search(r"module snn_router\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_router (Verilog names)
LINT_CONFIGS: dict[str, dict] = {
    "default": dict(CIN=1, H=4, W=4, COUT=2, OH=2, OW=2, KH=3, KW=3, SH=1, SW=1, PH=0, PW=0,
                    LANES=1, W_WIDTH=8, VALUE_WIDTH=0),
    "conv-s2-p1-L2": dict(CIN=3, H=7, W=5, COUT=4, OH=4, OW=3, KH=3, KW=3, SH=2, SW=2, PH=1,
                          PW=1, LANES=2, W_WIDTH=6, VALUE_WIDTH=0),
    "pixels-L4": dict(CIN=2, H=6, W=5, COUT=3, OH=6, OW=5, KH=3, KW=3, SH=1, SW=1, PH=1, PW=1,
                      LANES=4, W_WIDTH=8, VALUE_WIDTH=8, IN_INDEX_WIDTH=9, ADDR_WIDTH=7),
    "conv2x4-L8-v2": dict(CIN=2, H=6, W=9, COUT=3, OH=7, OW=4, KH=2, KW=4, SH=1, SW=3, PH=1,
                          PW=2, LANES=8, W_WIDTH=3, VALUE_WIDTH=2),
    "1x1-L8-wide": dict(CIN=1, H=1, W=1, COUT=1, OH=1, OW=1, KH=1, KW=1, SH=1, SW=1, PH=0,
                        PW=0, LANES=8, W_WIDTH=32, VALUE_WIDTH=32, IN_INDEX_WIDTH=30,
                        ADDR_WIDTH=30),
}


def _router_from_params(params: dict, rng: random.Random) -> Router:
    """A Router from Verilog parameters with random weights (rom_words)."""
    geom = rm.RouterGeometry(*(params[k] for k in ("CIN", "H", "W", "COUT", "OH", "OW", "KH",
                                                   "KW", "SH", "SW", "PH", "PW")))
    ww, lanes = params["W_WIDTH"], params["LANES"]
    w = np.array([rng.randint(-(1 << (ww - 1)), (1 << (ww - 1)) - 1)
                  for _ in range(geom.rom_depth)], dtype=np.int64).reshape(
        geom.cout, geom.cin, geom.kh, geom.kw)
    return Router(**{k.lower(): v for k, v in params.items()},
                  weight_init=rm.rom_words(geom, w, lanes, ww))


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_router_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(_router_from_params(p, rng), flat_ports=flat_ports)
             for name, p in LINT_CONFIGS.items()}
    check_lint(texts, "snn_router", ROUTER_WAIVERS, tmp_path)


# the Verilog's registers (instance u; all at the top of the module) -> Router's names; the
# value pipeline (*_val_reg) only where the value is used (VALUE_WIDTH > 0): with spike events
# Yosys removes it from both designs
_REGS = ["eot_block_reg", "d1_valid_reg", "d2_valid_reg", "n_valid_reg", "q_valid_reg",
         "d1_eot_reg", "d1_c_reg", "d1_h_reg", "d1_w_reg",
         "d2_eot_reg", "d2_empty_reg", "d2_c_reg", "d2_yhi_reg", "d2_cnty_m1_reg", "d2_xhi_reg",
         "d2_cntx_m1_reg", "d2_kh0_reg", "d2_kw0_reg",
         "n_eot_reg", "n_empty_reg", "n_addr_reg", "n_base_reg", "n_ngx_m1_reg",
         "n_cnty_m1_reg", "n_mlast_reg",
         "q_eot_reg", "q_empty_reg", "q_gleft_reg", "q_yleft_reg", "q_oleft_reg", "q_addr_reg",
         "q_addr_row_reg", "q_addr_o_reg", "q_base_reg", "q_base_row_reg", "q_base_o_reg",
         "q_ngx_m1_reg", "q_cnty_m1_reg", "q_mlast_reg",
         "rom_q", "r_cnt_reg", "r_eot_reg", "r_base_reg", "o_pend_reg", "o_eot_reg",
         "o_addr_reg", "o_w_reg"]
_VAL_REGS = ["d1_val_reg", "d2_val_reg", "n_val_reg", "q_val_reg", "r_val_reg"]
EQUIV_CONFIGS: dict[str, dict] = {
    "conv3x3-s2-p1-L2": dict(CIN=2, H=5, W=5, COUT=3, OH=3, OW=3, KH=3, KW=3, SH=2, SW=2,
                             PH=1, PW=1, LANES=2, W_WIDTH=4, VALUE_WIDTH=0),
    "pixels-v3-L4": dict(CIN=1, H=4, W=5, COUT=2, OH=4, OW=5, KH=3, KW=3, SH=1, SW=1, PH=1,
                         PW=1, LANES=4, W_WIDTH=4, VALUE_WIDTH=3, IN_INDEX_WIDTH=6,
                         ADDR_WIDTH=5),
    "linear6x5-L4": dict(CIN=6, H=1, W=1, COUT=1, OH=1, OW=5, KH=1, KW=5, SH=1, SW=1, PH=0,
                         PW=4, LANES=4, W_WIDTH=3, VALUE_WIDTH=0),
    "conv1x1-s2-L1-v2": dict(CIN=2, H=5, W=6, COUT=3, OH=3, OW=3, KH=1, KW=1, SH=2, SW=2,
                             PH=0, PW=0, LANES=1, W_WIDTH=4, VALUE_WIDTH=2),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_router_formally_equivalent_to_the_verilog(name, tmp_path):
    params = EQUIV_CONFIGS[name]
    dut = _router_from_params(params, random.Random(name))
    write_mem(tmp_path / "w.mem", dut.weight_init, dut.lanes * dut.w_width)
    params = {**params, "U_WIDTH": dut.u_width, "IN_INDEX_WIDTH": dut.in_index_width,
              "ADDR_WIDTH": dut.addr_width, "WEIGHT_FILE": "w.mem"}
    regs = _REGS + (_VAL_REGS if dut.value_width else [])
    check_equivalence(dut, params, [(f"u.{r}", r) for r in regs], tmp_path)
