"""The package's layering (docs/architecture.md "Package map"), checked on the source's imports.

The stages, lowest first; a stage may import the stages listed for it and the utilities
(``snngen.atomic``, ``snngen.resources``, ``snngen.data``,
``snngen.outputs``), nothing else of snngen:

    ir, training <- frontend
    ir <- convert <- fixedpoint <- golden <- hwmodel <- backends.verilog | backends.amaranth
       <- flows <- cli

* only the frontend and the training helper (and the flows and the CLI that call them) import
  torch;
* the IR, conversion, fixed point, the golden model and the hardware model import no hardware
  backend and no tool (amaranth, jinja2, cocotb);
* the two backends never import each other;
* nothing imports a flow from below;
* the two frontends never import each other (what they share is ``frontend.common``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "snngen"

UTILITIES = ("atomic", "resources", "data", "outputs")
# each stage and the snngen stages it may import (besides the utilities)
ALLOWED: dict[str, tuple[str, ...]] = {
    "ir": (),
    "training": (),
    "frontend": ("ir", "training"),
    "convert": ("ir",),
    "fixedpoint": ("ir", "convert"),
    "golden": ("ir", "convert", "fixedpoint"),
    "hwmodel": ("ir", "convert", "fixedpoint", "golden"),
    "backends.verilog": ("ir", "convert", "fixedpoint", "golden", "hwmodel"),
    "backends.amaranth": ("ir", "convert", "fixedpoint", "golden", "hwmodel"),
    "interop": ("ir", "convert", "fixedpoint"),
    "flows": ("ir", "frontend", "convert", "fixedpoint", "golden", "hwmodel",
              "backends.verilog", "backends.amaranth", "interop"),
    "cli": ("ir", "frontend", "convert", "fixedpoint", "golden", "hwmodel",
            "backends.verilog", "backends.amaranth", "interop", "flows"),
}
NO_TORCH = ("ir", "convert", "fixedpoint", "golden", "hwmodel", "backends.verilog",
            "backends.amaranth", "interop")
NO_TOOLS = ("ir", "convert", "fixedpoint", "golden", "hwmodel")
STAGES = sorted(ALLOWED, key=len, reverse=True)  # longest first: backends.x before backends


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    package = ".".join(parts[:-1])  # the package a relative import starts from
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


def _stage_of(module: str) -> str | None:
    """The stage a dotted ``snngen.x.y`` name belongs to (None for the package itself)."""
    rest = module.removeprefix("snngen.")
    if module in ("snngen", "snngen.backends") or rest == module:
        return None  # the two package docstrings, no stage
    for s in STAGES:
        if rest == s or rest.startswith(s + "."):
            return s
    return rest.split(".")[0]


def _modules() -> list[tuple[str, Path]]:
    """(stage, file) for every module of the package except the utilities and __init__.py."""
    out = []
    for f in sorted(PKG.rglob("*.py")):
        mod = ".".join(f.relative_to(PKG.parent).with_suffix("").parts)
        stage = _stage_of(mod.removesuffix(".__init__"))
        if stage is not None and stage not in UTILITIES:
            out.append((stage, f))
    return out


def _hits(imports: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports for b in banned if i == b or i.startswith(b + "."))


def _name(f: Path) -> str:
    return str(f.relative_to(PKG.parent))


def test_every_module_is_in_a_known_stage():
    stages = {stage for stage, _ in _modules()}
    assert stages == set(ALLOWED), f"unknown stages {stages - set(ALLOWED)}"
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert top == ["__init__.py", "atomic.py", "cli.py", "data.py", "outputs.py",
                   "resources.py"], top


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_each_stage_imports_only_the_stages_below_it(stage):
    allowed = {stage, *ALLOWED[stage], *UTILITIES}
    bad = []
    for s, f in _modules():
        if s != stage:
            continue
        for imp in _imports(f):
            if imp == "snngen" or not imp.startswith("snngen."):
                continue
            if _stage_of(imp) not in allowed:
                bad.append(f"{_name(f)} imports {imp}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_utilities_import_no_stage():
    for u in UTILITIES:
        hits = [i for i in _imports(PKG / f"{u}.py")
                if i.startswith("snngen.") and _stage_of(i) not in UTILITIES]
        assert not hits, f"snngen/{u}.py imports {hits}"


@pytest.mark.parametrize("stage", NO_TORCH)
def test_only_the_frontend_imports_torch(stage):
    bad = [f"{_name(f)}: {_hits(_imports(f), ('torch',))}" for s, f in _modules()
           if s == stage and _hits(_imports(f), ("torch",))]
    assert not bad, bad


@pytest.mark.parametrize("stage", NO_TOOLS)
def test_the_core_imports_no_backend_and_no_tool(stage):
    banned = ("amaranth", "jinja2", "cocotb", "snngen.backends", "snngen.flows")
    bad = [f"{_name(f)}: {_hits(_imports(f), banned)}" for s, f in _modules()
           if s == stage and _hits(_imports(f), banned)]
    assert not bad, bad


def test_the_backends_never_import_each_other():
    for f in sorted((PKG / "backends" / "verilog").rglob("*.py")):
        hits = _hits(_imports(f), ("snngen.backends.amaranth", "amaranth"))
        assert not hits, f"{_name(f)} imports {hits}"
    for f in sorted((PKG / "backends" / "amaranth").rglob("*.py")):
        hits = _hits(_imports(f), ("snngen.backends.verilog", "jinja2"))
        assert not hits, f"{_name(f)} imports {hits}"


def test_the_frontends_never_import_each_other():
    fx, ts = PKG / "frontend" / "torch_fx.py", PKG / "frontend" / "torchscript.py"
    assert not _hits(_imports(fx), ("snngen.frontend.torchscript", "snngen.frontend.load"))
    assert not _hits(_imports(ts), ("snngen.frontend.torch_fx", "snngen.frontend.load"))


def test_the_import_scan_sees_imports():
    # the scan itself: relative imports resolve, so a violation could not hide behind one
    got = _imports(PKG / "backends" / "amaranth" / "top.py")
    assert "snngen.backends.amaranth.fifo.EventFifo" in got
    assert "snngen.hwmodel.build.stage_params" in got
    assert _stage_of("snngen.backends.amaranth.fifo") == "backends.amaranth"
    assert _stage_of("snngen.flows.verify") == "flows"


def test_a_violation_is_caught(monkeypatch):
    # a golden-model module that imports a flow must fail the stage rule
    fake = PKG / "golden" / "_layering_probe.py"
    monkeypatch.setattr(sys.modules[__name__], "_modules", lambda: [("golden", fake)])
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from snngen.flows import x\n")
    with pytest.raises(AssertionError, match="imports snngen.flows"):
        test_each_stage_imports_only_the_stages_below_it("golden")
