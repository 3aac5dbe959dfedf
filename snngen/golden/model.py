"""The golden model: the executable form of docs/semantics.md, which the hardware must match.

Module-level pure functions, one per operation, on numpy arrays with a leading batch axis, and a
thin runner (:func:`run`) that applies them timestep by timestep. On a quantised graph
(:mod:`snngen.fixedpoint.quantize`) every array is ``int64`` and no float is involved; the same
runner on a float graph is the float reference simulator (:mod:`snngen.golden.sim`), so the two
differ only in the numbers they are given. No torch, no backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from snngen.golden import spikegen
from snngen.ir import kernels
from snngen.ir.ann import eval_node
from snngen.ir.graph import (
    IF,
    LINEAR_OPS,
    Add,
    AvgPool2d,
    Concat,
    Flatten,
    Graph,
    Input,
    MaxPool2d,
    Node,
)

# --------------------------------------------------------------------------------------------
# one function per operation
# --------------------------------------------------------------------------------------------


def if_update(v: np.ndarray, current: np.ndarray, threshold, v_min=None,
              spiking: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One IF step (semantics.md §3): add the current, compare, subtract, clamp.

    Returns the new membrane and the spikes (bool). ``v >= threshold`` fires; reset by
    subtraction keeps the surplus; ``v_min`` (if any) is applied last.
    """
    v = v + current
    return v, _fire_inplace(v, threshold, v_min, spiking)


def _fire_inplace(v: np.ndarray, threshold, v_min, spiking: bool) -> np.ndarray:
    """The rest of an IF step on a membrane that already holds ``v + current``, in place:
    compare, subtract where it fired, clamp. Returns the spikes."""
    if spiking:
        s = v >= threshold
        np.subtract(v, threshold, out=v, where=s)
    else:
        s = np.zeros(v.shape, dtype=bool)
    if v_min is not None:
        np.maximum(v, v_min, out=v)
    return s


def synaptic_current(node: Node, x: np.ndarray) -> np.ndarray:
    """The current a Conv/Linear/AvgPool delivers for input events ``x`` (bias excluded): the
    spike router's fan-out, each event adding its weights to the neurons it reaches."""
    op = node.op
    if isinstance(op, AvgPool2d):
        return kernels.avgpool2d(x, op)
    return eval_node(Node(node.name, replace(op, bias=None), node.inputs, node.shape), [x])


def exact_float_type(node: Node, xmax: int) -> type | None:
    """A float type in which ``synaptic_current(node, x)`` is exact for integer inputs in
    ``[0, xmax]``, or None.

    Every product and every partial sum of the op's dot products is an integer no larger than
    ``max_o sum_i |W[o, i]| * xmax``; below 2**24 (float32) or 2**53 (float64) each of them is
    representable, so every addition is exact in any order and the result equals the integer
    one bit for bit. This lets :func:`run` use the BLAS (numpy has none for integers) without
    changing a single result (``engine="fast"``).
    """
    op = node.op
    w = np.abs(op.gain if isinstance(op, AvgPool2d) else op.weight).astype(np.int64)
    if isinstance(op, AvgPool2d):
        per_out = int(w.max(initial=0)) * op.kernel[0] * op.kernel[1]
    else:
        per_out = int(w.reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
    bound = per_out * xmax
    if bound < 2**24:
        return np.float32
    if bound < 2**53:
        return np.float64
    return None


def bias_current(node: Node, dtype) -> np.ndarray | int:
    """The constant per-timestep bias current of a Conv/Linear (0 for AvgPool/none)."""
    op = node.op
    if isinstance(op, AvgPool2d) or op.bias is None:
        return 0
    return op.bias.reshape((-1,) + (1,) * (len(node.shape) - 1)).astype(dtype)


def add_currents(node: Node, args: list[np.ndarray]) -> np.ndarray:
    """Sum of the inputs of an Add, each times its gain (residual connections)."""
    return eval_node(node, args)


def maxpool_gate(spikes: np.ndarray, counts: np.ndarray, op: MaxPool2d) -> np.ndarray:
    """The spiking max-pool gate (semantics.md §4); ``counts`` include this timestep."""
    return kernels.maxpool_gate(spikes, counts, op)


def readout(counts: np.ndarray, v: np.ndarray, by: str = "count") -> np.ndarray:
    """Class per sample (semantics.md §5): most spikes, then largest membrane, then lowest index
    (``by="count"``); largest membrane, then lowest index (``by="membrane"``)."""
    if by == "membrane":
        return v.argmax(axis=1)
    top = counts == counts.max(axis=1, keepdims=True)
    low = np.iinfo(v.dtype).min if np.issubdtype(v.dtype, np.integer) else -np.inf
    return np.where(top, v, low).argmax(axis=1)  # argmax takes the first of equal maxima


def input_spikes(x: np.ndarray, t: int, draws: np.ndarray, levels: int | None) -> np.ndarray:
    """Rate-coded input spikes at 0-based timestep ``t`` (semantics.md §2): element ``i`` spikes
    when its 16-bit draw ``u`` satisfies ``u < p * 65536``, i.e. ``u * levels < q * 65536`` for
    an integer pixel ``q`` of ``levels = 2**bits - 1``."""
    u = draws[t].reshape(x.shape[1:])[None]
    if levels is None:
        return (u < x * 65536.0).astype(x.dtype)
    return (u.astype(np.int64) * levels < x * 65536).astype(np.int64)


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------


@dataclass
class SimResult:
    """Per checkpoint ``T``: predictions, synaptic operations and spike counts of every image."""

    timesteps: tuple[int, ...]
    predictions: dict[int, np.ndarray]          # T -> (N,) class
    ops: dict[int, np.ndarray]                  # T -> (N,) synaptic operations so far
    spikes: dict[int, dict[str, np.ndarray]]    # T -> IF layer -> (N,) spikes so far
    final: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # final["layer"] = {"v": membrane, "count": spike counts, "current": summed input current,
    #                   "v0": initial membrane}, each (N, *shape), after the largest T; trace only
    raster: dict[str, np.ndarray] = field(default_factory=dict)
    # raster["node"] = (T, N, *shape) bool: every spike of every timestep of every IF population
    # and max-pool gate; trace only
    layer_ops: dict[str, np.ndarray] = field(default_factory=dict)
    # layer_ops["op"] = (T, N) synaptic operations of each Conv/Linear/AvgPool/Add at each
    # timestep (a constant current's MACs in timestep 1); they add up to ``ops``; trace only

    def accuracy(self, y: np.ndarray) -> dict[int, float]:
        return {t: float(np.mean(p == y)) for t, p in self.predictions.items()}


class OverflowDetected(AssertionError):
    """A register left the range the width analysis proved: a bug, never expected."""


ENGINES = ("fast", "int64")
F32_EXACT = 2**24  # every integer of magnitude up to this is a float32 (and no larger one is)
F64_EXACT = 2**53


def value_type(formats: Mapping[str, object] | None, node: Node, gemm: type | None) -> type:
    """The dtype the ``fast`` engine keeps IF population ``node``'s membrane and input current
    in: float32 or float64 where every value they can take (the proven ``formats[node]``
    membrane and current ranges) and the synaptic sums feeding it (``gemm``, from
    :func:`exact_float_type`) are integers that type holds exactly, so that every addition,
    comparison and subtraction gives the integer result; else int64."""
    f = None if formats is None else formats.get(node.name)
    if f is None or gemm is None:
        return np.int64
    big = max(abs(v) for v in (*f.membrane_range, *f.current, int(node.op.threshold)))
    if big < F32_EXACT and gemm is np.float32:
        return np.float32
    if big < F64_EXACT:
        return np.float64
    return np.int64


def check_proven_timesteps(check: Mapping[str, object] | None, t_max: int) -> None:
    """Refuse a run of ``t_max`` steps checked against formats proven for fewer: their ranges
    say nothing about the later steps, so the check would pass or fail for the wrong reason.
    (Formats from :func:`snngen.fixedpoint.widths.analyze` know their ``max_timesteps``; a
    plain mapping does not and is taken as given.)"""
    t_proven = getattr(check, "max_timesteps", None)
    if t_proven is not None and t_max > t_proven:
        raise ValueError(f"T={t_max} exceeds the {t_proven} timesteps the network's widths were "
                         f"proven for (max_timesteps): convert it again with a larger "
                         f"--max-timesteps")


def run(graph: Graph, x: np.ndarray, checkpoints: tuple[int, ...], input_mode: str = "analog",
        draws: np.ndarray | None = None, trace: bool = False,
        check: Mapping[str, object] | None = None, engine: str = "fast",
        formats: Mapping[str, object] | None = None) -> SimResult:
    """Simulate one batch ``x`` for ``max(checkpoints)`` timesteps.

    ``x`` is float intensities for a float graph and integer pixels for a quantised one.
    ``draws`` are the spike generator's 16-bit draws (spike input only). With ``check`` (layer
    -> :class:`snngen.fixedpoint.widths.LayerFormat`), every membrane value is checked against its
    proven range after every event batch and every update; formats proven for fewer than
    ``max(checkpoints)`` timesteps are refused (:func:`check_proven_timesteps`).

    Engines (the same results, bit for bit, on an integer graph; a float graph is simulated in
    float64 either way): ``"int64"`` computes everything in ``int64``, the literal reference;
    ``"fast"`` (default) computes each synaptic current with the BLAS in the float type
    :func:`exact_float_type` proves exact, and keeps each IF population's membrane in the type
    :func:`value_type` proves exact from the widths analysis (``formats``:
    :func:`snngen.fixedpoint.widths.analyze` of the graph for at least ``max(checkpoints)``
    timesteps and this input mode; computed here when not given), falling back to ``int64``
    for any population it cannot prove.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    check_proven_timesteps(check, max(checkpoints))
    integer = graph.input.op.bits is not None
    dt = np.int64 if integer else np.float64
    levels = (1 << graph.input.op.bits) - 1 if integer else None
    n_img = len(x)
    t_max = checkpoints[-1]
    analog = input_mode == "analog"
    fast_engine = integer and engine == "fast"
    if fast_engine and analog and x.size and (x.min() < 0 or x.max() > levels):
        # the widths analysis (which the fast engine's types rest on) assumes valid pixels
        raise ValueError(f"pixels outside 0 .. {levels} (the network's {levels.bit_length()}-bit "
                         f"input)")
    if fast_engine and formats is None:
        formats = proven_formats(graph, t_max, input_mode)

    # time-invariant values under analog input (the input and what only depends on it), and
    # which values are spike events
    static: dict[str, np.ndarray] = {}
    spiking: set[str] = set()
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
            static[n.name] = _static_value(n, static, fast_engine)
        elif isinstance(n.op, MaxPool2d) and n.inputs[0] not in spiking:
            # the gate below would treat the current's values as spikes: silently wrong. Only
            # the max of a constant current is defined (docs/semantics.md §4)
            from snngen.convert.passes import static_nodes

            hint = ("; this network was converted for analog input, where that current is "
                    "constant: simulate it with input_mode='analog'"
                    if not analog and n.inputs[0] in static_nodes(graph) else "")
            raise ValueError(f"{n.name}: a max-pool of a current that changes over time (the "
                             f"current of {n.inputs[0]!r}) is not defined; only spikes and "
                             f"a constant (analog-input) current can be max-pooled{hint}")
        elif isinstance(n.op, (MaxPool2d, Flatten, Concat)):
            spiking.add(n.name)

    # synaptic cost of one event: a linear op's fan-out; 1 per spike added directly
    fan: dict[str, np.ndarray] = {}
    ops = np.zeros(n_img, dtype=np.int64)
    layer_ops = {n.name: np.zeros((t_max, n_img), dtype=np.int64) for n in graph
                 if isinstance(n.op, (*LINEAR_OPS, Add))} if trace else {}
    for n in graph:
        if isinstance(n.op, LINEAR_OPS):
            f = kernels.fanout(n, graph[n.inputs[0]].shape)
            if n.inputs[0] in static:
                ops += int(f.sum())  # a constant current: its MACs once per image
                if trace:
                    layer_ops[n.name][0] = int(f.sum())
            else:
                # the fast engine counts in float64 (exact below 2**53) with the BLAS
                fan[n.name] = f.reshape(-1).astype(np.float64 if fast_engine else dt)

    # the fast engine: per IF population the type of its membrane and current (vt), and for
    # the event-driven linear op feeding it the BLAS form of that op (fast)
    vt: dict[str, type] = {}
    fast: dict[str, tuple[Node, type]] = {}
    for n in graph:
        if not isinstance(n.op, IF):
            continue
        vt[n.name] = dt
        if not fast_engine:
            continue
        src = graph[n.inputs[0]]
        if src.name in static:  # a constant current: added as a whole, exact in int64
            t = value_type(formats, n, np.float32)
        elif isinstance(src.op, LINEAR_OPS) and src.name in fan and src.inputs[0] in spiking:
            gemm = exact_float_type(src, 1)  # the inputs are spikes: 0 or 1
            t = value_type(formats, n, gemm)
            if t is not np.int64:
                op = src.op
                op = (replace(op, gain=op.gain.astype(t)) if isinstance(op, AvgPool2d) else
                      replace(op, weight=op.weight.astype(t), bias=None))
                fast[src.name] = (Node(src.name, op, src.inputs, src.shape), t)
        else:  # Add and other currents: the literal path
            t = np.int64
        vt[n.name] = t
    # what the consumers of a linear op's current add it into
    cur_t = {n.inputs[0]: vt[n.name] for n in graph if isinstance(n.op, IF)}
    static_cur = {name: static[name].astype(cur_t[name]) for name in cur_t if name in static}

    ifs = [n for n in graph if isinstance(n.op, IF)]
    v = {n.name: np.full((n_img, *n.shape), n.op.v0, dtype=vt[n.name]) for n in ifs}
    count = {n.name: np.zeros((n_img, *n.shape), dtype=np.int64) for n in ifs}
    current = {n.name: np.zeros((n_img, *n.shape), dtype=dt) for n in ifs} if trace else {}
    raster: dict[str, np.ndarray] = {}
    if trace:
        for n in graph:
            if isinstance(n.op, IF) or (isinstance(n.op, MaxPool2d) and n.name in spiking):
                raster[n.name] = np.zeros((t_max, n_img, *n.shape), dtype=bool)
    # (the fast engine's spikes are float32, which holds every count up to T exactly)
    pool_t = np.float32 if fast_engine else dt
    pool_counts = {n.inputs[0]: np.zeros((n_img, *graph[n.inputs[0]].shape), dtype=pool_t)
                   for n in graph if isinstance(n.op, MaxPool2d) and n.name in spiking}
    bias = {n.name: bias_current(n, cur_t.get(n.name, dt)) for n in graph
            if isinstance(n.op, LINEAR_OPS) and n.name not in static}

    res = SimResult(checkpoints, {}, {}, {})
    for t in range(1, t_max + 1):
        val: dict[str, np.ndarray] = dict(static)
        val.update(static_cur)
        for n in graph:
            if n.name in static:
                continue
            op = n.op
            if isinstance(op, Input):
                val[n.name] = input_spikes(x, t - 1, draws, levels)
            elif isinstance(op, LINEAR_OPS):
                xin = val[n.inputs[0]]
                if n.name in fast:
                    fnode, ft = fast[n.name]
                    cur = synaptic_current(fnode, xin.astype(ft, copy=False))
                else:
                    cur = synaptic_current(n, xin.astype(dt, copy=False))
                    if n.name in cur_t:
                        cur = cur.astype(cur_t[n.name], copy=False)
                b = bias[n.name]
                if not isinstance(b, int):
                    cur += b
                val[n.name] = cur
                if n.name in fan:
                    flat = xin.reshape(n_img, -1).astype(fan[n.name].dtype, copy=False)
                    step_ops = (flat @ fan[n.name]).astype(np.int64)
                    ops += step_ops
                    if trace:
                        layer_ops[n.name][t - 1] = step_ops
            elif isinstance(op, IF):
                cur = val[n.inputs[0]]
                if check is not None:
                    # the register also holds v + the whole current before compare/subtract
                    _check_range(n, v[n.name] + cur, check[n.name], t)
                if fast_engine:
                    s = _if_update_inplace(v[n.name], cur, op.threshold, op.v_min, op.spiking)
                else:
                    v[n.name], s = if_update(v[n.name], cur, op.threshold, op.v_min,
                                             op.spiking)
                if check is not None:
                    _check_range(n, v[n.name], check[n.name], t)
                if trace:
                    current[n.name] += cur.astype(dt, copy=False)
                    raster[n.name][t - 1] = s
                count[n.name] += s
                # spikes: 0/1 in the type their consumers compute in (float32 for the BLAS)
                val[n.name] = s.view(np.uint8).astype(np.float32 if fast_engine else dt)
            elif isinstance(op, MaxPool2d):
                src = n.inputs[0]
                pool_counts[src] += val[src]
                val[n.name] = maxpool_gate(val[src], pool_counts[src], op)
                if trace:
                    raster[n.name][t - 1] = val[n.name] > 0
            elif isinstance(op, Add):
                args = [val[i].astype(dt, copy=False) for i in n.inputs]
                val[n.name] = add_currents(n, args)
                for i in n.inputs:
                    if i in spiking:
                        step_ops = val[i].reshape(n_img, -1).sum(axis=1).astype(np.int64)
                        ops += step_ops
                        if trace:
                            layer_ops[n.name][t - 1] += step_ops
            else:  # Flatten, Concat
                val[n.name] = eval_node(n, [val[i] for i in n.inputs])
        if t in checkpoints:
            out = graph[graph.output]
            by = "count" if out.op.spiking else "membrane"
            res.predictions[t] = readout(count[out.name].reshape(n_img, -1),
                                         v[out.name].reshape(n_img, -1), by)
            res.ops[t] = ops.copy()
            res.spikes[t] = {k: c.reshape(n_img, -1).sum(axis=1) for k, c in count.items()}
    if trace:
        res.raster = raster
        res.layer_ops = layer_ops
        res.final = {n.name: {"v": v[n.name].astype(dt), "count": count[n.name],
                              "current": current[n.name],
                              "v0": np.full(v[n.name].shape, n.op.v0, dtype=dt)}
                     for n in ifs}
    return res


def proven_formats(graph: Graph, t_max: int, input_mode: str) -> dict[str, object] | None:
    """The widths analysis of an integer graph for ``t_max`` timesteps (what the ``fast``
    engine's types rest on), or None where it does not apply (then the engine is int64)."""
    from snngen.fixedpoint import widths

    try:
        return widths.analyze(graph, t_max, input_mode)
    except ValueError:
        return None


def _static_value(n: Node, static: Mapping[str, np.ndarray], fast_engine: bool) -> np.ndarray:
    """A time-invariant value (analog input): computed once per image. The fast engine takes
    a Conv/Linear of integers (the pixels, or values computed from them) through the BLAS
    where :func:`exact_float_type` proves it exact for the largest magnitude actually there."""
    args = [static[i] for i in n.inputs]
    if (fast_engine and isinstance(n.op, LINEAR_OPS) and not isinstance(n.op, AvgPool2d)
            and args[0].dtype == np.int64 and args[0].size):
        ft = exact_float_type(n, int(np.abs(args[0]).max()))
        if ft is not None:
            op = replace(n.op, weight=n.op.weight.astype(ft), bias=None)
            y = eval_node(Node(n.name, op, n.inputs, n.shape), [args[0].astype(ft)])
            return y.astype(np.int64) + bias_current(n, np.int64)
    return eval_node(n, args)


def _if_update_inplace(v: np.ndarray, current: np.ndarray, threshold, v_min,
                       spiking: bool) -> np.ndarray:
    """:func:`if_update` on ``v`` in place (no new membrane array; the same values in any type
    that holds them exactly). Returns the spikes."""
    v += current
    return _fire_inplace(v, threshold, v_min, spiking)


def _check_range(n: Node, v: np.ndarray, fmt, t: int) -> None:
    lo, hi = fmt.membrane_range
    if v.size and (v.min() < lo or v.max() > hi):
        raise OverflowDetected(f"{n.name}: membrane {v.min()}..{v.max()} at timestep {t} "
                               f"outside the analysed range {lo}..{hi}")


def concat_results(parts: list[SimResult]) -> SimResult:
    """Join the results of consecutive batches."""
    if len(parts) == 1:
        return parts[0]
    cat = np.concatenate
    cps = parts[0].timesteps
    res = SimResult(
        cps,
        {t: cat([p.predictions[t] for p in parts]) for t in cps},
        {t: cat([p.ops[t] for p in parts]) for t in cps},
        {t: {k: cat([p.spikes[t][k] for p in parts]) for k in parts[0].spikes[t]} for t in cps},
    )
    if parts[0].final:
        res.final = {k: {f: cat([p.final[k][f] for p in parts]) for f in d}
                     for k, d in parts[0].final.items()}
        res.raster = {k: cat([p.raster[k] for p in parts], axis=1) for k in parts[0].raster}
        res.layer_ops = {k: cat([p.layer_ops[k] for p in parts], axis=1)
                         for k in parts[0].layer_ops}
    return res


# the spike generator's draws, re-exported so the golden model is self-contained
uniform16 = spikegen.uniform16
