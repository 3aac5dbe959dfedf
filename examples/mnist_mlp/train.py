"""Train the MNIST MLP example and write examples/mnist_mlp/weights.pt.

Run from the repository root:

    PYTHONPATH=. .venv/bin/python examples/mnist_mlp/train.py [--data-dir DIR]

Only the official MNIST test set (10,000 images) is available to the project, so the network is
trained on its first 8,000 images and evaluated on the last 2,000 (see snngen.data.split).
Deterministic: the same torch build on the same machine writes a byte-identical weights file.
The seeding, training loop, evaluation and saving live in examples/training.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for the shared training module

import training  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=training.DEFAULT_MNIST_DIR)
    # Defaults chosen on a validation split carved from the training images (train on 0-6,399,
    # validate on 6,400-7,999, seed 0), never on the test images: random 1-pixel shifts gave
    # +2.1 points over none (97.94% against 95.88%) and 2-pixel shifts less (96.88%); dropout 0.2
    # kept the converted network at small T closer to the ANN than no dropout (fixed 8-bit SNN at
    # T=4: 97.75% against 96.50%) and beat 0.5; lr 1e-3 was worse (96.12%); 40 epochs scored
    # 98.19% against 97.94% for 20.
    training.add_arguments(
        parser,
        epochs=40,
        batch_size=64,
        lr=5e-3,
        label_smoothing=0.0,
        shift=1,
        out=HERE / "weights.pt",
    )
    args = parser.parse_args()
    training.run(args, HERE, lambda: training.load_mnist_split(args.data_dir))


if __name__ == "__main__":
    main()
