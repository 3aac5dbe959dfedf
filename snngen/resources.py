"""Where package data lives, in a source checkout and in an installed wheel alike."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def templates_dir() -> Path:
    """The Jinja template directory: ``snngen/templates`` inside a wheel, else the repository's
    top-level ``templates/`` (editable installs and plain checkouts)."""
    packaged = Path(str(files("snngen"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def rtl_dir() -> Path:
    """The directory holding the hand-written Verilog (``snn_fifo.v``, ``snn_rom.v``, ...).

    It lives inside the package (``snngen/backends/verilog/rtl``), so a checkout, an editable
    install and a wheel all find it in the same place. It is here, not in the Verilog backend,
    because the backend-neutral build (:mod:`snngen.hwmodel.build`) reserves the block names and
    the Amaranth backend's equivalence proofs read the same files."""
    path = Path(str(files("snngen"))) / "backends" / "verilog" / "rtl"
    if not path.is_dir():
        raise FileNotFoundError(f"the snngen RTL directory is missing: {path}")
    return path
