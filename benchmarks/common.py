"""What every benchmark script shares: where the repository is, and the bundled examples.

Importing this puts the repository root on ``sys.path`` so the scripts run without installing
snngen (``python benchmarks/<script>.py`` from anywhere).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# example -> (model spec, weights, dataset), paths relative to ROOT
EXAMPLES = {
    "digits": ("examples/digits/model.py:make_model", "examples/digits/weights.pt", "digits"),
    "mnist": ("examples/mnist_lenet/model.py:make_model", "examples/mnist_lenet/weights.pt",
              "mnist"),
}
# the MNIST test set (IDX) beside the repository: ../shared/data/mnist
MNIST_DIR = str(ROOT.parent / "shared" / "data" / "mnist")
RESULTS = ROOT / "benchmarks" / "results"
