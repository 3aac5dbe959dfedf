"""Accum: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_accum.v``, the once-per-image
constant-current accumulator of the first layer with an optional max-pool readout plus the
per-channel (or, ``bias_per_neuron``, per-neuron) bias (docs/semantics.md §2 "analog input", §4
"max-pool of a constant current").

With analog input the first layer's current is the same at every timestep: this block sums it
once per image (the router delivers the weight * pixel products on the update lanes, as to an
:class:`~snngen.backends.amaranth.if_array.IfArray`) and then streams it out, max-pooled or not,
plus the bias, as the K values of the first IF array.

Storage (as in the Verilog)
  - N = C*H*W signed ``a_width``-bit accumulators, n = (c*H + h)*W + w, in ``lanes``
    :class:`~amaranth.lib.memory.Memory` banks that split the channels (as in
    :class:`~snngen.backends.amaranth.if_array.IfArray` with ``plane`` = H*W;
    :mod:`snngen.hwmodel.blocks.banks`): channel c is in bank ``c % lanes``, accumulator
    (c, h, w) at row ``(c // lanes)*H*W + h*W + w``. A bank has ``max(depth_used, 2)`` rows
    (``depth_used = ceil(C / lanes)*H*W``, :func:`~snngen.hwmodel.blocks.banks.bank_rows`), one
    write port and one synchronous read port with enable (the read register ``rd_q``; not
    transparent).
  - ``bias_mem``: NBIAS signed ``k_width``-bit biases (``bias_init``; the Verilog loads
    BIAS_FILE), read through the register ``bias_q`` (a ROM); NBIAS = C, or NBIAS = NOUT =
    C*OH*OW with ``bias_per_neuron`` (one bias per output neuron, only without pooling: a dense
    first layer in the router's conv view).

Readout (what it computes): output neuron m = (c*OH + y)*OW + x, m = 0 .. NOUT-1 with
NOUT = C*OH*OW, gets

    K[m] = max{acc[c, y*psh - pph + i, x*psw - ppw + j] : i < pkh, j < pkw, inside the map}
           + bias[b]

with b = c (b = m with ``bias_per_neuron``), computed in max(a_width, k_width) + 1 bits, of
which the low ``k_width`` bits are sent (the caller guarantees that k_width holds every max +
bias). Every window holds a map position.
Without pooling (pkh = pkw = psh = psw = 1, pph = ppw = 0) NOUT = N and K[n] = acc[n] + bias[c]
(bias[n] with ``bias_per_neuron``, which changes only which bias word is read, not the timing).

Contract (identical to the header of snn_accum.v, cycle for cycle; every stream transfers on a
rising edge with valid & ready; every valid is a register or a function of registers and never
depends on any ready)
  - Reset (the ``sync`` domain's, synchronous, active high): idle (busy 0, ``m.valid`` 0, no
    update in flight); the accumulators are NOT touched: clear before the first image.
  - Idle (busy = 0): ``clear_ready = 1``; ``sweep_ready = ~clear_valid``;
    ``upd_ready[j] = ~clear_valid & ~sweep_valid`` (a clear wins over a sweep, both over
    updates; these readies depend on the other streams' valids only). Not idle: all readies 0.
  - Clear: accepted at edge e, writes 0 to row a of every bank at edge e + 1 + a,
    a = 0 .. depth_used - 1; idle again right after edge e + depth_used: a clear takes exactly
    ``depth_used = ceil(C/lanes)*H*W`` busy cycles.
  - Update (lane j, while idle): adds the signed ``u_width``-bit ``upd_weight[j]`` to the
    accumulator at row ``upd_addr[j]`` of bank j (channel ``(upd_addr[j] // (H*W))*lanes + j``,
    position ``upd_addr[j] % (H*W)``; :func:`snngen.hwmodel.blocks.banks.neuron_at`).
    Accepted at edge e, it reads the bank at e and writes acc + weight at e + 1 (latency 1);
    the write made at the same edge e is forwarded, so updates of the same accumulator on
    consecutive cycles are exact; lanes are independent, one update per lane per cycle; the
    addition is modulo 2**a_width.
  - Sweep (readout): accepted at edge e (while idle); every update accepted up to e - 1 is
    included. The readout walks the slots s = 0 .. NOUT*pkh*pkw - 1 (output neurons m in
    ascending order, within each the window positions (i, j) row-major: s = m*pkh*pkw +
    i*pkw + j), one per cycle (a position outside the map takes its slot, its read masked),
    then one EOT slot, through a 2-stage pipeline: stage A reads the slot's bank word and
    bias[b]; stage B updates the running window maximum and, at the window's last position,
    loads max + bias[b] into the output register. One beat per output neuron (``index = m``,
    ``value = K[m]``, ``eot = 0``) in ascending m, then one beat with ``eot = 1``, ``index =
    0``, ``value = 0``. The pipeline advances exactly in the cycles where not
    (``m.valid & ~m.ready``); in a stall nothing moves.
  - Sweep timing (exact): slot s is read at edge e + 1 + s + (stalls so far); the beat of m is
    offered at edge e + 1 + (m + 1)*pkh*pkw + (stalls so far); the EOT beat at edge
    e + NOUT*pkh*pkw + 2 + (stalls so far) and it transfers at edge e + NOUT*pkh*pkw + 3 + S
    (S: the cycles after e, up to and including the EOT transfer, with ``m.valid & ~m.ready``).
    busy is high from the edge after e up to and including the cycle of the EOT transfer. The
    readout does not change the accumulators (it may be repeated, with or without more
    updates in between).
    The walk finds each slot's bank and row with counters, never by dividing n: the bank is
    ``c % lanes``, the row steps with the window within the channel's plane and, at the step
    to the next channel, to the same plane of the next bank or, after the last bank, to the
    next channel group's plane.

Equivalence with the Verilog. The registers and memories carry the Verilog's names (lane j's
``g_lane[j].s1_valid_reg`` is ``s1_valid_reg_j``, its ``g_lane[j].mem`` is ``bank{j}``), so Yosys
can match them one to one: tests/test_hw_accum.py proves (equiv_induct) that the converted module
and snn_accum.v hold the same value in every register, memory word and output in every cycle,
given the same state at the start. Only the power-up state differs, which the contract never
reads (Amaranth starts at 0, the Verilog at x).

The update lanes are those of :class:`~snngen.backends.amaranth.if_array.IfArray` without its sweep
write-back and debug read; IfArray builds them inline in its ``elaborate``, so they are written out
here again (same names, same structure).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
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
           addr_width, out_index_width, bias_init,
           bias_per_neuron=0) -> tuple[int, int, int, int, list[int]]:
    """The Verilog's parameter checks, in its order, with its rule words; returns OH, OW,
    ADDR_WIDTH, OUT_INDEX_WIDTH (defaults filled in) and the biases as signed ints."""
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
    nout = c * oh * ow
    if out_index_width is None:
        out_index_width = max(_clog2(nout), 1)
    if not _is_int(out_index_width) or not max(_clog2(nout), 1) <= out_index_width <= 32:
        raise _error("OUT_INDEX_WIDTH_must_be_clog2_NOUT_to_32",
                     out_index_width=out_index_width, nout=nout)
    if _nb(c, h, w, pph, ppw, lanes) > 32:
        raise _error("map_too_large", c=c, h=h, w=w)
    if not _is_int(bias_per_neuron) or bias_per_neuron not in (0, 1):
        raise _error("BIAS_PER_NEURON_must_be_0_or_1", bias_per_neuron=bias_per_neuron)
    if bias_per_neuron and (pkh, pkw, psh, psw, pph, ppw) != (1, 1, 1, 1, 0, 0):
        raise _error("BIAS_PER_NEURON_needs_no_pooling",
                     pkh=pkh, pkw=pkw, psh=psh, psw=psw, pph=pph, ppw=ppw)
    nbias = nout if bias_per_neuron else c
    # the .mem words: write_mem's range (signed, or the unsigned two's complement word)
    words = None if bias_init is None else [
        int(b) if isinstance(b, numbers.Integral) else b for b in bias_init]
    if words is None or len(words) != nbias or not all(
            _is_int(b) and -(1 << (k_width - 1)) <= b < (1 << k_width) for b in words):
        shown = words if words is None or len(words) <= 8 else f"<{len(words)} values>"
        raise _error("BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH",
                     bias_init=shown, nbias=nbias, k_width=k_width)
    half = 1 << (k_width - 1)
    bias = [b - 2 * half if b >= half else b for b in words]
    return oh, ow, addr_width, out_index_width, bias


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
        RAM banks / update lanes, a power of two.
    u_width : int [U_WIDTH]
        Width of a signed update on ``upd_weight``, 1 .. a_width.
    a_width : int [A_WIDTH]
        Width of a signed accumulator, 2 .. 32.
    k_width : int [K_WIDTH]
        Width of a signed output value K and of a bias, 1 .. 32.
    pkh, pkw, psh, psw, pph, ppw : int [PKH, PKW, PSH, PSW, PPH, PPW]
        Pooling window (>= 1), strides (>= 1) and padding (0 .. window - 1); 1, 1, 1, 1, 0, 0
        is no pooling.
    oh, ow : int [OH, OW]
        Pooled map size, must be (h + 2*pph - pkh)//psh + 1 (resp. w ...): the default.
    addr_width : int [ADDR_WIDTH]
        Width of a bank row address (``upd_addr[j]``),
        >= max(clog2(ceil(c / lanes) * h * w), 1) (the default).
    out_index_width : int [OUT_INDEX_WIDTH]
        Width of ``m.payload.index``, max(clog2(NOUT), 1) (the default) .. 32.
    bias_per_neuron : int [BIAS_PER_NEURON]
        0 (default): one bias per channel; 1: one bias per output neuron (c*oh*ow of them),
        only without pooling.
    bias_init : sequence of c (or c*oh*ow) ints [BIAS_FILE]
        The biases, the words snngen.backends.verilog.writer puts into the bias .mem (``s.bias``):
        each in the range of ``snngen.backends.verilog.memfile.write_mem``, -2**(k_width-1) ..
        2**k_width - 1, a value >= 2**(k_width-1) being the two's complement word of a negative bias
        (as in the file). ``self.bias_init`` holds them as signed values. Required (None is refused,
        like the Verilog's empty BIAS_FILE).

    Ports (every one keeps its Verilog name; the vectors are packed as in the Verilog, lane j
    in field j)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    upd_valid : In(lanes), upd_ready : Out(lanes)
    upd_addr : In(ArrayLayout(unsigned(addr_width), lanes))
    upd_weight : In(ArrayLayout(signed(u_width), lanes))
    sweep_valid : In(1), sweep_ready : Out(1)
    m : Out(stream.Signature(StructLayout({"index": out_index_width,
        "value": signed(k_width), "eot": 1}))) [m_valid, m_ready, m_index, m_value, m_eot]
    busy : Out(1)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_accum_ERROR_<rule>``) for a bad parameter; ``bias_init`` has its own rule
    (``snn_accum_ERROR_BIAS_INIT_must_hold_C_values_that_fit_K_WIDTH``; C*OH*OW values with
    ``bias_per_neuron``) in place of the Verilog's BIAS_FILE one.
    """

    VERILOG_NAME = "snn_accum"

    def __init__(self, c: int, h: int, w: int, lanes: int, u_width: int, a_width: int,
                 k_width: int, pkh: int, pkw: int, psh: int, psw: int, pph: int, ppw: int,
                 oh: int | None = None, ow: int | None = None, addr_width: int | None = None,
                 out_index_width: int | None = None,
                 bias_init: Sequence[int] | None = None, bias_per_neuron: int = 0) -> None:
        # numpy integers are welcome (the parameters usually come from numpy arrays)
        (c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw, oh, ow,
         addr_width, out_index_width, bias_per_neuron) = (
            int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x
            for x in (c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw,
                      oh, ow, addr_width, out_index_width, bias_per_neuron))
        try:
            oh, ow, addr_width, out_index_width, bias = _check(
                c, h, w, lanes, u_width, a_width, k_width, pkh, pkw, psh, psw, pph, ppw, oh, ow,
                addr_width, out_index_width, bias_init, bias_per_neuron)
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
        self.out_index_width = out_index_width
        self.bias_init = bias
        self.bias_per_neuron = bias_per_neuron
        # derived, named as in the Verilog
        self.n = c * h * w  # N: accumulators
        self.nout = c * oh * ow  # NOUT: output neurons
        self.plane = h * w  # rows of a channel in its bank
        self.depth_used = _depth_used(c, h, w, lanes)  # DEPTH_USED: bank rows in use
        self.mem_aw = max(_clog2(self.depth_used), 1)  # MEM_AW: row address bits
        self.depth = max(self.depth_used, 2)  # DEPTH: bank size
        self.lane_w = max(_clog2(lanes), 1)  # LANE_W: lane number bits
        self.log_lanes = _clog2(lanes)  # LOG_LANES
        self.sw = max(a_width, k_width) + 1  # SW: max + bias never wraps in it
        # readout counter widths
        self.cw, self.yw, self.xw, self.iw, self.jw = (
            max(_clog2(x), 1) for x in (c, oh, ow, pkh, pkw))
        # signed widths of a map row, a map column and a bank row of the walk
        self.hb = _clog2(h + pph + 1) + 1
        self.wb = _clog2(w + ppw + 1) + 1
        self.nb = _nb(c, h, w, pph, ppw, lanes)

        super().__init__({
            "clear_valid": In(1),
            "clear_ready": Out(1),
            "upd_valid": In(lanes),
            "upd_ready": Out(lanes),
            "upd_addr": In(data.ArrayLayout(unsigned(addr_width), lanes)),
            "upd_weight": In(data.ArrayLayout(signed(u_width), lanes)),
            "sweep_valid": In(1),
            "sweep_ready": Out(1),
            "m": Out(stream.Signature(data.StructLayout({
                "index": unsigned(out_index_width), "value": signed(k_width),
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
            "upd_addr": (self.upd_addr.as_value(), "i"),
            "upd_weight": (self.upd_weight.as_value(), "i"),
            "sweep_valid": (self.sweep_valid, "i"),
            "sweep_ready": (self.sweep_ready, "o"),
            "m_valid": (self.m.valid, "o"),
            "m_ready": (self.m.ready, "i"),
            "m_index": (self.m.payload.index, "o"),
            "m_value": (self.m.payload.value, "o"),
            "m_eot": (self.m.payload.eot, "o"),
            "busy": (self.busy, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes, aw, kw, sw = self.lanes, self.a_width, self.k_width, self.sw
        oiw, mem_aw, lane_w = self.out_index_width, self.mem_aw, self.lane_w
        cw, yw, xw, iw, jw, hb, wb, nb = (self.cw, self.yw, self.xw, self.iw, self.jw,
                                          self.hb, self.wb, self.nb)
        h, w, pkw, psh, psw, pph, ppw = (self.h, self.w, self.pkw, self.psh, self.psw,
                                         self.pph, self.ppw)

        # the walk's constants, as the Verilog's localparams (two's complement in their width):
        # the bank row n steps by 1 within a window row, by STEP_I to the next window row; the
        # window origin steps by STEP_X to the next x, by STEP_Y to the next y and, to the next
        # channel, by STEP_C when that starts a new channel group (the next H*W rows: the
        # current channel is in the last bank) or by STEP_CS back to the plane's first window
        # (the next channel is the next bank's, at the same rows)
        def bits(value: int, width: int) -> int:
            return value & ((1 << width) - 1)

        step_i = bits(w - pkw + 1, nb)
        step_x = bits(psw, nb)
        step_y = bits(psh * w - (self.ow - 1) * psw, nb)
        step_c = bits(h * w - (self.oh - 1) * psh * w - (self.ow - 1) * psw, nb)
        step_cs = bits(-((self.oh - 1) * psh * w + (self.ow - 1) * psw), nb)
        n0 = bits(-(pph * w + ppw), nb)
        h0 = bits(-pph, hb)
        w0 = bits(-ppw, wb)
        h_v, w_v = bits(h, hb), bits(w, wb)
        psh_v, psw_v = bits(psh, hb), bits(psw, wb)
        last_c, last_y, last_x = bits(self.c - 1, cw), bits(self.oh - 1, yw), bits(self.ow - 1, xw)
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
        m_index_reg = Signal(oiw, reset_less=True)
        m_value_reg = Signal(kw, reset_less=True)

        # the readout pipeline advances when the output stage is free (empty, or its beat
        # leaves now)
        adv = Signal()
        m_fire = Signal()
        m.d.comb += [
            adv.eq(~m_valid_reg | self.m.ready),
            m_fire.eq(m_valid_reg & self.m.ready),
        ]

        # stage A: the next slot to issue: output neuron (c, y, x), window position (i, j), map
        # position (h, w) at bank row n, the window origin (win_h, win_w) at bank row win_n,
        # output index m; then the EOT slot
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
        a_m_reg = Signal(oiw, reset_less=True)

        a_last_j = Signal()
        a_last_i = Signal()
        a_first = Signal()
        a_last_pos = Signal()
        a_last_x = Signal()
        a_last_y = Signal()
        a_last_c = Signal()
        a_in = Signal()
        a_row = Signal(mem_aw)
        a_lane = Signal(lane_w)
        a_group_end = Signal()
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
            # bank (channel c % lanes) and row of the position (the rest of n is 0 inside the
            # map)
            a_row.eq(a_n_reg[:mem_aw]),
            a_lane.eq(a_c_reg & (lanes - 1)),
            # the next channel starts the next channel group: c is in the last bank
            a_group_end.eq((a_c_reg & (lanes - 1)) == lanes - 1),
        ]

        a_issue = Signal()
        a_issue_pos = Signal()
        m.d.comb += [
            a_issue.eq(reading & a_run_reg & adv),
            a_issue_pos.eq(a_issue & ~a_eot_reg),
        ]

        # stage B: the slot whose bank word and bias were read at the last advance
        b_valid_reg = Signal()
        b_eot_reg = Signal(reset_less=True)
        b_in_reg = Signal(reset_less=True)
        b_first_reg = Signal(reset_less=True)
        b_last_reg = Signal(reset_less=True)
        b_lane_reg = Signal(lane_w, reset_less=True)
        b_m_reg = Signal(oiw, reset_less=True)

        b_go = Signal()
        b_pos = Signal()
        m.d.comb += [
            b_go.eq(reading & b_valid_reg & adv),
            b_pos.eq(b_go & ~b_eot_reg),
        ]

        # running window maximum: max_reg is valid when have_reg (some map position seen)
        max_reg = Signal(aw, reset_less=True)
        have_reg = Signal(reset_less=True)

        # --- biases (a ROM read through the register bias_q) --------------------------------
        bias_q = Signal(signed(kw), reset_less=True)  # the Verilog's read register bias_q
        if self.bias_per_neuron or self.c > 1:
            # per neuron: the bias of the output neuron whose (only) window position is read
            nbias = self.nout if self.bias_per_neuron else self.c
            m.submodules.bias_mem = bias_mem = Memory(shape=signed(kw), depth=nbias,
                                                      init=self.bias_init)
            bias_rd = bias_mem.read_port()
            m.d.comb += [
                bias_q.eq(bias_rd.data),
                bias_rd.en.eq(a_issue_pos),
                bias_rd.addr.eq(a_m_reg if self.bias_per_neuron else a_c_reg),
            ]
        else:
            # one word (the Verilog reads bias_mem[0]): a register loading the constant, as a
            # one-word Memory would have a 0-bit address port ("wire [-1:0]" in the Verilog)
            with m.If(a_issue_pos):
                m.d.sync += bias_q.eq(self.bias_init[0])

        # --- banks, one per lane -----------------------------------------------------------
        bank_q = []  # read registers of the banks
        ports = []  # (write port, read port) per bank
        for j in range(lanes):
            bank = Memory(shape=unsigned(aw), depth=self.depth, init=[])
            m.submodules[f"bank{j}"] = bank
            ports.append((bank.write_port(), bank.read_port()))
            rd_q = Signal(aw, name=f"rd_q_{j}")  # the Verilog's read register g_lane[j].rd_q
            m.d.comb += rd_q.eq(ports[-1][1].data)
            bank_q.append(rd_q)

        # --- stage B arithmetic: running maximum, then max + bias in SW bits ----------------
        b_acc = Signal(signed(aw))
        b_have = Signal()
        b_take = Signal()
        b_max = Signal(signed(aw))
        b_sum = Signal(signed(sw))
        m.d.comb += [
            b_acc.eq(Array(bank_q)[b_lane_reg]),
            # a maximum from earlier positions of this window exists
            b_have.eq(have_reg & ~b_first_reg),
            b_take.eq(b_in_reg & (~b_have | (b_acc > max_reg.as_signed()))),
            b_max.eq(Mux(b_take, b_acc, max_reg)),
            # the caller guarantees that max + bias fits K_WIDTH
            b_sum.eq(b_max + bias_q),
        ]
        with m.If(b_pos):
            m.d.sync += [max_reg.eq(b_max), have_reg.eq(b_have | b_in_reg)]

        # --- update pipelines, one per lane -------------------------------------------------
        for j in range(lanes):
            wr, rd = ports[j]
            # update stage 1: accepted at the last edge, read issued at that edge
            s1_valid = Signal(name=f"s1_valid_reg_{j}")
            s1_row = Signal(mem_aw, reset_less=True, name=f"s1_row_reg_{j}")
            s1_w = Signal(aw, reset_less=True, name=f"s1_w_reg_{j}")
            # the update write made at the last edge (forwarding source)
            wb_valid = Signal(name=f"wb_valid_reg_{j}")
            wb_row = Signal(mem_aw, reset_less=True, name=f"wb_row_reg_{j}")
            wb_data = Signal(aw, reset_less=True, name=f"wb_data_reg_{j}")

            upd_fire = Signal(name=f"upd_fire_{j}")
            u_row = Signal(mem_aw, name=f"u_row_{j}")
            fwd = Signal(name=f"fwd_{j}")
            s1_sum = Signal(aw, name=f"s1_sum_{j}")
            m.d.comb += [
                upd_fire.eq(self.upd_valid[j] & upd_open),
                # rows beyond depth_used do not exist: the high address bits are ignored
                u_row.eq(self.upd_addr[j][:mem_aw]),
                # forward the write made at the edge that also issued this update's read
                fwd.eq(wb_valid & (wb_row == s1_row)),
                s1_sum.eq(Mux(fwd, wb_data, bank_q[j]) + s1_w),
            ]

            # write port: clear, else update write-back (never both at once)
            m.d.comb += [
                wr.en.eq(clearing | s1_valid),
                wr.addr.eq(Mux(clearing, clr_row_reg, s1_row)),
                wr.data.eq(Mux(clearing, 0, s1_sum)),
            ]
            # read port: readout issue (positions inside the map only), else update
            m.d.comb += [
                rd.en.eq((a_issue_pos & a_in & (a_lane == j)) | upd_fire),
                rd.addr.eq(Mux(reading, a_row, u_row)),
            ]

            m.d.sync += [
                s1_row.eq(u_row),
                s1_w.eq(self.upd_weight[j]),  # sign-extended to A_WIDTH
                wb_row.eq(s1_row),
                wb_data.eq(s1_sum),
                s1_valid.eq(upd_fire),
                wb_valid.eq(s1_valid),
            ]
            m.d.comb += self.upd_ready[j].eq(upd_open)

        # --- state machine, readout pipeline control and output stage -----------------------
        with m.Switch(state_reg):
            with m.Case(_S_IDLE):
                with m.If(clear_fire):
                    m.d.sync += [state_reg.eq(_S_CLEAR), clr_row_reg.eq(0)]
                with m.Elif(sweep_fire):
                    m.d.sync += [state_reg.eq(_S_READ), a_run_reg.eq(1), a_eot_reg.eq(0),
                                 b_valid_reg.eq(0)]
            with m.Case(_S_CLEAR):
                m.d.sync += clr_row_reg.eq(clr_row_reg + 1)
                with m.If(clr_row_reg == last_row):
                    m.d.sync += state_reg.eq(_S_IDLE)
            with m.Default():
                with m.If(adv):
                    # stage A -> stage B
                    m.d.sync += b_valid_reg.eq(a_run_reg)
                    with m.If(a_run_reg):
                        with m.If(a_eot_reg):
                            m.d.sync += a_run_reg.eq(0)
                        with m.Elif(a_last_pos & a_last_x & a_last_y & a_last_c):
                            m.d.sync += a_eot_reg.eq(1)
                    # stage B -> output stage: a beat at the last window position and the EOT
                    m.d.sync += [
                        m_valid_reg.eq(b_valid_reg & (b_eot_reg | b_last_reg)),
                        m_eot_reg.eq(b_eot_reg),
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
                # next output neuron
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
                        # next channel (after the last one: don't care, the EOT slot follows)
                        m.d.sync += [
                            a_y_reg.eq(0), a_c_reg.eq(a_c_reg + 1),
                            win_h_reg.eq(h0), a_h_reg.eq(h0),
                        ]
                        # the same plane of the next bank, or the next group's after the last
                        with m.If(a_group_end):
                            m.d.sync += [win_n_reg.eq(win_n_reg + step_c),
                                         a_n_reg.eq(win_n_reg + step_c)]
                        with m.Else():
                            m.d.sync += [win_n_reg.eq(win_n_reg + step_cs),
                                         a_n_reg.eq(win_n_reg + step_cs)]
        with m.If(a_issue):
            m.d.sync += [b_eot_reg.eq(a_eot_reg), b_in_reg.eq(a_in), b_first_reg.eq(a_first),
                         b_last_reg.eq(a_last_pos), b_lane_reg.eq(a_lane), b_m_reg.eq(a_m_reg)]
        with m.If(b_go & (b_eot_reg | b_last_reg)):
            m.d.sync += [m_index_reg.eq(Mux(b_eot_reg, 0, b_m_reg)),
                         m_value_reg.eq(Mux(b_eot_reg, 0, b_sum[:kw]))]

        m.d.comb += [
            self.clear_ready.eq(idle),
            self.sweep_ready.eq(idle & ~self.clear_valid),
            self.busy.eq(~idle),
            self.m.valid.eq(m_valid_reg),
            self.m.payload.eot.eq(m_eot_reg),
            self.m.payload.index.eq(m_index_reg),
            self.m.payload.value.eq(m_value_reg),
        ]
        return m
