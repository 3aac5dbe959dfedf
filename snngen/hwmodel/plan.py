"""The hardware plan of a fixed-point network: which pipeline stages, with which parameters.

Both hardware backends and the timing model start from :func:`plan`. It maps a sequential
fixed-point network (docs/semantics.md) onto the stage chain of docs/architecture.md §3:

* stage 0, :class:`InputLayer`: the first IF population under analog input. Its current is
  constant over the image: a router (weight x pixel) accumulates it once per image, optionally
  max-pooled (a MaxPool2d of the constant current, semantics.md §4), into the IF array's K.
* :class:`HiddenLayer`: a Conv2d or Linear (after an optional Flatten) feeding an IF population:
  a spike router + IF array.
* :class:`PoolStage`: a spiking MaxPool2d between two IF populations: the max-pool gate.

Everything else is refused with :class:`HardwareError` naming the node and the reason.
No torch and no backend imports here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from snngen.fixedpoint.fixednet import FixedNet
from snngen.fixedpoint.formats import bits_for
from snngen.hwmodel.blocks.banks import bank_rows
from snngen.hwmodel.blocks.router import RouterGeometry, geometry, weight4d
from snngen.ir.graph import IF, Conv2d, Flatten, Input, Linear, MaxPool2d, Node

MAX_WIDTH = 32  # widest register the hand-written blocks accept


class HardwareError(ValueError):
    """The network (or an option) cannot be built as hardware; the message says why."""


@dataclass(frozen=True)
class InputLayer:
    """Stage 0: analog input -> constant current (accumulated once per image) -> IF array."""

    name: str                    # the IF node
    synapse: str                 # the Conv2d / Linear node
    geom: RouterGeometry
    weights: np.ndarray          # (COUT, CIN, KH, KW) int64, the router's view
    w_width: int
    value_width: int             # pixel bits
    pool: tuple[int, int, int, int, int, int]  # (PKH, PKW, PSH, PSW, PPH, PPW); 1,1,1,1,0,0: none
    pooled: tuple[int, int]      # (OH, OW) of the array's map
    bias: np.ndarray             # (COUT,) int64 (a dense layer: one per neuron)
    acc_width: int
    k_width: int
    n: int
    shape: tuple[int, ...]
    lanes: int
    v_width: int
    threshold: int
    v0: int
    v_min: int | None
    spiking: bool
    in_index_width: int
    acc_addr_width: int
    index_width: int
    # the lanes asked for (--lanes), when more than the layer can use (lanes is then the
    # smallest power of two >= its output channels: the same cycles, less memory and logic)
    lanes_asked: int | None = None

    kind = "input"

    @property
    def plane(self) -> int:
        """Neurons per channel of the IF array (the pooled map): its banks' PLANE."""
        return self.pooled[0] * self.pooled[1]


@dataclass(frozen=True)
class HiddenLayer:
    """A spike router (Conv2d or Linear fan-out) feeding an IF array."""

    name: str
    synapse: str
    geom: RouterGeometry
    weights: np.ndarray
    w_width: int
    k: np.ndarray                # (N,) int64 per-neuron constant current = the bias
    k_width: int
    n: int
    shape: tuple[int, ...]
    lanes: int
    v_width: int
    threshold: int
    v0: int
    v_min: int | None
    spiking: bool
    in_index_width: int
    addr_width: int
    index_width: int
    # the lanes asked for, when more than the layer can use (as InputLayer's)
    lanes_asked: int | None = None

    kind = "layer"

    @property
    def plane(self) -> int:
        """Neurons per output channel (OH*OW; 1 for a dense layer): the banks' PLANE."""
        return self.geom.plane


@dataclass(frozen=True)
class PoolStage:
    """A spiking max-pool gate between two IF populations."""

    name: str                    # the MaxPool2d node
    source: str                  # the IF node it pools
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    cnt_width: int
    in_index_width: int
    index_width: int

    kind = "pool"

    @property
    def n(self) -> int:
        return int(np.prod(self.out_shape))


Stage = InputLayer | HiddenLayer | PoolStage


@dataclass(frozen=True)
class HwPlan:
    stages: tuple[Stage, ...]
    fifo_depths: tuple[int, ...]     # FIFO in front of stage k + 1 (len = stages - 1)
    input_shape: tuple[int, ...]
    input_bits: int
    max_timesteps: int
    readout: str                     # "count" | "membrane"
    cnt_width: int                   # spike counts (readout, gates)
    t_width: int                     # the timesteps input
    step_width: int                  # the step counter: T_max + stages - 1

    @property
    def n_in(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def classes(self) -> int:
        return self.stages[-1].n

    @property
    def output(self) -> Stage:
        return self.stages[-1]


def index_width(n: int) -> int:
    """Bits of an index 0 .. n-1 (at least 1)."""
    return max(1, (n - 1).bit_length())


def min_fifo_depth(n_producer: int) -> int:
    """The smallest FIFO that never fills: a whole timestep (n + 1 events with the EOT) waits in
    it while the producer writes the next one, so 2 (n + 1) words (docs/architecture.md §3.5;
    snn_fifo takes any depth, so nothing is rounded)."""
    return 2 * (n_producer + 1)


def fifo_depth_problem(want: int, need: int, producer) -> str | None:
    """What is wrong with a FIFO depth ``want`` in front of the stage after ``producer``, whose
    smallest safe depth is ``need``, and the rule (None: nothing)."""
    if want >= need:
        return None
    return (f"depth {want} is too small; it must hold two timesteps of {producer.name} "
            f"({producer.n} neurons + EOT each): at least {need}")


def _lanes_for(name: str, lanes: int | Mapping[str, int], channels: int
               ) -> tuple[int, int | None]:
    """The lanes of layer ``name`` (with ``channels`` output channels) and, when the request
    was more, the request. The lanes split the channels, so a layer never gets more than the
    smallest power of two that holds them: every channel is in the one channel group either
    way, so the cycles are the same, and the lanes past it would hold no channel (memory and
    logic for nothing)."""
    n = lanes.get(name, lanes.get("*", 1)) if isinstance(lanes, Mapping) else lanes
    if n < 1 or n & (n - 1):
        raise HardwareError(f"layer {name}: lanes must be a power of two >= 1, got {n}")
    cap = 1 << (channels - 1).bit_length()
    return (int(n), None) if n <= cap else (cap, int(n))


def _check_width(name: str, what: str, width: int) -> int:
    if width > MAX_WIDTH:
        raise HardwareError(f"layer {name}: the {what} needs {width} bits; the hardware blocks "
                            f"take at most {MAX_WIDTH} (use fewer weight bits, fewer "
                            "max_timesteps or a --v-min clamp)")
    return width


def _chain(net: FixedNet) -> list[Node]:
    g = net.graph
    order = [n for n in g]
    for n in order:
        if len(n.inputs) > 1:
            raise HardwareError(f"node {n.name} ({type(n.op).__name__}) has {len(n.inputs)} "
                                "inputs: the hardware backend builds sequential networks only")
        if len(g.consumers(n.name)) > 1:
            raise HardwareError(f"node {n.name} feeds {len(g.consumers(n.name))} nodes: the "
                                "hardware backend builds sequential networks only")
    if order[-1].name != g.output:
        raise HardwareError(f"the output {g.output} is not the last node")
    return order


def _if_common(net: FixedNet, node: Node) -> dict:
    op: IF = node.op
    fmt = net.formats[node.name]
    theta = int(op.threshold)
    v_width = max(fmt.membrane.width, bits_for(0, theta), bits_for(int(op.v0), int(op.v0)))
    if op.v_min is not None:
        v_width = max(v_width, bits_for(int(op.v_min), int(op.v_min)))
    n = int(np.prod(node.shape))
    if n < 2:
        raise HardwareError(f"layer {node.name}: {n} neuron; the IF array needs at least 2")
    return dict(name=node.name, n=n, shape=tuple(node.shape),
                v_width=_check_width(node.name, "membrane", v_width), threshold=theta,
                v0=int(op.v0), v_min=None if op.v_min is None else int(op.v_min),
                spiking=bool(op.spiking), index_width=index_width(n))


def plan(net: FixedNet, lanes: int | Mapping[str, int] = 1,
         fifo_depth: int | Mapping[str, int] | None = None) -> HwPlan:
    """The stage chain for ``net``; ``lanes`` per IF layer name (``"*"``: default) or for all;
    ``fifo_depth`` overrides the FIFO in front of a stage (by its node name, ``"*"`` or a plain
    int for all). A name that is not a stage is refused."""
    conv = net.conversion or {}
    if conv.get("input", "analog") != "analog":
        raise HardwareError("spike (rate-coded) input is not built in hardware yet: convert with "
                            "analog input (the default, --input analog)")
    chain = _chain(net)
    inp = chain[0]
    if not isinstance(inp.op, Input):
        raise HardwareError(f"the first node {inp.name} is not the input")
    bits = int(inp.op.bits)
    t_max = int(net.config.max_timesteps)
    cnt_width = max(1, t_max.bit_length())

    stages: list[Stage] = []
    i = 1
    shape = tuple(inp.shape)          # the shape the next synapse sees (after a Flatten)

    def take(kinds) -> Node | None:
        nonlocal i
        if i < len(chain) and isinstance(chain[i].op, kinds):
            i += 1
            return chain[i - 1]
        return None

    # stage 0: [Flatten] -> Conv2d|Linear -> [MaxPool2d of the constant current] -> IF
    while take(Flatten) is not None:
        shape = (int(np.prod(shape)),)
    syn = take((Conv2d, Linear))
    if syn is None:
        raise HardwareError(f"node {chain[1].name} ({type(chain[1].op).__name__}): the hardware "
                            "backend expects a Conv2d or Linear right after the input")
    pool_node = take(MaxPool2d)
    if_node = take(IF)
    if if_node is None:
        nxt = chain[i] if i < len(chain) else None
        raise HardwareError(f"node {nxt.name if nxt else syn.name}: expected the first IF "
                            "population after the first synaptic layer")
    # a dense first layer is the 1x1 convolution of F_out channels (the lanes split them)
    geom = geometry(syn, shape)
    w4 = weight4d(syn)
    fmt = net.formats[if_node.name]
    common = _if_common(net, if_node)
    l0, l0_asked = _lanes_for(if_node.name, lanes, geom.cout)
    if pool_node is not None:
        p = pool_node.op
        pool = (*p.kernel, *p.stride, *p.padding)
        pooled = tuple(pool_node.shape[1:])
    else:
        pool, pooled = (1, 1, 1, 1, 0, 0), (geom.oh, geom.ow)
    if not isinstance(syn.op, Conv2d) and pool_node is not None:
        raise HardwareError(f"node {pool_node.name}: max-pooling a dense layer's current")
    bias = (np.zeros(geom.cout, dtype=np.int64) if syn.op.bias is None
            else np.asarray(syn.op.bias, dtype=np.int64).reshape(-1))
    lo, hi = fmt.current
    k_width = _check_width(if_node.name, "constant current", bits_for(min(lo, 0), max(hi, 0)))
    # the accumulator also holds one update, weight x pixel, whole (the RTL sign-extends it):
    # a layer whose proven sums are narrower than a product still needs the product's width
    acc_width = _check_width(if_node.name, "accumulator", max(
        fmt.accumulator.width if fmt.accumulator is not None else k_width,
        fmt.weight.width + bits))
    n_acc = geom.cout * geom.oh * geom.ow
    stages.append(InputLayer(
        synapse=syn.name, geom=geom, weights=w4, w_width=fmt.weight.width,
        value_width=bits, pool=pool, pooled=pooled, bias=bias, acc_width=acc_width,
        k_width=k_width, lanes=l0, in_index_width=index_width(int(np.prod(shape))),
        acc_addr_width=index_width(bank_rows(n_acc, l0, geom.plane)), lanes_asked=l0_asked,
        **common))
    if isinstance(syn.op, Linear) and len(if_node.shape) != 1:
        raise HardwareError(f"layer {if_node.name}: unexpected shape {if_node.shape}")
    prev_if = if_node
    shape = tuple(if_node.shape)
    src_name = if_node.name

    while i < len(chain):
        node = chain[i]
        if isinstance(node.op, MaxPool2d):
            i += 1
            p = node.op
            stages.append(PoolStage(
                name=node.name, source=src_name, in_shape=tuple(shape),
                out_shape=tuple(node.shape), kernel=tuple(p.kernel), stride=tuple(p.stride),
                padding=tuple(p.padding), cnt_width=cnt_width,
                in_index_width=index_width(int(np.prod(shape))),
                index_width=index_width(int(np.prod(node.shape)))))
            shape = tuple(node.shape)
            src_name = node.name
            continue
        while take(Flatten) is not None:
            shape = (int(np.prod(shape)),)
        syn = take((Conv2d, Linear))
        if syn is None:
            bad = chain[i]
            raise HardwareError(
                f"node {bad.name} ({type(bad.op).__name__}) after {src_name}: the hardware "
                "backend supports Conv2d, Linear, MaxPool2d and Flatten between IF populations "
                "(average pooling only folded into the next layer: convert without "
                "--spiking-avgpool)")
        if_node = take(IF)
        if if_node is None:
            raise HardwareError(f"node {syn.name}: expected an IF population after it")
        geom = geometry(syn, shape)
        fmt = net.formats[if_node.name]
        common = _if_common(net, if_node)
        ln, ln_asked = _lanes_for(if_node.name, lanes, geom.cout)
        if syn.op.bias is None:
            k = np.zeros(common["n"], dtype=np.int64)
        elif isinstance(syn.op, Conv2d):
            k = np.repeat(np.asarray(syn.op.bias, dtype=np.int64), geom.oh * geom.ow)
        else:
            k = np.asarray(syn.op.bias, dtype=np.int64).reshape(-1)
        k_width = max(1, bits_for(int(min(k.min(), 0)), int(max(k.max(), 0))))
        stages.append(HiddenLayer(
            synapse=syn.name, geom=geom, weights=weight4d(syn), w_width=fmt.weight.width,
            k=k, k_width=_check_width(if_node.name, "bias", k_width), lanes=ln,
            in_index_width=index_width(int(np.prod(shape))),
            addr_width=index_width(bank_rows(common["n"], ln, geom.plane)),
            lanes_asked=ln_asked, **common))
        prev_if = if_node
        shape = tuple(if_node.shape)
        src_name = if_node.name
    del prev_if

    known = {s.name for s in stages}
    for what, opt in (("lanes", lanes), ("fifo_depth", fifo_depth)):
        if isinstance(opt, Mapping):
            bad = sorted(set(opt) - known - {"*"})
            if bad:
                raise HardwareError(f"{what}: no stage named {', '.join(bad)} (stages: "
                                    f"{', '.join(s.name for s in stages)})")
    out = stages[-1]
    if not isinstance(out, (InputLayer, HiddenLayer)):
        raise HardwareError("the network must end with an IF population")
    readout = "count" if out.spiking else "membrane"
    depths = []
    for k in range(1, len(stages)):
        need = min_fifo_depth(stages[k - 1].n)
        want = need
        if fifo_depth is not None:
            want = (fifo_depth.get(stages[k].name, fifo_depth.get("*", need))
                    if isinstance(fifo_depth, Mapping) else int(fifo_depth))
            problem = fifo_depth_problem(want, need, stages[k - 1])
            if problem:
                raise HardwareError(f"FIFO in front of {stages[k].name}: {problem}")
        depths.append(want)
    t_width = max(1, t_max.bit_length())
    step_width = max(t_width, (t_max + len(stages) - 1).bit_length())
    return HwPlan(stages=tuple(stages), fifo_depths=tuple(depths), input_shape=tuple(inp.shape),
                  input_bits=bits, max_timesteps=t_max, readout=readout, cnt_width=cnt_width,
                  t_width=t_width, step_width=step_width)
