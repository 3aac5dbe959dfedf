import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from snngen.resources import templates_dir

ROOT = Path(__file__).resolve().parent.parent


def test_templates_found_from_checkout():
    assert (templates_dir() / "README.md").is_file()


@pytest.mark.slow
def test_wheel_ships_templates_and_entry_point(tmp_path):
    # build the wheel with the project's own backend, offline (hatchling is a dev dependency)
    subprocess.run([sys.executable, "-c",
                    "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("snngen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "snngen/templates/README.md" in names
    assert "snngen/cli.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "snngen = snngen.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
