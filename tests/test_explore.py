"""snngen explore on a tiny grid (no synthesis): every configuration's accuracy against a direct
golden-model run, its cycles against the timing model, its memory estimate against a real
build's manifest, the parallel run against the serial one, the JSON and plot of the CLI, and the
Pareto marking on handmade points."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from snngen.backends.verilog import writer as verilog
from snngen.cli import main
from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedConfig, fix
from snngen.fixedpoint.quantize import quantize_input
from snngen.flows import explore
from snngen.golden import model as golden
from snngen.hwmodel import timing
from snngen.hwmodel.plan import plan
from tests import tinydigits

N = 40
BITS, TS, LANES = (6, 8), (4, 8), (1, 2)   # this network needs at least 6-bit weights


@pytest.fixture(scope="module")
def setup():
    snn, cfg = tinydigits.snn()
    test = tinydigits.digits_split().test
    x, y = test.x[:N], test.y[:N]
    base = FixedConfig(max_timesteps=max(TS))
    src = explore.Source(snn=snn, conversion=asdict(cfg), base=base)
    return src, snn, cfg, base, x, y


@pytest.fixture(scope="module")
def serial(setup):
    src, *_, x, y = setup
    return explore.explore(src, x, y, BITS, TS, LANES, jobs=1, batch_size=16)


def test_every_configuration_matches_the_golden_and_timing_models(setup, serial):
    _, snn, cfg, _, x, y = setup
    assert [(c["weight_bits"], c["timesteps"], c["lanes"]) for c in serial] == \
        [(b, t, ln) for b in BITS for t in TS for ln in LANES]
    for bits in BITS:
        # quantised as `snngen sweep` does it
        net = fix(snn, FixedConfig(weight_bits=bits, max_timesteps=max(TS)), asdict(cfg))
        q = quantize_input(x, net.config.input_bits)
        for t in TS:
            res = golden.run(net.graph, q, (t,), trace=True)
            acc = float(np.mean(res.predictions[t] == y))
            for ln in LANES:
                (c,) = [c for c in serial if (c["weight_bits"], c["timesteps"], c["lanes"])
                        == (bits, t, ln)]
                assert c["accuracy"] == acc and c["images"] == N
                assert c["correct"] == int(np.sum(res.predictions[t] == y))
                assert c["ops_per_image"] == pytest.approx(float(res.ops[t].mean()))
                p = plan(net, lanes=ln)
                cyc = [timing.predict(p, q[i], timing.stage_inputs(p, res.raster, i, t),
                                      t).latency for i in range(N)]
                assert c["cycles"] == {"mean": sum(cyc) / N, "min": min(cyc), "max": max(cyc)}
    # different widths really are different networks; the lanes split the memories (no copies),
    # so the lanes of this small net change no memory bits
    assert len({c["estimate"]["memory_bits"] for c in serial}) == 2
    assert len({(c["weight_bits"], c["estimate"]["memory_bits"]) for c in serial}) == 2
    # T does not change the design, lanes and width do
    by = {(c["weight_bits"], c["timesteps"], c["lanes"]): c for c in serial}
    assert by[(8, 4, 2)]["estimate"] == by[(8, 8, 2)]["estimate"]
    assert by[(8, 4, 1)]["cycles"]["mean"] > by[(8, 4, 2)]["cycles"]["mean"]


def test_memory_estimate_is_the_manifest_of_a_real_build(setup, serial, tmp_path):
    _, snn, cfg, *_ = setup
    net = fix(snn, FixedConfig(weight_bits=6, max_timesteps=max(TS)), asdict(cfg))
    out = verilog.build(net, tmp_path / "b", verilog.BuildOptions(lanes=2))
    man = verilog.load_manifest(out)
    bits = sum(v for r in man["resources"] for k, v in r.items() if k.endswith("_bits"))
    (c,) = [c for c in serial if (c["weight_bits"], c["timesteps"], c["lanes"]) == (6, 8, 2)]
    assert c["estimate"]["memory_bits"] == bits
    assert sum(c["estimate"]["by_kind"].values()) == bits


def test_parallel_run_equals_the_serial_one(setup, serial):
    src, *_, x, y = setup
    assert explore.explore(src, x, y, BITS, TS, LANES, jobs=2, batch_size=16) == serial


def test_pareto_flags_follow_the_objectives(serial):
    pts = [explore.objectives(c, None) for c in serial]
    assert all(p is not None for p in pts)
    for c, p in zip(serial, pts, strict=True):
        dominated = any(explore.dominates(q, p) for q in pts)
        assert c["pareto"] is (not dominated)
    assert any(c["pareto"] for c in serial)


def test_pareto_on_handmade_points():
    pts = [
        (0.90, 100, 10),     # 0: optimal
        (0.90, 100, 10),     # 1: its twin: neither dominates the other
        (0.80, 200, 20),     # 2: dominated by 0 in every objective
        (0.95, 300, 30),     # 3: the most accurate
        (0.90, 90, 50),      # 4: the smallest
        (0.90, 100, 11),     # 5: as 0 but slower: dominated
        None,                # 6: no candidate (error, or does not fit)
        (0.70, 500, 5),      # 7: the fastest
        (0.90, 100, 10.5),   # 8: dominated by 0 (latency only)
    ]
    assert explore.pareto(pts) == [True, True, False, True, True, False, False, True, False]
    assert explore.dominates((1, 1, 1), (1, 1, 2))
    assert not explore.dominates((1, 1, 1), (1, 1, 1))
    assert not explore.dominates((0.9, 1, 1), (1, 2, 2))
    assert explore.pareto([]) == []


def test_objectives_with_a_device():
    cfg = {"accuracy": 0.9, "cycles": {"mean": 1000.0}, "estimate": {"memory_bits": 10}}
    assert explore.objectives(cfg, None) == (0.9, 10, 1000.0)
    fits = {**cfg, "synth": {"fits": True, "luts": 2000, "latency_us": 40.0}}
    assert explore.objectives(fits, "ice40-up5k") == (0.9, 2000, 40.0)
    no_fit = {**cfg, "synth": {"fits": False, "luts": 9000, "latency_us": None}}
    assert explore.objectives(no_fit, "ice40-up5k") is None
    assert explore.objectives({**cfg, "synth": {"error": "yosys failed"}}, "ecp5-25k") is None
    assert explore.objectives({"weight_bits": 2, "error": "threshold rounds to 0"}, None) is None


def test_cli_on_a_network_file(tmp_path, capsys):
    net = tinydigits.fixed_net(bits=8, t_max=16)
    path = tmp_path / "tiny.snn"
    netfile.save(net, path)
    argv = ["explore", str(path), "--dataset", "digits", "--timesteps", "4,8", "--lanes",
            "2,1", "--images", "30", "--jobs", "1"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "Pareto-optimal" in text and "memory bits" in text
    assert main([*argv, "-o", str(tmp_path / "b")]) == 0
    raw = (tmp_path / "a" / "explore.json").read_bytes()
    assert raw == (tmp_path / "b" / "explore.json").read_bytes()    # deterministic
    png = (tmp_path / "a" / "pareto.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == (tmp_path / "b" / "pareto.png").read_bytes()
    doc = json.loads(raw)
    assert doc["format"] == "snngen-explore" and doc["images"] == 30 and doc["device"] is None
    assert doc["grid"] == {"weight_bits": [8], "timesteps": [4, 8], "lanes": [1, 2]}
    assert doc["objectives"]["resources"] == "estimate.memory_bits"
    assert [(c["timesteps"], c["lanes"]) for c in doc["configs"]] == \
        [(4, 1), (4, 2), (8, 1), (8, 2)]
    # the network file is used as it is: accuracy is its golden model's
    test = tinydigits.digits_split().test
    q = quantize_input(test.x[:30], 8)
    res = golden.run(net.graph, q, (4, 8))
    for c in doc["configs"]:
        assert c["accuracy"] == float(np.mean(res.predictions[c["timesteps"]] == test.y[:30]))
        assert c["max_timesteps"] == 16
    # it cannot be re-quantised, nor run beyond its proven T
    assert main([*argv, "--weight-bits", "4", "-o", str(tmp_path / "c")]) == 2
    assert "cannot be re-quantised" in " ".join(capsys.readouterr().out.split())
    assert main(["explore", str(path), "--timesteps", "32", "-o", str(tmp_path / "c")]) == 2
    assert "exceeds the 16 timesteps" in " ".join(capsys.readouterr().out.split())
    assert not (tmp_path / "c").exists()


def test_a_width_that_cannot_be_quantised_is_reported_not_fatal(setup):
    src, *_, x, y = setup
    # 2-bit weights: this network's output threshold rounds to 0
    out = explore.explore(src, x[:8], y[:8], [2, 8], [4], [1], jobs=1)
    assert "error" in out[0] and "needs at least" in out[0]["error"]
    assert out[0]["pareto"] is False
    assert "error" not in out[1] and out[1]["pareto"] is True


def test_cli_on_a_model_quantises_as_sweep_does(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    model = [str(root / "examples/digits/model.py") + ":make_model",
             "--weights", str(root / "examples/digits/weights.pt"), "--dataset", "digits"]
    assert main(["sweep", *model, "--weight-bits", "4,6", "--timesteps", "4,8", "--limit", "25",
                 "--json", str(tmp_path / "sweep.json")]) == 0
    assert main(["explore", *model, "--weight-bits", "4,6", "--timesteps", "4,8", "--lanes",
                 "2", "--images", "25", "--jobs", "1", "-o", str(tmp_path / "x")]) == 0
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    doc = json.loads((tmp_path / "x" / "explore.json").read_text())
    assert len(doc["configs"]) == 4
    for c in doc["configs"]:
        assert c["accuracy"] == sweep["fixed"][str(c["weight_bits"])][str(c["timesteps"])]
        assert c["max_timesteps"] == 8          # as sweep: the largest T
