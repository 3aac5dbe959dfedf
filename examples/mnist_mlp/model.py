"""The MNIST MLP example: Spiker+'s topology, a fully connected 784-128-10 network.

Spiker+ (2024) reports its MNIST accelerator for a fully connected 784-128-10 spiking network;
this is the same topology as an ANN for conversion: 101,632 weights (101,770 parameters with
biases) in two dense layers. As hardware, the first layer's current is computed once per image
(one synaptic update per cycle for every nonzero pixel), so a timestep costs little and small T
is cheap; the 784 x 128 weights dominate the memory.
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
        nn.Flatten(),  # 784
        nn.Linear(784, 128),
        nn.ReLU(),
        # Training-time only (identity in eval mode), so the converted network is unaffected.
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
