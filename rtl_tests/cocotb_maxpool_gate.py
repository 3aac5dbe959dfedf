"""cocotb test for snn_maxpool_gate, run inside the simulator by test_maxpool_gate.py.

Several images of 8-20 timesteps (at most 2^CNT_WIDTH - 1). Per image: a clear (checked to take
exactly C*H*W cycles, refusing the events and clears offered meanwhile), then per timestep a
random spike pattern (empty, all-spiking, or a random density, on top of a few neurons that
spike in every timestep of the image so that counts reach T and ties are common), presented as
input events in random, ascending or descending order with random gaps, then the EOT beat;
then the sweep under random backpressure with junk offered on the input side (it must be
refused). Every output event of every timestep is compared with ``==`` against the indices
from ``snngen.golden.model.maxpool_gate`` (and the model ``snngen.hwmodel.blocks.gate.gate_step``
must agree). Cycle counts asserted, as in the header of
snngen/backends/verilog/rtl/snn_maxpool_gate.v: every event accepted in the cycle it is offered (no
bubbles); the sweep's EOT transfer exactly ``sweep_cycles`` = C*OH*OW*KH*KW + 3 + stall cycles after
the input EOT's acceptance edge; output o's event first offered right after edge e + 1 + (o+1)*KH*KW
+ stalls so far; an offered event held unchanged while stalled. The configuration comes from
SNN_MAXPOOL_GATE_CONFIG (JSON).
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

PERIOD_NS = 10


class GateBench:
    def __init__(self, dut) -> None:
        cfg = json.loads(os.environ["SNN_MAXPOOL_GATE_CONFIG"])
        self.dut = dut
        self.cfg = cfg
        g = GateGeometry(cfg["C"], cfg["H"], cfg["W"], cfg["KH"], cfg["KW"], cfg["SH"],
                         cfg["SW"], cfg["PH"], cfg["PW"])
        assert (cfg["OH"], cfg["OW"]) == (g.OH, g.OW)
        self.g = g
        self.op = maxpool((g.KH, g.KW), (g.SH, g.SW), (g.PH, g.PW))
        self.cw: int = cfg["CNT_WIDTH"]
        self.iw: int = cfg["IN_INDEX_WIDTH"]
        self.ow: int = cfg["OUT_INDEX_WIDTH"]
        self.rng = random.Random(cocotb.RANDOM_SEED)
        dut._log.info("config %s, rng seed %d (COCOTB_RANDOM_SEED)", cfg, cocotb.RANDOM_SEED)
        assert len(dut.s_index) == self.iw and len(dut.m_index) == self.ow
        self.shape = (g.C, g.H, g.W)
        self.counts = np.zeros(self.shape, dtype=np.int64)
        # the output windows as lists of input indices (padding left out), for the statistics
        win: list[list[int]] = [[] for _ in range(g.n_out)]
        for o, i in sweep_order(g):
            if i is not None:
                win[o].append(i)
        self.windows = win
        self.cycle = 0
        self.prev: dict | None = None  # outputs of the last cycle when it was a stall
        self.stats = collections.Counter()

    # --- one clock cycle -------------------------------------------------------------------

    async def step(self, clear=0, ev=None, eot=0, m_ready=1, check=True) -> dict:
        """Drive one cycle (called right after a rising edge), sample the outputs at ReadOnly,
        wait for the next edge. ``ev`` is an input index (with ``eot`` 0) or None; ``eot`` 1
        offers the EOT beat (``ev`` then only fills s_index)."""
        d = self.dut
        s_valid = int(ev is not None or bool(eot))
        d.clear_valid.value = clear
        d.s_valid.value = s_valid
        d.s_index.value = ev if ev is not None else self.rng.getrandbits(self.iw)
        d.s_eot.value = eot if s_valid else self.rng.randrange(2)
        d.m_ready.value = m_ready
        await ReadOnly()
        if not check:  # in reset: the outputs may be X
            self.prev = None
            await RisingEdge(d.clk)
            return {}
        out = {
            "busy": int(d.busy.value),
            "clear_ready": int(d.clear_ready.value),
            "s_ready": int(d.s_ready.value),
            "m_valid": int(d.m_valid.value),
        }
        idle = not out["busy"]
        expect = (int(idle), int(idle and not clear))
        got = (out["clear_ready"], out["s_ready"])
        assert got == expect, f"cycle {self.cycle}: readies (clear, s) {got}, expected {expect}"
        if out["m_valid"]:
            out["m_index"] = d.m_index.value.to_unsigned()
            out["m_eot"] = int(d.m_eot.value)
        if self.prev is not None:  # the last cycle stalled: the same event must still be there
            same = {k: out.get(k) for k in ("m_valid", "m_index", "m_eot")}
            assert same == self.prev, (
                f"cycle {self.cycle}: stalled event changed from {self.prev} to {same}")
        stall = out["m_valid"] and not m_ready
        self.prev = {k: out.get(k) for k in ("m_valid", "m_index", "m_eot")} if stall else None
        out["stall"] = int(stall)
        out["s_fire"] = s_valid and out["s_ready"]
        out["m_fire"] = out["m_valid"] and m_ready
        self.cycle += 1
        await RisingEdge(d.clk)
        return out

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must be refused."""
        rng = self.rng
        r = rng.random()
        ev = rng.randrange(self.g.n_in) if r < 0.5 else None
        return {"clear": int(rng.random() < 0.3), "ev": ev, "eot": int(0.5 <= r < 0.7)}

    # --- operations --------------------------------------------------------------------------

    async def reset(self) -> None:
        self.dut.rst.value = 1
        for _ in range(2):
            await self.step(m_ready=self.rng.randrange(2), check=False, **self.junk())
        self.dut.rst.value = 0
        out = await self.step(m_ready=0)
        assert not out["busy"] and not out["m_valid"], f"after reset: {out}"

    async def clear(self) -> None:
        # the clear wins over an event or EOT offered with it
        out = await self.step(clear=1, ev=self.rng.randrange(self.g.n_in),
                              eot=self.rng.randrange(2))
        assert out["clear_ready"] and not out["s_fire"] and not out["busy"]
        n = clear_cycles(self.g)
        for i in range(n):
            out = await self.step(m_ready=self.rng.randrange(2), **self.junk())
            assert out["busy"], f"clear ended after {i} cycles, expected {n}"
            assert not out["m_valid"], "m_valid during a clear"
        out = await self.step()
        assert not out["busy"], f"clear still busy after C*H*W={n} cycles"
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
            return np.zeros(self.shape, dtype=bool)  # not even the always-on neurons
        if r < 0.24:
            self.stats["all_spiking_timesteps"] += 1
            return np.ones(self.shape, dtype=bool)
        scale = rng.choice([0.3, 0.7, 1.0, 1.5])
        flat = [rng.random() < p * scale for p in rates.reshape(-1)]
        return np.array(flat, dtype=bool).reshape(self.shape) | always

    async def timestep(self, spikes: np.ndarray, p_gap: float, p_ready: float) -> None:
        rng, g = self.rng, self.g
        events = [int(i) for i in np.flatnonzero(spikes.reshape(-1))]
        order = rng.random()
        if order < 0.6:
            rng.shuffle(events)
            self.stats["random_order"] += 1
        elif order < 0.8:
            events.reverse()
        # expected: golden on (counts including this timestep); the model must agree
        new_counts = self.counts + spikes
        gold = maxpool_gate(spikes[None].astype(np.int64), new_counts[None], self.op)[0]
        model, model_counts = gate_step(spikes, self.counts, (g.KH, g.KW), (g.SH, g.SW),
                                        (g.PH, g.PW))
        assert np.array_equal(model_counts, new_counts)
        assert np.array_equal(model, gold.astype(bool)), "gate_step disagrees with golden"
        expected = [int(o) for o in np.flatnonzero(gold.reshape(-1))]
        self.statistics(spikes, new_counts, gold.reshape(-1))

        # collect: every event and the EOT accepted in the cycle they are offered
        cycles = 0
        gaps = 0
        for i in [*events, None]:
            while rng.random() < p_gap:
                out = await self.step(m_ready=rng.randrange(2))
                assert not out["busy"] and not out["m_valid"]
                gaps += 1
                cycles += 1
            out = await self.step(ev=i, eot=int(i is None), m_ready=rng.randrange(2))
            assert out["s_fire"], f"cycle {self.cycle}: input beat refused while idle"
            assert not out["m_valid"]
            cycles += 1
        assert cycles == collect_cycles(len(events)) + gaps
        self.stats["events_in"] += len(events)
        self.stats["input_gap_cycles"] += gaps

        # sweep: from the EOT acceptance edge e, cycle j lies between edges e+j-1 and e+j
        kk = g.KH * g.KW
        got: list[int] = []
        stalls = 0
        j = 0
        offered = False  # an event is being held from an earlier cycle
        while True:
            j += 1
            m_ready = int(rng.random() < p_ready)
            out = await self.step(m_ready=m_ready, **self.junk())
            assert out["busy"], f"busy low {j} cycles into a sweep"
            assert not out["s_fire"], "input accepted during a sweep"
            assert j <= 10 * (g.slots + 3) + 1000, "the sweep never ends"
            if out["m_valid"] and not offered:
                if out["m_eot"]:
                    want = sweep_cycles(g, stalls)  # loaded at e + 2 + P + stalls
                    assert out["m_index"] == 0, "EOT event with a nonzero index"
                else:
                    want = event_offer_cycle(g, out["m_index"], stalls) + 1
                assert j == want, (
                    f"cycle {self.cycle}: event {out['m_index']} eot={out['m_eot']} offered in "
                    f"sweep cycle {j}, contract says {want} (stalls so far {stalls}, "
                    f"KH*KW={kk})")
            offered = bool(out["stall"])
            stalls += out["stall"]
            if out["m_fire"]:
                if out["m_eot"]:
                    break
                got.append(out["m_index"])
        assert got == expected, f"cycle {self.cycle}: events {got}, expected {expected}"
        assert j == sweep_cycles(g, stalls), (
            f"sweep took {j} cycles with {stalls} stall cycles; contract: "
            f"C*OH*OW*KH*KW + 3 + stalls = {sweep_cycles(g, stalls)}")
        self.counts = new_counts
        self.stats["timesteps"] += 1
        self.stats["events_out"] += len(got)
        self.stats["stall_cycles"] += stalls

    def statistics(self, spikes: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:
        s, c = spikes.reshape(-1), counts.reshape(-1)
        for o, win in enumerate(self.windows):
            spiking = [i for i in win if s[i]]
            if not spiking:
                continue
            best = max(c[i] for i in win)
            if not out[o]:
                self.stats["blocked_windows"] += 1  # a spike in the window, not the maximum
            elif sum(1 for i in win if c[i] == best) > 1:
                self.stats["tied_windows"] += 1  # passed with a tie for the maximum
        self.stats["max_count"] = max(self.stats["max_count"], int(c.max()))


@cocotb.test()
async def test_images(dut) -> None:
    bench = GateBench(dut)
    # every input has a defined value before the first clock edge (Verilator starts inputs at
    # random values and its first evaluation at time 0 can see a rising edge)
    dut.rst.value = 1
    for name in ("clear_valid", "s_valid", "s_index", "s_eot", "m_ready"):
        getattr(dut, name).value = 0
    await Timer(1, unit="ns")
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    await bench.reset()
    rng = bench.rng
    cfg = bench.cfg
    t_lo, t_hi = cfg["timesteps"]
    assert t_hi < 2 ** bench.cw, "the counts would overflow CNT_WIDTH"
    for image in range(cfg["images"]):
        await bench.clear()
        # the last image runs the most timesteps: its always-on neurons reach count t_hi
        steps = t_hi if image == cfg["images"] - 1 else rng.randint(t_lo, t_hi)
        last = image == cfg["images"] - 1
        # per-neuron spike rates; in the last image a few neurons spike in every timestep (no
        # empty timestep there), so their counts reach t_hi
        rates = np.array([rng.random() ** 2 for _ in range(bench.g.n_in)])
        always = np.zeros(bench.g.n_in, dtype=bool)
        if last:
            always[rng.sample(range(bench.g.n_in), max(1, bench.g.n_in // 20))] = True
        always = always.reshape(bench.shape)
        # the first image starts with an empty timestep and has an all-spiking one; the
        # second has both; the rest is random
        force = {(0, 0): "empty", (0, 2): "all", (1, 1): "all", (1, 3): "empty"}
        for t in range(steps):
            spikes = bench.pattern(rates, always, allow_empty=not last,
                                   force=force.get((image, t), ""))
            p_gap = rng.choice([0.0, 0.0, 0.2, 0.5])
            p_ready = rng.choice([1.0, 1.0, 0.7, 0.3]) if t > 0 else 1.0
            await bench.timestep(spikes, p_gap, p_ready)
            for _ in range(rng.randrange(3)):  # idle gaps between timesteps
                out = await bench.step(m_ready=rng.randrange(2))
                assert not out["busy"] and not out["m_valid"]
    s = bench.stats
    dut._log.info("%d cycles; %s", bench.cycle, dict(s))
    for key in ("stall_cycles", "events_out", "blocked_windows", "tied_windows",
                "empty_timesteps", "all_spiking_timesteps", "random_order", "input_gap_cycles"):
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"
    assert s["max_count"] == t_hi, f"counts never reached {t_hi}: {dict(s)}"
