"""Model of ``snngen/backends/verilog/rtl/snn_maxpool_gate.v``: the spiking max-pool gate
(semantics.md §4).

* :func:`gate_step` is one timestep of the gate, written as the hardware does it (a direct
  loop over the output neurons in ascending flat order and, per output, over its window
  positions in row-major order, keeping the largest count and whether a position holding it
  spiked now), independently of :func:`snngen.golden.model.maxpool_gate`;
* :func:`sweep_order` lists the sweep's slots (one per window position, padding included);
* :func:`clear_cycles`, :func:`collect_cycles` and :func:`sweep_cycles` are the block's exact
  cycle counts (the contract in the Verilog header);
* :class:`GateGeometry` holds the pooling geometry and gives the Verilog parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SWEEP_LATENCY", "GateGeometry", "clear_cycles", "cnt_width", "collect_cycles",
    "event_offer_cycle", "gate_step", "sweep_cycles", "sweep_order",
]

# D: cycles of a sweep beyond one per window position (start, RAM read latency, output register)
SWEEP_LATENCY = 3


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


@dataclass(frozen=True)
class GateGeometry:
    """A max-pool gate over a ``C x H x W`` map: kernel ``(KH, KW)``, stride, zero padding."""

    C: int
    H: int
    W: int
    KH: int
    KW: int
    SH: int
    SW: int
    PH: int = 0
    PW: int = 0

    @classmethod
    def make(cls, shape: tuple[int, int, int], kernel: int | tuple[int, int],
             stride: int | tuple[int, int] | None = None,
             padding: int | tuple[int, int] = 0) -> GateGeometry:
        """From an input shape and torch-style kernel/stride (default: kernel)/padding."""
        (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
        sh, sw = _pair(stride) if stride is not None else (kh, kw)
        c, h, w = shape
        return cls(c, h, w, kh, kw, sh, sw, ph, pw)

    def __post_init__(self) -> None:
        if min(self.C, self.H, self.W, self.KH, self.KW, self.SH, self.SW) < 1:
            raise ValueError(f"sizes, kernel and stride must be positive: {self}")
        if not (0 <= self.PH < self.KH and 0 <= self.PW < self.KW):
            raise ValueError(f"padding must be 0 .. kernel - 1: {self}")
        if self.KH > self.H + 2 * self.PH or self.KW > self.W + 2 * self.PW:
            raise ValueError(f"the window does not fit the padded map: {self}")

    @property
    def OH(self) -> int:
        return _out(self.H, self.KH, self.SH, self.PH)

    @property
    def OW(self) -> int:
        return _out(self.W, self.KW, self.SW, self.PW)

    @property
    def n_in(self) -> int:
        return self.C * self.H * self.W

    @property
    def n_out(self) -> int:
        return self.C * self.OH * self.OW

    @property
    def slots(self) -> int:
        """P: window positions the sweep visits, padding included."""
        return self.n_out * self.KH * self.KW

    def verilog_params(self, cnt_width: int) -> dict[str, int]:
        """The parameters of ``snn_maxpool_gate`` (index widths at their minimum)."""
        return dict(C=self.C, H=self.H, W=self.W, KH=self.KH, KW=self.KW, SH=self.SH,
                    SW=self.SW, PH=self.PH, PW=self.PW, OH=self.OH, OW=self.OW,
                    CNT_WIDTH=cnt_width,
                    IN_INDEX_WIDTH=max(1, (self.n_in - 1).bit_length()),
                    OUT_INDEX_WIDTH=max(1, (self.n_out - 1).bit_length()))


def cnt_width(max_timesteps: int) -> int:
    """The smallest CNT_WIDTH for images of up to ``max_timesteps`` (T < 2^CNT_WIDTH)."""
    if max_timesteps < 1:
        raise ValueError("max_timesteps must be at least 1")
    return int(max_timesteps).bit_length()


def sweep_order(g: GateGeometry) -> list[tuple[int, int | None]]:
    """The sweep's slots in order: ``(output index, input index or None for padding)``."""
    slots: list[tuple[int, int | None]] = []
    for c in range(g.C):
        for y in range(g.OH):
            for x in range(g.OW):
                o = (c * g.OH + y) * g.OW + x
                for ky in range(g.KH):
                    for kx in range(g.KW):
                        h, w = y * g.SH + ky - g.PH, x * g.SW + kx - g.PW
                        inside = 0 <= h < g.H and 0 <= w < g.W
                        slots.append((o, (c * g.H + h) * g.W + w if inside else None))
    return slots


def gate_step(spikes: np.ndarray, counts: np.ndarray, kernel: int | tuple[int, int],
              stride: int | tuple[int, int] | None = None,
              padding: int | tuple[int, int] = 0) -> tuple[np.ndarray, np.ndarray]:
    """One timestep: ``spikes`` ``(C, H, W)`` bool (this timestep's input spikes), ``counts``
    ``(C, H, W)`` int64 (spike counts *before* this timestep) -> ``(out (C, OH, OW) bool,
    new counts)``. ``counts`` is not modified."""
    spikes = np.asarray(spikes, dtype=bool)
    if spikes.ndim != 3 or np.shape(counts) != spikes.shape:
        raise ValueError(f"spikes {spikes.shape} and counts {np.shape(counts)} must be (C, H, W)")
    g = GateGeometry.make(spikes.shape, kernel, stride, padding)
    new = np.asarray(counts, dtype=np.int64) + spikes
    flat_s, flat_c = spikes.reshape(-1), new.reshape(-1)
    out = np.zeros(g.n_out, dtype=bool)
    best, hit = 0, False
    k = g.KH * g.KW
    for slot, (o, i) in enumerate(sweep_order(g)):
        if i is not None:
            cnt, spk = int(flat_c[i]), bool(flat_s[i])
            if cnt > best:
                best, hit = cnt, spk
            elif cnt == best:
                hit = hit or spk
        if slot % k == k - 1:  # end of output o's window
            out[o] = hit
            best, hit = 0, False
    return out.reshape(g.C, g.OH, g.OW), new


def clear_cycles(g: GateGeometry) -> int:
    """A clear accepted at edge e: idle again right after edge ``e + C*H*W``."""
    return g.n_in


def collect_cycles(events: int) -> int:
    """Cycles to deliver ``events`` input events and the EOT beat with ``s_valid`` held high."""
    return events + 1


def sweep_cycles(g: GateGeometry, stalls: int = 0) -> int:
    """From the edge accepting the input EOT to the edge transferring the output EOT:
    ``C*OH*OW*KH*KW + 3`` plus one per stall cycle (``m_valid && !m_ready``)."""
    return g.slots + SWEEP_LATENCY + stalls


def event_offer_cycle(g: GateGeometry, o: int, stalls_before: int = 0) -> int:
    """Output ``o``'s event (if it spikes) is on ``m`` from edge ``e + 1 + (o+1)*KH*KW +
    stalls_before`` on (``e`` the edge accepting the input EOT); the return value counts edges
    after ``e``."""
    return 1 + (o + 1) * g.KH * g.KW + stalls_before
