"""What only the Amaranth twin of snn_maxpool_gate has to show:
snngen.backends.amaranth.maxpool_gate.MaxPoolGate refuses bad parameters with the Verilog's rule
words, takes the Verilog's defaults, has the hand-written module's ports, converts to Verilog
that is lint-clean with exactly the listed waivers, and is formally equivalent (Yosys equiv_make
+ equiv_induct) to snngen/backends/verilog/rtl/snn_maxpool_gate.v cycle for cycle (every
register, memory word and output).

Its behaviour (images of timesteps checked against golden, exact cycle counts, backpressure,
resets and clears in the middle of a timestep, stale tags) is checked by the one cocotb bench of
the block, rtl_tests/cocotb_maxpool_gate.py, run on both backends
(rtl_tests/test_maxpool_gate.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.maxpool_gate import MaxPoolGate
from snngen.hwmodel.blocks.gate import GateGeometry


def _params(c, h, w, k, s, p, cnt, iw=None, ow=None) -> dict:
    """MaxPoolGate's parameters (the Verilog's, lowercased) for a torch-style geometry."""
    g = GateGeometry.make((c, h, w), k, s, p)
    params = {name.lower(): value for name, value in g.verilog_params(cnt).items()}
    if iw is not None:
        params["in_index_width"] = iw
    if ow is not None:
        params["out_index_width"] = ow
    return params


_OK = _params(2, 7, 5, 3, 2, 1, 6)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"c": 0, "out_index_width": 1, "in_index_width": 1}, "C_must_be_at_least_1"),
    ({"h": 0}, "H_and_W_must_be_at_least_1"),
    ({"kw": 0}, "KH_and_KW_must_be_at_least_1"),
    ({"sh": 0}, "SH_and_SW_must_be_at_least_1"),
    ({"ph": 3}, "PH_must_be_0_to_KH_minus_1"),
    ({"pw": -1}, "PW_must_be_0_to_KW_minus_1"),
    ({"h": 1, "kh": 4, "ph": 1, "oh": 1}, "KH_must_be_at_most_H_plus_2_PH"),
    ({"w": 2, "kw": 5, "pw": 1, "ow": 1}, "KW_must_be_at_most_W_plus_2_PW"),
    ({"oh": 3}, "OH_must_be_H_plus_2_PH_minus_KH_over_SH_plus_1"),
    ({"ow": 4}, "OW_must_be_W_plus_2_PW_minus_KW_over_SW_plus_1"),
    ({"cnt_width": 0}, "CNT_WIDTH_must_be_1_to_32"),
    ({"cnt_width": 33}, "CNT_WIDTH_must_be_1_to_32"),
    ({"in_index_width": 6}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"in_index_width": 33}, "IN_INDEX_WIDTH_must_be_clog2_CHW_to_32"),
    ({"out_index_width": 4}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
    ({"out_index_width": 0}, "OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32"),
    ({"c": 1 << 12, "h": 1 << 9, "w": 1 << 9, "oh": None, "ow": None, "in_index_width": 32,
      "out_index_width": 32},
     "C_H_W_map_too_large"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS, ids=[r for _, r in BAD_PARAMS])
def test_maxpool_gate_bad_parameters(params, rule):
    # the same cases as rtl_tests/test_maxpool_gate.py (the Verilog's elaboration errors)
    with pytest.raises(ValueError, match=f"snn_maxpool_gate_ERROR_{rule}: "):
        MaxPoolGate(**{**_OK, **params})


def test_maxpool_gate_defaults():
    # the Verilog's default expressions: SH/SW = the window, OH/OW from the geometry, the
    # index widths at their minimum (at least 1), CNT_WIDTH 8; numpy integers are accepted
    dut = MaxPoolGate(np.int64(2), 7, 5, 3, 2, ph=1)
    assert (dut.sh, dut.sw, dut.oh, dut.ow) == (3, 2, 3, 2)
    assert (dut.cnt_width, dut.in_index_width, dut.out_index_width) == (8, 7, 4)
    Fragment.get(dut, None)  # elaborates
    dut = MaxPoolGate(1, 1, 1, 1, 1, cnt_width=1)
    assert (dut.oh, dut.ow, dut.in_index_width, dut.out_index_width, dut.depth) == (
        1, 1, 1, 1, 2)
    Fragment.get(dut, None)
    # positional parameters in the Verilog's order
    dut = MaxPoolGate(2, 7, 5, 3, 3, 2, 2, 1, 1, 4, 3, 6)
    Fragment.get(dut, None)
    for key, want in _params(2, 7, 5, 3, 2, 1, 6).items():
        assert getattr(dut, key) == want, key


def test_maxpool_gate_ports_match_the_verilog():
    dut = MaxPoolGate(**_params(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8))
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "s_valid": (1, "i"),
        "s_ready": (1, "o"), "s_index": (10, "i"), "s_eot": (1, "i"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_index": (8, "o"), "m_eot": (1, "o"), "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_maxpool_gate\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


MAXPOOL_GATE_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC")
assert set(MAXPOOL_GATE_WAIVERS) <= set(LINT_REASONS)

# the parameter sets of rtl_tests/test_lint.py for snn_maxpool_gate ({} = the Verilog defaults)
LINT_CONFIGS = {
    "default": dict(c=2, h=6, w=6, kh=2, kw=2),
    "c2-7x5-k3s2p1": _params(2, 7, 5, 3, 2, 1, 6, iw=10, ow=8),
    "c1-1x1-k1-cnt1": _params(1, 1, 1, 1, 1, 0, 1),
    "c16-28x28-k2s2": _params(16, 28, 28, 2, 2, 0, 9),
    "c3-13x11-k3x2s2x3p1-cnt32": _params(3, 13, 11, (3, 2), (2, 3), (1, 1), 32, iw=32, ow=32),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_maxpool_gate_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(MaxPoolGate(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_maxpool_gate", MAXPOOL_GATE_WAIVERS, tmp_path)


# every register of snn_maxpool_gate.v (instance u) keeps its name in MaxPoolGate
_REGS = ["state_reg", "ts_reg", "clr_addr_reg", "ev_valid_reg", "ev_addr_reg", "m_valid_reg",
         "m_eot_reg", "m_index_reg", "a_run_reg", "a_eot_reg", "oc_reg", "oy_reg", "ox_reg",
         "ky_reg", "kx_reg", "h0_reg", "w0_reg", "h_reg", "w_reg", "cbase_reg", "lbase_reg",
         "base_reg", "row_reg", "addr_reg", "b_valid_reg", "b_eot_reg", "b_pad_reg",
         "b_last_reg", "best_reg", "hit_reg", "oidx_reg", "rd_q"]
EQUIV_CONFIGS = {
    # overlapping windows (stride 1), two timestep bits
    "c1-3x3-k2s1-cnt2": _params(1, 3, 3, 2, 1, 0, 2),
    # padding on both axes, two channels, index ports wider than needed
    "c2-3x2-k2s2p1-cnt3": _params(2, 3, 2, 2, 2, 1, 3, iw=5, ow=4),
    # non-square window, strides 2/1, row padding, a row in no window
    "c1-4x3-k3x2s2x1p1x0-cnt2": _params(1, 4, 3, (3, 2), (2, 1), (1, 0), 2),
    # the smallest gate: one neuron (a RAM of 2 words), every width 1
    "c1-1x1-k1-cnt1": _params(1, 1, 1, 1, 1, 0, 1),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_maxpool_gate_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = MaxPoolGate(**EQUIV_CONFIGS[name])
    params = dict(C=dut.c, H=dut.h, W=dut.w, KH=dut.kh, KW=dut.kw, SH=dut.sh, SW=dut.sw,
                  PH=dut.ph, PW=dut.pw, OH=dut.oh, OW=dut.ow, CNT_WIDTH=dut.cnt_width,
                  IN_INDEX_WIDTH=dut.in_index_width, OUT_INDEX_WIDTH=dut.out_index_width)
    renames = [(f"u.{r}", r) for r in _REGS]
    renames += [(f"u.mem[{i}]", f"mem[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)
