"""A wider MNIST CNN (LeNet layout, 16 and 32 channels) for the few-timesteps target: 99% on the
evaluation images at T=4 from 8,000 training images.

18,320 weights (18,378 parameters with biases), 3.6 times the LeNet example's, and about three
times its synaptic updates per image (635k against 205k at T=4, docs/training.md): the price of
the accuracy in memory and cycles.
"""

from __future__ import annotations

from torch import nn

from snngen.training import swap_relus

INPUT_SHAPE = (1, 28, 28)
# levels of the clip-floor activation of the conversion-aware version (= the T it is made for)
QCFS_LEVELS = 4


def make_model() -> nn.Module:
    """(N, 1, 28, 28) images -> (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5),  # 24x24x16
        nn.ReLU(),
        nn.MaxPool2d(2),  # 12x12x16
        nn.Conv2d(16, 32, 5),  # 8x8x32
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4x32
        nn.Flatten(),  # 512
        # Training-time only (identity in eval mode), so the converted network is unaffected.
        nn.Dropout(0.1),
        nn.Linear(512, 10),
    )


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
