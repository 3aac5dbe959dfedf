"""IfArray: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_if_array.v`` (one population of N
IF neurons).

Storage (as in the Verilog)
  - The membranes live in ``lanes`` banks that split the channels: the population is
    ``CH = n // plane`` channels of ``plane`` neurons (neuron ``n = ch*plane + p``; ``plane`` =
    OH*OW of a convolution's output, 1 for a dense layer), channel ch is in bank
    ``ch % lanes``, neuron n at row ``(ch // lanes)*plane + p``
    (:func:`snngen.hwmodel.blocks.banks.lane_address`). The banks are the ``lanes`` fields of
    one :class:`~amaranth.lib.memory.Memory` of ``max(depth_used, 2)`` rows
    (``depth_used = ceil(CH / lanes)*plane``, :func:`~snngen.hwmodel.blocks.banks.bank_rows`)
    of ``lanes * v_width`` bits (field j: bank j), written a whole row at a time, with one
    synchronous read port with enable (not transparent: a read in the cycle of a write to the
    same row returns the old row), so that synthesis packs it into as few block RAMs as its
    bits allow.
  - The constant currents K live in one more Memory of ``max(depth_used, 2)`` rows of ``lanes``
    ``k_width``-bit fields, laid out as the banks (field j of row r: the K of the neuron at row
    r of bank j, 0 where there is none), initialised from ``k_init`` (the row words of
    :func:`snngen.hwmodel.blocks.banks.k_rows`; the Verilog loads them from K_INIT_FILE) and
    overwritten one row at a time through k_wr_*.

Contract (identical to the header of snn_if_array.v, cycle for cycle; every stream transfers on
a rising edge with valid & ready; every valid is a register or a function of registers and
never depends on any ready)
  - Reset (the ``sync`` domain's, synchronous, active high): makes the array idle (busy 0,
    ``m.valid`` 0, no update in flight) but does NOT touch the membranes nor K. K keeps its
    k_wr writes across a reset; a k_wr in a reset cycle is ignored.
  - Idle (busy = 0): ``clear_ready = 1``; ``sweep_ready = ~clear_valid``;
    ``upd_ready = ~clear_valid & ~sweep_valid`` (a clear wins over a sweep, both over
    updates; these readies depend on the other streams' valids only). Not idle: all readies 0.
  - Clear: accepted at edge e, writes ``v0`` to row a of every bank at edge e + 1 + a,
    a = 0 .. depth_used - 1; idle again right after edge e + depth_used: a clear takes exactly
    ``depth_used = ceil(CH/lanes)*plane`` cycles. K is unchanged.
  - Update (a whole row, while idle): accepted at edge e, reads row ``upd_addr`` at e and
    writes it back at e + 1 with ``upd_weight[j]`` (signed ``w_width`` bits) added to lane j's
    membrane modulo 2**v_width, every lane at once (latency 1). The write made at the same
    edge e is forwarded, so updates of the same row on consecutive cycles are exact; one row
    update per cycle. Lane j's neuron in row ``upd_addr`` is
    ``((upd_addr // plane)*lanes + j)*plane + upd_addr % plane``
    (:func:`snngen.hwmodel.blocks.banks.neuron_at`); a lane that holds no neuron in that row
    (the last channel group) must get 0.
  - k_wr_en: K row ``k_wr_row`` <= ``k_wr_data`` (field j: the K of the neuron at that row of
    bank j) at the edge, only while idle (ignored while busy and in reset). A K write at the
    edge a sweep is accepted is seen by that sweep.
  - Sweep: accepted at edge e (while idle); the bank rows r = 0 .. depth_used - 1 in ascending
    order, one row (every lane: ``lanes`` neurons) per advance, through a pipeline of row read
    (every bank and the K row at one address), the arithmetic of every lane with its
    write-back, and a spike buffer: ``v = v + K[n]``; if spiking and ``v >= threshold``: spike,
    ``v -= threshold``; if v_min is not None: ``v = max(v, v_min)`` (golden ``if_update``).
    Every spike is one event on ``m`` (``index = n``, ``eot = 0``) in the order of its
    (row, lane) (:func:`snngen.hwmodel.blocks.banks.emission_order`; ascending n for
    ``plane = 1``), then one event with ``eot = 1`` and ``index = 0``. The spike buffer takes
    a row's spike mask and hands its spikes to the output register one per cycle, lowest lane
    first; the row pipeline advances in the cycles where the buffer is empty afterwards (it
    holds at most one spike, which moves on) and the output register is free, not
    (``m.valid & ~m.ready``). The EOT event transfers at edge e + sum_r max(1, s_r) + 4 + S
    (s_r: the spikes of row r; S: the cycles after e with ``m.valid & ~m.ready``); busy is high
    from the edge after e up to and including the cycle of the EOT transfer. The sweep counts
    the position in the channel, the index of the row's lane-0 neuron and the last channel
    group (whose lanes past the last channel hold no neuron: never spiking; their words are
    written with values nobody reads), never dividing an index.
  - Debug read (tests, while idle): ``dbg_rd_en`` with ``dbg_rd_index`` at edge e puts that
    neuron's membrane on ``dbg_rd_data`` after e (held until the read port is used again; its
    bank and row come from a division by the constant ``plane``, only on this path). Not in a
    cycle where an update is accepted, nor in the cycle right after an update of the same row
    was accepted. Undefined while busy.

Equivalence with the Verilog. The registers and memories carry the Verilog's names (its
``mem`` is ``bank``), so Yosys
can match them one to one: tests/test_hw_if_array.py proves (equiv_induct) that the converted
module and snn_if_array.v hold the same value in every register, memory word and output in every
cycle, given the same state at the start. The only difference is the power-up state, which the
contract never reads: Amaranth starts the registers and the banks at 0, the Verilog at x (the
membranes are meaningless before a clear, the control registers before a reset).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ._ports import debug_members, debug_ports, event_layout, event_ports

__all__ = ["IfArray"]

_S_IDLE, _S_CLEAR, _S_SWEEP = 0, 1, 2


def _clog2(x: int) -> int:
    """Verilog's $clog2 (0 for x <= 1)."""
    return (x - 1).bit_length() if x > 1 else 0


def _fits_signed(value: int, width: int) -> bool:
    return -(1 << (width - 1)) <= value < (1 << (width - 1))


def _depth_used(n: int, lanes: int, plane: int) -> int:
    """DEPTH_USED: the bank rows in use, ceil(CH/LANES)*PLANE with CH = N/PLANE (also a clear's
    cycles; :func:`snngen.hwmodel.blocks.banks.bank_rows`)."""
    return -(-(n // plane) // lanes) * plane


def _error(rule: str, **values) -> ValueError:
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ValueError(f"snn_if_array_ERROR_{rule}: {got}")


def _check(n, lanes, plane, w_width, v_width, k_width, threshold, v0, v_min, spiking, k_init,
           index_width, addr_width) -> tuple[int, int, list[int]]:
    """The Verilog's parameter checks, in its order, with its rule words; returns the index
    and address widths (defaults filled in) and the K row words as a list."""
    if not isinstance(n, int) or n < 2:
        raise _error("N_must_be_at_least_2", n=n)
    if not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
        raise _error("LANES_must_be_a_power_of_two", lanes=lanes)
    if not isinstance(plane, int) or plane < 1 or n % plane:
        raise _error("PLANE_must_be_positive_and_divide_N", plane=plane, n=n)
    if not isinstance(v_width, int) or not 2 <= v_width <= 32:
        raise _error("V_WIDTH_must_be_2_to_32", v_width=v_width)
    if not isinstance(w_width, int) or not 1 <= w_width <= v_width:
        raise _error("W_WIDTH_must_be_1_to_V_WIDTH", w_width=w_width, v_width=v_width)
    if not isinstance(k_width, int) or not 1 <= k_width <= 32:
        raise _error("K_WIDTH_must_be_1_to_32", k_width=k_width)
    if not isinstance(threshold, int) or threshold < 1 or threshold >> (v_width - 1):
        raise _error("THRESHOLD_must_be_positive_and_fit_V_WIDTH",
                     threshold=threshold, v_width=v_width)
    if not isinstance(v0, int) or not _fits_signed(v0, v_width):
        raise _error("V0_must_fit_V_WIDTH", v0=v0, v_width=v_width)
    if v_min is not None and (not isinstance(v_min, int) or not _fits_signed(v_min, v_width)):
        raise _error("VMIN_must_fit_V_WIDTH", v_min=v_min, v_width=v_width)
    if spiking not in (0, 1):  # True/False are 1/0
        raise _error("SPIKING_must_be_0_or_1", spiking=spiking)
    kaw = _clog2(n)
    if index_width is None:
        index_width = kaw
    if not isinstance(index_width, int) or not kaw <= index_width <= 32:
        raise _error("INDEX_WIDTH_must_be_clog2_N_to_32", index_width=index_width, n=n)
    depth_used = _depth_used(n, lanes, plane)
    mem_aw = max(_clog2(depth_used), 1)
    if addr_width is None:
        addr_width = mem_aw
    if not isinstance(addr_width, int) or addr_width < mem_aw:
        raise _error("ADDR_WIDTH_too_small_for_the_bank_rows",
                     addr_width=addr_width, n=n, lanes=lanes, plane=plane)
    # numpy integers are welcome (the rows usually come from an int64 or uint64 array); the
    # words are the unsigned row words of banks.k_rows, as K_INIT_FILE holds them
    k_init = [int(k) if isinstance(k, numbers.Integral) else k for k in k_init]
    if len(k_init) != depth_used or not all(
            isinstance(k, int) and 0 <= k < 1 << (lanes * k_width) for k in k_init):
        raise _error("K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits",
                     k_init=k_init if len(k_init) <= 8 else f"<{len(k_init)} words>",
                     depth_used=depth_used, lanes=lanes, k_width=k_width)
    return index_width, addr_width, k_init


class IfArray(wiring.Component):
    """N integrate-and-fire neurons in ``lanes`` RAM banks, equivalent to snn_if_array.v.

    Parameters (Verilog parameter in brackets)
    ----------
    n : int [N]
        Neurons, >= 2.
    lanes : int [LANES]
        RAM banks / update lanes, a power of two.
    plane : int [PLANE]
        Neurons per channel, >= 1, divides n (the banks split the ``n // plane`` channels);
        default 1 (a dense layer: neuron n in bank ``n % lanes`` at row ``n // lanes``).
    w_width : int [W_WIDTH]
        Width of a signed weight on ``upd_weight``, 1 .. v_width.
    v_width : int [V_WIDTH]
        Width of a signed membrane, 2 .. 32.
    k_width : int [K_WIDTH]
        Width of a signed constant current K, 1 .. 32.
    threshold : int [THRESHOLD]
        Firing threshold, >= 1 and < 2**(v_width - 1).
    v0 : int [V0]
        Membrane written by a clear, fits v_width signed bits.
    v_min : int or None [HAS_VMIN, VMIN]
        Clamp value (fits v_width signed bits), or None for no clamp.
    spiking : bool or 0/1 [SPIKING]
        True: spiking population; False: membrane readout (never fires).
    k_init : sequence of depth_used ints [K_INIT_FILE]
        The initial K memory, one unsigned ``lanes * k_width``-bit word per bank row
        (``depth_used = ceil(n / plane / lanes) * plane`` of them), field j (bits
        ``j*k_width`` up) the two's complement K of the neuron at that row of bank j:
        :func:`snngen.hwmodel.blocks.banks.k_rows` of the n K values.
    index_width : int [INDEX_WIDTH]
        Width of neuron indices (``m.payload.index``, ``dbg_rd_index``), clog2(n) .. 32;
        default clog2(n).
    addr_width : int [ADDR_WIDTH]
        Width of a bank row address (``upd_addr``, ``k_wr_row``),
        >= max(clog2(ceil(n / plane / lanes) * plane), 1) (the default).

    Ports (every one keeps its Verilog name; the vectors are packed as in the Verilog, lane j
    in field j)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    upd_valid : In(1), upd_ready : Out(1), upd_addr : In(addr_width)
    upd_weight : In(ArrayLayout(signed(w_width), lanes))
    k_wr_en : In(1), k_wr_row : In(addr_width),
    k_wr_data : In(ArrayLayout(signed(k_width), lanes)) (a K row)
    sweep_valid : In(1), sweep_ready : Out(1)
    m : Out(stream.Signature(StructLayout({"index": index_width, "eot": 1})))
        [m_valid, m_ready, m_index, m_eot]
    busy : Out(1)
    dbg_rd_en : In(1), dbg_rd_index : In(index_width), dbg_rd_data : Out(signed(v_width))

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_if_array_ERROR_<rule>``) for a bad parameter; ``k_init`` has its own rule
    (``snn_if_array_ERROR_K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits``: the
    wrong number of words, or a word that is negative or wider) in place of the Verilog's
    K_INIT_FILE one.
    """

    VERILOG_NAME = "snn_if_array"

    def __init__(self, n: int, lanes: int, w_width: int, v_width: int, k_width: int,
                 threshold: int, v0: int, v_min: int | None, spiking: bool | int,
                 k_init: Sequence[int], index_width: int | None = None,
                 addr_width: int | None = None, plane: int = 1) -> None:
        # numpy integers are welcome (the parameters usually come from numpy arrays)
        (n, lanes, plane, w_width, v_width, k_width, threshold, v0, v_min, index_width,
         addr_width) = (
            int(x) if isinstance(x, numbers.Integral) else x
            for x in (n, lanes, plane, w_width, v_width, k_width, threshold, v0, v_min,
                      index_width, addr_width))
        try:
            index_width, addr_width, k_init = _check(
                n, lanes, plane, w_width, v_width, k_width, threshold, v0, v_min, spiking,
                k_init, index_width, addr_width)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        depth_used = _depth_used(n, lanes, plane)
        mem_aw = max(_clog2(depth_used), 1)
        self.n = n
        self.lanes = lanes
        self.plane = plane
        self.w_width = w_width
        self.v_width = v_width
        self.k_width = k_width
        self.threshold = threshold
        self.v0 = v0
        self.v_min = v_min
        self.spiking = bool(spiking)
        self.k_init = k_init
        self.index_width = index_width
        self.addr_width = addr_width
        # derived, named as in the Verilog
        self.ch = ch = n // plane  # CH: channels
        self.depth_used = depth_used  # DEPTH_USED: bank rows in use, ceil(CH/LANES)*PLANE
        self.pw = max(_clog2(plane), 1)  # PW: plane position bits
        self.mem_aw = mem_aw  # MEM_AW: row address bits
        self.depth = max(depth_used, 2)  # DEPTH: bank (and K memory) size
        self.lane_w = max(_clog2(lanes), 1)  # LANE_W: lane number bits
        self.log_lanes = _clog2(lanes)  # LOG_LANES
        self.sw = max(v_width, k_width) + 1  # SW: sweep arithmetic width, v + K never wraps
        # LAST_G_ROW0: the first row of the last channel group; LAST_LANES: the lanes that hold
        # a neuron in its rows; STEP_G_IDX: the index step from the last row of a group to the
        # first of the next (lane 0's channel moves on by LANES), modulo 2**INDEX_WIDTH
        self.last_g_row0 = (ch - 1) // lanes * plane
        self.last_lanes = (1 << (ch - (ch - 1) // lanes * lanes)) - 1
        self.step_g_idx = (lanes * plane - plane + 1) & ((1 << index_width) - 1)

        super().__init__({
            "clear_valid": In(1),
            "clear_ready": Out(1),
            "upd_valid": In(1),
            "upd_ready": Out(1),
            "upd_addr": In(addr_width),
            "upd_weight": In(data.ArrayLayout(signed(w_width), lanes)),
            "k_wr_en": In(1),
            "k_wr_row": In(addr_width),
            "k_wr_data": In(data.ArrayLayout(signed(k_width), lanes)),
            "sweep_valid": In(1),
            "sweep_ready": Out(1),
            "m": Out(stream.Signature(event_layout(index_width))),
            "busy": Out(1),
            **debug_members(index_width, v_width),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_if_array.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "clear_valid": (self.clear_valid, "i"),
            "clear_ready": (self.clear_ready, "o"),
            "upd_valid": (self.upd_valid, "i"),
            "upd_ready": (self.upd_ready, "o"),
            "upd_addr": (self.upd_addr, "i"),
            "upd_weight": (self.upd_weight.as_value(), "i"),
            "k_wr_en": (self.k_wr_en, "i"),
            "k_wr_row": (self.k_wr_row, "i"),
            "k_wr_data": (self.k_wr_data.as_value(), "i"),
            "sweep_valid": (self.sweep_valid, "i"),
            "sweep_ready": (self.sweep_ready, "o"),
            **event_ports("m", self.m, "o"),
            "busy": (self.busy, "o"),
            **debug_ports(self),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes, plane, kw = self.lanes, self.plane, self.k_width
        vw, iw, mem_aw, lane_w, sw = (self.v_width, self.index_width, self.mem_aw, self.lane_w,
                                      self.sw)
        last_row = self.depth_used - 1
        last_p = plane - 1  # fits PW bits
        all_lanes = (1 << lanes) - 1

        # --- control ---------------------------------------------------------------------
        state_reg = Signal(2, init=_S_IDLE)
        idle = Signal()
        clearing = Signal()
        sweeping = Signal()
        clear_fire = Signal()
        sweep_fire = Signal()
        upd_open = Signal()
        m.d.comb += [
            idle.eq(state_reg == _S_IDLE),
            clearing.eq(state_reg == _S_CLEAR),
            sweeping.eq(state_reg == _S_SWEEP),
            clear_fire.eq(self.clear_valid & idle),
            sweep_fire.eq(self.sweep_valid & idle & ~self.clear_valid),
            upd_open.eq(idle & ~self.clear_valid & ~self.sweep_valid),
        ]

        # clear: row being written
        clr_row_reg = Signal(mem_aw)

        # output stage (event register)
        m_valid_reg = Signal()
        m_eot_reg = Signal()
        m_index_reg = Signal(iw, reset_less=True)

        # the output register is free (empty, or its event leaves now)
        o_free = Signal()
        m_fire = Signal()
        m.d.comb += [
            o_free.eq(~m_valid_reg | self.m.ready),
            m_fire.eq(m_valid_reg & self.m.ready),
        ]

        # the spike buffer: the spikes of the last row (a lane mask, lowest lane first) and,
        # after the last row, the EOT; o_idx_reg is the neuron index of the row's lane 0
        o_mask_reg = Signal(lanes)
        o_eot_reg = Signal()
        o_idx_reg = Signal(iw, reset_less=True)
        # the buffer holds at most one item (a spike or the EOT), which leaves when o_free
        o_single = Signal()
        # the row pipeline (A -> B -> buffer) advances when the buffer is empty after this
        # cycle; in a stall cycle (m.valid & ~m.ready) nothing moves
        adv = Signal()
        m.d.comb += [
            o_single.eq((o_mask_reg & (o_mask_reg - 1)[:lanes]) == 0),
            adv.eq(o_free & o_single),
        ]

        # sweep stage A: the next row to issue (all banks, one address), then the EOT slot
        a_run_reg = Signal()
        a_eot_reg = Signal()
        a_row_reg = Signal(mem_aw, reset_less=True)
        # the position in the channel, the index of the row's lane-0 neuron, the last channel
        # group (counters: no division of the index)
        a_p_reg = Signal(self.pw, reset_less=True)
        a_idx_reg = Signal(iw, reset_less=True)
        a_last_g_reg = Signal(reset_less=True)
        # sweep stage B: the row whose bank words and K row were read at the last advance
        b_valid_reg = Signal()
        b_eot_reg = Signal(reset_less=True)
        b_idx_reg = Signal(iw, reset_less=True)
        b_last_g_reg = Signal(reset_less=True)
        b_row_reg = Signal(mem_aw, reset_less=True)

        a_issue = Signal()
        a_issue_row = Signal()
        b_go = Signal()
        b_row_go = Signal()
        # the lanes that hold a neuron in B's row: every lane, or the last channel group's
        b_lanes = Signal(lanes)
        m.d.comb += [
            a_issue.eq(sweeping & a_run_reg & adv),
            a_issue_row.eq(a_issue & ~a_eot_reg),
            b_go.eq(sweeping & b_valid_reg & adv),
            b_row_go.eq(b_go & ~b_eot_reg),
            b_lanes.eq(Mux(b_last_g_reg, self.last_lanes, all_lanes)),
        ]

        # --- constant currents K: one row of LANES fields per bank row, written a row at a time
        m.submodules.kmem = kmem = Memory(shape=unsigned(lanes * kw), depth=self.depth,
                                          init=self.k_init)
        k_wr = kmem.write_port()
        k_rd = kmem.read_port()
        k_q = Signal(lanes * kw)  # the Verilog's read register k_q
        m.d.comb += k_q.eq(k_rd.data)
        m.d.comb += [
            # ignored while busy and in reset (the only memory write gated by the reset)
            k_wr.en.eq(self.k_wr_en & idle & ~ResetSignal("sync")),
            k_wr.addr.eq(self.k_wr_row[:mem_aw]),
            k_wr.data.eq(self.k_wr_data.as_value()),
            k_rd.en.eq(a_issue_row),
            k_rd.addr.eq(a_row_reg),
        ]

        # --- the banks: one memory of LANES-field rows ------------------------------------
        m.submodules.bank = bank = Memory(shape=unsigned(lanes * vw), depth=self.depth, init=[])
        wr, rd = bank.write_port(), bank.read_port()
        rd_q = Signal(lanes * vw)  # the Verilog's read register rd_q
        m.d.comb += rd_q.eq(rd.data)
        bank_q = [rd_q.word_select(j, vw) for j in range(lanes)]

        # --- the spike buffer's next spike: the lowest lane k of the mask ------------------
        # neuron o_idx + k*PLANE (lane k's channel is k on from lane 0's); o_next_bit is that
        # lane's bit, both 0 for an empty mask
        o_next_off = Signal(iw)
        o_next_bit = Signal(lanes)
        m.d.comb += o_next_bit.eq((o_mask_reg & -o_mask_reg)[:lanes])
        with m.Switch(o_mask_reg):
            for k in range(lanes):
                # a pattern per lowest set bit k: "--..-1" followed by k zeros
                with m.Case("-" * (lanes - 1 - k) + "1" + "0" * k):
                    m.d.comb += o_next_off.eq((k * plane) & ((1 << iw) - 1))

        # --- debug read: lane and row of dbg_rd_index --------------------------------------
        # channel ch = index // plane at position p = index % plane: lane ch % lanes, row
        # (ch // lanes)*plane + p, cut to MEM_AW / LANE_W bits (the rest is 0 for every index
        # < N). A constant division, only on this debug path; the index is unsigned, so it is
        # the Verilog's 32-bit one (the quotient is exact in either width, the row is taken
        # modulo 2**MEM_AW in both).
        dbg_ch = Signal(iw)
        dbg_row = Signal(mem_aw)
        dbg_lane = Signal(lane_w)
        dbg_go = Signal()
        dbg_lane_reg = Signal(lane_w, reset_less=True)
        m.d.comb += [
            dbg_ch.eq(self.dbg_rd_index // plane),
            dbg_row.eq(((dbg_ch >> self.log_lanes) * plane
                        + self.dbg_rd_index % plane)[:mem_aw]),
            dbg_lane.eq((dbg_ch & (lanes - 1))[:lane_w]),
            dbg_go.eq(self.dbg_rd_en & idle),
            self.dbg_rd_data.eq(Array(bank_q)[dbg_lane_reg]),
        ]
        with m.If(dbg_go):
            m.d.sync += dbg_lane_reg.eq(dbg_lane)

        # --- per lane: the sweep arithmetic of stage B and the update pipeline --------------
        b_spikes = []  # stage B's spikes, lane j in bit j
        dw = sw + 1  # v + K - THRESHOLD and v + K - v_min never wrap in dw bits

        def csa_sum(a, b, c: int):
            """a + b + c modulo 2**dw (a, b: dw-bit values, c: an int) through one carry-save
            layer and one adder, as the Verilog's csa_sum."""
            c = Const(c % (1 << dw), dw)
            a, b = a.as_unsigned(), b.as_unsigned()
            carry = ((a & b) | (a & c) | (b & c))[:dw - 1]
            return ((a ^ b ^ c) + Cat(Const(0, 1), carry))[:dw]

        # update stage 1: accepted at the last edge, read issued at that edge
        s1_valid = Signal(name="s1_valid_reg")
        s1_row = Signal(mem_aw, reset_less=True, name="s1_row_reg")
        s1_w = Signal(lanes * vw, reset_less=True, name="s1_w_reg")
        # the update write made at the last edge (forwarding source), and whether the update in
        # stage 1 reads the row it wrote: decided when both are accepted (a register, so the
        # adders' input multiplexer does not wait for a row comparison)
        fwd = Signal(name="fwd_reg")
        wb_data = Signal(lanes * vw, reset_less=True, name="wb_data_reg")
        upd_fire = Signal()
        u_row = Signal(mem_aw)
        s1_old = Signal(lanes * vw)
        m.d.comb += [
            upd_fire.eq(self.upd_valid & upd_open),
            u_row.eq(self.upd_addr[:mem_aw]),
            # forward the write made at the edge that also issued this update's read
            s1_old.eq(Mux(fwd, wb_data, rd_q)),
        ]
        sweep_row = []  # the sweep's new membranes, lane j in field j
        s1_sum = []  # the update sums, lane j in field j
        u_w_ext = []  # the weights, sign-extended to V_WIDTH
        for j in range(lanes):
            # sweep arithmetic (stage B) of this lane: v + K, compare, subtract, clamp, in SW
            # bits
            # (v + K - THRESHOLD is formed beside v + K, from a carry-save layer and one adder,
            # and the comparison is its sign: compare, subtract and clamp are not in series)
            b_sum = Signal(signed(sw), name=f"b_sum_{j}")
            b_x = Signal(signed(dw), name=f"b_x_{j}")
            b_y = Signal(signed(dw), name=f"b_y_{j}")
            b_diff = Signal(dw, name=f"b_diff_{j}")
            b_spike = Signal(name=f"b_spike_{j}")
            b_sub = Signal(signed(sw), name=f"b_sub_{j}")
            b_new = Signal(signed(sw), name=f"b_new_{j}")
            m.d.comb += [
                b_sum.eq(bank_q[j].as_signed() + k_q.word_select(j, kw).as_signed()),
                b_x.eq(bank_q[j].as_signed()),
                b_y.eq(k_q.word_select(j, kw).as_signed()),
                b_diff.eq(csa_sum(b_x, b_y, -self.threshold)),
                b_spike.eq(~b_diff[dw - 1] if self.spiking else 0),
                b_sub.eq(Mux(b_spike, b_diff[:sw].as_signed(), b_sum)),
            ]
            if self.v_min is not None and self.v_min <= 0:
                # a spike leaves v - THRESHOLD >= 0 >= v_min: only v + K can fall below
                # v_min, and whether it does is the sign of v + K - v_min, formed beside
                b_low = Signal(dw, name=f"b_low_{j}")
                m.d.comb += [
                    b_low.eq(csa_sum(b_x, b_y, -self.v_min)),
                    b_new.eq(Mux(~b_spike & b_low[dw - 1], self.v_min, b_sub)),
                ]
            elif self.v_min is not None:
                m.d.comb += b_new.eq(Mux(b_sub < self.v_min, self.v_min, b_sub))
            else:
                m.d.comb += b_new.eq(b_sub)
            sweep_row.append(b_new[:vw])  # the result fits V_WIDTH (semantics.md §7)
            # a lane without a neuron in this row (the last channel group) never spikes
            b_spikes.append(b_spike & b_lanes[j])
            # the update: this lane's weight, sign-extended, added to its field of the row
            w_ext = Signal(vw, name=f"u_w_ext_{j}")
            m.d.comb += w_ext.eq(self.upd_weight[j])
            u_w_ext.append(w_ext)
            s1_sum.append((s1_old.word_select(j, vw) + s1_w.word_select(j, vw))[:vw])

        # write port: clear, else sweep write-back, else update write-back (never two at once);
        # a whole row each (a lane without a neuron in the swept row takes a value nobody reads)
        m.d.comb += [wr.en.eq(0), wr.addr.eq(s1_row), wr.data.eq(Cat(*s1_sum))]
        with m.If(clearing):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(clr_row_reg),
                         wr.data.eq(Cat(*[Const(self.v0 % (1 << vw), vw)] * lanes))]
        with m.Elif(b_row_go):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(b_row_reg), wr.data.eq(Cat(*sweep_row))]
        with m.Elif(s1_valid):
            m.d.comb += wr.en.eq(1)

        # read port: sweep issue, else update, else debug
        m.d.comb += [
            rd.en.eq(a_issue_row | upd_fire | dbg_go),
            rd.addr.eq(Mux(sweeping, a_row_reg, Mux(upd_fire, u_row, dbg_row))),
        ]

        m.d.sync += [
            s1_row.eq(u_row),
            s1_w.eq(Cat(*u_w_ext)),
            wb_data.eq(Cat(*s1_sum)),
            s1_valid.eq(upd_fire),
            # the write of this edge (stage 1's update) lands on the row read now
            fwd.eq(s1_valid & (s1_row == u_row)),
        ]
        m.d.comb += self.upd_ready.eq(upd_open)

        # --- state machine, sweep pipeline, spike buffer and output stage ------------------
        with m.Switch(state_reg):
            with m.Case(_S_IDLE):
                with m.If(clear_fire):
                    m.d.sync += [state_reg.eq(_S_CLEAR), clr_row_reg.eq(0)]
                with m.Elif(sweep_fire):
                    m.d.sync += [state_reg.eq(_S_SWEEP), a_run_reg.eq(1), a_eot_reg.eq(0),
                                 b_valid_reg.eq(0)]
            with m.Case(_S_CLEAR):
                m.d.sync += clr_row_reg.eq(clr_row_reg + 1)
                with m.If(clr_row_reg == last_row):
                    m.d.sync += state_reg.eq(_S_IDLE)
            with m.Default():
                # the output register takes the buffer's next item (a spike, else the EOT)
                with m.If(o_free):
                    m.d.sync += [
                        m_valid_reg.eq((o_mask_reg != 0) | o_eot_reg),
                        m_eot_reg.eq((o_mask_reg == 0) & o_eot_reg),
                    ]
                    with m.If(o_mask_reg != 0):
                        m.d.sync += o_mask_reg.eq(o_mask_reg & ~o_next_bit)
                    with m.Else():
                        m.d.sync += o_eot_reg.eq(0)
                with m.If(adv):
                    # stage A -> stage B
                    m.d.sync += b_valid_reg.eq(a_run_reg)
                    with m.If(a_run_reg):
                        with m.If(a_eot_reg):
                            m.d.sync += a_run_reg.eq(0)
                        with m.Elif(a_row_reg == last_row):
                            m.d.sync += a_eot_reg.eq(1)
                    # stage B -> the buffer (empty after this cycle; these override the
                    # buffer's own update above, as the Verilog's later assignments do)
                    m.d.sync += [
                        o_mask_reg.eq(Mux(b_valid_reg & ~b_eot_reg, Cat(*b_spikes), 0)),
                        o_eot_reg.eq(b_valid_reg & b_eot_reg),
                    ]
                with m.If(m_fire & m_eot_reg):
                    m.d.sync += state_reg.eq(_S_IDLE)

        # datapath registers of the sweep (no reset; like the Verilog's, they are not gated by
        # the state: adv and o_free are not)
        with m.If(sweep_fire):
            m.d.sync += [a_row_reg.eq(0), a_p_reg.eq(0), a_idx_reg.eq(0),
                         a_last_g_reg.eq(self.last_g_row0 == 0)]
        with m.Elif(a_issue_row):
            m.d.sync += a_row_reg.eq(a_row_reg + 1)
            with m.If(a_p_reg != last_p):
                # next position of the channel group
                m.d.sync += [a_p_reg.eq(a_p_reg + 1), a_idx_reg.eq(a_idx_reg + 1)]
            with m.Else():
                # first position of the next channel group: its lane-0 channel is LANES on
                # (the row compare is in MEM_AW bits, as the Verilog's: past the last row it
                # may wrap, and the flag is then never used)
                m.d.sync += [
                    a_p_reg.eq(0),
                    a_idx_reg.eq(a_idx_reg + self.step_g_idx),
                    a_last_g_reg.eq((a_row_reg + 1)[:mem_aw] == self.last_g_row0),
                ]
        with m.If(a_issue):
            m.d.sync += [b_eot_reg.eq(a_eot_reg), b_idx_reg.eq(a_idx_reg),
                         b_last_g_reg.eq(a_last_g_reg), b_row_reg.eq(a_row_reg)]
        with m.If(adv & b_valid_reg):
            m.d.sync += o_idx_reg.eq(b_idx_reg)
        with m.If(o_free):
            m.d.sync += m_index_reg.eq(Mux(o_mask_reg != 0, o_idx_reg + o_next_off, 0))

        m.d.comb += [
            self.clear_ready.eq(idle),
            self.sweep_ready.eq(idle & ~self.clear_valid),
            self.busy.eq(~idle),
            self.m.valid.eq(m_valid_reg),
            self.m.payload.eot.eq(m_eot_reg),
            self.m.payload.index.eq(m_index_reg),
        ]
        return m
