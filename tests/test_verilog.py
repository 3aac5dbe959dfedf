"""The Verilog backend's Python side, without a simulator: the hardware plan and its refusals,
the build directory (determinism, overwrite rules, atomicity, sanitised names, manifest), the
timing model's composition, and the CLI. Simulation is in rtl_tests/test_network.py."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import numpy as np
import pytest

from snngen import cli
from snngen.backends.verilog import writer as verilog
from snngen.backends.verilog.writer import (
    BuildError,
    BuildOptions,
    build,
    check_identifier,
    sanitize,
)
from snngen.convert import passes
from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedConfig, fix
from snngen.fixedpoint.quantize import QuantizationError, quantize_input
from snngen.golden import model as golden
from snngen.hwmodel import plan as hwplan
from snngen.hwmodel import timing
from snngen.hwmodel.blocks import banks
from snngen.hwmodel.plan import HardwareError, plan
from snngen.ir import graph as ir
from tests.randnet import random_graph, random_input


def _fixed(graph: ir.Graph, seed: int = 0, t_max: int = 32, **conv):
    x = random_input(seed, graph, 16)
    cfg = ConversionConfig(**conv)
    snn = passes.convert(graph, x, cfg)
    bits = 8
    for _ in range(4):
        try:
            return fix(snn, FixedConfig(weight_bits=bits, max_timesteps=t_max), asdict(cfg)), x
        except QuantizationError as e:
            bits = int(str(e).split("at least ")[1].split("-bit")[0])
    raise AssertionError("no weight width fits")


def _odd_names_graph() -> ir.Graph:
    """A small CNN whose node names are not Verilog identifiers."""
    rng = np.random.default_rng(5)
    specs = [
        ("in put", ir.Input((1, 6, 6)), ()),
        ("conv-1/a b", ir.conv(rng.normal(0, 0.5, (3, 1, 3, 3)), rng.normal(0, 0.1, 3), 1, 1),
         ("in put",)),
        ("relu.1", ir.ReLU(), ("conv-1/a b",)),
        ("pool[0]", ir.maxpool(2), ("relu.1",)),
        ("conv 2", ir.conv(rng.normal(0, 0.5, (4, 3, 3, 3)), None, 1, 0), ("pool[0]",)),
        ("relu 2", ir.ReLU(), ("conv 2",)),
        ("max*pool", ir.maxpool(1), ("relu 2",)),
        ("flat!", ir.Flatten(), ("max*pool",)),
        ("module", ir.linear(rng.normal(0, 0.5, (3, 4)), rng.normal(0, 0.1, 3)), ("flat!",)),
    ]
    return ir.build(specs, "module")


@pytest.fixture(scope="module")
def odd_net():
    return _fixed(_odd_names_graph())[0]


@pytest.fixture(scope="module")
def rand_net():
    return _fixed(random_graph(49, dag=False), 49)


def _tree(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_build_is_deterministic(odd_net, tmp_path):
    a = build(odd_net, tmp_path / "a", BuildOptions(lanes=2))
    b = build(odd_net, tmp_path / "b", BuildOptions(lanes=2))
    ta, tb = _tree(a), _tree(b)
    assert ta == tb
    assert {"files.f", "manifest.json", "net.snn", verilog.MARKER} <= set(ta)
    assert any(k.startswith("mem/") for k in ta) and "rtl/snn_net.v" in ta
    # the network file inside is the network, byte for byte
    assert netfile.dumps(netfile.load(a / "net.snn")) == netfile.dumps(odd_net)
    # a rebuild of a build directory replaces it (nothing stale left behind)
    (a / "rtl" / "stale.v").write_text("// old\n")
    build(odd_net, a, BuildOptions(lanes=2))
    assert _tree(a) == tb


def test_model_names_never_reach_verilog_unsanitised(odd_net, tmp_path):
    out = build(odd_net, tmp_path / "b")
    text = (out / "rtl" / "snn_net.v").read_text()
    # every instance/wire name made from a node name is an identifier of [A-Za-z0-9_]
    for name in re.findall(r"\b(s\d+_\S+?)(?:_m_valid|_fifo|\s\()", text):
        assert re.fullmatch(r"s\d+_[A-Za-z0-9_]+", name), name
    for bad in ("conv-1/a b", "relu 2", "flat!", "pool[0]"):
        assert bad not in text.split("*/", 1)[1]  # only in the header comment, never in code
    assert sanitize("conv-1/a b") == "conv_1_a_b" and sanitize("") == "_"


@pytest.mark.parametrize("name", ["1abc", "module", "wire", "a-b", "snn_fifo", "", "a b"])
def test_bad_top_names_are_refused(name):
    with pytest.raises(BuildError, match="not a usable Verilog identifier"):
        check_identifier(name)
    assert check_identifier("my_net2") == "my_net2"


def test_overwrite_rules(odd_net, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="did not create.*--force"):
        build(odd_net, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    build(odd_net, foreign, force=True)
    assert not (foreign / "notes.txt").exists() and (foreign / verilog.MARKER).is_file()
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BuildError, match="not a directory"):
        build(odd_net, f)
    # an empty directory is fine
    (tmp_path / "empty").mkdir()
    build(odd_net, tmp_path / "empty")


def test_a_failed_build_leaves_the_old_one_intact(odd_net, tmp_path, monkeypatch):
    out = build(odd_net, tmp_path / "b")
    before = _tree(out)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(verilog, "write_mem", boom)
    with pytest.raises(OSError, match="disk full"):
        build(odd_net, out, BuildOptions(lanes=4))
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary left


def test_manifest_matches_the_generated_ports(rand_net, tmp_path):
    net, _ = rand_net
    out = build(net, tmp_path / "b", BuildOptions(lanes={"*": 2}))
    man = json.loads((out / "manifest.json").read_text())
    text = (out / "rtl" / f"{man['top']}.v").read_text()
    ports = {}
    for d, hi, name in re.findall(r"^\s*(input|output)\s+wire\s+(?:\[(\d+):0\])?\s*(\w+)", text,
                                  re.M):
        if name in man["ports"] or name in ("clk", "rst"):
            ports[name] = {"dir": "in" if d == "input" else "out",
                           "width": int(hi) + 1 if hi else 1}
    assert ports == man["ports"]
    assert man["files"] == (out / "files.f").read_text().split()
    assert all((out / f).is_file() for f in man["files"])
    assert [s["kind"] for s in man["stages"]] == [s.kind for s in plan(net, lanes=2).stages]


def test_plan_refusals(tmp_path):
    g = random_graph(3, dag=True)
    net, _ = _fixed(g, 3)
    if any(isinstance(n.op, (ir.Add, ir.Concat)) for n in net.graph):
        with pytest.raises(HardwareError, match="sequential networks only"):
            plan(net)
    spikes, _ = _fixed(random_graph(49, dag=False), 49, input="spikes")
    with pytest.raises(HardwareError, match="spike .*input is not built in hardware yet"):
        plan(spikes)
    avg, _ = _fixed(random_graph(45, dag=False), 45)
    with pytest.raises(HardwareError, match="AvgPool2d.*--spiking-avgpool"):
        plan(avg)
    net, _ = _fixed(random_graph(49, dag=False), 49)
    with pytest.raises(HardwareError, match="lanes must be a power of two"):
        plan(net, lanes=3)
    first = plan(net).stages[1]
    need = hwplan.min_fifo_depth(plan(net).stages[0].n)
    with pytest.raises(HardwareError, match=f"at least {need}"):
        plan(net, fifo_depth={first.name: need // 2})
    assert plan(net, fifo_depth=2 * need).fifo_depths[0] == 2 * need
    # any depth >= need
    assert plan(net, fifo_depth={first.name: need + 3}).fifo_depths[0] == need + 3
    assert plan(net, fifo_depth={"*": 4 * need}).fifo_depths[0] == 4 * need
    with pytest.raises(HardwareError, match="no stage named nope"):
        plan(net, lanes={"nope": 2})
    with pytest.raises(HardwareError, match="no stage named nope"):
        plan(net, fifo_depth={"nope": 1024})


def test_fifo_depth_holds_two_timesteps():
    # exactly two timesteps of the producer (its spikes and the EOT each), not rounded up
    for n in (2, 7, 127, 128, 1000):
        assert hwplan.min_fifo_depth(n) == 2 * (n + 1)


def test_lanes_past_the_channels_are_not_built(rand_net):
    """A layer gets at most the smallest power of two of lanes that holds its output channels:
    the lanes split the channels, so more would hold none. The cycles are those of the request
    (every channel is in the one channel group either way), the plan and the manifest say what
    was asked."""
    net, x = rand_net
    big = plan(net, lanes=64)
    layers = [s for s in big.stages if isinstance(s, (hwplan.InputLayer, hwplan.HiddenLayer))]
    fit = {s.name: 1 << (s.geom.cout - 1).bit_length() for s in layers}
    assert [s.lanes for s in layers] == list(fit.values())
    assert all(s.lanes_asked == 64 for s in layers)
    exact = plan(net, lanes=fit)
    assert all(s.lanes_asked is None for s in exact.stages if hasattr(s, "geom"))
    pixels = quantize_input(x[:2], 8)
    res = golden.run(net.graph, pixels, (4,), trace=True)
    for i in range(2):
        ins = timing.stage_inputs(big, res.raster, i, 4)
        assert timing.predict(big, pixels[i], ins, 4) == timing.predict(exact, pixels[i], ins, 4)
    # a request the layer can use is kept as it is
    one = plan(net, lanes=1)
    assert all(s.lanes == 1 and s.lanes_asked is None for s in one.stages if hasattr(s, "geom"))


def test_timing_model_composition(rand_net):
    net, x = rand_net
    p = plan(net, lanes=4)
    pixels = quantize_input(x[:2], 8)
    res = golden.run(net.graph, pixels, (5,), trace=True)
    for i in range(2):
        ins = timing.stage_inputs(p, res.raster, i, 5)
        tm = timing.predict(p, pixels[i], ins, 5)
        assert len(tm.steps) == 5 + len(p.stages) - 1
        assert tm.latency == tm.clear + tm.load + tm.settle + sum(tm.steps) + tm.readout
        for s, (edge, cycles) in enumerate(zip(tm.step_edges, tm.steps, strict=True), start=1):
            active = [tm.stage[k][s - k] for k in range(len(p.stages)) if 1 <= s - k <= 5]
            assert cycles == max(active)
            if s > 1:
                assert edge == tm.step_edges[s - 2] + tm.steps[s - 2]
        # more spikes in, more cycles: the per-stage cost grows with the events; a silent
        # sweep is one cycle per bank row, a row with s spikes takes s cycles
        nothing = np.zeros(0, dtype=np.int64)
        for k, st in enumerate(p.stages):
            if isinstance(st, hwplan.HiddenLayer):
                rows = banks.bank_rows(st.n, st.lanes, st.plane)
                none = timing.stage_cycles(p, k, nothing, nothing)
                assert none == rows + timing.LAYER_OVERHEAD
                all_ = timing.stage_cycles(p, k, np.arange(st.geom.n_in), nothing)
                assert all_ >= none + st.geom.n_in
                every = timing.stage_cycles(p, k, nothing, np.arange(st.n))
                assert every == st.n + timing.LAYER_OVERHEAD  # every row holds a neuron
                assert timing.stage_cycles(p, k, nothing, np.array([0])) == none
        bd = timing.bounds(p, pixels[i], ins, 5)
        assert 0 < bd.ideal <= bd.pipelined < tm.latency
        # the ideal bound is every update over every lane: no schedule does better
        lanes = sum(st.lanes for st in p.stages if not isinstance(st, hwplan.PoolStage))
        assert bd.ideal == -(-sum(map(sum, bd.updates)) // lanes)
        # the pipelined one follows the schedule: each step as long as its busiest stage
        steps = [max(bd.work[k][s - k - 1] for k in range(len(p.stages)) if 1 <= s - k <= 5)
                 for s in range(1, 5 + len(p.stages))]
        assert bd.pipelined == bd.load + sum(steps)


def test_load_cycles_follow_the_router_queue_model(rand_net):
    # with every pixel nonzero, the front end offers them back to back: the load phase is
    # then the router's own schedule for those offers (hwmodel.blocks.router.schedule) + readout
    from snngen.hwmodel.blocks import accum, router

    net, _ = rand_net
    p = plan(net, lanes=2)
    s0 = p.stages[0]
    pixels = np.full(p.n_in, 7)
    sched = router.schedule(s0.geom, s0.lanes, list(range(p.n_in)), [0] * (p.n_in + 1))
    # the load edge is 2 edges before the front end's first offer (edge 0 of the schedule)
    # (the readout walks the output bank rows, LANES channels at once)
    rows = banks.bank_rows(s0.n, s0.lanes, s0.plane)
    assert rows < s0.n
    want = 2 + sched.sweep + 1 + accum.readout_cycles(rows, s0.pool)
    assert timing.load_cycles(p, pixels) == want


def test_cli_build_and_errors(odd_net, tmp_path, capsys):
    f = tmp_path / "net.snn"
    netfile.save(odd_net, f)
    out = tmp_path / "b"
    assert cli.main(["build", str(f), "--target", "verilog", "-o", str(out), "--lanes", "2",
                     "--images", "2", "--dataset", "digits"]) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and (out / "manifest.json").is_file()
    # digits images do not fit this 6x6 network: the build still works, without predictions
    assert "no predicted cycles" in text
    assert cli.main(["build", str(f), "-o", str(out), "--lanes", "3"]) == 2
    assert "lanes must be a power of two" in capsys.readouterr().out
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x").write_text("x")
    assert cli.main(["build", str(f), "-o", str(foreign)]) == 2
    assert "--force" in capsys.readouterr().out
    assert cli.main(["verify", str(tmp_path), "--sim", "icarus"]) == 2
    assert "a `snngen build` directory?" in " ".join(capsys.readouterr().out.split())


def test_the_accumulator_holds_one_whole_update():
    # found by make fuzz (seed 80: 2-bit weights, 3-bit pixels): proven sums narrower than one
    # weight x pixel product made snn_accum refuse U_WIDTH > A_WIDTH at elaboration
    from tests.randnet import fixed_net

    g = random_graph(80, dag=False)
    net, _ = fixed_net(g, random_input(80, g, 16), t_max=16, weight_bits=2, input_bits=3)
    s0 = plan(net).stages[0]
    assert s0.acc_width >= s0.w_width + s0.value_width
