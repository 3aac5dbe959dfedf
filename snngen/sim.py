"""Batched, vectorised float simulator of a spiking graph (the output of :mod:`snngen.passes`).

This is the float reference the fixed-point golden model is measured against. Semantics
(docs/conversion.md has the full statement):

* discrete timesteps ``t = 1..T``; within a timestep nodes are evaluated in topological order, so
  a layer sees the spikes its predecessors emitted in the same timestep;
* a linear node turns its input spikes (value 1 each) into a current; its bias is a constant
  current added every timestep;
* an IF population adds its input current to the membrane ``v`` (initially ``v0``), spikes
  where ``v >= threshold``, subtracts ``threshold`` where it spiked (reset by subtraction) and,
  with a clamp, raises ``v`` to ``v_min``. The membrane-readout population never spikes;
* analog input: the input is the pixel intensity itself at every timestep (a constant current
  into the first layer, computed once per image, exactly as hardware will); spike input: see
  :mod:`snngen.spikegen`;
* the spiking max-pool gate: :func:`snngen.kernels.maxpool_gate`;
* readout after ``T`` steps: the class with the most output spikes, ties broken by the larger
  membrane, then the lowest index; with the membrane readout, the largest membrane, then the
  lowest index.

One run to the largest T yields the results of every smaller T as well (the simulation is causal),
which is how accuracy-vs-time curves are produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from snngen import kernels, spikegen
from snngen.ann import eval_node
from snngen.ir import IF, LINEAR_OPS, Add, Concat, Flatten, Graph, Input, MaxPool2d, ReLU
from snngen.passes import kinds

INPUT_MODES = ("analog", "spikes")


@dataclass
class SimResult:
    """Per checkpoint ``T``: predictions, synaptic operations and spike counts of every image."""

    timesteps: tuple[int, ...]
    predictions: dict[int, np.ndarray]          # T -> (N,) class
    ops: dict[int, np.ndarray]                  # T -> (N,) synaptic operations so far
    spikes: dict[int, dict[str, np.ndarray]]    # T -> IF layer -> (N,) spikes so far
    final: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # final["layer"] = {"v": membrane, "count": spike counts, "current": summed input current,
    #                   "v0": initial membrane}, each (N, *shape), after the largest T; only with
    #                   trace=True
    raster: dict[str, np.ndarray] = field(default_factory=dict)
    # raster["layer"] = (T, N, *shape) bool, every spike of every timestep; only with trace=True

    def accuracy(self, y: np.ndarray) -> dict[int, float]:
        return {t: float(np.mean(p == y)) for t, p in self.predictions.items()}

    def mean_ops(self) -> dict[int, float]:
        return {t: float(o.mean()) for t, o in self.ops.items()}


def readout(counts: np.ndarray, v: np.ndarray, by: str = "count") -> np.ndarray:
    """Class per sample: most spikes, then largest membrane, then lowest index (``by="count"``);
    largest membrane, then lowest index (``by="membrane"``)."""
    if by == "membrane":
        return v.argmax(axis=1)
    top = counts == counts.max(axis=1, keepdims=True)
    return np.where(top, v, -np.inf).argmax(axis=1)  # argmax returns the first of equal maxima


def ann_macs(graph: Graph) -> int:
    """Multiply-accumulates of one ANN inference (padding excluded), the papers' ANN baseline."""
    total = 0
    for n in graph:
        if isinstance(n.op, LINEAR_OPS):
            total += int(kernels.fanout(n, graph[n.inputs[0]].shape).sum())
        elif isinstance(n.op, Add):
            total += len(n.inputs) * int(np.prod(n.shape))
    return total


def simulate(graph: Graph, x: np.ndarray, timesteps: Sequence[int] = (8, 16, 32, 64, 128),
             input_mode: str = "analog", seed: int = 1, batch_size: int = 256,
             trace: bool = False, progress: Callable[[int], None] | None = None) -> SimResult:
    """Simulate ``x`` (``(N, *input_shape)``, intensities in [0, 1] for spike input) for
    ``max(timesteps)`` steps and report at every checkpoint in ``timesteps``.

    ``progress(k)`` is called after each batch with the number of images it held.
    """
    if input_mode not in INPUT_MODES:
        raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
    checkpoints = tuple(sorted({int(t) for t in timesteps}))
    if not checkpoints or checkpoints[0] < 1:
        raise ValueError(f"timesteps must be positive, got {list(timesteps)}")
    for n in graph:
        if isinstance(n.op, ReLU):
            raise ValueError(f"{n.name}: the graph still has ReLUs; convert it first")
    if input_mode == "spikes":
        k = kinds(graph)
        for n in graph:
            if isinstance(n.op, MaxPool2d) and k[n.inputs[0]] == "current":
                raise ValueError(f"{n.name}: this network max-pools a constant current, so it was "
                                 f"converted for analog input; convert it with input='spikes'")
    out_op = graph[graph.output].op
    if not (isinstance(out_op, IF) and out_op.output):
        raise ValueError("the graph has no IF readout population; convert it first")
    x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape[1:]) != graph.input.shape:
        raise ValueError(f"input has per-sample shape {tuple(x.shape[1:])}, the network "
                         f"expects {graph.input.shape}")
    if input_mode == "spikes" and (x.min(initial=0) < 0 or x.max(initial=0) > 1):
        raise ValueError("spike input needs intensities in [0, 1]")

    t_max = checkpoints[-1]
    draws = (spikegen.uniform16(seed, t_max, int(np.prod(graph.input.shape)))
             if input_mode == "spikes" else None)
    parts: list[SimResult] = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        parts.append(_simulate_batch(graph, xb, checkpoints, input_mode, draws, trace))
        if progress:
            progress(len(xb))
    return _concat(parts, checkpoints)


def _simulate_batch(graph: Graph, x: np.ndarray, checkpoints: tuple[int, ...],
                    input_mode: str, draws: np.ndarray | None, trace: bool) -> SimResult:
    n_img = len(x)
    t_max = checkpoints[-1]
    analog = input_mode == "analog"
    # static nodes: time-invariant values (analog input and what only depends on it)
    static: dict[str, np.ndarray] = {}
    spiking: set[str] = set()  # nodes whose values are spike events
    for n in graph:
        if isinstance(n.op, Input):
            if analog:
                static[n.name] = x
            else:
                spiking.add(n.name)
        elif isinstance(n.op, IF):
            if n.op.spiking:
                spiking.add(n.name)
        elif all(i in static for i in n.inputs):
            static[n.name] = eval_node(n, [static[i] for i in n.inputs])
        elif isinstance(n.op, (MaxPool2d, Flatten, Concat)):
            spiking.add(n.name)

    # synaptic cost of one event, per consumer edge: a linear op's fan-out; 1 per added spike
    fan: dict[str, np.ndarray] = {}
    ops = np.zeros(n_img)
    for n in graph:
        if isinstance(n.op, LINEAR_OPS):
            f = kernels.fanout(n, graph[n.inputs[0]].shape).astype(np.float64)
            if n.inputs[0] in static:
                ops += f.sum()  # analog first layer: its MACs once per image
            else:
                fan[n.name] = f
    ifs = [n for n in graph if isinstance(n.op, IF)]
    v = {n.name: np.full((n_img, *n.shape), float(n.op.v0)) for n in ifs}
    count = {n.name: np.zeros((n_img, *n.shape)) for n in ifs}
    current = {n.name: np.zeros((n_img, *n.shape)) for n in ifs} if trace else {}
    raster = {n.name: np.zeros((t_max, n_img, *n.shape), dtype=bool) for n in ifs} \
        if trace else {}
    pool_counts = {n.inputs[0]: np.zeros((n_img, *graph[n.inputs[0]].shape))
                   for n in graph if isinstance(n.op, MaxPool2d) and n.name not in static}

    res = SimResult(checkpoints, {}, {}, {})
    for t in range(1, t_max + 1):
        val: dict[str, np.ndarray] = dict(static)
        for n in graph:
            if n.name in static:
                continue
            op = n.op
            if isinstance(op, Input):
                val[n.name] = spikegen.spike_input(x, t - 1, draws)
            elif isinstance(op, IF):
                cur = val[n.inputs[0]]
                vm = v[n.name]
                vm += cur
                if trace:
                    current[n.name] += cur
                if op.spiking:
                    s = (vm >= op.threshold).astype(np.float64)
                    vm -= s * op.threshold
                    count[n.name] += s
                    if trace:
                        raster[n.name][t - 1] = s > 0
                    val[n.name] = s
                else:
                    val[n.name] = np.zeros_like(vm)
                if op.v_min is not None:
                    np.maximum(vm, op.v_min, out=vm)
            elif isinstance(op, MaxPool2d):
                src = n.inputs[0]
                pool_counts[src] += val[src]
                val[n.name] = kernels.maxpool_gate(val[src], pool_counts[src], op)
            else:
                args = [val[i] for i in n.inputs]
                val[n.name] = eval_node(n, args)
            if n.name in fan:
                ops += val[n.inputs[0]].reshape(n_img, -1) @ fan[n.name].reshape(-1)
            elif isinstance(op, Add):
                for i in n.inputs:
                    if i in spiking:
                        ops += val[i].reshape(n_img, -1).sum(axis=1)
        if t in checkpoints:
            out = graph[graph.output]
            by = "count" if out.op.spiking else "membrane"
            res.predictions[t] = readout(count[out.name].reshape(n_img, -1),
                                         v[out.name].reshape(n_img, -1), by)
            res.ops[t] = ops.copy()
            res.spikes[t] = {k: c.reshape(n_img, -1).sum(axis=1) for k, c in count.items()}
    if trace:
        res.raster = raster
        res.final = {n.name: {"v": v[n.name], "count": count[n.name],
                              "current": current[n.name],
                              "v0": np.full_like(v[n.name], n.op.v0)}
                     for n in ifs}
    return res


def _concat(parts: list[SimResult], checkpoints: tuple[int, ...]) -> SimResult:
    if len(parts) == 1:
        return parts[0]
    cat = np.concatenate
    res = SimResult(
        checkpoints,
        {t: cat([p.predictions[t] for p in parts]) for t in checkpoints},
        {t: cat([p.ops[t] for p in parts]) for t in checkpoints},
        {t: {k: cat([p.spikes[t][k] for p in parts]) for k in parts[0].spikes[t]}
         for t in checkpoints},
    )
    if parts[0].final:
        res.final = {k: {f: cat([p.final[k][f] for p in parts]) for f in d}
                     for k, d in parts[0].final.items()}
        res.raster = {k: cat([p.raster[k] for p in parts], axis=1) for k in parts[0].raster}
    return res
