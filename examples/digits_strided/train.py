"""Train the strided-convolution digits network (scikit-learn's 8x8 digits; first 1,437 images
train, last 360 test) and write examples/digits_strided/weights.pt:

    PYTHONPATH=. .venv/bin/python examples/digits_strided/train.py
    PYTHONPATH=. .venv/bin/python examples/digits_strided/train.py --qcfs 4  # weights_qcfs.pt

Seeding, the loop, evaluation, saving and the determinism guarantee: examples/training.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared training module

import training  # noqa: E402

if __name__ == "__main__":
    # the digits example's settings and fine-tuning recipe (examples/digits/train.py), not tuned
    # for this network
    training.main(__doc__, HERE, "digits", epochs=60, batch_size=64, lr=2e-2, label_smoothing=0.1,
                  shift=0, qcfs={"epochs": 100, "lr": 2e-3})
