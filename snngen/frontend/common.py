"""What both PyTorch frontends share: the errors they raise and small tensor helpers.

:mod:`snngen.frontend.torch_fx` and :mod:`snngen.frontend.torchscript` both import this module
and never each other; :mod:`snngen.frontend.load` picks one of them for a model file.
"""

from __future__ import annotations

import numpy as np
import torch

SUPPORTED = ("Conv2d (groups=1, dilation=1, zero padding), Linear, ReLU, AvgPool2d, MaxPool2d, "
             "BatchNorm1d/2d, Flatten, Dropout, Identity, a final Softmax/LogSoftmax, "
             "torch.cat along channels, tensor + tensor")


class UnsupportedLayerError(ValueError):
    """A layer snngen cannot convert; names the module path, its type and what is supported."""

    def __init__(self, path: str, kind: str, detail: str = "") -> None:
        self.path, self.kind = path, kind
        why = f" ({detail})" if detail else ""
        super().__init__(f"unsupported layer {path!r} of type {kind}{why}; supported: {SUPPORTED}")


class ModelLoadError(ValueError):
    """A model or weights file could not be loaded; names the file and the cause."""


def to_numpy(t: torch.Tensor | None) -> np.ndarray | None:
    """A float64 copy of a tensor (``None`` stays ``None``), detached and on the CPU."""
    return None if t is None else t.detach().cpu().to(torch.float64).numpy().copy()


def pair(v) -> tuple[int, int]:
    """A kernel/stride/padding argument as ``(h, w)``: an int, or a sequence of one or two."""
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))
    return int(v), int(v)
