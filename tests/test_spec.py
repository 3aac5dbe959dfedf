"""The spec gaps of issue 18, each pinned to what the code does: input rounding, max-pools of
pixels and of time-varying currents, Adds as the one node that reads spikes and currents, the
order of the network file's checksum and canonical-form checks, runs past the proven
timesteps, and how operations are counted (docs/semantics.md, docs/format.md,
docs/conversion.md)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import tinydigits

from snngen.convert.passes import kinds
from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet
from snngen.fixedpoint.quantize import quantize, quantize_input
from snngen.fixedpoint.widths import analyze
from snngen.golden import model as golden
from snngen.golden import sim
from snngen.ir import graph as ir
from snngen.ir import kernels


def _fixed(g: ir.Graph, mode: str = "analog", t_max: int = 16) -> FixedNet:
    """A float spiking graph (thresholds 1) quantised to 8 bits, widths proven for ``t_max``."""
    q, rec = quantize(g, 8, 8, mode)
    return FixedNet(q, analyze(q, t_max, mode), rec, FixedConfig(max_timesteps=t_max),
                    {"input": mode}, {})


def _head(rng, src: str, n: int) -> list:
    return [("flat", ir.Flatten(), (src,)),
            ("fc", ir.linear(rng.normal(0, .5, (10, n))), ("flat",)),
            ("out", ir.IF(1.0, 0.5, output=True), ("fc",))]


def pooled_pixels() -> ir.Graph:
    """in -> MaxPool -> conv -> IF -> ... : a max-pool of the pixels themselves."""
    rng = np.random.default_rng(0)
    return ir.build([("in", ir.Input((1, 8, 8)), ()),
                     ("mp", ir.maxpool(2), ("in",)),
                     ("c1", ir.conv(rng.normal(0, .5, (4, 1, 3, 3)), rng.normal(0, .1, 4), 1, 1),
                      ("mp",)),
                     ("if1", ir.IF(1.0, 0.5), ("c1",)), *_head(rng, "if1", 64)], "out")


def pooled_varying_current() -> ir.Graph:
    """... IF -> conv -> MaxPool -> IF: a max-pool of a current that changes every timestep."""
    rng = np.random.default_rng(1)
    return ir.build([("in", ir.Input((1, 8, 8)), ()),
                     ("c1", ir.conv(rng.normal(0, .5, (4, 1, 3, 3)), None, 1, 1), ("in",)),
                     ("if1", ir.IF(1.0, 0.5), ("c1",)),
                     ("c2", ir.conv(rng.normal(0, .5, (4, 4, 3, 3)), None, 1, 1), ("if1",)),
                     ("mp", ir.maxpool(2), ("c2",)),
                     ("if2", ir.IF(1.0, 0.5), ("mp",)), *_head(rng, "if2", 64)], "out")


def residual() -> ir.Graph:
    """if1 (spikes, gain 0.7) + c2 (a current) -> if2: an Add reading both kinds."""
    rng = np.random.default_rng(2)
    return ir.build([("in", ir.Input((1, 8, 8)), ()),
                     ("c1", ir.conv(rng.normal(0, .5, (4, 1, 3, 3)), None, 2, 1), ("in",)),
                     ("if1", ir.IF(1.0, 0.5), ("c1",)),
                     ("c2", ir.conv(rng.normal(0, .5, (4, 4, 3, 3)), None, 1, 1), ("if1",)),
                     ("add", ir.Add((np.asarray(0.7), np.asarray(1.0))), ("if1", "c2")),
                     ("if2", ir.IF(1.0, 0.5), ("add",)), *_head(rng, "if2", 64)], "out")


# --- semantics.md §2: q = round(p * L) ------------------------------------------------------

def test_input_quantisation_rounds_the_double_product_half_away():
    # the exact rule: q = floor(fl(fl(p * L) + 0.5)), every operation an IEEE-754 double
    # operation (round to nearest even), p first widened exactly to a double
    assert quantize_input(np.array([0.5]), 8).tolist() == [128]            # 127.5 -> 128
    assert quantize_input(np.array([0.0, 1.0]), 8).tolist() == [0, 255]
    # the double 0.5/255 is 6.9e-18 below 1/510, so p * L in real numbers is just below 0.5;
    # the double product is exactly 0.5, and that is what is rounded (up)
    p = 0.5 / 255
    assert p * 255 == 0.5 and quantize_input(np.array([p]), 8).tolist() == [1]
    assert quantize_input(np.array([2.5 / 255, 3.5 / 255]), 8).tolist() == [3, 4]
    # a float32 pixel is widened exactly: float32(1.5/255) * 255 = 1.50000003 -> 2
    assert quantize_input(np.array([1.5 / 255], dtype=np.float32), 8).tolist() == [2]
    # the one case where adding 0.5 in double precision rounds up: 1-bit input, p = 0.5 - 2^-54
    assert quantize_input(np.array([0.5 - 2.0 ** -54]), 1).tolist() == [1]


# --- semantics.md §4: what can be max-pooled --------------------------------------------------

def test_a_max_pool_of_analog_pixels_is_their_window_maximum():
    net = _fixed(pooled_pixels())
    x = tinydigits.digits_split().test.x[:5]
    q = quantize_input(x, 8)
    t = 16
    # the range check passes: the widths analysis bounds the pooled pixels by 0 .. L (it took
    # them for 0/1 spikes before)
    res = sim.simulate(net.graph, x, [t], trace=True, check=net.formats, engine="int64")
    c1 = net.graph["c1"]
    pooled = kernels.maxpool2d(q, net.graph["mp"].op)
    current = kernels.conv2d(pooled, c1.op)  # once per image, the same at every timestep
    assert np.array_equal(res.final["if1"]["current"], t * current)
    assert net.formats["if1"].accumulator is not None
    # spike input: the input is spikes, so the same max-pool is the spiking gate
    spk = _fixed(pooled_pixels(), "spikes")
    res = sim.simulate(spk.graph, x, [t], input_mode="spikes", trace=True, check=spk.formats)
    assert res.raster["mp"].any()


@pytest.mark.parametrize("mode", ["analog", "spikes"])
def test_a_max_pool_of_a_time_varying_current_is_refused(mode):
    g = pooled_varying_current()
    x = tinydigits.digits_split().test.x[:2]
    with pytest.raises(ValueError, match="max-pool of a current that changes over time"):
        sim.simulate(g, x, [4], input_mode=mode)  # the float simulator
    net = _fixed(g, mode)
    with pytest.raises(ValueError, match="max-pool of a current that changes over time"):
        sim.simulate(net.graph, x, [4], input_mode=mode)  # the golden model


def test_a_max_pooled_constant_current_under_spike_input_says_which_mode_it_needs():
    rng = np.random.default_rng(3)
    g = ir.build([("in", ir.Input((1, 8, 8)), ()),
                  ("c1", ir.conv(rng.normal(0, .5, (4, 1, 3, 3)), None, 1, 1), ("in",)),
                  ("mp", ir.maxpool(2), ("c1",)),  # analog: the first layer's constant current
                  ("if1", ir.IF(1.0, 0.5), ("mp",)), *_head(rng, "if1", 64)], "out")
    net = _fixed(g, "analog")
    pixels = quantize_input(tinydigits.digits_split().test.x[:2], 8)
    golden.run(net.graph, pixels, (4,))
    with pytest.raises(ValueError, match="converted for analog input.*input_mode='analog'"):
        golden.run(net.graph, pixels, (4,), "spikes", np.zeros((4, 64), dtype=np.uint16))


# --- format.md §4: Add is the one node that reads spikes and currents ------------------------

def test_an_add_reads_spikes_and_currents_and_nothing_else_mixes_them():
    net = _fixed(residual())
    k = kinds(net.graph)
    assert (k["if1"], k["c2"], k["add"]) == ("spikes", "current", "current")
    again = netfile.loads(netfile.dumps(net))
    gains = again.graph["add"].op.gains
    assert int(gains[1]) == 1 and int(gains[0]) > 1  # spike gain in membrane units; current 1
    # a Concat of spikes and a current is refused
    w = np.ones((2, 2, 1, 1), dtype=np.int64)
    g = ir.build([("in", ir.Input((2, 2, 2), 8), ()), ("c1", ir.Conv2d(w, None), ("in",)),
                  ("if1", ir.IF(4, 2), ("c1",)), ("c2", ir.Conv2d(w, None), ("if1",)),
                  ("cat", ir.Concat(), ("if1", "c2")),
                  ("out", ir.IF(4, 2, output=True), ("cat",))], "out")
    with pytest.raises(netfile.NetFileError, match="'cat' mixes spikes and currents"):
        netfile.dumps(FixedNet(g, {}, (), FixedConfig(), {"input": "analog"}, {}))


# --- format.md §9: the checksum before the canonical form ------------------------------------

def test_the_checksum_is_checked_before_the_canonical_form(tmp_path):
    raw = netfile.dumps(tinydigits.fixed_net())
    doc = json.loads(raw)
    # pretty-printed, body intact: the checksum (over the canonical re-encoding of the parsed
    # body) matches, so the refusal is the canonical form
    pretty = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    with pytest.raises(netfile.NetFileError, match="not in canonical encoding"):
        netfile.loads(pretty)
    # pretty-printed and edited: the checksum mismatch comes first
    doc["body"]["source"]["dataset"] = "mnist"
    edited = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    with pytest.raises(netfile.NetFileError, match="checksum: mismatch"):
        netfile.loads(edited)


# --- running past the proven timesteps -------------------------------------------------------

def test_simulate_refuses_t_beyond_the_proven_maximum(tmp_path):
    net = tinydigits.fixed_net(t_max=32)
    x = tinydigits.digits_split().test.x[:3]
    sim.simulate(net.graph, x, [8, 32], check=net.formats)  # up to the maximum: fine
    msg = "T=33 exceeds the 32 timesteps the network's widths were proven for"
    with pytest.raises(ValueError, match=msg):
        sim.simulate(net.graph, x, [8, 33], check=net.formats)
    with pytest.raises(ValueError, match=msg):
        golden.run(net.graph, quantize_input(x, 8), (33,), check=net.formats)
    # the formats a network file gives, and a pickled copy (worker processes), know it too
    path = tmp_path / "n.snn"
    netfile.save(net, path)
    for formats in (netfile.load(path).formats, pickle.loads(pickle.dumps(net.formats))):
        assert formats.max_timesteps == 32
        with pytest.raises(ValueError, match=msg):
            sim.simulate(net.graph, x, [33], check=formats)
    # without check the run is unchecked, as documented (the fast engine re-proves its types)
    sim.simulate(net.graph, x, [33])


# --- conversion.md §5: operation counting ----------------------------------------------------

def _fanout(net: FixedNet, name: str) -> int:
    n = net.graph[name]
    return int(kernels.fanout(n, net.graph[n.inputs[0]].shape).sum())


def test_analog_first_layer_macs_are_booked_once_at_the_first_timestep():
    net = tinydigits.fixed_net()
    macs = _fanout(net, "c1")
    dark = np.zeros((1, 1, 8, 8))
    bright = np.ones((1, 1, 8, 8))
    for x in (dark, bright):  # zero pixels count: the constant current is a full MAC pass
        res = sim.simulate(net.graph, x, [1, 8], trace=True)
        assert res.layer_ops["c1"][:, 0].tolist() == [macs] + [0] * 7
        assert int(res.ops[1][0]) == int(sum(v[0, 0] for v in res.layer_ops.values()))
    assert int(sim.simulate(net.graph, dark, [1]).ops[1][0]) == macs  # no spikes yet, T=1


def test_spike_input_first_layer_counts_each_spike_fanout():
    g, _ = tinydigits.snn()
    net = _fixed(g, "spikes")
    macs = _fanout(net, "c1")
    for x, per_step in ((np.zeros((1, 1, 8, 8)), 0), (np.ones((1, 1, 8, 8)), macs)):
        res = sim.simulate(net.graph, x, [8], input_mode="spikes", trace=True)
        assert res.layer_ops["c1"][:, 0].tolist() == [per_step] * 8  # zero pixels never spike


def test_a_spike_into_an_add_is_one_operation_a_current_none():
    net = _fixed(residual())
    x = tinydigits.digits_split().test.x[:4]
    res = sim.simulate(net.graph, x, [8], trace=True)
    spikes = res.raster["if1"].reshape(8, len(x), -1).sum(axis=2)
    assert spikes.sum() > 0
    assert np.array_equal(res.layer_ops["add"], spikes)  # c2's current adds nothing
    total = sum(v.sum(axis=0) for v in res.layer_ops.values())
    assert np.array_equal(res.ops[8], total)


def test_the_spike_input_seed_is_kept_in_the_network_file(tmp_path, capsys):
    # a spike-input network file fixes what it computes: the LFSR seed is in its conversion
    # settings (default 1), simulations of the file use it, and --seed still overrides it
    from snngen.cli import main

    root = Path(__file__).resolve().parent.parent
    digits = [f"{root}/examples/digits/model.py:make_model", "--weights",
              f"{root}/examples/digits/weights.pt", "--dataset", "digits", "--input", "spikes",
              "--max-timesteps", "8"]
    f7, f1 = tmp_path / "s7.snn", tmp_path / "s1.snn"
    assert main(["convert", *digits, "--seed", "7", "-o", str(f7)]) == 0
    assert main(["convert", *digits, "-o", str(f1)]) == 0
    assert netfile.load(f7).conversion["seed"] == 7
    assert netfile.load(f1).conversion["seed"] == 1
    capsys.readouterr()

    def ops(*args: str) -> str:
        out = tmp_path / "r.json"
        assert main(["simulate", *args, "--timesteps", "8", "--limit", "40", "--json", str(out),
                     "--force"]) == 0
        rep = json.loads(out.read_text())
        return json.dumps([rep["seed"], rep["rows"]], sort_keys=True)

    by_file = ops(str(f7))
    assert by_file == ops(str(f1), "--seed", "7")
    assert by_file != ops(str(f1))
    assert main(["convert", *digits, "--seed", "0", "-o", str(tmp_path / "bad.snn")]) == 2
    assert "seed must be an integer in 1..2^32-1" in capsys.readouterr().out
