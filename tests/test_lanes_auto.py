"""`snngen build --lanes auto`: the lane allocation of snngen.hwmodel.lanes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snngen import cli
from snngen.fixedpoint import netfile
from snngen.fixedpoint.quantize import quantize_input
from snngen.hwmodel import lanes as lane_alloc
from snngen.hwmodel import timing
from snngen.hwmodel.plan import HardwareError, plan
from tests.randnet import random_graph, random_input
from tests.test_verilog import _fixed


@pytest.fixture(scope="module")
def net_and_pixels():
    net, _ = _fixed(random_graph(49, dag=False), 49)
    return net, quantize_input(random_input(7, net.graph, 6), net.config.input_bits)


def _mean_latency(net, lanes, pixels, t):
    # an independent evaluation of a lane assignment: plan, golden rasters, timing model
    from snngen.golden import model as golden

    p = plan(net, lanes=lanes)
    raster = golden.run(net.graph, pixels, (t,), trace=True).raster
    return np.mean([timing.predict(p, pixels[i], timing.stage_inputs(p, raster, i, t), t).latency
                    for i in range(len(pixels))])


def test_the_choice_is_within_budget_and_every_step_pays(net_and_pixels):
    net, x = net_and_pixels
    c = lane_alloc.choose(net, x, 6, budget=10)
    layers = [s.name for s in plan(net).stages if hasattr(s, "lanes")]
    assert sorted(c.lanes) == sorted(layers)
    assert sum(c.lanes.values()) <= 10
    assert all(v in (1, 2, 4, 8, 16) for v in c.lanes.values())
    # the reported figures are the timing model's, recomputed independently
    assert c.mean_cycles == pytest.approx(_mean_latency(net, c.lanes, x, 6))
    assert c.start_cycles == pytest.approx(_mean_latency(net, 1, x, 6))
    # every recorded doubling shortened the latency by at least MIN_GAIN, in order
    prev = c.start_cycles
    for s in c.steps:
        assert s.mean_cycles <= prev * (1 - lane_alloc.MIN_GAIN)
        prev = s.mean_cycles
    assert prev == c.mean_cycles
    if c.steps:
        assert c.steps[-1].total_lanes == sum(c.lanes.values())
    # deterministic
    assert lane_alloc.choose(net, x, 6, budget=10) == c


def test_a_met_target_stops_the_search(net_and_pixels):
    net, x = net_and_pixels
    free = lane_alloc.choose(net, x, 6, budget=32)
    assert free.steps, "this network gains from lanes (else the test proves nothing)"
    first = free.steps[0].mean_cycles
    c = lane_alloc.choose(net, x, 6, budget=32, target_cycles=int(first) + 1)
    assert len(c.steps) == 1 and c.stop == "target met"
    c = lane_alloc.choose(net, x, 6, budget=len(free.lanes), target_cycles=1)
    assert not c.steps and "not met" in c.stop


def test_refusals(net_and_pixels):
    net, x = net_and_pixels
    with pytest.raises(HardwareError, match="below one lane"):
        lane_alloc.choose(net, x, 6, budget=1)
    with pytest.raises(HardwareError, match="sample images"):
        lane_alloc.choose(net, x[:0], 6, budget=8)


def test_cli_build_lanes_auto_records_the_choice(tmp_path, capsys):
    from snngen.data import load_dataset, split
    from tests.test_verilog import _fixed as fixed

    # a random network on the digits images' shape (the first seed that draws one the
    # hardware builds), so the CLI finds its training images
    for seed in range(100):
        g = random_graph(seed, dag=False)
        if g.input.shape != (1, 8, 8):
            continue
        net, _ = fixed(g, seed)
        try:
            plan(net)
        except HardwareError:
            continue
        break
    f = tmp_path / "net.snn"
    netfile.save(net, f)
    out = tmp_path / "b"
    assert cli.main(["build", str(f), "-o", str(out), "--lanes", "auto", "--lane-budget", "6",
                     "--auto-images", "4", "--dataset", "digits", "--images", "2",
                     "--timesteps", "4"]) == 0
    text = capsys.readouterr().out
    assert "--lanes auto (4 digits training images, T=4, budget 6)" in text
    man = json.loads((out / "manifest.json").read_text())
    choice = man["lane_choice"]
    assert {s["name"]: s["lanes"] for s in man["stages"] if "lanes" in s} == choice["lanes"]
    assert choice["images"] == "digits training images 0..3"
    train = split(load_dataset("digits", None)).train
    x = quantize_input(train.x[:4], net.config.input_bits)
    assert choice == lane_alloc.choose(net, x, 4, 6,
                                       images="digits training images 0..3").to_dict()
