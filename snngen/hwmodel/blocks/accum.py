"""Reference model of ``snngen/backends/verilog/rtl/snn_accum.v``: the once-per-image
constant-current accumulator of the first layer with its optional max-pool readout
(docs/semantics.md §2, §4).

* :func:`readout` is what the block streams out, computed independently of the RTL's walk (with
  :func:`snngen.ir.kernels.maxpool2d`, whose integer padding never wins): for every output neuron
  ``(c, y, x)`` the maximum of the accumulators in its pooling window (padding excluded) plus
  ``bias[c]``. The block sends these values one output bank row (``LANES`` channels at one
  position, :mod:`snngen.hwmodel.blocks.banks` with ``PLANE = OH*OW``) per beat.
* :func:`clear_cycles` and :func:`readout_cycles` are the exact cycle counts of the block's
  header comment (the timing contract); :func:`beat_offer_cycle` says in which cycle after the
  sweep's acceptance edge each value beat first appears on ``m``.
* Accumulator ``(c, h, w)`` lives in lane ``c % LANES`` at bank address
  ``(c // LANES) * H * W + h * W + w``: :func:`snngen.hwmodel.blocks.banks.lane_address` with
  ``PLANE = H * W``, as in ``snn_if_array``.
"""

from __future__ import annotations

import numpy as np

from snngen.hwmodel.blocks import banks
from snngen.ir import kernels
from snngen.ir.graph import MaxPool2d, pool_out

__all__ = [
    "NO_POOL", "READOUT_LATENCY", "Pool", "beat_offer_cycle", "clear_cycles", "eot_offer_cycle",
    "out_shape", "readout", "readout_cycles", "wrap",
]

# (PKH, PKW, PSH, PSW, PPH, PPW), the order of the RTL parameters
Pool = tuple[int, int, int, int, int, int]
NO_POOL: Pool = (1, 1, 1, 1, 0, 0)

# D of the readout contract: NOUT * PKH * PKW + D cycles from the sweep's acceptance edge to the
# EOT transfer edge without stalls (a 3-stage pipeline, P = 3: read, read data registered,
# maximum; plus the output register)
READOUT_LATENCY = 4


def _check_pool(pool: Pool) -> Pool:
    pkh, pkw, psh, psw, pph, ppw = (int(v) for v in pool)
    if min(pkh, pkw, psh, psw) < 1 or not (0 <= pph < pkh and 0 <= ppw < pkw):
        raise ValueError(f"bad pooling (PKH, PKW, PSH, PSW, PPH, PPW) = {pool}: kernel and "
                         "stride must be >= 1, padding 0 .. kernel - 1")
    return pkh, pkw, psh, psw, pph, ppw


def out_shape(shape: tuple[int, int, int], pool: Pool = NO_POOL) -> tuple[int, int, int]:
    """``(C, OH, OW)`` of the readout of a ``(C, H, W)`` accumulator map (the RTL's OH, OW)."""
    c, h, w = shape
    pkh, pkw, psh, psw, pph, ppw = _check_pool(pool)
    oh, ow = pool_out(h, pkh, psh, pph), pool_out(w, pkw, psw, ppw)
    if oh < 1 or ow < 1:
        raise ValueError(f"pooling {pool} does not fit the map {shape}")
    return c, oh, ow


def wrap(x: np.ndarray | int, width: int) -> np.ndarray | int:
    """Two's complement wrap of integers to ``width`` signed bits (what a register holds)."""
    half = 1 << (width - 1)
    return ((np.asarray(x, dtype=np.int64) + half) % (2 * half)) - half


def readout(acc: np.ndarray, bias: np.ndarray, pool: Pool = NO_POOL) -> np.ndarray:
    """The values the block streams out, ``(C, OH, OW)`` int64, in flat order ``m``.

    ``acc`` is the ``(C, H, W)`` accumulator map (int64), ``bias`` the ``C`` biases, ``pool``
    ``(PKH, PKW, PSH, PSW, PPH, PPW)``.
    Unbounded integers: the RTL sends the low ``K_WIDTH`` bits (equal whenever the caller's
    width guarantee holds; :func:`wrap` otherwise)."""
    acc = np.asarray(acc, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    if acc.ndim != 3:
        raise ValueError(f"expected acc (C, H, W), got {acc.shape}")
    pkh, pkw, psh, psw, pph, ppw = _check_pool(pool)
    out_shape(acc.shape, pool)  # the pooling fits the map
    want = (acc.shape[0],)
    if bias.shape != want:
        raise ValueError(f"expected bias {want} for acc {acc.shape}, got {bias.shape}")
    pooled = kernels.maxpool2d(acc[None], MaxPool2d((pkh, pkw), (psh, psw), (pph, ppw)))[0]
    return pooled + bias[:, None, None]


def clear_cycles(shape: tuple[int, int, int], lanes: int) -> int:
    """Busy cycles of a clear of a ``(C, H, W)`` accumulator map in ``lanes`` banks: the bank
    rows, ``ceil(C / lanes) * H * W``."""
    c, h, w = shape
    return banks.bank_rows(c * h * w, lanes, h * w)


def readout_cycles(rows: int, pool: Pool = NO_POOL, stalls: int = 0) -> int:
    """Cycles from the sweep's acceptance edge ``e`` to the EOT transfer edge:
    ``NOUT_ROWS * PKH * PKW + READOUT_LATENCY + stalls`` (``READOUT_LATENCY`` = 4; ``rows``:
    the output bank rows, ``ceil(C/LANES)*OH*OW``; ``stalls``: the cycles with ``m_valid &&
    !m_ready``). The block is busy in all of them and idle right after."""
    pkh, pkw = _check_pool(pool)[:2]
    return rows * pkh * pkw + READOUT_LATENCY + stalls


def beat_offer_cycle(m: int, pool: Pool = NO_POOL, stalls_before: int = 0) -> int:
    """The cycle ``k`` after the sweep's acceptance edge ``e`` (cycle ``k`` lies between edges
    ``e + k - 1`` and ``e + k``) in which the beat of output row ``m`` first shows on ``m``:
    it is loaded at edge ``e + READOUT_LATENCY - 2 + (m + 1) * PKH * PKW + stalls_before``
    (``e + 2 + ...``), where ``stalls_before`` counts the stall cycles before cycle ``k``."""
    pkh, pkw = _check_pool(pool)[:2]
    return (m + 1) * pkh * pkw + READOUT_LATENCY - 1 + stalls_before


def eot_offer_cycle(rows: int, pool: Pool = NO_POOL, stalls_before: int = 0) -> int:
    """The cycle after ``e`` in which the EOT beat first shows: it is loaded at edge
    ``e + NOUT_ROWS * PKH * PKW + READOUT_LATENCY - 1 + stalls_before`` (``... + 3 + ...``;
    one slot after the last window position)."""
    pkh, pkw = _check_pool(pool)[:2]
    return rows * pkh * pkw + READOUT_LATENCY + stalls_before

