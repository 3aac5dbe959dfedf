"""snn_maxpool_gate on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth MaxPoolGate), with one bench (cocotb_maxpool_gate.py): images of timesteps of random
spike patterns through the spiking max-pool gate under backpressure, every output event checked
against snngen.golden.model.maxpool_gate, with the documented cycle counts; resets and clears in
the middle of a timestep; stale tags up to 2^CNT_WIDTH - 1 timesteps. Plus: the model
snngen.hwmodel.blocks.gate.gate_step agrees with golden on many random timesteps and geometries, and
bad parameters fail elaboration in both tools with a message naming the rule."""

from __future__ import annotations

import numpy as np
import pytest
import runner

from snngen.golden.model import maxpool_gate
from snngen.hwmodel.blocks.gate import (
    GateGeometry,
    clear_cycles,
    cnt_width,
    collect_cycles,
    gate_step,
    sweep_cycles,
    sweep_order,
)
from snngen.ir.graph import maxpool

BLOCK = "snn_maxpool_gate"


def _hw(c, h, w, k, s, p, cnt, iw=None, ow=None) -> dict[str, int]:
    g = GateGeometry.make((c, h, w), k, s, p)
    params = g.verilog_params(cnt)
    if iw is not None:
        params["IN_INDEX_WIDTH"] = iw
    if ow is not None:
        params["OUT_INDEX_WIDTH"] = ow
    return params


# (hardware parameters, timesteps per image (lo, hi)); hi < 2^CNT_WIDTH
CONFIGS: dict[str, tuple[dict[str, int], tuple[int, int]]] = {
    # 2x2 stride 2, disjoint windows
    "c3-6x6-k2s2": (_hw(3, 6, 6, 2, 2, 0, 5), (8, 20)),
    # 3x3 stride 2 padding 1, odd H and W: overlapping windows; index ports wider than needed
    "c2-7x5-k3s2p1": (_hw(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8), (8, 12)),
    # 3x3 stride 1 padding 1: every input in up to 9 windows
    "c1-5x6-k3s1p1": (_hw(1, 5, 6, 3, 1, 1, 8), (8, 12)),
    # one channel, H != W, 2x3 kernel, strides 2/1, column padding only, row 4 in no window;
    # CNT_WIDTH 4 with up to 15 timesteps: counts reach 15 = 2^4 - 1 (the last image runs 15)
    "c1-5x7-k2x3s2x1p0x1-cnt4": (_hw(1, 5, 7, (2, 3), (2, 1), (0, 1), 4), (8, 15)),
    # 1x1 kernel with stride 2: a subsampling (no ties, nothing blocked, one slot per output);
    # CNT_WIDTH 2, T = 3: ts wraps after 3 timesteps; an input index port wider than needed
    "c2-6x5-k1s2-cnt2": (_hw(2, 6, 5, 1, 2, 0, 2, iw=7), (3, 3)),
}
# the configurations that also run the stale-tag test (2 * (2^CNT_WIDTH - 1) timesteps)
STALE_TAGS = {"c1-5x7-k2x3s2x1p0x1-cnt4", "c2-6x5-k1s2-cnt2"}


def _gate(hw: dict[str, int]):
    """The Amaranth twin with the same parameters (the Verilog's, lower case)."""
    from snngen.backends.amaranth.maxpool_gate import MaxPoolGate

    return MaxPoolGate(**{k.lower(): v for k, v in hw.items()})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_maxpool_gate(sim, backend, name):
    hw, timesteps = CONFIGS[name]
    cfg = {**hw, "images": 3, "timesteps": timesteps, "stale_tags": name in STALE_TAGS}
    runner.run_block(BLOCK, sim, backend, hw, lambda: _gate(hw), cfg)


# geometries for the model check: (C, H, W), kernel, stride, padding
MODEL_CASES = [
    ((3, 6, 6), 2, 2, 0),
    ((2, 7, 5), 3, 2, 1),          # overlapping, padding, odd sizes
    ((1, 5, 6), 3, 1, 1),          # stride 1: heavy overlap
    ((1, 5, 7), (2, 3), (2, 1), (0, 1)),
    ((2, 9, 4), (3, 2), (3, 1), (1, 1)),
    ((2, 3, 3), 3, 1, 0),          # one window covering the whole map
    ((1, 6, 5), 1, 2, 0),          # 1x1 kernel with stride: a subsampling
    ((2, 8, 8), 4, 3, 2),          # kernel 4, stride 3, padding 2 (windows of padding + a row)
]


@pytest.mark.parametrize("case", MODEL_CASES, ids=[str(i) for i in range(len(MODEL_CASES))])
def test_gate_step_matches_golden(case):
    shape, kernel, stride, padding = case
    seed = runner.pick_seed()
    rng = np.random.default_rng(seed)
    op = maxpool(kernel, stride, padding)
    g = GateGeometry.make(shape, kernel, stride, padding)
    for image in range(4):
        counts = np.zeros(shape, dtype=np.int64)
        always = rng.random(shape) < 0.1
        for t in range(30):
            p = [0.0, 1.0, 0.05, 0.3, 0.6, 0.9][(image + t) % 6]
            spikes = (rng.random(shape) < p) | (always if p > 0 else False)
            out, new = gate_step(spikes, counts, kernel, stride, padding)
            gold = maxpool_gate(spikes[None].astype(np.int64), (counts + spikes)[None], op)[0]
            assert out.shape == (g.C, g.OH, g.OW) == gold.shape
            assert np.array_equal(out, gold.astype(bool)), f"SNN_SEED={seed} image {image} t {t}"
            assert np.array_equal(new, counts + spikes)
            counts = new


def test_cycle_model():
    g = GateGeometry.make((2, 7, 5), 3, 2, 1)
    assert (g.OH, g.OW, g.slots) == (4, 3, 2 * 4 * 3 * 9)
    assert len(sweep_order(g)) == g.slots
    assert sweep_cycles(g) == g.slots + 3 and sweep_cycles(g, stalls=5) == g.slots + 8
    assert clear_cycles(g) == 70 and collect_cycles(0) == 1 and collect_cycles(9) == 10
    assert [cnt_width(t) for t in (1, 2, 3, 15, 16, 255, 256)] == [1, 2, 2, 4, 5, 8, 9]
    # padding slots have no input index; the windows list every input index in range
    assert {i for _, i in sweep_order(g) if i is not None} <= set(range(g.n_in))
    assert sum(i is None for _, i in sweep_order(g)) > 0


_OK = _hw(2, 7, 5, 3, 2, 1, 6)
BAD_PARAMS: list[tuple[dict[str, object], str]] = [
    ({"C": 0, "OUT_INDEX_WIDTH": 1, "IN_INDEX_WIDTH": 1}, "C_must_be_at_least_1"),
    ({"H": 0}, "H_and_W_must_be_at_least_1"),
    ({"KW": 0}, "KH_and_KW_must_be_at_least_1"),
    ({"SH": 0}, "SH_and_SW_must_be_at_least_1"),
    ({"PH": 3}, "PH_must_be_0_to_KH_minus_1"),
    ({"PW": -1}, "PW_must_be_0_to_KW_minus_1"),
    ({"H": 1, "KH": 4, "PH": 1, "OH": 1}, "KH_must_be_at_most_H_plus_2_PH"),
    ({"W": 2, "KW": 5, "PW": 1, "OW": 1}, "KW_must_be_at_most_W_plus_2_PW"),
    ({"OH": 3}, "OH_must_be_H_plus_2_PH_minus_KH_over_SH_plus_1"),
    ({"OW": 4}, "OW_must_be_W_plus_2_PW_minus_KW_over_SW_plus_1"),
    ({"CNT_WIDTH": 0}, "CNT_WIDTH_must_be_1_to_32"),
    ({"CNT_WIDTH": 33}, "CNT_WIDTH_must_be_1_to_32"),
    ({"IN_INDEX_WIDTH": 6}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"IN_INDEX_WIDTH": 33}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"OUT_INDEX_WIDTH": 4}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
    ({"OUT_INDEX_WIDTH": 0}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS, ids=[m for _, m in BAD_PARAMS])
@pytest.mark.parametrize("tool", ["verilator", "iverilog"])
def test_bad_parameters_fail_elaboration(tool, params, message, tmp_path):
    runner.check_bad_parameters(tool, BLOCK, {**_OK, **params}, message, tmp_path)


def test_lint_parameter_sets_are_clean(tmp_path):
    # the sets proposed for test_lint.LINT_PARAMS (owned elsewhere): no warning in either tool
    sets = [
        {},
        _hw(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8),
        _hw(1, 1, 1, 1, 1, 0, 1),
        _hw(16, 28, 28, 2, 2, 0, 9),
        _hw(3, 13, 11, (3, 2), (2, 3), (1, 1), 32, iw=32, ow=32),
    ]
    for params in sets:
        r = runner.lint_verilator(BLOCK, params, tmp_path)
        out = r.stdout + r.stderr
        assert r.returncode == 0 and "%Warning" not in out and "%Error" not in out, out
        r = runner.lint_iverilog(BLOCK, params, tmp_path)
        assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr
