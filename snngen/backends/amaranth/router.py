"""Router: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_router.v`` (one layer's synaptic
fan-out).

The router turns a stream of input events (the flat index of an input neuron that spiked, or for
the first layer a pixel index with its value), ended by an end-of-timestep (EOT) event, into the
synaptic updates of an :class:`~snngen.backends.amaranth.if_array.IfArray` (or an
:class:`~snngen.backends.amaranth.accum.Accum`) whose banks split the output channels
(:mod:`snngen.hwmodel.blocks.banks`): channel ``o`` is on lane ``o % lanes``, neuron ``(o, y, x)``
at bank address ``(o // lanes)*OH*OW + y*OW + x`` (an update is one bank row: lane j adds
``upd_weight[j]`` to the neuron of channel ``upd_addr // (OH*OW) * lanes + j`` at that address;
the field of a lane whose channel is >= COUT is 0), and after the EOT, once every update has been
delivered, requests the sweep. ``upd_*`` and ``sweep_*`` connect directly to the
array's ports of the same names. The Python model is :mod:`snngen.hwmodel.blocks.router`.

Geometry (every layer is one convolution; a Linear ``F_in -> F_out`` is the 1x1 convolution
``cin=F_in, h=w=1, cout=F_out, oh=ow=1, kh=kw=1`` with ``W[o, c, 0, 0] = Wl[o, c]``): input
``(c, h, w)``, flat index ``(c*H + h)*W + w``, reaches target ``(o, y, x)``, flat index
``(o*OH + y)*OW + x``, with weight ``W[o, c, kh, kw]`` iff ``kh = h + PH - y*SH`` is in
``[0, KH)``, ``kw = w + PW - x*SW`` in ``[0, KW)``, ``0 <= y < OH``, ``0 <= x < OW``.

Enumeration (normative, :func:`snngen.hwmodel.blocks.router.groups`): for an event ``(c, h, w)``,
for the channel groups ``g = 0 .. NG-1`` (``NG = ceil(COUT / lanes)``), for the valid rows ``y``
from ``y_hi`` down to ``y_lo``, for the valid columns ``x`` from ``x_hi`` down to ``x_lo``: one
slot whose members are the channels ``o = g*lanes + k < COUT``, member k on lane k, all at bank
address ``(g*OH + y)*OW + x``, ``kh = h + PH - y*SH``, ``kw = w + PW - x*SW``. One slot per
cycle, all its members at once: one row update whose field k is member k's weight (0 for a lane
past COUT in the last group, from the ROM). An event costs exactly ``max(G, 1)``
issue slots, ``G = NG * cnt_y * cnt_x`` (an event that reaches no neuron still takes one slot
and issues nothing).

Weights: one ROM (:class:`~amaranth.lib.memory.Memory`, registered read with enable) of
``NG*CIN*KH*KW`` words of ``lanes * w_width`` bits, initialised from ``weight_init`` (the words
of the Verilog's WEIGHT_FILE, :func:`snngen.hwmodel.blocks.router.rom_words`): word
``((g*CIN + c)*KH + kh)*KW + kw`` holds in field k ``W[g*lanes + k, c, kh, kw]``, or 0 where
``g*lanes + k >= COUT``: every weight is stored once, and a slot reads one word.

Values: ``value_width = 0``: spike events, ``upd_weight`` = the weight (``u_width = w_width``;
``s.payload.value`` is 1 bit wide and ignored). ``value_width > 0``: every event carries an
unsigned value and every update is the exact signed product weight * value,
``u_width = w_width + value_width``.

Pipeline (the Verilog's registers and names): I (accept: the event registered as it is) -> DC
(c = index / (H*W) and the remainder index % (H*W)) -> D1 (h, w = remainder / W, remainder % W)
-> D2 (valid row and column ranges) -> N (first ROM address and bank address, row and column
counts: the prefetched next event) -> Q (the sequencer: one slot per cycle) -> R (ROM read) -> P
(the ROM word registered) -> O (output registers: upd_valid/addr/weight, or sweep_valid for the
EOT slot). I, DC, D1, D2, N form an elastic queue; Q, R, P and O shift together, one slot per
cycle, except in a stall cycle.
DC and D1 divide by a constant over only the quotient bits that can be non-zero (c < CIN:
clog2(CIN) bits, h < H: clog2(H) bits), one subtraction of the remainder's real width per bit,
or take a bit slice when the divisor (H*W, W) is a power of two: exact for every index
< CIN*H*W, and no runtime divider. Q's "last slot of the event" flag (``q_last_reg``) is a
register computed one cycle ahead (from N's item when Q loads, from the next counters when it
steps), so s.ready and Q's take/step are a few gates from registers, upd_ready and sweep_ready.

Contract (identical to the header of snn_router.v, cycle for cycle; a transfer is a rising edge
with valid & ready; "edge a" accepts; ``upd_valid`` and ``sweep_valid`` are registers and never
depend on any ready)
  - Reset (the ``sync`` domain's, synchronous, active high) empties the router (busy 0,
    upd_valid 0, sweep_valid 0, nothing in flight); it accepts events from the cycle after.
  - ``s.ready`` = (no EOT accepted and still waiting for its sweep handshake) and (one of I,
    DC, D1, D2, N is empty, or Q takes N in this cycle). After an EOT is accepted no event is
    accepted until the sweep handshake; from the cycle after it s.ready is high again. s.ready
    depends combinationally on upd_ready and sweep_ready (through the stall), never on s.valid.
    ``s.payload.index`` must be < CIN*H*W; index and value are ignored with ``eot = 1``.
  - Queue: an event (or the EOT) accepted at edge a is in N after edge a + 4 and is loaded
    into Q at the first edge >= a + 5 at which Q is empty or issues the last slot of its event
    (and no stall): zero bubbles between events when the queue is not empty.
  - Issue: Q issues one slot at every edge without a stall: the G slots of its event (or the
    one empty slot of a G = 0 event), then the next event's first slot at the very next edge;
    the EOT is one slot. A slot issued at edge q reads the ROM at q, is offered on upd_* from
    edge q + 2 and transfers at edge q + 3 if ready. The EOT slot issued at edge q raises
    sweep_valid at edge q + 2, i.e. at the edge of the last update transfer or later: a sweep
    accepted by the IF array (update latency 1) sees every update. sweep_valid stays high until
    the sweep handshake.
  - Latencies: the first event accepted at edge e0 (router idle) issues its first slot at
    e0 + 6; its first update transfers at edge e0 + 9. With the events and the EOT offered back
    to back, sweep_valid is first high in the cycle after edge e0 + 8 + sum_i max(G_i, 1) + S,
    S = the stall cycles. :func:`snngen.hwmodel.blocks.router.schedule` gives the exact edges for
    any input timing (no stall).
  - Backpressure: a stall cycle is a cycle with upd_valid & ~upd_ready, or with sweep_valid &
    ~sweep_ready. Nothing in Q, R, P, O moves, nothing is lost or reordered: every stall cycle
    delays everything after it by exactly one cycle. The queue I, DC, D1, D2, N keeps accepting
    during stalls.
  - busy: something is in flight (an item in I, DC, D1, D2, N, Q or a slot in R, P, O, including
    the EOT until its sweep handshake).

Equivalence with the Verilog. The registers carry the Verilog's names (``d1_valid_reg``,
``q_xleft_reg``, ``rom_q``, ``o_pend_reg``, ...) and the ROM is the memory ``wmem``, and the
arithmetic is written in the Verilog's widths (32-bit wires in D2 and N), so that Yosys
matches the two designs one to one: tests/test_hw_router.py proves (equiv_induct) that the
converted module and snn_router.v hold the same value in every register and output in every
cycle, given the same state at the start (Amaranth powers up at 0, the Verilog at x; the
contract needs a reset first).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Router"]


def _clog2(x: int) -> int:
    """Verilog's $clog2 (0 for x <= 1)."""
    return (x - 1).bit_length() if x > 1 else 0


def _w1(x: int) -> int:
    """The Verilog's field widths: ``($clog2(x) > 0) ? $clog2(x) : 1``."""
    return max(_clog2(x), 1)


def _error(rule: str, **values) -> ValueError:
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ValueError(f"snn_router_ERROR_{rule}: {got}")


_GEOMETRY = ("cin", "h", "w", "cout", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw")


def _check(p: dict) -> None:
    """The Verilog's elaboration checks, in its order, with its rule words; ``p`` holds every
    parameter (lower case), the derived defaults already filled in."""
    ints = {k: v for k, v in p.items() if k != "weight_init"}
    for name, value in ints.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error("parameters_must_be_integers", **{name: value})
    lanes = p["lanes"]
    if lanes < 1 or lanes & (lanes - 1):
        raise _error("LANES_must_be_a_power_of_two", lanes=lanes)
    sizes = {k: p[k] for k in _GEOMETRY if k not in ("ph", "pw")}
    if min(sizes.values()) < 1:
        raise _error("CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive", **sizes)
    if p["ph"] < 0 or p["pw"] < 0:
        raise _error("PH_PW_must_be_non_negative", ph=p["ph"], pw=p["pw"])
    if p["kh"] > p["h"] + 2 * p["ph"] or p["kw"] > p["w"] + 2 * p["pw"]:
        raise _error("kernel_must_fit_the_padded_input", kh=p["kh"], kw=p["kw"], h=p["h"],
                     w=p["w"], ph=p["ph"], pw=p["pw"])
    if p["oh"] != (p["h"] + 2 * p["ph"] - p["kh"]) // p["sh"] + 1:
        raise _error("OH_must_be_H_plus_2PH_minus_KH_over_SH_plus_1", oh=p["oh"])
    if p["ow"] != (p["w"] + 2 * p["pw"] - p["kw"]) // p["sw"] + 1:
        raise _error("OW_must_be_W_plus_2PW_minus_KW_over_SW_plus_1", ow=p["ow"])
    big = 1 << 30
    ng = -(-p["cout"] // lanes)  # NG: channel groups
    if (p["cin"] * p["h"] * p["w"] >= big or p["cout"] * p["oh"] * p["ow"] >= big
            or ng * p["cin"] * p["kh"] * p["kw"] >= big
            or p["h"] + p["ph"] + p["sh"] >= big or p["w"] + p["pw"] + p["sw"] >= big):
        raise _error("sizes_must_be_below_2_to_the_30", **{k: p[k] for k in _GEOMETRY})
    if not 1 <= p["w_width"] <= 32:
        raise _error("W_WIDTH_must_be_1_to_32", w_width=p["w_width"])
    if not 0 <= p["value_width"] <= 32:
        raise _error("VALUE_WIDTH_must_be_0_to_32", value_width=p["value_width"])
    if p["u_width"] != p["w_width"] + p["value_width"]:
        raise _error("U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH", u_width=p["u_width"],
                     w_width=p["w_width"], value_width=p["value_width"])
    n_in = p["cin"] * p["h"] * p["w"]
    if not max(_clog2(n_in), 1) <= p["in_index_width"] <= 30:
        raise _error("IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30",
                     in_index_width=p["in_index_width"], n_in=n_in)
    rows = ng * p["oh"] * p["ow"]  # ROWS: bank rows in use, NG planes of OH*OW
    if not max(_clog2(rows), 1) <= p["addr_width"] <= 30:
        raise _error("ADDR_WIDTH_too_small_for_the_bank_rows", addr_width=p["addr_width"],
                     rows=rows)


class Router(wiring.Component):
    """One layer's spike router, equivalent to snn_router.v.

    Parameters (Verilog parameter in brackets; every one an int)
    ----------
    cin, h, w : [CIN, H, W]
        Input map: ``cin`` channels of ``h x w`` (flat index ``(c*h + y)*w + x``), >= 1.
    cout, oh, ow : [COUT, OH, OW]
        Output map: ``cout`` channels of ``oh x ow``; ``oh`` must be
        ``(h + 2*ph - kh) // sh + 1``, ``ow`` the same (None: computed so).
    kh, kw, sh, sw : [KH, KW, SH, SW]
        Kernel and stride, >= 1; the kernel fits the padded input.
    ph, pw : [PH, PW]
        Zero padding, >= 0.
    lanes : [LANES]
        Update lanes of the IF array: a power of two.
    w_width : [W_WIDTH]
        Width of a signed weight in the ROM, 1 .. 32.
    value_width : [VALUE_WIDTH]
        0: spike events; 1 .. 32: events carry an unsigned ``value_width``-bit value.
    u_width : [U_WIDTH]
        Width of a signed update on ``upd_weight``: must be ``w_width + value_width`` (the
        default).
    in_index_width : [IN_INDEX_WIDTH]
        Width of ``s.payload.index``: max(clog2(cin*h*w), 1) (the default) .. 30.
    addr_width : [ADDR_WIDTH]
        Width of a bank address (``upd_addr``): max(clog2(ceil(cout / lanes)*oh*ow), 1) (the
        default) .. 30.
    weight_init : sequence of ``ceil(cout / lanes)*cin*kh*kw`` ints [WEIGHT_FILE]
        The ROM words, exactly the words of the .mem file the Verilog reads (what
        :func:`snngen.hwmodel.blocks.router.rom_words` returns and
        ``snngen.backends.verilog.writer`` writes with ``memfile.write_mem(path, words, lanes *
        w_width)``): unsigned ``lanes * w_width``-bit words; as in ``write_mem``, a negative word
        down to ``-2**(lanes*w_width - 1)`` is taken as its two's complement. Required (the Verilog
        refuses an empty WEIGHT_FILE).

    Ports (``verilog_ports()`` names in brackets; the lane vectors are packed as in the
    Verilog, lane j in field j)
    -----
    s : ``In(stream.Signature(StructLayout({"index": in_index_width, "value":
        max(value_width, 1), "eot": 1})))`` [s_valid, s_ready, s_index, s_value, s_eot]
    upd_valid : Out(1), upd_ready : In(1), upd_addr : Out(addr_width)
    upd_weight : Out(ArrayLayout(signed(u_width), lanes))
    sweep_valid : Out(1), sweep_ready : In(1)
    busy : Out(1)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_router_ERROR_<rule>``) for a bad parameter; ``weight_init`` has its own rule
    (``snn_router_ERROR_WEIGHT_INIT_must_hold_NG_CIN_KH_KW_words_of_LANES_W_WIDTH_bits``) in
    place of the Verilog's WEIGHT_FILE one.
    """

    VERILOG_NAME = "snn_router"

    def __init__(self, cin: int, h: int, w: int, cout: int, oh: int | None, ow: int | None,
                 kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, lanes: int,
                 w_width: int, value_width: int, u_width: int | None = None,
                 in_index_width: int | None = None, addr_width: int | None = None,
                 weight_init: Sequence[int] | None = None) -> None:
        p = dict(cin=cin, h=h, w=w, cout=cout, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph,
                 pw=pw, lanes=lanes, w_width=w_width, value_width=value_width, u_width=u_width,
                 in_index_width=in_index_width, addr_width=addr_width)
        # numpy integers are welcome (the parameters usually come from numpy arrays)
        p = {k: int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
             for k, v in p.items()}
        try:
            self._fill_defaults(p)
            _check(p)
            words = self._check_weights(p, weight_init)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        for k, v in p.items():
            setattr(self, k, v)
        self.weight_init = words
        # derived, named as in the Verilog (lower case)
        self.nout = self.cout * self.oh * self.ow  # NOUT
        # channel groups, bank rows in use, members of the last group
        self.ng = -(-self.cout // lanes)  # NG
        self.rows = self.ng * self.oh * self.ow  # ROWS
        self.rom_depth = self.ng * self.cin * self.kh * self.kw  # ROM_DEPTH
        self.nw = _w1(self.rows)  # NW: bank address width
        self.raw = _w1(self.rom_depth)  # RAW: ROM address width
        self.mem_depth = max(self.rom_depth, 2)  # MEM_DEPTH
        self.vw1 = max(self.value_width, 1)  # VW1
        self.word = self.lanes * self.w_width  # WORD
        super().__init__({
            "s": In(stream.Signature(data.StructLayout({
                "index": unsigned(self.in_index_width), "value": unsigned(self.vw1),
                "eot": unsigned(1)}))),
            "upd_valid": Out(1),
            "upd_ready": In(1),
            "upd_addr": Out(self.addr_width),
            "upd_weight": Out(data.ArrayLayout(signed(self.u_width), lanes)),
            "sweep_valid": Out(1),
            "sweep_ready": In(1),
            "busy": Out(1),
        })

    @staticmethod
    def _fill_defaults(p: dict) -> None:
        """The Verilog's default expressions (guarded against bad values the checks refuse)."""
        ok = all(isinstance(p[k], int) and p[k] >= 1 for k in ("cin", "h", "w", "kh", "kw",
                                                                "sh", "sw", "cout"))
        ok = ok and all(isinstance(p[k], int) for k in ("ph", "pw"))
        if p["oh"] is None:
            p["oh"] = (p["h"] + 2 * p["ph"] - p["kh"]) // p["sh"] + 1 if ok else 0
        if p["ow"] is None:
            p["ow"] = (p["w"] + 2 * p["pw"] - p["kw"]) // p["sw"] + 1 if ok else 0
        if p["u_width"] is None and isinstance(p["w_width"], int) \
                and isinstance(p["value_width"], int):
            p["u_width"] = p["w_width"] + p["value_width"]
        if p["in_index_width"] is None and isinstance(p["cin"], int) \
                and isinstance(p["h"], int) and isinstance(p["w"], int):
            p["in_index_width"] = _w1(p["cin"] * p["h"] * p["w"])
        if p["addr_width"] is None and all(isinstance(p[k], int) for k in ("cout", "oh", "ow",
                                                                            "lanes")):
            lanes = p["lanes"] if p["lanes"] > 0 else 1
            p["addr_width"] = _w1((p["cout"] + lanes - 1) // lanes * p["oh"] * p["ow"])

    @staticmethod
    def _check_weights(p: dict, weight_init) -> list[int]:
        # ROM_DEPTH: one word per channel group and kernel position (the checks passed)
        depth = -(-p["cout"] // p["lanes"]) * p["cin"] * p["kh"] * p["kw"]
        width = p["lanes"] * p["w_width"]
        rule = "WEIGHT_INIT_must_hold_NG_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"
        if weight_init is None:
            raise _error(rule, weight_init=None, words=depth, bits=width)
        words = [int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x
                 for x in weight_init]
        if len(words) != depth or not all(
                isinstance(x, int) and -(1 << (width - 1)) <= x < (1 << width) for x in words):
            shown = words if len(words) <= 8 else f"<{len(words)} words>"
            raise _error(rule, weight_init=shown, words=depth, bits=width)
        return [x & ((1 << width) - 1) for x in words]

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_router.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "s_valid": (self.s.valid, "i"),
            "s_ready": (self.s.ready, "o"),
            "s_index": (self.s.payload.index, "i"),
            "s_value": (self.s.payload.value, "i"),
            "s_eot": (self.s.payload.eot, "i"),
            "upd_valid": (self.upd_valid, "o"),
            "upd_ready": (self.upd_ready, "i"),
            "upd_addr": (self.upd_addr, "o"),
            "upd_weight": (self.upd_weight.as_value(), "o"),
            "sweep_valid": (self.sweep_valid, "o"),
            "sweep_ready": (self.sweep_ready, "i"),
            "busy": (self.busy, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes, nw, raw, ng = self.lanes, self.nw, self.raw, self.ng
        cin, h, w, oh, ow = self.cin, self.h, self.w, self.oh, self.ow
        kh, kw, sh, sw, ph, pw = self.kh, self.kw, self.sh, self.sw, self.ph, self.pw
        vw1, ww, uw, aw = self.vw1, self.w_width, self.u_width, self.addr_width
        # field widths (at least 1)
        ciw, hw_, ww_ = _w1(cin), _w1(h), _w1(w)
        yw, xw, khw, kww, gw = _w1(oh), _w1(ow), _w1(kh), _w1(kw), _w1(ng)
        # the decode: index bits in use (NIW), plane H*W and its remainder width (PLW), quotient
        # bits that can be non-zero (c < CIN: QC bits, h < H: QH bits)
        niw = _w1(cin * h * w)
        plane = h * w
        plw = _w1(plane)
        qc, qh = _clog2(cin), _clog2(h)
        # constants of the sequencer, modulo 2**RAW / 2**NW (every result it uses is in range)
        step_xa = sw % (1 << raw)  # ROM address: next column (x - 1, kw + SW)
        step_ya = (sh * kw) % (1 << raw)  # next (lower) row: kh + SH
        step_ga = (cin * kh * kw) % (1 << raw)  # next channel group
        step_yb = ow % (1 << nw)  # bank address: one row up
        step_gb = (oh * ow) % (1 << nw)  # next channel group
        ng_m1 = (ng - 1) % (1 << gw)

        def wire(width, name, value, shape=unsigned):
            """A combinational wire of the Verilog (its width, its truncation)."""
            sig = Signal(shape(width), name=name)
            m.d.comb += sig.eq(value)
            return sig

        def reg(width, name, *, reset=True):
            return Signal(unsigned(width), name=name, reset_less=not reset)

        # --- pipeline control ------------------------------------------------------------
        # the sweep request in flight: set when an EOT is accepted, cleared at the handshake
        eot_block_reg = reg(1, "eot_block_reg")
        i_valid_reg = reg(1, "i_valid_reg")
        dc_valid_reg = reg(1, "dc_valid_reg")
        d1_valid_reg = reg(1, "d1_valid_reg")
        d2_valid_reg = reg(1, "d2_valid_reg")
        n_valid_reg = reg(1, "n_valid_reg")
        q_valid_reg = reg(1, "q_valid_reg")
        # O stage: an update to transfer, EOT slot (sweep request)
        o_pend_reg = reg(1, "o_pend_reg")
        o_eot_reg = reg(1, "o_eot_reg")

        upd_stall = wire(1, "upd_stall", o_pend_reg & ~self.upd_ready)
        adv = wire(1, "adv", ~upd_stall & ~(o_eot_reg & ~self.sweep_ready))
        sweep_fire = wire(1, "sweep_fire", o_eot_reg & self.sweep_ready)

        # Q: its item is done after this slot (a register, computed when Q loads or steps)
        q_last_reg = reg(1, "q_last_reg", reset=False)
        q_take = wire(1, "q_take", adv & (~q_valid_reg | q_last_reg))  # Q takes N's item
        q_step = wire(1, "q_step", adv & q_valid_reg & ~q_last_reg)  # Q's next slot

        # the elastic queue I -> DC -> D1 -> D2 -> N: a stage takes new content when empty or
        # handing on now, i.e. when it or a stage after it is empty or Q takes N. "Stage k and
        # every stage after it hold an item" is a register per stage (*_full_reg, always the
        # AND of those valid registers), so q_take is one gate from every ready: as a function
        # of the valid registers, synthesis rebuilds the chain through the stages.
        n_full_reg = reg(1, "n_full_reg")
        d2_full_reg = reg(1, "d2_full_reg")
        d1_full_reg = reg(1, "d1_full_reg")
        dc_full_reg = reg(1, "dc_full_reg")
        i_full_reg = reg(1, "i_full_reg")
        n_full = wire(1, "n_full", n_full_reg)
        d2_full = wire(1, "d2_full", d2_full_reg)
        d1_full = wire(1, "d1_full", d1_full_reg)
        dc_full = wire(1, "dc_full", dc_full_reg)
        i_full = wire(1, "i_full", i_full_reg)
        n_ready = wire(1, "n_ready", ~n_full | q_take)
        d2_ready = wire(1, "d2_ready", ~d2_full | q_take)
        d1_ready = wire(1, "d1_ready", ~d1_full | q_take)
        dc_ready = wire(1, "dc_ready", ~dc_full | q_take)
        i_ready = wire(1, "i_ready", ~i_full | q_take)

        s_fire = wire(1, "s_fire", self.s.valid & self.s.ready)
        m.d.comb += self.s.ready.eq(i_ready & ~eot_block_reg)

        # the valid registers after this edge
        i_valid_next = wire(1, "i_valid_next", Mux(i_ready, s_fire, i_valid_reg))
        dc_valid_next = wire(1, "dc_valid_next", Mux(dc_ready, i_valid_reg, dc_valid_reg))
        d1_valid_next = wire(1, "d1_valid_next", Mux(d1_ready, dc_valid_reg, d1_valid_reg))
        d2_valid_next = wire(1, "d2_valid_next", Mux(d2_ready, d1_valid_reg, d2_valid_reg))
        n_valid_next = wire(1, "n_valid_next", Mux(n_ready, d2_valid_reg, n_valid_reg))
        m.d.sync += [
            n_full_reg.eq(n_valid_next),
            d2_full_reg.eq(d2_valid_next & n_valid_next),
            d1_full_reg.eq(d1_valid_next & d2_valid_next & n_valid_next),
            dc_full_reg.eq(dc_valid_next & d1_valid_next & d2_valid_next & n_valid_next),
            i_full_reg.eq(i_valid_next & dc_valid_next & d1_valid_next & d2_valid_next
                          & n_valid_next),
        ]

        with m.If(s_fire & self.s.payload.eot):
            m.d.sync += eot_block_reg.eq(1)
        with m.Elif(sweep_fire):
            m.d.sync += eot_block_reg.eq(0)
        with m.If(i_ready):
            m.d.sync += i_valid_reg.eq(s_fire)
        with m.If(dc_ready):
            m.d.sync += dc_valid_reg.eq(i_valid_reg)
        with m.If(d1_ready):
            m.d.sync += d1_valid_reg.eq(dc_valid_reg)
        with m.If(d2_ready):
            m.d.sync += d2_valid_reg.eq(d1_valid_reg)
        with m.If(n_ready):
            m.d.sync += n_valid_reg.eq(d2_valid_reg)
        with m.If(q_take):
            m.d.sync += q_valid_reg.eq(n_valid_reg)

        # --- I: the accepted event, registered before any decoding (the index bits in use) --
        i_eot_reg = reg(1, "i_eot_reg", reset=False)
        i_val_reg = reg(vw1, "i_val_reg", reset=False)
        i_idx_reg = reg(niw, "i_idx_reg", reset=False)
        with m.If(i_ready):
            m.d.sync += [
                i_eot_reg.eq(self.s.payload.eot),
                i_val_reg.eq(self.s.payload.value),
                i_idx_reg.eq(self.s.payload.index[:niw]),
            ]

        def divide(name, x, width, divisor, qbits):
            """The Verilog's restoring division of ``x`` (``width`` bits) by the constant
            ``divisor`` over ``qbits`` quotient bits (exact when x < divisor * 2**qbits): a bit
            slice for a power-of-two divisor, else one ``width + 1``-bit subtraction per bit.
            Returns (quotient bits, most significant first; remainder, ``width`` bits)."""
            if divisor & (divisor - 1) == 0:
                log = _clog2(divisor)
                # divisor 1 and no quotient bit: x (1 bit, the only value 0) is the remainder
                return [x[log + k] for k in reversed(range(qbits))], x[:log] if log or qbits else x
            bits, r = [], x
            for i in range(qbits):
                k = qbits - 1 - i
                diff = wire(width + 1, f"{name}_diff_{i}", r - ((divisor << k) % (2 << width)))
                bits.append(~diff[width])
                r = wire(width, f"{name}_r_{i}", Mux(diff[width], r, diff[:width]))
            return bits, r

        # --- DC: the channel c = index / (H*W) (QC quotient bits) and the remainder
        # index % (H*W) ---------------------------------------------------------------------
        c_bits, c_rem = divide("dc", i_idx_reg, niw, plane, qc)
        dc_c = wire(ciw, "dc_c", Cat(*reversed(c_bits)) if c_bits else 0)
        dc_rem = wire(plw, "dc_rem", c_rem)  # < H*W <= 2**PLW (and 0 when H*W = 1)

        dc_eot_reg = reg(1, "dc_eot_reg", reset=False)
        dc_val_reg = reg(vw1, "dc_val_reg", reset=False)
        dc_c_reg = reg(ciw, "dc_c_reg", reset=False)
        dc_rem_reg = reg(plw, "dc_rem_reg", reset=False)
        with m.If(dc_ready):
            m.d.sync += [
                dc_eot_reg.eq(i_eot_reg),
                dc_val_reg.eq(i_val_reg),
                dc_c_reg.eq(dc_c),
                dc_rem_reg.eq(dc_rem),
            ]

        # --- D1: the row h = rem / W (QH quotient bits) and column w = rem % W ------------
        h_bits, h_rem = divide("d1", dc_rem_reg, plw, w, qh)
        d1_h = wire(hw_, "d1_h", Cat(*reversed(h_bits)) if h_bits else 0)
        d1_w = wire(ww_, "d1_w", h_rem)  # < W <= 2**WW_ (and 0 when W = 1)

        d1_eot_reg = reg(1, "d1_eot_reg", reset=False)
        d1_val_reg = reg(vw1, "d1_val_reg", reset=False)
        d1_c_reg = reg(ciw, "d1_c_reg", reset=False)
        d1_h_reg = reg(hw_, "d1_h_reg", reset=False)
        d1_w_reg = reg(ww_, "d1_w_reg", reset=False)
        with m.If(d1_ready):
            m.d.sync += [
                d1_eot_reg.eq(dc_eot_reg),
                d1_val_reg.eq(dc_val_reg),
                d1_c_reg.eq(dc_c_reg),
                d1_h_reg.eq(d1_h),
                d1_w_reg.eq(d1_w),
            ]

        # --- D2: valid rows y_lo .. y_hi and columns x_lo .. x_hi, kernel position (kh0, kw0)
        # of the first target (y_hi, x_hi) -----------------------------------------------------
        hp = wire(32, "hp", d1_h_reg + ph)
        wp = wire(32, "wp", d1_w_reg + pw)
        yh_raw = wire(32, "yh_raw", hp // sh)
        xh_raw = wire(32, "xh_raw", wp // sw)
        y_hi = wire(32, "y_hi", Mux(yh_raw > oh - 1, oh - 1, yh_raw))
        x_hi = wire(32, "x_hi", Mux(xh_raw > ow - 1, ow - 1, xh_raw))
        # lowest target: ceil((hp - KH + 1) / SH), or 0 (the numerator wraps in 32 bits)
        y_lo_num = wire(32, "y_lo_num", hp + sh - kh)
        x_lo_num = wire(32, "x_lo_num", wp + sw - kw)
        y_lo = wire(32, "y_lo", Mux(wire(32, "hp1", hp + 1) >= kh, y_lo_num // sh, 0))
        x_lo = wire(32, "x_lo", Mux(wire(32, "wp1", wp + 1) >= kw, x_lo_num // sw, 0))
        cnty_m1 = wire(32, "cnty_m1", y_hi - y_lo)
        cntx_m1 = wire(32, "cntx_m1", x_hi - x_lo)
        kh0 = wire(32, "kh0", hp - wire(32, "y_hi_sh", y_hi * sh))
        kw0 = wire(32, "kw0", wp - wire(32, "x_hi_sw", x_hi * sw))
        # the channel's first ROM word (group 0), so that N only adds the kernel position
        cbase = wire(32, "cbase", d1_c_reg * (kh * kw))

        d2_eot_reg = reg(1, "d2_eot_reg", reset=False)
        d2_empty_reg = reg(1, "d2_empty_reg", reset=False)
        d2_val_reg = reg(vw1, "d2_val_reg", reset=False)
        d2_cbase_reg = reg(raw, "d2_cbase_reg", reset=False)
        d2_yhi_reg = reg(yw, "d2_yhi_reg", reset=False)
        d2_cnty_m1_reg = reg(yw, "d2_cnty_m1_reg", reset=False)
        d2_xhi_reg = reg(xw, "d2_xhi_reg", reset=False)
        d2_cntx_m1_reg = reg(xw, "d2_cntx_m1_reg", reset=False)
        d2_kh0_reg = reg(khw, "d2_kh0_reg", reset=False)
        d2_kw0_reg = reg(kww, "d2_kw0_reg", reset=False)
        with m.If(d2_ready):
            m.d.sync += [
                d2_eot_reg.eq(d1_eot_reg),
                d2_empty_reg.eq((y_lo > y_hi) | (x_lo > x_hi)),
                d2_val_reg.eq(d1_val_reg),
                d2_cbase_reg.eq(cbase[:raw]),
                d2_yhi_reg.eq(y_hi[:yw]),
                d2_cnty_m1_reg.eq(cnty_m1[:yw]),
                d2_xhi_reg.eq(x_hi[:xw]),
                d2_cntx_m1_reg.eq(cntx_m1[:xw]),
                d2_kh0_reg.eq(kh0[:khw]),
                d2_kw0_reg.eq(kw0[:kww]),
            ]

        # --- N: the prefetched next event: first ROM word (g = 0, c, kh0, kw0), first bank
        # address (g = 0, y_hi, x_hi), row and column counts -----------------------------------
        addr0 = wire(32, "addr0", d2_cbase_reg + wire(32, "kh_kw", d2_kh0_reg * kw)
                     + d2_kw0_reg)
        base0 = wire(32, "base0", wire(32, "y_ow", d2_yhi_reg * ow) + d2_xhi_reg)

        n_eot_reg = reg(1, "n_eot_reg", reset=False)
        n_empty_reg = reg(1, "n_empty_reg", reset=False)
        n_val_reg = reg(vw1, "n_val_reg", reset=False)
        n_addr_reg = reg(raw, "n_addr_reg", reset=False)
        n_base_reg = reg(nw, "n_base_reg", reset=False)
        n_cntx_m1_reg = reg(xw, "n_cntx_m1_reg", reset=False)
        n_cnty_m1_reg = reg(yw, "n_cnty_m1_reg", reset=False)
        with m.If(n_ready):
            m.d.sync += [
                n_eot_reg.eq(d2_eot_reg),
                n_empty_reg.eq(d2_empty_reg),
                n_val_reg.eq(d2_val_reg),
                n_addr_reg.eq(addr0[:raw]),
                n_base_reg.eq(base0[:nw]),
                n_cntx_m1_reg.eq(d2_cntx_m1_reg),
                n_cnty_m1_reg.eq(d2_cnty_m1_reg),
            ]

        # --- Q: the sequencer. For its event it walks the channel groups, y (down), x (down);
        # the *_row and *_g registers hold the first slot of the current row and channel group.
        # A slot needs one ROM word (the group's weights at its kernel position) and one bank
        # address (shared by all lanes): a column step is +SW in the ROM and -1 in the bank ---
        q_eot_reg = reg(1, "q_eot_reg", reset=False)
        q_empty_reg = reg(1, "q_empty_reg", reset=False)
        q_xleft_reg = reg(xw, "q_xleft_reg", reset=False)
        q_yleft_reg = reg(yw, "q_yleft_reg", reset=False)
        q_gleft_reg = reg(gw, "q_gleft_reg", reset=False)
        q_val_reg = reg(vw1, "q_val_reg", reset=False)
        q_addr_reg = reg(raw, "q_addr_reg", reset=False)
        q_addr_row_reg = reg(raw, "q_addr_row_reg", reset=False)
        q_addr_g_reg = reg(raw, "q_addr_g_reg", reset=False)
        q_base_reg = reg(nw, "q_base_reg", reset=False)
        q_base_row_reg = reg(nw, "q_base_row_reg", reset=False)
        q_base_g_reg = reg(nw, "q_base_g_reg", reset=False)
        q_cntx_m1_reg = reg(xw, "q_cntx_m1_reg", reset=False)
        q_cnty_m1_reg = reg(yw, "q_cnty_m1_reg", reset=False)

        # members of the current slot (0 for an empty or EOT slot): every lane, or the last
        # group's M_LAST (constants: the channel groups do not depend on the event)
        # the current slot is an update (not the empty slot of an event without targets, nor
        # the EOT)
        q_upd = wire(1, "q_upd", ~q_eot_reg & ~q_empty_reg)
        next_addr_g = wire(raw, "next_addr_g", q_addr_g_reg + step_ga)
        next_addr_row = wire(raw, "next_addr_row", q_addr_row_reg + step_ya)
        next_base_g = wire(nw, "next_base_g", q_base_g_reg + step_gb)
        next_base_row = wire(nw, "next_base_row", q_base_row_reg - step_yb)

        # q_last_reg one cycle ahead: N's item is done after its first slot, or the slot after
        # this one is the event's last (xleft, yleft, gleft all 0 after the step)
        n_last = wire(1, "n_last", n_eot_reg | n_empty_reg
                      | ((n_cntx_m1_reg == 0) & (n_cnty_m1_reg == 0) & int(ng_m1 == 0)))
        q_last_x = wire(1, "q_last_x", (q_xleft_reg == 1) & (q_yleft_reg == 0)
                        & (q_gleft_reg == 0))
        q_last_y = wire(1, "q_last_y", (q_cntx_m1_reg == 0) & (q_yleft_reg == 1)
                        & (q_gleft_reg == 0))
        q_last_g = wire(1, "q_last_g", (q_cntx_m1_reg == 0) & (q_cnty_m1_reg == 0)
                        & (q_gleft_reg == 1))

        with m.If(q_take):
            m.d.sync += [
                q_eot_reg.eq(n_eot_reg),
                q_empty_reg.eq(n_empty_reg),
                q_val_reg.eq(n_val_reg),
                q_addr_reg.eq(n_addr_reg),
                q_addr_row_reg.eq(n_addr_reg),
                q_addr_g_reg.eq(n_addr_reg),
                q_base_reg.eq(n_base_reg),
                q_base_row_reg.eq(n_base_reg),
                q_base_g_reg.eq(n_base_reg),
                q_cntx_m1_reg.eq(n_cntx_m1_reg),
                q_cnty_m1_reg.eq(n_cnty_m1_reg),
                q_xleft_reg.eq(n_cntx_m1_reg),
                q_yleft_reg.eq(n_cnty_m1_reg),
                q_gleft_reg.eq(ng_m1),
                q_last_reg.eq(n_last),
            ]
        with m.Elif(q_step):
            with m.If(q_xleft_reg != 0):
                # next column of the row (x - 1, kw + SW)
                m.d.sync += [
                    q_last_reg.eq(q_last_x),
                    q_xleft_reg.eq(q_xleft_reg - 1),
                    q_addr_reg.eq(q_addr_reg + step_xa),
                    q_base_reg.eq(q_base_reg - 1),
                ]
            with m.Elif(q_yleft_reg != 0):
                # next row (y - 1, kh + SH)
                m.d.sync += [
                    q_last_reg.eq(q_last_y),
                    q_xleft_reg.eq(q_cntx_m1_reg),
                    q_yleft_reg.eq(q_yleft_reg - 1),
                    q_addr_reg.eq(next_addr_row),
                    q_addr_row_reg.eq(next_addr_row),
                    q_base_reg.eq(next_base_row),
                    q_base_row_reg.eq(next_base_row),
                ]
            with m.Else():
                # next channel group
                m.d.sync += [
                    q_last_reg.eq(q_last_g),
                    q_xleft_reg.eq(q_cntx_m1_reg),
                    q_yleft_reg.eq(q_cnty_m1_reg),
                    q_gleft_reg.eq(q_gleft_reg - 1),
                    q_addr_reg.eq(next_addr_g),
                    q_addr_row_reg.eq(next_addr_g),
                    q_addr_g_reg.eq(next_addr_g),
                    q_base_reg.eq(next_base_g),
                    q_base_row_reg.eq(next_base_g),
                    q_base_g_reg.eq(next_base_g),
                ]

        # --- R: the weight ROM read, and the slot's bank address and member count ----------
        m.submodules.wmem = wmem = Memory(shape=unsigned(self.word), depth=self.mem_depth,
                                          init=self.weight_init)
        rd = wmem.read_port()  # synchronous, with enable
        rom_q = Signal(self.word, name="rom_q")  # the read register (rd.data)
        m.d.comb += [
            rd.en.eq(adv & q_valid_reg),
            rd.addr.eq(q_addr_reg),
            rom_q.eq(rd.data),
        ]

        r_upd_reg = reg(1, "r_upd_reg")
        r_eot_reg = reg(1, "r_eot_reg")
        r_base_reg = reg(nw, "r_base_reg", reset=False)
        r_val_reg = reg(vw1, "r_val_reg", reset=False)
        with m.If(adv):
            m.d.sync += [
                r_upd_reg.eq(q_valid_reg & q_upd),
                r_eot_reg.eq(q_valid_reg & q_eot_reg),
                r_base_reg.eq(q_base_reg),
                r_val_reg.eq(q_val_reg),
            ]

        # --- P: the ROM word registered once more, so that the block-RAM output (with the
        # multiplexer over the RAMs of a large ROM) and the product with the value are in
        # different cycles ------------------------------------------------------------------
        p_rom_q = reg(self.word, "p_rom_q", reset=False)
        p_upd_reg = reg(1, "p_upd_reg")
        p_eot_reg = reg(1, "p_eot_reg")
        p_base_reg = reg(nw, "p_base_reg", reset=False)
        p_val_reg = reg(vw1, "p_val_reg", reset=False)
        with m.If(adv):
            m.d.sync += [
                p_rom_q.eq(rom_q),
                p_upd_reg.eq(r_upd_reg),
                p_eot_reg.eq(r_eot_reg),
                p_base_reg.eq(r_base_reg),
                p_val_reg.eq(r_val_reg),
            ]

        # --- O: the slot's row update: its bank address and, per lane j, field j of the ROM word
        # (times the value; 0 for a lane past COUT, whose ROM field is 0) ----------------------
        # ADDR_WIDTH >= clog2(ROWS) (checked), so ADDR_WIDTH >= NW: zero-extended, never cut
        r_addr = wire(aw, "r_addr", p_base_reg)
        o_addr_reg = reg(aw, "o_addr_reg", reset=False)
        o_w_reg = reg(lanes * uw, "o_w_reg", reset=False)
        for j in range(lanes):
            wf = wire(ww, f"wf_{j}", p_rom_q[j * ww:(j + 1) * ww])  # this lane's weight
            if self.value_width > 0:
                # exact signed product in UW + 1 bits; its top bit is a sign copy
                wx = wire(uw + 1, f"wx_{j}", wf.as_signed(), signed)
                vx = wire(uw + 1, f"vx_{j}", p_val_reg, signed)
                prod = wire(uw + 1, f"prod_{j}", wx * vx, signed)
                u = wire(uw, f"u_{j}", prod[:uw])
            else:
                u = wf
            with m.If(adv):
                m.d.sync += o_w_reg[j * uw:(j + 1) * uw].eq(u)

        with m.If(adv):
            m.d.sync += [o_addr_reg.eq(r_addr), o_pend_reg.eq(p_upd_reg),
                         o_eot_reg.eq(p_eot_reg)]

        m.d.comb += [
            self.upd_valid.eq(o_pend_reg),
            self.upd_addr.eq(o_addr_reg),
            self.upd_weight.as_value().eq(o_w_reg),
            self.sweep_valid.eq(o_eot_reg),
            self.busy.eq(eot_block_reg | i_valid_reg | dc_valid_reg | d1_valid_reg
                         | d2_valid_reg | n_valid_reg | q_valid_reg | r_eot_reg
                         | r_upd_reg | p_eot_reg | p_upd_reg | o_eot_reg | o_pend_reg),
        ]
        return m

