"""EventFifo: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_fifo.v`` (synchronous FIFO for
spike events).

Contract (identical to the header of snn_fifo.v, cycle for cycle)
  - Transfers: a word moves on a rising edge where ``valid & ready`` on that stream.
    ``m.valid`` never depends on ``m.ready`` and ``s.ready`` never depends on ``s.valid``: both
    are registers, so there is no combinational path through the FIFO (``s.valid -> m.valid``,
    ``m.ready -> s.ready``, ``s.payload -> m.payload`` all cross a register).
  - Capacity: exactly ``depth`` words. ``count`` is the occupancy, 0..depth, and after reset
    ``m.valid == (count != 0)`` and ``s.ready == (count != depth)`` in every cycle, except that
    ``s.ready`` stays low in the first cycle after ``rst`` falls.
  - Latency: one cycle. A word accepted at edge t is on ``m`` right after edge t when no older
    word is left in the FIFO after t; otherwise right after the edge that pops the word ahead
    of it (no bubbles).
  - Throughput: while 0 < count < depth, one word in and one out in the same cycle. Full:
    ``m`` may pop but ``s.ready`` is low in that cycle (the pop frees the slot for the next
    cycle). A consumer that is always ready never lets the FIFO fill: one word per cycle.
  - Reset: the ``sync`` domain's reset (synchronous, active high) empties the FIFO (count 0,
    ``m.valid`` 0, ``s.ready`` 0); ``s.ready`` rises one cycle after reset falls. Data registers
    and the RAM are not reset: ``m.payload`` is undefined while ``m.valid`` is low.

Implementation (the same registers as the Verilog): an :class:`amaranth.lib.memory.Memory` of
``depth`` words with one write port and one synchronous read port with enable (the read
register ``ram_q``; read and write never address the same word in the same cycle, so the
port is not transparent), a bypass register ``byp_q`` loaded straight from ``s`` when the RAM
holds nothing older, and ``m.payload`` selecting between the two. Each pointer is an address that
wraps from ``depth - 1`` to 0 and a wrap bit toggled there (``depth`` need not be a power of
two). The registers carry the Verilog's names (``wr_addr_reg``, ``count_reg``, ``ram_q``, ...), so
that
Yosys matches them one to one: tests/test_hw_fifo.py proves (equiv_induct) that the converted
module and snn_fifo.v hold the same value in every register, memory word and output in every
cycle, given the same state at the start (Amaranth powers up at 0, the Verilog at x; the
contract needs a reset first).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["EventFifo"]


class EventFifo(wiring.Component):
    """Synchronous FIFO of ``depth`` words of ``data_width`` bits, equivalent to snn_fifo.v.

    Parameters
    ----------
    data_width : int
        Width of a word (``DATA_WIDTH``, >= 1).
    depth : int
        Capacity in words (``DEPTH``, >= 2).

    Ports (``verilog_ports()`` names in brackets)
    -----
    s : ``In(stream.Signature(data_width))`` [s_data, s_valid, s_ready]
    m : ``Out(stream.Signature(data_width))`` [m_data, m_valid, m_ready]
    count : ``Out(clog2(depth) + 1)`` [count], the occupancy 0..depth.

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_fifo_ERROR_<rule>``) for a bad parameter.
    """

    VERILOG_NAME = "snn_fifo"

    def __init__(self, data_width: int, depth: int) -> None:
        rule = None
        if not isinstance(depth, int) or depth < 2:
            rule = f"DEPTH_must_be_at_least_2: depth={depth!r}"
        elif not isinstance(data_width, int) or data_width < 1:
            rule = f"DATA_WIDTH_must_be_at_least_1: data_width={data_width!r}"
        if rule is not None:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise ValueError(f"snn_fifo_ERROR_{rule}")
        self.data_width = data_width
        self.depth = depth
        self.addr_width = (depth - 1).bit_length()  # $clog2(DEPTH)
        super().__init__({
            "s": In(stream.Signature(data_width)),
            "m": Out(stream.Signature(data_width)),
            "count": Out(unsigned(self.addr_width + 1)),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_fifo.v's ports (besides clk, rst): name -> (signal, "i" or "o")."""
        return {
            "s_data": (self.s.payload, "i"),
            "s_valid": (self.s.valid, "i"),
            "s_ready": (self.s.ready, "o"),
            "m_data": (self.m.payload, "o"),
            "m_valid": (self.m.valid, "o"),
            "m_ready": (self.m.ready, "i"),
            "count": (self.count, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        aw = self.addr_width

        m.submodules.mem = mem = Memory(shape=self.data_width, depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port()  # synchronous, with enable
        ram_q = Signal(self.data_width)  # the read register (rd.data)

        # RAM pointers: an address 0 .. depth - 1 and a wrap bit (toggled when the address
        # wraps), so the RAM is empty exactly when they are equal
        wr_addr_reg = Signal(aw)
        wr_wrap_reg = Signal()
        rd_addr_reg = Signal(aw)
        rd_wrap_reg = Signal()
        # occupancy: RAM words + the word in the output stage
        count_reg = Signal(aw + 1)
        s_ready_reg = Signal()
        m_valid_reg = Signal()
        # output stage source: 1 = RAM read register, 0 = bypass register
        out_sel_reg = Signal()
        byp_q = Signal(self.data_width, reset_less=True)

        ram_empty = Signal()
        s_fire = Signal()
        m_fire = Signal()
        out_free = Signal()
        rd_en = Signal()
        byp_en = Signal()
        wr_en = Signal()
        count_next = Signal(aw + 1)

        m.d.comb += [
            ram_empty.eq((wr_addr_reg == rd_addr_reg) & (wr_wrap_reg == rd_wrap_reg)),
            s_fire.eq(self.s.valid & s_ready_reg),
            m_fire.eq(m_valid_reg & self.m.ready),
            # the output stage is free at this edge: empty, or its word leaves now
            out_free.eq(~m_valid_reg | self.m.ready),
            # refill the output stage from the RAM (older words first)
            rd_en.eq(out_free & ~ram_empty),
            # nothing older anywhere: the new word goes straight to the output stage
            byp_en.eq(out_free & ram_empty & s_fire),
            wr_en.eq(s_fire & ~byp_en),
            count_next.eq(count_reg),
        ]
        with m.If(s_fire & ~m_fire):
            m.d.comb += count_next.eq(count_reg + 1)
        with m.Elif(m_fire & ~s_fire):
            m.d.comb += count_next.eq(count_reg - 1)
        # count_next == depth from comparisons of count_reg alone (as in the Verilog), so the
        # late m.ready drives one LUT into s_ready_reg, not the count adder and a comparator
        full_next = Signal()
        # (constants at the count's width: the Verilog compares aw + 1 bits)
        at_full = count_reg == Const(self.depth, aw + 1)
        below_full = count_reg == Const(self.depth - 1, aw + 1)
        above_full = count_reg == Const(self.depth + 1, aw + 1)
        m.d.comb += full_next.eq(
            (at_full & (s_fire == m_fire)) | (below_full & s_fire & ~m_fire)
            | (above_full & m_fire & ~s_fire))

        # RAM ports (not gated by the reset, like the Verilog's)
        m.d.comb += [
            wr.en.eq(wr_en),
            wr.addr.eq(wr_addr_reg),
            wr.data.eq(self.s.payload),
            rd.en.eq(rd_en),
            rd.addr.eq(rd_addr_reg),
            ram_q.eq(rd.data),
        ]
        with m.If(byp_en):
            m.d.sync += byp_q.eq(self.s.payload)

        # control (reset to 0 by the domain's synchronous reset)
        last = Const(self.depth - 1, aw)
        with m.If(wr_en):
            m.d.sync += [wr_addr_reg.eq(Mux(wr_addr_reg == last, 0, wr_addr_reg + 1)),
                         wr_wrap_reg.eq(wr_wrap_reg ^ (wr_addr_reg == last))]
        with m.If(rd_en):
            m.d.sync += [rd_addr_reg.eq(Mux(rd_addr_reg == last, 0, rd_addr_reg + 1)),
                         rd_wrap_reg.eq(rd_wrap_reg ^ (rd_addr_reg == last)), out_sel_reg.eq(1)]
        with m.Elif(byp_en):
            m.d.sync += out_sel_reg.eq(0)
        m.d.sync += [
            m_valid_reg.eq(rd_en | byp_en | (m_valid_reg & ~self.m.ready)),
            count_reg.eq(count_next),
            s_ready_reg.eq(~full_next),
        ]

        m.d.comb += [
            self.s.ready.eq(s_ready_reg),
            self.m.valid.eq(m_valid_reg),
            self.m.payload.eq(Mux(out_sel_reg, ram_q, byp_q)),
            self.count.eq(count_reg),
        ]
        return m
