"""cocotb test for snn_router, run inside the simulator by test_router.py (through runner.py) on
both backends (the hand-written Verilog and the Amaranth Router converted to Verilog).

The testbench plays the IF array: it records every row update transfer cycle by cycle, drops
upd_ready at random (the row update waits) and delays sweep_ready randomly. Several timesteps
of ascending input events (none, all, only the first, only the last, random densities; pixel
values with VALUE_WIDTH > 0, and random junk on s_value with VALUE_WIDTH = 0, which must be
ignored), offered back to back or with random gaps. Per timestep:

(a) golden: the per-neuron sum of the transferred updates (lane j at bank address a: channel
    (a // PLANE)*LANES + j, position a % PLANE; snngen.hwmodel.blocks.banks) equals
    snngen.golden.model.synaptic_current of the IR node for the event pattern, with ``==``;
(b) the sequence of groups (the lanes of one issue slot, with their neurons and weights) equals
    snngen.hwmodel.blocks.router.groups, weight = W[o, c, kh, kw] * value;
(c) cycles: back to back, sweep_valid first rises at edge e0 + SWEEP_LATENCY + sum max(G, 1) +
    the stall cycles; without stalls, every acceptance edge, every group's transfer edge and the
    sweep edge equal rtlmodel.router.schedule (for gapped inputs too), and the first update
    transfers at e0 + FIRST_UPDATE_LATENCY;
(d) every reference slot has at most LANES members, member k on lane k, all at one bank address
    and one kernel position (one ROM word); in the hardware's row update a lane past COUT
    carries 0.

Protocol checks every cycle: a row update and sweep_valid are held until they transfer, no
update is offered together with sweep_valid, s_ready is low from an EOT's acceptance until the
sweep handshake (the next timestep's first event is offered meanwhile) and high in the cycle
after it, busy is high while anything is in flight and low once the sweep is done, and (on
random cycles) no output moves when only s_valid/s_index/s_value/s_eot change. Directed: the
exact latencies of one event with the most groups and the EOT behind it (groups one per cycle
from e0 + FIRST_UPDATE_LATENCY, the sweep request at e0 + SWEEP_LATENCY + G, held for a few
cycles without the handshake). One timestep of every input is cut short by rst in the middle
(always before it ends): the router must come back idle with nothing in flight. The
configuration comes from SNN_ROUTER_CONFIG (JSON).
"""

from __future__ import annotations

import collections
import json
import os
import random
from dataclasses import replace

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from snngen.golden.model import synaptic_current
from snngen.hwmodel.blocks import banks
from snngen.hwmodel.blocks import router as rm
from snngen.ir import graph as ir

PERIOD_NS = 10


def _uint(value) -> int:
    """A LogicArray or (a 1-bit port) a Logic as an unsigned int."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def _signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) else v


class RouterBench:
    def __init__(self, dut) -> None:
        cfg = json.loads(os.environ["SNN_ROUTER_CONFIG"])
        self.dut = dut
        self.cfg = cfg
        self.lanes: int = cfg["LANES"]
        self.ww: int = cfg["W_WIDTH"]
        self.vw: int = cfg["VALUE_WIDTH"]
        self.uw: int = cfg["U_WIDTH"]
        self.aw: int = cfg["ADDR_WIDTH"]
        self.iw: int = cfg["IN_INDEX_WIDTH"]
        self.rng = random.Random(cocotb.RANDOM_SEED)
        dut._log.info("config %s, rng seed %d (COCOTB_RANDOM_SEED)",
                      {k: v for k, v in cfg.items() if k != "weight"}, cocotb.RANDOM_SEED)
        # the IR node (integer weights, no bias) and its router geometry
        weight = np.array(cfg["weight"], dtype=np.int64)
        if cfg["kind"] == "linear":
            op = replace(ir.linear(weight), weight=weight)
            self.in_shape: tuple[int, ...] = (weight.shape[1],)
        else:
            op = replace(ir.conv(weight, stride=cfg["stride"], padding=cfg["padding"]),
                         weight=weight)
            self.in_shape = tuple(cfg["in_shape"])
        self.node = ir.Node("layer", op, ("x",), ir.infer_shape(op, [self.in_shape]))
        self.geom = rm.geometry(self.node, self.in_shape)
        assert self.geom.params() == {k: cfg[k] for k in self.geom.params()}, "geometry differs"
        self.w4d = rm.weight4d(self.node)
        self.n_in, self.n_out = self.geom.n_in, self.geom.n_out
        self.cycle = 0
        self.stats = collections.Counter()
        self.prev: dict | None = None  # the last sampled cycle (protocol checks)
        assert len(dut.upd_valid) == 1 and len(dut.upd_ready) == 1
        assert len(dut.upd_addr) == self.aw
        assert len(dut.upd_weight) == self.lanes * self.uw
        assert len(dut.s_index) == self.iw and len(dut.s_value) == max(self.vw, 1)
        self.check_reference()

    def check_reference(self) -> None:
        """(d) on the reference itself, for every input index."""
        g, lanes = self.geom, self.lanes
        for index in range(self.n_in):
            for grp in rm.groups(g, lanes, index):
                assert 1 <= len(grp) <= lanes
                # member k on lane k, all at one bank address, one kernel position
                places = [banks.lane_address(n, lanes, g.plane) for n, _, _ in grp]
                assert [lane for lane, _ in places] == list(range(len(grp))), "lanes"
                assert len({a for _, a in places}) == 1, "not one bank address"
                assert len({(kh, kw) for _, kh, kw in grp}) == 1, "not one ROM word"

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, item=None, upd_ready: int = 1, sweep_ready: int = 1,
                   check: bool = True) -> dict:
        """Drive one cycle (called right after a rising edge), sample at ReadOnly, check the
        protocol, wait for the next edge. ``item`` is None (s_valid low, random junk on the
        data) or (index, value, eot)."""
        d, rng = self.dut, self.rng
        if item is None:
            d.s_valid.value = 0
            index, value, eot = rng.randrange(1 << self.iw), rng.randrange(2), rng.randrange(2)
        else:
            d.s_valid.value = 1
            index, value, eot = item
        if self.vw == 0:
            value = rng.randrange(2)  # must be ignored
        d.upd_ready.value = upd_ready
        d.sweep_ready.value = sweep_ready
        before = None
        if check and rng.random() < 0.1:
            # other s_valid/s_index/s_value/s_eot first: no output may depend on them (the
            # producer's valid and data reach registers only)
            d.s_valid.value = 1 - int(item is not None)
            d.s_index.value = rng.randrange(1 << self.iw)
            d.s_value.value = rng.randrange(1 << max(self.vw, 1))
            d.s_eot.value = rng.randrange(2)
            await Timer(1, unit="ns")
            before = self.outputs()
            d.s_valid.value = int(item is not None)
        d.s_index.value = index
        d.s_value.value = value
        d.s_eot.value = eot
        await ReadOnly()
        if not check:
            self.prev = None
            self.cycle += 1
            await RisingEdge(d.clk)
            return {}
        if before is not None:
            now = self.outputs()
            assert now == before, (
                f"cycle {self.cycle}: outputs moved with s_valid/s_index/s_value/s_eot: "
                f"{before} -> {now}")
            self.stats["probes"] += 1
        upd_valid = _uint(d.upd_valid.value)
        out = {
            "cycle": self.cycle,
            "s_valid": int(item is not None),
            "s_ready": int(d.s_ready.value),
            "upd_valid": upd_valid,
            "upd_ready": upd_ready,
            "sweep_valid": int(d.sweep_valid.value),
            "sweep_ready": sweep_ready,
            "busy": int(d.busy.value),
            "lanes": {},
        }
        if upd_valid:
            a, weight = _uint(d.upd_addr.value), _uint(d.upd_weight.value)
            for j in range(self.lanes):
                u = _signed((weight >> (j * self.uw)) & ((1 << self.uw) - 1), self.uw)
                # the neuron of channel (a // PLANE) * LANES + j at position a % PLANE
                ch, p = divmod(a, self.geom.plane)
                if ch * self.lanes + j < self.geom.cout:
                    out["lanes"][j] = ((ch * self.lanes + j) * self.geom.plane + p, u)
                else:
                    # a lane past the last channel: the row update must add 0 to it
                    assert u == 0, f"cycle {self.cycle}: lane {j} past COUT carries {u}"
                    self.stats["lanes_past_cout"] += 1
        out["s_fire"] = out["s_valid"] and out["s_ready"]
        out["upd_fire"] = upd_valid & upd_ready
        out["stall"] = bool(upd_valid and not upd_ready)
        out["sweep_fire"] = out["sweep_valid"] and sweep_ready
        self.protocol(out)
        self.prev = out
        self.cycle += 1
        await RisingEdge(d.clk)
        return out

    def outputs(self) -> tuple[str, ...]:
        """Every output as its bit string (X and Z included)."""
        d = self.dut
        return tuple(str(getattr(d, name).value) for name in (
            "s_ready", "upd_valid", "upd_addr", "upd_weight", "sweep_valid", "busy"))

    def protocol(self, out: dict) -> None:
        c = out["cycle"]
        assert not (out["sweep_valid"] and out["upd_valid"]), f"cycle {c}: updates with sweep"
        p = self.prev
        if p is None:
            return
        if p["upd_valid"] and not p["upd_ready"]:
            assert out["upd_valid"] and out["lanes"] == p["lanes"], (
                f"cycle {c}: dropped or changed the waiting update {p['lanes']}: "
                f"{out['lanes'] if out['upd_valid'] else None}")
            self.stats["update_held"] += 1
        if p["sweep_valid"] and not p["sweep_ready"]:
            assert out["sweep_valid"], f"cycle {c}: sweep_valid dropped before its handshake"
            self.stats["sweep_held"] += 1

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
        """Offer the events of pattern ``kind`` and the EOT; check (a) to (d). With ``cut_at``,
        rst is raised after that many cycles instead and the router must come back idle."""
        rng, g, lanes = self.rng, self.geom, self.lanes
        events = self.pattern(kind)
        values = [self.value() for _ in events]
        items = [(i, v, 0) for i, v in zip(events, values, strict=True)]
        items.append((rng.randrange(1 << self.iw), rng.randrange(1 << max(self.vw, 1)), 1))
        offers: list[int] = []
        accepts: list[int] = []
        wait = 0            # gap cycles before the next item is offered
        stall_cycles = 0
        sweep_edge = None   # the edge from which sweep_valid is high
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
            ready = 0 if stalls and rng.random() < 0.3 else 1
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
                assert not out["s_ready"], (
                    f"cycle {out['cycle']}: s_ready high after the EOT, before the sweep")
            if out["stall"] and sweep_edge is None:
                stall_cycles += 1
            if out["sweep_valid"] and sweep_edge is None:
                sweep_edge = out["cycle"] - 1
                assert len(accepts) == len(items), "sweep requested before the EOT arrived"
            if out["sweep_fire"]:
                break
            assert self.cycle - t0 < 100 * (len(items) + 10) * (g.cout * g.kh * g.kw + 1), (
                "the timestep never ends")
        assert cut_at is None, f"the timestep ended before the cut at {cut_at} cycles"
        # right after the sweep handshake: idle, ready for the next timestep
        out = await self.step(None)
        assert out["s_ready"] and not out["busy"] and not out["upd_valid"] \
            and not out["sweep_valid"], f"cycle {out['cycle']}: not idle after the sweep: {out}"
        self.check_busy(recs, accepts, gaps)
        self.check_results(events, values, recs, accepts, offers, stall_cycles, sweep_edge,
                           gaps, stalls)
        self.stats["timesteps"] += 1
        self.stats[f"pattern_{kind}"] += 1
        self.stats["events"] += len(events)
        self.stats["stall_cycles"] += stall_cycles
        self.stats["empty_events"] += sum(not rm.groups(g, lanes, i) for i in events)

    def check_busy(self, recs: list[dict], accepts: list[int], gaps: bool) -> None:
        """busy (something in flight) is high in the cycle after every acceptance, while an
        update or the sweep request is offered, and, with items offered back to back, in every
        cycle from the first acceptance up to the sweep handshake. (With gaps nothing may be
        in flight between two events: a G = 0 event leaves nothing behind.)"""
        after = {a + 1 for a in accepts}
        for out in recs:
            c = out["cycle"]
            due = c in after or (not gaps and c > accepts[0])
            if due or out["upd_valid"] or out["sweep_valid"]:
                assert out["busy"], f"cycle {c}: busy low with something in flight"

    def check_results(self, events, values, recs, accepts, offers, stall_cycles, sweep_edge,
                      gaps, stalls) -> None:
        g, lanes = self.geom, self.lanes
        # the groups, from the cycles: one per row update transfer
        got_groups = [dict(out["lanes"]) for out in recs if out["upd_fire"]]
        done_edges = [out["cycle"] for out in recs if out["upd_fire"]]
        assert not recs[-1]["upd_valid"], "an update was never transferred"
        # (b) the group sequence
        want_groups: list[dict[int, tuple[int, int]]] = []
        for index, value in zip(events, values, strict=True):
            c = index // (g.h * g.w)
            for grp in rm.groups(g, lanes, index):
                want_groups.append({k: (n, int(self.w4d[n // g.plane, c, kh, kw]) * value)
                                    for k, (n, kh, kw) in enumerate(grp)})
        assert len(got_groups) == len(want_groups), (
            f"{len(got_groups)} groups issued, expected {len(want_groups)}")
        for j, (got, want) in enumerate(zip(got_groups, want_groups, strict=True)):
            assert got == want, f"group {j}: got {got}, expected {want}"
        # (a) golden: per-neuron sums of every transfer
        acc = np.zeros(self.n_out, dtype=np.int64)
        for out in recs:
            if out["upd_fire"]:
                for n, u in out["lanes"].values():
                    assert 0 <= n < self.n_out, f"update to neuron {n} of {self.n_out}"
                    acc[n] += u
        x = np.zeros((1, *self.in_shape), dtype=np.int64)
        x.reshape(-1)[events] = values
        gold = synaptic_current(self.node, x).reshape(-1)
        assert gold.dtype == np.int64
        assert np.array_equal(acc, gold), f"currents {acc.tolist()}, golden {gold.tolist()}"
        # (c) cycles
        e0 = accepts[0]
        s = sum(rm.event_cycles(g, lanes, i) for i in events)
        if not gaps:
            want = e0 + rm.timestep_cycles(g, lanes, events) + stall_cycles
            assert want == e0 + rm.SWEEP_LATENCY + s + stall_cycles
            assert sweep_edge == want, (
                f"sweep_valid rose at edge {sweep_edge}, contract: e0 {e0} + A' "
                f"{rm.SWEEP_LATENCY} + sum max(G,1) {s} + stalls {stall_cycles} = {want}")
            self.stats["checked_formula"] += 1
        if not stalls:
            assert stall_cycles == 0
            sched = rm.schedule(g, lanes, events, offers)
            assert tuple(accepts) == sched.accept, f"accepted at {accepts}, model {sched.accept}"
            assert tuple(done_edges) == sched.transfer, (
                f"groups transferred at {done_edges}, model {sched.transfer}")
            assert sweep_edge == sched.sweep, f"sweep at {sweep_edge}, model {sched.sweep}"
            if not gaps and events and rm.groups(g, lanes, events[0]):
                assert done_edges[0] == e0 + rm.FIRST_UPDATE_LATENCY
                self.stats["checked_first_latency"] += 1
            self.stats["checked_schedule"] += 1
        self.stats["groups"] += len(got_groups)

    async def latencies(self) -> None:
        """The exact latencies on one event (the input index with the most groups) accepted at
        edge e0 with the router idle and the EOT right behind it, offered until accepted:
        every acceptance edge as rtlmodel.router.schedule says; the groups transfer at
        e0 + FIRST_UPDATE_LATENCY + k, one per cycle; sweep_valid rises at edge
        e0 + SWEEP_LATENCY + G and is held, with s_ready low and busy high, while sweep_ready
        stays low for 1 to 4 cycles; right after the handshake the router is idle."""
        g, lanes = self.geom, self.lanes
        index = max(range(self.n_in), key=lambda i: len(rm.groups(g, lanes, i)))
        ngroups = len(rm.groups(g, lanes, index))
        value = (1 << self.vw) - 1 if self.vw else 1
        offers, accepts, edges = [], [], []
        items = [(index, value, 0), (0, 0, 1)]
        while len(accepts) < len(items):
            if len(offers) == len(accepts):
                offers.append(self.cycle)
            out = await self.step(items[len(accepts)], sweep_ready=0)
            if out["s_fire"]:
                accepts.append(out["cycle"])
            if out["upd_fire"]:
                edges.append(out["cycle"])
        sched = rm.schedule(g, lanes, [index], offers)
        assert tuple(accepts) == sched.accept, f"accepted at {accepts}, model {sched.accept}"
        e0 = accepts[0]
        while True:
            out = await self.step(None, sweep_ready=0)
            assert not out["s_ready"], f"cycle {out['cycle']}: s_ready before the sweep"
            if out["upd_fire"]:
                edges.append(out["cycle"])
            if out["sweep_valid"]:
                break
            assert out["cycle"] - e0 < 10 * (ngroups + 10), "no sweep request"
        assert edges == [e0 + rm.FIRST_UPDATE_LATENCY + k for k in range(ngroups)], (
            f"G = {ngroups} groups of event {index} transferred at {edges}, accepted at {e0}")
        assert out["cycle"] - 1 == e0 + rm.SWEEP_LATENCY + ngroups == sched.sweep, (
            f"sweep_valid rose at edge {out['cycle'] - 1}, expected e0 {e0} + "
            f"{rm.SWEEP_LATENCY} + G {ngroups}")
        for _ in range(self.rng.randint(1, 4)):  # held without the handshake
            out = await self.step(None, sweep_ready=0)
            assert out["sweep_valid"] and not out["s_ready"] and out["busy"], (
                f"cycle {out['cycle']}: sweep request not held: {out}")
        out = await self.step(None, sweep_ready=1)
        assert out["sweep_fire"]
        out = await self.step(None)
        assert out["s_ready"] and not out["busy"] and not out["sweep_valid"] \
            and not out["upd_valid"], f"cycle {out['cycle']}: not idle after the sweep: {out}"
        self.stats["checked_latencies"] += 1

    async def cut(self) -> None:
        """rst in the middle of a timestep: afterwards idle, nothing in flight, nothing left."""
        self.dut.rst.value = 1
        for _ in range(self.rng.randint(1, 2)):
            await self.step(None, upd_ready=self.rng.randrange(2), check=False)
        self.dut.rst.value = 0
        for _ in range(3):
            out = await self.step(None, upd_ready=self.rng.randrange(2))
            assert out["s_ready"] and not out["busy"] and not out["upd_valid"] \
                and not out["sweep_valid"], f"cycle {out['cycle']}: not idle after rst: {out}"
        self.stats["resets"] += 1


@cocotb.test()
async def test_timesteps(dut) -> None:
    bench = RouterBench(dut)
    # every input has a defined value before the first clock edge (Verilator starts inputs at
    # random values and may see a rising edge at time 0): rst high, nothing offered
    dut.rst.value = 1
    for name in ("s_valid", "s_index", "s_value", "s_eot", "upd_ready", "sweep_ready"):
        getattr(dut, name).value = 0
    await Timer(1, unit="ns")
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    for _ in range(2):
        await bench.step(None, check=False)
    dut.rst.value = 0
    await bench.step(None)
    rng = bench.rng
    # (pattern, gaps, stalls, sweep delay): every pattern back to back without stalls (the
    # exact schedule and the formula), then mixed timing
    plan = [(k, False, False, False) for k in ("none", "first", "last", "all", "sparse", "ends")]
    plan += [("medium", False, True, True), ("all", False, True, False),
             ("dense", True, False, True), ("sparse", True, False, False),
             ("none", False, True, True), ("medium", True, True, True),
             ("last", True, True, False)]
    plan += [(rng.choice(["sparse", "medium", "dense", "ends"]), rng.random() < 0.5,
              rng.random() < 0.5, rng.random() < 0.5) for _ in range(3)]
    await bench.latencies()
    # a timestep of every input offered back to back lasts at least timestep_cycles (more
    # with stalls), so a cut at most that many cycles in always happens
    all_cycles = rm.timestep_cycles(bench.geom, bench.lanes, list(range(bench.n_in)))
    assert all_cycles >= 5, f"every input takes only {all_cycles} cycles: no room for a cut"
    for n, (kind, gaps, stalls, delay) in enumerate(plan):
        if n == 8:
            # a timestep cut short by rst, then the plan goes on
            await bench.timestep("all", False, True, False,
                                 cut_at=rng.randint(3, min(40, all_cycles)))
        await bench.timestep(kind, gaps, stalls, delay)
        for _ in range(rng.randrange(3)):  # idle cycles between timesteps
            await bench.step(None, upd_ready=rng.randrange(2))
    s = bench.stats
    dut._log.info("%d cycles; %s", bench.cycle, dict(s))
    for key in ("stall_cycles", "checked_formula", "checked_schedule", "checked_first_latency",
                "checked_latencies", "resets", "sweep_held", "update_held", "probes"):
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"
    if bench.cfg.get("expect_empty_events"):
        assert s["empty_events"] > 0, f"no event with G = 0: {dict(s)}"
