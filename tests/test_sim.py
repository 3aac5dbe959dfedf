import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snngen.convert import passes
from snngen.golden import sim, spikegen
from snngen.ir import graph as ir
from snngen.ir import kernels
from tests.randnet import random_graph, random_input


def _snn(seed, **cfg):
    g = random_graph(seed)
    x = random_input(seed, g, 6)
    return passes.convert(g, x, passes.ConversionConfig(**cfg)), x


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 40), v_init=st.sampled_from([0.0, 0.5]),
       mode=st.sampled_from(["analog", "spikes"]))
def test_if_invariants(seed, t, v_init, mode):
    snn, x = _snn(seed, v_init=v_init, input=mode)
    res = sim.simulate(snn, x, [t], input_mode=mode, trace=True)
    for name, f in res.final.items():
        op = snn[name].op
        # at most one spike per neuron per timestep
        assert f["count"].max(initial=0) <= t
        assert res.raster[name].sum(axis=0).max(initial=0) <= t
        np.testing.assert_array_equal(res.raster[name].sum(axis=0), f["count"])
        # reset by subtraction loses nothing: v_T + theta * count = v_0 + sum of currents
        np.testing.assert_allclose(f["v"] + op.threshold * f["count"], f["v0"] + f["current"],
                                   rtol=0, atol=1e-9)
        if op.spiking:  # a membrane left at/above threshold must have just fired (saturation)
            assert (res.raster[name][-1] | (f["v"] < op.threshold)).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 64))
def test_constant_current_gives_floor_rate(seed, t):
    # analog input: the first IF layer sees a constant current I, so with threshold 1 it fires
    # exactly floor(v0 + t*I) times when 0 <= I (up to float round-off at the boundaries)
    snn, x = _snn(seed, v_init=0.5)
    first = next(n for n in snn if isinstance(n.op, ir.IF))
    res = sim.simulate(snn, x, [t], trace=True)
    cur = res.final[first.name]["current"] / t
    expect = np.floor(0.5 + t * np.clip(cur, 0, None))
    expect = np.where(cur > 0, np.minimum(expect, t), 0)
    got = res.final[first.name]["count"]
    near_edge = np.abs((0.5 + t * cur) - np.round(0.5 + t * cur)) < 1e-7
    assert ((got == expect) | near_edge).all()


def test_checkpoints_are_prefixes():
    snn, x = _snn(11)
    full = sim.simulate(snn, x, [4, 9, 17])
    for t in (4, 9, 17):
        part = sim.simulate(snn, x, [t])
        np.testing.assert_array_equal(full.predictions[t], part.predictions[t])
        np.testing.assert_array_equal(full.ops[t], part.ops[t])
    # batching does not change anything
    b = sim.simulate(snn, x, [4, 9, 17], batch_size=2)
    for t in (4, 9, 17):
        np.testing.assert_array_equal(full.predictions[t], b.predictions[t])


def test_readout_tie_breaks():
    counts = np.array([[3, 5, 5, 1], [2, 2, 2, 2], [0, 0, 0, 0]])
    v = np.array([[9.0, 0.2, 0.7, 0.0], [0.5, 0.5, 0.1, 0.5], [0.1, 0.3, 0.3, 0.2]])
    np.testing.assert_array_equal(sim.readout(counts, v), [2, 0, 1])
    np.testing.assert_array_equal(sim.readout(counts, v, by="membrane"), [0, 0, 1])


def test_maxpool_gate_rule():
    op = ir.maxpool(2, 2)
    # one 2x2 window; counts include this step's spikes
    spikes = np.array([[[[1, 1], [0, 0]]]], float)
    counts = np.array([[[[3, 4], [4, 0]]]], float)
    assert kernels.maxpool_gate(spikes, counts, op)[0, 0, 0, 0] == 1  # neuron (0,1) is max
    counts = np.array([[[[3, 3], [4, 0]]]], float)
    assert kernels.maxpool_gate(spikes, counts, op)[0, 0, 0, 0] == 0  # the max did not spike
    counts = np.array([[[[4, 4], [4, 0]]]], float)
    assert kernels.maxpool_gate(spikes, counts, op)[0, 0, 0, 0] == 1  # ties pass, once


def test_maxpool_passes_the_max_rate():
    # two constant-rate sources into one max-pool window: the output rate follows the faster
    graph = ir.build([("input", ir.Input((1, 1, 2)), ()),
                      ("c", ir.conv(np.ones((1, 1, 1, 1))), ("input",)), ("r", ir.ReLU(), ("c",)),
                      ("m", ir.maxpool((1, 2)), ("r",)), ("f", ir.Flatten(), ("m",)),
                      ("o", ir.linear(np.ones((1, 1))), ("f",))], "o")
    x = np.array([[[[0.3, 0.7]]]])
    snn = passes.convert(graph, x, passes.ConversionConfig(percentile=100, v_init=0))
    res = sim.simulate(snn, x, [1000], trace=True)
    # 0.7 normalised by the max (0.7) is rate 1; the output layer's rate is 0.7/0.7 = 1 too
    assert res.final["o_if"]["count"][0, 0] == pytest.approx(1000, abs=2)
    x2 = np.array([[[[0.35, 0.2]]]])
    res = sim.simulate(snn, x2, [1000], trace=True)
    assert res.final["o_if"]["count"][0, 0] == pytest.approx(1000 * 0.35 / 0.7, abs=2)


def test_ops_count_matches_spikes():
    snn, x = _snn(5)
    res = sim.simulate(snn, x, [10], trace=True)
    expect = np.zeros(len(x))
    for n in snn:
        if isinstance(n.op, ir.LINEAR_OPS):
            f = kernels.fanout(n, snn[n.inputs[0]].shape)
            src = snn[n.inputs[0]]
            if isinstance(src.op, ir.Input):
                expect += f.sum()
            else:
                # the spike counts of the source, through flatten/pool/concat
                counts = _source_counts(snn, src.name, res)
                expect += (counts * f).reshape(len(x), -1).sum(1)
        elif isinstance(n.op, ir.Add):
            for i in n.inputs:
                if isinstance(snn[i].op, ir.IF):
                    expect += res.final[i]["count"].reshape(len(x), -1).sum(1)
    np.testing.assert_allclose(res.ops[10], expect)
    assert sim.ann_macs(snn) > 0


def _source_counts(snn, name, res):
    node = snn[name]
    if isinstance(node.op, ir.IF):
        return res.final[name]["count"]
    if isinstance(node.op, ir.Flatten):
        c = _source_counts(snn, node.inputs[0], res)
        return c.reshape(len(c), -1)
    if isinstance(node.op, ir.Concat):
        return np.concatenate([_source_counts(snn, i, res) for i in node.inputs], axis=1)
    # max-pool: sum the gate output over time from the raster of its source
    src = node.inputs[0]
    r = res.raster[src].astype(float)
    counts = np.cumsum(r, axis=0)
    return sum(kernels.maxpool_gate(r[t], counts[t], node.op) for t in range(len(r)))


def test_lfsr_sequence_and_rate():
    s = spikegen.lfsr_states(1, 5)
    # hand-stepped: 1 -> (0 ^ taps) since the LSB is 1
    assert s[0] == spikegen.TAPS and s[1] == spikegen.lfsr_step(int(s[0]))
    u = spikegen.uniform16(0xACE1, 200, 100)
    x = np.full((1, 100), 0.25)
    rate = np.mean([spikegen.spike_input(x, t, u) for t in range(200)])
    assert rate == pytest.approx(0.25, abs=0.02)
    assert spikegen.spike_input(np.ones((1, 100)), 0, u).all()
    assert not spikegen.spike_input(np.zeros((1, 100)), 0, u).any()
    with pytest.raises(ValueError, match="seed"):
        spikegen.lfsr_states(0, 4)


def test_simulate_refuses_unconverted_graph():
    g = random_graph(1)
    with pytest.raises(ValueError, match="convert it first"):
        sim.simulate(g, random_input(1, g), [4])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 30))
def test_lower_clamp(seed, t):
    snn, x = _snn(seed, v_min=-1.0)
    res = sim.simulate(snn, x, [t], trace=True)
    for f in res.final.values():
        assert f["v"].min() >= -1.0
        # the clamp only ever adds charge: v_T + theta * count >= v_0 + sum of currents
        assert (f["v"] + f["count"] + 1e-9 >= f["v0"] + f["current"]).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 20))
def test_layer_ops_add_up(seed, t):
    snn, x = _snn(seed)
    res = sim.simulate(snn, x, [t], trace=True, batch_size=4)
    total = sum(o.sum(axis=0) for o in res.layer_ops.values())
    np.testing.assert_array_equal(total, res.ops[t])
    for name, o in res.layer_ops.items():
        assert o.shape == (t, len(x)) and (o >= 0).all(), name
