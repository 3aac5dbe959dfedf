"""A strided-convolution digits network with max-pooling: a stride-2 padded convolution, a max
pool before the ReLU, a second strided convolution, and a dense readout. Like
examples/digits_inception it is here for the conversion (an architecture the project's main
examples do not have); it is a chain, so it also builds as hardware.
"""

from __future__ import annotations

from torch import nn

from snngen.training import swap_relus

INPUT_SHAPE = (1, 8, 8)
QCFS_LEVELS = 4


def make_model() -> nn.Module:
    """(N, 1, 8, 8) -> (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 3, stride=2, padding=1),  # 12x4x4
        nn.MaxPool2d(2, 1),  # 12x3x3 (overlapping windows)
        nn.ReLU(),
        nn.Conv2d(12, 24, 2, stride=1),  # 24x2x2
        nn.ReLU(),
        nn.Flatten(),  # 96
        nn.Dropout(0.2),
        nn.Linear(96, 10),
    )


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
