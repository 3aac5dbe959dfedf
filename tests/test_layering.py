"""The package's layering (README "Layout"), checked on the source's import statements.

* The IR, the passes, the fixed-point code, the golden model, the hardware plan and the timing
  model import neither torch nor a hardware backend.
* The two backends never import each other: ``snngen.verilog`` does not import ``snngen.hw``
  (or amaranth), and ``snngen.hw`` does not import ``snngen.verilog``; what they share is in
  ``snngen.hwbuild``, which imports neither.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "snngen"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _hits(imports: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports for b in banned if i == b or i.startswith(b + "."))


CORE = ["ir", "passes", "fixed", "quantize", "widths", "fixednet", "golden", "hwplan", "timing",
        "hwbuild", "kernels", "netfile"]


@pytest.mark.parametrize("name", CORE)
def test_core_imports_no_torch_and_no_backend(name):
    hits = _hits(_imports(PKG / f"{name}.py"),
                 ("torch", "amaranth", "snngen.hw", "snngen.verilog", "jinja2", "cocotb"))
    assert not hits, f"snngen/{name}.py imports {hits}"


def test_the_backends_never_import_each_other():
    hits = _hits(_imports(PKG / "verilog.py"), ("snngen.hw", "amaranth"))
    assert not hits, f"snngen/verilog.py imports {hits}"
    for f in sorted((PKG / "hw").glob("*.py")):
        hits = _hits(_imports(f), ("snngen.verilog", "jinja2"))
        assert not hits, f"{f.relative_to(PKG.parent)} imports {hits}"


def test_the_import_scan_sees_imports():
    # the scan itself: relative imports resolve, so a violation could not hide behind one
    got = _imports(PKG / "hw" / "top.py")
    assert "snngen.hw.fifo.EventFifo" in got and "snngen.hwbuild.stage_params" in got
