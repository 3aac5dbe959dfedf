"""The digits example network: a two-convolution CNN for the 8x8 scikit-learn digits.

Small on purpose (1,864 weights; 1,914 parameters counting biases and BatchNorm) so that the
spiking version fits a small FPGA and the whole conversion, simulation and hardware flow runs in
seconds.
"""

from __future__ import annotations

from torch import nn

from snngen.training import swap_relus

INPUT_SHAPE = (1, 8, 8)
# levels of the clip-floor activation of the conversion-aware version (= the T it is made for)
QCFS_LEVELS = 4


def make_model() -> nn.Module:
    """Conv-BN-ReLU-MaxPool, Conv-ReLU-AvgPool, Dropout, Linear: (N, 1, 8, 8) -> (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),  # 8x8x8
        # BatchNorm is folded into the preceding convolution by the converter; it is here to
        # exercise that pass as much as to help training.
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4x8
        nn.Conv2d(8, 16, 3, padding=1),  # 4x4x16
        nn.ReLU(),
        nn.AvgPool2d(2),  # 2x2x16
        nn.Flatten(),  # 64
        nn.Dropout(0.2),
        nn.Linear(64, 10),
    )


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
