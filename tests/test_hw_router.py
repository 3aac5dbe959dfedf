"""What only the Amaranth twin of snn_router has to show: snngen.backends.amaranth.router.Router
refuses bad parameters with the Verilog's rule words, takes the Verilog's defaults, has the
hand-written module's ports, converts to Verilog that is lint-clean with exactly the listed
waivers, and is formally equivalent (Yosys equiv_make + equiv_induct) to
snngen/backends/verilog/rtl/snn_router.v cycle for cycle (every register and output) for six
parameter sets.

Its behaviour (timesteps of events checked against golden and the reference group enumeration,
the exact schedule and latencies, backpressure, sweep delays, a reset mid-timestep, outputs that
do not follow the producer's inputs combinationally) is checked by the one cocotb bench of the
block, rtl_tests/cocotb_router.py, run on both backends (rtl_tests/test_router.py).
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.router import Router
from snngen.backends.verilog.memfile import write_mem
from snngen.hwmodel.blocks import router as rm
from snngen.resources import rtl_dir

ROUTER_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC")
assert set(ROUTER_WAIVERS) <= set(LINT_REASONS)


def _router_from_params(params: dict, rng: random.Random) -> Router:
    """A Router from Verilog parameters with random weights (rom_words)."""
    geom = rm.RouterGeometry(*(params[k] for k in ("CIN", "H", "W", "COUT", "OH", "OW", "KH",
                                                   "KW", "SH", "SW", "PH", "PW")))
    ww, lanes = params["W_WIDTH"], params["LANES"]
    shape = (geom.cout, geom.cin, geom.kh, geom.kw)
    w = np.array([rng.randint(-(1 << (ww - 1)), (1 << (ww - 1)) - 1)
                  for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
    return Router(**{k.lower(): v for k, v in params.items()},
                  weight_init=rm.rom_words(geom, w, lanes, ww))


# --- parameters --------------------------------------------------------------------------------

# ceil(3/2) = 2 channel groups: ROM of 2*2*3*3 = 36 words, 2*3*3 = 18 bank rows
_OK = dict(cin=2, h=5, w=5, cout=3, oh=3, ow=3, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, lanes=2,
           w_width=6, value_width=0, weight_init=[0] * 36)
_WI = "WEIGHT_INIT_must_hold_NG_CIN_KH_KW_words_of_LANES_W_WIDTH_bits"
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"sh": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"cin": 0}, "CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive"),
    ({"pw": -1}, "PH_PW_must_be_non_negative"),
    ({"kh": 8, "oh": 1}, "kernel_must_fit_the_padded_input"),
    ({"oh": 2}, "OH_must_be_H_plus_2PH_minus_KH_over_SH_plus_1"),
    ({"ow": 4}, "OW_must_be_W_plus_2PW_minus_KW_over_SW_plus_1"),
    ({"h": 1 << 30, "oh": (1 << 29)}, "sizes_must_be_below_2_to_the_30"),
    ({"w_width": 0, "u_width": 0}, "W_WIDTH_must_be_1_to_32"),
    ({"w_width": 33}, "W_WIDTH_must_be_1_to_32"),
    ({"value_width": 33}, "VALUE_WIDTH_must_be_0_to_32"),
    ({"value_width": 8, "u_width": 6}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"u_width": 7}, "U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH"),
    ({"in_index_width": 5}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"in_index_width": 31}, "IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30"),
    ({"addr_width": 4}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    ({"addr_width": 31}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    ({"weight_init": None}, _WI),
    ({"weight_init": [0] * 35}, _WI),
    ({"weight_init": [0] * 54}, _WI),  # COUT*CIN*KH*KW: the old layout's depth
    ({"weight_init": [0] * 35 + [1 << 12]}, _WI),
    ({"weight_init": [0] * 35 + [-(1 << 11) - 1]}, _WI),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_router_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_router_ERROR_{rule}: .*{next(iter(params))}="):
        Router(**{**_OK, **params})


def test_router_defaults_and_edge_parameters():
    # the Verilog's default expressions; numpy integers; the limits themselves
    dut = Router(**{**_OK, "oh": None, "ow": None, "cin": np.int64(2),
                    "weight_init": np.zeros(36, dtype=np.int64)})
    # ADDR_WIDTH: clog2(ceil(3/2)*3*3) = clog2(18) = 5 (not clog2(ceil(27/2)) = 4)
    assert (dut.oh, dut.ow, dut.u_width, dut.in_index_width, dut.addr_width) == (3, 3, 6, 6, 5)
    assert (dut.ng, dut.rows, dut.rom_depth) == (2, 18, 36)
    assert dut.cin == 2 and type(dut.cin) is int
    Fragment.get(dut, None)  # elaborates
    # a negative word is its two's complement (as hwfiles.write_mem writes it)
    dut = Router(**{**_OK, "weight_init": [-1] + [(1 << 12) - 1] * 35, "value_width": 32,
                    "u_width": 38, "in_index_width": 30, "addr_width": 30})
    assert dut.weight_init == [(1 << 12) - 1] * 36
    Fragment.get(dut, None)


def test_router_ports_match_the_verilog():
    # a first layer's pixel-value conv: 4 lanes, ports wider than needed
    dut = _router_from_params(dict(CIN=1, H=4, W=5, COUT=2, OH=4, OW=5, KH=3, KW=3, SH=1, SW=1,
                                   PH=1, PW=1, LANES=4, W_WIDTH=6, VALUE_WIDTH=6,
                                   IN_INDEX_WIDTH=7, ADDR_WIDTH=6), random.Random(1))
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "s_valid": (1, "i"), "s_ready": (1, "o"), "s_index": (7, "i"), "s_value": (6, "i"),
        "s_eot": (1, "i"), "upd_valid": (1, "o"), "upd_ready": (1, "i"),
        "upd_addr": (6, "o"), "upd_weight": (48, "o"), "sweep_valid": (1, "o"),
        "sweep_ready": (1, "i"), "busy": (1, "o")}
    # names and directions as in the hand-written module's port list
    text = (rtl_dir() / "snn_router.v").read_text()
    decl = re.findall(r"^\s*(input|output)\s+wire\s+(?:\[.*?\]\s+)?(\w+),?\s*$", text, re.M)
    assert {n: d[0] for d, n in decl} == {"clk": "i", "rst": "i",
                                          **{n: d for n, (_, d) in ports.items()}}
    spike = Router(**_OK)
    assert len(spike.verilog_ports()["s_value"][0]) == 1  # 1 bit and ignored
    Fragment.get(spike, None)
    text = to_verilog(dut)
    header = re.search(r"module snn_router\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_router (Verilog names)
LINT_CONFIGS: dict[str, dict] = {
    "default": dict(CIN=1, H=4, W=4, COUT=2, OH=2, OW=2, KH=3, KW=3, SH=1, SW=1, PH=0, PW=0,
                    LANES=1, W_WIDTH=8, VALUE_WIDTH=0),
    "conv-s2-p1-L2": dict(CIN=3, H=7, W=5, COUT=4, OH=4, OW=3, KH=3, KW=3, SH=2, SW=2, PH=1,
                          PW=1, LANES=2, W_WIDTH=6, VALUE_WIDTH=0),
    "pixels-L4": dict(CIN=2, H=6, W=5, COUT=3, OH=6, OW=5, KH=3, KW=3, SH=1, SW=1, PH=1, PW=1,
                      LANES=4, W_WIDTH=8, VALUE_WIDTH=8, IN_INDEX_WIDTH=9, ADDR_WIDTH=7),
    "conv2x4-L8-v2": dict(CIN=2, H=6, W=9, COUT=3, OH=7, OW=4, KH=2, KW=4, SH=1, SW=3, PH=1,
                          PW=2, LANES=8, W_WIDTH=3, VALUE_WIDTH=2),
    "1x1-L8-wide": dict(CIN=1, H=1, W=1, COUT=1, OH=1, OW=1, KH=1, KW=1, SH=1, SW=1, PH=0,
                        PW=0, LANES=8, W_WIDTH=32, VALUE_WIDTH=32, IN_INDEX_WIDTH=30,
                        ADDR_WIDTH=30),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_router_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(_router_from_params(p, rng), flat_ports=flat_ports)
             for name, p in LINT_CONFIGS.items()}
    check_lint(texts, "snn_router", ROUTER_WAIVERS, tmp_path)


# the Verilog's registers (instance u; all at the top of the module) -> Router's names; the
# value pipeline (*_val_reg) only where the value is used (VALUE_WIDTH > 0): with spike events
# Yosys removes it from both designs
_REGS = ["eot_block_reg", "i_valid_reg", "dc_valid_reg", "d1_valid_reg", "d2_valid_reg",
         "n_valid_reg", "q_valid_reg", "n_full_reg", "d2_full_reg", "d1_full_reg", "dc_full_reg",
         "i_full_reg",
         "i_eot_reg", "i_idx_reg", "dc_eot_reg", "dc_c_reg", "dc_rem_reg",
         "d1_eot_reg", "d1_c_reg", "d1_h_reg", "d1_w_reg",
         "d2_eot_reg", "d2_empty_reg", "d2_cbase_reg", "d2_yhi_reg", "d2_cnty_m1_reg", "d2_xhi_reg",
         "d2_cntx_m1_reg", "d2_kh0_reg", "d2_kw0_reg",
         "n_eot_reg", "n_empty_reg", "n_addr_reg", "n_base_reg", "n_cntx_m1_reg",
         "n_cnty_m1_reg",
         "q_eot_reg", "q_empty_reg", "q_last_reg", "q_xleft_reg", "q_yleft_reg", "q_gleft_reg",
         "q_addr_reg", "q_addr_row_reg", "q_addr_g_reg", "q_base_reg", "q_base_row_reg",
         "q_base_g_reg", "q_cntx_m1_reg", "q_cnty_m1_reg",
         "rom_q", "r_upd_reg", "r_eot_reg", "r_base_reg", "p_rom_q", "p_upd_reg", "p_eot_reg",
         "p_base_reg", "o_pend_reg", "o_eot_reg",
         "o_addr_reg", "o_w_reg"]
_VAL_REGS = ["i_val_reg", "dc_val_reg", "d1_val_reg", "d2_val_reg", "n_val_reg", "q_val_reg",
             "r_val_reg", "p_val_reg"]
# channel groups: two with a partial last one (3 on 2 lanes, 5 on 4), one partial (2 on 4),
# two full ones on one lane, two full ones on 2 lanes
EQUIV_CONFIGS: dict[str, dict] = {
    "conv3x3-s2-p1-L2": dict(CIN=2, H=5, W=5, COUT=3, OH=3, OW=3, KH=3, KW=3, SH=2, SW=2,
                             PH=1, PW=1, LANES=2, W_WIDTH=4, VALUE_WIDTH=0),
    "pixels-v3-L4": dict(CIN=1, H=4, W=5, COUT=2, OH=4, OW=5, KH=3, KW=3, SH=1, SW=1, PH=1,
                         PW=1, LANES=4, W_WIDTH=4, VALUE_WIDTH=3, IN_INDEX_WIDTH=6,
                         ADDR_WIDTH=6),
    # a Linear 6 -> 5 (rm.geometry: the 1x1 convolution)
    "linear6x5-L4": dict(CIN=6, H=1, W=1, COUT=5, OH=1, OW=1, KH=1, KW=1, SH=1, SW=1, PH=0,
                         PW=0, LANES=4, W_WIDTH=3, VALUE_WIDTH=0),
    "conv2x3-c4-L2": dict(CIN=1, H=4, W=5, COUT=4, OH=5, OW=2, KH=2, KW=3, SH=1, SW=2, PH=1,
                          PW=0, LANES=2, W_WIDTH=3, VALUE_WIDTH=0),
    "conv1x1-s2-L1-v2": dict(CIN=2, H=5, W=6, COUT=3, OH=3, OW=3, KH=1, KW=1, SH=2, SW=2,
                             PH=0, PW=0, LANES=1, W_WIDTH=4, VALUE_WIDTH=2),
    # the decode's bit slices: H*W = 16 and W = 4 powers of two (the others divide)
    "conv3x3-c3-4x4-L2": dict(CIN=3, H=4, W=4, COUT=2, OH=4, OW=4, KH=3, KW=3, SH=1, SW=1,
                              PH=1, PW=1, LANES=2, W_WIDTH=3, VALUE_WIDTH=0),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_router_formally_equivalent_to_the_verilog(name, tmp_path):
    params = EQUIV_CONFIGS[name]
    dut = _router_from_params(params, random.Random(name))
    write_mem(tmp_path / "w.mem", dut.weight_init, dut.lanes * dut.w_width)
    params = {**params, "U_WIDTH": dut.u_width, "IN_INDEX_WIDTH": dut.in_index_width,
              "ADDR_WIDTH": dut.addr_width, "WEIGHT_FILE": "w.mem"}
    regs = _REGS + (_VAL_REGS if dut.value_width else [])
    check_equivalence(dut, params, [(f"u.{r}", r) for r in regs], tmp_path)
