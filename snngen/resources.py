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
