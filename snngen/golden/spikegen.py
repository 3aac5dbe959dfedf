"""The reproducible rate-coded spike-input generator (docs/conversion.md, "Spike input").

One 32-bit Galois LFSR, polynomial x^32 + x^22 + x^2 + x + 1 (right-shifting form, tap mask
0x80200003; maximal length 2^32 - 1), is loaded with ``seed`` at the start of every image. At each
timestep it advances once per input element, in row-major (C, H, W) order, and element ``i``
with intensity ``p`` in [0, 1] spikes when ``(state >> 16) < p * 2**16``. The same sequence is
cheap in hardware (one shift register, one comparator) and does not depend on numpy's RNG.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TAPS = 0x80200003
MASK32 = 0xFFFFFFFF


def lfsr_step(state: int) -> int:
    """One step of the Galois LFSR."""
    return (state >> 1) ^ TAPS if state & 1 else state >> 1


@lru_cache(maxsize=8)
def _states(seed: int, count: int) -> np.ndarray:
    out = np.empty(count, dtype=np.uint32)
    s = seed
    for k in range(count):
        s = lfsr_step(s)
        out[k] = s
    out.flags.writeable = False
    return out


def lfsr_states(seed: int, count: int) -> np.ndarray:
    """The first ``count`` states after the seed (``uint32``); ``seed`` must be 1..2^32-1."""
    if not 0 < seed <= MASK32:
        raise ValueError(f"spike-input seed must be in 1..{MASK32} (an LFSR stuck at 0 "
                         f"never spikes), got {seed}")
    return _states(int(seed), int(count))


def uniform16(seed: int, timesteps: int, size: int) -> np.ndarray:
    """``(timesteps, size)`` 16-bit uniform draws: the upper half of each LFSR state."""
    return (lfsr_states(seed, timesteps * size) >> 16).reshape(timesteps, size)


def spike_input(x: np.ndarray, t: int, draws: np.ndarray) -> np.ndarray:
    """Input spikes of a batch ``x`` (intensities in [0, 1]) at 0-based timestep ``t``."""
    u = draws[t].reshape(x.shape[1:])
    return (u[None] < x * 65536.0).astype(x.dtype)
