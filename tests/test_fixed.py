from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snngen.convert import passes
from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint.fixednet import FixedConfig, fix
from snngen.fixedpoint.formats import Fixed, bits_for, integer_format, round_half_away
from snngen.fixedpoint.quantize import QuantizationError, quantize, synapses
from snngen.fixedpoint.widths import WidthError, analyze, check_membrane_bits
from snngen.golden import model as golden
from snngen.golden import sim
from snngen.ir import graph as ir
from tests.randnet import random_graph, random_input


@given(lo=st.integers(-(2**40), 2**40), span=st.integers(0, 2**40))
def test_bits_for_is_minimal(lo, span):
    hi = lo + span
    w = bits_for(lo, hi)
    assert Fixed(w).contains(lo, hi)
    if w > 1:
        assert not Fixed(w - 1).contains(lo, hi)
    if lo >= 0:
        u = bits_for(lo, hi, signed=False)
        assert Fixed(u, signed=False).contains(lo, hi)
        assert u == 1 or not Fixed(u - 1, signed=False).contains(lo, hi)


def test_fixed_formats():
    assert (Fixed(8).min_int, Fixed(8).max_int) == (-128, 127)
    assert (Fixed(8, signed=False).min_int, Fixed(8, signed=False).max_int) == (0, 255)
    assert Fixed(8, 4).max == 127 / 16 and str(Fixed(8, 4)) == "sfix8.4"
    assert str(integer_format(-5, 300)) == "int10"
    assert Fixed.from_dict(Fixed(12, 3, False).to_dict()) == Fixed(12, 3, False)
    np.testing.assert_array_equal(round_half_away([2.5, -2.5, 1.49, -0.5, 0.5]), [3, -3, 1, -1, 1])


def _needed_bits(e: QuantizationError) -> int:
    return int(str(e).split("at least ")[1].split("-bit")[0])


def _fixed(seed, bits=8, t_max=32, **conv):
    g = random_graph(seed)
    x = random_input(seed, g, 12)
    cfg = ConversionConfig(**conv)
    snn = passes.convert(g, x, cfg)
    try:
        net = fix(snn, FixedConfig(weight_bits=bits, max_timesteps=t_max), {"input": cfg.input})
    except QuantizationError as e:
        # a random readout layer may have weights of hundreds of thresholds: use the width the
        # error names (the refusal itself is tested in test_weights_use_their_full_range)
        assert _needed_bits(e) > bits
        net = fix(snn, FixedConfig(weight_bits=_needed_bits(e), max_timesteps=t_max),
                  {"input": cfg.input})
    return snn, net, x


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), bits=st.integers(3, 10))
def test_weights_use_their_full_range(seed, bits):
    snn, net, _ = _fixed(seed, bits)
    if net.config.weight_bits != bits:  # refused at `bits`, with the width needed named
        with pytest.raises(QuantizationError, match="needs at least"):
            quantize(snn, bits)
        bits = net.config.weight_bits
    for q in net.quant:
        ws = []
        for name, i in synapses(net.graph, q.layer):
            op = net.graph[name].op
            ws.append(op.gains[i] if i is not None else getattr(op, "weight", None)
                      if not isinstance(op, ir.AvgPool2d) else op.gain)
        assert max(int(np.abs(w).max()) for w in ws) == 2 ** (bits - 1) - 1
        assert q.threshold >= 1 and net.formats[q.layer].weight.width <= bits
        assert q.weight_error <= 0.5 / (2 ** (bits - 1) - 1) * 4  # RMS of at most half a step


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 48), v_min=st.sampled_from([None, -1.0]),
       mode=st.sampled_from(["analog", "spikes"]), saturate=st.booleans())
def test_width_analysis_never_exceeded(seed, t, v_min, mode, saturate):
    _, net, x = _fixed(seed, t_max=48, v_min=v_min, input=mode)
    if saturate:  # the extreme input: every pixel at full intensity
        x = np.ones_like(x)
    # check= makes the golden model compare every membrane with its proven range at every step
    res = sim.simulate(net.graph, x, [t], input_mode=mode, trace=True, check=net.formats)
    for name, f in res.final.items():
        lo, hi = net.formats[name].membrane_range
        assert lo <= f["v"].min() and f["v"].max() <= hi
        assert net.formats[name].membrane.contains(lo, hi)


def test_clamp_makes_the_lower_bound_independent_of_t():
    _, short, _ = _fixed(7, t_max=16, v_min=-1.0)
    _, long, _ = _fixed(7, t_max=512, v_min=-1.0)
    for name in short.formats:
        assert short.formats[name].membrane_range[0] == long.formats[name].membrane_range[0]
    _, free, _ = _fixed(7, t_max=512)
    assert any(free.formats[n].membrane_range[0] < long.formats[n].membrane_range[0]
               for n in free.formats)


def test_too_narrow_membrane_is_refused():
    snn, net, _ = _fixed(3)
    need = max(f.membrane.width for f in net.formats.values())
    worst = max(net.formats, key=lambda n: net.formats[n].membrane.width)
    with pytest.raises(WidthError, match=f"{worst}: the membrane needs {need} bits"):
        check_membrane_bits(net.formats, need - 1, 32)
    with pytest.raises(WidthError):
        fix(snn, FixedConfig(membrane_bits=need - 1, max_timesteps=32), {})
    fix(snn, FixedConfig(membrane_bits=need, max_timesteps=32), {})  # enough: accepted


def test_quantization_errors_name_the_layer():
    snn, _, _ = _fixed(5)
    with pytest.raises(QuantizationError, match="unknown layers"):
        quantize(snn, {"nope": 4})
    with pytest.raises(QuantizationError, match="2..32 bits"):
        quantize(snn, 1)
    first = next(n.name for n in snn if isinstance(n.op, ir.IF))
    _, recs = quantize(snn, {"*": 8, first: 6})
    assert recs[0].weight_bits == 6 and all(r.weight_bits == 8 for r in recs[1:])


def _as_float(graph: ir.Graph) -> ir.Graph:
    """The same integer network with float64 arrays and no input width."""
    specs = []
    for n in graph:
        op = n.op
        if isinstance(op, ir.Input):
            op = ir.Input(op.shape)
        elif isinstance(op, (ir.Conv2d, ir.Linear)):
            op = replace(op, weight=op.weight.astype(float),
                         bias=None if op.bias is None else op.bias.astype(float))
        elif isinstance(op, ir.AvgPool2d):
            op = replace(op, gain=op.gain.astype(float))
        elif isinstance(op, ir.Add):
            op = ir.Add(tuple(np.asarray(g, float) for g in op.gains))
        specs.append((n.name, op, n.inputs))
    return ir.build(specs, graph.output)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 30))
def test_integer_and_float_runners_agree_exactly(seed, t):
    # one runner, two number types: on integer values both are exact, so every spike is equal
    _, net, x = _fixed(seed)
    q = np.asarray(np.round(x * 255), dtype=np.int64)
    a = golden.run(net.graph, q, (t,), trace=True)
    b = golden.run(_as_float(net.graph), q.astype(float), (t,), trace=True)
    for name in a.raster:
        np.testing.assert_array_equal(a.raster[name], b.raster[name])
    np.testing.assert_array_equal(a.predictions[t], b.predictions[t])
    for name in a.final:
        np.testing.assert_array_equal(a.final[name]["v"], b.final[name]["v"].astype(np.int64))


def _on_grid(snn: ir.Graph, theta: int = 64, bits: int = 8) -> ir.Graph:
    """A float SNN whose quantisation is exact: every layer's weights are multiples of 1/theta
    with the largest exactly (2**(bits-1) - 1)/theta."""
    top = 2 ** (bits - 1) - 1
    new = {}
    for n in snn:
        if not isinstance(n.op, ir.IF):
            continue
        edges = synapses(snn, n.name)

        def w_of(name, i):
            op = new.get(name, snn[name].op)
            if i is not None:
                return np.asarray(op.gains[i], float)
            return op.gain if isinstance(op, ir.AvgPool2d) else op.weight

        m = max(float(np.abs(w_of(e, i)).max()) for e, i in edges)

        def snap(w, m=m):
            return np.round(np.asarray(w) * top / m) / theta

        for e, i in edges:
            op = new.get(e, snn[e].op)
            if isinstance(op, ir.Add):
                gains = list(op.gains)
                gains[i] = snap(gains[i])
                op = ir.Add(tuple(gains))
            elif isinstance(op, ir.AvgPool2d):
                op = replace(op, gain=snap(op.gain))
            else:
                op = replace(op, weight=snap(op.weight),
                             bias=None if op.bias is None else
                             np.round(op.bias * theta) / theta)
            new[e] = op
    return ir.build([(n.name, new.get(n.name, n.op), n.inputs) for n in snn], snn.output)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 40))
def test_golden_equals_float_where_nothing_is_rounded(seed, t):
    # spike input and weights on the quantisation grid: the fixed-point network is the float
    # one scaled by 64, so every spike of every layer and timestep must be equal
    g = random_graph(seed)
    x = random_input(seed, g, 8)
    snn = _on_grid(passes.convert(g, x, ConversionConfig(input="spikes")))
    net = fix(snn, FixedConfig(max_timesteps=40), {"input": "spikes"})  # the grid fits 8 bits
    assert all(q.threshold == 64 for q in net.quant)
    xq = np.round(x * 255) / 255  # pixels the 8-bit input represents exactly
    f = sim.simulate(snn, xq, [t], input_mode="spikes", trace=True)
    i = sim.simulate(net.graph, xq, [t], input_mode="spikes", trace=True, check=net.formats)
    for name in f.raster:
        np.testing.assert_array_equal(f.raster[name], i.raster[name], err_msg=name)
    np.testing.assert_array_equal(f.predictions[t], i.predictions[t])


def test_analysis_needs_a_quantised_graph():
    snn, _, _ = _fixed(1)
    with pytest.raises(ValueError, match="not quantised"):
        analyze(snn, 8)


def test_if_update_rule():
    v = np.array([0, 5, 9, 10, 25, -7], dtype=np.int64)
    cur = np.array([10, 4, 1, 0, 0, -5], dtype=np.int64)
    new, s = golden.if_update(v, cur, 10, v_min=-10)
    # exactly the threshold fires; one subtraction per step (25 -> 15 and stays high);
    # the clamp comes last
    np.testing.assert_array_equal(s, [True, False, True, True, True, False])
    np.testing.assert_array_equal(new, [0, 9, 0, 0, 15, -10])
    new, s = golden.if_update(v, cur, 10, spiking=False)
    assert not s.any() and new.tolist() == [10, 9, 10, 10, 25, -12]


def test_integer_spike_input_matches_float_rule():
    draws = golden.uniform16(0xBEEF, 20, 256)
    q = np.arange(256, dtype=np.int64).reshape(1, 256)
    for t in range(20):
        a = golden.input_spikes(q, t, draws, 255)
        b = golden.input_spikes(q / 255.0, t, draws, None)
        np.testing.assert_array_equal(a, b.astype(np.int64))


def test_integer_readout_ties():
    counts = np.array([[2, 2, 1], [0, 0, 0]], dtype=np.int64)
    v = np.array([[5, 7, 9], [3, 3, -1]], dtype=np.int64)
    np.testing.assert_array_equal(golden.readout(counts, v), [1, 0])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 24),
       mode=st.sampled_from(["analog", "spikes"]))
def test_fast_engine_is_bit_identical(seed, t, mode):
    # the default engine against the literal all-integer one: every spike, membrane, current,
    # operation count and class
    _, net, x = _fixed(seed, input=mode)
    a = sim.simulate(net.graph, x, [t], input_mode=mode, trace=True, engine="int64")
    b = sim.simulate(net.graph, x, [t], input_mode=mode, trace=True)
    _same_results(a, b, t)


def _same_results(a, b, t) -> None:
    assert a.raster.keys() == b.raster.keys() and a.final.keys() == b.final.keys()
    for name in a.raster:
        np.testing.assert_array_equal(a.raster[name], b.raster[name])
    for name in a.final:
        for key in ("v", "count", "current", "v0"):
            np.testing.assert_array_equal(a.final[name][key], b.final[name][key])
            assert b.final[name][key].dtype == np.int64
    np.testing.assert_array_equal(a.ops[t], b.ops[t])
    np.testing.assert_array_equal(a.predictions[t], b.predictions[t])
    for name in a.layer_ops:
        np.testing.assert_array_equal(a.layer_ops[name], b.layer_ops[name])


@pytest.mark.parametrize("scale", [1, 2**10, 2**20, 2**31])
def test_fast_engine_types_follow_the_proven_ranges(scale):
    # weights, thresholds and biases scaled up push the proven ranges past 2**24 (float32),
    # then 2**53 (float64): the engine picks a wider type, or int64, and stays exact
    _, net, x = _fixed(3)
    g = net.graph
    nodes = []
    for n in g:
        op = n.op
        if isinstance(op, (ir.Conv2d, ir.Linear)):
            op = replace(op, weight=op.weight * scale,
                         bias=None if op.bias is None else op.bias * scale)
        elif isinstance(op, ir.IF):
            op = replace(op, threshold=op.threshold * scale, v0=op.v0 * scale,
                         v_min=None if op.v_min is None else op.v_min * scale)
        nodes.append(replace(n, op=op))
    g = replace(g, nodes=tuple(nodes))
    formats = golden.proven_formats(g, 6, "analog")
    big = max(max(abs(v) for v in (*f.membrane_range, *f.current)) for f in formats.values())
    types = {golden.value_type(formats, g[name], np.float32) for name in formats}
    if big < 2**24:
        assert types <= {np.float32}
    elif big >= 2**53:
        assert np.int64 in types
    a = sim.simulate(g, x, [6], trace=True, engine="int64")
    b = sim.simulate(g, x, [6], trace=True)
    _same_results(a, b, 6)


def test_exact_float_type_bounds():
    def dense(w):
        w = np.asarray(w, dtype=np.int64)
        return ir.Node("d", ir.Linear(w, None), ("x",), (w.shape[0],))

    assert golden.exact_float_type(dense([[2**23 - 1]]), 1) is np.float32
    assert golden.exact_float_type(dense([[2**22, 2**22]]), 1) is np.float32  # 2**23
    assert golden.exact_float_type(dense([[2**23, 2**23]]), 1) is np.float64  # 2**24: not f32
    assert golden.exact_float_type(dense([[2**22, -(2**22)]]), 2) is np.float64
    assert golden.exact_float_type(dense([[2**52, 2**52]]), 1) is None
    with pytest.raises(ValueError, match="engine"):
        golden.run(_fixed(1)[1].graph, np.zeros((1, 1, 8, 8), np.int64), (1,),
                   engine="exact-float")


def test_fast_engine_on_a_dense_first_layer():
    # an MLP (Input -> Flatten -> Linear): its constant first-layer current goes through the
    # BLAS too, bit-identical to the int64 engine
    rng = np.random.default_rng(8)
    g = ir.build([("input", ir.Input((1, 6, 6)), ()), ("flat", ir.Flatten(), ("input",)),
                  ("fc1", ir.linear(rng.normal(0, 0.3, (12, 36)), rng.normal(0, 0.1, 12)),
                   ("flat",)),
                  ("r1", ir.ReLU(), ("fc1",)),
                  ("fc2", ir.linear(rng.normal(0, 0.3, (4, 12)), None), ("r1",))], "fc2")
    x = rng.random((30, 1, 6, 6))
    cfg = ConversionConfig()
    net = fix(passes.convert(g, x, cfg), FixedConfig(weight_bits=8, max_timesteps=12),
              {"input": cfg.input})
    a = sim.simulate(net.graph, x, [12], trace=True, engine="int64")
    b = sim.simulate(net.graph, x, [12], trace=True)
    _same_results(a, b, 12)
