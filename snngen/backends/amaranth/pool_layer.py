"""PoolLayer: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_pool_layer.v`` (a spiking
max-pool stage).

Contract (identical to snn_pool_layer.v, cycle for cycle; docs/architecture.md §3.3, §4.4)
  - ``clear_valid`` / ``clear_ready``: the gate's clear (every spike count and tag to 0).
  - ``go`` (a one-cycle pulse while idle): one timestep. From the ``go`` cycle on, the input
    stream ``s`` (events ``{index, eot}`` of the IF population before, from its FIFO) is taken
    until and including its end-of-timestep marker; the marker starts the gate's sweep
    (:class:`~snngen.backends.amaranth.maxpool_gate.MaxPoolGate`), which emits every window whose
    spiking input has the highest count so far, in ascending order, and then the marker on ``m``.
    ``s.ready`` is low outside a timestep.
  - ``done`` is high in the cycle in which the output marker transfers; ``busy`` is the
    gate's. From ``go`` to ``done``: E + C·OH·OW·KH·KW + 4 cycles for E input events with an
    always-ready consumer (the timing model's pool stage).

Parameters: the lowercase names of snn_pool_layer.v's parameters.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from ._ports import stage_members, stage_ports, timestep_input, vports
from .maxpool_gate import MaxPoolGate

__all__ = ["PoolLayer"]


class PoolLayer(wiring.Component):
    """A max-pool stage (the gate plus the timestep enable), equivalent to snn_pool_layer.v.

    Ports (``verilog_ports()`` names in brackets)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    go : In(1), done : Out(1), busy : Out(1)
    s : ``In(stream.Signature({index: in_index_width, eot: 1}))`` [s_valid, s_ready, s_index,
        s_eot]
    m : ``Out(stream.Signature({index: out_index_width, eot: 1}))`` [m_valid, m_ready,
        m_index, m_eot]
    """

    VERILOG_NAME = "snn_pool_layer"

    def __init__(self, *, c: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int,
                 pw: int, oh: int, ow: int, cnt_width: int, in_index_width: int,
                 out_index_width: int) -> None:
        try:
            self._gate = MaxPoolGate(
                c=c, h=h, w=w, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, oh=oh, ow=ow,
                cnt_width=cnt_width, in_index_width=in_index_width,
                out_index_width=out_index_width)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        self.in_index_width = in_index_width
        self.index_width = out_index_width
        super().__init__(stage_members(in_index_width, out_index_width))

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_pool_layer.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return stage_ports(self)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.gate = gate = self._gate
        g = vports(gate)

        timestep_input(m, self.go, self.s, g)
        m.d.comb += [
            g["clear_valid"].eq(self.clear_valid),
            self.clear_ready.eq(g["clear_ready"]),
            self.m.valid.eq(g["m_valid"]),
            g["m_ready"].eq(self.m.ready),
            self.m.payload.index.eq(g["m_index"]),
            self.m.payload.eot.eq(g["m_eot"]),
            self.done.eq(self.m.valid & self.m.ready & self.m.payload.eot),
            self.busy.eq(g["busy"]),
        ]
        return m
