"""Small helpers shared by the blocks and the composed components (stage wrappers, top).

The composed components wire their blocks up by the hand-written Verilog's port names
(``verilog_ports()``), so that every connection reads like the Verilog wrapper it mirrors and
does not depend on how a block names its Amaranth signature members. The interface pieces
several components have (an event stream, the debug read, a pipeline stage's controls) are
written once here, signature members and Verilog port map side by side, in the port order of the
hand-written modules.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

__all__ = ["clog2", "debug_members", "debug_ports", "event_layout", "event_ports",
           "stage_members", "stage_ports", "step_members", "step_ports", "timestep_input",
           "vports"]


def vports(component) -> dict[str, Value]:
    """``component``'s Verilog-named ports (clk and rst aside): name -> Amaranth value."""
    return {name: value for name, (value, _) in component.verilog_ports().items()}


def event_layout(index_width: int) -> data.StructLayout:
    """A spike event on a stage's stream: a neuron index, or the end-of-timestep marker."""
    return data.StructLayout({"index": index_width, "eot": 1})


def event_ports(name: str, s, direction: str) -> dict[str, tuple]:
    """The Verilog ports of the event stream ``s`` (``{index, eot}`` payload), in the order of
    the hand-written modules: ``<name>_valid``, ``_ready``, ``_index``, ``_eot``; ``direction``
    is ``"i"`` for a stream the component takes (``ready`` is then its output), ``"o"`` for
    one it offers."""
    back = "o" if direction == "i" else "i"
    return {
        f"{name}_valid": (s.valid, direction),
        f"{name}_ready": (s.ready, back),
        f"{name}_index": (s.payload.index, direction),
        f"{name}_eot": (s.payload.eot, direction),
    }


def debug_members(index_width: int, v_width: int) -> dict:
    """Signature members of the debug membrane read (tests only): ``dbg_rd_en``,
    ``dbg_rd_index``, ``dbg_rd_data``."""
    return {
        "dbg_rd_en": In(1),
        "dbg_rd_index": In(index_width),
        "dbg_rd_data": Out(signed(v_width)),
    }


def debug_ports(c) -> dict[str, tuple]:
    """The Verilog ports of :func:`debug_members`."""
    return {
        "dbg_rd_en": (c.dbg_rd_en, "i"),
        "dbg_rd_index": (c.dbg_rd_index, "i"),
        "dbg_rd_data": (c.dbg_rd_data, "o"),
    }


def step_members() -> dict:
    """Signature members of a stage's timestep handshake with the controller: ``go`` (start a
    timestep), ``done`` (its output EOT transferred), ``busy``."""
    return {"go": In(1), "done": Out(1), "busy": Out(1)}


def step_ports(c) -> dict[str, tuple]:
    """The Verilog ports of :func:`step_members`."""
    return {"go": (c.go, "i"), "done": (c.done, "o"), "busy": (c.busy, "o")}


def stage_members(in_index_width: int, out_index_width: int) -> dict:
    """Signature members of a hidden stage (snn_layer.v, snn_pool_layer.v): ``clear_valid``/
    ``clear_ready``, :func:`step_members`, the input events ``s`` and the output events ``m``."""
    return {
        "clear_valid": In(1),
        "clear_ready": Out(1),
        **step_members(),
        "s": In(stream.Signature(event_layout(in_index_width))),
        "m": Out(stream.Signature(event_layout(out_index_width))),
    }


def stage_ports(c) -> dict[str, tuple]:
    """The Verilog ports of :func:`stage_members`, in the hand-written modules' order."""
    return {
        "clear_valid": (c.clear_valid, "i"),
        "clear_ready": (c.clear_ready, "o"),
        **step_ports(c),
        **event_ports("s", c.s, "i"),
        **event_ports("m", c.m, "o"),
    }


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
