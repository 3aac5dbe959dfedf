"""NIR (the Neuromorphic Intermediate Representation, PyPI ``nir`` 1.0) in and out.

:func:`to_nir` writes a fixed-point network (:class:`~snngen.fixedpoint.fixednet.FixedNet`) as a
NIR graph in snngen's *integer profile*; :func:`from_nir` reads a NIR graph back: a graph in that
profile becomes the same fixed-point network again (every integer, threshold, initial membrane
and width), any other graph of IF neurons (written by sinabs, snnTorch, ...) becomes a float
spiking graph that snngen quantises like one it converted itself. docs/interop.md is the
contract; the points that matter:

* **Time**: one NIR time unit is one timestep. NIR's IF is ``dv/dt = R I``; with the input held
  for one unit and ``R = 1`` that is snngen's ``v <- v + I`` per timestep.
* **Numbers** (export): weights, biases, thresholds and pooling gains are the network's integers
  (stored as float64, exact below 2^53), so the NIR graph computes in the same units as the
  golden model; the input is the integer pixel ``q`` (0 .. 2^bits - 1) under analog input, a
  spike (0/1) under spike input.
* **What NIR 1.0 cannot say**, carried in metadata (keys ``snngen_*``) and reported as one
  warning each: snngen's neurons start at ``v0`` (NIR's at 0), spike on ``v >= threshold`` (NIR
  says ``v > threshold``; for integers the two differ only when ``v`` equals it), may clamp at
  ``v_min``, and NIR has no max-pool (snngen writes one as a SumPool2d marked
  ``snngen_op = "MaxPool2d"``). A tool that ignores the metadata computes a slightly different
  network; snngen reads it back exactly. Reset by subtraction is NIR's own IF reset.
* **Import** of other graphs: IF (uniform ``r`` and ``v_threshold`` per node: the threshold
  becomes ``v_threshold / r``), I (a non-spiking output integrator: the membrane readout),
  Affine, Linear, Conv2d (groups 1, dilation 1), SumPool2d, AvgPool2d, Flatten, Scale (folded
  into the op before it), Input and Output; several edges into a node add. Anything else (LIF
  and other leaky neurons, delays, recurrent edges, non-uniform thresholds) is refused with the
  node named. Neurons start at 0 and spike on ``v >= threshold`` once per timestep.

No torch here; the ``nir`` package (and its ``h5py``) is imported lazily, so the rest of snngen
works without it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snngen.convert.passes import fold_avgpool
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet, fix
from snngen.fixedpoint.quantize import LayerQuant
from snngen.fixedpoint.widths import analyze
from snngen.ir.graph import (
    IF,
    Add,
    AvgPool2d,
    Concat,
    Conv2d,
    Flatten,
    Graph,
    Input,
    Linear,
    MaxPool2d,
    build,
)

__all__ = ["PROFILE", "Imported", "NirError", "from_nir", "nir_version", "read", "to_nir",
           "write"]

# the value of the graph metadata key snngen_profile in a graph :func:`to_nir` wrote
PROFILE = "snngen-integer-1"
INSTALL = "pip install 'snngen[nir]'"


class NirError(ValueError):
    """A NIR graph snngen cannot write or read; the message names the node."""


def _nir():
    try:
        import nir
    except ImportError as e:
        raise NirError(f"NIR support needs the nir package ({e.name} is missing): "
                       f"{INSTALL}") from None
    return nir


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def to_nir(net: FixedNet):
    """``net`` as a NIR graph in snngen's integer profile, and the warnings (one line each) for
    what a tool that ignores the ``snngen_*`` metadata would compute differently. Raises
    :class:`NirError` for what NIR 1.0 cannot hold at all (a concatenation)."""
    nir = _nir()
    g = net.graph
    quant = {q.layer: q for q in net.quant}
    nodes: dict = {}
    edges: list[tuple[str, str]] = []
    warnings: list[str] = []
    v0_layers, vmin_layers, pools = [], [], []
    for n in g:
        op, name = n.op, n.name
        shape_in = g[n.inputs[0]].shape if n.inputs else None
        meta: dict = {}
        if isinstance(op, Input):
            nodes[name] = nir.Input(input_type={"input": np.array(op.shape)})
        elif isinstance(op, Conv2d):
            bias = np.zeros(op.weight.shape[0]) if op.bias is None else op.bias
            nodes[name] = nir.Conv2d(input_shape=tuple(shape_in[1:]), weight=_f64(op.weight),
                                     stride=op.stride, padding=op.padding, dilation=(1, 1),
                                     groups=1, bias=_f64(bias))
        elif isinstance(op, Linear):
            if op.bias is None:
                nodes[name] = nir.Linear(weight=_f64(op.weight))
            else:
                nodes[name] = nir.Affine(weight=_f64(op.weight), bias=_f64(op.bias))
        elif isinstance(op, (AvgPool2d, MaxPool2d)):
            if isinstance(op, MaxPool2d):
                meta["snngen_op"] = "MaxPool2d"
                pools.append(name)
            pool_name = name
            gain = getattr(op, "gain", None)
            if gain is not None and np.any(np.asarray(gain) != 1):
                pool_name = f"{name}.sum"  # the sum, then the per-channel gain
                scale = np.broadcast_to(_f64(gain)[:, None, None], n.shape).copy()
                nodes[name] = nir.Scale(scale=scale, metadata={"snngen_op": "AvgPool2d.gain"})
                edges.append((pool_name, name))
            nodes[pool_name] = nir.SumPool2d(kernel_size=np.array(op.kernel),
                                             stride=np.array(op.stride),
                                             padding=np.array(op.padding), metadata=meta)
            for i in n.inputs:
                edges.append((i, pool_name))
            continue
        elif isinstance(op, Flatten):
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape_in)}, start_dim=0,
                                      end_dim=-1)
        elif isinstance(op, Add):
            # NIR adds every edge into a node: an Add is a unit Scale with one edge per input,
            # each through a Scale of its gain where that is not 1
            nodes[name] = nir.Scale(scale=np.ones(n.shape), metadata={"snngen_op": "Add"})
            gains = op.gains or (1,) * len(n.inputs)
            for k, (i, gain) in enumerate(zip(n.inputs, gains, strict=True)):
                gain = np.broadcast_to(_f64(gain), n.shape)
                if np.all(gain == 1):
                    edges.append((i, name))
                else:
                    nodes[f"{name}.gain{k}"] = nir.Scale(scale=gain.copy())
                    edges += [(i, f"{name}.gain{k}"), (f"{name}.gain{k}", name)]
            continue
        elif isinstance(op, Concat):
            raise NirError(f"node {name}: NIR 1.0 has no concatenation (edges into a node add); "
                           "a network with a concat cannot be written as NIR")
        elif isinstance(op, IF):
            q = quant[name]
            meta = {"snngen_v0": int(op.v0), "snngen_weight_bits": int(q.weight_bits),
                    "snngen_scale": float(q.scale), "snngen_weight_error": float(q.weight_error),
                    "snngen_sources": json.dumps(list(q.sources)),
                    "snngen_spike": "v >= v_threshold"}
            if op.v_min is not None:
                meta["snngen_v_min"] = int(op.v_min)
                vmin_layers.append(name)
            if op.v0:
                v0_layers.append(name)
            ones = np.ones(n.shape)
            if op.spiking:
                nodes[name] = nir.IF(r=ones, v_threshold=ones * float(op.threshold),
                                     metadata=meta)
            else:
                meta["snngen_threshold"] = int(op.threshold)
                nodes[name] = nir.I(r=ones, metadata=meta)
        else:
            raise NirError(f"node {name}: {type(op).__name__} has no NIR form")
        for i in n.inputs:
            edges.append((i, name))
    out = "output" if "output" not in nodes else "output_"
    nodes[out] = nir.Output(output_type={"output": np.array(g[g.output].shape)})
    edges.append((g.output, out))
    meta = {"snngen_profile": PROFILE, "snngen_input": net.input_mode,
            "snngen_config": json.dumps(net.config.to_dict(), sort_keys=True),
            "snngen_conversion": json.dumps(net.conversion, sort_keys=True),
            "snngen_source": json.dumps(net.source, sort_keys=True)}
    if v0_layers:
        warnings.append(f"{', '.join(v0_layers)}: the neurons start at v0 (metadata "
                        "snngen_v0), NIR's IF at 0")
    warnings.append("every IF spikes on v >= v_threshold (snngen's rule, metadata "
                    "snngen_spike); NIR 1.0 says v > v_threshold, which differs when v equals it")
    if vmin_layers:
        warnings.append(f"{', '.join(vmin_layers)}: the membrane is clamped at v_min (metadata "
                        "snngen_v_min), which NIR's IF does not do")
    if pools:
        warnings.append(f"{', '.join(pools)}: NIR 1.0 has no max-pool; written as SumPool2d "
                        "marked snngen_op = MaxPool2d, which other tools read as a sum")
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta), warnings


def nir_version() -> str:
    """The installed ``nir`` package's version (the file format's)."""
    return _nir().version


def write(graph, path: str | Path | None = None) -> bytes:
    """The bytes of ``graph`` as a NIR file (HDF5, ``nir.write``), for an atomic write
    (``path`` only names it in messages)."""
    nir = _nir()
    buf = io.BytesIO()
    nir.write(buf, graph)
    return buf.getvalue()


def read(path: str | Path):
    """A NIR file as a ``nir.NIRGraph``; a file that is not one raises :class:`NirError`."""
    nir = _nir()
    try:
        return nir.read(str(path))
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise NirError(f"{path} is not a readable NIR file ({type(e).__name__}: {e})") from None


# --------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    """What :func:`from_nir` made: the float spiking graph (None for snngen's own profile,
    which is integer already) and the fixed-point network."""

    snn: Graph | None
    fixed: FixedNet


def _meta(node) -> dict:
    m = getattr(node, "metadata", None) or {}
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in m.items()}


def _scalar(v):
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else v


def _pair(v, what: str, name: str) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(np.int64).reshape(-1)
    if a.size == 1:
        return int(a[0]), int(a[0])
    if a.size != 2:
        raise NirError(f"node {name}: {what} {v!r} is not one or two integers")
    return int(a[0]), int(a[1])


def _uniform(a, what: str, name: str) -> float:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0 or np.ptp(a) != 0:
        raise NirError(f"node {name}: {what} differs between neurons; snngen needs one value "
                       "per population")
    return float(a.reshape(-1)[0])


def _order(nodes: Mapping, edges) -> tuple[dict[str, list[str]], list[str]]:
    """The inputs of every node (in edge order) and a topological order; a cycle is refused."""
    ins: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        a, b = str(a), str(b)
        if a not in nodes or b not in nodes:
            raise NirError(f"edge {a} -> {b} names a node the graph does not have")
        ins[b].append(a)
    order, state = [], {}

    def visit(k: str) -> None:
        if state.get(k) == 1:
            raise NirError(f"node {k} is on a cycle (a recurrent connection): snngen's networks "
                           "are feed-forward")
        if state.get(k) == 2:
            return
        state[k] = 1
        for i in ins[k]:
            visit(i)
        state[k] = 2
        order.append(k)

    for k in nodes:
        visit(k)
    return ins, order


def from_nir(graph, *, input_mode: str = "analog", fixed: FixedConfig | None = None,
             source: dict | None = None) -> Imported:
    """A NIR graph as a fixed-point network (see the module doc). ``input_mode`` and ``fixed``
    (the widths, the proven timesteps) apply to a graph from another tool; a graph in snngen's
    profile carries its own and is rebuilt exactly. ``source`` is recorded in the network."""
    nir = _nir()
    nodes = {str(k): v for k, v in graph.nodes.items()}
    gmeta = _meta(graph)
    exact = gmeta.get("snngen_profile") == PROFILE
    if gmeta.get("snngen_profile") not in (None, PROFILE):
        raise NirError(f"the graph is in snngen profile {gmeta['snngen_profile']!r}; this "
                       f"snngen reads {PROFILE!r}")
    ins, order = _order(nodes, graph.edges)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirError(f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes; "
                       "snngen needs exactly one of each")
    specs: list[tuple[str, object, tuple[str, ...]]] = []
    quant: dict[str, LayerQuant] = {}
    out_name = None
    for k in order:
        node, meta = nodes[k], _meta(nodes[k])
        kind = type(node).__name__
        srcs = tuple(ins[k])
        if isinstance(node, nir.Input):
            shape = tuple(int(x) for x in np.asarray(node.input_type["input"]).reshape(-1))
            specs.append((k, Input(shape), ()))
            continue
        if not srcs:
            raise NirError(f"node {k} ({kind}) has no input")
        if isinstance(node, nir.Output):
            if len(srcs) != 1:
                raise NirError(f"the Output has {len(srcs)} inputs; snngen needs one")
            out_name = srcs[0]
            continue
        if len(srcs) > 1 and not isinstance(node, nir.Scale):
            # several edges into a node add: an explicit Add in front of it
            specs.append((f"{k}.in", Add(None), srcs))
            srcs = (f"{k}.in",)
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = np.asarray(node.weight, np.float64)
            b = np.asarray(node.bias, np.float64) if isinstance(node, nir.Affine) else None
            specs.append((k, Linear(w, b), srcs))
        elif isinstance(node, nir.Conv2d):
            if int(_scalar(node.groups)) != 1 or _pair(node.dilation, "dilation", k) != (1, 1):
                raise NirError(f"node {k}: a grouped or dilated Conv2d (groups {node.groups}, "
                               f"dilation {node.dilation}) is not supported")
            if isinstance(node.padding, str):
                raise NirError(f"node {k}: padding {node.padding!r}: give it as integers")
            w = np.asarray(node.weight, np.float64)
            b = None if node.bias is None else np.asarray(node.bias, np.float64)
            specs.append((k, Conv2d(w, b, _pair(node.stride, "stride", k),
                                    _pair(node.padding, "padding", k)), srcs))
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            kern = _pair(node.kernel_size, "kernel_size", k)
            stride = _pair(node.stride, "stride", k)
            pad = _pair(node.padding, "padding", k)
            if meta.get("snngen_op") == "MaxPool2d":
                specs.append((k, MaxPool2d(kern, stride, pad), srcs))
            else:
                gain = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kern[0] * kern[1])
                specs.append((k, ("pool", kern, stride, pad, gain), srcs))
        elif isinstance(node, nir.Flatten):
            # everything of a sample into one vector: start_dim 0 (no batch axis, as sinabs
            # writes it) or 1 (torch.flatten(x, 1) on a batch)
            if int(_scalar(node.start_dim)) not in (0, 1) or int(_scalar(node.end_dim)) != -1:
                raise NirError(f"node {k}: Flatten(start_dim={node.start_dim}, end_dim="
                               f"{node.end_dim}) keeps axes apart; snngen flattens a whole sample")
            specs.append((k, Flatten(), srcs))
        elif isinstance(node, nir.Scale):
            specs.append((k, ("scale", np.asarray(node.scale, np.float64), meta), srcs))
        elif isinstance(node, (nir.IF, nir.I)):
            spiking = isinstance(node, nir.IF)
            r = _uniform(node.r, "r", k)
            if r <= 0:
                raise NirError(f"node {k}: r = {r} (must be positive)")
            if exact:
                theta = int(meta["snngen_threshold"]) if not spiking else \
                    int(_uniform(node.v_threshold, "v_threshold", k))
                v_min = meta.get("snngen_v_min")
                op = IF(theta, int(meta["snngen_v0"]), False, spiking,
                        None if v_min is None else int(v_min))
                quant[k] = LayerQuant(k, tuple(json.loads(meta["snngen_sources"])),
                                      int(meta["snngen_weight_bits"]),
                                      float(meta["snngen_scale"]), theta,
                                      int(meta["snngen_v0"]),
                                      None if v_min is None else int(v_min),
                                      float(meta["snngen_weight_error"]))
            else:
                # v' = v / r integrates I once per timestep and spikes at v_threshold / r
                theta = _uniform(node.v_threshold, "v_threshold", k) / r if spiking else 1.0
                if theta <= 0:
                    raise NirError(f"node {k}: v_threshold / r = {theta} (must be positive)")
                op = IF(theta, 0.0, False, spiking, None)
            specs.append((k, op, srcs))
        else:
            raise NirError(f"node {k}: {kind} is not supported (snngen imports IF and I "
                           "neurons, Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten and "
                           "Scale)")
    if out_name is None:
        raise NirError("the Output is not connected")
    # (a Scale folded into the op before it keeps its own name, so the names still hold)
    specs = _mark_output(_fold(specs), out_name)
    try:
        g = build(specs, out_name)
    except ValueError as e:
        raise NirError(f"the graph does not fit together: {e}") from None
    if exact:
        return Imported(None, _exact_net(g, gmeta, quant))
    # a pooling of spikes that feeds a convolution or a dense layer is folded into it where
    # that is exact, as snngen's own conversion does; any other must feed IF neurons directly
    g = fold_avgpool(g)
    for n in g:
        if isinstance(n.op, AvgPool2d) and not all(isinstance(c.op, IF)
                                                   for c in g.consumers(n.name)):
            raise NirError(f"node {n.name}: a pooling that feeds {g.consumers(n.name)[0].name} "
                           "cannot be folded into it; snngen needs pooling to feed IF neurons "
                           "or a convolution or dense layer it folds into exactly")
    fixed = fixed or FixedConfig()
    conversion = {"input": input_mode, "readout": "count" if g[g.output].op.spiking
                  else "membrane", "v_init": 0.0, "v_min": None}
    return Imported(g, fix(g, fixed, conversion, source))


def _fold(specs: list) -> list:
    """Resolve the placeholder ops (in topological order): a pool becomes an AvgPool2d with
    its per-channel gain (the channel count is known only now); a Scale whose edges add (several
    inputs, or snngen's own Add) becomes an Add, taking the gains of the single-input Scales
    that feed only it; any other Scale is folded into the op before it (a conv or a pool per
    output channel, a dense layer per feature), which must feed only the Scale."""
    by = {k: (op, srcs) for k, op, srcs in specs}
    consumers: dict[str, list[str]] = {k: [] for k in by}
    for k, _, srcs in specs:
        for s_ in srcs:
            consumers[s_].append(k)

    def is_scale(op) -> bool:
        return isinstance(op, tuple) and op[0] == "scale"

    adds = {k for k, op, srcs in specs
            if is_scale(op) and (op[2].get("snngen_op") == "Add" or len(srcs) > 1)}
    gains = {k for k, op, srcs in specs if is_scale(op) and k not in adds and len(srcs) == 1
             and consumers[k] and all(c in adds for c in consumers[k])}
    out: dict[str, tuple] = {}
    for k, op, srcs in specs:
        if k in gains:
            continue  # taken into its Add
        if isinstance(op, tuple) and op[0] == "pool":
            _, kern, stride, pad, gain = op
            op = AvgPool2d(kern, stride, pad, np.full(_channels(by, srcs[0]), gain))
        elif is_scale(op) and k in adds:
            if np.any(op[1] != 1):
                raise NirError(f"node {k}: a Scale whose inputs add must be all ones")
            g, new = [], []
            for s_ in srcs:
                if s_ in gains:
                    g.append(_as_int(by[s_][0][1]))
                    new.append(by[s_][1][0])
                else:
                    g.append(np.asarray(1, dtype=np.int64))
                    new.append(s_)
            op, srcs = Add(tuple(g)), tuple(new)
        elif is_scale(op):
            prev = srcs[0]
            prev_op, prev_srcs = out[prev]
            folded = _fold_scale(prev_op, op[1]) if consumers[prev] == [k] else None
            if folded is None:
                raise NirError(f"node {k}: a Scale after {type(prev_op).__name__} {prev} "
                               "cannot be folded into it (snngen folds a per-channel Scale "
                               "into the conv, pool or dense layer it alone follows)")
            del out[prev]
            op, srcs = folded, prev_srcs
        out[k] = (op, srcs)
    return [(k, op, srcs) for k, (op, srcs) in out.items()]


def _as_int(a: np.ndarray) -> np.ndarray:
    r = np.rint(a)
    return r.astype(np.int64) if np.array_equal(r, a) else a


def _channels(by: dict, k: str) -> int:
    op, srcs = by[k]
    if isinstance(op, Input):
        return op.shape[0]
    if isinstance(op, Conv2d):
        return op.weight.shape[0]
    if srcs:
        return _channels(by, srcs[0])
    raise NirError(f"node {k}: cannot tell the channel count")


def _fold_scale(op, scale: np.ndarray):
    """``op`` followed by an elementwise ``scale``: one op, when the scale is per output channel
    (a conv or a pool) or per feature (a dense layer); else None."""
    if isinstance(op, AvgPool2d):
        per_c = scale.reshape(scale.shape[0], -1)
        if np.ptp(per_c, axis=1).any():
            return None
        return AvgPool2d(op.kernel, op.stride, op.padding, per_c[:, 0] * op.gain)
    if isinstance(op, Conv2d):
        per_c = scale.reshape(scale.shape[0], -1)
        if np.ptp(per_c, axis=1).any():
            return None
        s = per_c[:, 0]
        return Conv2d(op.weight * s[:, None, None, None],
                      None if op.bias is None else op.bias * s, op.stride, op.padding)
    if isinstance(op, Linear):
        s = scale.reshape(-1)
        return Linear(op.weight * s[:, None], None if op.bias is None else op.bias * s)
    return None


def _mark_output(specs: list, out_name: str) -> list:
    out = []
    for k, op, srcs in specs:
        if k == out_name:
            if not isinstance(op, IF):
                raise NirError(f"the Output reads {k} ({type(op).__name__}); snngen's output is "
                               "a population of IF (or I) neurons")
            op = IF(op.threshold, op.v0, True, op.spiking, op.v_min)
        out.append((k, op, srcs))
    return out


def _exact_net(g: Graph, meta: dict, quant: dict[str, LayerQuant]) -> FixedNet:
    """snngen's own profile: the integer graph as it was written, its widths proven again."""
    config_d = json.loads(meta["snngen_config"])
    config = FixedConfig(weight_bits=config_d["weight_bits"],
                         layer_bits=dict(config_d["layer_bits"]),
                         input_bits=config_d["input_bits"],
                         max_timesteps=config_d["max_timesteps"],
                         membrane_bits=config_d["membrane_bits"])
    conversion = json.loads(meta["snngen_conversion"])
    source = json.loads(meta["snngen_source"])
    mode = conversion.get("input", "analog")
    specs = []
    for n in g:
        op = n.op
        if isinstance(op, Input):
            op = Input(op.shape, config.input_bits)
        elif isinstance(op, (Conv2d, Linear)):
            op = type(op)(**{**op.__dict__, "weight": _exact_int(op.weight, n.name),
                             "bias": None if op.bias is None else _exact_int(op.bias, n.name)})
        elif isinstance(op, AvgPool2d):
            op = AvgPool2d(op.kernel, op.stride, op.padding, _exact_int(op.gain, n.name))
        specs.append((n.name, op, n.inputs))
    q = build(specs, g.output)
    formats = analyze(q, config.max_timesteps, mode)
    order = [n.name for n in q if n.name in quant]
    return FixedNet(q, formats, tuple(quant[k] for k in order), config, conversion, source)


def _exact_int(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    r = np.rint(a)
    if not np.array_equal(r, a):
        raise NirError(f"node {name}: the graph says it is snngen's integer profile, but its "
                       "numbers are not integers")
    return r.astype(np.int64)
