"""Readout: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_readout.v`` (spike counts and
class).

The output population's spike counts and, after the last timestep, its class
(docs/semantics.md §5).

Contract (identical to the header of snn_readout.v, cycle for cycle)
  - Reset: the ``sync`` domain's (synchronous, active high) makes the readout idle (no scan,
    ``m.valid`` 0); it does not touch the counts.
  - ``clear`` (a one-cycle pulse, while idle, i.e. ``busy`` 0): every count <- 0 at that edge
    (also in a reset cycle, as in the Verilog; a clear while busy is ignored).
  - ``ev`` (the output population's events, payload ``index``/``eot``, always accepted:
    ``ev.ready`` is constant 1, so the last stage's event stream connects to it as it is; the
    Verilog has no ev_ready): at an edge with ``ev.valid`` and not ``ev.payload.eot``,
    count[index] += 1 (unless a clear is taken at that edge: the clear wins). Counts never wrap:
    the build sizes ``cnt_width`` for the longest run (max_timesteps < 2**cnt_width).
  - ``start`` (a one-cycle pulse, while idle and after the last timestep's sweep) at edge e:
    ``dbg_rd_en`` is high with ``dbg_rd_index = i`` in the cycle before edge e + 1 + i,
    i = 0 .. f - 1, i.e. the IF array's debug port reads neuron i at edge e + 1 + i; its
    membrane must be on ``dbg_rd_data`` (signed ``v_width`` bits) in the cycle after that
    edge. The neurons are compared in ascending order and the best one is replaced only by a
    strictly better one:
        by_count = 1: more spikes, or as many spikes and a larger membrane;
        by_count = 0: a larger membrane;
    so ties go to the lowest index (``snngen.golden.model.readout``).
  - Result: each read's data is captured in registers (with its count) and compared one edge
    later. ``m.valid`` rises right after edge e + f + 2 and holds ``m.payload["class"]``
    (the best index, ``class_width`` bits) and ``m.payload.counts`` (count i in field i, the
    Verilog's ``m_counts[i*CNT_WIDTH +: CNT_WIDTH]``) until the transfer
    (``m.valid & m.ready``). ``busy`` is high from edge e + 1 up to and including the cycle of
    that transfer: the readout takes exactly f + 2 cycles plus the wait for ``m.ready``.
  - Every output is a register or a function of registers only (no combinational path from an
    input to an output).

Implementation (the Verilog's registers and names): the counts are f registers ``cnt_<i>``
(the Verilog's array ``cnt[i]``, not reset); the scan issues reads with ``run_reg`` /
``rd_idx_reg``, takes the previous read's data with ``cmp_reg`` / ``cmp_idx_reg`` /
``cmp_last_reg`` into the capture registers ``cap_reg`` / ``cap_idx_reg`` / ``cap_last_reg`` /
``cap_cnt_reg`` / ``cap_v_reg``, and compares those against the best so far (``have_reg``,
``best_idx_reg``, ``best_cnt_reg``, ``best_v_reg``). tests/test_hw_readout.py proves
(equiv_induct) that the converted module and snn_readout.v hold the same value in every register
and output in every cycle, given the same state at the start (Amaranth powers up at 0, the
Verilog at x; the contract needs a reset and a clear first).
"""

from __future__ import annotations

import numbers

from amaranth.hdl import Array, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Readout"]


def _clog2(x: int) -> int:
    """Verilog's $clog2 (0 for x <= 1)."""
    return (x - 1).bit_length() if x > 1 else 0


class Readout(wiring.Component):
    """Spike counts and class of the output population, equivalent to snn_readout.v.

    Parameters (the Verilog's, lower-cased)
    ----------
    f : int
        Neurons in the output population (``F``, >= 2).
    cnt_width : int
        Width of a spike count (``CNT_WIDTH``, 1 .. 32).
    v_width : int
        Width of a signed membrane (``V_WIDTH``, 2 .. 32), the IF array's ``v_width``.
    index_width : int, optional
        Width of the IF array's neuron indices (``INDEX_WIDTH``, >= clog2(f), >= 1);
        default clog2(f).
    class_width : int, optional
        Width of the class (``CLASS_WIDTH``, >= clog2(f), 1 .. 32); default max(clog2(f), 1).
    by_count : bool or int
        1: class by spike count (ties: membrane, then lowest index); 0: by membrane
        (``BY_COUNT``).

    Ports (``verilog_ports()`` names in brackets)
    -----
    clear : In(1) [clear]
    ev : ``In(stream.Signature(StructLayout({"index": index_width, "eot": 1})))``
        [ev_valid, ev_index, ev_eot]; ``ev.ready`` is 1 (always accepted, not a Verilog port)
    start : In(1) [start]
    dbg_rd_en : Out(1), dbg_rd_index : Out(index_width), dbg_rd_data : In(signed(v_width))
    m : ``Out(stream.Signature(StructLayout({"class": class_width,
        "counts": ArrayLayout(cnt_width, f)})))`` [m_valid, m_ready, m_class, m_counts];
        ``class`` is a Python keyword: ``m.payload["class"]``.
    busy : Out(1) [busy]

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_readout_ERROR_<rule>``) for a bad parameter.
    """

    VERILOG_NAME = "snn_readout"

    def __init__(self, f: int, cnt_width: int, v_width: int, index_width: int | None = None,
                 class_width: int | None = None, by_count: bool | int = 1) -> None:
        f, cnt_width, v_width, index_width, class_width = (
            int(x) if isinstance(x, numbers.Integral) else x
            for x in (f, cnt_width, v_width, index_width, class_width))
        if isinstance(f, int):
            if index_width is None:
                index_width = _clog2(f)
            if class_width is None:
                class_width = max(_clog2(f), 1)
        rule = None
        if not isinstance(f, int) or f < 2:
            rule = f"F_must_be_at_least_2: f={f!r}"
        elif not isinstance(cnt_width, int) or not 1 <= cnt_width <= 32:
            rule = f"CNT_WIDTH_must_be_1_to_32: cnt_width={cnt_width!r}"
        elif not isinstance(v_width, int) or not 2 <= v_width <= 32:
            rule = f"V_WIDTH_must_be_2_to_32: v_width={v_width!r}"
        elif (not isinstance(index_width, int) or index_width < _clog2(f)
              or index_width < 1):
            rule = f"INDEX_WIDTH_too_small_for_F: index_width={index_width!r}"
        elif (not isinstance(class_width, int) or class_width < _clog2(f)
              or not 1 <= class_width <= 32):
            rule = f"CLASS_WIDTH_too_small_for_F: class_width={class_width!r}"
        elif by_count not in (0, 1):  # also False/True
            rule = f"BY_COUNT_must_be_0_or_1: by_count={by_count!r}"
        if rule is not None:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise ValueError(f"snn_readout_ERROR_{rule}")
        self.f = f
        self.cnt_width = cnt_width
        self.v_width = v_width
        self.index_width = index_width
        self.class_width = class_width
        self.by_count = bool(by_count)
        self.aw = max(_clog2(f), 1)  # AW: bits that address the count array
        super().__init__({
            "clear": In(1),
            "ev": In(stream.Signature(data.StructLayout({
                "index": unsigned(index_width), "eot": unsigned(1)}))),
            "start": In(1),
            "dbg_rd_en": Out(1),
            "dbg_rd_index": Out(index_width),
            "dbg_rd_data": In(signed(v_width)),
            "m": Out(stream.Signature(data.StructLayout({
                "class": unsigned(class_width),
                "counts": data.ArrayLayout(unsigned(cnt_width), f)}))),
            "busy": Out(1),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_readout.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "clear": (self.clear, "i"),
            "ev_valid": (self.ev.valid, "i"),
            "ev_index": (self.ev.payload.index, "i"),
            "ev_eot": (self.ev.payload.eot, "i"),
            "start": (self.start, "i"),
            "dbg_rd_en": (self.dbg_rd_en, "o"),
            "dbg_rd_index": (self.dbg_rd_index, "o"),
            "dbg_rd_data": (self.dbg_rd_data, "i"),
            "m_valid": (self.m.valid, "o"),
            "m_ready": (self.m.ready, "i"),
            "m_class": (self.m.payload["class"], "o"),
            "m_counts": (self.m.payload.counts.as_value(), "o"),
            "busy": (self.busy, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        f, cw, iw, aw = self.f, self.cnt_width, self.index_width, self.aw
        last = f - 1  # LAST: fits INDEX_WIDTH

        # the counts (not reset)
        cnt = [Signal(cw, reset_less=True, name=f"cnt_{i}") for i in range(f)]

        # readout scan: rd_* issues debug reads, cmp_* compares the data of the previous read
        run_reg = Signal()  # reads being issued
        rd_idx_reg = Signal(iw, reset_less=True)
        cmp_reg = Signal()  # dbg_rd_data holds neuron cmp_idx_reg
        cmp_idx_reg = Signal(iw, reset_less=True)
        cmp_last_reg = Signal(reset_less=True)
        # capture stage: the read's data and count in registers, so the comparison starts at
        # registers, not at the IF array's block-RAM output and lane multiplexer
        cap_reg = Signal()
        cap_idx_reg = Signal(iw, reset_less=True)
        cap_last_reg = Signal(reset_less=True)
        cap_cnt_reg = Signal(cw, reset_less=True)
        cap_v_reg = Signal(signed(self.v_width), reset_less=True)
        have_reg = Signal()  # best_* hold a neuron
        best_idx_reg = Signal(iw, reset_less=True)
        best_cnt_reg = Signal(cw, reset_less=True)
        best_v_reg = Signal(signed(self.v_width), reset_less=True)
        m_valid_reg = Signal()

        busy = Signal()
        v_now = Signal(signed(self.v_width))
        c_now = Signal(cw)
        better = Signal()
        take_start = Signal()
        m.d.comb += [
            busy.eq(run_reg | cmp_reg | cap_reg | m_valid_reg),
            v_now.eq(cap_v_reg),
            c_now.eq(cap_cnt_reg),
            take_start.eq(self.start & ~busy),
        ]
        if self.by_count:
            m.d.comb += better.eq(~have_reg | (c_now > best_cnt_reg)
                                  | ((c_now == best_cnt_reg) & (v_now > best_v_reg)))
        else:
            m.d.comb += better.eq(~have_reg | (v_now > best_v_reg))

        # counts: a clear (while idle) wins over an event
        ev_index = self.ev.payload.index[:aw]
        with m.If(self.clear & ~busy):
            m.d.sync += [c.eq(0) for c in cnt]
        with m.Elif(self.ev.valid & ~self.ev.payload.eot):
            for i, c in enumerate(cnt):
                with m.If(ev_index == i):
                    m.d.sync += c.eq(c + 1)

        # control (reset by the domain's synchronous reset)
        with m.If(take_start):
            m.d.sync += [run_reg.eq(1), have_reg.eq(0)]
        with m.Elif(run_reg & (rd_idx_reg == last)):
            m.d.sync += run_reg.eq(0)
        m.d.sync += [cmp_reg.eq(run_reg), cap_reg.eq(cmp_reg)]
        with m.If(cap_reg):
            with m.If(better):
                m.d.sync += have_reg.eq(1)
            with m.If(cap_last_reg):
                m.d.sync += m_valid_reg.eq(1)
        with m.If(m_valid_reg & self.m.ready):
            m.d.sync += m_valid_reg.eq(0)

        # datapath (no reset)
        with m.If(take_start):
            m.d.sync += rd_idx_reg.eq(0)
        with m.Elif(run_reg):
            m.d.sync += rd_idx_reg.eq(rd_idx_reg + 1)
        m.d.sync += [
            cmp_idx_reg.eq(rd_idx_reg),
            cmp_last_reg.eq(rd_idx_reg == last),
            cap_last_reg.eq(cmp_last_reg),
        ]
        with m.If(cmp_reg):  # only real neurons' indices (< f) are captured
            m.d.sync += [
                cap_idx_reg.eq(cmp_idx_reg),
                cap_cnt_reg.eq(Array(cnt)[cmp_idx_reg[:aw]]),
                cap_v_reg.eq(self.dbg_rd_data),
            ]
        with m.If(cap_reg & better):
            m.d.sync += [
                best_idx_reg.eq(cap_idx_reg),
                best_cnt_reg.eq(c_now),
                best_v_reg.eq(v_now),
            ]

        m.d.comb += [
            self.ev.ready.eq(1),
            self.dbg_rd_en.eq(run_reg),
            self.dbg_rd_index.eq(rd_idx_reg),
            self.busy.eq(busy),
            self.m.valid.eq(m_valid_reg),
            # zero-extended or truncated: indices of real neurons are < f <= 2**class_width
            self.m.payload["class"].eq(best_idx_reg),
        ]
        m.d.comb += [self.m.payload.counts[i].eq(c) for i, c in enumerate(cnt)]
        return m
