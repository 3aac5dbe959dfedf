"""Conversion passes: pure functions ``Graph -> Graph``, listed in order in :func:`pipeline`.

The pipeline takes a frontend graph (an ANN with ReLUs) to a spiking graph whose activations are
integrate-and-fire populations with threshold 1, following Rueckauer et al. (2016, 2017):

1. clean-up: drop Identity/Dropout and a final Softmax, fold BatchNorm into the Conv/Linear
   before it;
2. canonical form: move a ReLU in front of a MaxPool (they commute), drop ReLUs of values that
   are already non-negative, and distribute a sum of spike tensors over the linear layers it
   feeds (:func:`distribute_spike_adds`);
3. fold an average pooling into the linear layer after it (:func:`fold_avgpool`; skipped with
   ``spiking_avgpool=True``), and give every remaining AvgPool its own ReLU (average pooling as
   a spiking layer, as in the papers);
4. a structural check (:func:`check_convertible`) that names the node a spiking version cannot
   represent;
5. analog input only: max-pool the constant first-layer current before its neurons
   (:func:`pool_static_currents`);
6. data-based weight normalisation (:func:`normalize`);
7. ReLU -> IF, plus an IF readout population on the output (:func:`to_spiking`).

A graph value is either *spikes* (a source of events: the input, a ReLU/IF, pooling or reshaping
of spikes) or a *current* (the output of a linear op or a sum). Every current must end in exactly
one IF population; every linear op reads spikes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from snngen.ir import kernels
from snngen.ir.ann import bn_scale_shift, forward
from snngen.ir.graph import (
    IF,
    LINEAR_OPS,
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
    ReLU,
    Softmax,
    build,
)

Pass = Callable[[Graph], Graph]


class ConversionError(ValueError):
    """The graph cannot be converted to a spiking network; the message names the node."""


@dataclass(frozen=True)
class ConversionConfig:
    """Every conversion setting, with the defaults the CLI uses.

    percentile: normalisation scale = this percentile of a layer's positive ANN activations
        over the calibration set (100 = the maximum, as Diehl et al. 2015; 99.9 = the robust
        choice of Rueckauer et al. 2016).
    channelwise: one scale per output channel of convolutional layers (Rueckauer et al. 2017,
        Sec. 2.3 discusses layer-wise vs channel-wise); vectors and the readout stay layer-wise.
    v_init: initial membrane as a fraction of the threshold (0.5 default, 0 = the papers).
    v_min: optional lower clamp of every membrane, as a multiple of the threshold (e.g. -1.0):
        bounds the register width of the fixed-point network independently of T; applied
        identically by the float simulator and the golden model. None = no clamp.
    readout: "count" (spike counts; ties by membrane, then lowest index) or "membrane"
        (non-spiking output integrators, argmax of the membrane).
    spiking_avgpool: keep every average pooling as a layer of IF neurons, as the papers do;
        by default one that feeds a Linear (through Flatten) or a Conv2d is folded into it
        where that is exact (:func:`fold_avgpool`).
    equalize_concat: give the branches of a concatenation one common scale, the largest
        (:func:`equalize_concat_scales`): the reader's weights keep their proportions, the
        weaker branches fire less. Off by default: measured on examples/digits_inception (branch
        scales 3.7x apart) it trades accuracy at T <= 8 for accuracy at T = 16
        (docs/conversion.md, "Concatenated branches").
    input: "analog" (pixels as a constant current) or "spikes" (rate-coded input). With analog
        input, max-pooling of a time-invariant current is done on the current, before the IF
        neurons (:func:`pool_static_currents`), so the network depends on this choice.
    seed: the LFSR seed of spike input (docs/semantics.md §2, 1 .. 2^32 - 1), kept in the
        network file with the rest, so that a spike-input network file fixes what it computes;
        a simulation may still override it.
    """

    percentile: float = 99.9
    channelwise: bool = False
    v_init: float = 0.5
    readout: str = "count"
    input: str = "analog"
    v_min: float | None = None
    spiking_avgpool: bool = False
    equalize_concat: bool = False
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")
        if self.readout not in ("count", "membrane"):
            raise ValueError(f"readout must be 'count' or 'membrane', got {self.readout!r}")
        if self.input not in ("analog", "spikes"):
            raise ValueError(f"input must be 'analog' or 'spikes', got {self.input!r}")
        if not 0 <= self.v_init < 1:
            raise ValueError(f"v_init must be in [0, 1), got {self.v_init}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 1 <= self.seed <= 0xFFFFFFFF:
            raise ValueError(f"seed must be an integer in 1..2^32-1 (an LFSR stuck at 0 never "
                             f"spikes), got {self.seed!r}")
        if self.v_min is not None and self.v_min > 0:
            raise ValueError(f"v_min must be <= 0 (a multiple of the threshold), got {self.v_min}")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def kinds(graph: Graph) -> dict[str, str]:
    """Classify every node's value as "spikes", "current" or "mixed" (see module docstring)."""
    k: dict[str, str] = {}
    for n in graph:
        op = n.op
        if isinstance(op, (Input, ReLU)) or (isinstance(op, IF) and op.spiking):
            k[n.name] = "spikes"
        elif isinstance(op, (*LINEAR_OPS, Add, BatchNorm, IF)):
            k[n.name] = "current"
        else:
            ins = {k[i] for i in n.inputs}
            k[n.name] = ins.pop() if len(ins) == 1 else "mixed"
    return k


def static_nodes(graph: Graph) -> set[str]:
    """Nodes whose value is the same at every timestep under analog input: the input and
    whatever is computed from it without passing through a neuron."""
    static: set[str] = set()
    for n in graph:
        if isinstance(n.op, Input) or (
                n.inputs and not isinstance(n.op, (ReLU, IF))
                and all(i in static for i in n.inputs)):
            static.add(n.name)
    return static


def bypass(graph: Graph, name: str) -> Graph:
    """Remove a single-input node, connecting its consumers (and the output) to its input."""
    (src,) = graph[name].inputs
    specs = [(n, o, tuple(src if i == name else i for i in ins))
             for n, o, ins in graph.specs() if n != name]
    return build(specs, src if graph.output == name else graph.output)


def _single_consumer(graph: Graph, name: str) -> str | None:
    cons = graph.consumers(name)
    return cons[0].name if len(cons) == 1 and name != graph.output else None


# --------------------------------------------------------------------------------------------
# 1. clean-up
# --------------------------------------------------------------------------------------------


def remove_identity(graph: Graph) -> Graph:
    for n in graph:
        if isinstance(n.op, Identity):
            return remove_identity(bypass(graph, n.name))
    return graph


def drop_final_softmax(graph: Graph) -> Graph:
    # argmax is unchanged by a softmax; the spiking readout takes its place
    if isinstance(graph[graph.output].op, Softmax):
        return bypass(graph, graph.output)
    return graph


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold every BatchNorm into the Conv2d/Linear that feeds it: ``W' = s W``, ``b' = s b + t``."""
    for n in graph:
        if not isinstance(n.op, BatchNorm):
            continue
        (src,) = n.inputs
        prev = graph[src]
        if not isinstance(prev.op, (Conv2d, Linear)) or _single_consumer(graph, src) != n.name:
            raise ConversionError(
                f"{n.name}: BatchNorm can only be folded into a Conv2d/Linear that feeds nothing "
                f"else; it follows {prev.name} ({type(prev.op).__name__})")
        s, t = bn_scale_shift(n.op)
        w = prev.op.weight * s.reshape((-1,) + (1,) * (prev.op.weight.ndim - 1))
        b = prev.op.bias if prev.op.bias is not None else np.zeros(w.shape[0])
        folded = replace(prev.op, weight=w, bias=s * b + t)
        return fold_batchnorm(bypass(graph.with_op(src, folded), n.name))
    return graph


# --------------------------------------------------------------------------------------------
# 2. canonical form
# --------------------------------------------------------------------------------------------


def commute_maxpool_relu(graph: Graph) -> Graph:
    """``current -> MaxPool -> ReLU`` becomes ``current -> ReLU -> MaxPool`` (max and ReLU
    commute), so max-pooling acts on spikes."""
    k = kinds(graph)
    for m in graph:
        if not isinstance(m.op, MaxPool2d) or k[m.inputs[0]] != "current":
            continue
        r = _single_consumer(graph, m.name)
        if r is None or not isinstance(graph[r].op, ReLU):
            continue
        specs = []
        for name, op, ins in graph.specs():
            if name == m.name:
                ins = (r,)
            elif name == r:
                ins = m.inputs
            else:
                ins = tuple(m.name if i == r else i for i in ins)
            specs.append((name, op, ins))
        return commute_maxpool_relu(build(specs, m.name if graph.output == r else graph.output))
    return graph


def remove_redundant_relu(graph: Graph) -> Graph:
    """A ReLU of spikes (already non-negative, e.g. ReLU -> MaxPool -> ReLU) is the identity."""
    k = kinds(graph)
    for n in graph:
        if isinstance(n.op, ReLU) and k[n.inputs[0]] == "spikes" \
                and not isinstance(graph[n.inputs[0]].op, Input):
            return remove_redundant_relu(bypass(graph, n.name))
    return graph


def distribute_spike_adds(graph: Graph) -> Graph:
    """A sum of spike tensors (``h + body(h)`` with both ReLU outputs, the post-activation
    residual form) has no spiking form of its own: it is not a current into one population,
    and its values are not spikes. But every linear op distributes over it,
    ``W (a + b) = W a + W b``: the sum is pushed down through average pooling and flattening to
    the first Conv/Linear, that path is copied once per summand (the same weights; each copy is
    normalised by its own source's scale later, the bias kept once), and the sum moves behind
    the copies, where it is a sum of currents into the next population (the supported form).
    The ANN is unchanged. A sum that feeds a ReLU is a spiking layer already and is left alone;
    one that feeds anything else (max pooling, several layers, the output) is refused, naming
    the form that converts."""
    k = kinds(graph)
    for n in graph:
        if not isinstance(n.op, Add) or not all(k[i] == "spikes" for i in n.inputs):
            continue
        src = ", ".join(n.inputs)
        fix = ("add a ReLU after the sum (an identity on its non-negative values) to make it a "
               "layer of spiking neurons")
        if n.op.gains and any(np.any(np.asarray(g) != 1) for g in n.op.gains):
            raise ConversionError(f"{n.name}: a weighted sum of spike trains ({src}); {fix}")
        path: list = []
        cur = n.name
        while True:
            cons = graph.consumers(cur)
            if cur == graph.output or len(cons) != 1:
                where = "is the network's output" if cur == graph.output else \
                    f"feeds {len(cons)} layers ({', '.join(c.name for c in cons)})"
                raise ConversionError(f"{n.name}: the sum of spike trains ({src}) {where}; a "
                                      f"sum converts when it feeds one chain of linear layers; "
                                      f"else {fix}")
            c = cons[0]
            if isinstance(c.op, ReLU):
                path = []
                break
            path.append(c)
            if isinstance(c.op, (Conv2d, Linear)):
                break
            if not isinstance(c.op, (AvgPool2d, Flatten)):
                raise ConversionError(
                    f"{n.name}: the sum of spike trains ({src}) feeds {type(c.op).__name__} "
                    f"{c.name}, which does not distribute over a sum; {fix}")
            cur = c.name
        if not path:
            continue
        last = path[-1]
        on_path = {p.name for p in path}
        specs = []
        for name, op, ins in graph.specs():
            if name == n.name or (name in on_path and name != last.name):
                continue
            if name != last.name:
                specs.append((name, op, ins))
                continue
            parts = []
            for j, s_in in enumerate(n.inputs):
                prev = s_in
                for p in path:
                    op_j = p.op
                    if p is last and j > 0 and op_j.bias is not None:
                        op_j = replace(op_j, bias=None)  # the bias is added once
                    copy = f"{p.name}.{s_in}"
                    specs.append((copy, op_j, (prev,)))
                    prev = copy
                parts.append(prev)
            specs.append((last.name, Add(), tuple(parts)))
        return distribute_spike_adds(build(specs, graph.output))
    return graph


def _avgpool_matrix(node, in_shape: tuple[int, ...]) -> np.ndarray:
    """The average pooling of ``node`` as a matrix ``(out elements, in elements)``."""
    size = int(np.prod(in_shape))
    basis = np.eye(size).reshape(size, *in_shape)
    return kernels.avgpool2d(basis, node.op).reshape(size, -1).T


def _fold_into_conv(pool: AvgPool2d, conv: Conv2d, in_shape: tuple[int, ...]) -> Conv2d | None:
    """The one Conv2d equal to ``conv(pool(x))`` for every ``x`` of ``in_shape``, or None when
    there is none of this form. Each kernel tap is spread over its pooling window (a kernel of
    ``(k - 1) * s_pool + k_pool``), the strides multiply, and the padding is the convolution's
    in pooled pixels times the pool stride, plus the pool's own. That is exact when the pooled
    map's padding and any rows or columns the pool drops map onto the folded convolution's zero
    padding; rather than derive every case, the fold is kept only if it equals the original on a
    random input (both are linear maps, so one that differs does so on a random input)."""
    w = conv.weight
    (kh, kw), (sh, sw), (ph, pw) = pool.kernel, pool.stride, pool.padding
    o_, c_, ch, cw = w.shape
    big = np.zeros((o_, c_, (ch - 1) * sh + kh, (cw - 1) * sw + kw))
    for i in range(ch):
        for j in range(cw):
            big[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += \
                w[:, :, i:i + 1, j:j + 1] * pool.gain[None, :, None, None]
    folded = Conv2d(big, conv.bias, (sh * conv.stride[0], sw * conv.stride[1]),
                    (conv.padding[0] * sh + ph, conv.padding[1] * sw + pw))
    x = np.random.default_rng(0).random((2, *in_shape))
    want = kernels.conv2d(kernels.avgpool2d(x, pool), conv)
    try:
        got = kernels.conv2d(x, folded)
    except ValueError:  # no output at all with these sizes
        return None
    if got.shape != want.shape:
        return None
    tol = 1e-9 * max(1.0, float(np.abs(want).max(initial=0.0)))
    return folded if np.allclose(got, want, rtol=0.0, atol=tol) else None


def fold_avgpool(graph: Graph) -> Graph:
    """Fold an average pooling of spikes into the linear layer that reads it (both are linear,
    so the ANN is unchanged): ``AvgPool -> Flatten -> Linear`` becomes ``Flatten -> Linear``
    with ``W' = W P``, and ``AvgPool -> Conv2d`` (padded or not) becomes one Conv2d with the
    kernels spread over the pooling windows (stride ``s_pool * s_conv``, padding
    ``p_conv * s_pool + p_pool``) wherever that is exact (:func:`_fold_into_conv`).

    The papers make average pooling a layer of IF neurons; every spiking layer adds a rate
    quantisation error, and this one adds nothing the next layer cannot compute itself, so snngen
    removes it by default (``ConversionConfig(spiking_avgpool=True)`` keeps it).
    """
    k = kinds(graph)
    for n in graph:
        op = n.op
        if not isinstance(op, AvgPool2d) or k[n.inputs[0]] != "spikes":
            continue
        c = _single_consumer(graph, n.name)
        if c is None:
            continue
        src = n.inputs[0]
        cons = graph[c]
        if isinstance(cons.op, Flatten):
            lin = _single_consumer(graph, c)
            if lin is None or not isinstance(graph[lin].op, Linear):
                continue
            pm = _avgpool_matrix(n, graph[src].shape)
            folded = replace(graph[lin].op, weight=graph[lin].op.weight @ pm)
            specs = [(name, folded if name == lin else o,
                      (src,) if name == c else ins)
                     for name, o, ins in graph.specs() if name != n.name]
            return fold_avgpool(build(specs, graph.output))
        if isinstance(cons.op, Conv2d):
            folded = _fold_into_conv(op, cons.op, graph[src].shape)
            if folded is None:
                continue
            specs = [(name, folded if name == c else o, (src,) if name == c else ins)
                     for name, o, ins in graph.specs() if name != n.name]
            return fold_avgpool(build(specs, graph.output))
    return graph


def spiking_avgpool(graph: Graph) -> Graph:
    """Give each AvgPool a ReLU of its own (an identity on its non-negative input): average
    pooling then becomes a layer of IF neurons, as in the papers."""
    for n in graph:
        if not isinstance(n.op, AvgPool2d) or n.name == graph.output:
            continue
        c = _single_consumer(graph, n.name)
        if c is not None and isinstance(graph[c].op, ReLU):
            continue
        new = f"{n.name}_relu"
        specs = [(name, op, tuple(new if i == n.name else i for i in ins))
                 for name, op, ins in graph.specs()]
        specs.append((new, ReLU(), (n.name,)))
        return spiking_avgpool(build(specs, graph.output))
    return graph


def pool_static_currents(graph: Graph) -> Graph:
    """Analog input only: ``static current -> ReLU -> MaxPool`` becomes ``static current ->
    MaxPool -> ReLU``.

    The first layer's current is constant in time under analog input, so its max over a window
    can be taken exactly, once per image, and only the pooled neurons need to exist; the
    spiking max-pool gate would only approximate the same maximum from spike counts.
    """
    static = static_nodes(graph)
    for r in graph:
        if not isinstance(r.op, ReLU) or r.inputs[0] not in static:
            continue
        m = _single_consumer(graph, r.name)
        if m is None or not isinstance(graph[m].op, MaxPool2d):
            continue
        specs = []
        for name, op, ins in graph.specs():
            if name == m:
                ins = r.inputs
            elif name == r.name:
                ins = (m,)
            else:
                ins = tuple(r.name if i == m else i for i in ins)
            specs.append((name, op, ins))
        return pool_static_currents(build(specs, r.name if graph.output == m else graph.output))
    return graph


def _pools_static(graph: Graph, n, static: set[str]) -> bool:
    # a max-pool of a constant (analog-input) current, feeding one ReLU
    c = _single_consumer(graph, n.name)
    return n.inputs[0] in static and c is not None and isinstance(graph[c].op, ReLU)


# --------------------------------------------------------------------------------------------
# 3. structural check
# --------------------------------------------------------------------------------------------


def check_convertible(graph: Graph) -> Graph:
    """Raise :class:`ConversionError` naming the first node a spiking network cannot express."""
    k = kinds(graph)
    static = static_nodes(graph)
    for n in graph:
        op, name = n.op, n.name
        what = type(op).__name__
        ins = [k[i] for i in n.inputs]
        if isinstance(op, (BatchNorm, Identity)):
            raise ConversionError(f"{name}: {what} should have been removed by an earlier pass")
        if isinstance(op, Softmax):
            raise ConversionError(f"{name}: Softmax is only supported as the last layer")
        if isinstance(op, LINEAR_OPS) and ins != ["spikes"]:
            raise ConversionError(
                f"{name}: {what} reads {n.inputs[0]}, which is a pre-activation (no ReLU between "
                f"two linear layers); a spiking layer needs spikes as input")
        if isinstance(op, ReLU) and ins != ["current"]:
            raise ConversionError(f"{name}: ReLU of the network input is not supported")
        if isinstance(op, MaxPool2d) and ins != ["spikes"] and not _pools_static(graph, n, static):
            raise ConversionError(
                f"{name}: MaxPool2d of a pre-activation that is not followed by a ReLU")
        if isinstance(op, (Flatten, Concat)) and set(ins) != {"spikes"}:
            raise ConversionError(
                f"{name}: {what} of a pre-activation; place the ReLU before the {what}")
    for n in graph:  # after the per-op checks, which give the more specific messages
        name, what = n.name, type(n.op).__name__
        if k[name] == "current" and name != graph.output:
            cons = graph.consumers(name)
            ok = (ReLU, Add, MaxPool2d) if name in static else (ReLU, Add)
            if len(cons) != 1 or not isinstance(cons[0].op, ok):
                raise ConversionError(
                    f"{name}: the pre-activation of {what} must feed exactly one ReLU or Add, "
                    f"it feeds {[c.name for c in cons]}")
    out = graph[graph.output]
    if k[out.name] != "current" and not isinstance(out.op, ReLU):
        raise ConversionError(f"{out.name}: the network must end in a Linear/Conv layer "
                              f"(optionally with ReLU or Softmax), not {type(out.op).__name__}")
    return graph


# --------------------------------------------------------------------------------------------
# 4. data-based weight normalisation
# --------------------------------------------------------------------------------------------


def _scale(acts: np.ndarray, percentile: float, channelwise: bool) -> np.ndarray:
    """The normalisation scale of one layer: ``percentile`` of its positive activations,
    per channel when ``channelwise`` and the layer is a feature map. 1 where none is positive."""

    def pct(a: np.ndarray) -> float:
        pos = a[a > 0]
        return float(np.percentile(pos, percentile)) if pos.size else 1.0

    if channelwise and acts.ndim == 4:
        per_c = np.array([pct(acts[:, c]) for c in range(acts.shape[1])])
        return np.broadcast_to(per_c[:, None, None], acts.shape[1:]).copy()
    return np.full(acts.shape[1:], pct(acts))


def layer_scales(graph: Graph, calib_x: np.ndarray, percentile: float = 99.9,
                 channelwise: bool = False, batch_size: int = 500) -> dict[str, np.ndarray]:
    """The scale lambda (an array of the node's shape) of every activation node: ReLUs and the
    output. Computed from the ANN activations on ``calib_x``."""
    k = kinds(graph)
    targets = [n.name for n in graph if isinstance(n.op, ReLU)]
    if k[graph.output] == "current":
        targets.append(graph.output)
    chunks: dict[str, list[np.ndarray]] = {t: [] for t in targets}
    for i in range(0, len(calib_x), batch_size):
        vals = forward(graph, calib_x[i:i + batch_size], keep=targets)
        for t in targets:
            chunks[t].append(vals[t])
    scales = {}
    for t in targets:
        op = graph[t].op
        if isinstance(op, ReLU) and op.clip is not None:
            # a clip-floor activation: its learned clip is the largest value it can take
            scales[t] = np.full(graph[t].shape, op.clip)
            continue
        acts = np.concatenate(chunks[t])
        # the readout keeps one scale: per-class scales would change which class wins
        scales[t] = _scale(acts, percentile, channelwise and t != graph.output)
    return scales


def scale_rules(graph: Graph, percentile: float = 99.9, channelwise: bool = False,
                layers: set[str] | None = None) -> dict[str, str]:
    """How :func:`layer_scales` picks each activation's scale (the layer's threshold), by
    node name: the learned clip of a clip-floor activation, else the percentile rule.
    ``layers``: only these activations (e.g. the IF populations a conversion kept; ReLUs that
    pooling folded away have no threshold) and the output."""
    rule = f"p{percentile:g}" + (", channel-wise" if channelwise else "")
    out = {}
    for n in graph:
        if isinstance(n.op, ReLU) and (layers is None or n.name in layers):
            out[n.name] = (f"learned clip {n.op.clip:.4g} ({n.op.levels} levels)"
                           if n.op.clip is not None else rule)
    if graph.output not in out:
        out[graph.output] = f"p{percentile:g}"
    return out


def _spike_sources(graph: Graph, name: str) -> list[str]:
    """The ReLUs whose spikes reach node ``name`` unchanged in value (through max-pooling,
    flattening and concatenation)."""
    op = graph[name].op
    if isinstance(op, ReLU):
        return [name]
    if isinstance(op, (MaxPool2d, Flatten, Concat)):
        return [r for i in graph[name].inputs for r in _spike_sources(graph, i)]
    return []


def equalize_concat_scales(graph: Graph, lam: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Give the branches of every concatenation of spikes one common scale, the largest of
    theirs (``lam``: the scales of :func:`layer_scales`; a new dict is returned).

    The layer that reads a concatenation quantises all its weights with one step, and each
    input channel's normalised weights are proportional to its branch's scale (``W[o, i] *=
    lam_s[i] / lam_l[o]``): a branch whose scale is a few times smaller than another's reaches
    the reader with weights a few times smaller, so with that many fewer integer levels. With one
    scale the reader's weights keep their original proportions; the branch with the smaller
    activations fires proportionally less instead (its maximum rate is its scale over the common
    one). Branches with learned clip levels (clip-floor activations) keep their own: their
    thresholds are what the training tuned. Channel-wise scales are left as they are (they vary
    within a branch too)."""
    lam = dict(lam)
    for n in graph:
        if not isinstance(n.op, Concat):
            continue
        sources = _spike_sources(graph, n.name)
        if not sources or any(graph[r].op.clip is not None for r in sources):
            continue
        if any(np.ptp(lam[r]) > 0 for r in sources):
            continue  # channel-wise scales
        common = max(float(lam[r].max(initial=0.0)) for r in sources)
        for r in sources:
            lam[r] = np.full(lam[r].shape, common)
    return lam


def normalize(calib_x: np.ndarray, percentile: float = 99.9, channelwise: bool = False,
              equalize_concat: bool = False) -> Pass:
    """Data-based weight normalisation (Rueckauer et al. 2016, Sec. 2.2; 2017, Sec. 2.3).

    Every activation node ``l`` gets a scale ``lam_l`` (see :func:`layer_scales`); the input's
    scale is 1. A linear op feeding ``l`` from spikes of scale ``lam_s`` is rescaled
    ``W[o, i] *= lam_s[i] / lam_l[o]``, ``b[o] /= lam_l[o]``; a spike tensor added directly
    (residual) gets the gain ``lam_s / lam_l``. Afterwards every activation is the original one
    divided by its scale, so a threshold of 1 corresponds to the (robust) maximum activation.
    """

    def run(graph: Graph) -> Graph:
        check_convertible(graph)
        k = kinds(graph)
        lam = layer_scales(graph, calib_x, percentile, channelwise)
        if equalize_concat:
            lam = equalize_concat_scales(graph, lam)
        # scales of spike-valued nodes, propagated through pooling and reshaping
        for n in graph:
            if isinstance(n.op, Input):
                lam[n.name] = np.ones(n.shape)
            elif isinstance(n.op, MaxPool2d) and k[n.name] == "spikes":
                src = lam[n.inputs[0]]
                lam[n.name] = np.broadcast_to(src[:, :1, :1], n.shape).copy()
            elif isinstance(n.op, Flatten) and k[n.name] == "spikes":
                lam[n.name] = lam[n.inputs[0]].reshape(-1)
            elif isinstance(n.op, Concat):
                lam[n.name] = np.concatenate([lam[i] for i in n.inputs], axis=0)

        def dest(name: str) -> str:
            # the activation node a current flows into (through Adds)
            while not (name == graph.output or isinstance(graph[name].op, ReLU)):
                name = graph.consumers(name)[0].name
            return name

        specs = []
        for n in graph:
            op = n.op
            if isinstance(op, (*LINEAR_OPS, Add)):
                d = lam[dest(n.name)]
                d_ch = d.reshape(d.shape[0], -1)[:, 0]  # per output channel / feature
            if isinstance(op, Conv2d):
                s_ch = lam[n.inputs[0]].reshape(op.weight.shape[1], -1)[:, 0]
                w = op.weight * s_ch[None, :, None, None] / d_ch[:, None, None, None]
                op = replace(op, weight=w, bias=None if op.bias is None else op.bias / d_ch)
            elif isinstance(op, Linear):
                s_in = lam[n.inputs[0]]
                w = op.weight * s_in[None, :] / d_ch[:, None]
                op = replace(op, weight=w, bias=None if op.bias is None else op.bias / d_ch)
            elif isinstance(op, AvgPool2d):
                s_ch = lam[n.inputs[0]][:, 0, 0]
                op = replace(op, gain=op.gain * s_ch / d_ch)
            elif isinstance(op, Add):
                old = op.gains or (1.0,) * len(n.inputs)
                op = Add(tuple(np.asarray(g) * (lam[i] / d if k[i] == "spikes" else 1.0)
                               for g, i in zip(old, n.inputs, strict=True)))
            specs.append((n.name, op, n.inputs))
        return build(specs, graph.output)

    return run


# --------------------------------------------------------------------------------------------
# 5. ReLU -> IF
# --------------------------------------------------------------------------------------------


def to_spiking(v_init: float = 0.5, readout: str = "count", v_min: float | None = None) -> Pass:
    """Replace every ReLU by an IF population (threshold 1, initial membrane ``v_init``, lower
    clamp ``v_min``) and put an IF readout population on the output (``spiking=False`` for the
    membrane readout)."""

    def make(is_out: bool) -> IF:
        return IF(1.0, v_init, output=is_out, spiking=not is_out or readout == "count",
                  v_min=v_min)

    def run(graph: Graph) -> Graph:
        specs = []
        for name, op, ins in graph.specs():
            if isinstance(op, ReLU):
                op = make(name == graph.output)
            specs.append((name, op, ins))
        out = graph.output
        if not isinstance(graph[out].op, ReLU):
            new = f"{out}_if"
            specs.append((new, make(True), (out,)))
            out = new
        return build(specs, out)

    return run


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------


CANONICAL_PASSES: list[Pass] = [
    remove_identity,
    drop_final_softmax,
    fold_batchnorm,
    commute_maxpool_relu,
    remove_redundant_relu,
    distribute_spike_adds,
]


def pipeline(config: ConversionConfig, calib_x: np.ndarray) -> list[Pass]:
    """All conversion passes, in order."""
    return [
        *CANONICAL_PASSES,
        *([] if config.spiking_avgpool else [fold_avgpool]),
        spiking_avgpool,
        check_convertible,
        *([pool_static_currents] if config.input == "analog" else []),
        normalize(calib_x, config.percentile, config.channelwise, config.equalize_concat),
        to_spiking(config.v_init, config.readout, config.v_min),
    ]


def canonicalize(graph: Graph) -> Graph:
    """The ANN in canonical form (clean-ups, spiking average pooling, checked): still an ANN,
    with the same function as the input."""
    for p in [*CANONICAL_PASSES, spiking_avgpool, check_convertible]:
        graph = p(graph)
    return graph


def convert(graph: Graph, calib_x: np.ndarray, config: ConversionConfig | None = None) -> Graph:
    """Run the whole pipeline: frontend graph + calibration batch -> spiking graph."""
    for p in pipeline(config or ConversionConfig(), calib_x):
        graph = p(graph)
    return graph
