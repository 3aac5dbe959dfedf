"""docs/api.md runs as written: its ```python blocks, in order, in one namespace, from the
repository's root (blocks marked ```python skip need a simulator or an FPGA toolchain)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs/api.md"
BLOCK = re.compile(r"^```python( skip)?\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[bool, str]]:
    return [(bool(skip), code) for skip, code in BLOCK.findall(DOC.read_text())]


def test_the_doc_has_runnable_and_skipped_blocks():
    found = blocks()
    assert sum(not skip for skip, _ in found) >= 4
    assert any(skip and "verify.verify" in code and "synthesize" in code for skip, code in found)


def test_the_api_doc_examples_run(monkeypatch, capsys):
    pytest.importorskip("amaranth")  # one block builds with the Amaranth backend
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    namespace: dict = {"__name__": "api_doc"}
    for i, (skip, code) in enumerate(blocks()):
        if not skip:
            exec(compile(code, f"{DOC}:block{i}", "exec"), namespace)
    assert namespace["acc"][32] > 0.8
