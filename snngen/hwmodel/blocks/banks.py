"""Model of the lane banks shared by ``snn_if_array`` and ``snn_accum``: where a neuron lives.

A population of ``N = CH * PLANE`` neurons (``CH`` channels of ``PLANE`` neurons each, flat index
``n = ch * PLANE + p``; a dense layer has ``PLANE = 1``) is split over ``LANES`` banks by
channel: channel ``ch`` belongs to lane ``ch % LANES``, and its neuron ``p`` sits at bank
address ``(ch // LANES) * PLANE + p``. So the ``LANES`` neurons ``(g*LANES + k, p)``,
``k = 0 .. LANES-1``, of one channel group ``g`` share one bank address, and one input event
that reaches position ``p`` of every channel fills every lane at one address (the router's
issue slot, :mod:`snngen.hwmodel.blocks.router`). Each bank has
``ceil(CH / LANES) * PLANE`` rows: the total grows with the lanes only by rounding ``CH`` up to
a multiple of ``LANES``.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["bank_rows", "check_plane", "emission_order", "k_rows", "k_rows_of", "k_values",
           "lane_address", "lane_rows", "neuron_at", "sweep_rows"]


def check_plane(n: int, plane: int) -> int:
    """``CH = n // plane`` after checking that ``plane`` divides ``n``."""
    n, plane = operator.index(n), operator.index(plane)
    if plane < 1 or n < 1 or n % plane:
        raise ValueError(f"PLANE = {plane} must be >= 1 and divide N = {n}")
    return n // plane


def bank_rows(n: int, lanes: int, plane: int = 1) -> int:
    """Rows of every bank: ``ceil(CH / LANES) * PLANE`` (also a clear's busy cycles)."""
    ch = check_plane(n, plane)
    return -(-ch // lanes) * plane


def lane_address(n: int, lanes: int, plane: int = 1) -> tuple[int, int]:
    """``(lane, bank address)`` of neuron ``n``: ``(ch % LANES, (ch // LANES) * PLANE + p)``
    with ``ch, p = divmod(n, PLANE)``."""
    ch, p = divmod(operator.index(n), plane)
    return ch % lanes, (ch // lanes) * plane + p


def neuron_at(lane: int, address: int, lanes: int, plane: int = 1) -> int:
    """The neuron at ``address`` of bank ``lane`` (the inverse of :func:`lane_address`):
    channel ``(address // PLANE) * LANES + lane`` at position ``address % PLANE``."""
    g, p = divmod(operator.index(address), plane)
    return (g * lanes + operator.index(lane)) * plane + p


def lane_rows(n: int, lanes: int, plane: int, lane: int) -> int:
    """Rows of bank ``lane`` that hold a neuron: its channels times ``PLANE`` (rows
    ``0 .. lane_rows - 1``)."""
    ch = check_plane(n, plane)
    return len(range(lane, ch, lanes)) * plane


def emission_order(n: int, lanes: int, plane: int = 1) -> list[int]:
    """The neurons in the order a sweep visits them (and emits their spikes): bank row by bank
    row, lanes ascending within a row. For ``PLANE = 1`` (a dense layer) this is ``0 .. N-1``."""
    ch = check_plane(n, plane)
    return [neuron_at(lane, row, lanes, plane)
            for row in range(bank_rows(n, lanes, plane)) for lane in range(lanes)
            if (row // plane) * lanes + lane < ch]


def sweep_rows(spikes, n: int, lanes: int, plane: int = 1) -> np.ndarray:
    """Spikes per bank row (``s_r``, int64, one entry per row) of one timestep whose spiking
    neurons are ``spikes`` (indices); the sweep takes ``max(1, s_r)`` cycles for row ``r``."""
    ch, pos = np.divmod(np.asarray(spikes, dtype=np.int64).reshape(-1), plane)
    return np.bincount((ch // lanes) * plane + pos, minlength=bank_rows(n, lanes, plane))


def k_rows(values, lanes: int, plane: int, width: int) -> list[int]:
    """The IF array's K memory: one unsigned word of ``lanes * width`` bits per bank row, field
    ``j`` (bits ``j*width`` up) the ``width``-bit two's complement K of the neuron at that row of
    bank ``j``, 0 where there is none. ``values`` are the ``N`` K values in neuron order."""
    rows = [[0] * lanes for _ in range(bank_rows(len(values), lanes, plane))]
    for i, v in enumerate(values):
        lane, row = lane_address(i, lanes, plane)
        rows[row][lane] = int(v)
    return [k_rows_of(r, width) for r in rows]


def k_values(words, n: int, lanes: int, plane: int, width: int) -> list[int]:
    """The inverse of :func:`k_rows`: the ``N`` signed K values in neuron order."""
    half = 1 << (width - 1)
    out = []
    for i in range(n):
        lane, row = lane_address(i, lanes, plane)
        f = (int(words[row]) >> (lane * width)) & ((1 << width) - 1)
        out.append(f - 2 * half if f >= half else f)
    return out


def k_rows_of(values, width: int) -> int:
    """One K row word from its ``LANES`` field values (field ``j`` = ``values[j]``)."""
    mask = (1 << width) - 1
    word = 0
    for j, v in enumerate(values):
        word |= (int(v) & mask) << (j * width)
    return word
