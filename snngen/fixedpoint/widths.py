"""Width analysis: sound worst-case ranges of every current and membrane of an integer network.

Interval arithmetic over the quantised graph (:mod:`snngen.fixedpoint.quantize`), for at most
``max_timesteps`` steps, assuming nothing about the input but its format: every input spike may
or may not occur at every step, every pixel may take any value of its width. For each IF
population it tracks, per neuron, the interval of the membrane after every step and takes the
hull of everything the membrane register holds on the way (docs/semantics.md, "Register ranges"):

* while the events of a timestep arrive, in any order: ``v + (any subset of the event
  contributions)``, i.e. ``[L + neg, U + pos]`` with ``neg``/``pos`` the sums of the
  negative/positive contributions;
* after the end-of-timestep update (bias and constant current added):
  ``[L + I_lo, U + I_hi]``;
* after compare and subtract, the image of that interval under ``v -> v - theta if v >= theta``;
  after the clamp, ``max(., v_min)``.

The intervals are exact for one step; over many steps they are the hull of what can happen, so
the widths are safe and at most a bit or so wider than the worst case an adversarial input could
reach. Without a lower clamp the negative bound grows with T; with one it is independent of T.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from snngen.convert.passes import static_nodes
from snngen.fixedpoint.formats import Fixed, bits_for, integer_format
from snngen.ir import kernels
from snngen.ir.graph import (
    IF,
    LINEAR_OPS,
    Add,
    AvgPool2d,
    Concat,
    Conv2d,
    Flatten,
    Graph,
    Input,
    Linear,
    MaxPool2d,
)


class WidthError(ValueError):
    """A requested width is smaller than the analysis proves necessary; names the layer."""


class ProvenFormats(dict):
    """What :func:`analyze` returns: IF population -> :class:`LayerFormat`, plus the
    ``max_timesteps`` the ranges were proven for, so that a simulation checked against them
    (``snngen.golden.sim.simulate(..., check=net.formats)``) can refuse a longer run instead of
    checking against ranges that do not hold for it."""

    def __init__(self, formats=(), max_timesteps: int | None = None) -> None:
        super().__init__(formats)
        self.max_timesteps = max_timesteps


@dataclass(frozen=True)
class LayerFormat:
    """The formats of one IF population and of the synapses feeding it."""

    layer: str
    weight: Fixed
    bias: Fixed | None              # None: no bias
    threshold: int
    v0: int
    v_min: int | None
    current: tuple[int, int]        # range of the whole input current of one timestep
    membrane_range: tuple[int, int]  # every value the membrane register may hold, t <= T
    membrane: Fixed
    accumulator: Fixed | None       # the once-per-image sum of a constant (analog) current

    def to_dict(self) -> dict:
        return {
            "layer": self.layer, "weight": self.weight.to_dict(),
            "bias": None if self.bias is None else self.bias.to_dict(),
            "threshold": self.threshold, "v0": self.v0, "v_min": self.v_min,
            "current": list(self.current), "membrane_range": list(self.membrane_range),
            "membrane": self.membrane.to_dict(),
            "accumulator": None if self.accumulator is None else self.accumulator.to_dict(),
        }

    @staticmethod
    def from_dict(d: dict) -> LayerFormat:
        opt = lambda v: None if v is None else Fixed.from_dict(v)  # noqa: E731
        return LayerFormat(d["layer"], Fixed.from_dict(d["weight"]), opt(d["bias"]),
                           int(d["threshold"]), int(d["v0"]),
                           None if d["v_min"] is None else int(d["v_min"]),
                           (int(d["current"][0]), int(d["current"][1])),
                           (int(d["membrane_range"][0]), int(d["membrane_range"][1])),
                           Fixed.from_dict(d["membrane"]), opt(d["accumulator"]))


@dataclass
class _Range:
    lo: np.ndarray
    hi: np.ndarray
    neg: np.ndarray | None = None   # sums of negative / positive event contributions
    pos: np.ndarray | None = None


def _split(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(w, 0), np.minimum(w, 0)


def _apply(op, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``op`` with weights (or gains) ``w`` and no bias, on one sample ``x``."""
    if isinstance(op, Conv2d):
        return kernels.conv2d(x[None], Conv2d(w, None, op.stride, op.padding))[0]
    if isinstance(op, Linear):
        return kernels.linear(x[None], Linear(w, None))[0]
    return kernels.avgpool2d(x[None], replace(op, gain=w))[0]


def _linear_range(node, r: _Range) -> tuple[np.ndarray, ...]:
    """A Conv/Linear/AvgPool over non-negative inputs in ``[r.lo, r.hi]``: the range of its
    output, the extreme sums of its negative / positive terms, and its bias (all per output)."""
    op = node.op
    w = op.gain if isinstance(op, AvgPool2d) else op.weight
    wp, wn = _split(w)
    bias = np.zeros(node.shape, np.int64)
    if not isinstance(op, AvgPool2d) and op.bias is not None:
        bias = bias + op.bias.reshape((-1,) + (1,) * (len(node.shape) - 1))
    pos, neg = _apply(op, r.hi, wp), _apply(op, r.hi, wn)
    hi = pos + _apply(op, r.lo, wn) + bias
    lo = _apply(op, r.lo, wp) + neg + bias
    return lo, hi, neg, pos, bias


def analyze(graph: Graph, max_timesteps: int, input_mode: str = "analog"
            ) -> dict[str, LayerFormat]:
    """Formats of every IF population of the integer ``graph`` for up to ``max_timesteps``."""
    if max_timesteps < 1:
        raise ValueError(f"max_timesteps must be positive, got {max_timesteps}")
    static = static_nodes(graph) if input_mode == "analog" else set()
    r: dict[str, _Range] = {}
    accum: dict[str, tuple[int, int]] = {}  # static linear op -> partial-sum range
    formats: dict[str, LayerFormat] = {}
    z = np.zeros
    for n in graph:
        op = n.op
        if isinstance(op, Input):
            if op.bits is None:
                raise ValueError("the graph is not quantised (its input has no width)")
            hi = (1 << op.bits) - 1 if input_mode == "analog" else 1
            r[n.name] = _Range(z(n.shape, np.int64), np.full(n.shape, hi, np.int64))
        elif isinstance(op, LINEAR_OPS):
            lo, hi, neg, pos, bias = _linear_range(n, r[n.inputs[0]])
            if n.name in static:
                # summed once per image in an accumulator of its own, then added whole
                accum[n.name] = (int((neg + np.minimum(bias, 0)).min()),
                                 int((pos + np.maximum(bias, 0)).max()))
                r[n.name] = _Range(lo, hi, z(n.shape, np.int64), z(n.shape, np.int64))
            else:
                r[n.name] = _Range(lo, hi, neg, pos)
        elif isinstance(op, Add):
            lo = hi = neg = pos = 0
            for g, i in zip(op.gains, n.inputs, strict=True):
                src = r[i]
                gp, gn = _split(np.asarray(g))
                lo = lo + gp * src.lo + gn * src.hi
                hi = hi + gp * src.hi + gn * src.lo
                if src.neg is not None:  # a current: its events, scaled
                    neg = neg + gp * src.neg + gn * src.pos
                    pos = pos + gp * src.pos + gn * src.neg
                elif i not in static:  # a spike tensor added directly: one event per spike
                    neg = neg + gn * src.hi
                    pos = pos + gp * src.hi
            shape = n.shape
            r[n.name] = _Range(*(np.broadcast_to(v, shape).astype(np.int64)
                                 for v in (lo, hi, neg, pos)))
        elif isinstance(op, MaxPool2d):
            src = r[n.inputs[0]]
            if src.neg is None and n.inputs[0] in static:
                # analog pixels (or a max-pool of them): the window maximum, once per image
                # (docs/semantics.md §4), a pixel level like its inputs, not a 0/1 spike
                r[n.name] = _Range(kernels.maxpool2d(src.lo[None], op)[0],
                                   kernels.maxpool2d(src.hi[None], op)[0])
            elif src.neg is None:  # the spiking gate: 0 or 1
                r[n.name] = _Range(z(n.shape, np.int64), np.ones(n.shape, np.int64))
            else:  # max of a constant current: added to the membrane in one piece
                lo = kernels.maxpool2d(src.lo[None], op)[0]
                hi = kernels.maxpool2d(src.hi[None], op)[0]
                r[n.name] = _Range(lo, hi, z(n.shape, np.int64), z(n.shape, np.int64))
        elif isinstance(op, Flatten):
            src = r[n.inputs[0]]
            r[n.name] = _Range(*(None if v is None else v.reshape(-1)
                                 for v in (src.lo, src.hi, src.neg, src.pos)))
        elif isinstance(op, Concat):
            srcs = [r[i] for i in n.inputs]
            r[n.name] = _Range(np.concatenate([s.lo for s in srcs]),
                               np.concatenate([s.hi for s in srcs]))
        elif isinstance(op, IF):
            formats[n.name] = _if_format(graph, n, r[n.inputs[0]], max_timesteps, accum)
            hi = 1 if op.spiking else 0
            r[n.name] = _Range(z(n.shape, np.int64), np.full(n.shape, hi, np.int64))
        else:
            raise ValueError(f"{n.name}: {type(op).__name__} has no integer semantics")
    return ProvenFormats(formats, max_timesteps)


def _if_format(graph: Graph, n, cur: _Range, t_max: int, accum) -> LayerFormat:
    from snngen.fixedpoint.quantize import synapses

    op = n.op
    theta, v0, vmin = int(op.threshold), int(op.v0), op.v_min
    i_lo, i_hi = cur.lo.astype(np.int64), cur.hi.astype(np.int64)
    neg, pos = cur.neg, cur.pos
    lo = np.full(n.shape, v0, np.int64)
    hi = lo.copy()
    reg_lo, reg_hi = v0, v0
    for _ in range(t_max):
        reg_lo = min(reg_lo, int((lo + np.minimum(neg, i_lo)).min()))
        reg_hi = max(reg_hi, int((hi + np.maximum(pos, i_hi)).max()))
        a, b = lo + i_lo, hi + i_hi
        if op.spiking:
            new_lo = np.where(b < theta, a, np.where(a >= theta, a - theta, np.minimum(a, 0)))
            new_hi = np.where(b < theta, b,
                              np.where(a >= theta, b - theta, np.maximum(theta - 1, b - theta)))
        else:
            new_lo, new_hi = a, b
        if vmin is not None:
            new_lo, new_hi = np.maximum(new_lo, vmin), np.maximum(new_hi, vmin)
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break  # a fixed point: later steps add nothing
        lo, hi = new_lo, new_hi
    reg_lo, reg_hi = min(reg_lo, int(lo.min())), max(reg_hi, int(hi.max()))
    edges = synapses(graph, n.name)
    wbits, biases, acc = 2, [], None
    for name, i in edges:
        e = graph[name].op
        w = e.gains[i] if i is not None else (e.gain if isinstance(e, AvgPool2d) else e.weight)
        wbits = max(wbits, bits_for(int(np.min(w)), int(np.max(w))))
        if not isinstance(e, (Add, AvgPool2d)) and e.bias is not None:
            biases.append(e.bias)
        if name in accum:
            a_lo, a_hi = accum[name]
            acc = (a_lo, a_hi) if acc is None else (min(acc[0], a_lo), max(acc[1], a_hi))
    bias = None
    if biases:
        b = np.concatenate([x.reshape(-1) for x in biases])
        bias = integer_format(int(b.min()), int(b.max()))
    return LayerFormat(
        n.name, Fixed(wbits), bias, theta, v0, vmin,
        (int(i_lo.min()), int(i_hi.max())), (reg_lo, reg_hi),
        integer_format(reg_lo, reg_hi), None if acc is None else integer_format(*acc))


def check_membrane_bits(formats: Mapping[str, LayerFormat], requested: int | Mapping[str, int],
                        max_timesteps: int) -> None:
    """Refuse a requested membrane width narrower than the analysis needs, naming the layer."""
    for name, f in formats.items():
        want = requested if isinstance(requested, int) else requested.get(name)
        if want is not None and want < f.membrane.width:
            raise WidthError(
                f"{name}: the membrane needs {f.membrane.width} bits for up to {max_timesteps} "
                f"timesteps (range {f.membrane_range[0]}..{f.membrane_range[1]}), but "
                f"{want} were requested; allow more bits, fewer timesteps, or a lower clamp "
                f"(--v-min)")
