"""Accum: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_accum.v``, the once-per-image
constant-current accumulator of the first layer with an optional max-pool readout plus the
per-channel bias (docs/semantics.md §2 "analog input", §4 "max-pool of a constant current").

With analog input the first layer's current is the same at every timestep: this block sums it
once per image (the router delivers the weight * pixel products on the update lanes, as to an
:class:`~snngen.backends.amaranth.if_array.IfArray`) and then streams it out, max-pooled or not,
plus the bias, as the K rows of the first IF array.

Storage (as in the Verilog)
  - N = C*H*W signed ``a_width``-bit accumulators, n = (c*H + h)*W + w, in ``lanes`` banks
    that split the channels (as in :class:`~snngen.backends.amaranth.if_array.IfArray` with
    ``plane`` = H*W; :mod:`snngen.hwmodel.blocks.banks`): channel c is in bank ``c % lanes``,
    accumulator (c, h, w) at row ``(c // lanes)*H*W + h*W + w``. The banks are the ``lanes``
    fields of one :class:`~amaranth.lib.memory.Memory` of ``max(depth_used, 2)`` rows
    (``depth_used = ceil(C / lanes)*H*W``, :func:`~snngen.hwmodel.blocks.banks.bank_rows`) of
    ``lanes * a_width`` bits, written a whole row at a time, with one synchronous read port
    with enable (the read register ``rd_q``; not transparent). The read data is registered
    once more (``rd_data_reg``) before any arithmetic uses it: no path runs from a read port
    into an adder or a comparison.
  - ``bias_mem``: NG = ceil(C / lanes) words of ``lanes`` signed ``k_width``-bit fields (field k
    of word g: the bias of channel g*lanes + k, 0 past C; ``bias_init``, the words of
    :func:`snngen.hwmodel.blocks.banks.k_rows` with PLANE = 1; the Verilog loads BIAS_FILE),
    read through the register ``bias_q`` (a ROM).

Readout (what it computes): output neuron (c, y, x), c < C, y < OH, x < OW, gets

    K[c, y, x] = max{acc[c, y*psh - pph + i, x*psw - ppw + j] : i < pkh, j < pkw, inside the map}
                 + bias[c]

computed in max(a_width, k_width) + 1 bits, of which the low ``k_width`` bits are sent (the
caller guarantees that k_width holds every max + bias). Every window holds a map position.
Without pooling (pkh = pkw = psh = psw = 1, pph = ppw = 0) K[c, h, w] = acc[c, h, w] + bias[c].
The ``lanes`` channels of one channel group are read out together, one per lane: a beat carries
the K of the output neurons (g*lanes + k, y, x), k = 0 .. lanes - 1, in field k of ``value``
(0 for a channel >= C), and ``row`` = g*OH*OW + y*OW + x, the row of these neurons in the banks
of the IF array that takes K (:mod:`snngen.hwmodel.blocks.banks` with PLANE = OH*OW): a beat
is one K row of that array.

Contract (identical to the header of snn_accum.v, cycle for cycle; every stream transfers on a
rising edge with valid & ready; every valid is a register or a function of registers and never
depends on any ready)
  - Reset (the ``sync`` domain's, synchronous, active high): idle (busy 0, ``m.valid`` 0, no
    update in flight); the accumulators are NOT touched: clear before the first image.
  - Idle (busy = 0): ``clear_ready = 1``; ``sweep_ready = ~clear_valid``;
    ``upd_ready = ~clear_valid & ~sweep_valid`` (a clear wins over a sweep, both over
    updates; these readies depend on the other streams' valids only). Not idle: all readies 0.
  - Clear: accepted at edge e, writes 0 to row a of every bank at edge e + 1 + a,
    a = 0 .. depth_used - 1; idle again right after edge e + depth_used: a clear takes exactly
    ``depth_used = ceil(C/lanes)*H*W`` busy cycles.
  - Update (a whole row, while idle): adds the signed ``u_width``-bit ``upd_weight[j]`` to
    the accumulator at row ``upd_addr`` of bank j (channel ``(upd_addr // (H*W))*lanes + j``,
    position ``upd_addr % (H*W)``; :func:`snngen.hwmodel.blocks.banks.neuron_at`), every lane
    at once. Accepted at edge e, it reads the row at e, registers the read data at e + 1 and
    writes the row back at e + 2 (latency 2); the writes made at e and e + 1 (the updates
    accepted at e - 2 and e - 1) are forwarded (into the read data register, resp. into the
    sum), so updates of the same row on consecutive cycles are exact; one row update per cycle;
    the addition is modulo 2**a_width. A lane whose channel is >= C must get 0 (its
    accumulator stays 0, its readout field the bias 0). A clear accepted at e drops the write
    of an update accepted at e - 1 (due at e + 1, when the clear writes): the clear erases it.
  - Sweep (readout): accepted at edge e (while idle); every update accepted up to e - 1 is
    included (the one at e - 1 is written at e + 1 and forwarded into the first slot's read
    data). The readout walks the slots s = 0 .. NOUT_ROWS*pkh*pkw - 1 (NOUT_ROWS =
    NG*OH*OW; the output rows r = (g*OH + y)*OW + x in ascending order, within each the window
    positions (i, j) row-major: s = r*pkh*pkw + i*pkw + j), one per cycle, every lane at once
    (a position outside the map takes its slot, its read masked), then one EOT slot, through a
    3-stage pipeline: stage A reads the slot's word of every bank (``rd_q``); stage B registers
    it (``rd_data_reg``) and reads the group's bias word (``bias_q``); stage C updates every
    lane's running window maximum and, at the window's last position, loads the row's beat into
    the output register. One beat per output row (``row = r``,
    ``value`` = the ``lanes`` K fields, ``eot = 0``) in ascending r, then one beat with
    ``eot = 1``, ``row = 0``, ``value = 0``. The pipeline advances exactly in the cycles where
    not (``m.valid & ~m.ready``); in a stall nothing moves.
  - Sweep timing (exact): slot s is read at edge e + 1 + s + (stalls so far); the beat of row r
    is offered at edge e + 2 + (r + 1)*pkh*pkw + (stalls so far); the EOT beat at edge
    e + NOUT_ROWS*pkh*pkw + 3 + (stalls so far) and it transfers at edge
    e + NOUT_ROWS*pkh*pkw + 4 + S (S: the cycles after e, up to and including the EOT transfer,
    with ``m.valid & ~m.ready``; 4 = READOUT_LATENCY of :mod:`snngen.hwmodel.blocks.accum`).
    busy is high from the edge after e up to and including the cycle of the EOT transfer. The
    readout does not change the accumulators (it may be repeated, with or without more updates in
    between).
    The walk finds each slot's bank row with counters, never by dividing n: the row steps with
    the window within the channel group's plane and, at the step to the next channel group, to
    the next group's plane.

Equivalence with the Verilog. The registers and memories carry the Verilog's names (its ``mem``
is ``bank``), so Yosys
can match them one to one: tests/test_hw_accum.py proves (equiv_induct) that the converted module
and snn_accum.v hold the same value in every register, memory word and output in every cycle,
given the same state at the start. Only the power-up state differs, which the contract never
reads (Amaranth starts at 0, the Verilog at x).

The row update pipeline started as that of :class:`~snngen.backends.amaranth.if_array.IfArray`
(without its sweep write-back and debug read); here the read data is registered once more before
the add (update stage 2, latency 2, with a second forwarding), so it is written out here on its
own.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .if_array import _clog2

__all__ = ["Accum"]

_S_IDLE, _S_CLEAR, _S_READ = 0, 1, 2


def _error(rule: str, **values) -> ValueError:
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ValueError(f"snn_accum_ERROR_{rule}: {got}")


def _is_int(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _depth_used(c: int, h: int, w: int, lanes: int) -> int:
    """DEPTH_USED: the bank rows in use, ceil(C/LANES)*H*W (the banks split the channels, a
    channel's plane is H*W rows; also a clear's cycles;
    :func:`snngen.hwmodel.blocks.banks.bank_rows`)."""
    return -(-c // lanes) * h * w


def _check(c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw, oh, ow,
           addr_width, out_row_width, bias_init) -> tuple[int, int, int, int, list[int]]:
    """The Verilog's parameter checks, in its order, with its rule words; returns OH, OW,
    ADDR_WIDTH, OUT_ROW_WIDTH (defaults filled in) and the bias words as a list."""
    if not _is_int(c, h, w) or c < 1 or h < 1 or w < 1 or c * h * w < 2:
        raise _error("C_H_W_must_be_positive_with_at_least_2_accumulators", c=c, h=h, w=w)
    if not _is_int(lanes) or lanes < 1 or lanes & (lanes - 1):
        raise _error("LANES_must_be_a_power_of_two", lanes=lanes)
    if not _is_int(a_width) or not 2 <= a_width <= 32:
        raise _error("A_WIDTH_must_be_2_to_32", a_width=a_width)
    if not _is_int(u_width) or not 1 <= u_width <= a_width:
        raise _error("U_WIDTH_must_be_1_to_A_WIDTH", u_width=u_width, a_width=a_width)
    if not _is_int(k_width) or not 1 <= k_width <= 32:
        raise _error("K_WIDTH_must_be_1_to_32", k_width=k_width)
    if not _is_int(pkh, pkw) or pkh < 1 or pkw < 1:
        raise _error("PKH_PKW_must_be_at_least_1", pkh=pkh, pkw=pkw)
    if not _is_int(psh, psw) or psh < 1 or psw < 1:
        raise _error("PSH_PSW_must_be_at_least_1", psh=psh, psw=psw)
    if not _is_int(pph, ppw) or not (0 <= pph < pkh and 0 <= ppw < pkw):
        raise _error("PPH_PPW_must_be_0_to_kernel_minus_1", pph=pph, ppw=ppw, pkh=pkh, pkw=pkw)
    oh_expect = (h + 2 * pph - pkh) // psh + 1
    ow_expect = (w + 2 * ppw - pkw) // psw + 1
    oh = oh_expect if oh is None else oh
    ow = ow_expect if ow is None else ow
    if h + 2 * pph < pkh or w + 2 * ppw < pkw or oh != oh_expect or ow != ow_expect:
        raise _error("OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1",
                     oh=oh, ow=ow, h=h, w=w, pkh=pkh, pkw=pkw, psh=psh, psw=psw, pph=pph, ppw=ppw)
    mem_aw = max(_clog2(_depth_used(c, h, w, lanes)), 1)
    if addr_width is None:
        addr_width = mem_aw
    if not _is_int(addr_width) or addr_width < mem_aw:
        raise _error("ADDR_WIDTH_too_small_for_the_bank_rows",
                     addr_width=addr_width, c=c, h=h, w=w, lanes=lanes)
    # the output bank rows: the IF array taking K splits the C channels of OH*OW neurons
    ng = -(-c // lanes)
    nout_rows = ng * oh * ow
    if out_row_width is None:
        out_row_width = max(_clog2(nout_rows), 1)
    if not _is_int(out_row_width) or not max(_clog2(nout_rows), 1) <= out_row_width <= 32:
        raise _error("OUT_ROW_WIDTH_too_small_for_the_output_bank_rows",
                     out_row_width=out_row_width, nout_rows=nout_rows)
    if _nb(c, h, w, pph, ppw, lanes) > 32:
        raise _error("map_too_large", c=c, h=h, w=w)
    # numpy integers are welcome; the words are the unsigned row words of banks.k_rows (PLANE
    # = 1), as BIAS_FILE holds them
    words = None if bias_init is None else [
        int(b) if isinstance(b, numbers.Integral) else b for b in bias_init]
    if words is None or len(words) != ng or not all(
            _is_int(b) and 0 <= b < 1 << (lanes * k_width) for b in words):
        shown = words if words is None or len(words) <= 8 else f"<{len(words)} words>"
        raise _error("BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits",
                     bias_init=shown, ng=ng, lanes=lanes, k_width=k_width)
    return oh, ow, addr_width, out_row_width, words


def _nb(c: int, h: int, w: int, pph: int, ppw: int, lanes: int) -> int:
    """NB: signed width of a bank row n of the walk (the Verilog's formula, from before the
    banks split the channels: wide enough for every row, padding positions included)."""
    mem_aw = max(_clog2(_depth_used(c, h, w, lanes)), 1)
    nmax = c * h * w + (pph + 1) * w + ppw + 1
    return max(_clog2(nmax) + 1, _clog2(lanes) + mem_aw + 1)


class Accum(wiring.Component):
    """The first layer's constant-current accumulator with max-pool readout and bias,
    equivalent to snn_accum.v.

    Parameters (Verilog parameter in brackets)
    ----------
    c, h, w : int [C, H, W]
        The accumulator map, each >= 1 and c*h*w >= 2.
    lanes : int [LANES]
        RAM banks / update lanes / K fields of a beat, a power of two.
    u_width : int [U_WIDTH]
        Width of a signed update on ``upd_weight``, 1 .. a_width.
    a_width : int [A_WIDTH]
        Width of a signed accumulator, 2 .. 32.
    k_width : int [K_WIDTH]
        Width of a signed output value K and of a bias field, 1 .. 32.
    pkh, pkw, psh, psw, pph, ppw : int [PKH, PKW, PSH, PSW, PPH, PPW]
        Pooling window (>= 1), strides (>= 1) and padding (0 .. window - 1); 1, 1, 1, 1, 0, 0
        is no pooling.
    oh, ow : int [OH, OW]
        Pooled map size, must be (h + 2*pph - pkh)//psh + 1 (resp. w ...): the default.
    addr_width : int [ADDR_WIDTH]
        Width of a bank row address (``upd_addr``),
        >= max(clog2(ceil(c / lanes) * h * w), 1) (the default).
    out_row_width : int [OUT_ROW_WIDTH]
        Width of ``m.payload.row``, max(clog2(ceil(c / lanes) * oh * ow), 1) (the default)
        .. 32.
    bias_init : sequence of ceil(c / lanes) ints [BIAS_FILE]
        The bias words, as snngen.backends.verilog.writer puts them into the bias .mem
        (:func:`snngen.hwmodel.blocks.banks.k_rows` of the c biases with PLANE = 1): unsigned
        ``lanes * k_width``-bit words, field k (bits ``k*k_width`` up) of word g the two's
        complement bias of channel g*lanes + k, 0 past c. Required (None is refused, like the
        Verilog's empty BIAS_FILE).

    Ports (every one keeps its Verilog name; the vectors are packed as in the Verilog, lane j
    in field j)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    upd_valid : In(1), upd_ready : Out(1), upd_addr : In(addr_width)
    upd_weight : In(ArrayLayout(signed(u_width), lanes))
    sweep_valid : In(1), sweep_ready : Out(1)
    m : Out(stream.Signature(StructLayout({"row": out_row_width,
        "value": ArrayLayout(signed(k_width), lanes), "eot": 1}))) [m_valid, m_ready, m_row,
        m_value, m_eot]
    busy : Out(1)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_accum_ERROR_<rule>``) for a bad parameter; ``bias_init`` has its own rule
    (``snn_accum_ERROR_BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits``) in place of the
    Verilog's BIAS_FILE one.
    """

    VERILOG_NAME = "snn_accum"

    def __init__(self, c: int, h: int, w: int, lanes: int, u_width: int, a_width: int,
                 k_width: int, pkh: int, pkw: int, psh: int, psw: int, pph: int, ppw: int,
                 oh: int | None = None, ow: int | None = None, addr_width: int | None = None,
                 out_row_width: int | None = None,
                 bias_init: Sequence[int] | None = None) -> None:
        # numpy integers are welcome (the parameters usually come from numpy arrays)
        (c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw, oh, ow,
         addr_width, out_row_width) = (
            int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x
            for x in (c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw,
                      oh, ow, addr_width, out_row_width))
        try:
            oh, ow, addr_width, out_row_width, words = _check(
                c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw, oh, ow,
                addr_width, out_row_width, bias_init)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        self.c, self.h, self.w = c, h, w
        self.lanes = lanes
        self.u_width = u_width
        self.a_width = a_width
        self.k_width = k_width
        self.pool = (pkh, pkw, psh, psw, pph, ppw)
        self.pkh, self.pkw, self.psh, self.psw, self.pph, self.ppw = self.pool
        self.oh, self.ow = oh, ow
        self.addr_width = addr_width
        self.out_row_width = out_row_width
        self.bias_init = words
        # derived, named as in the Verilog
        self.n = c * h * w  # N: accumulators
        self.ng = -(-c // lanes)  # NG: channel groups (= bias words)
        self.nout_rows = self.ng * oh * ow  # NOUT_ROWS: output rows (beats)
        self.plane = h * w  # rows of a channel group in its bank
        self.depth_used = _depth_used(c, h, w, lanes)  # DEPTH_USED: bank rows in use
        self.mem_aw = max(_clog2(self.depth_used), 1)  # MEM_AW: row address bits
        self.depth = max(self.depth_used, 2)  # DEPTH: bank size
        self.log_lanes = _clog2(lanes)  # LOG_LANES
        self.sw = max(a_width, k_width) + 1  # SW: max + bias never wraps in it
        # readout counter widths
        self.cw, self.yw, self.xw, self.iw, self.jw = (
            max(_clog2(x), 1) for x in (self.ng, oh, ow, pkh, pkw))
        # signed widths of a map row, a map column and a bank row of the walk
        self.hb = _clog2(h + pph + 1) + 1
        self.wb = _clog2(w + ppw + 1) + 1
        self.nb = _nb(c, h, w, pph, ppw, lanes)

        super().__init__({
            "clear_valid": In(1),
            "clear_ready": Out(1),
            "upd_valid": In(1),
            "upd_ready": Out(1),
            "upd_addr": In(addr_width),
            "upd_weight": In(data.ArrayLayout(signed(u_width), lanes)),
            "sweep_valid": In(1),
            "sweep_ready": Out(1),
            "m": Out(stream.Signature(data.StructLayout({
                "row": unsigned(out_row_width),
                "value": data.ArrayLayout(signed(k_width), lanes),
                "eot": unsigned(1)}))),
            "busy": Out(1),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_accum.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "clear_valid": (self.clear_valid, "i"),
            "clear_ready": (self.clear_ready, "o"),
            "upd_valid": (self.upd_valid, "i"),
            "upd_ready": (self.upd_ready, "o"),
            "upd_addr": (self.upd_addr, "i"),
            "upd_weight": (self.upd_weight.as_value(), "i"),
            "sweep_valid": (self.sweep_valid, "i"),
            "sweep_ready": (self.sweep_ready, "o"),
            "m_valid": (self.m.valid, "o"),
            "m_ready": (self.m.ready, "i"),
            "m_row": (self.m.payload.row, "o"),
            "m_value": (self.m.payload.value.as_value(), "o"),
            "m_eot": (self.m.payload.eot, "o"),
            "busy": (self.busy, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes, aw, kw, sw = self.lanes, self.a_width, self.k_width, self.sw
        orw, mem_aw = self.out_row_width, self.mem_aw
        cw, yw, xw, iw, jw, hb, wb, nb = (self.cw, self.yw, self.xw, self.iw, self.jw,
                                          self.hb, self.wb, self.nb)
        h, w, pkw, psh, psw, pph, ppw = (self.h, self.w, self.pkw, self.psh, self.psw,
                                         self.pph, self.ppw)

        # the walk's constants, as the Verilog's localparams (two's complement in their width):
        # the bank row n steps by 1 within a window row, by STEP_I to the next window row; the
        # window origin steps by STEP_X to the next x, by STEP_Y to the next y and by STEP_C to
        # the next channel group (the next H*W rows)
        def bits(value: int, width: int) -> int:
            return value & ((1 << width) - 1)

        step_i = bits(w - pkw + 1, nb)
        step_x = bits(psw, nb)
        step_y = bits(psh * w - (self.ow - 1) * psw, nb)
        step_c = bits(h * w - (self.oh - 1) * psh * w - (self.ow - 1) * psw, nb)
        n0 = bits(-(pph * w + ppw), nb)
        h0 = bits(-pph, hb)
        w0 = bits(-ppw, wb)
        h_v, w_v = bits(h, hb), bits(w, wb)
        psh_v, psw_v = bits(psh, hb), bits(psw, wb)
        last_c, last_y, last_x = bits(self.ng - 1, cw), bits(self.oh - 1, yw), bits(self.ow - 1, xw)
        last_i, last_j = bits(self.pkh - 1, iw), bits(pkw - 1, jw)
        last_row = bits(self.depth_used - 1, mem_aw)

        # --- control ---------------------------------------------------------------------
        state_reg = Signal(2, init=_S_IDLE)
        idle = Signal()
        clearing = Signal()
        reading = Signal()
        clear_fire = Signal()
        sweep_fire = Signal()
        upd_open = Signal()
        m.d.comb += [
            idle.eq(state_reg == _S_IDLE),
            clearing.eq(state_reg == _S_CLEAR),
            reading.eq(state_reg == _S_READ),
            clear_fire.eq(self.clear_valid & idle),
            sweep_fire.eq(self.sweep_valid & idle & ~self.clear_valid),
            upd_open.eq(idle & ~self.clear_valid & ~self.sweep_valid),
        ]

        # clear: row being written
        clr_row_reg = Signal(mem_aw)

        # output stage (beat register)
        m_valid_reg = Signal()
        m_eot_reg = Signal()
        m_row_reg = Signal(orw, reset_less=True)
        m_value_reg = Signal(lanes * kw, reset_less=True)

        # the readout pipeline advances when the output stage is free (empty, or its beat
        # leaves now)
        adv = Signal()
        m_fire = Signal()
        m.d.comb += [
            adv.eq(~m_valid_reg | self.m.ready),
            m_fire.eq(m_valid_reg & self.m.ready),
        ]

        # stage A: the next slot to issue: output row (channel group c, y, x), window position
        # (i, j), map position (h, w) at bank row n, the window origin (win_h, win_w) at bank
        # row win_n, output row m; then the EOT slot
        a_run_reg = Signal()
        a_eot_reg = Signal()
        a_c_reg = Signal(cw, reset_less=True)
        a_y_reg = Signal(yw, reset_less=True)
        a_x_reg = Signal(xw, reset_less=True)
        a_i_reg = Signal(iw, reset_less=True)
        a_j_reg = Signal(jw, reset_less=True)
        a_h_reg = Signal(hb, reset_less=True)
        a_w_reg = Signal(wb, reset_less=True)
        a_n_reg = Signal(nb, reset_less=True)
        win_h_reg = Signal(hb, reset_less=True)
        win_w_reg = Signal(wb, reset_less=True)
        win_n_reg = Signal(nb, reset_less=True)
        a_m_reg = Signal(orw, reset_less=True)

        a_last_j = Signal()
        a_last_i = Signal()
        a_first = Signal()
        a_last_pos = Signal()
        a_last_x = Signal()
        a_last_y = Signal()
        a_last_c = Signal()
        a_in = Signal()
        a_row = Signal(mem_aw)
        m.d.comb += [
            a_last_j.eq(a_j_reg == last_j),
            a_last_i.eq(a_i_reg == last_i),
            a_first.eq((a_i_reg == 0) & (a_j_reg == 0)),
            a_last_pos.eq(a_last_i & a_last_j),
            a_last_x.eq(a_x_reg == last_x),
            a_last_y.eq(a_y_reg == last_y),
            a_last_c.eq(a_c_reg == last_c),
            # the position is inside the map (h and w are two's complement)
            a_in.eq(~a_h_reg[-1] & (a_h_reg < h_v) & ~a_w_reg[-1] & (a_w_reg < w_v)),
            # the bank row of the position, the same in every bank (the rest of n is 0 inside
            # the map)
            a_row.eq(a_n_reg[:mem_aw]),
        ]

        a_issue = Signal()
        a_issue_pos = Signal()
        m.d.comb += [
            a_issue.eq(reading & a_run_reg & adv),
            a_issue_pos.eq(a_issue & ~a_eot_reg),
        ]

        # stage B: the slot whose bank words were read at the last advance (in the banks' read
        # registers rd_q)
        b_valid_reg = Signal()
        b_eot_reg = Signal(reset_less=True)
        b_in_reg = Signal(reset_less=True)
        b_first_reg = Signal(reset_less=True)
        b_last_reg = Signal(reset_less=True)
        b_c_reg = Signal(cw, reset_less=True)
        b_m_reg = Signal(orw, reset_less=True)

        b_go = Signal()
        b_pos = Signal()
        m.d.comb += [
            b_go.eq(reading & b_valid_reg & adv),
            b_pos.eq(b_go & ~b_eot_reg),
        ]

        # stage C: the slot whose bank words moved on into the lanes' rd_data_reg and whose
        # group's bias word was read (bias_q) at the last advance
        c_valid_reg = Signal()
        c_eot_reg = Signal(reset_less=True)
        c_in_reg = Signal(reset_less=True)
        c_first_reg = Signal(reset_less=True)
        c_last_reg = Signal(reset_less=True)
        c_m_reg = Signal(orw, reset_less=True)

        c_go = Signal()
        c_pos = Signal()
        m.d.comb += [
            c_go.eq(reading & c_valid_reg & adv),
            c_pos.eq(c_go & ~c_eot_reg),
        ]

        # running window maximum of every lane (lane k in field k): valid when have_reg (some
        # map position seen; the same positions in every lane)
        max_reg = Signal(lanes * aw, reset_less=True)
        have_reg = Signal(reset_less=True)
        # a maximum from earlier positions of this window exists
        c_have = Signal()
        m.d.comb += c_have.eq(have_reg & ~c_first_reg)

        # --- biases: one word of lanes fields per channel group (a ROM read through the
        # register bias_q as the slot moves from stage B to stage C) ------------------------
        bias_q = Signal(lanes * kw, reset_less=True)  # the Verilog's read register bias_q
        if self.ng > 1:
            m.submodules.bias_mem = bias_mem = Memory(shape=unsigned(lanes * kw),
                                                      depth=self.ng, init=self.bias_init)
            bias_rd = bias_mem.read_port()
            m.d.comb += [
                bias_q.eq(bias_rd.data),
                bias_rd.en.eq(b_pos),
                bias_rd.addr.eq(b_c_reg),
            ]
        else:
            # one word (the Verilog reads bias_mem[0]): a register loading the constant, as a
            # one-word Memory would have a 0-bit address port ("wire [-1:0]" in the Verilog)
            with m.If(b_pos):
                m.d.sync += bias_q.eq(self.bias_init[0])

        # --- the banks: one memory of LANES-field rows, its row update pipeline, and the
        # stage C arithmetic of every lane
        m.submodules.bank = bank = Memory(shape=unsigned(lanes * aw), depth=self.depth,
                                          init=[])
        wr, rd = bank.write_port(), bank.read_port()
        rd_q = Signal(lanes * aw)  # the Verilog's read register rd_q
        m.d.comb += rd_q.eq(rd.data)
        # the read data, registered once more before any arithmetic uses it (readout stage C,
        # update stage 2)
        rd_data = Signal(lanes * aw, reset_less=True, name="rd_data_reg")

        # update stage 1: accepted at the last edge, read issued at that edge (the row register
        # also holds the readout's read row)
        s1_valid = Signal(name="s1_valid_reg")
        s1_row = Signal(mem_aw, reset_less=True, name="s1_row_reg")
        s1_w = Signal(lanes * aw, reset_less=True, name="s1_w_reg")
        # update stage 2: its read data in rd_data; written at the next edge
        s2_valid = Signal(name="s2_valid_reg")
        s2_row = Signal(mem_aw, reset_less=True, name="s2_row_reg")
        s2_w = Signal(lanes * aw, reset_less=True, name="s2_w_reg")
        # the write made at the last edge is to this update's row
        s2_fwd = Signal(reset_less=True, name="s2_fwd_reg")
        # the update write made at the last edge (forwarding source)
        wb_valid = Signal(name="wb_valid_reg")
        wb_row = Signal(mem_aw, reset_less=True, name="wb_row_reg")
        wb_data = Signal(lanes * aw, reset_less=True, name="wb_data_reg")

        upd_fire = Signal()
        u_row = Signal(mem_aw)
        ra = Signal(mem_aw)
        fwd_rd = Signal()
        s2_old = Signal(lanes * aw)
        m.d.comb += [
            upd_fire.eq(self.upd_valid & upd_open),
            # rows beyond depth_used do not exist: the high address bits are ignored
            u_row.eq(self.upd_addr[:mem_aw]),
            # read row: the readout's slot, else the update's
            ra.eq(Mux(reading, a_row, u_row)),
            # the read issued at the last edge missed the write made at that edge: take it from
            # the forwarding register
            fwd_rd.eq(wb_valid & (wb_row == s1_row)),
            # update stage 2: the write made at the last edge is the update just before
            s2_old.eq(Mux(s2_fwd, wb_data, rd_data)),
        ]

        c_max = []  # stage C's new maximum of every lane
        c_k = []  # stage C's K field of every lane
        s2_sum = []  # the update sums, lane j in field j
        u_w_ext = []  # the updates, sign-extended to A_WIDTH
        for j in range(lanes):
            l_rd = rd_data.word_select(j, aw)
            # stage C arithmetic of this lane: running maximum; max + bias in SW bits, both
            # sums formed beside the comparison and selected by it
            l_max = Signal(aw, name=f"l_max_{j}")
            l_bias = Signal(kw, name=f"l_bias_{j}")
            l_take = Signal(name=f"l_take_{j}")
            l_sum_rd = Signal(signed(sw), name=f"l_sum_rd_{j}")
            l_sum_max = Signal(signed(sw), name=f"l_sum_max_{j}")
            l_sum = Signal(signed(sw), name=f"l_sum_{j}")
            m.d.comb += [
                l_max.eq(max_reg[j * aw:(j + 1) * aw]),
                l_bias.eq(bias_q[j * kw:(j + 1) * kw]),
                l_take.eq(c_in_reg & (~c_have | (l_rd.as_signed() > l_max.as_signed()))),
                l_sum_rd.eq(l_rd.as_signed() + l_bias.as_signed()),
                l_sum_max.eq(l_max.as_signed() + l_bias.as_signed()),
                # the caller guarantees that max + bias fits K_WIDTH
                l_sum.eq(Mux(l_take, l_sum_rd, l_sum_max)),
            ]
            c_max.append(Mux(l_take, l_rd, l_max))
            c_k.append(l_sum[:kw])
            w_ext = Signal(aw, name=f"u_w_ext_{j}")
            m.d.comb += w_ext.eq(self.upd_weight[j])  # sign-extended to A_WIDTH
            u_w_ext.append(w_ext)
            s2_sum.append((s2_old.word_select(j, aw) + s2_w.word_select(j, aw))[:aw])

        # write port: clear, else update write-back (a clear wins; an update still in flight
        # when it starts belongs to the image before)
        m.d.comb += [
            wr.en.eq(clearing | s2_valid),
            wr.addr.eq(Mux(clearing, clr_row_reg, s2_row)),
            wr.data.eq(Mux(clearing, 0, Cat(*s2_sum))),
        ]
        # read port: readout issue (positions inside the map only), else update
        m.d.comb += [
            rd.en.eq((a_issue_pos & a_in) | upd_fire),
            rd.addr.eq(ra),
        ]
        # the read data moves on with the readout pipeline (held in a stall), every cycle
        # otherwise
        with m.If(~reading | adv):
            m.d.sync += rd_data.eq(Mux(fwd_rd, wb_data, rd_q))

        m.d.sync += [
            s1_row.eq(ra),
            s1_w.eq(Cat(*u_w_ext)),
            s2_row.eq(s1_row),
            s2_w.eq(s1_w),
            s2_fwd.eq(s2_valid & (s2_row == s1_row)),
            wb_row.eq(s2_row),
            wb_data.eq(Cat(*s2_sum)),
            s1_valid.eq(upd_fire),
            s2_valid.eq(s1_valid),
            wb_valid.eq(s2_valid),
        ]
        m.d.comb += self.upd_ready.eq(upd_open)

        with m.If(c_pos):
            m.d.sync += [max_reg.eq(Cat(*c_max)), have_reg.eq(c_have | c_in_reg)]

        # --- state machine, readout pipeline control and output stage -----------------------
        with m.Switch(state_reg):
            with m.Case(_S_IDLE):
                with m.If(clear_fire):
                    m.d.sync += [state_reg.eq(_S_CLEAR), clr_row_reg.eq(0)]
                with m.Elif(sweep_fire):
                    m.d.sync += [state_reg.eq(_S_READ), a_run_reg.eq(1), a_eot_reg.eq(0),
                                 b_valid_reg.eq(0), c_valid_reg.eq(0)]
            with m.Case(_S_CLEAR):
                m.d.sync += clr_row_reg.eq(clr_row_reg + 1)
                with m.If(clr_row_reg == last_row):
                    m.d.sync += state_reg.eq(_S_IDLE)
            with m.Default():
                with m.If(adv):
                    # stage A -> stage B -> stage C
                    m.d.sync += [b_valid_reg.eq(a_run_reg), c_valid_reg.eq(b_valid_reg)]
                    with m.If(a_run_reg):
                        with m.If(a_eot_reg):
                            m.d.sync += a_run_reg.eq(0)
                        with m.Elif(a_last_pos & a_last_x & a_last_y & a_last_c):
                            m.d.sync += a_eot_reg.eq(1)
                    # stage C -> output stage: a beat at the last window position and the EOT
                    m.d.sync += [
                        m_valid_reg.eq(c_valid_reg & (c_eot_reg | c_last_reg)),
                        m_eot_reg.eq(c_eot_reg),
                    ]
                with m.If(m_fire & m_eot_reg):
                    m.d.sync += state_reg.eq(_S_IDLE)

        # datapath registers of the readout (no reset)
        with m.If(sweep_fire):
            m.d.sync += [
                a_c_reg.eq(0), a_y_reg.eq(0), a_x_reg.eq(0), a_i_reg.eq(0), a_j_reg.eq(0),
                a_h_reg.eq(h0), a_w_reg.eq(w0), a_n_reg.eq(n0),
                win_h_reg.eq(h0), win_w_reg.eq(w0), win_n_reg.eq(n0), a_m_reg.eq(0),
            ]
        with m.Elif(a_issue_pos):
            with m.If(~a_last_j):
                # next position in this window row
                m.d.sync += [a_j_reg.eq(a_j_reg + 1), a_w_reg.eq(a_w_reg + 1),
                             a_n_reg.eq(a_n_reg + 1)]
            with m.Elif(~a_last_i):
                # next window row
                m.d.sync += [a_j_reg.eq(0), a_i_reg.eq(a_i_reg + 1), a_h_reg.eq(a_h_reg + 1),
                             a_w_reg.eq(win_w_reg), a_n_reg.eq(a_n_reg + step_i)]
            with m.Else():
                # next output row
                m.d.sync += [a_j_reg.eq(0), a_i_reg.eq(0), a_m_reg.eq(a_m_reg + 1)]
                with m.If(~a_last_x):
                    m.d.sync += [
                        a_x_reg.eq(a_x_reg + 1),
                        win_w_reg.eq(win_w_reg + psw_v), win_n_reg.eq(win_n_reg + step_x),
                        a_h_reg.eq(win_h_reg), a_w_reg.eq(win_w_reg + psw_v),
                        a_n_reg.eq(win_n_reg + step_x),
                    ]
                with m.Else():
                    m.d.sync += [a_x_reg.eq(0), win_w_reg.eq(w0), a_w_reg.eq(w0)]
                    with m.If(~a_last_y):
                        m.d.sync += [
                            a_y_reg.eq(a_y_reg + 1),
                            win_h_reg.eq(win_h_reg + psh_v), win_n_reg.eq(win_n_reg + step_y),
                            a_h_reg.eq(win_h_reg + psh_v), a_n_reg.eq(win_n_reg + step_y),
                        ]
                    with m.Else():
                        # next channel group (after the last one: don't care, the EOT slot
                        # follows): the next group's plane
                        m.d.sync += [
                            a_y_reg.eq(0), a_c_reg.eq(a_c_reg + 1),
                            win_h_reg.eq(h0), a_h_reg.eq(h0),
                            win_n_reg.eq(win_n_reg + step_c), a_n_reg.eq(win_n_reg + step_c),
                        ]
        with m.If(a_issue):
            m.d.sync += [b_eot_reg.eq(a_eot_reg), b_in_reg.eq(a_in), b_first_reg.eq(a_first),
                         b_last_reg.eq(a_last_pos), b_c_reg.eq(a_c_reg), b_m_reg.eq(a_m_reg)]
        with m.If(b_go):
            m.d.sync += [c_eot_reg.eq(b_eot_reg), c_in_reg.eq(b_in_reg),
                         c_first_reg.eq(b_first_reg), c_last_reg.eq(b_last_reg),
                         c_m_reg.eq(b_m_reg)]
        with m.If(c_go & (c_eot_reg | c_last_reg)):
            m.d.sync += [m_row_reg.eq(Mux(c_eot_reg, 0, c_m_reg)),
                         m_value_reg.eq(Mux(c_eot_reg, 0, Cat(*c_k)))]

        m.d.comb += [
            self.clear_ready.eq(idle),
            self.sweep_ready.eq(idle & ~self.clear_valid),
            self.busy.eq(~idle),
            self.m.valid.eq(m_valid_reg),
            self.m.payload.eot.eq(m_eot_reg),
            self.m.payload.row.eq(m_row_reg),
            self.m.payload.value.eq(m_value_reg),
        ]
        return m
