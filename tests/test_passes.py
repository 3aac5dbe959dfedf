import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snngen.convert import passes
from snngen.ir import ann
from snngen.ir import graph as ir
from tests.randnet import random_graph, random_input


def _relu_values(g, x):
    names = [n.name for n in g if isinstance(n.op, (ir.ReLU, ir.IF))]
    return names, ann.forward(g, x, keep=names)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), pct=st.sampled_from([100.0, 99.9, 99.0]),
       channelwise=st.booleans())
def test_normalization_preserves_function(seed, pct, channelwise):
    g = passes.canonicalize(random_graph(seed))
    x = random_input(seed, g, 32)
    norm = passes.normalize(x, pct, channelwise)(g)
    lam = passes.layer_scales(g, x, pct, channelwise)
    # each activation is the original divided by its scale: the same predictions, and the
    # normalised activations' percentile is 1
    before = ann.forward(g, x, keep=list(lam))
    after = ann.forward(norm, x, keep=list(lam))
    for name, scale in lam.items():
        np.testing.assert_allclose(after[name] * scale, before[name], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(before[g.output].argmax(1), after[g.output].argmax(1))
    if pct == 100.0 and not channelwise:
        for name in lam:
            if before[name].max() > 0:
                assert after[name].max() == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_spiking_graph_is_still_the_ann(seed):
    g = random_graph(seed)
    x = random_input(seed, g)
    norm = passes.normalize(x)(passes.canonicalize(g))
    snn = passes.convert(g, x)
    ifs = [n for n in snn if isinstance(n.op, ir.IF)]
    assert ifs[-1].name == snn.output and ifs[-1].op.output
    assert not any(isinstance(n.op, ir.ReLU) for n in snn)
    np.testing.assert_allclose(ann.forward(snn, x)[snn.output], ann.forward(norm, x)[norm.output])


def test_avgpool_gets_its_own_neurons():
    w = np.ones((2, 1, 3, 3))
    g = ir.build([("input", ir.Input((1, 6, 6)), ()),
                  ("c", ir.conv(w), ("input",)), ("r", ir.ReLU(), ("c",)),
                  ("p", ir.avgpool(2, 2), ("r",)), ("f", ir.Flatten(), ("p",)),
                  ("o", ir.linear(np.ones((3, 8))), ("f",))], "o")
    c = passes.canonicalize(g)
    assert [type(n.op).__name__ for n in c] == ["Input", "Conv2d", "ReLU", "AvgPool2d", "ReLU",
                                                "Flatten", "Linear"]


def test_residual_gain_is_scale_ratio():
    # the first seed whose random DAG has a residual block
    for seed in range(50):
        g = passes.canonicalize(random_graph(seed, dag=True))
        if "res_add" in g:
            break
    x = random_input(seed, g, 16)
    lam = passes.layer_scales(g, x)
    norm = passes.normalize(x)(g)
    gains = norm["res_add"].op.gains
    np.testing.assert_allclose(gains[0], 1.0)
    np.testing.assert_allclose(gains[1], lam["relu0"] / lam["res_relu"])


def test_config_validation():
    with pytest.raises(ValueError, match="percentile"):
        passes.ConversionConfig(percentile=0)
    with pytest.raises(ValueError, match="readout"):
        passes.ConversionConfig(readout="rate")
    with pytest.raises(ValueError, match="v_init"):
        passes.ConversionConfig(v_init=1.5)


def test_graph_errors():
    with pytest.raises(ir.GraphError, match="unknown node"):
        ir.build([("input", ir.Input((1, 4, 4)), ()), ("f", ir.Flatten(), ("nope",))], "f")
    with pytest.raises(ir.GraphError, match="cycle"):
        ir.build([("input", ir.Input((4,)), ()), ("a", ir.Add(), ("input", "b")),
                  ("b", ir.ReLU(), ("a",))], "b")
    with pytest.raises(ir.GraphError, match="c: Conv2d expects 2 input channels"):
        ir.build([("input", ir.Input((1, 4, 4)), ()),
                  ("c", ir.conv(np.ones((1, 2, 3, 3))), ("input",))], "c")


def test_same_value_read_twice():
    # y = relu(x) ; a = y + y ; b = a + y: one value feeding two slots of one node
    g = ir.build([("input", ir.Input((3,)), ()), ("l", ir.linear(np.eye(3)), ("input",)),
                  ("r", ir.ReLU(), ("l",)), ("a", ir.Add(), ("r", "r")),
                  ("b", ir.Add(), ("a", "r"))], "b")
    x = np.array([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(ann.forward(g, x)["b"], [[3.0, 0.0, 9.0]])


def test_build_is_fast_and_stable_on_long_chains():
    specs = [("input", ir.Input((4,)), ())]
    for i in range(3000):
        specs.append((f"r{i}", ir.Identity(), (specs[-1][0],)))
    g = ir.build(list(reversed(specs)), "r2999")
    assert [n.name for n in g][:3] == ["input", "r0", "r1"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_fold_avgpool_preserves_function(seed):
    g = passes.canonicalize(random_graph(seed))
    folded = passes.fold_avgpool(g)
    x = random_input(seed, g, 6)
    np.testing.assert_allclose(ann.forward(folded, x)[g.output], ann.forward(g, x)[g.output],
                               rtol=1e-9, atol=1e-9)
    # what is left is an AvgPool that feeds something it cannot be folded into exactly
    for n in folded:
        if isinstance(n.op, ir.AvgPool2d):
            (c,) = folded.consumers(n.name) or [None]
            assert c is None or not isinstance(c.op, ir.Conv2d) or passes._fold_into_conv(
                n.op, c.op, folded[n.inputs[0]].shape) is None


def test_fold_avgpool_into_dense_and_conv():
    rng = np.random.default_rng(0)
    g = ir.build([("input", ir.Input((1, 8, 8)), ()),
                  ("c", ir.conv(rng.normal(size=(3, 1, 3, 3)), padding=1), ("input",)),
                  ("r", ir.ReLU(), ("c",)), ("p", ir.avgpool(3, 2), ("r",)),
                  ("c2", ir.conv(rng.normal(size=(4, 3, 2, 2)), rng.normal(size=4)), ("p",)),
                  ("r2", ir.ReLU(), ("c2",)), ("p2", ir.avgpool(4, 3), ("r2",)),
                  ("f", ir.Flatten(), ("p2",)),
                  ("o", ir.linear(rng.normal(size=(5, 4))), ("f",))], "o")
    folded = passes.fold_avgpool(g)
    assert not any(isinstance(n.op, ir.AvgPool2d) for n in folded)
    assert folded["c2"].op.weight.shape == (4, 3, 4, 4) and folded["c2"].op.stride == (2, 2)
    assert folded["o"].op.weight.shape == (5, 4 * 3 * 3)
    x = rng.random((4, 1, 8, 8))
    np.testing.assert_allclose(ann.forward(folded, x)["o"], ann.forward(g, x)["o"], atol=1e-12)
    snn = passes.convert(g, x, passes.ConversionConfig(spiking_avgpool=True))
    assert sum(isinstance(n.op, ir.AvgPool2d) for n in snn) == 2


def _pool_then_padded_conv(pool: tuple[int, int], pad: int) -> ir.Graph:
    rng = np.random.default_rng(3)
    side = (12 - pool[0]) // pool[1] + 1 + 2 * pad - 2  # the pooled map, then the 3x3 conv
    return ir.build([("input", ir.Input((2, 12, 12)), ()),
                     ("c", ir.conv(rng.normal(size=(4, 2, 3, 3)), padding=1), ("input",)),
                     ("r", ir.ReLU(), ("c",)), ("p", ir.avgpool(4, *pool), ("r",)),
                     ("c2", ir.conv(rng.normal(size=(5, 4, 3, 3)), rng.normal(size=5),
                                    padding=pad), ("p",)),
                     ("r2", ir.ReLU(), ("c2",)), ("f", ir.Flatten(), ("r2",)),
                     ("o", ir.linear(rng.normal(size=(3, 5 * side * side))), ("f",))], "o")


def test_fold_avgpool_into_a_padded_conv():
    # AvgPool(2) -> Conv(3x3, padding 1): one Conv(6x6, stride 2, padding 2) on the unpooled
    # map, exactly (the pooled map's zero padding is the folded one's), so no spiking layer
    g = _pool_then_padded_conv((2, 2), 1)
    folded = passes.fold_avgpool(g)
    assert not any(isinstance(n.op, ir.AvgPool2d) for n in folded)
    c2 = folded["c2"].op
    assert c2.weight.shape == (5, 4, 6, 6) and c2.stride == (2, 2) and c2.padding == (2, 2)
    x = np.random.default_rng(4).random((3, 2, 12, 12))
    np.testing.assert_allclose(ann.forward(folded, x)["o"], ann.forward(g, x)["o"],
                               rtol=1e-12, atol=1e-12)
    snn = passes.convert(g, x, passes.ConversionConfig())
    kept = passes.convert(g, x, passes.ConversionConfig(spiking_avgpool=True))
    assert sum(isinstance(n.op, ir.IF) for n in snn) + 1 == sum(
        isinstance(n.op, ir.IF) for n in kept)


def test_an_overlapping_pool_before_a_padded_conv_is_not_folded():
    # AvgPool(3, stride 2) -> Conv(padding 1): the pooled map's first padded row would take
    # real pixels in one folded convolution (the windows overlap), so the pool stays a layer
    g = _pool_then_padded_conv((3, 2), 1)
    assert g["c2"].shape == (5, 5, 5)
    folded = passes.fold_avgpool(g)
    assert isinstance(folded["p"].op, ir.AvgPool2d)


def _residual(after: str = "avgpool") -> ir.Graph:
    """``y = h + relu(conv(h))`` with ``h = relu(conv(x))`` (both summands spikes), then
    ``after`` and a dense readout: the post-activation residual block."""
    rng = np.random.default_rng(11)
    specs = [
        ("input", ir.Input((1, 8, 8)), ()),
        ("c1", ir.conv(rng.normal(0, 0.5, (4, 1, 3, 3)), rng.normal(0, 0.1, 4), 1, 1),
         ("input",)),
        ("h", ir.ReLU(), ("c1",)),
        ("c2", ir.conv(rng.normal(0, 0.5, (4, 4, 3, 3)), rng.normal(0, 0.1, 4), 1, 1), ("h",)),
        ("b", ir.ReLU(), ("c2",)),
        ("sum", ir.Add(), ("h", "b")),
    ]
    if after == "avgpool":
        specs += [("pool", ir.avgpool(4, 2), ("sum",)), ("flat", ir.Flatten(), ("pool",)),
                  ("fc", ir.linear(rng.normal(0, 0.5, (10, 64)), rng.normal(0, 0.1, 10)),
                   ("flat",))]
    elif after == "maxpool":
        specs += [("pool", ir.maxpool(2), ("sum",)), ("flat", ir.Flatten(), ("pool",)),
                  ("fc", ir.linear(rng.normal(0, 0.5, (10, 64)), None), ("flat",))]
    elif after == "relu":
        specs += [("r", ir.ReLU(), ("sum",)), ("flat", ir.Flatten(), ("r",)),
                  ("fc", ir.linear(rng.normal(0, 0.5, (10, 256)), None), ("flat",))]
    elif after == "two":
        specs += [("flat", ir.Flatten(), ("sum",)), ("flat2", ir.Flatten(), ("sum",)),
                  ("fa", ir.linear(rng.normal(0, 0.5, (10, 256)), None), ("flat",)),
                  ("fb", ir.linear(rng.normal(0, 0.5, (10, 256)), None), ("flat2",)),
                  ("fc", ir.Add(), ("fa", "fb"))]
    return ir.build(specs, "fc")


def test_a_sum_of_spike_trains_is_distributed_over_the_linear_layers():
    from snngen.golden import sim

    g = _residual()
    c = passes.canonicalize(g)
    # the ANN is the same function, and no linear op reads a sum any more
    x = np.random.default_rng(0).random((50, 1, 8, 8))
    np.testing.assert_allclose(ann.forward(c, x)[c.output], ann.forward(g, x)[g.output],
                               rtol=1e-12, atol=1e-12)
    k = passes.kinds(c)
    assert all(k[n.inputs[0]] == "spikes" for n in c if isinstance(n.op, ir.LINEAR_OPS))
    # the dense layer is copied per summand, its bias kept once, the sum behind the copies
    fcs = [n for n in c if isinstance(n.op, ir.Linear)]
    assert sorted(n.name for n in fcs) == ["fc.b", "fc.h"]
    assert sum(n.op.bias is not None for n in fcs) == 1
    assert isinstance(c["fc"].op, ir.Add) and c["fc"].inputs == ("fc.h", "fc.b")
    # and the spiking network computes what the ANN does
    snn = passes.convert(g, x, passes.ConversionConfig())
    res = sim.simulate(snn, x, [256])
    assert np.mean(res.predictions[256] == ann.predict(g, x)) >= 0.96


def test_a_sum_feeding_a_relu_stays_a_spiking_layer():
    g = _residual("relu")
    c = passes.canonicalize(g)
    assert isinstance(c["sum"].op, ir.Add) and c.consumers("sum")[0].name == "r"


@pytest.mark.parametrize("after, why", [
    ("maxpool", "feeds MaxPool2d pool, which does not distribute over a sum"),
    ("two", "feeds 2 layers (flat, flat2)"),
])
def test_a_sum_that_cannot_be_distributed_says_which_form_converts(after, why):
    with pytest.raises(passes.ConversionError) as e:
        passes.canonicalize(_residual(after))
    msg = str(e.value)
    assert msg.startswith("sum: the sum of spike trains (h, b) ") and why in msg
    assert "add a ReLU after the sum" in msg


def _two_branches(scale_b: float, clip: float | None = None) -> ir.Graph:
    """Two 1x1-conv branches of the input, the second ``scale_b`` times larger, concatenated
    and read by one convolution."""
    rng = np.random.default_rng(5)
    wa = np.abs(rng.normal(size=(2, 1, 1, 1)))
    return ir.build([("input", ir.Input((1, 4, 4)), ()),
                     ("a", ir.conv(wa), ("input",)), ("ra", ir.ReLU(), ("a",)),
                     ("b", ir.conv(wa * scale_b), ("input",)),
                     ("rb", ir.ReLU(clip=clip, levels=4 if clip else None), ("b",)),
                     ("cat", ir.Concat(), ("ra", "rb")),
                     ("c", ir.conv(rng.normal(size=(3, 4, 3, 3)), padding=1), ("cat",)),
                     ("rc", ir.ReLU(), ("c",)), ("f", ir.Flatten(), ("rc",)),
                     ("o", ir.linear(rng.normal(size=(2, 48))), ("f",))], "o")


def test_equalize_concat_scales_gives_the_branches_the_largest_scale():
    g = _two_branches(4.0)
    x = np.random.default_rng(6).random((50, 1, 4, 4))
    lam = passes.layer_scales(g, x)
    assert 3.9 < lam["rb"].max() / lam["ra"].max() < 4.1
    eq = passes.equalize_concat_scales(g, lam)
    np.testing.assert_array_equal(eq["ra"], np.full(lam["ra"].shape, lam["rb"].max()))
    np.testing.assert_array_equal(eq["rb"], lam["rb"])
    assert eq["rc"] is lam["rc"] and lam["ra"].max() < lam["rb"].max()  # the input is kept
    # the reader's normalised weights keep their original proportions between the branches
    conv = {}
    for flag in (False, True):
        snn = passes.normalize(x, equalize_concat=flag)(passes.canonicalize(g))
        conv[flag] = snn["c"].op.weight
    orig = g["c"].op.weight
    ratio = np.abs(conv[True]).reshape(3, 4, -1).mean(axis=(0, 2))
    want = np.abs(orig).reshape(3, 4, -1).mean(axis=(0, 2))
    np.testing.assert_allclose(ratio / ratio[0], want / want[0], rtol=1e-12)
    # without it the weaker branch's weights are four times smaller
    plain = np.abs(conv[False]).reshape(3, 4, -1).mean(axis=(0, 2)) / want
    assert 3.9 < plain[2] / plain[0] < 4.1


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_equalize_concat_scales_keeps_learned_clips_and_channel_wise_scales():
    x = np.random.default_rng(6).random((50, 1, 4, 4))
    g = _two_branches(4.0, clip=1.5)
    lam = passes.layer_scales(g, x)
    assert _same(passes.equalize_concat_scales(g, lam), lam)
    g = _two_branches(4.0)
    lam = passes.layer_scales(g, x, channelwise=True)
    assert _same(passes.equalize_concat_scales(g, lam), lam)


def test_equalize_concat_reaches_the_network_file(tmp_path):
    from snngen.cli import main
    from snngen.fixedpoint import netfile

    model = "examples/digits_inception/model.py:make_model"
    weights = "examples/digits_inception/weights.pt"
    out = {}
    for flag in ([], ["--equalize-concat"]):
        f = tmp_path / f"n{len(flag)}.snn"
        assert main(["convert", model, "--weights", weights, "--dataset", "digits",
                     "--max-timesteps", "16", "-o", str(f), *flag]) == 0
        out[bool(flag)] = netfile.load(f)
    assert out[True].conversion["equalize_concat"] is True
    assert out[False].conversion["equalize_concat"] is False
    # the first branch (the weakest) gets the strongest one's scale: a larger threshold in its
    # own units, so it fires less
    th = {k: {q.layer: q.threshold for q in n.quant} for k, n in out.items()}
    assert th[True]["r1"] > 2 * th[False]["r1"] and th[True]["r5"] == th[False]["r5"]
