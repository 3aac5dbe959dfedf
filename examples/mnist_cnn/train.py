"""Train the wider MNIST CNN (the first 8,000 images of the official MNIST test set; evaluated on
its last 2,000) and write examples/mnist_cnn/weights.pt:

    PYTHONPATH=. .venv/bin/python examples/mnist_cnn/train.py [--data-dir DIR]
    PYTHONPATH=. .venv/bin/python examples/mnist_cnn/train.py --qcfs 4   # weights_qcfs.pt

Seeding, the loop, evaluation, saving and the determinism guarantee: examples/training.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared training module

import training  # noqa: E402

if __name__ == "__main__":
    # The LeNet example's settings (chosen there on a validation split of the training images),
    # not tuned again for this width; the clip-floor fine-tuning likewise takes the LeNet's.
    training.main(__doc__, HERE, "mnist", epochs=20, batch_size=64, lr=5e-3, label_smoothing=0.0,
                  shift=1, qcfs={"epochs": 30, "lr": 5e-4})
