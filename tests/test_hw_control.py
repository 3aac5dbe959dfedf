"""What only the Amaranth twin of snn_control has to show:
snngen.backends.amaranth.control.Control refuses bad parameters with the Verilog's rule words,
takes numpy integers and the limits of its parameters, has the hand-written module's ports,
converts to Verilog that is lint-clean with exactly the listed waivers, and is formally
equivalent (Yosys equiv_make + equiv_induct) to snngen/backends/verilog/rtl/snn_control.v cycle
for cycle (every register and output).

Its behaviour (the schedule of the header's contract against an independent model, with random
delays and junk pulses, exact step lengths, reset in every phase) is checked by the one cocotb
bench of the block, rtl_tests/cocotb_control.py, run on both backends (rtl_tests/test_control.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.control import Control

CONTROL_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
                   "CASEINCOMPLETE")
assert set(CONTROL_WAIVERS) <= set(LINT_REASONS)

_OK = dict(stages=3, t_width=8, t_max=128)
BAD_PARAMS: list[tuple[dict, str]] = [
    ({"stages": 0}, "STAGES_must_be_at_least_1"),
    ({"t_width": 0}, "T_WIDTH_must_be_1_to_24"),
    ({"t_width": 25}, "T_WIDTH_must_be_1_to_24"),
    ({"t_max": 0}, "T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1"),
    ({"t_max": 256}, "T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1"),
    ({"step_width": 7}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
    ({"step_width": 31}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
    ({"step_width": 8, "t_max": 254}, "STEP_WIDTH_too_small_for_T_plus_STAGES"),
]


@pytest.mark.parametrize(("params", "rule"), BAD_PARAMS,
                         ids=[f"{r}-{next(iter(p))}" for p, r in BAD_PARAMS])
def test_control_bad_parameters(params, rule):
    key = "step_width" if "step_width" in params else next(iter(params))
    with pytest.raises(ValueError, match=f"snn_control_ERROR_{rule}: {key}="):
        Control(**{**_OK, **params})


def test_control_defaults_and_edge_parameters():
    dut = Control(np.int64(3), 8, 128)
    assert dut.step_width == 9
    Fragment.get(dut, None)
    # the limits themselves are accepted
    for params in [dict(stages=2, t_width=8, t_max=254, step_width=8),
                   dict(stages=1, t_width=24, t_max=(1 << 24) - 1, step_width=30)]:
        Fragment.get(Control(**params), None)


def test_control_ports_match_the_verilog():
    dut = Control(4, 6, 50, 7)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {
        "start": (1, "i"), "timesteps": (6, "i"), "busy": (1, "o"), "done": (1, "o"),
        "clear": (1, "o"), "first_busy": (1, "i"), "rest_busy": (1, "i"), "load": (1, "o"),
        "load_done": (1, "i"),
        "go": (4, "o"), "stage_done": (4, "i"), "rd_start": (1, "o"), "rd_done": (1, "i"),
        "dbg_step": (7, "o"), "out_blocked": (4, "i"), "deadlock": (4, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_control\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


# the parameter sets of rtl_tests/test_lint.py for snn_control
LINT_CONFIGS = {
    "default": dict(stages=3, t_width=8, t_max=128),
    "S1-T1": dict(stages=1, t_width=1, t_max=1, step_width=1),
    "S5-T8-max255": dict(stages=5, t_width=8, t_max=255, step_width=9),
}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_control_verilog_lint(flat_ports, tmp_path):
    texts = {name: to_verilog(Control(**cfg), flat_ports=flat_ports)
             for name, cfg in LINT_CONFIGS.items()}
    check_lint(texts, "snn_control", CONTROL_WAIVERS, tmp_path)


_REGS = ["state_reg", "t_reg", "step_reg", "pending_reg", "go_reg", "clear_reg", "load_reg",
         "rd_start_reg", "done_reg", "act_reg", "deadlock_reg"]
EQUIV_CONFIGS = {
    "S3-T3-max5": dict(stages=3, t_width=3, t_max=5),
    "S1-T1-max1-W1": dict(stages=1, t_width=1, t_max=1, step_width=1),
    "S4-T2-max3-W3": dict(stages=4, t_width=2, t_max=3, step_width=3),
    "S2-T4-max15-W5": dict(stages=2, t_width=4, t_max=15, step_width=5),
}


@pytest.mark.parametrize("name", list(EQUIV_CONFIGS))
def test_control_formally_equivalent_to_the_verilog(name, tmp_path):
    dut = Control(**EQUIV_CONFIGS[name])
    params = dict(STAGES=dut.stages, T_WIDTH=dut.t_width, T_MAX=dut.t_max,
                  STEP_WIDTH=dut.step_width)
    # with one stage act_reg is never read, and Yosys removes it
    regs = [r for r in _REGS if r != "act_reg" or dut.stages > 1]
    check_equivalence(dut, params, [(f"u.{r}", r) for r in regs], tmp_path)
