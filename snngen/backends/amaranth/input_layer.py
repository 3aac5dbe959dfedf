"""InputLayer: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_input_layer.v`` (the first
spiking layer under analog, constant-current input; docs/semantics.md §2, docs/architecture.md
§3.6).

The input current does not change during an image, so it is computed once per image: ``load``
takes the image's pixels, the value-carrying router (every update is weight × pixel) sums the
convolution (or dense) current in the accumulator, whose readout (optionally max-pooled, plus
the bias) is written into the IF array's constant currents K: the accumulator reads out one bank
row (``lanes`` channels) per beat, which the array takes as one K row. Every ``go`` is then one
timestep: the array's sweep adds K to every membrane, fires, subtracts, clamps and emits.

Contract (identical to snn_input_layer.v, cycle for cycle)
  - ``clear_valid`` / ``clear_ready``: clears the accumulators and the membranes
    (``clear_ready`` is the AND of the two blocks').
  - ``load`` (a one-cycle pulse): from the ``load`` cycle on, pixels 0 .. N_IN - 1 (flat
    (c, h, w) order, unsigned ``r_value_width`` bits) are taken from ``s_pix``: a zero pixel in
    the cycle it is offered (it adds nothing), a nonzero one when the router accepts it. After
    the last pixel the router gets an end-of-timestep marker, which starts the accumulator
    readout that writes K; ``load_done`` is high in the cycle in which the readout's marker
    transfers.
  - ``go`` (a one-cycle pulse while idle, after ``load_done``): one timestep; ``done`` is high
    in the cycle in which the output marker transfers: N + 4 cycles after ``go`` with an
    always-ready consumer.
  - ``dbg_rd_*``: the array's debug read port.

Parameters: the lowercase names of snn_input_layer.v's parameters (``r_*`` the router's, ``a_*``
the accumulator's), with ``r_weight_init``, ``a_bias_init`` and ``k_init`` (the words of the
``*_FILE`` memory images) in place of the files.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ._ports import (
    clog2,
    debug_members,
    debug_ports,
    event_layout,
    event_ports,
    step_members,
    step_ports,
    vports,
)
from .accum import Accum
from .if_array import IfArray
from .router import Router

__all__ = ["InputLayer"]


class InputLayer(wiring.Component):
    """The input stage (pixel front end, router, accumulator, IF array), equivalent to
    snn_input_layer.v.

    Ports (``verilog_ports()`` names in brackets)
    -----
    clear_valid : In(1), clear_ready : Out(1)
    load : In(1), load_done : Out(1)
    s_pix : ``In(stream.Signature(r_value_width))`` [s_pix_valid, s_pix_ready, s_pix_data]
    go : In(1), done : Out(1), busy : Out(1)
    m : ``Out(stream.Signature({index: index_width, eot: 1}))`` [m_valid, m_ready, m_index,
        m_eot]
    dbg_rd_en : In(1), dbg_rd_index : In(index_width), dbg_rd_data : Out(signed(v_width))
    """

    VERILOG_NAME = "snn_input_layer"

    def __init__(self, *, n_in: int, r_cin: int, r_h: int, r_w: int, r_cout: int, r_oh: int,
                 r_ow: int, r_kh: int, r_kw: int, r_sh: int, r_sw: int, r_ph: int, r_pw: int,
                 r_w_width: int, r_value_width: int, r_in_index_width: int,
                 r_weight_init: Sequence[int], a_addr_width: int, a_width: int, a_pkh: int,
                 a_pkw: int, a_psh: int, a_psw: int, a_pph: int, a_ppw: int,
                 a_bias_init: Sequence[int], n: int, lanes: int, v_width: int, k_width: int,
                 threshold: int, v0: int, has_vmin: int, vmin: int, spiking: int,
                 k_init: Sequence[int], index_width: int | None = None, oh: int,
                 ow: int) -> None:
        index_width = clog2(n) if index_width is None else index_width
        rule = None
        if n_in != r_cin * r_h * r_w:
            rule = f"N_IN_must_be_R_CIN_R_H_R_W: n_in={n_in}, {r_cin}x{r_h}x{r_w}"
        elif n != r_cout * oh * ow:
            rule = f"N_must_be_R_COUT_OH_OW: n={n}, {r_cout}x{oh}x{ow}"
        if rule is not None:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise ValueError(f"snn_input_layer_ERROR_{rule}")
        u_width = r_w_width + r_value_width
        # bank row address width of the array (its unused update ports, its K rows: the
        # accumulator's output rows); the array's banks split its r_cout channels of oh*ow
        # neurons, as the accumulator's
        self._v_addr_width = max(clog2(-(-r_cout // lanes) * oh * ow), 1)
        try:
            self._router = Router(
                cin=r_cin, h=r_h, w=r_w, cout=r_cout, oh=r_oh, ow=r_ow, kh=r_kh, kw=r_kw,
                sh=r_sh, sw=r_sw, ph=r_ph, pw=r_pw, lanes=lanes, w_width=r_w_width,
                value_width=r_value_width, u_width=u_width, in_index_width=r_in_index_width,
                addr_width=a_addr_width, weight_init=r_weight_init)
            self._accum = Accum(
                c=r_cout, h=r_oh, w=r_ow, lanes=lanes, u_width=u_width, a_width=a_width,
                k_width=k_width, pkh=a_pkh, pkw=a_pkw, psh=a_psh, psw=a_psw, pph=a_pph,
                ppw=a_ppw, oh=oh, ow=ow, addr_width=a_addr_width,
                out_row_width=self._v_addr_width, bias_init=a_bias_init)
            self._array = IfArray(
                n=n, lanes=lanes, w_width=1, v_width=v_width, k_width=k_width,
                threshold=threshold, v0=v0, v_min=vmin if has_vmin else None,
                spiking=spiking, k_init=k_init, index_width=index_width,
                addr_width=self._v_addr_width, plane=oh * ow)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.n_in = n_in
        self.in_index_width = r_in_index_width
        self.value_width = r_value_width
        self.index_width = index_width
        self.v_width = v_width
        super().__init__({
            "clear_valid": In(1),
            "clear_ready": Out(1),
            "load": In(1),
            "load_done": Out(1),
            "s_pix": In(stream.Signature(r_value_width)),
            **step_members(),
            "m": Out(stream.Signature(event_layout(index_width))),
            **debug_members(index_width, v_width),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_input_layer.v's ports (besides clk, rst): name -> (value, "i" or "o")."""
        return {
            "clear_valid": (self.clear_valid, "i"),
            "clear_ready": (self.clear_ready, "o"),
            "load": (self.load, "i"),
            "load_done": (self.load_done, "o"),
            "s_pix_valid": (self.s_pix.valid, "i"),
            "s_pix_ready": (self.s_pix.ready, "o"),
            "s_pix_data": (self.s_pix.payload, "i"),
            **step_ports(self),
            **event_ports("m", self.m, "o"),
            **debug_ports(self),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.router = router = self._router
        m.submodules.accum = accum = self._accum
        m.submodules.array = array = self._array
        r, acc, a = vports(router), vports(accum), vports(array)

        # pixel front end: index counter, zero pixels skipped, EOT after the last pixel
        ld_reg = Signal(name="ld_reg")           # taking pixels
        eot_reg = Signal(name="eot_reg")         # the EOT is due
        # not reset: load sets it before it is used
        pix_idx_reg = Signal(self.in_index_width, name="pix_idx_reg", reset_less=True)
        pix = self.s_pix
        nonzero = pix.payload != 0
        r_s_valid = (ld_reg & pix.valid & nonzero) | eot_reg
        pix_take = ld_reg & pix.valid & (~nonzero | r["s_ready"])
        last_pix = pix_idx_reg == self.n_in - 1
        with m.If(self.load):
            m.d.sync += ld_reg.eq(1)
        with m.Elif(pix_take & last_pix):
            m.d.sync += [ld_reg.eq(0), eot_reg.eq(1)]
        with m.If(eot_reg & r["s_ready"]):
            m.d.sync += eot_reg.eq(0)
        with m.If(self.load):
            m.d.sync += pix_idx_reg.eq(0)
        with m.Elif(pix_take):
            m.d.sync += pix_idx_reg.eq(pix_idx_reg + 1)
        m.d.comb += [
            pix.ready.eq(pix_take),
            r["s_valid"].eq(r_s_valid),
            r["s_index"].eq(pix_idx_reg),
            r["s_value"].eq(pix.payload),
            r["s_eot"].eq(eot_reg),
        ]

        # router -> accumulator
        m.d.comb += [
            acc["clear_valid"].eq(self.clear_valid),
            acc["upd_valid"].eq(r["upd_valid"]),
            r["upd_ready"].eq(acc["upd_ready"]),
            acc["upd_addr"].eq(r["upd_addr"]),
            acc["upd_weight"].eq(r["upd_weight"]),
            acc["sweep_valid"].eq(r["sweep_valid"]),
            r["sweep_ready"].eq(acc["sweep_ready"]),
            acc["m_ready"].eq(1),
            self.load_done.eq(acc["m_valid"] & acc["m_eot"]),
        ]

        # the IF array: K <- the accumulator readout; one sweep per go
        sweep_reg = Signal(name="sweep_reg")
        sweep_valid = self.go | sweep_reg
        m.d.sync += sweep_reg.eq(sweep_valid & ~a["sweep_ready"])
        m.d.comb += [
            a["clear_valid"].eq(self.clear_valid),
            # no synaptic events: the whole current is K
            a["upd_valid"].eq(0),
            a["upd_addr"].eq(0),
            a["upd_weight"].eq(0),
            # the accumulator's beats are the array's K rows
            a["k_wr_en"].eq(acc["m_valid"] & ~acc["m_eot"]),
            a["k_wr_row"].eq(acc["m_row"]),
            a["k_wr_data"].eq(acc["m_value"]),
            a["sweep_valid"].eq(sweep_valid),
            self.m.valid.eq(a["m_valid"]),
            a["m_ready"].eq(self.m.ready),
            self.m.payload.index.eq(a["m_index"]),
            self.m.payload.eot.eq(a["m_eot"]),
            a["dbg_rd_en"].eq(self.dbg_rd_en),
            a["dbg_rd_index"].eq(self.dbg_rd_index),
            self.dbg_rd_data.eq(a["dbg_rd_data"]),
            self.clear_ready.eq(acc["clear_ready"] & a["clear_ready"]),
            self.done.eq(self.m.valid & self.m.ready & self.m.payload.eot),
            self.busy.eq(ld_reg | eot_reg | r["busy"] | acc["busy"] | a["busy"]),
        ]
        return m
