"""Lane allocation: ``snngen build --lanes auto`` picks the update lanes of every layer.

The pipeline runs its stages in lock-step steps, each as long as its slowest stage
(:mod:`snngen.hwmodel.timing`), so lanes added to a stage that is not the bottleneck buy
nothing. :func:`choose` starts from one lane everywhere and repeatedly doubles the lanes of the
layer whose doubling shortens the mean predicted latency of the sample images the most per lane
added, until the lane budget is spent, the latency target is met, or no doubling shortens the
latency by at least ``MIN_GAIN`` (1%: lanes cost logic and, today, weight-ROM copies). Every
prediction is the exact timing model that ``snngen verify`` checks against the RTL, on the
golden model's spikes of the sample images (taken from the training split by the CLI, so the
choice is not fitted to the evaluation images). The result records each step and why it was
taken; the build's manifest keeps it (``lane_choice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from snngen.fixedpoint.fixednet import FixedNet
from snngen.golden import model as golden
from snngen.hwmodel import timing
from snngen.hwmodel.plan import HardwareError, HiddenLayer, InputLayer, plan

MAX_LANES = 16  # per layer: the largest lane count the blocks are tested with
MIN_GAIN = 0.01  # a doubling must shorten the mean latency by at least this fraction


@dataclass(frozen=True)
class Step:
    """One doubling: the layer, its new lanes, the total lanes and the mean cycles after it,
    and the share of the pipeline-step cycles in which that layer was the slowest stage
    before it (why it was picked)."""

    layer: str
    lanes: int
    total_lanes: int
    mean_cycles: float
    bottleneck_share: float


@dataclass(frozen=True)
class LaneChoice:
    lanes: dict[str, int]                  # layer -> lanes (every IF layer of the plan)
    mean_cycles: float                     # mean predicted latency of the sample images
    start_cycles: float                    # ... with one lane everywhere
    budget: int
    target_cycles: int | None
    images: str                            # which images the prediction used
    timesteps: int
    stop: str                              # why the search ended
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"lanes": dict(self.lanes), "mean_cycles": round(self.mean_cycles, 1),
                "start_cycles": round(self.start_cycles, 1), "budget": self.budget,
                "target_cycles": self.target_cycles, "images": self.images,
                "timesteps": self.timesteps, "stop": self.stop,
                "steps": [{"layer": s.layer, "lanes": s.lanes, "total_lanes": s.total_lanes,
                           "mean_cycles": round(s.mean_cycles, 1),
                           "bottleneck_share": round(s.bottleneck_share, 3)}
                          for s in self.steps]}


def _evaluate(net: FixedNet, lanes: Mapping[str, int], pixels: np.ndarray, raster,
              timesteps: int) -> tuple[float, dict[str, float]]:
    """Mean latency over the images, and per layer the share of step cycles it is slowest."""
    p = plan(net, lanes=dict(lanes))
    total = 0
    slowest = {s.name: 0 for s in p.stages}
    step_cycles = 0
    for i in range(len(pixels)):
        ins = timing.stage_inputs(p, raster, i, timesteps)
        tm = timing.predict(p, pixels[i], ins, timesteps)
        total += tm.latency
        for s_idx, length in enumerate(tm.steps, start=1):
            cyc = [tm.stage[k].get(s_idx - k, -1) for k in range(len(p.stages))]
            slowest[p.stages[int(np.argmax(cyc))].name] += length
            step_cycles += length
    share = {k: v / step_cycles if step_cycles else 0.0 for k, v in slowest.items()}
    return total / len(pixels), share


def choose(net: FixedNet, pixels: np.ndarray, timesteps: int, budget: int,
           target_cycles: int | None = None, images: str = "") -> LaneChoice:
    """Lanes for every IF layer of ``net`` (see the module doc). ``pixels``: integer sample
    images; ``budget``: the most lanes in all layers together (at least one per layer);
    ``target_cycles``: stop as soon as the mean latency is at most this."""
    pixels = np.asarray(pixels)
    if len(pixels) == 0:
        raise HardwareError("--lanes auto needs sample images to measure the layers' work")
    base = plan(net, lanes=1)
    layers = [s.name for s in base.stages if isinstance(s, (InputLayer, HiddenLayer))]
    if budget < len(layers):
        raise HardwareError(f"a lane budget of {budget} is below one lane for each of the "
                            f"{len(layers)} layers")
    if not 1 <= timesteps <= base.max_timesteps:
        raise HardwareError(f"timesteps must be 1 .. {base.max_timesteps}, got {timesteps}")
    raster = golden.run(net.graph, pixels, (timesteps,), trace=True).raster
    lanes = dict.fromkeys(layers, 1)
    cycles, share = _evaluate(net, lanes, pixels, raster, timesteps)
    start = cycles
    steps: list[Step] = []
    stop = "budget spent"
    while True:
        if target_cycles is not None and cycles <= target_cycles:
            stop = "target met"
            break
        used = sum(lanes.values())
        best = None
        for name in layers:
            grow = lanes[name]  # doubling adds as many lanes as the layer has
            if lanes[name] * 2 > MAX_LANES or used + grow > budget:
                continue
            trial = {**lanes, name: lanes[name] * 2}
            c, sh = _evaluate(net, trial, pixels, raster, timesteps)
            gain = (cycles - c) / grow
            # ties (equal gains) go to the earlier layer: a deterministic choice
            if cycles - c >= MIN_GAIN * cycles and (best is None or gain > best[0]):
                best = (gain, name, c, sh)
        if best is None:
            if any(lanes[n] * 2 <= MAX_LANES and used + lanes[n] <= budget for n in layers):
                stop = f"no doubling shortens the latency by {MIN_GAIN:.0%} or more"
            elif all(lanes[n] * 2 > MAX_LANES for n in layers):
                stop = f"every layer at {MAX_LANES} lanes"
            break
        _, name, c, sh = best
        steps.append(Step(name, lanes[name] * 2, used + lanes[name], c, share[name]))
        lanes[name] *= 2
        cycles, share = c, sh
    if target_cycles is not None and cycles > target_cycles and stop != "target met":
        stop += f"; the target of {target_cycles:,} cycles is not met"
    return LaneChoice(lanes, cycles, start, budget, target_cycles, images, timesteps, stop,
                      tuple(steps))
