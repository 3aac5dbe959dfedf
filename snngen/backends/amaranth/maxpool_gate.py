"""MaxPoolGate: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_maxpool_gate.v`` (the spiking
max-pool gate).

It sits between an IF population of ``C x H x W`` neurons (flat input index
``n = (c*H + h)*W + w``) and the next layer, and emits the spikes of the pooled map
``C x OH x OW`` (flat output index ``o = (c*OH + y)*OW + x``), docs/semantics.md §4, first
bullet (golden ``maxpool_gate``, model ``snngen.hwmodel.blocks.gate``). Every input neuron i keeps
its spike count c_i(t) (its spikes in timesteps 1 .. t, this one included); output o spikes at t iff
some input i of its window spikes at t and c_i(t) is the largest count of the window. Ties all
pass, the output spikes once; padding positions never spike and never count; windows may
overlap. Window of o = (c, y, x): positions (y*SH + ky - PH, x*SW + kx - PW), ky < KH, kx < KW.

Storage (as in the Verilog)
  - One :class:`~amaranth.lib.memory.Memory` ``mem`` of ``max(C*H*W, 2)`` words of
    ``2*cnt_width`` bits, one write port and one synchronous read port with enable (read
    register ``rd_q``; not transparent). Word n = {tag, count} (count in the low half):
    count = c_n, tag = the last timestep in which neuron n spiked (0: never). The gate keeps the
    number ``ts_reg`` of the current timestep (1 after a clear, +1 after every sweep), so "n
    spiked in this timestep" is tag == ts and nothing is cleared between timesteps.
  - At most 2**cnt_width - 1 timesteps per image (then every count and tag fits).

Contract (identical to the header of snn_maxpool_gate.v, cycle for cycle; every stream
transfers on a rising edge with valid & ready; every valid is a register or a function of
registers and never depends on any ready)
  - Reset (the ``sync`` domain's, synchronous, active high): makes the gate idle (busy 0,
    ``m.valid`` 0, no event in flight) but does NOT touch the RAM nor ts: clear first.
  - Idle (busy = 0): ``clear_ready = 1``, ``s.ready = ~clear_valid`` (a clear wins over an
    event). Busy: ``clear_ready = s.ready = 0``.
  - Clear (start of an image): accepted at edge e, writes {0, 0} to word a at edge e + 1 + a,
    a = 0 .. C*H*W - 1, and sets ts = 1; idle again right after edge e + C*H*W (exactly
    C*H*W cycles). A clear accepted in the middle of a timestep drops that timestep's events.
  - Collect (idle): an input event (``s.payload.eot = 0``, ``s.payload.index`` an input neuron
    that spiked in this timestep, each index at most once per timestep, any order) accepted at
    edge e reads its word at e and writes {ts, count + 1} at e + 1. One event per cycle, no
    bubbles. The timestep ends with one EOT beat (``eot = 1``, index ignored), accepted in the
    cycle right after the last event (or at once if none).
  - Sweep: the EOT beat accepted at edge e starts it (busy from the edge after e). It visits the
    P = C*OH*OW*KH*KW window positions in slot order k = ((o*KH) + ky)*KW + kx, o ascending, one
    per cycle (padding positions take their cycle, without a RAM read), in a two-stage
    pipeline: slot k reads its word at edge e + 1 + k (+ stalls so far); the next edge folds it
    into the running window result (largest count, and whether a position with that count has
    tag == ts). If output o spikes, its event (index o, eot 0) is loaded into the output
    register at edge e + 1 + (o + 1)*KH*KW (+ stalls so far); spiking outputs come out in
    ascending o. Then one event with eot = 1 and index 0, loaded at e + 2 + P (+ stalls), ends
    the timestep. The pipeline advances exactly in the cycles where not
    (``m.valid & ~m.ready``); a stall loses and reorders nothing.
  - Sweep timing: the output EOT transfers at edge e + P + 3 + S, S = the cycles after e (up to
    and including the EOT transfer cycle) with ``m.valid & ~m.ready``; busy in all of them;
    ts <- ts + 1 and idle right after the EOT transfer edge. A timestep with E input events
    costs E + 1 cycles to collect (valid held high) plus P + 3 + S to sweep.

The sweep keeps its addresses incrementally (no multiplier): window counters
``oc/oy/ox/ky/kx_reg``, the position's row and column ``h_reg``/``w_reg`` (two's complement, may
lie in the padding) with the window origin ``h0_reg``/``w0_reg``, and linear addresses
``cbase/lbase/base/row/addr_reg`` (two's complement, may point outside the map in padding).

Equivalence with the Verilog. The registers carry the Verilog's names (``state_reg``,
``ts_reg``, ``clr_addr_reg``, ``ev_valid_reg``, ..., ``best_reg``, ``hit_reg``, ``oidx_reg``,
``m_index_reg``, ``rd_q``, ``mem``), have the same widths, and the same ones are reset (the
control registers; the datapath registers are ``reset_less`` and, as in the Verilog, keep moving
during a reset), so Yosys matches them one to one: tests/test_hw_maxpool_gate.py proves
(equiv_induct) that the converted module and snn_maxpool_gate.v hold the same value in every
register, memory word and output in every cycle, given the same state at the start. Only the
power-up state differs, which the contract never reads (Amaranth starts at 0, the Verilog at x).
"""

from __future__ import annotations

import numbers

from amaranth.hdl import Cat, Const, Module, Mux, ResetSignal, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ._ports import event_layout, event_ports

__all__ = ["MaxPoolGate"]

_S_IDLE, _S_CLEAR, _S_SWEEP = 0, 1, 2


def _clog2(x: int) -> int:
    """Verilog's $clog2 (0 for x <= 1)."""
    return (x - 1).bit_length() if x > 1 else 0


def _div(a: int, b: int) -> int:
    """Verilog's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _error(rule: str, **values) -> ValueError:
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ValueError(f"snn_maxpool_gate_ERROR_{rule}: {got}")


def _is_int(*xs) -> bool:
    return all(isinstance(x, int) and not isinstance(x, bool) for x in xs)


def _check(c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, cnt_width, in_index_width,
           out_index_width) -> tuple[int, ...]:
    """The Verilog's parameter checks, in its order, with its rule words; returns
    (sh, sw, oh, ow, in_index_width, out_index_width) with the defaults filled in."""
    if not _is_int(c) or c < 1:
        raise _error("C_must_be_at_least_1", c=c)
    if not _is_int(h, w) or h < 1 or w < 1:
        raise _error("H_and_W_must_be_at_least_1", h=h, w=w)
    if not _is_int(kh, kw) or kh < 1 or kw < 1:
        raise _error("KH_and_KW_must_be_at_least_1", kh=kh, kw=kw)
    sh = kh if sh is None else sh
    sw = kw if sw is None else sw
    if not _is_int(sh, sw) or sh < 1 or sw < 1:
        raise _error("SH_and_SW_must_be_at_least_1", sh=sh, sw=sw)
    if not _is_int(ph) or not 0 <= ph < kh:
        raise _error("PH_must_be_0_to_KH_minus_1", ph=ph, kh=kh)
    if not _is_int(pw) or not 0 <= pw < kw:
        raise _error("PW_must_be_0_to_KW_minus_1", pw=pw, kw=kw)
    if kh > h + 2 * ph:
        raise _error("KH_must_be_at_most_H_plus_2_PH", kh=kh, h=h, ph=ph)
    if kw > w + 2 * pw:
        raise _error("KW_must_be_at_most_W_plus_2_PW", kw=kw, w=w, pw=pw)
    want_oh = _div(h + 2 * ph - kh, sh) + 1
    want_ow = _div(w + 2 * pw - kw, sw) + 1
    oh = want_oh if oh is None else oh
    ow = want_ow if ow is None else ow
    if oh != want_oh:
        raise _error("OH_must_be_H_plus_2_PH_minus_KH_over_SH_plus_1", oh=oh, expected=want_oh)
    if ow != want_ow:
        raise _error("OW_must_be_W_plus_2_PW_minus_KW_over_SW_plus_1", ow=ow, expected=want_ow)
    if not _is_int(cnt_width) or not 1 <= cnt_width <= 32:
        raise _error("CNT_WIDTH_must_be_1_to_32", cnt_width=cnt_width)
    n_in, n_out = c * h * w, c * oh * ow
    mem_aw = max(_clog2(n_in), 1)
    if in_index_width is None:
        in_index_width = mem_aw
    if not _is_int(in_index_width) or not mem_aw <= in_index_width <= 32:
        raise _error("IN_INDEX_WIDTH_must_be_clog2_CHW_to_32", in_index_width=in_index_width,
                     chw=n_in)
    if out_index_width is None:
        out_index_width = max(_clog2(n_out), 1)
    if (not _is_int(out_index_width) or not 1 <= out_index_width <= 32
            or out_index_width < _clog2(n_out)):
        raise _error("OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32",
                     out_index_width=out_index_width, c_oh_ow=n_out)
    if n_in + ph * w + pw >= 1 << 30:
        raise _error("C_H_W_map_too_large", c=c, h=h, w=w)
    return sh, sw, oh, ow, in_index_width, out_index_width


class MaxPoolGate(wiring.Component):
    """The spiking max-pool gate over a ``c x h x w`` map, equivalent to snn_maxpool_gate.v.

    Parameters (Verilog parameter in brackets)
    ----------
    c, h, w : int [C, H, W]
        Channels, height and width of the input map (>= 1 each); the output has c channels.
    kh, kw : int [KH, KW]
        Pooling window (>= 1 each), at most the padded map.
    sh, sw : int or None [SH, SW]
        Strides (>= 1); default the window (kh, kw).
    ph, pw : int [PH, PW]
        Zero padding on each side, 0 .. kh - 1 and 0 .. kw - 1 (padding never wins).
    oh, ow : int or None [OH, OW]
        Output map size; must be (h + 2*ph - kh)//sh + 1 and (w + 2*pw - kw)//sw + 1 (the
        defaults).
    cnt_width : int [CNT_WIDTH]
        Width of a spike count and of a timestep number, 1 .. 32 (an image may have at most
        2**cnt_width - 1 timesteps); default 8, the Verilog's default.
    in_index_width : int or None [IN_INDEX_WIDTH]
        Width of ``s.payload.index``, max(clog2(c*h*w), 1) (the default) .. 32.
    out_index_width : int or None [OUT_INDEX_WIDTH]
        Width of ``m.payload.index``, max(clog2(c*oh*ow), 1) (the default) .. 32.

    Ports (``verilog_ports()`` names in brackets)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    s : In(stream.Signature(StructLayout({"index": in_index_width, "eot": 1})))
        [s_valid, s_ready, s_index, s_eot]
    m : Out(stream.Signature(StructLayout({"index": out_index_width, "eot": 1})))
        [m_valid, m_ready, m_index, m_eot]
    busy : Out(1)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_maxpool_gate_ERROR_<rule>``) for a bad parameter.
    """

    VERILOG_NAME = "snn_maxpool_gate"

    def __init__(self, c: int, h: int, w: int, kh: int, kw: int, sh: int | None = None,
                 sw: int | None = None, ph: int = 0, pw: int = 0, oh: int | None = None,
                 ow: int | None = None, cnt_width: int = 8, in_index_width: int | None = None,
                 out_index_width: int | None = None) -> None:
        # numpy integers are welcome (geometries often come from numpy shapes)
        params = [int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x
                  for x in (c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, cnt_width, in_index_width,
                            out_index_width)]
        try:
            sh, sw, oh, ow, in_index_width, out_index_width = _check(*params)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        c, h, w, kh, kw = params[:5]
        ph, pw, cnt_width = params[7], params[8], params[11]
        self.c, self.h, self.w = c, h, w
        self.kh, self.kw, self.sh, self.sw, self.ph, self.pw = kh, kw, sh, sw, ph, pw
        self.oh, self.ow = oh, ow
        self.cnt_width = cnt_width
        self.in_index_width = in_index_width
        self.out_index_width = out_index_width
        # derived, named as in the Verilog
        self.n_in = c * h * w  # N_IN: input neurons = RAM words in use
        self.n_out = c * oh * ow  # N_OUT: output neurons
        self.mem_aw = max(_clog2(self.n_in), 1)  # MEM_AW: RAM address bits
        self.depth = max(self.n_in, 2)  # DEPTH: RAM words
        self.slots = self.n_out * kh * kw  # P: window positions of a sweep

        super().__init__({
            "clear_valid": In(1),
            "clear_ready": Out(1),
            "s": In(stream.Signature(event_layout(in_index_width))),
            "m": Out(stream.Signature(event_layout(out_index_width))),
            "busy": Out(1),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_maxpool_gate.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "clear_valid": (self.clear_valid, "i"),
            "clear_ready": (self.clear_ready, "o"),
            **event_ports("s", self.s, "i"),
            **event_ports("m", self.m, "o"),
            "busy": (self.busy, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        c, h, w, kh, kw = self.c, self.h, self.w, self.kh, self.kw
        sh, sw, ph, pw, oh, ow = self.sh, self.sw, self.ph, self.pw, self.oh, self.ow
        cnt, oiw, mem_aw = self.cnt_width, self.out_index_width, self.mem_aw
        n_in = self.n_in

        # widths, as the Verilog's localparams
        cw = max(_clog2(c), 1)
        oyw = max(_clog2(oh), 1)
        oxw = max(_clog2(ow), 1)
        kyw = max(_clog2(kh), 1)
        kxw = max(_clog2(kw), 1)
        # two's complement widths of a window row in [-PH, H + PH - 1], a column in
        # [-PW, W + PW - 1], and a linear address in [-(PH*W + PW), C*H*W + PH*W + PW - 1]
        hs = _clog2(h + ph + 1) + 1
        ws = _clog2(w + pw + 1) + 1
        a_s = _clog2(n_in + ph * w + pw + 1) + 1

        def sized(value: int, width: int) -> Const:
            """The Verilog's sized constants: an integer sliced to ``width`` bits."""
            return Const(value & ((1 << width) - 1), unsigned(width))

        last_c, last_oy, last_ox = sized(c - 1, cw), sized(oh - 1, oyw), sized(ow - 1, oxw)
        last_ky, last_kx = sized(kh - 1, kyw), sized(kw - 1, kxw)
        last_addr = sized(n_in - 1, mem_aw)
        h_u, w_u = sized(h, hs), sized(w, ws)
        sh_u, sw_u = sized(sh, hs), sized(sw, ws)
        h_init, w_init = sized(-ph, hs), sized(-pw, ws)
        a_w, a_sw, a_shw, a_hw = sized(w, a_s), sized(sw, a_s), sized(sh * w, a_s), sized(
            h * w, a_s)
        a_init = sized(-(ph * w + pw), a_s)

        # --- control -----------------------------------------------------------------------
        state_reg = Signal(2, init=_S_IDLE)
        idle = Signal()
        clearing = Signal()
        sweeping = Signal()
        clear_fire = Signal()
        s_fire = Signal()
        ev_fire = Signal()
        eot_fire = Signal()
        m.d.comb += [
            idle.eq(state_reg == _S_IDLE),
            clearing.eq(state_reg == _S_CLEAR),
            sweeping.eq(state_reg == _S_SWEEP),
            clear_fire.eq(self.clear_valid & idle),
            s_fire.eq(self.s.valid & idle & ~self.clear_valid),
            ev_fire.eq(s_fire & ~self.s.payload.eot),
            eot_fire.eq(s_fire & self.s.payload.eot),
        ]

        # the number of the current timestep (tag of a spike in it)
        ts_reg = Signal(cnt, reset_less=True)
        # clear: word being written
        clr_addr_reg = Signal(mem_aw, reset_less=True)
        # collect: the event accepted at the last edge (its word is in rd_q), written back now
        ev_valid_reg = Signal()
        ev_addr_reg = Signal(mem_aw, reset_less=True)

        # output stage (event register)
        m_valid_reg = Signal()
        m_eot_reg = Signal()
        m_index_reg = Signal(oiw, reset_less=True)

        # the sweep pipeline advances when the output stage is free (empty, or its event
        # leaves now)
        adv = Signal()
        m_fire = Signal()
        m.d.comb += [
            adv.eq(~m_valid_reg | self.m.ready),
            m_fire.eq(m_valid_reg & self.m.ready),
        ]

        # sweep stage A: the next slot to issue (a window position, then the EOT slot)
        a_run_reg = Signal()
        a_eot_reg = Signal()
        oc_reg = Signal(cw, reset_less=True)
        oy_reg = Signal(oyw, reset_less=True)
        ox_reg = Signal(oxw, reset_less=True)
        ky_reg = Signal(kyw, reset_less=True)
        kx_reg = Signal(kxw, reset_less=True)
        # window origin row/column of the current output, the current position's row/column
        h0_reg = Signal(hs, reset_less=True)
        w0_reg = Signal(ws, reset_less=True)
        h_reg = Signal(hs, reset_less=True)
        w_reg = Signal(ws, reset_less=True)
        # linear addresses (two's complement): channel origin, output-row origin, window
        # origin, window-row origin, position
        cbase_reg = Signal(a_s, reset_less=True)
        lbase_reg = Signal(a_s, reset_less=True)
        base_reg = Signal(a_s, reset_less=True)
        row_reg = Signal(a_s, reset_less=True)
        addr_reg = Signal(a_s, reset_less=True)

        # sweep stage B: the slot whose word was read at the last advance
        b_valid_reg = Signal()
        b_eot_reg = Signal(reset_less=True)
        b_pad_reg = Signal(reset_less=True)
        b_last_reg = Signal(reset_less=True)
        # running window result: largest count so far, and whether a position with it spiked
        best_reg = Signal(cnt, reset_less=True)
        hit_reg = Signal(reset_less=True)
        # index of the output whose window stage B is folding
        oidx_reg = Signal(oiw, reset_less=True)

        kx_last = Signal()
        ky_last = Signal()
        ox_last = Signal()
        oy_last = Signal()
        oc_last = Signal()
        win_last = Signal()
        pos_in = Signal()
        a_issue = Signal()
        a_read = Signal()
        b_go = Signal()
        m.d.comb += [
            kx_last.eq(kx_reg == last_kx),
            ky_last.eq(ky_reg == last_ky),
            ox_last.eq(ox_reg == last_ox),
            oy_last.eq(oy_reg == last_oy),
            oc_last.eq(oc_reg == last_c),
            win_last.eq(kx_last & ky_last),
            # inside the map: sign bits clear and below H, W
            pos_in.eq(~h_reg[hs - 1] & (h_reg < h_u) & ~w_reg[ws - 1] & (w_reg < w_u)),
            a_issue.eq(sweeping & a_run_reg & adv),
            a_read.eq(a_issue & ~a_eot_reg & pos_in),
            b_go.eq(sweeping & b_valid_reg & adv),
        ]

        # --- RAM: one write port (clear, else event write-back), one read port (event, else
        # sweep) ------------------------------------------------------------------------------
        m.submodules.mem = mem = Memory(shape=unsigned(2 * cnt), depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port()  # synchronous, with enable, not transparent
        rd_q = Signal(2 * cnt)  # the Verilog's read register rd_q
        q_count = Signal(cnt)
        q_tag = Signal(cnt)
        m.d.comb += [
            rd_q.eq(rd.data),
            q_count.eq(rd_q[:cnt]),
            q_tag.eq(rd_q[cnt:]),
            # the only thing gated by the reset: no write in a reset cycle
            wr.en.eq((clearing | ev_valid_reg) & ~ResetSignal("sync")),
            wr.addr.eq(Mux(clearing, clr_addr_reg, ev_addr_reg)),
            wr.data.eq(Mux(clearing, 0, Cat((q_count + 1)[:cnt], ts_reg))),
            rd.en.eq(ev_fire | a_read),
            # map addresses are < C*H*W: the high bits of addr_reg are 0 at every read
            rd.addr.eq(Mux(sweeping, addr_reg[:mem_aw], self.s.payload.index[:mem_aw])),
        ]

        # --- stage B: fold the word read for this position into the window result ----------
        q_spiked = Signal()
        fold_best = Signal(cnt)
        fold_hit = Signal()
        m.d.comb += [
            q_spiked.eq(q_tag == ts_reg),
            fold_best.eq(best_reg),
            fold_hit.eq(hit_reg),
        ]
        with m.If(~b_pad_reg):
            with m.If(q_count > best_reg):
                m.d.comb += [fold_best.eq(q_count), fold_hit.eq(q_spiked)]
            with m.Elif(q_count == best_reg):
                m.d.comb += fold_hit.eq(hit_reg | q_spiked)

        # --- state machine, sweep pipeline and output stage (reset) -------------------------
        m.d.sync += ev_valid_reg.eq(ev_fire)
        with m.Switch(state_reg):
            with m.Case(_S_IDLE):
                with m.If(clear_fire):
                    m.d.sync += state_reg.eq(_S_CLEAR)
                with m.Elif(eot_fire):
                    m.d.sync += [state_reg.eq(_S_SWEEP), a_run_reg.eq(1), a_eot_reg.eq(0),
                                 b_valid_reg.eq(0)]
            with m.Case(_S_CLEAR), m.If(clr_addr_reg == last_addr):
                m.d.sync += state_reg.eq(_S_IDLE)
            with m.Default():
                with m.If(adv):
                    # stage A -> stage B
                    m.d.sync += b_valid_reg.eq(a_run_reg)
                    with m.If(a_run_reg):
                        with m.If(a_eot_reg):
                            m.d.sync += a_run_reg.eq(0)
                        with m.Elif(win_last & ox_last & oy_last & oc_last):
                            m.d.sync += a_eot_reg.eq(1)
                    # stage B -> output stage
                    m.d.sync += [
                        m_valid_reg.eq(b_valid_reg & (b_eot_reg | (b_last_reg & fold_hit))),
                        m_eot_reg.eq(b_eot_reg),
                    ]
                with m.If(m_fire & m_eot_reg):
                    m.d.sync += state_reg.eq(_S_IDLE)

        # --- datapath registers (no reset: a clear or a sweep start initialises them) -------
        m.d.sync += ev_addr_reg.eq(self.s.payload.index[:mem_aw])

        # timestep number; it holds in reset (the contract: reset does not touch ts), since an
        # output EOT still in m_valid_reg in the first reset cycle may meet m.ready there
        with m.If(ResetSignal("sync")):
            pass
        with m.Elif(clear_fire):
            m.d.sync += ts_reg.eq(1)
        with m.Elif(sweeping & m_fire & m_eot_reg):
            m.d.sync += ts_reg.eq(ts_reg + 1)

        # clear address
        with m.If(clear_fire):
            m.d.sync += clr_addr_reg.eq(0)
        with m.Elif(clearing):
            m.d.sync += clr_addr_reg.eq(clr_addr_reg + 1)

        # stage A: first position of the first window, then step through the slots
        with m.If(eot_fire):
            m.d.sync += [
                oc_reg.eq(0), oy_reg.eq(0), ox_reg.eq(0), ky_reg.eq(0), kx_reg.eq(0),
                h0_reg.eq(h_init), h_reg.eq(h_init), w0_reg.eq(w_init), w_reg.eq(w_init),
                cbase_reg.eq(a_init), lbase_reg.eq(a_init), base_reg.eq(a_init),
                row_reg.eq(a_init), addr_reg.eq(a_init),
            ]
        with m.Elif(a_issue & ~a_eot_reg):
            with m.If(~kx_last):
                # next column of the window
                m.d.sync += [kx_reg.eq(kx_reg + 1), w_reg.eq(w_reg + 1),
                             addr_reg.eq(addr_reg + 1)]
            with m.Elif(~ky_last):
                # next row of the window
                m.d.sync += [kx_reg.eq(0), ky_reg.eq(ky_reg + 1), w_reg.eq(w0_reg),
                             h_reg.eq(h_reg + 1), row_reg.eq(row_reg + a_w),
                             addr_reg.eq(row_reg + a_w)]
            with m.Else():
                m.d.sync += [kx_reg.eq(0), ky_reg.eq(0)]
                with m.If(~ox_last):
                    # next output in the row: the window moves SW columns right
                    m.d.sync += [ox_reg.eq(ox_reg + 1), w0_reg.eq(w0_reg + sw_u),
                                 w_reg.eq(w0_reg + sw_u), h_reg.eq(h0_reg),
                                 base_reg.eq(base_reg + a_sw), row_reg.eq(base_reg + a_sw),
                                 addr_reg.eq(base_reg + a_sw)]
                with m.Else():
                    m.d.sync += [ox_reg.eq(0), w0_reg.eq(w_init), w_reg.eq(w_init)]
                    with m.If(~oy_last):
                        # next output row: the window moves SH rows down
                        m.d.sync += [oy_reg.eq(oy_reg + 1), h0_reg.eq(h0_reg + sh_u),
                                     h_reg.eq(h0_reg + sh_u), lbase_reg.eq(lbase_reg + a_shw),
                                     base_reg.eq(lbase_reg + a_shw),
                                     row_reg.eq(lbase_reg + a_shw),
                                     addr_reg.eq(lbase_reg + a_shw)]
                    with m.Else():
                        # next channel (after the last one, stage A issues the EOT slot)
                        m.d.sync += [oy_reg.eq(0), oc_reg.eq(oc_reg + 1), h0_reg.eq(h_init),
                                     h_reg.eq(h_init), cbase_reg.eq(cbase_reg + a_hw),
                                     lbase_reg.eq(cbase_reg + a_hw),
                                     base_reg.eq(cbase_reg + a_hw),
                                     row_reg.eq(cbase_reg + a_hw),
                                     addr_reg.eq(cbase_reg + a_hw)]

        # stage A -> stage B
        with m.If(a_issue):
            m.d.sync += [b_eot_reg.eq(a_eot_reg), b_pad_reg.eq(~pos_in),
                         b_last_reg.eq(win_last)]

        # stage B: fold, and at the end of a window emit the result and start the next one
        with m.If(eot_fire):
            m.d.sync += [best_reg.eq(0), hit_reg.eq(0), oidx_reg.eq(0)]
        with m.Elif(b_go & ~b_eot_reg):
            with m.If(b_last_reg):
                m.d.sync += [best_reg.eq(0), hit_reg.eq(0), oidx_reg.eq(oidx_reg + 1)]
            with m.Else():
                m.d.sync += [best_reg.eq(fold_best), hit_reg.eq(fold_hit)]
        with m.If(b_go):
            m.d.sync += m_index_reg.eq(Mux(b_eot_reg, 0, oidx_reg))

        m.d.comb += [
            self.clear_ready.eq(idle),
            self.s.ready.eq(idle & ~self.clear_valid),
            self.busy.eq(~idle),
            self.m.valid.eq(m_valid_reg),
            self.m.payload.eot.eq(m_eot_reg),
            self.m.payload.index.eq(m_index_reg),
        ]
        return m
