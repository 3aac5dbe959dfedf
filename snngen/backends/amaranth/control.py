"""Control: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_control.v`` (the inference
schedule).

The network is a chain of ``stages`` stages (IF layers and max-pool gates), each with a
go / done handshake. One image runs as

    clear -> load (the first layer's constant current) -> steps s = 1 .. T + stages - 1
    -> readout

and in step s every stage k (0-based) with 1 <= s - k <= T processes timestep t = s - k:
stage k works on timestep t while stage k + 1 works on t - 1 (layer pipelining). A step ends
when every active stage has reported done; the next one starts at once.

Contract (identical to the header of snn_control.v and docs/architecture.md §3.2, cycle for
cycle; every output is a register or a function of registers only)
  - Reset: the ``sync`` domain's (synchronous, active high): idle (busy 0), ``dbg_step`` 0,
    every pulse output low after the reset edge.
  - ``start`` is honoured while idle (``busy`` 0) and ignored while busy; ``timesteps`` is
    sampled with it and limited to 1 .. ``t_max`` (the network's proven max_timesteps): 0 runs
    1 timestep, more than ``t_max`` runs ``t_max``.
  - ``start`` at edge e0: ``clear`` is high in the cycle after e0 (every block is idle then and
    accepts it at edge e0 + 1); ``busy`` is high from the cycle after e0. From edge e0 + 2 on,
    the controller waits for a cycle with ``first_busy`` = 0 (the first stage's blocks, which
    the load uses); at the edge ending that cycle, ``load`` goes high for one cycle. The other
    stages' blocks (``rest_busy``) go on clearing during the load: nothing reaches them before
    step 2.
  - ``load_done`` (a one-cycle pulse) at edge e: step 1 begins at the first edge e' >= e that
    ends a cycle with ``rest_busy`` = 0 (e' = e when the other clears are over by then):
    ``go[k]`` is high in the cycle after e' for the stages active in step 1 (only stage 0).
    ``stage_done[k]`` (a one-cycle pulse, sampled at an edge) retires stage k from the step;
    at the edge where the last active stage of step s retires, ``go`` is raised (for one
    cycle) for the stages active in step s + 1, or, after the last step (s = T + stages - 1),
    ``rd_start``. So step s lasts exactly the maximum over its
    active stages of (done edge - go edge), with no cycle between steps. A ``stage_done`` of a
    stage that is not pending is ignored; ``load_done`` outside the load is ignored.
  - ``rd_done`` (a one-cycle pulse, the result transfer) ends the image: ``done`` is high in the
    cycle after it, ``busy`` falls at the same edge.
  - ``dbg_step`` is the current step s (0 outside the steps).
  - ``out_blocked[k]``: stage k offers an output event that is not taken (m_valid & ~m_ready);
    ``deadlock[k]`` (sticky: only reset clears it) is high from the cycle after a cycle of a
    step in which ``out_blocked[k]`` is high while stage k + 1 is not pending (retired from the
    step or not active in it; for the last stage: always). Stage k + 1 then reads nothing until
    the next step, which cannot begin before stage k retires, which needs its blocked event
    taken: the image can never finish (only a FIFO shallower than two timesteps of stage k's
    events does this, docs/architecture.md §3.5). The flag changes nothing else.

Implementation (the Verilog's registers and names): ``state_reg`` (idle, clear, wait, load,
step, read, settle: the load is over, the other clears are not), ``t_reg`` (the limited
timesteps, not reset), ``step_reg``, ``pending_reg`` (the active stages not yet done) and the
pulse registers ``go_reg``, ``clear_reg``, ``load_reg``, ``rd_start_reg``, ``done_reg`` (0
unless set at that edge) and the sticky ``deadlock_reg``.
tests/test_hw_control.py proves (equiv_induct) that the converted module and snn_control.v hold
the same value in every register and output in every cycle, given the same state at the start
(Amaranth powers up at 0, the Verilog at x; the contract needs a reset first).
"""

from __future__ import annotations

import numbers

from amaranth.hdl import Cat, Const, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Control"]

_S_IDLE, _S_CLEAR, _S_WAIT, _S_LOAD, _S_STEP, _S_READ, _S_SETTLE = range(7)


class Control(wiring.Component):
    """The inference schedule of a generated network, equivalent to snn_control.v.

    Parameters (the Verilog's, lower-cased)
    ----------
    stages : int
        Number of pipeline stages (``STAGES``, >= 1).
    t_width : int
        Width of the ``timesteps`` input (``T_WIDTH``, 1 .. 24).
    t_max : int
        The longest run, the network's proven max_timesteps (``T_MAX``, 1 .. 2**t_width - 1).
    step_width : int, optional
        Width of ``dbg_step`` (``STEP_WIDTH``, t_width .. 30, holds t_max + stages - 1);
        default t_width + 1.

    Ports (every one keeps its Verilog name)
    -----
    start : In(1), timesteps : In(t_width), busy : Out(1), done : Out(1)
    clear : Out(1), first_busy : In(1), rest_busy : In(1)
    load : Out(1), load_done : In(1)
    go : Out(stages), stage_done : In(stages) (stage k in bit k)
    rd_start : Out(1), rd_done : In(1)
    dbg_step : Out(step_width)
    out_blocked : In(stages), deadlock : Out(stages) (stage k in bit k)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_control_ERROR_<rule>``) for a bad parameter.
    """

    VERILOG_NAME = "snn_control"

    def __init__(self, stages: int, t_width: int, t_max: int,
                 step_width: int | None = None) -> None:
        stages, t_width, t_max, step_width = (
            int(x) if isinstance(x, numbers.Integral) else x
            for x in (stages, t_width, t_max, step_width))
        if step_width is None and isinstance(t_width, int):
            step_width = t_width + 1
        rule = None
        if not isinstance(stages, int) or stages < 1:
            rule = f"STAGES_must_be_at_least_1: stages={stages!r}"
        elif not isinstance(t_width, int) or not 1 <= t_width <= 24:
            rule = f"T_WIDTH_must_be_1_to_24: t_width={t_width!r}"
        elif not isinstance(t_max, int) or not 1 <= t_max <= (1 << t_width) - 1:
            rule = f"T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1: t_max={t_max!r}"
        elif (not isinstance(step_width, int) or not t_width <= step_width <= 30
              or (1 << step_width) - 1 < t_max + stages - 1):
            rule = f"STEP_WIDTH_too_small_for_T_plus_STAGES: step_width={step_width!r}"
        if rule is not None:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise ValueError(f"snn_control_ERROR_{rule}")
        self.stages = stages
        self.t_width = t_width
        self.t_max = t_max
        self.step_width = step_width
        super().__init__({
            "start": In(1),
            "timesteps": In(t_width),
            "busy": Out(1),
            "done": Out(1),
            "clear": Out(1),
            "first_busy": In(1),
            "rest_busy": In(1),
            "load": Out(1),
            "load_done": In(1),
            "go": Out(stages),
            "stage_done": In(stages),
            "rd_start": Out(1),
            "rd_done": In(1),
            "dbg_step": Out(step_width),
            "out_blocked": In(stages),
            "deadlock": Out(stages),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_control.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {name: (getattr(self, name), "i" if member.flow == wiring.In else "o")
                for name, member in self.signature.members.items()}

    def _active(self, s: int, t):
        """Bit k: stage k is active in step s (an int, evaluated here: no constant comparisons
        in the Verilog) of a run of t timesteps: 1 <= s - k <= t."""
        return Cat(*[(s - k <= t) if s > k else Const(0, 1) for k in range(self.stages)])

    def elaborate(self, platform) -> Module:
        m = Module()
        tw, sw, stages = self.t_width, self.step_width, self.stages

        state_reg = Signal(3, init=_S_IDLE)
        t_reg = Signal(tw, reset_less=True)
        step_reg = Signal(sw)
        pending_reg = Signal(stages)
        # pulses: 0 after every edge unless set below (also in reset)
        go_reg = Signal(stages)
        clear_reg = Signal()
        load_reg = Signal()
        rd_start_reg = Signal()
        done_reg = Signal()
        deadlock_reg = Signal(stages)

        # timesteps limited to 1 .. t_max
        t_low = Signal(tw)
        t_limited = Signal(tw)
        m.d.comb += t_low.eq(Mux(self.timesteps == 0, 1, self.timesteps))
        if self.t_max < (1 << tw) - 1:
            m.d.comb += t_limited.eq(Mux(t_low > self.t_max, self.t_max, t_low))
        else:  # every input value is a legal length
            m.d.comb += t_limited.eq(t_low)

        # the stages active in the current step, kept incrementally (as in the Verilog): stage k
        # is active in step s + 1 iff stage k - 1 is in step s, and stage 0 iff s < T; so the
        # end of a step needs no adder or comparator of the step number
        act_reg = Signal(stages)
        t_ext = Signal(sw)
        next_step = Signal(sw)
        pending_left = Signal(stages)
        first_active = Signal(stages)
        next_active = Signal(stages)
        last_step = Signal()
        m.d.comb += [
            t_ext.eq(t_reg),
            next_step.eq(step_reg + 1),
            pending_left.eq(pending_reg & ~self.stage_done),
            first_active.eq(self._active(1, t_ext)),
            next_active.eq(Cat(step_reg < t_ext, act_reg[:stages - 1])),
            # no stage is active in step s + 1 exactly when s is the last, T + STAGES - 1
            last_step.eq(next_active == 0),
        ]
        # stage k's reader is still in the step: stage k + 1 pending (none after the last);
        # a blocked stage whose reader has left the step can never deliver its event
        reader_pending = Signal(stages)
        stuck = Signal(stages)
        if stages > 1:
            m.d.comb += reader_pending.eq(pending_reg[1:])
        m.d.comb += stuck.eq(self.out_blocked & ~reader_pending)

        m.d.sync += [go_reg.eq(0), clear_reg.eq(0), load_reg.eq(0), rd_start_reg.eq(0),
                     done_reg.eq(0)]
        # t_reg has no reset, but is not loaded in a reset cycle
        with m.If((state_reg == _S_IDLE) & self.start & ~ResetSignal("sync")):
            m.d.sync += t_reg.eq(t_limited)
        with m.Switch(state_reg):
            with m.Case(_S_IDLE), m.If(self.start):
                m.d.sync += [clear_reg.eq(1), state_reg.eq(_S_CLEAR)]
            with m.Case(_S_CLEAR):
                # the blocks accept the clear at this edge; their busy shows from the next
                m.d.sync += state_reg.eq(_S_WAIT)
            with m.Case(_S_WAIT), m.If(~self.first_busy):
                m.d.sync += [load_reg.eq(1), state_reg.eq(_S_LOAD)]
            with m.Case(_S_LOAD, _S_SETTLE):
                # the load is over (load_done now, or before: settle) and the other stages'
                # clears are too
                with m.If((self.load_done | (state_reg == _S_SETTLE)) & ~self.rest_busy):
                    m.d.sync += [step_reg.eq(1), go_reg.eq(first_active),
                                 pending_reg.eq(first_active), act_reg.eq(first_active),
                                 state_reg.eq(_S_STEP)]
                with m.Elif(self.load_done):
                    m.d.sync += state_reg.eq(_S_SETTLE)
            with m.Case(_S_STEP):
                m.d.sync += [deadlock_reg.eq(deadlock_reg | stuck),
                             pending_reg.eq(pending_left)]
                with m.If(pending_left == 0):
                    with m.If(last_step):
                        m.d.sync += [step_reg.eq(0), rd_start_reg.eq(1),
                                     state_reg.eq(_S_READ)]
                    with m.Else():
                        m.d.sync += [step_reg.eq(next_step), go_reg.eq(next_active),
                                     pending_reg.eq(next_active), act_reg.eq(next_active)]
            with m.Default(), m.If(self.rd_done):
                m.d.sync += [done_reg.eq(1), state_reg.eq(_S_IDLE)]

        m.d.comb += [
            self.busy.eq(state_reg != _S_IDLE),
            self.done.eq(done_reg),
            self.clear.eq(clear_reg),
            self.load.eq(load_reg),
            self.go.eq(go_reg),
            self.rd_start.eq(rd_start_reg),
            self.dbg_step.eq(step_reg),
            self.deadlock.eq(deadlock_reg),
        ]
        return m
