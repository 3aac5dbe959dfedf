"""What only the Amaranth twin of snn_accum has to show: snngen.backends.amaranth.accum.Accum
refuses bad parameters with the Verilog's rule words (and accepts the limits), has the
hand-written module's ports, converts to Verilog that is lint-clean with exactly the listed
waivers, and is formally equivalent (Yosys equiv_induct) to
snngen/backends/verilog/rtl/snn_accum.v cycle for cycle (every register, memory word and
output), a proof that fails for a gate with another bias.

Its behaviour (clears, updates with hazards, max-pool readouts of whole output bank rows under
backpressure beat by beat with the exact cycle contract, wraps, resets, the readies' priority,
no combinational output paths) is checked by the one cocotb bench of the block,
rtl_tests/cocotb_accum.py, run on both backends (rtl_tests/test_accum.py).
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.accum import Accum
from snngen.backends.verilog.memfile import write_mem
from snngen.hwmodel.blocks import accum
from snngen.hwmodel.blocks.banks import bank_rows, k_rows

_NOPOOL = dict(pkh=1, pkw=1, psh=1, psw=1, pph=0, ppw=0)

ACCUM_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC", "CASEINCOMPLETE")
assert set(ACCUM_WAIVERS) <= set(LINT_REASONS)


def _random_bias(rng: random.Random, c: int, kw: int) -> list[int]:
    """Biases within half the K range (so that max + bias fits K_WIDTH), signed; the first one
    the most negative K_WIDTH value."""
    half = 1 << (kw - 2) if kw >= 2 else 1
    bias = [rng.randint(-half, half - 1) for _ in range(c)]
    bias[0] = -(1 << (kw - 1))
    return bias


def _bias_words(cfg: dict, bias: list[int]) -> list[int]:
    """The bias .mem words of a configuration: one word of LANES fields per channel group."""
    return k_rows(bias, cfg["lanes"], 1, cfg["k_width"])


# 2 channels on 2 lanes: one bias word of 2 x 21 bits
_OK = dict(c=2, h=5, w=5, lanes=2, u_width=12, a_width=20, k_width=21, pkh=3, pkw=3, psh=2,
           psw=2, pph=1, ppw=1, bias_init=[0])
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"c": 0, "bias_init": []}, "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"c": 1, "h": 1, "w": 1, **_NOPOOL}, "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"a_width": 33}, "A_WIDTH_must_be_2_to_32"),
    ({"a_width": 1, "u_width": 1}, "A_WIDTH_must_be_2_to_32"),
    ({"u_width": 21}, "U_WIDTH_must_be_1_to_A_WIDTH"),
    ({"u_width": 0}, "U_WIDTH_must_be_1_to_A_WIDTH"),
    ({"k_width": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"k_width": 33}, "K_WIDTH_must_be_1_to_32"),
    ({"pkw": 0, "ppw": 0}, "PKH_PKW_must_be_at_least_1"),
    ({"psh": 0}, "PSH_PSW_must_be_at_least_1"),
    ({"pph": 3}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"ppw": -1}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"oh": 4}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"ow": 2}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"h": 1, "pph": 0}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"addr_width": 5, "lanes": 1, "c": 3, "bias_init": [0] * 3},
     "ADDR_WIDTH_too_small_for_the_bank_rows"),
    # 3 channels of 3 x 3 on 2 lanes: 2 channel groups of 9 rows, 18 rows, not ceil(27/2) = 14
    ({"addr_width": 4, "c": 3, "h": 3, "w": 3, "bias_init": [0] * 2},
     "ADDR_WIDTH_too_small_for_the_bank_rows"),
    # 2 channels of 3 x 3 outputs on 2 lanes: 9 output bank rows need 4 bits
    ({"out_row_width": 3}, "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
    ({"out_row_width": 0}, "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
    ({"out_row_width": 33}, "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
    # 3 channels of 3 x 3 outputs on 2 lanes: 2 channel groups, 18 rows, not ceil(27/2) = 14
    ({"out_row_width": 4, "c": 3, "h": 6, "w": 6, "bias_init": [0] * 2},
     "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
    ({"c": 1, "h": 1 << 16, "w": 1 << 15, **_NOPOOL}, "map_too_large"),
    ({"bias_init": None}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
    ({"bias_init": []}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
    # one word per channel group, not per channel
    ({"bias_init": [0, 0]}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
    ({"bias_init": [1 << 42]}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
    # the words are unsigned (banks.k_rows), as in the .mem file
    ({"bias_init": [-1]}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
    ({"bias_init": [0.5]}, "BIAS_INIT_must_hold_NG_words_of_LANES_K_WIDTH_bits"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_accum_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_accum_ERROR_{rule}: "):
        Accum(**{**_OK, **params})


def test_accum_good_edge_parameters():
    # the limits are accepted; numpy integers too; the bias words are kept as given
    words = np.array([(1 << 16) - 1], dtype=np.uint64)
    dut = Accum(**{**_OK, "k_width": 8, "bias_init": words})
    assert dut.bias_init == [(1 << 16) - 1] and (dut.oh, dut.ow) == (3, 3)
    # the Verilog's defaults
    assert (dut.addr_width, dut.out_row_width, dut.ng, dut.nout_rows) == (5, 4, 1, 9)
    Fragment.get(dut, None)  # elaborates
    for params in [
        {"c": np.int64(1), "h": 2, "w": 1, **_NOPOOL, "lanes": 4, "a_width": 2, "u_width": 2,
         "k_width": 1, "bias_init": [0b1111]},
        {"a_width": 32, "u_width": 32, "k_width": 32, "bias_init": [(1 << 64) - 1],
         "addr_width": 32, "out_row_width": 32, "oh": 3, "ow": 3},
        # 3 channels of 3 x 3 on 2 lanes: 18 rows
        {"c": 3, "h": 3, "w": 3, "addr_width": 5, "bias_init": [0] * 2},
        # 3 channels of 3 x 3 outputs on 2 lanes: 18 output rows
        {"c": 3, "h": 6, "w": 6, "out_row_width": np.int32(5), "bias_init": [0] * 2},
    ]:
        dut = Accum(**{**_OK, **params})
        Fragment.get(dut, None)


@pytest.mark.parametrize(("c", "h", "w", "lanes", "rows"), [
    (2, 5, 5, 2, 25), (3, 3, 3, 2, 18), (6, 4, 4, 4, 32), (13, 1, 1, 4, 4), (2, 2, 1, 4, 2),
    (1, 1, 2, 4, 2), (2, 3, 5, 1, 30), (5, 3, 3, 4, 18)])
def test_accum_depth_is_the_bank_model(c, h, w, lanes, rows):
    # the bank rows (also a clear's cycles) and the default row address width follow
    # snngen.hwmodel.blocks.banks with PLANE = H*W: ceil(C/LANES)*H*W
    dut = Accum(c=c, h=h, w=w, lanes=lanes, u_width=4, a_width=8, k_width=9, **_NOPOOL,
                bias_init=[0] * -(-c // lanes))
    assert dut.depth_used == bank_rows(c * h * w, lanes, h * w) == rows
    assert accum.clear_cycles((c, h, w), lanes) == rows
    assert dut.depth == max(rows, 2)
    assert dut.addr_width == dut.mem_aw == max((rows - 1).bit_length(), 1)
    Fragment.get(dut, None)  # elaborates


@pytest.mark.parametrize(("c", "oh", "ow", "lanes", "rows"), [
    (2, 3, 3, 2, 9), (3, 3, 3, 2, 18), (6, 2, 2, 4, 8), (13, 1, 1, 4, 4), (1, 1, 2, 4, 2),
    (5, 1, 1, 8, 1), (3, 2, 1, 1, 6)])
def test_accum_output_rows_are_the_bank_model(c, oh, ow, lanes, rows):
    # a beat is one K row of the IF array that takes K: PLANE = OH*OW, ceil(C/LANES)*OH*OW
    # rows of LANES fields (2 x 2 max-pooling with stride 2 of a 2*oh x 2*ow map)
    dut = Accum(c=c, h=2 * oh, w=2 * ow, lanes=lanes, u_width=4, a_width=8, k_width=9,
                pkh=2, pkw=2, psh=2, psw=2, pph=0, ppw=0, bias_init=[0] * -(-c // lanes))
    assert (dut.oh, dut.ow) == (oh, ow)
    assert dut.nout_rows == bank_rows(c * oh * ow, lanes, oh * ow) == rows
    assert dut.out_row_width == max((rows - 1).bit_length(), 1)
    assert len(dut.m.payload.row) == dut.out_row_width
    assert len(dut.m.payload.value.as_value()) == lanes * 9
    Fragment.get(dut, None)  # elaborates


def test_accum_ports_match_the_verilog():
    dut = Accum(c=3, h=6, w=4, lanes=2, u_width=10, a_width=16, k_width=14, pkh=2, pkw=2,
                psh=2, psw=2, pph=0, ppw=0, addr_width=6, out_row_width=6,
                bias_init=_bias_words(dict(lanes=2, k_width=14), [-3, 0, 5]))
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "upd_valid": (1, "i"),
        "upd_ready": (1, "o"), "upd_addr": (6, "i"), "upd_weight": (20, "i"),
        "sweep_valid": (1, "i"), "sweep_ready": (1, "o"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_row": (6, "o"), "m_value": (28, "o"), "m_eot": (1, "o"),
        "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_accum\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_accum (their defaults filled in)
LINT_CONFIGS = {
    "default": dict(c=2, h=4, w=4, lanes=1, u_width=12, a_width=20, k_width=21, **_NOPOOL),
    "L4-pool3s2p1": dict(c=2, h=7, w=5, lanes=4, pkh=3, pkw=3, psh=2, psw=2, pph=1, ppw=1,
                         u_width=22, a_width=26, k_width=27),
    "L2-C1": dict(c=1, h=2, w=1, lanes=2, u_width=12, a_width=12, k_width=8, **_NOPOOL),
    "L8-wide": dict(c=3, h=5, w=3, lanes=8, pkh=2, pkw=3, psh=1, psw=2, pph=1, ppw=1,
                    addr_width=7, out_row_width=9, a_width=32, k_width=32, u_width=1),
    "L2-28x28": dict(c=16, h=28, w=28, lanes=2, pkh=2, pkw=2, psh=2, psw=2, pph=0, ppw=0,
                     u_width=16, a_width=24, k_width=24),
    "L4-dense-128": dict(c=128, h=1, w=1, lanes=4, u_width=12, a_width=20, k_width=21,
                         **_NOPOOL),
    "L1-C3": dict(c=3, h=2, w=5, lanes=1, u_width=12, a_width=20, k_width=21, **_NOPOOL,
                  out_row_width=8),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_accum_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(Accum(**cfg, bias_init=_bias_words(
                cfg, _random_bias(rng, cfg["c"], cfg["k_width"]))), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_accum", ACCUM_WAIVERS, tmp_path)


# the Verilog's registers (instance u) -> Accum's names (the same)
_TOP_REGS = ["state_reg", "clr_row_reg", "m_valid_reg", "m_eot_reg", "m_row_reg",
             "m_value_reg", "a_run_reg", "a_eot_reg", "a_c_reg", "a_y_reg", "a_x_reg",
             "a_i_reg", "a_j_reg", "a_h_reg", "a_w_reg", "a_n_reg", "win_h_reg", "win_w_reg",
             "win_n_reg", "a_m_reg", "b_valid_reg", "b_eot_reg", "b_in_reg", "b_first_reg",
             "b_last_reg", "b_m_reg", "c_valid_reg", "c_eot_reg", "c_in_reg",
             "c_first_reg", "c_last_reg", "c_m_reg", "max_reg", "have_reg", "bias_q",
             "s1_valid_reg", "s1_row_reg", "s1_w_reg", "s2_valid_reg", "s2_row_reg",
             "s2_w_reg", "s2_fwd_reg", "wb_valid_reg", "wb_row_reg", "wb_data_reg", "rd_q",
             "rd_data_reg"]


def top_regs(dut: Accum) -> list[str]:
    """The top registers of ``dut``: _TOP_REGS, plus b_c_reg (the bias ROM's address in stage
    B) with more than one channel group; with one, nothing reads it and both designs drop it."""
    return [*_TOP_REGS, *(["b_c_reg"] if dut.ng > 1 else [])]


EQUIV_CONFIGS = {
    "L4-pool3s2p1": dict(c=2, h=3, w=3, lanes=4, u_width=4, a_width=6, k_width=7,
                         pkh=3, pkw=3, psh=2, psw=2, pph=1, ppw=1),
    "L1-nopool-wide-ports": dict(c=3, h=1, w=3, lanes=1, u_width=5, a_width=7, k_width=5,
                                 **_NOPOOL, addr_width=6, out_row_width=7),
    "L2-pad2-negstep": dict(c=2, h=2, w=3, lanes=2, u_width=3, a_width=5, k_width=6,
                            pkh=1, pkw=3, psh=1, psw=1, pph=0, ppw=2),
    "L2-C1-rect-U=A": dict(c=1, h=2, w=1, lanes=2, u_width=5, a_width=5, k_width=4,
                           pkh=2, pkw=3, psh=1, psw=2, pph=1, ppw=1),
    # a dense first layer's view: 6 channels of 1 x 1 on 4 lanes (the second group half full)
    "L4-dense": dict(c=6, h=1, w=1, lanes=4, u_width=4, a_width=6, k_width=5, **_NOPOOL),
    # several channel groups: the walk steps on to the next group's plane (STEP_C) and reads
    # the next bias word. 6 channels of 4 x 4 on 4 lanes with 2 x 2 pooling (the second group
    # half full); 3 channels of 2 x 3 on 2 lanes with padding (windows start outside the map)
    # and wider address and row ports than needed
    "L4-C6-pool2s2": dict(c=6, h=4, w=4, lanes=4, u_width=3, a_width=5, k_width=6,
                          pkh=2, pkw=2, psh=2, psw=2, pph=0, ppw=0),
    "L2-C3-pool2s1p1": dict(c=3, h=2, w=3, lanes=2, u_width=4, a_width=5, k_width=6,
                            pkh=2, pkw=2, psh=1, psw=1, pph=1, ppw=1, addr_width=6,
                            out_row_width=6),
}


def _prove(dut: Accum, bias_words: list[int], tmp_path) -> None:
    """check_equivalence of ``dut`` against snn_accum.v with ``bias_words`` in BIAS_FILE."""
    write_mem(tmp_path / "bias.mem", bias_words, dut.lanes * dut.k_width)
    pkh, pkw, psh, psw, pph, ppw = dut.pool
    params = dict(C=dut.c, H=dut.h, W=dut.w, LANES=dut.lanes, U_WIDTH=dut.u_width,
                  A_WIDTH=dut.a_width, K_WIDTH=dut.k_width, PKH=pkh, PKW=pkw, PSH=psh,
                  PSW=psw, PPH=pph, PPW=ppw, OH=dut.oh, OW=dut.ow, ADDR_WIDTH=dut.addr_width,
                  OUT_ROW_WIDTH=dut.out_row_width, BIAS_FILE="bias.mem")
    renames = [(f"u.{r}", r) for r in top_regs(dut)]
    renames += [(f"u.mem[{i}]", f"bank[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_accum_formally_equivalent_to_the_verilog(name, tmp_path):
    cfg = EQUIV_CONFIGS[name]
    words = _bias_words(cfg, _random_bias(random.Random(name), cfg["c"], cfg["k_width"]))
    dut = Accum(**cfg, bias_init=words)
    _prove(dut, words, tmp_path)


def test_accum_equivalence_proof_sees_a_wrong_bias(tmp_path):
    """The biases are constants of both designs (Yosys folds the ROMs): the proof compares them
    through bias_q, so a gate with another bias (here in the second lane of the second channel
    group, the last channel) is not equivalent."""
    cfg = EQUIV_CONFIGS["L4-C6-pool2s2"]
    bias = [5, -3, 0, 7, 1, -2]
    dut = Accum(**cfg, bias_init=_bias_words(cfg, bias))
    with pytest.raises(AssertionError, match="not proven equivalent"):
        _prove(dut, _bias_words(cfg, [5, -3, 0, 7, 1, -1]), tmp_path)
