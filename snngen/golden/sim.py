"""Simulate a spiking graph on a dataset: batching, checks and progress around the golden
model's runner (:func:`snngen.golden.model.run`).

On a float graph (the output of :mod:`snngen.convert.passes`) this is the float reference simulator
the fixed-point network is measured against; on a quantised graph
(:mod:`snngen.fixedpoint.quantize`) it is the integer golden model itself, fed with quantised
pixels. Semantics (docs/conversion.md and docs/semantics.md have the full statement):

* discrete timesteps ``t = 1..T``; within a timestep nodes are evaluated in topological order, so
  a layer sees the spikes its predecessors emitted in the same timestep;
* a linear node turns its input spikes (value 1 each) into a current; its bias is a constant
  current added every timestep;
* an IF population adds its input current to the membrane ``v`` (initially ``v0``), spikes
  where ``v >= threshold``, subtracts ``threshold`` where it spiked (reset by subtraction) and,
  with a clamp, raises ``v`` to ``v_min``. The membrane-readout population never spikes;
* analog input: the input is the pixel intensity itself at every timestep (a constant current
  into the first layer, computed once per image, exactly as hardware will); spike input: see
  :mod:`snngen.golden.spikegen`;
* the spiking max-pool gate: :func:`snngen.ir.kernels.maxpool_gate`;
* readout after ``T`` steps: the class with the most output spikes, ties broken by the larger
  membrane, then the lowest index; with the membrane readout, the largest membrane, then the
  lowest index.

One run to the largest T yields the results of every smaller T as well (the simulation is causal),
which is how accuracy-vs-time curves are produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from snngen.convert.passes import kinds, static_nodes
from snngen.fixedpoint.quantize import quantize_input
from snngen.golden import model as golden
from snngen.golden import spikegen
from snngen.golden.model import SimResult, concat_results, readout
from snngen.ir import kernels
from snngen.ir.graph import IF, LINEAR_OPS, Add, Graph, MaxPool2d, ReLU

__all__ = ["INPUT_MODES", "SimResult", "ann_macs", "readout", "simulate"]

INPUT_MODES = ("analog", "spikes")


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
             trace: bool = False, progress: Callable[[int], None] | None = None,
             check: Mapping[str, object] | None = None, engine: str = "fast") -> SimResult:
    """Simulate ``x`` (``(N, *input_shape)``, intensities in [0, 1] for spike input) for
    ``max(timesteps)`` steps and report at every checkpoint in ``timesteps``.

    ``progress(k)`` is called after each batch with the number of images it held. With
    ``check`` (``net.formats`` of a :class:`~snngen.fixedpoint.fixednet.FixedNet`) every membrane
    is checked against its proven range, and a ``max(timesteps)`` above the timesteps those
    ranges were proven for is refused with a ValueError before anything runs.
    """
    if input_mode not in INPUT_MODES:
        raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
    checkpoints = tuple(sorted({int(t) for t in timesteps}))
    if not checkpoints or checkpoints[0] < 1:
        raise ValueError(f"timesteps must be positive, got {list(timesteps)}")
    golden.check_proven_timesteps(check, checkpoints[-1])
    for n in graph:
        if isinstance(n.op, ReLU):
            raise ValueError(f"{n.name}: the graph still has ReLUs; convert it first")
    if input_mode == "spikes":
        k = kinds(graph)
        # (a max-pool of a time-varying current is refused by the golden model's own check)
        constant = static_nodes(graph)
        for n in graph:
            if isinstance(n.op, MaxPool2d) and k[n.inputs[0]] == "current" \
                    and n.inputs[0] in constant:
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

    bits = graph.input.op.bits
    if bits is not None:  # a quantised graph: the golden model on integer pixels
        x = quantize_input(x, bits)
    t_max = checkpoints[-1]
    draws = (spikegen.uniform16(seed, t_max, int(np.prod(graph.input.shape)))
             if input_mode == "spikes" else None)
    # the fast engine's types rest on the widths analysis: once for all batches
    formats = (golden.proven_formats(graph, t_max, input_mode)
               if engine == "fast" and bits is not None else None)
    parts: list[SimResult] = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        parts.append(golden.run(graph, xb, checkpoints, input_mode, draws, trace, check, engine,
                                formats))
        if progress:
            progress(len(xb))
    return concat_results(parts)
