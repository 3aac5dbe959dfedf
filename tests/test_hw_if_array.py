"""What only the Amaranth twin of snn_if_array has to show:
snngen.backends.amaranth.if_array.IfArray refuses bad parameters with the Verilog's rule words
(and accepts the limits), has the hand-written module's ports, converts to Verilog that is
lint-clean with exactly the listed waivers, and is formally equivalent (Yosys equiv_induct) to
snngen/backends/verilog/rtl/snn_if_array.v cycle for cycle (every register, memory word and
output).

Its behaviour (images of timesteps with update hazards, sweeps under backpressure with the exact
cycle counts, K writes, clears, resets, the readies' priority, no combinational output paths)
is checked by the one cocotb bench of the block, rtl_tests/cocotb_if_array.py, run on both
backends (rtl_tests/test_if_array.py).
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.if_array import IfArray
from snngen.backends.verilog.memfile import write_mem
from snngen.hwmodel.blocks.banks import bank_rows, k_rows

IF_ARRAY_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                    "CASEINCOMPLETE")
assert set(IF_ARRAY_WAIVERS) <= set(LINT_REASONS)


def _random_k(rng: random.Random, n: int, kw: int) -> list[int]:
    return [rng.randint(-(1 << (kw - 1)), (1 << (kw - 1)) - 1) for _ in range(n)]


def _random_rows(rng: random.Random, cfg: dict) -> list[int]:
    """Random K of ``cfg``'s neurons as the K memory's row words (banks.k_rows), IfArray's
    k_init and the Verilog's K_INIT_FILE."""
    k = _random_k(rng, cfg["n"], cfg["k_width"])
    return k_rows(k, cfg["lanes"], cfg.get("plane", 1), cfg["k_width"])


# 10 neurons on 2 lanes: 5 bank rows of 2 8-bit K fields
_OK = dict(n=10, lanes=2, w_width=6, v_width=12, k_width=8, threshold=100, v0=0, v_min=None,
           spiking=1, k_init=[0] * 5)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"n": 1, "k_init": [0]}, "N_must_be_at_least_2"),
    ({"lanes": 3}, "LANES_must_be_a_power_of_two"),
    ({"lanes": 0}, "LANES_must_be_a_power_of_two"),
    ({"plane": 3}, "PLANE_must_be_positive_and_divide_N"),
    ({"plane": 0}, "PLANE_must_be_positive_and_divide_N"),
    ({"plane": 20}, "PLANE_must_be_positive_and_divide_N"),
    ({"v_width": 33}, "V_WIDTH_must_be_2_to_32"),
    ({"v_width": 1, "w_width": 1}, "V_WIDTH_must_be_2_to_32"),
    ({"w_width": 13}, "W_WIDTH_must_be_1_to_V_WIDTH"),
    ({"w_width": 0}, "W_WIDTH_must_be_1_to_V_WIDTH"),
    ({"k_width": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"k_width": 33}, "K_WIDTH_must_be_1_to_32"),
    ({"threshold": 0}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"threshold": 2048}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"v0": -2049}, "V0_must_fit_V_WIDTH"),
    ({"v0": 2048}, "V0_must_fit_V_WIDTH"),
    ({"v_min": 2048}, "VMIN_must_fit_V_WIDTH"),
    ({"v_min": -2049}, "VMIN_must_fit_V_WIDTH"),
    ({"spiking": 2}, "SPIKING_must_be_0_or_1"),
    ({"index_width": 3}, "INDEX_WIDTH_must_be_clog2_N_to_32"),
    ({"index_width": 33}, "INDEX_WIDTH_must_be_clog2_N_to_32"),
    ({"addr_width": 2}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    # 2 channels of 5 on one lane: 10 rows, not 8
    ({"addr_width": 3, "plane": 5, "lanes": 1}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    # one word per bank row (5), each an unsigned LANES*K_WIDTH = 16-bit row of fields
    ({"k_init": [0] * 10}, "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
    ({"k_init": [0] * 4}, "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
    ({"k_init": [0] * 4 + [1 << 16]}, "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
    ({"k_init": [0] * 4 + [-1]}, "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
    # 2 channels of 5 on one lane: 10 rows of one 8-bit field
    ({"k_init": [0] * 5, "lanes": 1, "plane": 5},
     "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
    ({"k_init": [0] * 9 + [256], "lanes": 1, "plane": 5},
     "K_INIT_must_hold_DEPTH_USED_rows_of_LANES_K_WIDTH_bits"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_if_array_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_if_array_ERROR_{rule}: .*{next(iter(params))}="):
        IfArray(**{**_OK, **params})


def test_if_array_good_edge_parameters():
    # the limits themselves are accepted; numpy integers too
    for params in [
        # the row words span 0 .. 2**(LANES*K_WIDTH) - 1 (numpy's too)
        {"threshold": 2047, "v0": -2048, "v_min": 2047, "index_width": 32, "addr_width": 4,
         "k_init": np.array([0, 0xffff, 0x8080, 0x7f7f, 1], dtype=np.uint64)},
        # 2 neurons on 4 lanes: one row of 4 fields, 2 of them unused
        {"n": np.int64(2), "lanes": 4, "v_width": 2, "w_width": 2, "threshold": 1,
         "k_init": [(1 << 32) - 1]},
        # 2 channels of 5 on 2 lanes: 5 rows
        {"plane": np.int64(5), "addr_width": 3},
        # one channel of 10 (the whole population) on 4 lanes: 10 rows
        {"plane": 10, "lanes": 4, "addr_width": 4, "k_init": [0] * 10},
    ]:
        params = {**_OK, **params}
        dut = IfArray(**params)
        Fragment.get(dut, None)  # elaborates
        assert dut.k_init == [int(k) for k in params["k_init"]]


@pytest.mark.parametrize(("n", "lanes", "plane", "rows"), [
    (13, 4, 1, 4), (30, 4, 5, 10), (9, 2, 3, 6), (10, 4, 10, 10), (6, 4, 1, 2), (3, 16, 1, 1),
    (8, 1, 4, 8)])
def test_if_array_depth_is_the_bank_model(n, lanes, plane, rows):
    # the bank rows (also a clear's cycles) and the default row address width follow
    # snngen.hwmodel.blocks.banks: ceil(CH/LANES)*PLANE
    dut = IfArray(n=n, lanes=lanes, plane=plane, w_width=4, v_width=8, k_width=4,
                  threshold=10, v0=0, v_min=None, spiking=1, k_init=[0] * rows)
    assert dut.depth_used == bank_rows(n, lanes, plane) == rows
    assert dut.depth == max(rows, 2)
    assert dut.addr_width == dut.mem_aw == max((rows - 1).bit_length(), 1)
    # a K write is one bank row of LANES fields
    assert len(dut.k_wr_row) == dut.addr_width
    assert len(dut.k_wr_data.as_value()) == lanes * 4
    Fragment.get(dut, None)  # elaborates


def test_if_array_ports_match_the_verilog():
    dut = IfArray(n=15, lanes=4, w_width=6, v_width=16, k_width=8, threshold=100, v0=7,
                  v_min=-60, spiking=1, index_width=6, addr_width=3, k_init=[1] * 4)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear_valid": (1, "i"), "clear_ready": (1, "o"), "upd_valid": (1, "i"),
        "upd_ready": (1, "o"), "upd_addr": (3, "i"), "upd_weight": (24, "i"),
        "k_wr_en": (1, "i"), "k_wr_row": (3, "i"), "k_wr_data": (32, "i"),
        "sweep_valid": (1, "i"), "sweep_ready": (1, "o"), "m_valid": (1, "o"),
        "m_ready": (1, "i"), "m_index": (6, "o"), "m_eot": (1, "o"), "busy": (1, "o"),
        "dbg_rd_en": (1, "i"), "dbg_rd_index": (6, "i"), "dbg_rd_data": (16, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_if_array\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_if_array
LINT_CONFIGS = {
    "default": dict(n=16, lanes=1, w_width=8, v_width=16, k_width=16, threshold=100, v0=0,
                    v_min=None, spiking=1),
    "L4-N13": dict(n=13, lanes=4, w_width=4, v_width=10, k_width=6, threshold=50, v0=3,
                   v_min=-20, spiking=1),
    "L2-N2-wide": dict(n=2, lanes=2, w_width=32, v_width=32, k_width=32, threshold=100, v0=0,
                       v_min=None, spiking=1, index_width=8, addr_width=5),
    "L1-N100-readout": dict(n=100, lanes=1, w_width=8, v_width=24, k_width=24, threshold=100,
                            v0=0, v_min=None, spiking=0),
    "L8-N37": dict(n=37, lanes=8, w_width=3, v_width=12, k_width=4, threshold=100, v0=0,
                   v_min=None, spiking=1),
    "L4-N30-P5": dict(n=30, lanes=4, plane=5, w_width=6, v_width=16, k_width=8, threshold=100,
                      v0=7, v_min=-60, spiking=1),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_if_array_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(1)
    texts = {name: to_verilog(IfArray(**cfg, k_init=_random_rows(rng, cfg)),
                              flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_if_array", IF_ARRAY_WAIVERS, tmp_path)


# the Verilog's registers (instance u) -> IfArray's names (the same)
_TOP_REGS = ["state_reg", "clr_row_reg", "m_valid_reg", "m_eot_reg", "m_index_reg",
             "o_mask_reg", "o_eot_reg", "o_idx_reg", "a_run_reg", "a_eot_reg", "a_row_reg",
             "a_p_reg", "a_idx_reg", "a_last_g_reg", "b_valid_reg", "b_eot_reg", "b_idx_reg",
             "b_last_g_reg", "b_row_reg", "k_q", "dbg_lane_reg", "s1_valid_reg", "s1_row_reg",
             "s1_w_reg", "fwd_reg", "wb_data_reg", "rd_q"]
# a_last_g_reg and b_last_g_reg only choose the lanes of the last channel group that may spike:
# when it is full (CH a multiple of LANES) or the population never fires they drive nothing and
# Yosys removes them from both designs
_LAST_G_REGS = ("a_last_g_reg", "b_last_g_reg")


def _top_regs(dut: IfArray) -> list[str]:
    """The registers of ``_TOP_REGS`` that ``dut``'s configuration keeps."""
    unused = dut.last_lanes == (1 << dut.lanes) - 1 or not dut.spiking
    return [r for r in _TOP_REGS if not (unused and r in _LAST_G_REGS)]


EQUIV_CONFIGS = {
    "L2-N7-vmin": dict(n=7, lanes=2, w_width=3, v_width=8, k_width=4, threshold=20, v0=1,
                       v_min=-9, spiking=1),
    "L4-N11-readout": dict(n=11, lanes=4, w_width=4, v_width=10, k_width=6, threshold=50, v0=-3,
                           v_min=None, spiking=0, index_width=6, addr_width=3),
    "L1-N5": dict(n=5, lanes=1, w_width=5, v_width=6, k_width=7, threshold=31, v0=0,
                  v_min=None, spiking=1),
    "L2-N2-W=V": dict(n=2, lanes=2, w_width=16, v_width=16, k_width=16, threshold=100, v0=0,
                      v_min=-(1 << 15), spiking=1, index_width=8, addr_width=5),
    # channels of PLANE > 1 neurons: 6 channels of 5 on 4 lanes (the second channel group half
    # full), 3 channels of 3 on 2 lanes (wider index and address ports than needed)
    "L4-N30-P5": dict(n=30, lanes=4, plane=5, w_width=4, v_width=8, k_width=5, threshold=60,
                      v0=2, v_min=-30, spiking=1),
    "L2-N9-P3": dict(n=9, lanes=2, plane=3, w_width=3, v_width=6, k_width=4, threshold=1,
                     v0=0, v_min=-3, spiking=1, index_width=5, addr_width=4),
    # one channel of 4 (a single channel group, LAST_G_ROW0 = 0, and DEPTH_USED = 2**MEM_AW:
    # the row after the last wraps to 0)
    "L2-N4-P4": dict(n=4, lanes=2, plane=4, w_width=3, v_width=6, k_width=4, threshold=9,
                     v0=0, v_min=None, spiking=1),
    # 8 channels of 2 on 4 lanes: every channel group full (LAST_LANES = every lane)
    "L4-N16-P2": dict(n=16, lanes=4, plane=2, w_width=3, v_width=7, k_width=4, threshold=12,
                      v0=-1, v_min=None, spiking=1),
    # 3 channels of 2 on 8 lanes: one group, 5 lanes without a neuron, and the index step
    # between groups (LANES*PLANE - PLANE + 1 = 15) wider than INDEX_WIDTH = 3
    "L8-N6-P2": dict(n=6, lanes=8, plane=2, w_width=2, v_width=5, k_width=3, threshold=5,
                     v0=0, v_min=-4, spiking=1),
    # 2 channels of 3 on one lane: 6 rows
    "L1-N6-P3": dict(n=6, lanes=1, plane=3, w_width=3, v_width=6, k_width=4, threshold=7,
                     v0=0, v_min=None, spiking=1),
    # a positive floor: the clamp compares after the subtraction (the other floors are <= 0
    # and compare v + K beside it)
    "L2-N6-vmin-positive": dict(n=6, lanes=2, w_width=3, v_width=6, k_width=4, threshold=9,
                                v0=4, v_min=3, spiking=1),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_if_array_formally_equivalent_to_the_verilog(name, tmp_path):
    cfg = EQUIV_CONFIGS[name]
    # the K memory's row words, the same for both (IfArray's k_init, the Verilog's K_INIT_FILE)
    rows = _random_rows(random.Random(name), cfg)
    dut = IfArray(**cfg, k_init=rows)
    write_mem(tmp_path / "k.mem", rows, dut.lanes * dut.k_width)
    params = dict(N=dut.n, LANES=dut.lanes, PLANE=dut.plane, W_WIDTH=dut.w_width,
                  V_WIDTH=dut.v_width, K_WIDTH=dut.k_width, THRESHOLD=dut.threshold, V0=dut.v0,
                  HAS_VMIN=int(dut.v_min is not None), VMIN=dut.v_min or 0,
                  SPIKING=int(dut.spiking), INDEX_WIDTH=dut.index_width,
                  ADDR_WIDTH=dut.addr_width, K_INIT_FILE="k.mem")
    renames = [(f"u.{r}", r) for r in _top_regs(dut)]
    renames += [(f"u.kmem[{i}]", f"kmem[{i}]") for i in range(dut.depth)]
    renames += [(f"u.mem[{i}]", f"bank[{i}]") for i in range(dut.depth)]
    check_equivalence(dut, params, renames, tmp_path)
