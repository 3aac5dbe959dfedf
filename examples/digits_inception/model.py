"""An Inception-style network for the 8x8 scikit-learn digits: three parallel convolutions of
the image (1x1, 3x3, 5x5) concatenated, then a max-pool, a convolution, an average pool and a
dense readout. It is not an example for the hardware (snngen build refuses DAGs until issue 16);
it exercises the conversion of a concat whose branches have different activation ranges
(docs/conversion.md, "Concatenated branches").
"""

from __future__ import annotations

import torch
from torch import nn

from snngen.training import swap_relus

INPUT_SHAPE = (1, 8, 8)
QCFS_LEVELS = 4


class InceptionDigits(nn.Module):
    """(N, 1, 8, 8) -> (N, 10) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(1, 4, 1)
        self.b3 = nn.Conv2d(1, 6, 3, padding=1)
        self.b5 = nn.Conv2d(1, 6, 5, padding=2)
        # ReLU modules (not torch.relu) so that swap_relus can replace them
        self.r1, self.r3, self.r5, self.rc = nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool = nn.MaxPool2d(2)  # 16x4x4
        self.conv = nn.Conv2d(16, 16, 3, padding=1)  # 16x4x4
        self.avg = nn.AvgPool2d(2)  # 16x2x2
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.r1(self.b1(x)), self.r3(self.b3(x)), self.r5(self.b5(x))], dim=1)
        y = self.rc(self.conv(self.pool(y)))
        return self.fc(self.drop(torch.flatten(self.avg(y), 1)))


def make_model() -> nn.Module:
    return InceptionDigits()


def make_model_qcfs() -> nn.Module:
    """The same network with a clip-floor activation of ``QCFS_LEVELS`` levels in place of each
    ReLU (conversion-aware training, docs/training.md; weights_qcfs.pt)."""
    return swap_relus(make_model(), QCFS_LEVELS)
