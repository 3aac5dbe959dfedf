"""The Amaranth backend's whole networks (``snngen build --target amaranth``) on Icarus and
Verilator, and the differential test against the Verilog backend.

* The whole-network check of the Verilog backend (snngen.flows.verify + snngen.flows.cocotb_net, the
  same bench, unchanged) runs on the Amaranth build of the digits example and of the seeded random
  networks of test_network.py (which together cover every kind of stage, strides, padding,
  both max-pool flavours and lanes 1, 2 and 4): every spike of every stage and timestep, the
  counts, the class, each stage's cycles per timestep, each step's start and the latency equal
  the golden and timing models (``==``).
* Differential: the Amaranth build and the Verilog build of the same network, fed the same
  images (and, with stalls, the same seed, so the same withheld pixels and refused results),
  produce identical records: the same output streams, the same debug event streams of every
  stage, and the same edge of every step start, every end of timestep and the result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import runner
from test_network import (
    DENSE_FIRST_LANES,
    RANDOM_SEEDS,
    _dense_first_net,
    _late_clear_net,
    _pixels,
    _random_net,
)

from snngen.backends.amaranth import build as amaranth_build
from snngen.backends.verilog.writer import build as verilog_build
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows import verify
from snngen.hwmodel.build import BuildOptions, load_manifest

ROOT = Path(__file__).resolve().parent.parent
NET_BUILDS = runner.BUILD_ROOT / "networks-amaranth"


@pytest.fixture(scope="module")
def digits_net():
    from snngen.flows.workflow import load_experiment

    exp = load_experiment(str(ROOT / "examples/digits/model.py") + ":make_model",
                          str(ROOT / "examples/digits/weights.pt"), "digits", fixed=FixedConfig())
    return exp.fixed, exp.data


def _builds(net, name: str, lanes) -> tuple[Path, Path]:
    a = amaranth_build.build(net, NET_BUILDS / f"{name}-amaranth", BuildOptions(lanes=lanes),
                             force=True)
    v = verilog_build(net, NET_BUILDS / f"{name}-verilog", BuildOptions(lanes=lanes), force=True)
    assert load_manifest(a)["target"] == "amaranth"
    return a, v


def _differential(a: Path, v: Path, sim: str, pixels: np.ndarray, timesteps: int,
                  gap: float = 0.0) -> None:
    seed = runner.pick_seed()
    work = NET_BUILDS / "work"
    ra = verify.simulate(a, sim, pixels, timesteps, work_dir=work / f"{a.name}-{sim}",
                         seed=seed, gap=gap)
    rv = verify.simulate(v, sim, pixels, timesteps, work_dir=work / f"{v.name}-{sim}",
                         seed=seed, gap=gap)
    # the models first: a difference between the backends then says which one is right
    _, net, p = verify.plan_of_build(a)
    res, timings = verify.expected(net, p, pixels, timesteps)
    for r in verify.compare(p, res, timings, ra, timesteps, stalls=gap > 0):
        assert r.ok, f"Amaranth build: {r.mismatches[:10]}"
    for r in verify.compare(p, res, timings, rv, timesteps, stalls=gap > 0):
        assert r.ok, f"Verilog build: {r.mismatches[:10]}"
    for i, (x, y) in enumerate(zip(ra, rv, strict=True)):
        assert x == y, f"image {i}: the two backends' records differ (seed {seed})"


def test_digits_example(sim, digits_net):
    net, data = digits_net
    a, v = _builds(net, f"digits-{sim}", 2)
    pixels = _pixels(net, data.test.x[:2])
    _differential(a, v, sim, pixels, 8)
    rep = verify.verify(a, sim, pixels[:1], 8, work_dir=NET_BUILDS / f"digits-{sim}-verify")
    assert rep.ok and rep.images[0].rtl_class == int(data.test.y[0])


# every random network on Icarus (it compiles in a second); one on Verilator too (with the
# digits example, that covers the Verilator build of Amaranth's output and its waivers; each
# Verilator build of two designs costs about a minute of compiling)
@pytest.mark.parametrize(("sim", "seed"), [*[("icarus", s) for s in RANDOM_SEEDS],
                                           ("verilator", 49)])
def test_random_network(sim, seed):
    net, x = _random_net(seed)
    a, v = _builds(net, f"rand{seed}-{sim}", RANDOM_SEEDS[seed])
    rng = np.random.default_rng(seed)
    pixels = _pixels(net, x[:2])
    pixels[0][rng.random(pixels[0].shape) < 0.5] = 0  # sparse and dense images
    _differential(a, v, sim, pixels, 6)


def test_dense_first_layer():
    # a dense first layer with lanes (the accumulator's per-neuron bias), on Icarus
    net, x = _dense_first_net()
    a, v = _builds(net, "dense-first-icarus", DENSE_FIRST_LANES)
    _differential(a, v, "icarus", _pixels(net, x[:2]), 6)


def test_other_stages_clear_during_the_load():
    # step 1 waits for the other stages' clear (settle > 0), on both builds, on Icarus
    net, x = _late_clear_net()
    a, v = _builds(net, "late-clear-icarus", 1)
    _differential(a, v, "icarus", _pixels(net, x[:2]), 4)


@pytest.mark.parametrize("seed", [24, 57])
def test_random_network_with_stalls(seed):
    # the same random stalls (same seed) on both builds: identical records, stalls included
    net, x = _random_net(seed)
    a, v = _builds(net, f"rand{seed}-stalls", RANDOM_SEEDS[seed])
    _differential(a, v, "icarus", _pixels(net, x[:2]), 5, gap=0.3)


def test_a_fifo_too_small_deadlocks_alike_in_both_backends(monkeypatch):
    # a FIFO shallower than two timesteps (refused by snngen build; allowed here by patching
    # the plan's rule): both tops raise deadlock at the same edge, naming the same stage
    from snngen.hwmodel import plan as hwplan

    monkeypatch.setattr(hwplan, "min_fifo_depth", lambda n: 2)
    net, x = _dense_first_net()
    a, v = _builds(net, "deadlock", DENSE_FIRST_LANES)
    pixels = _pixels(net, x[:2])
    work = NET_BUILDS / "work"
    ra = verify.simulate(a, "icarus", pixels, 6, work_dir=work / "deadlock-amaranth", seed=1)
    rv = verify.simulate(v, "icarus", pixels, 6, work_dir=work / "deadlock-verilog", seed=1)
    assert len(ra) == 1 and ra[0]["deadlock"]["stages"] == [0]
    assert ra == rv
