"""cocotb tests for snn_control, run inside the simulator by test_control.py (through runner.py),
on the hand-written Verilog and on the Amaranth twin.

The contract of the header of snngen/backends/verilog/rtl/snn_control.v (docs/architecture.md
§3.2), cycle by cycle, images back to back, against an independent model of the schedule:

* ``start`` at edge e0 (while idle): ``clear`` high in exactly the cycle after e0, busy from it;
  then the first stage's blocks stay busy for a random number of cycles (``first_busy``, from
  edge e0 + 2 on; junk before), and ``load`` is high in exactly the cycle after the edge ending
  the first cycle with ``first_busy`` = 0;
* the front end answers ``load`` with ``load_done`` after a random delay; the other stages'
  blocks are still busy (``rest_busy``) for a random number of cycles from that cycle on (0:
  done before it); ``go`` for step 1 in the cycle after the edge ending the first cycle, from
  the ``load_done`` cycle on, with ``rest_busy`` = 0;
* every step s = 1 .. T + STAGES - 1: ``go`` is high for one cycle with exactly the stages k
  with 1 <= s - k <= T, ``dbg_step`` = s; a stage model answers each go with a one-cycle
  ``stage_done`` after its own random delay (1 = in the go cycle itself); the next step's go
  (or, after the last step, ``rd_start``) is high in the cycle right after the edge of the
  step's last done, so step s lasts exactly max(delays) cycles;
* ``rd_done`` after a random delay; ``done`` in the cycle after it, busy low from that cycle, a
  new start possible in that very cycle.

``timesteps`` is sampled with start and limited to 1 .. T_MAX (0, T_MAX + 1 and the largest
input value are tried); starts with other timesteps while busy, ``load_done``/``rd_done``
outside their waits, ``stage_done`` of stages that are not pending, ``first_busy`` outside the
wait and ``rest_busy`` before ``load_done`` and in the steps are junk that must change nothing
(the run length and every pulse are checked). On some cycles the inputs are first driven to
other values mid-cycle and the outputs must not move (no combinational path). Plus exact step
lengths with fixed delays (an image's whole length), and reset in every cycle of an image (idle
at once, then a full image).

The configuration comes from SNN_CONTROL_CONFIG (JSON); the rng seed is cocotb.RANDOM_SEED mixed
with the test's name (the runner reports the SNN_SEED to rerun with).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import random
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

PERIOD_NS = 10
_PULSES = ("clear", "load", "go", "rd_start", "done")
_OUTPUTS = ("busy", "done", "clear", "load", "go", "rd_start", "dbg_step", "deadlock")


def active(s: int, t: int, stages: int) -> int:
    """The stages active in step s of a run of t timesteps, as a bit mask: 1 <= s - k <= t."""
    return sum(1 << k for k in range(stages) if 1 <= s - k <= t)


def _value(signal) -> int:
    """The value of an output: every output is a register that the reset sets, so an x or z
    after it fails the test."""
    v = signal.value
    assert v.is_resolvable, f"{signal._path} is {v}"
    return int(v)


class ControlBench:
    """One cycle at a time (each step called right after a rising edge): drive every input,
    sample the outputs in ReadOnly, wait for the edge. The outputs of a cycle are compared with
    ``expect`` (every pulse not named there must be 0, and dbg_step 0)."""

    def __init__(self, dut, name: str) -> None:
        cfg = json.loads(os.environ["SNN_CONTROL_CONFIG"])
        self.dut = dut
        self.stages, self.tw, self.t_max = cfg["STAGES"], cfg["T_WIDTH"], cfg["T_MAX"]
        self.step_width = cfg.get("STEP_WIDTH", self.tw + 1)  # the module's default
        self.all_stages = (1 << self.stages) - 1
        seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
        self.rng = random.Random(seed)
        dut._log.info("%s: %s, rng seed %d (from COCOTB_RANDOM_SEED=%d)",
                      name, cfg, seed, cocotb.RANDOM_SEED)
        assert len(dut.go) == len(dut.stage_done) == self.stages
        assert len(dut.timesteps) == self.tw and len(dut.dbg_step) == self.step_width
        self.cycle = 0
        self.p_junk = 0.3
        self.dead = 0  # the deadlock flags expected (sticky until reset)
        self.stats: collections.Counter = collections.Counter()

    def msg(self, text: str) -> str:
        return f"cycle {self.cycle}: {text}"

    async def start(self) -> None:
        """Clock, every input 0, reset for two edges (the first may come with the clock's
        start); returns right after the last."""
        d = self.dut
        Clock(d.clk, PERIOD_NS, unit="ns").start()
        self._drive(0, 0, 0, 0, 0, 0, 0, 0)
        d.rst.value = 1
        for _ in range(2):
            await RisingEdge(d.clk)
        d.rst.value = 0
        self.dead = 0

    def outputs(self) -> dict[str, int]:
        return {name: _value(getattr(self.dut, name)) for name in _OUTPUTS}

    def junk(self, p: float | None = None) -> int:
        return int(self.rng.random() < (self.p_junk if p is None else p))

    def _drive(self, start, timesteps, first_busy, rest_busy, load_done, stage_done, rd_done,
               out_blocked) -> None:
        d = self.dut
        d.out_blocked.value = out_blocked
        d.start.value = start
        d.timesteps.value = timesteps
        d.first_busy.value = first_busy
        d.rest_busy.value = rest_busy
        d.load_done.value = load_done
        d.stage_done.value = stage_done
        d.rd_done.value = rd_done

    async def step(self, expect: dict, *, start: int | None = None, timesteps: int | None = None,
                   first_busy: int | None = None, rest_busy: int | None = None,
                   load_done: int | None = None,
                   stage_done: int = 0, rd_done: int | None = None,
                   out_blocked: int | None = None, pending: int | None = None) -> dict:
        """One cycle. Inputs left None get junk (the contract says they are ignored then).
        ``pending``: the stages pending in this cycle of a step (None outside the steps); a
        blocked stage whose reader (the next stage) is not pending then sets its deadlock
        flag at the edge. Junk ``out_blocked`` never does: outside the steps it is ignored, in
        a step it only blocks stages whose reader is pending."""
        rng = self.rng
        if timesteps is None:
            timesteps = rng.getrandbits(self.tw)
        if start is None:
            start = self.junk()
            self.stats["junk_start"] += start
        first_busy = self.junk(0.5) if first_busy is None else first_busy
        rest_busy = self.junk(0.5) if rest_busy is None else rest_busy
        load_done = self.junk() if load_done is None else load_done
        rd_done = self.junk() if rd_done is None else rd_done
        if out_blocked is None:
            out_blocked = rng.getrandbits(self.stages) if self.junk() else 0
            if pending is not None:
                out_blocked &= pending >> 1
            self.stats["junk_blocked"] += bool(out_blocked)
        before = None
        if rng.random() < 0.2:
            # other inputs first: the outputs depend on registers only
            self._drive(rng.randrange(2), rng.getrandbits(self.tw), rng.randrange(2),
                        rng.randrange(2), rng.randrange(2), rng.getrandbits(self.stages),
                        rng.randrange(2),
                        rng.getrandbits(self.stages))
            await Timer(1, "ns")
            before = self.outputs()
        self._drive(start, timesteps, first_busy, rest_busy, load_done, stage_done, rd_done,
                    out_blocked)
        await ReadOnly()
        out = self.outputs()
        if before is not None:
            assert out == before, self.msg(f"outputs moved with the inputs: {before} -> {out}")
            self.stats["probes"] += 1
        want = {name: 0 for name in _PULSES} | {"dbg_step": 0, "deadlock": self.dead} | expect
        got = {name: out[name] for name in want}
        assert got == want, self.msg(f"outputs {got}, expected {want}")
        if pending is not None:
            stuck = out_blocked & ~(pending >> 1)
            self.stats["deadlocks"] += bool(stuck & ~self.dead)
            self.dead |= stuck
        self.cycle += 1
        await RisingEdge(self.dut.clk)
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

    async def image(self, timesteps: int, *, done_before: int = 0, max_delay: int = 4,
                    p_block: float = 0.0) -> int:
        """One image from its start cycle to the cycle after rd_done (not included: it is the
        caller's next cycle, with done high). Returns the number of steps run. ``p_block``:
        the probability that a step cycle blocks a random stage whatever its reader does (a
        deadlock when that reader is not pending)."""
        rng, stages = self.rng, self.stages
        t = min(max(timesteps, 1), self.t_max)
        last = t + stages - 1
        busy = {"busy": 1}
        # start at edge e0 (idle: busy low; done high if the last image ended at the last edge)
        await self.step({"busy": 0, "done": done_before}, start=1, timesteps=timesteps)
        # the cycle after e0: clear; first_busy is not looked at yet
        await self.step(busy | {"clear": 1}, stage_done=self.stage_junk(self.all_stages))
        # the first stage's clear: busy for b cycles (from edge e0 + 2), then load after a free
        # one
        b = rng.choice([0, 0, 1, 2, 5])
        for _ in range(b):
            await self.step(busy, first_busy=1)
        await self.step(busy, first_busy=0)
        # load for one cycle; load_done d cycles later (0: in the load cycle itself); the other
        # stages' clears last r more cycles from the load_done cycle on (0: over before it)
        d = rng.choice([0, 1, 3])
        # (every third image waits, so that each run reaches the case whatever the seed)
        r = rng.choice([1, 3]) if self.stats["images"] % 3 == 0 else rng.choice([0, 0, 1, 3])
        for j in range(d + 1):
            await self.step(busy | ({"load": 1} if j == 0 else {}), load_done=int(j == d),
                            rest_busy=int(r > 0) if j == d else None,
                            stage_done=self.stage_junk(self.all_stages))
        for j in range(r):
            # load_done is ignored now; step 1 waits for the cycle with rest_busy = 0
            await self.step(busy, rest_busy=int(j < r - 1),
                            stage_done=self.stage_junk(self.all_stages))
        self.stats["settle_cycles"] += r
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
                blocked = None
                if rng.random() < p_block:
                    blocked = 1 << rng.randrange(stages)
                    self.stats["reader_pending" if pending >> 1 & blocked else "reader_gone"] += 1
                await self.step(busy | {"dbg_step": s} | ({"go": act} if j == 0 else {}),
                                stage_done=done | junk, out_blocked=blocked, pending=pending)
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

    def timesteps_choices(self) -> list[int]:
        """0, 1, T_MAX, the largest input value and T_MAX + 1 (long runs only once: T_MAX + 1
        runs T_MAX timesteps)."""
        top = (1 << self.tw) - 1
        values = [0, 1, self.t_max, top, min(self.t_max + 1, top)]
        return [v for v in values if v <= 12 or v == self.t_max + 1 or self.t_max <= 12]

    async def tick(self) -> None:
        """To the next rising edge, then 1 ns on: the registered outputs are settled and the
        inputs can be driven for the next edge."""
        await RisingEdge(self.dut.clk)
        await Timer(1, "ns")


@cocotb.test()
async def test_images(dut) -> None:
    """Images back to back with random delays and junk: the edge values of timesteps, then
    random lengths; the next start in the cycle done is high or after some idle cycles."""
    b = ControlBench(dut, "test_images")
    await b.start()
    await b.idle(2)
    rng = b.rng
    lengths = b.timesteps_choices() + [rng.randint(0, min(b.t_max, 9)) for _ in range(6)]
    done = 0
    for i, timesteps in enumerate(lengths):
        b.p_junk = [0.0, 0.3, 0.7][i % 3]
        steps = await b.image(timesteps, done_before=done)
        assert steps == min(max(timesteps, 1), b.t_max) + b.stages - 1
        if rng.random() < 0.5:  # the next start in the cycle done is high
            done = 1
        else:
            await b.idle(rng.randint(1, 3), done=1)
            done = 0
    await b.idle(1, done=done)
    s = b.stats
    dut._log.info("%d images, %d steps in %d cycles; %s", s["images"], s["steps"], b.cycle,
                  dict(s))
    # the stimulus must have reached the cases it is meant to check
    limited = "timesteps_as_given" if b.t_max == (1 << b.tw) - 1 else "timesteps_limited"
    for key in ("junk_start", "junk_stage_done", "probes", "settle_cycles", limited):
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"


@cocotb.test()
async def test_step_lengths_exact(dut) -> None:
    """Fixed delays (1 .. 5, different per stage and step), no junk: step s lasts the max over
    its active stages of the delays, with no gap; the image takes 1 (start) + 1 (clear) + 1
    (free) + 1 (load) + the sum of the step lengths + 1 (rd_start) cycles, done in the next
    one. Checked from the go pulses alone, without the bench's schedule model."""
    b = ControlBench(dut, "test_step_lengths_exact")
    await b.start()
    d, stages = dut, b.stages
    t = min(4, b.t_max)
    last = t + stages - 1
    delays = {(s, k): 1 + (s * 7 + k * 3) % 5 for s in range(1, last + 1)
              for k in range(stages)}
    want_len = [max(delays[s, k] for k in range(stages) if 1 <= s - k <= t)
                for s in range(1, last + 1)]
    await Timer(1, "ns")
    d.timesteps.value = t
    d.start.value = 1
    await b.tick()  # e0
    d.start.value = 0
    assert (_value(d.clear), _value(d.busy)) == (1, 1), "clear/busy after the start edge"
    await b.tick()  # e0 + 1: the clear is taken
    assert (_value(d.clear), _value(d.load)) == (0, 0), "clear/load at e0 + 1"
    await b.tick()  # e0 + 2: first_busy is 0 in the cycle ending here
    assert _value(d.load) == 1, "no load at e0 + 2"
    d.load_done.value = 1
    await b.tick()  # load_done in the load cycle itself
    d.load_done.value = 0
    go_cycles: list[int] = []
    n = s = 0
    while not _value(d.rd_start):
        go = _value(d.go)
        if go:
            go_cycles.append(n)
            s = _value(d.dbg_step)
            assert go == active(s, t, stages), f"go {go:b} in step {s}"
        d.stage_done.value = sum(1 << k for k in range(stages) if 1 <= s - k <= t
                                 and n - go_cycles[-1] == delays[s, k] - 1)
        await b.tick()
        n += 1
        assert n < 200, "no rd_start"
    d.stage_done.value = 0
    assert [b2 - a for a, b2 in itertools.pairwise(go_cycles)] == want_len[:-1]
    assert n - go_cycles[-1] == want_len[-1]
    assert n == sum(want_len) and _value(d.dbg_step) == 0
    d.rd_done.value = 1
    await b.tick()
    d.rd_done.value = 0
    assert (_value(d.done), _value(d.busy)) == (1, 0), "done/busy after rd_done"
    await b.tick()
    assert _value(d.done) == 0, "done longer than one cycle"


@cocotb.test()
async def test_reset(dut) -> None:
    """Reset in every cycle of an image (clear, wait, load, every step, readout wait), with
    start and rd_done offered in the reset cycle: idle right after it, every pulse low,
    dbg_step 0, also one cycle later; then a whole image runs as usual. Runs of at most 6
    timesteps (T_MAX when smaller), so that long configurations stay short."""
    b = ControlBench(dut, "test_reset")
    await b.start()
    d = dut
    t = min(b.t_max, 6)
    # every block answers at once: 1 clear, 1 wait, 1 load cycle, one cycle per step, then the
    # readout wait
    last = t + b.stages - 1
    await Timer(1, "ns")
    for cut in range(3 + last + 2):
        d.timesteps.value = t
        d.start.value = 1
        for _ in range(cut + 1):
            await b.tick()
            d.start.value = 0
            d.load_done.value = 1
            d.stage_done.value = b.all_stages
        step = _value(d.dbg_step)
        assert _value(d.busy) == 1, f"not busy {cut + 1} cycles after start"
        assert step == (cut - 2 if 3 <= cut < 3 + last else 0), f"cut {cut}: step {step}"
        d.rst.value = 1
        d.start.value = 1
        d.rd_done.value = 1
        await b.tick()
        d.rst.value = 0
        d.start.value = 0
        d.rd_done.value = 0
        for i in range(2):  # right after the reset edge and one cycle later
            if i:
                await b.tick()
            got = {k: _value(getattr(d, k))
                   for k in (*_PULSES, "busy", "dbg_step", "deadlock")}
            assert not any(got.values()), f"reset {cut + 1} cycles after start: {got}"
        b.stats["resets"] += 1
    d.load_done.value = 0
    d.stage_done.value = 0
    # back on the step grid: right after an edge
    await RisingEdge(d.clk)
    await b.idle(2)
    await b.image(t)
    await b.idle(1, done=1)
    assert b.stats["resets"] == 3 + last + 2


@cocotb.test()
async def test_deadlock_flag(dut) -> None:
    """Stages blocked at random in the steps, their readers pending or not: deadlock[k] rises at
    the edge after the first cycle in which stage k is blocked while stage k + 1 is not pending
    (always for the last stage), stays high for the rest of the image (the schedule goes on
    unchanged) and falls only with reset; blocking while the reader is pending, and outside the
    steps, never sets it."""
    b = ControlBench(dut, "test_deadlock_flag")
    await b.start()
    await b.idle(2)
    rng, d = b.rng, dut
    for i in range(12):
        t = rng.randint(1, min(b.t_max, 6))
        await b.image(t, p_block=[0.02, 0.1, 0.3][i % 3])
        await b.idle(1, done=1)
        if b.dead:
            # only reset clears the flags: idle cycles keep them
            await b.idle(2)
            d.rst.value = 1
            await RisingEdge(d.clk)
            d.rst.value = 0
            b.dead = 0
            b.stats["cleared"] += 1
            await b.idle(1)
    s = b.stats
    dut._log.info("%d images; %s", s["images"], dict(s))
    wanted = ("deadlocks", "cleared", "reader_gone") + (("reader_pending",) if b.stages > 1
                                                         else ())
    for key in wanted:
        assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"
