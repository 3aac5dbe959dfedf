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
