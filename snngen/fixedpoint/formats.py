"""Fixed-point formats as values, and the project's one rounding rule.

``Fixed(width, frac, signed)`` is a two's-complement (or unsigned) number of ``width`` bits of
which ``frac`` are fractional: the stored integer ``q`` means ``q / 2**frac``. Integer formats
have ``frac = 0``. Backends turn a format into their own types with small separate functions; this
module knows nothing about Verilog or Amaranth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, order=True)
class Fixed:
    width: int
    frac: int = 0
    signed: bool = True

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"a fixed-point width must be positive, got {self.width}")
        if not 0 <= self.frac <= self.width:
            raise ValueError(f"fraction bits must be in 0..{self.width}, got {self.frac}")
        if self.width > 62:
            # the golden model computes in int64; wider registers would need another carrier
            raise ValueError(f"widths above 62 bits are not supported, got {self.width}")

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min(self) -> float:
        return self.min_int / (1 << self.frac)

    @property
    def max(self) -> float:
        return self.max_int / (1 << self.frac)

    @property
    def resolution(self) -> float:
        return 1.0 / (1 << self.frac)

    def contains(self, lo: int, hi: int) -> bool:
        """True when every stored integer in ``[lo, hi]`` is representable."""
        return self.min_int <= lo and hi <= self.max_int

    def __str__(self) -> str:
        base = f"{'' if self.signed else 'u'}int{self.width}"
        if self.frac == 0:
            return base
        return f"{'s' if self.signed else 'u'}fix{self.width}.{self.frac}"

    def to_dict(self) -> dict:
        return {"width": self.width, "frac": self.frac, "signed": self.signed}

    @staticmethod
    def from_dict(d: dict) -> Fixed:
        return Fixed(int(d["width"]), int(d["frac"]), bool(d["signed"]))


def bits_for(lo: int, hi: int, signed: bool = True) -> int:
    """The smallest width whose integer range holds ``[lo, hi]``."""
    lo, hi = int(lo), int(hi)
    if not signed:
        if lo < 0:
            raise ValueError(f"an unsigned format cannot hold {lo}")
        return max(1, hi.bit_length())
    # n bits hold [-2^(n-1), 2^(n-1) - 1]
    need = max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length() if hi > 0 else 0)
    return need + 1


def integer_format(lo: int, hi: int, signed: bool = True) -> Fixed:
    """The narrowest integer format holding ``[lo, hi]``."""
    return Fixed(bits_for(lo, hi, signed), 0, signed)


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (``2.5 -> 3``, ``-2.5 -> -3``), as
    ``int64``. The one rounding rule of snngen's quantisation (docs/semantics.md)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
