"""The MNIST example network: a LeNet-5-style conv-pool-conv-pool-dense CNN.

Sized for a small FPGA: 5,110 weights (5,142 parameters with biases) and only three layers with
weights, so the spiking version needs little on-chip memory.
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
        nn.Conv2d(1, 6, 5),  # 24x24x6
        nn.ReLU(),
        nn.MaxPool2d(2),  # 12x12x6
        nn.Conv2d(6, 16, 5),  # 8x8x16
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4x16
        nn.Flatten(),  # 256
        # Training-time only (identity in eval mode), so the converted network is unaffected.
        nn.Dropout(0.1),
        nn.Linear(256, 10),
    )


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
