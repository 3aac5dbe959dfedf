"""Small helpers shared by the composed components (stage wrappers and the network top).

The composed components wire their blocks up by the hand-written Verilog's port names
(``verilog_ports()``), so that every connection reads like the Verilog wrapper it mirrors and
does not depend on how a block names its Amaranth signature members.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import data

__all__ = ["clog2", "event_layout", "timestep_input", "vports"]


def vports(component) -> dict[str, Value]:
    """``component``'s Verilog-named ports (clk and rst aside): name -> Amaranth value."""
    return {name: value for name, (value, _) in component.verilog_ports().items()}


def event_layout(index_width: int) -> data.StructLayout:
    """A spike event on a stage's stream: a neuron index, or the end-of-timestep marker."""
    return data.StructLayout({"index": index_width, "eot": 1})


def clog2(n: int) -> int:
    """Verilog's ``$clog2``: the bits to address ``n`` items (0 for n <= 1)."""
    return max(int(n) - 1, 0).bit_length()


def timestep_input(m: Module, go: Value, s, inner: dict[str, Value]) -> None:
    """Pass the stage's input stream ``s`` (``{index, eot}`` events) to the block ``inner``
    (its Verilog-named ports ``s_valid``, ``s_ready``, ``s_index``, ``s_eot``) during one
    timestep only: from the ``go`` cycle until and including the transfer of the
    end-of-timestep marker (``en_reg``, as in snn_layer.v and snn_pool_layer.v)."""
    en_reg = Signal(name="en_reg")
    en = go | en_reg
    valid = s.valid & en
    eot_taken = valid & inner["s_ready"] & s.payload.eot
    m.d.sync += en_reg.eq(en & ~eot_taken)
    m.d.comb += [
        s.ready.eq(inner["s_ready"] & en),
        inner["s_valid"].eq(valid),
        inner["s_index"].eq(s.payload.index),
        inner["s_eot"].eq(s.payload.eot),
    ]
