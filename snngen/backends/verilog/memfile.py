"""Files the Verilog backend works with: the hand-written RTL and ``$readmemh`` memory images.

``rtl_dir()`` finds the hand-written Verilog (``snngen/backends/verilog/rtl/*.v``) in a checkout and
in an installed wheel alike. ``write_mem``/``read_mem`` write and read the ``.mem`` format that
``snn_rom.v`` loads:

* plain text, one word per line, the word for address 0 first, every line ending in ``\\n``;
  no comments, no ``@address`` records, nothing else;
* each word in lower-case hexadecimal, zero-padded to exactly ``ceil(width / 4)`` digits;
* a negative (signed) value is stored as its ``width``-bit two's complement pattern: -1 at
  width 13 is ``1fff``.

The same values always give the same bytes, so generated images can be diffed and cached.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterable
from pathlib import Path

from snngen import atomic

__all__ = ["mem_digits", "read_mem", "write_mem"]


def _check_width(width: int) -> int:
    width = operator.index(width)
    if width < 1:
        raise ValueError(f"a memory word width must be positive, got {width}")
    return width


def mem_digits(width: int) -> int:
    """Hex digits per word in a ``.mem`` file of ``width``-bit words: ``ceil(width / 4)``."""
    return (_check_width(width) + 3) // 4


def _encode(values: Iterable[int], width: int) -> bytes:
    digits = mem_digits(width)
    lo, hi = -(1 << (width - 1)), (1 << width) - 1
    mask = (1 << width) - 1
    lines = []
    for i, v in enumerate(values):
        if isinstance(v, bool):
            raise TypeError(f"word {i}: expected an integer, got a bool")
        try:
            v = operator.index(v)
        except TypeError:
            raise TypeError(f"word {i}: expected an integer, got {type(v).__name__}") from None
        if not lo <= v <= hi:
            raise ValueError(
                f"word {i}: {v} does not fit in {width} bits (signed or unsigned: {lo}..{hi})"
            )
        lines.append(f"{v & mask:0{digits}x}\n")
    return "".join(lines).encode("ascii")


def write_mem(path: str | os.PathLike, values: Iterable[int], width: int) -> None:
    """Write ``values`` as a ``.mem`` file of ``width``-bit words (format in the module doc).

    A value may be anything from ``-2**(width-1)`` (signed) to ``2**width - 1`` (unsigned);
    negative values are written in two's complement. A value outside that range raises
    ``ValueError``: nothing is wrapped silently. The write is atomic: ``path`` is either the
    old file or the whole new one, and no temporary file is left behind on error."""
    width = _check_width(width)
    atomic.write_bytes(path, _encode(values, width))


def read_mem(path: str | os.PathLike, width: int, signed: bool) -> list[int]:
    """Read a ``.mem`` file of ``width``-bit words written in the format of ``write_mem``.

    Words are returned as Python ints: two's complement decoded when ``signed``, else as
    unsigned. Anything outside the format (a wrong digit count, a non-hex character, a value
    wider than ``width`` bits, comments, blank lines) raises ``ValueError`` naming the line;
    upper-case hex digits and a missing final newline are accepted."""
    width = _check_width(width)
    digits = mem_digits(width)
    text = Path(path).read_bytes().decode("ascii", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    out = []
    for n, line in enumerate(lines, start=1):
        if len(line) != digits or any(c not in "0123456789abcdefABCDEF" for c in line):
            raise ValueError(
                f"{os.fspath(path)}:{n}: expected {digits} hex digits for a {width}-bit word, "
                f"got {line!r}"
            )
        v = int(line, 16)
        if v >> width:
            raise ValueError(f"{os.fspath(path)}:{n}: {line} does not fit in {width} bits")
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out
