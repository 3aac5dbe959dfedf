"""Every example's shipped weights load into its factories through the frontend (the ReLU
version and the clip-floor one), so the README's and docs/training.md's commands find them."""

from __future__ import annotations

from pathlib import Path

import pytest

from snngen.frontend import load_graph
from snngen.ir import graph as ir

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/model.py"))
SHAPES = {"digits": (1, 8, 8), "digits_inception": (1, 8, 8), "digits_strided": (1, 8, 8)}


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("factory, weights", [("make_model", "weights.pt"),
                                              ("make_model_qcfs", "weights_qcfs.pt")])
def test_the_weights_load(example, factory, weights):
    d = ROOT / "examples" / example
    g = load_graph(f"{d / 'model.py'}:{factory}", str(d / weights),
                   SHAPES.get(example, (1, 28, 28)))
    relus = [n.op for n in g if isinstance(n.op, ir.ReLU)]
    assert relus
    if factory == "make_model_qcfs":
        assert all(r.clip is not None and r.clip > 0 and r.levels == 4 for r in relus)
    else:
        assert all(r.clip is None for r in relus)
