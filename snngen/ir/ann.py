"""Float forward pass of an IR graph as an ordinary (analog) network, in numpy.

Used for calibration (the activations weight normalisation needs), for the ANN accuracy column of
the reports, and to check that every pass preserves the network's function. IF nodes evaluate
as the ReLU they replaced (the output IF as the identity), so a converted graph can still be run
as the ANN it stands for.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from snngen.ir import kernels
from snngen.ir.graph import (
    IF,
    Add,
    AvgPool2d,
    BatchNorm,
    Concat,
    Conv2d,
    Flatten,
    Graph,
    Identity,
    Input,
    Linear,
    MaxPool2d,
    Node,
    ReLU,
    Softmax,
)


def bn_scale_shift(op: BatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """The affine map an inference-mode BatchNorm applies per channel: ``y = s * x + t``."""
    s = op.gamma / np.sqrt(op.var + op.eps)
    return s, op.beta - s * op.mean


def eval_node(node: Node, args: list[np.ndarray]) -> np.ndarray:
    op = node.op
    x = args[0] if args else None
    if isinstance(op, Conv2d):
        return kernels.conv2d(x, op)
    if isinstance(op, Linear):
        return kernels.linear(x, op)
    if isinstance(op, AvgPool2d):
        return kernels.avgpool2d(x, op)
    if isinstance(op, MaxPool2d):
        return kernels.maxpool2d(x, op)
    if isinstance(op, ReLU) and op.clip is not None:
        # clip-floor-shift (QCFS): L levels between 0 and the clip, rounded half up
        q = np.clip(np.floor(x * (op.levels / op.clip) + 0.5), 0, op.levels)
        return q * (op.clip / op.levels)
    if isinstance(op, ReLU) or (isinstance(op, IF) and not op.output):
        return np.maximum(x, 0)
    if isinstance(op, (Identity, IF)):
        return x
    if isinstance(op, BatchNorm):
        s, t = bn_scale_shift(op)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * s.reshape(shape) + t.reshape(shape)
    if isinstance(op, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(op, Concat):
        return np.concatenate(args, axis=1)
    if isinstance(op, Add):
        gains = op.gains or (1.0,) * len(args)
        return sum(np.asarray(g) * a for g, a in zip(gains, args, strict=True))
    if isinstance(op, Softmax):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise TypeError(f"{node.name}: cannot evaluate {type(op).__name__}")


def forward(graph: Graph, x: np.ndarray, keep: Collection[str] = ()) -> dict[str, np.ndarray]:
    """Run ``x`` (a batch) through ``graph``; return the output (key ``graph.output``) and every
    node named in ``keep``. Intermediate values are freed as soon as no consumer needs them."""
    x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape[1:]) != graph.input.shape:
        raise ValueError(f"input batch has per-sample shape {tuple(x.shape[1:])}, "
                         f"the network expects {graph.input.shape}")
    # input slots still to read per value (a node may read the same value twice: x + x)
    remaining = {n.name: 0 for n in graph}
    for n in graph:
        for i in n.inputs:
            remaining[i] += 1
    values: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for node in graph:
        if isinstance(node.op, Input):
            v = x
        else:
            v = eval_node(node, [values[i] for i in node.inputs])
            for i in node.inputs:
                remaining[i] -= 1
                if remaining[i] == 0 and i != graph.output:
                    values.pop(i, None)
        values[node.name] = v
        if node.name in keep or node.name == graph.output:
            out[node.name] = v
    return out


def predict(graph: Graph, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Class predictions (argmax of the output, lowest index on ties) in batches."""
    preds = []
    for i in range(0, len(x), batch_size):
        preds.append(forward(graph, x[i:i + batch_size])[graph.output].argmax(axis=1))
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
