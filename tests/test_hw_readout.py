"""What only the Amaranth twin of snn_readout has to show:
snngen.backends.amaranth.readout.Readout refuses bad parameters with the Verilog's rule words,
takes numpy integers and the edge parameters, has the hand-written module's ports, converts to
Verilog that is lint-clean with exactly the listed waivers, and is formally equivalent (Yosys
equiv_make + equiv_induct) to snngen/backends/verilog/rtl/snn_readout.v cycle for cycle (every
register and output).

Its behaviour (the class against the golden model with ties, the counts, the exact F + 2 cycle
scan, stalls, junk start/clear, hand-picked tie cases, resets) is checked by the one cocotb bench
of the block, rtl_tests/cocotb_readout.py, run on both backends (rtl_tests/test_readout.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.readout import Readout

READOUT_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                   "CASEINCOMPLETE")
assert set(READOUT_WAIVERS) <= set(LINT_REASONS)


_OK = dict(f=10, cnt_width=8, v_width=16)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"f": 1}, "F_must_be_at_least_2"),
    ({"cnt_width": 0}, "CNT_WIDTH_must_be_1_to_32"),
    ({"cnt_width": 33}, "CNT_WIDTH_must_be_1_to_32"),
    ({"v_width": 1}, "V_WIDTH_must_be_2_to_32"),
    ({"v_width": 33}, "V_WIDTH_must_be_2_to_32"),
    ({"index_width": 3}, "INDEX_WIDTH_too_small_for_F"),
    ({"class_width": 3}, "CLASS_WIDTH_too_small_for_F"),
    ({"class_width": 33}, "CLASS_WIDTH_too_small_for_F"),
    ({"by_count": 2}, "BY_COUNT_must_be_0_or_1"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_readout_bad_parameters(params, rule):
    with pytest.raises(ValueError, match=f"snn_readout_ERROR_{rule}: {next(iter(params))}="):
        Readout(**{**_OK, **params})


def test_readout_defaults_and_edge_parameters():
    dut = Readout(np.int64(10), 8, 16)
    assert (dut.index_width, dut.class_width, dut.by_count) == (4, 4, True)
    Fragment.get(dut, None)
    dut = Readout(2, 1, 2, by_count=False)
    assert (dut.index_width, dut.class_width) == (1, 1)
    Fragment.get(dut, None)  # elaborates
    Fragment.get(Readout(37, 32, 32, index_width=32, class_width=32), None)


def test_readout_ports_match_the_verilog():
    dut = Readout(10, 8, 16, index_width=5, class_width=6, by_count=0)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "clear": (1, "i"), "ev_valid": (1, "i"), "ev_index": (5, "i"), "ev_eot": (1, "i"),
        "start": (1, "i"), "dbg_rd_en": (1, "o"), "dbg_rd_index": (5, "o"),
        "dbg_rd_data": (16, "i"), "m_valid": (1, "o"), "m_ready": (1, "i"),
        "m_class": (6, "o"), "m_counts": (80, "o"), "busy": (1, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_readout\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_readout
LINT_CONFIGS = {
    "default": dict(f=10, cnt_width=8, v_width=16),
    "F2-C1-V2": dict(f=2, cnt_width=1, v_width=2),
    "F37-wide": dict(f=37, cnt_width=8, v_width=32, index_width=8, class_width=6, by_count=0),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_readout_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(Readout(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_readout", READOUT_WAIVERS, tmp_path)


_REGS = ["run_reg", "rd_idx_reg", "cmp_reg", "cmp_idx_reg", "cmp_last_reg", "cap_reg",
         "cap_idx_reg", "cap_last_reg", "cap_v_reg", "have_reg", "best_idx_reg", "best_v_reg",
         "m_valid_reg"]
EQUIV_CONFIGS = {
    "F10-C3-V4-count": dict(f=10, cnt_width=3, v_width=4, by_count=1),
    "F3-C2-V3-membrane": dict(f=3, cnt_width=2, v_width=3, by_count=0),
    "F5-C2-V2-wide-class": dict(f=5, cnt_width=2, v_width=2, index_width=3, class_width=4,
                                by_count=1),
    "F4-C2-V3-narrow-class": dict(f=4, cnt_width=2, v_width=3, index_width=4, class_width=2,
                                  by_count=1),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_readout_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = Readout(**EQUIV_CONFIGS[name])
    params = dict(F=dut.f, CNT_WIDTH=dut.cnt_width, V_WIDTH=dut.v_width,
                  INDEX_WIDTH=dut.index_width, CLASS_WIDTH=dut.class_width,
                  BY_COUNT=int(dut.by_count))
    # best_cnt_reg is only read when by count (Yosys removes it from the Verilog otherwise)
    regs = [*_REGS, "best_cnt_reg", "cap_cnt_reg"] if dut.by_count else _REGS
    renames = [(f"u.{r}", r) for r in regs] + [(f"u.cnt[{i}]", f"cnt_{i}")
                                               for i in range(dut.f)]
    # With F not a power of two, the Verilog reads an x for a count index >= F; the scan
    # compares such an index only in states that no run reaches, but the induction must rule
    # them out: rd_idx_reg counting up from an index >= F to 2**INDEX_WIDTH, so many cycles
    seq = max(3, (1 << dut.index_width) - dut.f + 2)
    check_equivalence(dut, params, renames, tmp_path, seq=seq)
