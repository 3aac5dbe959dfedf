"""snngen.backends.amaranth.control.Control (the Amaranth twin of
snngen/backends/verilog/rtl/snn_control.v) in amaranth.sim.

snn_control has no block test of its own in rtl_tests (the whole-network tests run it); this
one checks the contract of its header (docs/architecture.md §3.2) cycle by cycle, images back
to back, against an independent model of the schedule:

* ``start`` at edge e0 (while idle): ``clear`` high in exactly the cycle after e0, busy from it;
  then the blocks stay busy for a random number of cycles (``blocks_busy``, from edge e0 + 2 on;
  junk before), and ``load`` is high in exactly the cycle after the edge ending the first cycle
  with ``blocks_busy`` = 0;
* the front end answers ``load`` with ``load_done`` after a random delay; ``go`` for step 1 in
  the cycle after that edge;
* every step s = 1 .. T + STAGES - 1: ``go`` is high for one cycle with exactly the stages k
  with 1 <= s - k <= T, ``dbg_step`` = s; a stage model answers each go with a one-cycle
  ``stage_done`` after its own random delay (1 = in the go cycle itself); the next step's go
  (or, after the last step, ``rd_start``) is high in the cycle right after the edge of the
  step's last done, so step s lasts exactly max(delays) cycles;
* ``rd_done`` after a random delay; ``done`` in the cycle after it, busy low from that cycle, a
  new start possible in that very cycle.

``timesteps`` is sampled with start and limited to 1 .. T_MAX (0, T_MAX + 1 and the largest
input value are tried); starts with other timesteps while busy, ``load_done``/``rd_done``
outside their waits, ``stage_done`` of stages that are not pending and ``blocks_busy`` outside
the wait are junk that must change nothing (the run length and every pulse are checked). On
some cycles the inputs are first set to other values and the outputs must not move (no
combinational path). Plus reset (in every phase: idle at once, then a full image), the
parameter checks with the Verilog's rule words, the port list, Verilator lint of the Verilog,
and a formal proof (Yosys equiv_induct) that the converted module and
snngen/backends/verilog/rtl/snn_control.v are equivalent cycle for cycle (every register and
output).

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
from snngen.backends.amaranth.control import Control
from snngen.flows import simrun

CONFIGS: dict[str, dict] = {
    "S3-T3-max5": dict(stages=3, t_width=3, t_max=5),  # timesteps > T_MAX are limited
    "S1-T1-max1-W1": dict(stages=1, t_width=1, t_max=1, step_width=1),  # the smallest
    "S4-T2-max3-W3": dict(stages=4, t_width=2, t_max=3, step_width=3),  # every input legal
    "S2-T8-max200": dict(stages=2, t_width=8, t_max=200),
    "S5-T4-max15": dict(stages=5, t_width=4, t_max=15),
}
CONTROL_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                   "CASEINCOMPLETE")
assert set(CONTROL_WAIVERS) <= set(LINT_REASONS)

_PULSES = ("clear", "load", "go", "rd_start", "done")


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


def active(s: int, t: int, stages: int) -> int:
    """The stages active in step s of a run of t timesteps, as a bit mask: 1 <= s - k <= t."""
    return sum(1 << k for k in range(stages) if 1 <= s - k <= t)


class ControlBench:
    """One cycle at a time: drive every input, sample the outputs, tick. The outputs of a cycle
    are compared with ``expect`` (every pulse not named there must be 0)."""

    def __init__(self, ctx, dut: Control, cd, seed: int) -> None:
        self.ctx, self.dut, self.cd, self.seed = ctx, dut, cd, seed
        self.rng = random.Random(seed ^ 0x5EED)
        self.stages, self.t_max, self.tw = dut.stages, dut.t_max, dut.t_width
        self.all_stages = (1 << self.stages) - 1
        self.cycle = 0
        self.p_junk = 0.3
        self.stats: collections.Counter = collections.Counter()

    def msg(self, text: str) -> str:
        return f"seed {self.seed} (SNN_SEED), cycle {self.cycle}: {text}"

    def outputs(self) -> dict:
        ctx, d = self.ctx, self.dut
        return {name: ctx.get(getattr(d, name))
                for name in ("busy", "done", "clear", "load", "go", "rd_start", "dbg_step")}

    def junk(self, p: float | None = None) -> int:
        return int(self.rng.random() < (self.p_junk if p is None else p))

    def _drive(self, start, timesteps, blocks_busy, load_done, stage_done, rd_done) -> None:
        ctx, d = self.ctx, self.dut
        ctx.set(d.start, start)
        ctx.set(d.timesteps, timesteps)
        ctx.set(d.blocks_busy, blocks_busy)
        ctx.set(d.load_done, load_done)
        ctx.set(d.stage_done, stage_done)
        ctx.set(d.rd_done, rd_done)

    async def step(self, expect: dict, *, start: int | None = None, timesteps: int | None = None,
                   blocks_busy: int | None = None, load_done: int | None = None,
                   stage_done: int = 0, rd_done: int | None = None) -> dict:
        """One cycle. Inputs left None get junk (the contract says they are ignored then)."""
        rng = self.rng
        if timesteps is None:
            timesteps = rng.getrandbits(self.tw)
        if start is None:
            start = self.junk()
            self.stats["junk_start"] += start
        blocks_busy = self.junk(0.5) if blocks_busy is None else blocks_busy
        load_done = self.junk() if load_done is None else load_done
        rd_done = self.junk() if rd_done is None else rd_done
        before = None
        if rng.random() < 0.2:
            # other inputs first: the outputs depend on registers only
            self._drive(rng.randrange(2), rng.getrandbits(self.tw), rng.randrange(2),
                        rng.randrange(2), rng.getrandbits(self.stages), rng.randrange(2))
            before = self.outputs()
        self._drive(start, timesteps, blocks_busy, load_done, stage_done, rd_done)
        out = self.outputs()
        if before is not None:
            assert out == before, self.msg(f"outputs moved with the inputs: {before} -> {out}")
            self.stats["probes"] += 1
        want = {name: 0 for name in _PULSES} | {"dbg_step": 0} | expect
        got = {name: out[name] for name in want}
        assert got == want, self.msg(f"outputs {got}, expected {want}")
        self.cycle += 1
        await self.ctx.tick()
        return out

    async def idle(self, cycles: int, done: int = 0) -> None:
        """Idle cycles with junk on the handshake inputs (no start)."""
        for i in range(cycles):
            await self.step({"busy": 0, "done": done if i == 0 else 0}, start=0,
                            stage_done=self.stage_junk(self.all_stages))

    def stage_junk(self, not_pending: int) -> int:
        """A random subset of the stages that are not pending (their done is ignored)."""
        junk = self.rng.getrandbits(self.stages) & not_pending if self.junk() else 0
        self.stats["junk_stage_done"] += bool(junk)
        return junk

    async def image(self, timesteps: int, *, done_before: int = 0,
                    max_delay: int = 4) -> int:
        """One image from its start cycle to the cycle after rd_done (not included: it is the
        caller's next cycle, with done high). Returns the number of steps run."""
        rng, stages = self.rng, self.stages
        t = min(max(timesteps, 1), self.t_max)
        last = t + stages - 1
        busy = {"busy": 1}
        # start at edge e0 (idle: busy low; done high if the last image ended at the last edge)
        await self.step({"busy": 0, "done": done_before}, start=1, timesteps=timesteps)
        # the cycle after e0: clear; blocks_busy is not looked at yet
        await self.step(busy | {"clear": 1}, stage_done=self.stage_junk(self.all_stages))
        # the blocks' clear: busy for b cycles (from edge e0 + 2), then load after a free one
        b = rng.choice([0, 0, 1, 2, 5])
        for _ in range(b):
            await self.step(busy, blocks_busy=1)
        await self.step(busy, blocks_busy=0)
        # load for one cycle; load_done d cycles later (0: in the load cycle itself)
        d = rng.choice([0, 1, 3])
        for j in range(d + 1):
            await self.step(busy | ({"load": 1} if j == 0 else {}), load_done=int(j == d),
                            stage_done=self.stage_junk(self.all_stages))
        # the steps
        for s in range(1, last + 1):
            act = active(s, t, stages)
            delays = {k: rng.randint(1, max_delay) for k in range(stages) if act >> k & 1}
            if rng.random() < 0.3:  # sometimes all done together
                delays = dict.fromkeys(delays, max(delays.values()))
            length = max(delays.values())
            pending = act
            for j in range(length):
                done = sum(1 << k for k, dk in delays.items() if dk - 1 == j)
                junk = self.stage_junk(self.all_stages & ~pending)
                await self.step(busy | {"dbg_step": s} | ({"go": act} if j == 0 else {}),
                                stage_done=done | junk)
                pending &= ~done
            assert pending == 0
            self.stats["steps"] += 1
            self.stats["step_cycles"] += length
        # readout: rd_start for one cycle, rd_done r cycles later
        r = rng.choice([0, 1, 4])
        for j in range(r + 1):
            await self.step(busy | ({"rd_start": 1} if j == 0 else {}), rd_done=int(j == r),
                            stage_done=self.stage_junk(self.all_stages))
        self.stats["images"] += 1
        self.stats["timesteps_" + ("limited" if t != timesteps else "as_given")] += 1
        return last


def _timesteps_choices(dut: Control) -> list[int]:
    top = (1 << dut.t_width) - 1
    values = [0, 1, dut.t_max, top, min(dut.t_max + 1, top)]
    return [v for v in values if v <= 12 or v == dut.t_max + 1 or dut.t_max <= 12]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_control_images(name):
    cfg = CONFIGS[name]
    seed = _seed(name)
    dut = Control(**cfg)
    top, cd = sim_top(dut)
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = ControlBench(ctx, dut, cd, seed)
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        await b.idle(2)
        rng = b.rng
        # the edge values, then random lengths (a long run once at most)
        lengths = _timesteps_choices(dut) + [rng.randint(0, min(dut.t_max, 9))
                                             for _ in range(6)]
        done = 0
        for i, timesteps in enumerate(lengths):
            b.p_junk = [0.0, 0.3, 0.7][i % 3]
            steps = await b.image(timesteps, done_before=done)
            assert steps == min(max(timesteps, 1), dut.t_max) + dut.stages - 1
            if rng.random() < 0.5:  # the next start in the cycle done is high
                done = 1
            else:
                await b.idle(rng.randint(1, 3), done=1)
                done = 0
        await b.idle(1, done=done)

    run_sim(top, testbench)
    s = bench.stats
    for key in ("junk_start", "junk_stage_done", "probes", "timesteps_limited"):
        if key == "timesteps_limited" and dut.t_max == (1 << dut.t_width) - 1:
            key = "timesteps_as_given"
        assert s[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {dict(s)}"


def test_control_step_lengths_exact():
    """Fixed delays: step s lasts max over its active stages of the delays, no gap; the whole
    image takes 1 (start) + 1 (clear) + 1 (free) + 1 (load) + sum of step lengths + 1
    (rd_start) cycles, done in the next one."""
    dut = Control(3, 4, 9)
    top, cd = sim_top(dut)
    t = 4
    delays = [[0] * 3 for _ in range(t + 3)]
    for s in range(1, t + 3):
        for k in range(3):
            delays[s][k] = 1 + (s * 7 + k * 3) % 5  # 1 .. 5, different per stage and step
    want_len = [max(delays[s][k] for k in range(3) if 1 <= s - k <= t)
                for s in range(1, t + 3)]

    async def testbench(ctx):
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        ctx.set(dut.timesteps, t)
        ctx.set(dut.start, 1)
        await ctx.tick()  # e0
        ctx.set(dut.start, 0)
        assert ctx.get(dut.clear) == 1 and ctx.get(dut.busy) == 1
        await ctx.tick()  # e0 + 1: the clear is taken
        assert ctx.get(dut.clear) == 0 and ctx.get(dut.load) == 0
        await ctx.tick()  # e0 + 2: blocks_busy is 0 in the cycle ending here
        assert ctx.get(dut.load) == 1
        ctx.set(dut.load_done, 1)
        await ctx.tick()  # load_done in the load cycle itself
        ctx.set(dut.load_done, 0)
        go_cycles: list[int] = []
        n = s = 0
        while not ctx.get(dut.rd_start):
            if ctx.get(dut.go):
                go_cycles.append(n)
                s = ctx.get(dut.dbg_step)
                assert ctx.get(dut.go) == active(s, t, 3)
            ctx.set(dut.stage_done, sum(1 << k for k in range(3) if 1 <= s - k <= t
                                        and n - go_cycles[-1] == delays[s][k] - 1))
            await ctx.tick()
            n += 1
            assert n < 200, "no rd_start"
        ctx.set(dut.stage_done, 0)
        assert np.diff(go_cycles).tolist() == want_len[:-1]
        assert n - go_cycles[-1] == want_len[-1]
        assert n == sum(want_len) and ctx.get(dut.dbg_step) == 0
        ctx.set(dut.rd_done, 1)
        await ctx.tick()
        ctx.set(dut.rd_done, 0)
        assert ctx.get(dut.done) == 1 and ctx.get(dut.busy) == 0
        await ctx.tick()
        assert ctx.get(dut.done) == 0

    run_sim(top, testbench)


@pytest.mark.parametrize("name", ["S3-T3-max5", "S1-T1-max1-W1"])
def test_control_reset(name):
    """Reset in every cycle of an image (clear, wait, load, every step, readout wait), with
    start and rd_done offered in the reset cycle: idle right after it, every pulse low,
    dbg_step 0; then a whole image runs as usual."""
    cfg = CONFIGS[name]
    seed = _seed(name + "-reset")
    dut = Control(**cfg)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = ControlBench(ctx, dut, cd, seed)
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        # every block answers at once: 1 clear, 1 wait, 1 load cycle, one cycle per step,
        # then the readout wait
        last = dut.t_max + dut.stages - 1
        for cut in range(3 + last + 2):
            ctx.set(dut.timesteps, dut.t_max)
            ctx.set(dut.start, 1)
            for _ in range(cut + 1):
                await ctx.tick()
                ctx.set(dut.start, 0)
                ctx.set(dut.load_done, 1)
                ctx.set(dut.stage_done, (1 << dut.stages) - 1)
            step = ctx.get(dut.dbg_step)
            assert ctx.get(dut.busy), f"not busy {cut + 1} cycles after start"
            assert step == (cut - 2 if 3 <= cut < 3 + last else 0), f"cut {cut}: step {step}"
            ctx.set(cd.rst, 1)
            ctx.set(dut.start, 1)
            ctx.set(dut.rd_done, 1)
            await ctx.tick()
            ctx.set(cd.rst, 0)
            ctx.set(dut.start, 0)
            ctx.set(dut.rd_done, 0)
            got = {k: ctx.get(getattr(dut, k)) for k in (*_PULSES, "busy", "dbg_step")}
            assert not any(got.values()), f"reset {cut + 1} cycles after start: {got}"
            await ctx.tick()
            got = {k: ctx.get(getattr(dut, k)) for k in (*_PULSES, "busy", "dbg_step")}
            assert not any(got.values()), f"reset {cut + 1} cycles after start: {got}"
        await b.idle(2)
        await b.image(dut.t_max)
        await b.idle(1, done=1)

    run_sim(top, testbench)


_OK = dict(stages=3, t_width=8, t_max=128)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"stages": 0}, "STAGES_must_be_at_least_1"),
    ({"t_width": 0}, "T_WIDTH_must_be_1_to_24"),
    ({"t_width": 25}, "T_WIDTH_must_be_1_to_24"),
    ({"t_max": 0}, "T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1"),
    ({"t_max": 256}, "T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1"),
    ({"step_width": 7}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
    ({"step_width": 31}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
    ({"step_width": 8, "t_max": 254}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_control_bad_parameters(params, rule):
    key = "step_width" if "step_width" in params else next(iter(params))
    with pytest.raises(ValueError, match=f"snn_control_ERROR_{rule}: {key}="):
        Control(**{**_OK, **params})


def test_control_defaults_and_edge_parameters():
    dut = Control(np.int64(3), 8, 128)
    assert dut.step_width == 9
    Fragment.get(dut, None)
    # the limits themselves are accepted
    for params in [dict(stages=2, t_width=8, t_max=254, step_width=8),
                   dict(stages=1, t_width=24, t_max=(1 << 24) - 1, step_width=30)]:
        Fragment.get(Control(**params), None)


def test_control_ports_match_the_verilog():
    dut = Control(4, 6, 50, 7)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "start": (1, "i"), "timesteps": (6, "i"), "busy": (1, "o"), "done": (1, "o"),
        "clear": (1, "o"), "blocks_busy": (1, "i"), "load": (1, "o"), "load_done": (1, "i"),
        "go": (4, "o"), "stage_done": (4, "i"), "rd_start": (1, "o"), "rd_done": (1, "i"),
        "dbg_step": (7, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_control\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_control
LINT_CONFIGS = {
    "default": dict(stages=3, t_width=8, t_max=128),
    "S1-T1": dict(stages=1, t_width=1, t_max=1, step_width=1),
    "S5-T8-max255": dict(stages=5, t_width=8, t_max=255, step_width=9),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_control_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(Control(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_control", CONTROL_WAIVERS, tmp_path)


_REGS = ["state_reg", "t_reg", "step_reg", "pending_reg", "go_reg", "clear_reg", "load_reg",
         "rd_start_reg", "done_reg"]
EQUIV_CONFIGS = {
    "S3-T3-max5": dict(stages=3, t_width=3, t_max=5),
    "S1-T1-max1-W1": dict(stages=1, t_width=1, t_max=1, step_width=1),
    "S4-T2-max3-W3": dict(stages=4, t_width=2, t_max=3, step_width=3),
    "S2-T4-max15-W5": dict(stages=2, t_width=4, t_max=15, step_width=5),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_control_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = Control(**EQUIV_CONFIGS[name])
    params = dict(STAGES=dut.stages, T_WIDTH=dut.t_width, T_MAX=dut.t_max,
                  STEP_WIDTH=dut.step_width)
    check_equivalence(dut, params, [(f"u.{r}", r) for r in _REGS], tmp_path)
