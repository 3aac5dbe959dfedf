"""A small typed, immutable graph IR for convolutional networks and their spiking versions.

A :class:`Graph` is a DAG of :class:`Node` s in topological order. Each node carries an operation
(a frozen dataclass from this module), the names of its input nodes and its inferred per-sample
output shape (``(C, H, W)`` for feature maps, ``(F,)`` for vectors; the batch axis never appears).

The same IR describes the network at every stage:

* straight from a frontend: ``Conv2d``, ``Linear``, ``BatchNorm``, ``ReLU``, ``AvgPool2d``,
  ``MaxPool2d``, ``Flatten``, ``Concat``, ``Add``, ``Identity``, ``Softmax``;
* after the conversion passes (:mod:`snngen.convert.passes`): ``BatchNorm``/``Identity``/``Softmax``
  are gone, every ReLU has become an :class:`IF` population and the output layer has an
  :class:`IF` population of its own.

This module imports neither torch nor any backend. Arrays are numpy ``float64``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np


class GraphError(ValueError):
    """A graph is malformed (unknown input, cycle, shape mismatch, ...)."""


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """The network input, one sample of ``shape``.

    ``bits`` is None in a float graph; in a quantised graph the input is unsigned ``bits``-bit
    integers ``q`` standing for intensities ``q / (2**bits - 1)``.
    """

    shape: tuple[int, ...]
    bits: int | None = None


@dataclass(frozen=True, eq=False)
class Conv2d:
    """2-D convolution (cross-correlation), ``groups=1``; ``weight`` is ``(O, I, KH, KW)``."""

    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


@dataclass(frozen=True, eq=False)
class Linear:
    """Dense layer ``y = W x + b``; ``weight`` is ``(O, I)``."""

    weight: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Inference-mode batch normalisation over the channel (first) axis; folded away by a pass."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


@dataclass(frozen=True)
class ReLU:
    """``max(x, 0)``; with ``clip`` and ``levels``, the clip-floor-shift activation of
    conversion-aware training (QCFS, :mod:`snngen.training`):
    ``clip * clamp(floor(x * levels / clip + 1/2), 0, levels) / levels``. Conversion then takes
    ``clip`` (learned) as the layer's scale, i.e. its threshold, instead of a percentile."""

    clip: float | None = None
    levels: int | None = None

    def __post_init__(self) -> None:
        if (self.clip is None) != (self.levels is None):
            raise GraphError("a clip-floor ReLU needs both clip and levels")
        if self.clip is not None:
            if not (np.isfinite(self.clip) and self.clip > 0):
                raise GraphError(f"clip must be a positive finite number, got {self.clip}")
            if isinstance(self.levels, bool) or int(self.levels) != self.levels \
                    or self.levels < 1:
                raise GraphError(f"levels must be a positive integer, got {self.levels}")
            object.__setattr__(self, "clip", float(self.clip))
            object.__setattr__(self, "levels", int(self.levels))


@dataclass(frozen=True, eq=False)
class AvgPool2d:
    """Average pooling as a linear layer: ``y[c] = gain[c] * sum(window of x[c])``.

    ``gain`` starts at ``1 / (kh * kw)`` (zero padding counts in the divisor, as PyTorch's
    default ``count_include_pad=True``) and is rescaled per channel by weight normalisation.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    gain: np.ndarray  # (C,)


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling. On spikes it becomes the spiking max-pool gate (docs/conversion.md)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Flatten:
    """Row-major (C, H, W) -> (C*H*W,), as ``torch.flatten(x, 1)``."""


@dataclass(frozen=True)
class Concat:
    """Concatenation along the channel (first per-sample) axis."""


@dataclass(frozen=True, eq=False)
class Add:
    """Element-wise sum of the inputs, input ``i`` multiplied by ``gains[i]``.

    ``gains[i]`` is a scalar or an array broadcastable to the output shape; it is 1 before
    normalisation and becomes the ratio of scales when a spiking tensor is added directly to a
    current (a residual connection).
    """

    gains: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class Identity:
    """No-op (Dropout, nn.Identity): removed by a pass."""


@dataclass(frozen=True)
class Softmax:
    """A final softmax: dropped by a pass, the spiking readout replaces it."""


@dataclass(frozen=True)
class IF:
    """A population of integrate-and-fire neurons with reset by subtraction.

    The input current is the node's input (a current-valued tensor). ``v0`` is the initial
    membrane and ``v_min`` an optional lower clamp, both in the units of ``threshold`` (floats
    after conversion, integers after quantisation). ``output`` marks the readout layer; with
    ``spiking=False`` (membrane readout) it integrates without firing.
    """

    threshold: float = 1.0
    v0: float = 0.5
    output: bool = False
    spiking: bool = True
    v_min: float | None = None


Op: TypeAlias = (
    Input | Conv2d | Linear | BatchNorm | ReLU | AvgPool2d | MaxPool2d | Flatten | Concat | Add
    | Identity | Softmax | IF
)

# Ops whose output is linear in their inputs: in a spiking network they turn spikes into currents.
LINEAR_OPS = (Conv2d, Linear, AvgPool2d)


# --------------------------------------------------------------------------------------------
# Shape inference
# --------------------------------------------------------------------------------------------


def pool_out(size: int, k: int, s: int, p: int) -> int:
    """Output length of a convolution/pooling window along one axis (floor mode)."""
    return (size + 2 * p - k) // s + 1


def infer_shape(op: Op, in_shapes: list[tuple[int, ...]], where: str = "") -> tuple[int, ...]:
    """Return the per-sample output shape of ``op`` given its input shapes, or raise GraphError."""

    def fail(msg: str) -> GraphError:
        return GraphError(f"{where}: {msg}" if where else msg)

    if isinstance(op, Input):
        return tuple(op.shape)
    if isinstance(op, (Add, Concat)):
        if not in_shapes:
            raise fail(f"{type(op).__name__} needs at least one input")
    elif len(in_shapes) != 1:
        raise fail(f"{type(op).__name__} takes exactly one input, got {len(in_shapes)}")
    s = in_shapes[0]
    if isinstance(op, Conv2d):
        if len(s) != 3:
            raise fail(f"Conv2d expects a (C, H, W) input, got {s}")
        o, i, kh, kw = op.weight.shape
        if i != s[0]:
            raise fail(f"Conv2d expects {i} input channels, got {s[0]}")
        h = pool_out(s[1], kh, op.stride[0], op.padding[0])
        w = pool_out(s[2], kw, op.stride[1], op.padding[1])
        if h < 1 or w < 1:
            raise fail(f"Conv2d kernel {(kh, kw)} does not fit input {s}")
        return (o, h, w)
    if isinstance(op, Linear):
        if len(s) != 1 or s[0] != op.weight.shape[1]:
            raise fail(f"Linear expects ({op.weight.shape[1]},) input, got {s}")
        return (op.weight.shape[0],)
    if isinstance(op, (AvgPool2d, MaxPool2d)):
        if len(s) != 3:
            raise fail(f"{type(op).__name__} expects a (C, H, W) input, got {s}")
        h = pool_out(s[1], op.kernel[0], op.stride[0], op.padding[0])
        w = pool_out(s[2], op.kernel[1], op.stride[1], op.padding[1])
        if h < 1 or w < 1:
            raise fail(f"pool kernel {op.kernel} does not fit input {s}")
        return (s[0], h, w)
    if isinstance(op, BatchNorm):
        if op.gamma.shape[0] != s[0]:
            raise fail(f"BatchNorm has {op.gamma.shape[0]} channels, input has {s[0]}")
        return s
    if isinstance(op, Flatten):
        return (int(np.prod(s)),)
    if isinstance(op, Concat):
        rest = {tuple(x[1:]) for x in in_shapes}
        if len(rest) != 1:
            raise fail(f"Concat inputs differ beyond the channel axis: {in_shapes}")
        return (sum(x[0] for x in in_shapes), *in_shapes[0][1:])
    if isinstance(op, Add):
        if len(set(in_shapes)) != 1:
            raise fail(f"Add inputs have different shapes: {in_shapes}")
        if op.gains and len(op.gains) != len(in_shapes):
            raise fail(f"Add has {len(op.gains)} gains for {len(in_shapes)} inputs")
        return s
    if isinstance(op, (ReLU, Identity, Softmax, IF)):
        return s
    raise fail(f"unknown op {type(op).__name__}")


# --------------------------------------------------------------------------------------------
# Graph
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    name: str
    op: Op
    inputs: tuple[str, ...]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """An immutable DAG of nodes in topological order; the last-named ``output`` is the result.

    Build one with :func:`build` (which infers shapes and checks the structure); passes change
    one by rebuilding from :meth:`specs` (so shapes stay consistent) or with :meth:`with_op`.
    """

    nodes: tuple[Node, ...]
    output: str
    # name -> index, derived; excluded from equality
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n.name: i for i, n in enumerate(self.nodes)})

    def __getitem__(self, name: str) -> Node:
        return self.nodes[self._index[name]]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    def is_sequential(self) -> bool:
        """True when every node has at most one input and one consumer (a plain chain)."""
        return all(len(n.inputs) <= 1 for n in self.nodes) and all(
            len(self.consumers(n.name)) <= 1 for n in self.nodes
        )

    def specs(self) -> list[tuple[str, Op, tuple[str, ...]]]:
        return [(n.name, n.op, n.inputs) for n in self.nodes]

    def with_op(self, name: str, op: Op) -> Graph:
        return build([(n, op if n == name else o, i) for n, o, i in self.specs()], self.output)

    def summary(self) -> str:
        lines = []
        for n in self.nodes:
            args = ", ".join(n.inputs)
            lines.append(f"{n.name:<24} {type(n.op).__name__:<10} {args:<30} {n.shape}")
        return "\n".join(lines)


def build(specs: list[tuple[str, Op, tuple[str, ...]]], output: str) -> Graph:
    """Build a graph from ``(name, op, inputs)`` triples, in any order, dropping dead nodes.

    Infers every shape, sorts topologically (stable: the given order where possible), and
    rejects unknown inputs, cycles, duplicate names and more or fewer than one Input node.
    """
    by_name: dict[str, tuple[Op, tuple[str, ...]]] = {}
    order: list[str] = []
    for name, op, inputs in specs:
        if name in by_name:
            raise GraphError(f"duplicate node name {name!r}")
        by_name[name] = (op, tuple(inputs))
        order.append(name)
    if output not in by_name:
        raise GraphError(f"output node {output!r} is not in the graph")
    for name, (_, inputs) in by_name.items():
        for i in inputs:
            if i not in by_name:
                raise GraphError(f"node {name!r} reads unknown node {i!r}")
    # keep only what the output depends on
    live: set[str] = set()
    stack = [output]
    while stack:
        n = stack.pop()
        if n not in live:
            live.add(n)
            stack.extend(by_name[n][1])
    inputs_ = [n for n in order if isinstance(by_name[n][0], Input)]
    if len(inputs_) != 1 or inputs_[0] not in live:
        raise GraphError(f"a graph needs exactly one Input node feeding the output, got {inputs_}")
    # stable topological sort (Kahn, always taking the earliest-listed ready node)
    pos = {n: i for i, n in enumerate(order)}
    waiting = {n: len(set(by_name[n][1])) for n in order if n in live}
    users: dict[str, list[str]] = {n: [] for n in waiting}
    for n in waiting:
        for i in set(by_name[n][1]):
            users[i].append(n)
    ready = [pos[n] for n, w in waiting.items() if w == 0]
    heapq.heapify(ready)
    topo: list[str] = []
    while ready:
        nxt = order[heapq.heappop(ready)]
        topo.append(nxt)
        for u in users[nxt]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, pos[u])
    if len(topo) != len(waiting):
        raise GraphError(f"the graph has a cycle through {sorted(set(waiting) - set(topo))}")
    if not isinstance(by_name[topo[0]][0], Input):
        raise GraphError("the Input node must come first")
    shapes: dict[str, tuple[int, ...]] = {}
    nodes = []
    for n in topo:
        op, inputs = by_name[n]
        shapes[n] = infer_shape(op, [shapes[i] for i in inputs], where=n)
        nodes.append(Node(n, op, inputs, shapes[n]))
    return Graph(tuple(nodes), output)


def conv(weight, bias=None, stride=1, padding=0) -> Conv2d:
    """Convenience constructor with numpy conversion and int-or-pair arguments."""
    return Conv2d(np.asarray(weight, np.float64),
                  None if bias is None else np.asarray(bias, np.float64),
                  _pair(stride), _pair(padding))


def linear(weight, bias=None) -> Linear:
    return Linear(np.asarray(weight, np.float64),
                  None if bias is None else np.asarray(bias, np.float64))


def avgpool(channels: int, kernel, stride=None, padding=0) -> AvgPool2d:
    k = _pair(kernel)
    return AvgPool2d(k, _pair(stride if stride is not None else kernel), _pair(padding),
                     np.full(channels, 1.0 / (k[0] * k[1])))


def maxpool(kernel, stride=None, padding=0) -> MaxPool2d:
    return MaxPool2d(_pair(kernel), _pair(stride if stride is not None else kernel),
                     _pair(padding))


__all__ = [
    "IF", "LINEAR_OPS", "Add", "AvgPool2d", "BatchNorm", "Concat", "Conv2d", "Flatten", "Graph",
    "GraphError", "Identity", "Input", "Linear", "MaxPool2d", "Node", "Op", "ReLU", "Softmax",
    "avgpool", "build", "conv", "infer_shape", "linear", "maxpool", "pool_out",
]
