"""Static checks of the hand-written RTL in snngen/backends/verilog/rtl/:

* ``verilator --lint-only -Wall`` (the venv's pinned Verilator) in Verilog-2005 mode, and
  ``iverilog -g2005 -Wall``, on every file with several parameter sets: no warning at all
  (inline ``verilator lint_off`` with a reason is the only allowed waiver);
* a bad parameter set fails elaboration in both tools with a message naming the rule;
* a built wheel ships the RTL and ``rtl_dir()`` finds it there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import runner

from snngen.resources import rtl_dir

ROOT = Path(__file__).resolve().parent.parent

# parameter sets per module; every .v file in snngen/backends/verilog/rtl must have at least one
LINT_PARAMS: dict[str, list[dict[str, object]]] = {
    "snn_fifo": [
        {},
        {"DEPTH": 2, "DATA_WIDTH": 1},
        {"DEPTH": 4, "DATA_WIDTH": 24},
        {"DEPTH": 1024, "DATA_WIDTH": 64},
        {"DEPTH": 3, "DATA_WIDTH": 2},
        {"DEPTH": 4610, "DATA_WIDTH": 13},
    ],
    "snn_rom": [
        {"INIT_FILE": "weights.mem"},
        {"INIT_FILE": "w.mem", "DATA_WIDTH": 13, "DEPTH": 100, "ADDR_WIDTH": 7},
        {"INIT_FILE": "w.mem", "DATA_WIDTH": 24, "DEPTH": 37, "ADDR_WIDTH": 9},
        {"INIT_FILE": "w.mem", "DATA_WIDTH": 1, "DEPTH": 2},
        {"INIT_FILE": "w.mem", "DATA_WIDTH": 64, "DEPTH": 3, "ADDR_WIDTH": 32},
    ],
    "snn_if_array": [
        {"K_INIT_FILE": "k.mem"},
        {"K_INIT_FILE": "k.mem", "N": 13, "LANES": 4, "V_WIDTH": 10, "W_WIDTH": 4,
         "K_WIDTH": 6, "THRESHOLD": 50, "HAS_VMIN": 1, "VMIN": -20, "V0": 3},
        {"K_INIT_FILE": "k.mem", "N": 2, "LANES": 2, "INDEX_WIDTH": 8, "ADDR_WIDTH": 5,
         "V_WIDTH": 32, "K_WIDTH": 32, "W_WIDTH": 32},
        {"K_INIT_FILE": "k.mem", "N": 100, "LANES": 1, "SPIKING": 0, "K_WIDTH": 24,
         "V_WIDTH": 24},
        {"K_INIT_FILE": "k.mem", "N": 37, "LANES": 8, "K_WIDTH": 4, "V_WIDTH": 12,
         "W_WIDTH": 3},
        # more lanes than 2^INDEX_WIDTH (a layer of 3 neurons on 16 lanes; found by make fuzz)
        {"K_INIT_FILE": "k.mem", "N": 3, "LANES": 16},
    ],
    "snn_router": [
        {"WEIGHT_FILE": "w.mem"},
        {"WEIGHT_FILE": "w.mem", "CIN": 3, "H": 7, "W": 5, "COUT": 4, "OH": 4, "OW": 3,
         "KH": 3, "KW": 3, "SH": 2, "SW": 2, "PH": 1, "PW": 1, "LANES": 2, "W_WIDTH": 6},
        {"WEIGHT_FILE": "w.mem", "CIN": 2, "H": 6, "W": 5, "COUT": 3, "OH": 6, "OW": 5,
         "PH": 1, "PW": 1, "LANES": 4, "W_WIDTH": 8, "VALUE_WIDTH": 8, "U_WIDTH": 16,
         "IN_INDEX_WIDTH": 9, "ADDR_WIDTH": 7},
        {"WEIGHT_FILE": "w.mem", "CIN": 2, "H": 6, "W": 9, "COUT": 3, "OH": 7, "OW": 4,
         "KH": 2, "KW": 4, "SW": 3, "PH": 1, "PW": 2, "LANES": 8, "W_WIDTH": 3,
         "VALUE_WIDTH": 2, "U_WIDTH": 5},
        {"WEIGHT_FILE": "w.mem", "CIN": 1, "H": 1, "W": 1, "COUT": 1, "OH": 1, "OW": 1,
         "KH": 1, "KW": 1, "LANES": 8, "W_WIDTH": 32, "VALUE_WIDTH": 32, "U_WIDTH": 64,
         "IN_INDEX_WIDTH": 30, "ADDR_WIDTH": 30},
        {"WEIGHT_FILE": "w.mem", "CIN": 20, "H": 1, "W": 1, "COUT": 1, "OH": 1, "OW": 10,
         "KH": 1, "KW": 10, "PW": 9, "LANES": 4},
    ],
    "snn_accum": [
        {"BIAS_FILE": "b.mem"},
        {"BIAS_FILE": "b.mem", "C": 2, "H": 7, "W": 5, "LANES": 4, "PKH": 3, "PKW": 3,
         "PSH": 2, "PSW": 2, "PPH": 1, "PPW": 1, "U_WIDTH": 22, "A_WIDTH": 26, "K_WIDTH": 27},
        {"BIAS_FILE": "b.mem", "C": 1, "H": 2, "W": 1, "LANES": 2, "U_WIDTH": 12,
         "A_WIDTH": 12, "K_WIDTH": 8},
        {"BIAS_FILE": "b.mem", "C": 3, "H": 5, "W": 3, "LANES": 8, "PKH": 2, "PKW": 3, "PSH": 1,
         "PSW": 2, "PPH": 1, "PPW": 1, "ADDR_WIDTH": 7, "OUT_ROW_WIDTH": 10, "A_WIDTH": 32,
         "K_WIDTH": 32, "U_WIDTH": 1},
        {"BIAS_FILE": "b.mem", "C": 16, "H": 28, "W": 28, "LANES": 2, "PKH": 2, "PKW": 2,
         "PSH": 2, "PSW": 2, "U_WIDTH": 16, "A_WIDTH": 24, "K_WIDTH": 24},
        {"BIAS_FILE": "b.mem", "C": 128, "H": 1, "W": 1, "LANES": 4},
        {"BIAS_FILE": "b.mem", "C": 6, "H": 2, "W": 5, "LANES": 4, "OUT_ROW_WIDTH": 8},
    ],
    "snn_maxpool_gate": [
        {},
        {"C": 2, "H": 7, "W": 5, "KH": 3, "KW": 3, "SH": 2, "SW": 2, "PH": 1, "PW": 1, "OH": 4,
         "OW": 3, "CNT_WIDTH": 6, "IN_INDEX_WIDTH": 10, "OUT_INDEX_WIDTH": 8},
        {"C": 1, "H": 1, "W": 1, "KH": 1, "KW": 1, "SH": 1, "SW": 1, "PH": 0, "PW": 0, "OH": 1,
         "OW": 1, "CNT_WIDTH": 1, "IN_INDEX_WIDTH": 1, "OUT_INDEX_WIDTH": 1},
        {"C": 16, "H": 28, "W": 28, "KH": 2, "KW": 2, "SH": 2, "SW": 2, "PH": 0, "PW": 0,
         "OH": 14, "OW": 14, "CNT_WIDTH": 9, "IN_INDEX_WIDTH": 14, "OUT_INDEX_WIDTH": 12},
        {"C": 3, "H": 13, "W": 11, "KH": 3, "KW": 2, "SH": 2, "SW": 3, "PH": 1, "PW": 1,
         "OH": 7, "OW": 4, "CNT_WIDTH": 32, "IN_INDEX_WIDTH": 32, "OUT_INDEX_WIDTH": 32},
    ],
    "snn_readout": [
        {},
        {"F": 2, "CNT_WIDTH": 1, "V_WIDTH": 2},
        {"F": 37, "INDEX_WIDTH": 8, "CLASS_WIDTH": 6, "BY_COUNT": 0, "V_WIDTH": 32},
        {"F": 5, "CLASS_WIDTH": 8, "CNT_WIDTH": 32},
    ],
    "snn_control": [
        {},
        {"STAGES": 1, "T_WIDTH": 1, "T_MAX": 1, "STEP_WIDTH": 1},
        {"STAGES": 5, "T_WIDTH": 8, "T_MAX": 255, "STEP_WIDTH": 9},
        {"STAGES": 7, "T_WIDTH": 4, "T_MAX": 10, "STEP_WIDTH": 5},
    ],
    # the stage wrappers (their blocks come from the same directory)
    "snn_layer": [
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem"},
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem", "R_CIN": 3, "R_H": 7, "R_W": 5,
         "R_COUT": 4, "R_OH": 4, "R_OW": 3, "R_KH": 3, "R_KW": 3, "R_SH": 2, "R_SW": 2,
         "R_PH": 1, "R_PW": 1, "R_IN_INDEX_WIDTH": 7, "N": 48, "LANES": 4, "W_WIDTH": 5,
         "V_WIDTH": 14, "K_WIDTH": 6, "THRESHOLD": 90, "V0": -4, "HAS_VMIN": 1, "VMIN": -100,
         "INDEX_WIDTH": 6, "ADDR_WIDTH": 4},
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem", "R_CIN": 20, "R_H": 1, "R_W": 1,
         "R_COUT": 10, "R_OH": 1, "R_OW": 1, "R_KH": 1, "R_KW": 1,
         "R_IN_INDEX_WIDTH": 5, "N": 10, "LANES": 2, "SPIKING": 0, "INDEX_WIDTH": 4,
         "ADDR_WIDTH": 3},
    ],
    "snn_input_layer": [
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem", "A_BIAS_FILE": "b.mem"},
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem", "A_BIAS_FILE": "b.mem", "N_IN": 784,
         "R_H": 28, "R_W": 28, "R_COUT": 6, "R_OH": 24, "R_OW": 24, "R_KH": 5, "R_KW": 5,
         "R_IN_INDEX_WIDTH": 10, "A_ADDR_WIDTH": 11, "A_WIDTH": 19, "A_PKH": 2, "A_PKW": 2,
         "A_PSH": 2, "A_PSW": 2, "N": 864, "LANES": 2, "V_WIDTH": 26, "K_WIDTH": 19,
         "THRESHOLD": 116769, "V0": 58385, "INDEX_WIDTH": 10, "OH": 12, "OW": 12},
        {"R_WEIGHT_FILE": "w.mem", "K_INIT_FILE": "k.mem", "A_BIAS_FILE": "b.mem", "N_IN": 784,
         "R_CIN": 784, "R_H": 1, "R_W": 1, "R_COUT": 128, "R_OH": 1, "R_OW": 1, "R_KH": 1,
         "R_KW": 1, "R_IN_INDEX_WIDTH": 10, "A_ADDR_WIDTH": 5, "N": 128, "LANES": 4,
         "INDEX_WIDTH": 7, "OH": 1, "OW": 1},
    ],
    "snn_pool_layer": [
        {},
        {"C": 16, "H": 8, "W": 8, "OH": 4, "OW": 4, "CNT_WIDTH": 8, "IN_INDEX_WIDTH": 10,
         "OUT_INDEX_WIDTH": 8},
        {"C": 2, "H": 7, "W": 5, "KH": 3, "KW": 3, "SH": 2, "SW": 2, "PH": 1, "PW": 1, "OH": 4,
         "OW": 3, "CNT_WIDTH": 6, "IN_INDEX_WIDTH": 7, "OUT_INDEX_WIDTH": 5},
    ],
}

# parameter sets that must fail elaboration, and the words the failure must show
BAD_PARAMS: list[tuple[str, dict[str, object], str]] = [
    ("snn_fifo", {"DEPTH": 1}, "DEPTH_must_be_at_least_2"),
    ("snn_fifo", {"DEPTH": 0}, "DEPTH_must_be_at_least_2"),
    ("snn_fifo", {"DATA_WIDTH": 0}, "DATA_WIDTH_must_be_at_least_1"),
    ("snn_rom", {}, "INIT_FILE_must_name_a_mem_file"),
    ("snn_rom", {"INIT_FILE": "w.mem", "DEPTH": 100, "ADDR_WIDTH": 6},
     "ADDR_WIDTH_too_small_for_DEPTH"),
    ("snn_rom", {"INIT_FILE": "w.mem", "DEPTH": 1}, "DEPTH_must_be_at_least_2"),
]


def _cases() -> list[tuple[str, dict[str, object]]]:
    return [(m, p) for m, sets in LINT_PARAMS.items() for p in sets]


def _id(case: tuple[str, dict[str, object]]) -> str:
    module, params = case
    return module + "".join(f"-{k}{v}" for k, v in params.items() if not k.endswith("INIT_FILE"))


def test_every_rtl_file_is_linted():
    files = sorted(p.stem for p in rtl_dir().glob("*.v"))
    assert files == sorted(LINT_PARAMS), "add lint parameter sets for every file in snngen/rtl"


@pytest.mark.parametrize("case", _cases(), ids=[_id(c) for c in _cases()])
def test_verilator_lint_clean(case, tmp_path):
    module, params = case
    r = runner.lint_verilator(module, params, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "%Warning" not in out and "%Error" not in out, out


@pytest.mark.parametrize("case", _cases(), ids=[_id(c) for c in _cases()])
def test_icarus_verilog_2005_clean(case, tmp_path):
    module, params = case
    r = runner.lint_iverilog(module, params, tmp_path)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and out == "", out


def test_waivers_are_inline_named_and_explained():
    # the lint runs above pass no -Wno-* option and no .vlt file; a waiver is only
    # /* verilator lint_off CODE */ // reason   on the line it concerns
    waiver = re.compile(r"/\*\s*verilator lint_off [A-Z][A-Z0-9]*\s*\*/\s*//\s*\S")
    for path in rtl_dir().glob("*.v"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if "lint_off" in line:
                assert waiver.search(line), f"{path.name}:{n}: unnamed or unexplained waiver"


@pytest.mark.parametrize(("module", "params", "message"), BAD_PARAMS,
                         ids=[_id((m, p)) or m for m, p, _ in BAD_PARAMS])
@pytest.mark.parametrize("tool", ["verilator", "iverilog"])
def test_bad_parameters_fail_elaboration(tool, module, params, message, tmp_path):
    runner.check_bad_parameters(tool, module, params, message, tmp_path)
