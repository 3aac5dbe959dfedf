"""Bit-width-aware quantisation: a converted (float, threshold-1) spiking graph -> integers.

The normalisation decides the *ratios* of weights to thresholds; the bit width decides the
*resolution*. For every IF population ``l`` the quantiser collects every weight that feeds it (its
synapses): Conv/Linear weights, AvgPool gains, and the gains of spike tensors added directly
(residual). Each weight is first expressed per unit of the integer its source carries (a spike
carries 1; an analog pixel carries ``q`` in ``0 .. 2**input_bits - 1`` standing for
``q / (2**input_bits - 1)``). Then one scale ``u_l`` per population makes the largest magnitude
exactly ``2**(bits-1) - 1``:

    W_int = round(W * u_l)     b_int = round(b * u_l)     threshold = round(u_l)
    v0 = round(v0_float * threshold)                     v_min = round(v_min_float * threshold)

``round`` is :func:`snngen.fixedpoint.formats.round_half_away` (halves away from zero) everywhere.
Biases, thresholds and membranes get their own widths from :mod:`snngen.fixedpoint.widths`; only
weights are held to ``bits``. Per-layer widths are set with ``weight_bits={"layer": bits}`` where
"layer" is the IF population or any Conv/Linear/AvgPool feeding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from snngen.convert.passes import kinds, static_nodes
from snngen.fixedpoint.formats import round_half_away
from snngen.ir.graph import IF, LINEAR_OPS, Add, AvgPool2d, Graph, Input, MaxPool2d, build


class QuantizationError(ValueError):
    """The network cannot be quantised as asked; the message names the layer."""


@dataclass(frozen=True)
class LayerQuant:
    """What quantisation did to one IF population and the synapses feeding it."""

    layer: str
    sources: tuple[str, ...]    # the ops whose weights were scaled (linear ops, Adds)
    weight_bits: int
    scale: float                # u_l: integer units per float unit
    threshold: int
    v0: int
    v_min: int | None
    weight_error: float         # RMS of (W_int / u - W) over RMS of W


# A layer whose relative weight error (``LayerQuant.weight_error``, the "weight err %" column of
# `snngen convert`) exceeds this is reported with a warning. Uniform rounding to steps of
# ``wmax / (2**(bits-1) - 1)`` leaves an RMS error of step/sqrt(12); measured on the digits
# example, 4-bit weights give at most 19.5% per layer and lose 4-5 accuracy points, 3-bit
# weights 26-44% and lose ~20 points, 2-bit 71-89% and fall to chance. 25% separates the widths
# that degrade gracefully from those that break the network.
WEIGHT_ERROR_WARNING = 0.25


def input_levels(bits: int) -> int:
    """The largest input integer: intensities 0..1 map to 0..2**bits - 1."""
    return (1 << bits) - 1


def quantize_input(x: np.ndarray, bits: int) -> np.ndarray:
    """Intensities in [0, 1] -> unsigned ``bits``-bit integers (round half away from zero)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise QuantizationError(f"input intensities must lie in [0, 1] to be quantised to "
                                f"{bits} bits; got [{x.min():.3g}, {x.max():.3g}]")
    # round half away from zero (round_half_away) of values >= 0 is floor(v + 1/2): the same
    # integers, without the sign and magnitude passes
    return np.floor(x * input_levels(bits) + 0.5).astype(np.int64)


def synapses(graph: Graph, layer: str) -> list[tuple[str, int | None]]:
    """The weighted edges feeding IF ``layer``: ``(op, None)`` for a Conv/Linear/AvgPool,
    ``(add, i)`` for input ``i`` of an Add that is a spike tensor (a residual gain)."""
    k = kinds(graph)
    out: list[tuple[str, int | None]] = []

    def walk(name: str) -> None:
        node = graph[name]
        if isinstance(node.op, LINEAR_OPS):
            out.append((name, None))
        elif isinstance(node.op, Add):
            for i, src in enumerate(node.inputs):
                if k[src] == "current":
                    walk(src)
                else:
                    out.append((name, i))
        elif isinstance(node.op, MaxPool2d):  # max-pooling of a constant current
            walk(node.inputs[0])
        else:
            raise QuantizationError(f"{layer}: unexpected {type(node.op).__name__} {name!r} "
                                    f"in its input current")

    walk(graph[layer].inputs[0])
    return out


def _bits_for(layer: str, srcs: list[str], weight_bits: int | Mapping[str, int]) -> int:
    if isinstance(weight_bits, int):
        bits = weight_bits
    else:
        named = [weight_bits[n] for n in (layer, *srcs) if n in weight_bits]
        if len(set(named)) > 1:
            raise QuantizationError(f"{layer}: conflicting weight widths {named} for one layer")
        bits = named[0] if named else weight_bits.get("*", 8)
    if not 2 <= bits <= 32:
        raise QuantizationError(f"{layer}: weight width must be 2..32 bits, got {bits}")
    return bits


def quantize(graph: Graph, weight_bits: int | Mapping[str, int] = 8, input_bits: int = 8,
             input_mode: str = "analog") -> tuple[Graph, tuple[LayerQuant, ...]]:
    """Quantise a converted spiking graph; return the integer graph and a per-layer record.

    ``weight_bits`` is one width for every layer or a mapping (layer or op name -> bits, with
    ``"*"`` for the rest, default 8). Unknown names in the mapping are an error.
    """
    if not 1 <= input_bits <= 16:
        raise QuantizationError(f"input width must be 1..16 bits, got {input_bits}")
    ifs = [n for n in graph if isinstance(n.op, IF)]
    if not ifs:
        raise QuantizationError("the graph has no IF populations: convert it first")
    if not isinstance(weight_bits, int):
        known = {n.name for n in graph}
        unknown = sorted(set(weight_bits) - known - {"*"})
        if unknown:
            raise QuantizationError(f"--layer-bits names unknown layers {unknown}; layers are "
                                    f"{[n.name for n in ifs]}")
    static = static_nodes(graph) if input_mode == "analog" else set()
    levels = input_levels(input_bits)

    def unit(src: str) -> float:
        # what one integer step of the source stands for: a spike is 1, a pixel step 1/levels
        return 1.0 / levels if src in static else 1.0

    new_ops: dict[str, object] = {}
    records = []
    for layer in ifs:
        edges = synapses(graph, layer.name)
        srcs = sorted({e for e, _ in edges})
        bits = _bits_for(layer.name, srcs, weight_bits)
        # every weight, expressed per integer step of its source
        per_step: dict[tuple[str, int | None], np.ndarray] = {}
        for name, i in edges:
            op = graph[name].op
            if i is None:
                w = op.gain if isinstance(op, AvgPool2d) else op.weight
                per_step[(name, i)] = np.asarray(w) * unit(graph[name].inputs[0])
            else:
                g = np.asarray(op.gains[i]) if op.gains else np.asarray(1.0)
                per_step[(name, i)] = g * unit(graph[name].inputs[i])
        wmax = max(float(np.abs(w).max(initial=0)) for w in per_step.values())
        if wmax == 0:
            # name the Conv/Linear (or Add) that holds the zeros, as the user's model names it:
            # the IF population is a name the converter made up
            raise QuantizationError(f"layer {', '.join(srcs)}: every weight is zero (it feeds IF "
                                    f"population {layer.name}): there is no scale to quantise "
                                    f"its weights to")
        u = ((1 << (bits - 1)) - 1) / wmax
        theta = int(round_half_away(u * layer.op.threshold))
        if theta < 1:
            # the largest weight is more than twice the threshold's worth of weight steps
            need = bits
            while round_half_away(((1 << (need - 1)) - 1) / wmax * layer.op.threshold) < 1:
                need += 1
            raise QuantizationError(
                f"{layer.name}: with {bits}-bit weights its threshold rounds to 0 (the largest "
                f"synaptic weight is {wmax:.3g} thresholds); it needs at least {need}-bit weights")
        num = den = 0.0
        for (name, i), w in per_step.items():
            wq = round_half_away(w * u)
            num += float(((wq / u - w) ** 2).sum())
            den += float((w ** 2).sum())
            op = new_ops.get(name, graph[name].op)
            if isinstance(op, Add):
                # currents arrive already in this layer's integer units: gain 1
                gains = list(op.gains) if name in new_ops else \
                    [np.asarray(1, dtype=np.int64)] * len(graph[name].inputs)
                gains[i] = wq
                op = Add(tuple(gains))
            elif isinstance(op, AvgPool2d):
                op = replace(op, gain=wq)
            else:
                bias = None if op.bias is None else round_half_away(op.bias * u)
                op = replace(op, weight=wq, bias=bias)
            new_ops[name] = op
        rel = float(np.sqrt(num / den)) if den else 0.0
        f = layer.op
        v0 = int(round_half_away(f.v0 / f.threshold * theta))
        vmin = None if f.v_min is None else int(round_half_away(f.v_min / f.threshold * theta))
        new_ops[layer.name] = IF(theta, v0, f.output, f.spiking, vmin)
        records.append(LayerQuant(layer.name, tuple(srcs), bits, u, theta, v0, vmin, rel))
    specs = []
    for n in graph:
        op = new_ops.get(n.name, n.op)
        if isinstance(op, Input):
            op = Input(op.shape, input_bits)
        elif isinstance(op, Add) and n.name not in new_ops:
            op = Add(tuple(np.asarray(1, dtype=np.int64) for _ in n.inputs))
        specs.append((n.name, op, n.inputs))
    return build(specs, graph.output), tuple(records)
