"""Layer: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_layer.v`` (a hidden spiking layer
stage).

Contract (identical to snn_layer.v, cycle for cycle; docs/architecture.md §3.3)
  - ``clear_valid`` / ``clear_ready``: the IF array's clear (every membrane to V0).
  - ``go`` (a one-cycle pulse while idle): one timestep. From the ``go`` cycle on, the input
    stream ``s`` (events ``{index, eot}`` of the stage before, from its FIFO) is taken until
    and including its end-of-timestep marker: every event goes through the router
    (:class:`~snngen.backends.amaranth.router.Router`), whose weight updates land in the IF array
    (:class:`~snngen.backends.amaranth.if_array.IfArray`) lane by lane; the marker starts the
    array's sweep (bias, fire, reset by subtraction, clamp), which emits the spiking neurons in
    bank-row order (ascending for a dense layer) and then the marker on ``m``. ``s.ready`` is
    low outside a timestep.
  - ``done`` is high in the cycle in which the output marker transfers; ``busy`` while the
    router or the array holds work. The cycles from ``go`` to ``done`` are the timing model's
    (:func:`snngen.hwmodel.timing.stage_cycles`): Σ max(groups, 1) + Σ_rows max(1, s_r) + 14
    with an always-ready consumer (s_r: the spikes of bank row r).
  - ``dbg_rd_*``: the array's debug read port (the readout reads the output membranes).

Parameters: the lowercase names of snn_layer.v's parameters (``r_*`` the router's geometry),
with ``r_weight_init`` (the router ROM's words, ``snngen.hwmodel.blocks.router.rom_words``) and
``k_init`` (the K rows of the N biases, ``snngen.hwmodel.blocks.banks.k_rows``) in place of the
``*_FILE`` parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module
from amaranth.lib import wiring

from ._ports import (
    clog2,
    debug_members,
    debug_ports,
    stage_members,
    stage_ports,
    timestep_input,
    vports,
)
from .if_array import IfArray
from .router import Router

__all__ = ["Layer"]


class Layer(wiring.Component):
    """A hidden layer stage (router + IF array), equivalent to snn_layer.v.

    Ports (``verilog_ports()`` names in brackets)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    go : In(1), done : Out(1), busy : Out(1)
    s : ``In(stream.Signature({index: r_in_index_width, eot: 1}))`` [s_valid, s_ready,
        s_index, s_eot]
    m : ``Out(stream.Signature({index: index_width, eot: 1}))`` [m_valid, m_ready, m_index,
        m_eot]
    dbg_rd_en : In(1), dbg_rd_index : In(index_width), dbg_rd_data : Out(signed(v_width))
    """

    VERILOG_NAME = "snn_layer"

    def __init__(self, *, r_cin: int, r_h: int, r_w: int, r_cout: int, r_oh: int, r_ow: int,
                 r_kh: int, r_kw: int, r_sh: int, r_sw: int, r_ph: int, r_pw: int,
                 r_in_index_width: int, r_weight_init: Sequence[int], n: int, lanes: int,
                 w_width: int, v_width: int, k_width: int, threshold: int, v0: int,
                 has_vmin: int, vmin: int, spiking: int, k_init: Sequence[int],
                 index_width: int | None = None, addr_width: int | None = None) -> None:
        index_width = clog2(n) if index_width is None else index_width
        # the banks split the r_cout channels of r_oh*r_ow neurons (hwmodel.blocks.banks)
        addr_width = (max(clog2(-(-r_cout // lanes) * r_oh * r_ow), 1) if addr_width is None
                      else addr_width)
        try:
            self._router = Router(
                cin=r_cin, h=r_h, w=r_w, cout=r_cout, oh=r_oh, ow=r_ow, kh=r_kh, kw=r_kw,
                sh=r_sh, sw=r_sw, ph=r_ph, pw=r_pw, lanes=lanes, w_width=w_width,
                value_width=0, u_width=w_width, in_index_width=r_in_index_width,
                addr_width=addr_width, weight_init=r_weight_init)
            self._array = IfArray(
                n=n, lanes=lanes, w_width=w_width, v_width=v_width, k_width=k_width,
                threshold=threshold, v0=v0, v_min=vmin if has_vmin else None,
                spiking=spiking, k_init=k_init, index_width=index_width,
                addr_width=addr_width, plane=r_oh * r_ow)
        except ValueError:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise
        self.in_index_width = r_in_index_width
        self.index_width = index_width
        self.v_width = v_width
        super().__init__({**stage_members(r_in_index_width, index_width),
                          **debug_members(index_width, v_width)})

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_layer.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {**stage_ports(self), **debug_ports(self)}

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.router = router = self._router
        m.submodules.array = array = self._array
        r, a = vports(router), vports(array)

        timestep_input(m, self.go, self.s, r)
        m.d.comb += [
            r["s_value"].eq(0),
            a["clear_valid"].eq(self.clear_valid),
            self.clear_ready.eq(a["clear_ready"]),
            a["upd_valid"].eq(r["upd_valid"]),
            r["upd_ready"].eq(a["upd_ready"]),
            a["upd_addr"].eq(r["upd_addr"]),
            a["upd_weight"].eq(r["upd_weight"]),
            # the bias never changes: K stays as loaded from k_init
            a["k_wr_en"].eq(0),
            a["k_wr_row"].eq(0),
            a["k_wr_data"].eq(0),
            a["sweep_valid"].eq(r["sweep_valid"]),
            r["sweep_ready"].eq(a["sweep_ready"]),
            self.m.valid.eq(a["m_valid"]),
            a["m_ready"].eq(self.m.ready),
            self.m.payload.index.eq(a["m_index"]),
            self.m.payload.eot.eq(a["m_eot"]),
            a["dbg_rd_en"].eq(self.dbg_rd_en),
            a["dbg_rd_index"].eq(self.dbg_rd_index),
            self.dbg_rd_data.eq(a["dbg_rd_data"]),
            self.done.eq(self.m.valid & self.m.ready & self.m.payload.eot),
            self.busy.eq(r["busy"] | a["busy"]),
        ]
        return m
