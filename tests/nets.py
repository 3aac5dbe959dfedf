"""Small torch networks shared by the tests (every supported layer and both DAG shapes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def randomize_bn(model: nn.Module, gen: torch.Generator) -> nn.Module:
    """Give BatchNorm layers non-trivial statistics so that folding is really tested."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.data.copy_(torch.rand(c, generator=gen) - 0.5)
    return model.eval()


def digits_like() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Dropout(0.2), nn.Linear(64, 10))


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        h = F.relu(self.stem(x))
        y = F.relu(self.bn(self.a(h)))
        y = F.relu(self.b(y) + h)
        y = F.max_pool2d(y, 2)
        return self.fc(torch.flatten(y, 1))


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(1, 4, 1)
        self.b3 = nn.Conv2d(1, 4, 3, padding=1)
        self.b5 = nn.Conv2d(1, 2, 5, stride=1, padding=2)
        self.pool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(10 * 4 * 4, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        y = torch.cat([F.relu(self.b1(x)), F.relu(self.b3(x)), F.relu(self.b5(x))], dim=1)
        y = self.pool(y)
        y = y.view(y.size(0), -1)
        y = F.relu(self.bn(self.fc1(y)))
        return F.softmax(self.fc2(y), dim=1)


class StridedMaxFirst(nn.Module):
    """conv -> maxpool -> relu (max before ReLU), strided padded conv, no biases."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, stride=2, padding=1, bias=False)
        self.c2 = nn.Conv2d(6, 8, (3, 2), stride=(1, 2), padding=(1, 0))
        self.fc = nn.Linear(8 * 2 * 1, 10, bias=False)

    def forward(self, x):
        y = F.relu(F.max_pool2d(self.c1(x), 2, 2))
        y = self.c2(y).relu()
        return self.fc(y.flatten(1))
