"""Batched numpy kernels for the IR's operations, shared by the ANN and SNN simulators.

Every function works on a batch (first axis) and on any numeric dtype: the same code runs the
float reference and, later, the integer golden model. No torch here.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from snngen.ir.graph import AvgPool2d, Conv2d, Linear, MaxPool2d, Node


def windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int], pad_value: float = 0) -> np.ndarray:
    """Sliding windows of ``x`` ``(N, C, H, W)`` -> ``(N, C, OH, OW, KH, KW)``.

    A view of ``x`` when there is no padding."""
    ph, pw = padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    win = sliding_window_view(x, kernel, axis=(2, 3))
    return win[:, :, :: stride[0], :: stride[1]]


def conv2d(x: np.ndarray, op: Conv2d) -> np.ndarray:
    kh, kw = op.weight.shape[2:]
    win = windows(x, (kh, kw), op.stride, op.padding)  # N C OH OW KH KW
    y = np.tensordot(win, op.weight, axes=([1, 4, 5], [1, 2, 3]))  # N OH OW O
    y = y.transpose(0, 3, 1, 2)
    if op.bias is not None:
        y = y + op.bias[None, :, None, None]
    return y


def linear(x: np.ndarray, op: Linear) -> np.ndarray:
    y = x @ op.weight.T
    if op.bias is not None:
        y = y + op.bias
    return y


def window_slices(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                  padding: tuple[int, int], pad_value: float = 0) -> list[np.ndarray]:
    """One strided view per kernel offset, each ``(N, C, OH, OW)``: element ``[.., oh, ow]`` of
    slice ``(i, j)`` is input ``(oh*sh + i - ph, ow*sw + j - pw)``. Reducing over this short list
    with elementwise ufuncs is much faster than reducing the tiny trailing axes of
    :func:`windows`."""
    ph, pw = padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    (kh, kw), (sh, sw) = kernel, stride
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    return [x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


def avgpool2d(x: np.ndarray, op: AvgPool2d) -> np.ndarray:
    s = sum(window_slices(x, op.kernel, op.stride, op.padding))
    return s * op.gain[None, :, None, None]


def maxpool2d(x: np.ndarray, op: MaxPool2d) -> np.ndarray:
    # padding must never win: -inf for floats, the smallest value for integers
    low = np.iinfo(x.dtype).min if np.issubdtype(x.dtype, np.integer) else -np.inf
    return np.maximum.reduce(window_slices(x, op.kernel, op.stride, op.padding, low))


def maxpool_gate(spikes: np.ndarray, counts: np.ndarray, op: MaxPool2d) -> np.ndarray:
    """The spiking max-pool gate (docs/conversion.md, "Spiking max-pooling").

    ``counts`` are the input neurons' spike counts *including* this timestep's ``spikes``. An
    output neuron spikes (once) when at least one input neuron of its window spikes now and its
    count equals the largest count in the window. Padding never wins (count -1).
    """
    c = window_slices(counts, op.kernel, op.stride, op.padding, pad_value=-1)
    s = window_slices(spikes, op.kernel, op.stride, op.padding, pad_value=0)
    best = np.maximum.reduce(c)
    out = np.zeros(best.shape, dtype=bool)
    for ci, si in zip(c, s, strict=True):
        out |= (si > 0) & (ci == best)
    return out.astype(spikes.dtype)


def fanout(node: Node, in_shape: tuple[int, ...]) -> np.ndarray:
    """Synaptic fan-out of every input element of a linear node: how many additions one input
    spike (or one input MAC) triggers. ``sum(fanout)`` is the layer's ANN MAC count (padding
    excluded); ``sum(spikes * fanout)`` is the SNN's synaptic operation count."""
    op = node.op
    if isinstance(op, Linear):
        return np.full(in_shape, op.weight.shape[0], dtype=np.int64)
    if isinstance(op, (Conv2d, AvgPool2d)):
        c, h, w = in_shape
        if isinstance(op, Conv2d):
            kernel, stride, padding = op.weight.shape[2:], op.stride, op.padding
            per_out = op.weight.shape[0]  # every output channel reads every input channel
        else:
            kernel, stride, padding, per_out = op.kernel, op.stride, op.padding, 1
        idx = np.arange(h * w).reshape(1, 1, h, w)
        win = windows(idx, tuple(kernel), stride, padding, pad_value=-1)
        hits = win[win >= 0]
        per_pos = np.bincount(hits, minlength=h * w).reshape(h, w) * per_out
        return np.broadcast_to(per_pos, (c, h, w)).astype(np.int64)
    raise TypeError(f"no fan-out for {type(op).__name__}")
