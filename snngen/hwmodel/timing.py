"""The timing model: the exact cycles a generated network takes for one image.

From the golden model's spikes (which neuron spikes at which timestep) and the image's pixels,
it predicts every number the hardware's schedule (docs/architecture.md §3) depends on: the
cycles each stage spends on each timestep, the length of every pipeline step, and the latency
of the whole inference. The RTL must hit it exactly; ``snngen verify`` checks that, cycle for
cycle. The per-block counts come from the block models in :mod:`snngen.hwmodel.blocks` (each
asserted against its block by the block's own cocotb test); this module only composes them.

Edges are rising clock edges; "the cycle ending at edge t" is the period just before edge t.
``start_edge`` is the edge at which the controller takes ``start``. With the pixels offered
back to back from the start on and ``m_ready`` high:

* clear: the blocks take the clear at ``start_edge + 1`` and are idle right after
  ``start_edge + 1 + C`` (C: a block's clear cycles); ``load`` is raised at edge
  ``start_edge + 2 + C0`` (C0: the longest clear of the first stage's blocks) and the pixel
  front end runs from edge ``L = start_edge + 3 + C0``; the other stages clear during the load;
* load: pixels are taken one per cycle (a zero pixel in the cycle it is offered; a nonzero one
  when the router's input queue takes it); after the last one the router gets an EOT, drains,
  and requests the accumulator's readout, whose EOT transfer edge ends the load;
* settle: step 1's go edge is the later of the load's end and ``start_edge + 2 + C1`` (C1: the
  longest clear of the other stages' blocks), so ``settle`` cycles (almost always 0) pass
  between them;
* step s: go edge ``G_s``; each active stage k (timestep t = s - k) is done after
  ``stage_cycles(k, t)``; ``G_{s+1} = G_s + max_k stage_cycles``;
* readout: ``rd_start`` after the last step's end edge ``E``; ``m_valid`` rises after edge
  ``E + F + 2`` (F output neurons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from snngen.hwmodel.blocks import accum as accum_model
from snngen.hwmodel.blocks import banks
from snngen.hwmodel.blocks import gate as gate_model
from snngen.hwmodel.blocks import router as router_model
from snngen.hwmodel.plan import HiddenLayer, HwPlan, InputLayer, PoolStage

# snn_if_array: a sweep accepted at edge e transfers its EOT at e + sum_r max(1, s_r) + 4 (one
# cycle per bank row, or one per spike of the row)
SWEEP_OVERHEAD = 4
# snn_layer: go edge g, first event taken at g + 1 (the router's enable is go itself), the
# router requests the sweep SWEEP_LATENCY + sum max(G, 1) edges later, the array takes it at the
# next edge and transfers its EOT sweep_cycles after that
LAYER_OVERHEAD = 1 + router_model.SWEEP_LATENCY + 1 + SWEEP_OVERHEAD
# snn_input_layer: the sweep is requested in the go cycle, taken at g + 1, EOT sweep_cycles later
INPUT_OVERHEAD = 1 + SWEEP_OVERHEAD
# snn_pool_layer: events taken from g + 1 on, the EOT one edge after the last, then the sweep
POOL_OVERHEAD = 1 + gate_model.SWEEP_LATENCY
# snn_control: clear taken at start + 1, load raised at start + 2 + C, front end from + 3 + C
CLEAR_TO_LOAD = 1
LOAD_TO_FRONT_END = 1
# snn_readout: rd_start one edge after the last step, m_valid F + 2 edges after it samples it
READOUT_OVERHEAD = 3


@dataclass(frozen=True)
class Timing:
    """One image's cycle counts (edges are counted from ``start_edge = 0``)."""

    timesteps: int
    clear: int                            # start edge -> load edge
    load: int                             # load edge -> end of the load (load_done's edge)
    settle: int                           # end of the load -> step 1 go edge (other clears)
    step_edges: tuple[int, ...]           # go edge of step s (s = 1 .. T + stages - 1)
    steps: tuple[int, ...]                # cycles of step s
    stage: tuple[dict[int, int], ...]     # per stage: timestep t -> go edge to done edge
    readout: int                          # last step's end edge -> m_valid rise edge
    latency: int                          # start edge -> m_valid rise edge

    def to_dict(self) -> dict:
        return {"timesteps": self.timesteps, "clear": self.clear, "load": self.load,
                "settle": self.settle,
                "steps": list(self.steps),
                "stage": [{str(t): c for t, c in s.items()} for s in self.stage],
                "readout": self.readout, "latency": self.latency}


def stage_clear_cycles(s: InputLayer | HiddenLayer | PoolStage) -> int:
    """The longest clear of a stage's blocks."""
    if isinstance(s, (InputLayer, HiddenLayer)):
        c = banks.bank_rows(s.n, s.lanes, s.plane)
        if isinstance(s, InputLayer):
            g = s.geom
            c = max(c, accum_model.clear_cycles((g.cout, g.oh, g.ow), s.lanes))
        return c
    return gate_model.clear_cycles(_gate_geometry(s))


def clear_cycles(p: HwPlan) -> tuple[int, int]:
    """(C0, C1) of the module doc: the longest clear of the first stage's blocks, which the load
    waits for, and of the other stages' blocks (0 without any), which step 1 waits for."""
    rest = [stage_clear_cycles(s) for s in p.stages[1:]]
    return stage_clear_cycles(p.stages[0]), max(rest, default=0)


def _gate_geometry(s: PoolStage) -> gate_model.GateGeometry:
    c, h, w = s.in_shape
    return gate_model.GateGeometry(c, h, w, *s.kernel, *s.stride, *s.padding)


class _EventCost:
    """max(G, 1) per input index of a router, computed once per geometry."""

    def __init__(self) -> None:
        self._cache: dict[tuple, np.ndarray] = {}

    def __call__(self, geom, lanes: int) -> np.ndarray:
        key = (geom, lanes)
        if key not in self._cache:
            self._cache[key] = np.array([router_model.event_cycles(geom, lanes, i)
                                         for i in range(geom.n_in)], dtype=np.int64)
        return self._cache[key]


_COST = _EventCost()


def sweep_cycles(s: InputLayer | HiddenLayer, spikes: np.ndarray) -> int:
    """The IF array's sweep without its fixed latency: one cycle per bank row, or one per spike
    of the row (``spikes``: the indices of the neurons that spike in this timestep)."""
    return int(np.maximum(banks.sweep_rows(spikes, s.n, s.lanes, s.plane), 1).sum())


def stage_cycles(p: HwPlan, k: int, events: np.ndarray, spikes: np.ndarray) -> int:
    """Go edge to done edge of stage ``k`` for one timestep whose input events are ``events``
    (indices into the stage's input population; ignored by the input layer) and whose own
    spikes are ``spikes`` (its output events; ignored by a max-pool gate)."""
    s = p.stages[k]
    if isinstance(s, InputLayer):
        return sweep_cycles(s, spikes) + INPUT_OVERHEAD
    if isinstance(s, HiddenLayer):
        cost = _COST(s.geom, s.lanes)
        return (int(cost[np.asarray(events, dtype=np.int64)].sum()) + sweep_cycles(s, spikes)
                + LAYER_OVERHEAD)
    g = _gate_geometry(s)
    return len(events) + g.slots + POOL_OVERHEAD


def load_cycles(p: HwPlan, pixels: np.ndarray) -> int:
    """From the edge that raises ``load`` to step 1's go edge (pixels offered back to back).

    The pixel front end offers pixel i in every cycle until it is taken: a zero pixel is taken
    at once, a nonzero one when the router's input queue takes it (the elastic queue of
    :func:`snngen.hwmodel.blocks.router.schedule`, here fed by the front end cycle by cycle). After
    the last pixel the EOT is offered; the router's sweep request starts the accumulator readout."""
    s0 = p.stages[0]
    assert isinstance(s0, InputLayer)
    q = np.asarray(pixels).reshape(-1)
    cost = _COST(s0.geom, s0.lanes)
    qs = router_model.QUEUE_STAGES
    queue: list[int | None] = [None] * qs          # D1 .. N: the item's issue cycles
    q_left = -1                                    # sequencer: issue cycles left after this one
    q_eot = False
    pix = 0
    n = len(q)
    t = LOAD_TO_FRONT_END                          # edges after the load edge
    eot_from = None                                # the EOT is offered from this edge on
    while True:
        t += 1                                     # the cycle ending at edge t
        if q_eot:
            sweep = t + router_model.ISSUE_TO_TRANSFER - 1
            break
        take = [False] * qs
        ready = q_left <= 0
        for k in range(qs - 1, -1, -1):
            take[k] = queue[k] is not None and ready
            ready = queue[k] is None or take[k]
        fire_item = None
        if pix < n:
            if q[pix] == 0:
                pix += 1
                if pix == n:
                    eot_from = t + 1
            elif ready:
                fire_item = int(cost[pix])
                pix += 1
                if pix == n:
                    eot_from = t + 1
        elif eot_from is not None and t >= eot_from and ready:
            fire_item = 0                          # the EOT (0: marks it)
            eot_from = None
        # the edge
        if take[-1]:
            item = queue[-1]
            if item == 0:
                q_eot = True
            else:
                q_left = item - 1
        elif q_left > 0:
            q_left -= 1
        elif q_left == 0:
            q_left = -1
        new: list[int | None] = [None if take[k] else queue[k] for k in range(qs)]
        for k in range(1, qs):
            if take[k - 1]:
                new[k] = queue[k - 1]
        if fire_item is not None:
            new[0] = fire_item
        queue = new
    # the accumulator takes the sweep at the edge after the request, then reads out one bank
    # row (LANES channels) per window position
    rows = banks.bank_rows(s0.n, s0.lanes, s0.plane)
    return sweep + 1 + accum_model.readout_cycles(rows, s0.pool)


def stage_inputs(p: HwPlan, raster: Mapping[str, np.ndarray], image: int, timesteps: int
                 ) -> list[list[np.ndarray]]:
    """Per stage, per timestep t = 1 .. T: the indices of its input events (ascending), from
    the golden model's rasters (``golden.run(..., trace=True).raster``); then one more entry,
    the last stage's own spikes (stage k's spikes are entry k + 1)."""
    out: list[list[np.ndarray]] = [[np.zeros(0, dtype=np.int64)] * timesteps]
    for k in range(1, len(p.stages) + 1):
        src = p.stages[k - 1].name
        r = raster[src][:timesteps, image].reshape(timesteps, -1)
        out.append([np.flatnonzero(r[t]) for t in range(timesteps)])
    return out


def predict(p: HwPlan, pixels: np.ndarray, inputs: Sequence[Sequence[np.ndarray]],
            timesteps: int) -> Timing:
    """The cycle counts of one image with ``timesteps`` T; ``inputs`` from :func:`stage_inputs`."""
    n_stages = len(p.stages)
    c0, c1 = clear_cycles(p)
    clear = 1 + c0 + CLEAR_TO_LOAD
    load = load_cycles(p, pixels)
    # the other stages' clears end during the load (their busy falls after start + 1 + C1)
    settle = max(0, 1 + c1 + CLEAR_TO_LOAD - clear - load)
    per_stage: list[dict[int, int]] = [dict() for _ in range(n_stages)]
    steps: list[int] = []
    edges: list[int] = []
    g = clear + load + settle
    for s in range(1, timesteps + n_stages):
        longest = 0
        for k in range(n_stages):
            t = s - k
            if 1 <= t <= timesteps:
                c = stage_cycles(p, k, inputs[k][t - 1], inputs[k + 1][t - 1])
                per_stage[k][t] = c
                longest = max(longest, c)
        edges.append(g)
        steps.append(longest)
        g += longest
    readout = p.classes + READOUT_OVERHEAD
    return Timing(timesteps=timesteps, clear=clear, load=load, settle=settle,
                  step_edges=tuple(edges),
                  steps=tuple(steps), stage=tuple(per_stage), readout=readout,
                  latency=g + readout)


@dataclass(frozen=True)
class Bounds:
    """Two yardsticks for one image's cycles (docs/architecture.md §5, "Bounds").

    ``ideal``: every synaptic update of the image (the first layer's once-per-image constant
    current and every hidden layer's updates of every timestep) divided by all the update lanes
    of the design: no design with these lanes, whatever its schedule, takes fewer cycles (each
    lane makes at most one update per cycle). ``pipelined``: this design's schedule with nothing
    but work in it: the once-per-image load at its layer's lanes, then ``T + S - 1`` lock-step
    steps, each as long as its busiest stage, a stage's timestep costing its updates / lanes
    plus its neurons / lanes (a sweep of ``lanes`` neurons per cycle); max-pool gates, clears,
    the readout and every fixed latency count 0. ``updates[k][t]`` and ``work[k][t]`` are the
    per-stage, per-timestep parts (stage 0's updates are the load's, at t = 0)."""

    ideal: int
    pipelined: int
    load: int                              # the load's part of ``pipelined``
    updates: tuple[tuple[int, ...], ...]   # per stage, per timestep: synaptic updates
    work: tuple[tuple[int, ...], ...]      # per stage, per timestep: its cycles in ``pipelined``


def bounds(p: HwPlan, pixels: np.ndarray, inputs: Sequence[Sequence[np.ndarray]],
           timesteps: int) -> Bounds:
    """The :class:`Bounds` of one image (``inputs`` from :func:`stage_inputs`)."""
    n_st = len(p.stages)
    updates: list[list[int]] = []
    work: list[list[int]] = []
    load = total = 0
    lanes_total = 0
    for k, s in enumerate(p.stages):
        if isinstance(s, InputLayer):
            q = np.flatnonzero(np.asarray(pixels).reshape(-1))
            u = int(_fanout(s.geom)[q].sum())
            total += u
            lanes_total += s.lanes
            load = -(-u // s.lanes)
            updates.append([u] + [0] * (timesteps - 1))
            work.append([-(-s.n // s.lanes)] * timesteps)
        elif isinstance(s, HiddenLayer):
            fan = _fanout(s.geom)
            u_t = [int(fan[inputs[k][t]].sum()) for t in range(timesteps)]
            total += sum(u_t)
            lanes_total += s.lanes
            updates.append(u_t)
            work.append([-(-u // s.lanes) + -(-s.n // s.lanes) for u in u_t])
        else:  # a max-pool gate: no synapses (folded into its producer's sweep at best)
            updates.append([0] * timesteps)
            work.append([0] * timesteps)
    steps = 0
    for step in range(1, timesteps + n_st):
        steps += max((work[k][step - k - 1] for k in range(n_st)
                      if 1 <= step - k <= timesteps), default=0)
    return Bounds(ideal=-(-total // max(lanes_total, 1)), pipelined=load + steps, load=load,
                  updates=tuple(map(tuple, updates)), work=tuple(map(tuple, work)))


_FANOUT: dict = {}


def _fanout(geom) -> np.ndarray:
    """Synaptic updates of one event per input index (the router's targets)."""
    if geom not in _FANOUT:
        _FANOUT[geom] = np.array([sum(len(grp) for grp in router_model.groups(geom, 1, i))
                                  for i in range(geom.n_in)], dtype=np.int64)
    return _FANOUT[geom]
