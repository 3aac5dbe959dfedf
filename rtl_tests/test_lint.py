"""Static checks of the hand-written RTL in snngen/rtl/:

* ``verilator --lint-only -Wall`` (the venv's pinned Verilator) in Verilog-2005 mode, and
  ``iverilog -g2005 -Wall``, on every file with several parameter sets: no warning at all
  (inline ``verilator lint_off`` with a reason is the only allowed waiver);
* a bad parameter set fails elaboration in both tools with a message naming the rule;
* a built wheel ships the RTL and ``rtl_dir()`` finds it there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import runner

from snngen.hwfiles import rtl_dir

ROOT = Path(__file__).resolve().parent.parent

# parameter sets per module; every .v file in snngen/rtl must have at least one
LINT_PARAMS: dict[str, list[dict[str, object]]] = {
    "snn_fifo": [
        {},
        {"DEPTH": 2, "DATA_WIDTH": 1},
        {"DEPTH": 4, "DATA_WIDTH": 24},
        {"DEPTH": 1024, "DATA_WIDTH": 64},
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
    ],
}

# parameter sets that must fail elaboration, and the words the failure must show
BAD_PARAMS: list[tuple[str, dict[str, object], str]] = [
    ("snn_fifo", {"DEPTH": 3}, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    ("snn_fifo", {"DEPTH": 6}, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    ("snn_fifo", {"DEPTH": 1}, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    ("snn_fifo", {"DATA_WIDTH": 0}, "DATA_WIDTH_must_be_at_least_1"),
    ("snn_rom", {}, "INIT_FILE_must_name_a_mem_file"),
    ("snn_rom", {"INIT_FILE": "w.mem", "DEPTH": 100, "ADDR_WIDTH": 6},
     "ADDR_WIDTH_too_small_for_DEPTH"),
    ("snn_rom", {"INIT_FILE": "w.mem", "DEPTH": 1}, "DEPTH_must_be_at_least_2"),
]


def _literal(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v)


def _verilator(module: str, params: dict[str, object], cwd: Path) -> subprocess.CompletedProcess:
    exe = runner.verilator_exe()
    cmd = [exe, "--lint-only", "-Wall", "--default-language", "1364-2005",
           "--top-module", module, *[f"-G{k}={_literal(v)}" for k, v in params.items()],
           str(rtl_dir() / f"{module}.v")]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def _iverilog(module: str, params: dict[str, object], cwd: Path) -> subprocess.CompletedProcess:
    runner.require_simulator("icarus")
    cmd = ["iverilog", "-g2005", "-Wall", "-o", str(cwd / "lint.vvp"), "-s", module,
           *[f"-P{module}.{k}={_literal(v)}" for k, v in params.items()],
           str(rtl_dir() / f"{module}.v")]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": runner.search_path()})


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
    r = _verilator(module, params, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "%Warning" not in out and "%Error" not in out, out


@pytest.mark.parametrize("case", _cases(), ids=[_id(c) for c in _cases()])
def test_icarus_verilog_2005_clean(case, tmp_path):
    module, params = case
    r = _iverilog(module, params, tmp_path)
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
    r = (_verilator if tool == "verilator" else _iverilog)(module, params, tmp_path)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr


@pytest.mark.slow
def test_wheel_ships_the_rtl(tmp_path):
    # build the wheel with the project's own backend, offline (hatchling is a dev dependency)
    subprocess.run([sys.executable, "-c",
                    "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("snngen-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for v in rtl_dir().glob("*.v"):
            assert f"snngen/rtl/{v.name}" in names
            assert z.read(f"snngen/rtl/{v.name}") == v.read_bytes()
        assert "snngen/hwfiles.py" in names
        z.extractall(tmp_path / "site")
    # rtl_dir() of the unpacked wheel points inside it
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from snngen.hwfiles import rtl_dir; print(rtl_dir())")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert Path(out) == tmp_path / "site" / "snngen" / "rtl"
    assert (Path(out) / "snn_fifo.v").is_file() and (Path(out) / "snn_rom.v").is_file()
