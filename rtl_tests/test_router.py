"""snn_router on Icarus and Verilator, from both backends (the hand-written Verilog reading its
weights from WEIGHT_FILE, and the Amaranth Router holding the same words), with one bench
(cocotb_router.py): timesteps of input events through one layer's fan-out, checked against
snngen.golden.model.synaptic_current (the per-neuron sums), the reference enumeration
snngen.hwmodel.blocks.router.groups (every group, in order) and the cycle contract
(rtlmodel.router: the timestep formula, the schedule, the latencies), under random update
backpressure and sweep delays, with a reset in the middle of a timestep. Plus: the
geometry/weight mapping of Conv2d and Linear nodes, the ROM packing, and bad parameters failing
elaboration in both tools with a message naming the rule."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import runner

from snngen.backends.verilog.memfile import read_mem, write_mem
from snngen.golden.model import synaptic_current
from snngen.hwmodel.blocks import router as rm
from snngen.ir import graph as ir

BLOCK = "snn_router"

# layer sets: a conv with stride 2, padding 1 and odd sizes; a 5x5 stride-1 conv on one lane; a
# Linear through the mapping; a first-layer (pixel value) conv with LANES = 4 and COUT*OH*OW not
# a multiple of 4; a 1x1 stride-2 conv (events that reach nothing: G = 0); an asymmetric conv
# on 8 lanes (3 channels: most lanes idle) with a small value width; ports wider than needed;
# 6 channels on 4 lanes (two channel groups, the second half full)
CONFIGS: dict[str, dict] = {
    "conv3x3-s2-p1-L2": dict(kind="conv", in_shape=(3, 7, 5), cout=4, kernel=(3, 3),
                             stride=(2, 2), padding=(1, 1), LANES=2, W_WIDTH=6, VALUE_WIDTH=0),
    "conv5x5-L1": dict(kind="conv", in_shape=(2, 7, 6), cout=2, kernel=(5, 5), stride=(1, 1),
                       padding=(0, 0), LANES=1, W_WIDTH=8, VALUE_WIDTH=0),
    "linear20x10-L4": dict(kind="linear", f_in=20, f_out=10, LANES=4, W_WIDTH=5,
                           VALUE_WIDTH=0),
    "pixels-v8-L4": dict(kind="conv", in_shape=(2, 6, 5), cout=3, kernel=(3, 3), stride=(1, 1),
                         padding=(1, 1), LANES=4, W_WIDTH=8, VALUE_WIDTH=8, IN_INDEX_WIDTH=9,
                         ADDR_WIDTH=7),
    "conv1x1-s2-L2": dict(kind="conv", in_shape=(2, 5, 6), cout=3, kernel=(1, 1),
                          stride=(2, 2), padding=(0, 0), LANES=2, W_WIDTH=4, VALUE_WIDTH=0,
                          expect_empty_events=True),
    "conv2x4-s1x3-L8-v2": dict(kind="conv", in_shape=(2, 6, 9), cout=3, kernel=(2, 4),
                               stride=(1, 3), padding=(1, 2), LANES=8, W_WIDTH=3,
                               VALUE_WIDTH=2),
    "conv3x3-c6-L4": dict(kind="conv", in_shape=(2, 5, 4), cout=6, kernel=(3, 3),
                          stride=(1, 1), padding=(1, 1), LANES=4, W_WIDTH=5, VALUE_WIDTH=0),
}


def make_node(spec: dict, rng: random.Random) -> tuple[ir.Node, tuple[int, ...]]:
    """The IR node of a layer set (ir.conv / ir.linear, no bias) with random W_WIDTH-bit
    integer weights covering both extremes and zeros, and its input shape."""
    ww = spec["W_WIDTH"]
    lo, hi = -(1 << (ww - 1)), (1 << (ww - 1)) - 1
    if spec["kind"] == "linear":
        shape: tuple[int, ...] = (spec["f_out"], spec["f_in"])
        in_shape: tuple[int, ...] = (spec["f_in"],)
    else:
        in_shape = tuple(spec["in_shape"])
        shape = (spec["cout"], in_shape[0], *spec["kernel"])
    w = np.array([rng.choice([lo, hi, 0]) if rng.random() < 0.2 else rng.randint(lo, hi)
                  for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
    if spec["kind"] == "linear":
        op = ir.linear(w)
    else:
        op = ir.conv(w, stride=spec["stride"], padding=spec["padding"])
    op = replace(op, weight=w)  # integer weights, as in a quantised graph
    return ir.Node("layer", op, ("x",), ir.infer_shape(op, [in_shape])), in_shape


def hw_params(spec: dict, geom: rm.RouterGeometry) -> dict[str, int]:
    hw = {**geom.params(), "LANES": spec["LANES"], "W_WIDTH": spec["W_WIDTH"],
          "VALUE_WIDTH": spec["VALUE_WIDTH"], "U_WIDTH": spec["W_WIDTH"] + spec["VALUE_WIDTH"]}
    rows = geom.channel_groups(spec["LANES"]) * geom.plane  # bank rows
    hw["IN_INDEX_WIDTH"] = spec.get("IN_INDEX_WIDTH", max(1, (geom.n_in - 1).bit_length()))
    hw["ADDR_WIDTH"] = spec.get("ADDR_WIDTH", max(1, (rows - 1).bit_length()))
    return hw


def _router(hw: dict[str, int], words: list[int]):
    """The Amaranth twin with the same parameters, its ROM holding the words of the .mem file
    the Verilog reads (rom_words, as the Amaranth stage wrappers give it a layer's weights)."""
    from snngen.backends.amaranth.router import Router

    return Router(**{k.lower(): v for k, v in hw.items()}, weight_init=words)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_router(sim, backend, name):
    spec = CONFIGS[name]
    # the weights come from the same seed as the simulation (logged by run_cocotb); the
    # Verilog reads them at run time, the Amaranth twin has them built in (so its Verilator
    # model is recompiled for new weights: a few seconds, not worth weaker weights)
    seed = runner.pick_seed()
    node, in_shape = make_node(spec, random.Random(seed))
    geom = rm.geometry(node, in_shape)
    hw = hw_params(spec, geom)
    build_dir = runner.build_dir_for(BLOCK, hw, sim, backend=backend)
    build_dir.mkdir(parents=True, exist_ok=True)
    w_file = build_dir / "w.mem"  # a fixed path: the parameter, and so the build, stays the same
    word = spec["LANES"] * spec["W_WIDTH"]
    words = rm.rom_words(geom, rm.weight4d(node), spec["LANES"], spec["W_WIDTH"])
    write_mem(w_file, words, word)
    cfg = {**hw, "kind": spec["kind"], "weight": node.op.weight.tolist(),
           "in_shape": list(in_shape), "stride": list(spec.get("stride", (1, 1))),
           "padding": list(spec.get("padding", (0, 0))),
           "expect_empty_events": spec.get("expect_empty_events", False)}
    runner.run_block(BLOCK, sim, backend, hw, lambda: _router(hw, words), cfg,
                     sim_parameters={**hw, "WEIGHT_FILE": w_file}, seed=seed)


# --- the Python model on its own (no simulator) ---------------------------------------------


def test_geometry_and_weights_of_conv_and_linear():
    rng = random.Random(1)
    conv, shape = make_node(CONFIGS["conv3x3-s2-p1-L2"], rng)
    g = rm.geometry(conv, shape)
    assert g == rm.RouterGeometry(3, 7, 5, 4, 4, 3, 3, 3, 2, 2, 1, 1)
    assert np.array_equal(rm.weight4d(conv), conv.op.weight)
    lin, shape = make_node(CONFIGS["linear20x10-L4"], rng)
    g = rm.geometry(lin, shape)
    assert g == rm.RouterGeometry(20, 1, 1, 10, 1, 1, 1, 1, 1, 1, 0, 0)
    w4 = rm.weight4d(lin)
    assert w4.shape == (10, 20, 1, 1) and w4.dtype == np.int64
    assert np.array_equal(w4[:, :, 0, 0], lin.op.weight)
    # float weights of a quantised graph are accepted when integral, refused otherwise
    f = replace(conv, op=replace(conv.op, weight=conv.op.weight.astype(np.float64)))
    assert np.array_equal(rm.weight4d(f), conv.op.weight)
    with pytest.raises(ValueError, match="integer weights"):
        rm.weight4d(replace(conv, op=replace(conv.op, weight=conv.op.weight + 0.5)))
    pool = ir.Node("p", ir.maxpool(2), ("x",), (3, 3, 2))
    with pytest.raises(ValueError, match="Conv2d and Linear"):
        rm.geometry(pool, (3, 7, 5))
    with pytest.raises(ValueError, match="Conv2d and Linear"):
        rm.weight4d(pool)
    with pytest.raises(ValueError, match="input shape"):
        rm.geometry(lin, (21,))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_model_groups_match_golden(name):
    """The enumeration covers exactly the golden fan-out (every event pattern position)."""
    spec = CONFIGS[name]
    rng = random.Random(2)
    node, in_shape = make_node(spec, rng)
    g = rm.geometry(node, in_shape)
    w4 = rm.weight4d(node)
    lanes = spec["LANES"]
    for index in range(g.n_in):
        x = np.zeros((1, *in_shape), dtype=np.int64)
        x.reshape(-1)[index] = 1
        acc = np.zeros(g.n_out, dtype=np.int64)
        c = index // (g.h * g.w)
        gr = rm.groups(g, lanes, index)
        for grp in gr:
            for n, kh, kw in grp:
                acc[n] += w4[n // g.plane, c, kh, kw]
        assert np.array_equal(acc, synaptic_current(node, x).reshape(-1)), index
        assert rm.event_cycles(g, lanes, index) == max(len(gr), 1)


def test_rom_words_layout(tmp_path):
    g = rm.RouterGeometry(1, 3, 4, 3, 3, 2, 1, 3, 1, 2, 0, 1)  # COUT=3, KW=3, SW=2
    w = np.arange(-8, 1, dtype=np.int64).reshape(3, 1, 1, 3)
    words = rm.rom_words(g, w, 2, 4)
    # ceil(3/2) = 2 channel groups x 3 kernel columns; word (g, kw): field k = W[2g + k, 0, 0, kw]
    # (0 past COUT): every weight once
    assert len(words) == g.rom_depth(2) == 6
    assert words == [(-8 & 15) | ((-5 & 15) << 4), (-7 & 15) | ((-4 & 15) << 4),
                     (-6 & 15) | ((-3 & 15) << 4), (-2 & 15), (-1 & 15), 0]
    assert rm.rom_words(g, w, 1, 4) == [v & 15 for v in range(-8, 1)]
    write_mem(tmp_path / "w.mem", words, 8)
    assert read_mem(tmp_path / "w.mem", 8, signed=False) == words
    with pytest.raises(ValueError, match="do not fit"):
        rm.rom_words(g, w, 2, 3)
    with pytest.raises(ValueError, match="power of two"):
        rm.rom_words(g, w, 3, 4)


def test_schedule_back_to_back_matches_formula():
    rng = random.Random(3)
    for spec in CONFIGS.values():
        node, in_shape = make_node(spec, rng)
        g, lanes = rm.geometry(node, in_shape), spec["LANES"]
        for _ in range(20):
            events = sorted(rng.sample(range(g.n_in), rng.randint(0, g.n_in)))
            s = rm.schedule(g, lanes, events, [0] * (len(events) + 1))
            assert s.sweep == s.accept[0] + rm.timestep_cycles(g, lanes, events)
            assert len(s.transfer) == sum(len(rm.groups(g, lanes, i)) for i in events)


def test_geometry_rejects_inconsistent_sizes():
    with pytest.raises(ValueError, match="OH"):
        rm.RouterGeometry(1, 5, 5, 1, 4, 3, 3, 3, 1, 1, 0, 0)
    with pytest.raises(ValueError, match="does not fit"):
        rm.RouterGeometry(1, 2, 5, 1, 1, 3, 3, 3, 1, 1, 0, 0)
    with pytest.raises(ValueError, match="out of range"):
        rm.RouterGeometry(1, 5, 5, 1, 3, 3, 3, 3, 0, 1, 0, 0)


# --- bad parameters ---------------------------------------------------------------------------

_OK = {"WEIGHT_FILE": "w.mem", "CIN": 2, "H": 5, "W": 5, "COUT": 3, "OH": 3, "OW": 3,
       "KH": 3, "KW": 3, "SH": 2, "SW": 2, "PH": 1, "PW": 1, "LANES": 2, "W_WIDTH": 6}
BAD_PARAMS: list[tuple[dict[str, object], str]] = [
    ({"WEIGHT_FILE": ""}, "WEIGHT_FILE_must_name_a_mem_file"),
    ({"LANES": 3}, "LANES_must_be_a_power_of_two"),
    ({"LANES": 0}, "LANES_must_be_a_power_of_two"),
    ({"SH": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"CIN": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"PW": -1}, "PH_PW_must_be_non_negative"),
    ({"KH": 8, "OH": 1}, "kernel_must_fit_the_padded_input"),
    ({"OH": 2}, "OH_must_be_H_plus_2PH_minus_KH_over_SH_plus_1"),
    ({"OW": 4}, "OW_must_be_W_plus_2PW_minus_KW_over_SW_plus_1"),
    ({"W_WIDTH": 0, "U_WIDTH": 0}, "W_WIDTH_must_be_1_to_32"),
    ({"VALUE_WIDTH": 8, "U_WIDTH": 6}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"VALUE_WIDTH": 4, "U_WIDTH": 6}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"U_WIDTH": 7}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"IN_INDEX_WIDTH": 5}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"IN_INDEX_WIDTH": 31}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"ADDR_WIDTH": 3}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS, ids=[m for _, m in BAD_PARAMS])
@pytest.mark.parametrize("tool", ["verilator", "iverilog"])
def test_bad_parameters_fail_elaboration(tool, params, message, tmp_path):
    runner.check_bad_parameters(tool, BLOCK, {**_OK, **params}, message, tmp_path)
