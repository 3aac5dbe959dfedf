"""Whole generated networks on Icarus and Verilator (snngen.flows.verify with the in-simulator
harness, snngen.flows.bench, and the per-edge cocotb bench, snngen.flows.cocotb_net).

For the bundled digits example and for seeded random networks (convolutions with stride and
padding, max pooling of the constant current and of spikes, average pooling folded into the
next layer, dense layers, various lanes), several images each: every stage's spike events of
every timestep, the output counts, the class, every stage's cycles per timestep, the start of
every pipeline step and the latency are compared with ``==`` against the golden model and the
timing model. The two benches give identical records (same protocol, cycle for cycle). Plus:
the generated RTL and the harness are lint-clean, and a corrupted weight is caught and reported
with its image, stage, timestep and neuron.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import runner

from snngen.backends.verilog import memfile
from snngen.backends.verilog.writer import BuildOptions, build, load_manifest
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows import verify
from snngen.hwmodel.plan import HiddenLayer, InputLayer, PoolStage, plan
from snngen.ir import graph as ir
from tests.randnet import fixed_net, fixed_random_net

ROOT = Path(__file__).resolve().parent.parent
NET_BUILDS = runner.BUILD_ROOT / "networks"

# random networks: seeds picked (see _random_net) so that together they cover conv stride 2,
# padding, max pooling of the constant current and of spikes (the gate), folded average
# pooling, a hidden dense layer, and lanes 1, 2 and 4
RANDOM_SEEDS = {24: 2, 37: 1, 49: 4, 57: 2}


def _random_net(seed: int):
    return fixed_random_net(seed)


# a dense first layer (in the router's conv view, with the accumulator's per-neuron bias) on
# lanes 4: (1, 6, 6) -> Flatten -> Linear(36, 12) -> ReLU -> Linear(12, 5)
DENSE_FIRST_LANES = 4


def _dense_first_net():
    rng = np.random.default_rng(7)
    specs = [("input", ir.Input((1, 6, 6)), ()), ("flat", ir.Flatten(), ("input",)),
             ("fc0", ir.linear(rng.normal(0, 1 / 6, (12, 36)), rng.normal(0, 0.3, 12)),
              ("flat",)),
             ("fc0_relu", ir.ReLU(), ("fc0",)),
             ("out", ir.linear(rng.normal(0, 1 / np.sqrt(12), (5, 12)), rng.normal(0, 0.1, 5)),
              ("fc0_relu",))]
    g = ir.build(specs, "out")
    return fixed_net(g, rng.random((16, 1, 6, 6)))


def _late_clear_net():
    """A network whose second stage clears for longer than the first stage's clear and load
    together (4 pixels, 2 neurons, then 300 at one lane): step 1 waits for it (``settle``)."""
    rng = np.random.default_rng(11)
    specs = [("input", ir.Input((1, 2, 2)), ()), ("flat", ir.Flatten(), ("input",)),
             ("fc0", ir.linear(rng.normal(0.4, 0.3, (2, 4)), rng.normal(0, 0.1, 2)),
              ("flat",)),
             ("fc0_relu", ir.ReLU(), ("fc0",)),
             ("fc1", ir.linear(rng.normal(0.2, 0.5, (300, 2)), rng.normal(0, 0.1, 300)),
              ("fc0_relu",)),
             ("fc1_relu", ir.ReLU(), ("fc1",)),
             ("out", ir.linear(rng.normal(0, 0.1, (3, 300)), rng.normal(0, 0.1, 3)),
              ("fc1_relu",))]
    g = ir.build(specs, "out")
    return fixed_net(g, rng.random((16, 1, 2, 2)))


def _pixels(net, x: np.ndarray) -> np.ndarray:
    from snngen.fixedpoint.quantize import quantize_input

    return quantize_input(x, net.config.input_bits)


@pytest.fixture(scope="module")
def digits_net():
    from snngen.flows.workflow import load_experiment

    exp = load_experiment(str(ROOT / "examples/digits/model.py") + ":make_model",
                          str(ROOT / "examples/digits/weights.pt"), "digits", fixed=FixedConfig())
    return exp.fixed, exp.data


def _build(net, name: str, lanes) -> Path:
    out = NET_BUILDS / name
    build(net, out, BuildOptions(lanes=lanes), force=True)
    return out


def _check(report: verify.VerifyReport) -> None:
    assert report.images
    for r in report.images:
        assert r.ok, "\n".join(r.mismatches[:10])
        assert r.rtl_cycles == r.predicted_cycles


def test_digits_example(sim, digits_net):
    net, data = digits_net
    out = _build(net, f"digits-{sim}", 2)
    pixels = _pixels(net, data.test.x[:3])
    rep = verify.verify(out, sim, pixels, 8, work_dir=NET_BUILDS / f"digits-{sim}-work")
    _check(rep)
    # the RTL's class is the golden model's, which is right on these images
    assert [r.rtl_class for r in rep.images] == [int(y) for y in data.test.y[:3]]


def test_the_harness_and_the_per_edge_bench_record_the_same(sim, digits_net):
    # the harness (stimulus and capture in the simulator), run alone or under cocotb, must
    # drive the top exactly as the per-edge cocotb bench does: every event, edge, class and
    # count equal
    net, data = digits_net
    out = _build(net, f"digits-{sim}", 2)
    pixels = _pixels(net, data.test.x[3:5])
    fast = verify.simulate(out, sim, pixels, 6, work_dir=NET_BUILDS / f"digits-{sim}-work")
    cocotb = verify.simulate(out, sim, pixels, 6, work_dir=NET_BUILDS / f"digits-{sim}-cocotb",
                             bench_kind="harness-cocotb")
    slow = verify.simulate(out, sim, pixels, 6, work_dir=NET_BUILDS / f"digits-{sim}-edges",
                           bench_kind="edges")
    assert len(fast) == len(slow) == 2
    assert fast == cocotb == slow


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_a_spent_cycle_budget_ends_the_run_and_fails_the_image(sim, digits_net, tmp_path):
    # the harness ends a run itself (no cocotb): a spent cycle budget must not pass as a short
    # record; the record says so, and the comparison fails that image and the ones after it
    from snngen.flows import bench, simrun

    net, data = digits_net
    out = _build(net, f"digits-{sim}", 2)
    man = load_manifest(out)
    model = bench.build(man, [out / f for f in man["files"]],
                        verify._parameters(man, out), sim, tmp_path / "model")
    pixels = _pixels(net, data.test.x[:2])
    recs = bench.run_model(model, man, pixels, 4, tmp_path / "run", seed=1, max_cycles=100)
    assert len(recs) == 1 and recs[0]["timeout"] == 101 and "class" not in recs[0]
    _, _, p = verify.plan_of_build(out)
    res, timings = verify.expected(net, p, pixels, 4)
    first, second = verify.compare(p, res, timings, [*recs, None], 4)
    assert first.mismatches == [
        f"image 0: no result within the run's cycle budget (the timing model predicts "
        f"{timings[0].latency} cycles for this image): the hardware hung without raising its "
        "deadlock flag"]
    assert second.mismatches == [
        "image 1: not simulated: the run stopped at an earlier image (see it)"]
    # a harness that cannot run is an error, its reason in the message
    with pytest.raises(simrun.SimError, match=r"recorded 0 of 1 images(.|\n)*cannot open"):
        simrun.run_direct(model, ["+images=/nonexistent/images.hex",
                                  f"+record={tmp_path / 'run' / 'none.txt'}", "+finish"],
                          tmp_path / "run" / "sim.log", 1)
        bench._records(tmp_path / "run" / "none.txt", man, 1, tmp_path / "run" / "sim.log")
    # the same executable then runs a whole image: the budget is a run-time argument
    assert len(bench.run_model(model, man, pixels[:1], 4, tmp_path / "run", seed=1)) == 1


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_a_fifo_too_small_deadlocks_loudly(sim, monkeypatch):
    # snngen build refuses a FIFO shallower than two timesteps of its producer (architecture
    # §3.5): with one, a step can never end. Built anyway (the plan's rule patched to allow
    # depth 2), the top must raise deadlock naming the stage, and verify must stop that run at
    # once and say which stage and FIFO, not run to its cycle budget
    from snngen.hwmodel import plan as hwplan

    monkeypatch.setattr(hwplan, "min_fifo_depth", lambda n: 2)
    net, x = _dense_first_net()
    out = _build(net, f"deadlock-{sim}", DENSE_FIRST_LANES)
    assert [s["fifo_depth"] for s in load_manifest(out)["stages"][1:]] == [2]
    pixels = _pixels(net, x[:3])
    rep = verify.verify(out, sim, pixels, 6, work_dir=NET_BUILDS / f"deadlock-{sim}-work",
                        chunk=3)
    first = rep.images[0]
    assert not first.ok and first.rtl_class is None
    (why,) = first.mismatches
    # (on this image: in step 2 stage 1 stops at timestep 1's end while stage 0 has more of
    # timestep 2 than the FIFO holds)
    assert re.fullmatch(r"image 0: the hardware deadlocked in step 2 \(cycle \d+ of the "
                        r"image\): .*", why), why
    assert why.endswith("stage 0 (input fc0_relu) cannot hand on its events: the FIFO in front of "
                        "stage 1 (depth 2) is full and stage 1 has finished the step (the FIFO "
                        "must hold two timesteps of stage 0, 2 x (12 + 1) = 26 words)"), why
    # it stopped there: well within the first image's predicted latency
    assert rep.stats.cycles < first.predicted_cycles
    for r in rep.images[1:]:
        assert r.mismatches == [f"image {r.image}: not simulated: the run stopped at an "
                                "earlier image (see it)"]
    # the per-edge cocotb bench stops at the same edge with the same record (on Icarus: a
    # cocotb Verilator build would only add its compile time)
    if sim == "icarus":
        fast = verify.simulate(out, sim, pixels, 6, work_dir=NET_BUILDS / f"deadlock-{sim}-work")
        slow = verify.simulate(out, sim, pixels, 6,
                               work_dir=NET_BUILDS / f"deadlock-{sim}-edges", bench_kind="edges")
        assert len(fast) == 1 and fast == slow


def test_the_harness_is_lint_clean(digits_net, tmp_path):
    from snngen.flows import bench

    out = tmp_path / "b"
    build(digits_net[0], out, BuildOptions(lanes=2))
    man = load_manifest(out)
    name = bench.bench_name(man)
    (out / f"{name}.v").write_text(bench.render(man, {"MEM_DIR": "mem/"}))
    cmd = [runner.verilator_exe(), "--lint-only", "-Wall", "--timing", "--default-language",
           "1364-2005", "--top-module", name, "-f", "files.f", f"{name}.v"]
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
    text = r.stdout + r.stderr
    assert r.returncode == 0 and "%Warning" not in text and "%Error" not in text, text
    r = subprocess.run(["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "x.vvp"), "-s", name,
                        "-c", "files.f", f"{name}.v"], cwd=out, capture_output=True, text=True,
                       timeout=300, env={"PATH": runner.search_path()})
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def test_random_networks_cover_the_architecture():
    kinds = set()
    for seed, lanes in RANDOM_SEEDS.items():
        net, _ = _random_net(seed)
        p = plan(net, lanes=lanes)
        for s in p.stages:
            if isinstance(s, InputLayer):
                kinds.add("input-pool" if s.pool != (1, 1, 1, 1, 0, 0) else "input")
                if s.geom.sh > 1:
                    kinds.add("stride")
                if s.geom.ph > 0:
                    kinds.add("padding")
            elif isinstance(s, HiddenLayer):
                kinds.add("dense" if s.geom.h == 1 and s.geom.w == 1 else "conv")
                if s.geom.sh > 1:
                    kinds.add("stride")
                if s.geom.ph > 0:
                    kinds.add("padding")
            elif isinstance(s, PoolStage):
                kinds.add("gate")
        kinds.add(f"lanes{lanes}")
    want = {"input", "input-pool", "conv", "dense", "gate", "stride", "padding", "lanes1",
            "lanes2", "lanes4"}
    assert want <= kinds, f"random networks miss {want - kinds}"


@pytest.mark.parametrize("seed", list(RANDOM_SEEDS))
def test_random_network(sim, seed):
    net, x = _random_net(seed)
    out = _build(net, f"rand{seed}-{sim}", RANDOM_SEEDS[seed])
    rng = np.random.default_rng(seed)
    pixels = _pixels(net, x[:3])
    pixels[0][rng.random(pixels[0].shape) < 0.5] = 0  # sparse and dense images
    rep = verify.verify(out, sim, pixels, 6, work_dir=NET_BUILDS / f"rand{seed}-{sim}-work")
    _check(rep)


def test_dense_first_layer_plan():
    net, _ = _dense_first_net()
    s0 = plan(net, lanes=DENSE_FIRST_LANES).stages[0]
    assert isinstance(s0, InputLayer)
    # the 1x1 convolution of 12 channels: the lanes split the outputs, one bias per channel
    g = s0.geom
    assert (g.cin, g.h, g.w, g.cout, g.oh, g.ow, g.kh, g.kw, g.ph, g.pw) == (
        36, 1, 1, 12, 1, 1, 1, 1, 0, 0)
    assert s0.bias.shape == (12,) and s0.pooled == (1, 1) and s0.plane == 1
    # the bias of neuron m is the Linear's bias[m]
    assert np.array_equal(s0.bias, np.asarray(net.graph["fc0"].op.bias, dtype=np.int64))


def test_dense_first_layer(sim):
    net, x = _dense_first_net()
    out = _build(net, f"dense-first-{sim}", DENSE_FIRST_LANES)
    pixels = _pixels(net, x[:3])
    pixels[0][np.random.default_rng(3).random(pixels[0].shape) < 0.5] = 0
    rep = verify.verify(out, sim, pixels, 6, work_dir=NET_BUILDS / f"dense-first-{sim}-work")
    _check(rep)


def test_other_stages_clear_during_the_load(sim):
    # the load waits for the first stage's clear only; step 1 waits for the others' (settle)
    from snngen.golden import model as golden
    from snngen.hwmodel import timing

    net, x = _late_clear_net()
    out = _build(net, f"late-clear-{sim}", 1)
    pixels = _pixels(net, x[:3])
    pixels[1][:] = 0  # a load as short as it gets
    p = plan(net, lanes=1)
    res = golden.run(net.graph, pixels, (4,), trace=True)
    for i in range(len(pixels)):
        tm = timing.predict(p, pixels[i], timing.stage_inputs(p, res.raster, i, 4), 4)
        # the 300-neuron layer's clear outlasts the first stage's clear and the load
        assert tm.clear == 1 + 2 + 1 and tm.settle == 1 + 300 + 1 - tm.clear - tm.load > 0
    _check(verify.verify(out, sim, pixels, 4, work_dir=NET_BUILDS / f"late-clear-{sim}-work"))


@pytest.mark.parametrize("seed", [24, 57])
def test_random_network_with_stalls(seed):
    # pixels withheld and the result refused in random cycles: the same spikes, counts, class,
    # and the same cycles per stage and timestep (only the load and the handshake stretch)
    net, x = _random_net(seed)
    out = _build(net, f"rand{seed}-icarus", RANDOM_SEEDS[seed])
    rep = verify.verify(out, "icarus", _pixels(net, x[:2]), 6, gap=0.3,
                        work_dir=NET_BUILDS / f"rand{seed}-stall-work")
    for r in rep.images:
        assert r.ok, "\n".join(r.mismatches[:10])
        # stalls never make it faster (they may cost nothing: a router busy anyway)
        assert r.rtl_cycles >= r.predicted_cycles


def test_generated_rtl_is_lint_clean(digits_net, tmp_path):
    nets = [digits_net[0], _random_net(24)[0], _random_net(57)[0]]
    for i, net in enumerate(nets):
        out = tmp_path / f"b{i}"
        build(net, out, BuildOptions(lanes=2))
        man = load_manifest(out)
        cmd = [runner.verilator_exe(), "--lint-only", "-Wall", "--default-language", "1364-2005",
               "--top-module", man["top"], "-f", "files.f"]
        r = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
        text = r.stdout + r.stderr
        assert r.returncode == 0 and "%Warning" not in text and "%Error" not in text, text
        runner.require_simulator("icarus")
        r = subprocess.run(["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "x.vvp"), "-s",
                            man["top"], "-c", "files.f"], cwd=out, capture_output=True,
                           text=True, timeout=300, env={"PATH": runner.search_path()})
        assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def test_a_corrupted_weight_is_reported(digits_net):
    net, data = digits_net
    out = _build(net, "digits-corrupt", 1)
    man = load_manifest(out)
    stage = man["stages"][1]
    w = stage["weight_width"]
    mem = out / "mem" / "s1_weights.mem"
    words = memfile.read_mem(mem, w, signed=True)
    i = int(np.argmax(np.abs(words)))  # the largest weight: it is used by many events
    words[i] = -words[i]
    memfile.write_mem(mem, words, w)
    rep = verify.verify(out, "icarus", _pixels(net, data.test.x[:1]), 8,
                        work_dir=NET_BUILDS / "digits-corrupt-work")
    assert not rep.ok
    first = rep.first_mismatch()
    assert first.startswith("image 0, stage 1 (layer 5), timestep "), first
    assert "neuron" in first


def test_verify_cli_image_ranges_jobs_and_record(digits_net, tmp_path, capsys):
    # --images A:B on 2 jobs (20 images: chunks of 16 and 4, one per job): every image
    # compared, progress after the first chunk, the record says which images and what the
    # simulation cost
    import json

    from snngen import cli

    net, _ = digits_net
    out = _build(net, "digits-cli", 2)
    argv = ["verify", str(out), "--sim", "icarus", "--images", "5:25", "--jobs", "2",
            "--timesteps", "4", "--keep", str(tmp_path / "work")]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "verified: 20 images" in text and "on 2 job(s)" in text
    assert "4/20 images" in text or "16/20 images" in text  # progress before the end
    run = json.loads((out / verify.RECORD).read_text())["runs"]["icarus"]
    assert (run["first"], run["images"], run["passed"]) == (5, 20, True)
    sim_ = run["simulation"]
    assert sim_["bench"] == "harness" and sim_["jobs"] == 2
    assert sim_["cycles_simulated"] > sum(run["cycles"]["rtl"]) > 0
    assert sim_["cycles_per_second"] > 0
    # one compiled model, one directory per chunk
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["chunk0", "chunk1", "model"]
    # the range and --first do not mix; a range past the split is refused
    assert cli.main([*argv[:4], "--images", "all", "--first", "3"]) == 2
    assert "--first 3 goes with --images N" in capsys.readouterr().out
    assert cli.main([*argv[:4], "--images", "350:400"]) == 2
    assert "has 360 images" in capsys.readouterr().out
