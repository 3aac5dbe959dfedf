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

__all__ = ["bank_rows", "check_plane", "lane_address", "lane_rows", "neuron_at"]


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
