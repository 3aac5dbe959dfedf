"""Rom: the Amaranth twin of ``snngen/backends/verilog/rtl/snn_rom.v`` (synchronous-read ROM).

Contract (identical to the header of snn_rom.v, cycle for cycle)
  - Read: at a rising edge with ``en`` high, ``data <= word at addr``. ``data`` is valid from
    that edge on (one cycle of latency) and holds its value while ``en`` is low. ``data`` is a
    register: it never follows ``addr`` or ``en`` within a cycle.
  - ``addr`` must be < ``depth``; a read beyond the last word gives an undefined value. The
    ``addr`` bits above clog2(depth) are ignored.
  - No reset: the Verilog module has no ``rst`` port (``VERILOG_RESET = False``: ``to_verilog``
    gives a module with ``clk`` only) and the reset of the ``sync`` domain never touches
    ``data``. ``data`` is undefined until the first read (0 in Amaranth, as an FPGA block RAM
    output register powers up; x in a Verilog simulator).
  - The contents are ``init``: ``depth`` words, the word for address 0 first - the values
    ``snngen.backends.verilog.memfile.write_mem`` writes to the .mem file the Verilog loads with
    $readmemh (INIT_FILE). Each word may be given unsigned (0 .. 2**data_width - 1) or signed
    (-2**(data_width-1) .. -1, stored as its data_width-bit two's complement), exactly the
    range ``write_mem`` accepts, so the values of ``verilog.py``'s mems dict (signed biases,
    unsigned packed weight words) can be passed as they are. ``data`` is always the unsigned
    word, as the Verilog's ``data`` port.

Implementation: an :class:`amaranth.lib.memory.Memory` of ``depth`` words, never written, with
one synchronous read port with enable, whose data register is ``data`` (for block RAM
inference as the Verilog's). The port is in a local reset-less domain ``rom`` on the ``sync``
clock: Amaranth 0.5.4's simulator resets a read port's data register with a reset-ful domain
(in a cycle with en low), its Verilog output never does. tests/test_hw_rom.py proves
(equiv_induct) that the converted module and snn_rom.v (fed the same words through a .mem
file) give the same ``data`` in every cycle.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from amaranth.hdl import ClockDomain, ClockSignal, Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Rom"]


def _clog2(x: int) -> int:
    """Verilog's $clog2 (0 for x <= 1)."""
    return (x - 1).bit_length() if x > 1 else 0


def _words(init, depth: int, width: int) -> tuple[list[int] | None, str]:
    """The unsigned words of ``init`` and "", or None and what is wrong with it."""
    if isinstance(init, (str, bytes)):
        return None, f"init={init!r} is not a sequence of words (a .mem path?)"
    try:
        values = list(init)
    except TypeError:
        return None, f"init={init!r} is not a sequence of words"
    if len(values) != depth:
        return None, f"init has {len(values)} words, depth={depth}"
    lo, hi, mask = -(1 << (width - 1)), (1 << width) - 1, (1 << width) - 1
    words = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not lo <= v <= hi:
            return None, f"init[{i}]={v!r} is not an integer in {lo} .. {hi}"
        words.append(int(v) & mask)
    return words, ""


class Rom(wiring.Component):
    """A ``depth`` x ``data_width`` ROM with a registered read, equivalent to snn_rom.v.

    Parameters (the Verilog's, lower-cased)
    ----------
    data_width : int
        Width of one word in bits (``DATA_WIDTH``, >= 1).
    depth : int
        Number of words (``DEPTH``, >= 2; need not be a power of two).
    addr_width : int, optional
        Width of ``addr`` (``ADDR_WIDTH``, >= clog2(depth)); default clog2(depth).
    init : sequence of int (keyword only)
        The ``depth`` words (the Verilog's INIT_FILE contents), unsigned or signed as above.

    Ports (every one keeps its Verilog name; no ``rst``)
    -----
    addr : In(addr_width), en : In(1), data : Out(data_width)

    Raises ValueError naming the parameter and the rule of the Verilog's elaboration error
    (``snn_rom_ERROR_<rule>``) for a bad parameter; ``init`` has its own rule
    (``snn_rom_ERROR_INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH``) in place of the
    Verilog's INIT_FILE one.
    """

    VERILOG_NAME = "snn_rom"
    VERILOG_RESET = False  # the Verilog module has no rst port

    def __init__(self, data_width: int, depth: int, addr_width: int | None = None, *,
                 init: Sequence[int]) -> None:
        data_width, depth, addr_width = (
            int(x) if isinstance(x, numbers.Integral) else x
            for x in (data_width, depth, addr_width))
        if addr_width is None and isinstance(depth, int):
            addr_width = _clog2(depth)
        rule = words = None
        if not isinstance(data_width, int) or data_width < 1:
            rule = f"DATA_WIDTH_must_be_at_least_1: data_width={data_width!r}"
        elif not isinstance(depth, int) or depth < 2:
            rule = f"DEPTH_must_be_at_least_2: depth={depth!r}"
        elif not isinstance(addr_width, int) or addr_width < _clog2(depth):
            rule = f"ADDR_WIDTH_too_small_for_DEPTH: addr_width={addr_width!r}"
        else:
            words, why = _words(init, depth, data_width)
            if words is None:
                rule = f"INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH: {why}"
        if rule is not None:
            self._MustUse__silence = True  # refused, not unused: no UnusedElaboratable warning
            raise ValueError(f"snn_rom_ERROR_{rule}")
        self.data_width = data_width
        self.depth = depth
        self.addr_width = addr_width
        self.mem_addr_width = _clog2(depth)  # MEM_ADDR_WIDTH: the bits that select a word
        self.init = words  # unsigned, as in the .mem file
        super().__init__({
            "addr": In(addr_width),
            "en": In(1),
            "data": Out(unsigned(data_width)),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """snn_rom.v's ports (besides clk): name -> (value, "i" or "o")."""
        return {"addr": (self.addr, "i"), "en": (self.en, "i"), "data": (self.data, "o")}

    def elaborate(self, platform) -> Module:
        m = Module()
        # the read register has no reset: Amaranth's simulator (0.5.4) resets a read port's
        # data with its domain when en is low, its Verilog output never does; a local
        # reset-less domain on the sync clock keeps both to the contract
        m.domains.rom = cd = ClockDomain("rom", local=True, reset_less=True)
        m.d.comb += cd.clk.eq(ClockSignal("sync"))
        m.submodules.mem = mem = Memory(shape=unsigned(self.data_width), depth=self.depth,
                                        init=self.init)
        rd = mem.read_port(domain="rom")  # synchronous, with enable: its register is data
        m.d.comb += [
            rd.addr.eq(self.addr[:self.mem_addr_width]),
            rd.en.eq(self.en),
            self.data.eq(rd.data),
        ]
        return m
