"""The clip-floor-shift activation (QCFS; Bu et al., ICLR 2022) as an ``nn.Module``.

``ClipFloor(levels=L)`` computes ``clip * clamp(floor(x * L / clip + 1/2), 0, L) / L`` with a
learnable ``clip`` (one per layer), a straight-through gradient for the floor, and the clip's
gradient from the same expression. An integrate-and-fire neuron with threshold ``clip``, reset
by subtraction and its membrane starting at half the threshold (snngen's default ``v_init``
0.5), driven by a constant current ``x`` for ``T = L`` timesteps, spikes exactly
``clamp(floor(x * L / clip + 1/2), 0, L)`` times; this is why training with it lets the
converted network reach the ANN's accuracy at a few timesteps.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


class ClipFloor(nn.Module):
    """The clip-floor-shift activation with ``levels`` quantisation steps and a learnable
    ``clip`` (initial value ``clip``; set it from data with :func:`calibrate_clips`)."""

    def __init__(self, levels: int = 4, clip: float = 1.0) -> None:
        super().__init__()
        if isinstance(levels, bool) or int(levels) != levels or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        if not (np.isfinite(clip) and clip > 0):
            raise ValueError(f"clip must be a positive finite number, got {clip!r}")
        self.levels = int(levels)
        self.clip = nn.Parameter(torch.tensor(float(clip)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * (self.levels / self.clip) + 0.5
        y = y + (torch.floor(y) - y).detach()  # floor forward, identity backward
        return torch.clamp(y, 0, self.levels) * (self.clip / self.levels)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, clip={self.clip.item():.4g}"


def clip_floor_modules(model: nn.Module) -> Iterator[tuple[str, ClipFloor]]:
    """Every :class:`ClipFloor` of ``model`` with its module path."""
    for name, m in model.named_modules():
        if isinstance(m, ClipFloor):
            yield name, m


def swap_relus(model: nn.Module, levels: int) -> nn.Module:
    """Replace every ``nn.ReLU`` module of ``model`` (in place) by a ``ClipFloor(levels)``
    and return the model. ReLUs called as functions (``F.relu``) cannot be swapped: a model
    using them is refused, naming the first one the tracer finds, so no layer silently keeps a
    plain ReLU."""
    import torch.fx as fx

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception:  # untraceable models are checked by the frontend later
        graph = None
    if graph is not None:
        for node in graph.nodes:
            if node.op in ("call_function", "call_method") and "relu" in str(node.target):
                raise ValueError(f"{node.name}: a functional relu cannot be swapped; use an "
                                 f"nn.ReLU module there")
    swapped = 0
    for m in list(model.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(m, child_name, ClipFloor(levels))
                swapped += 1
    if swapped == 0:
        raise ValueError("the model has no nn.ReLU module to swap")
    return model


@torch.no_grad()
def calibrate_clips(model: nn.Module, x: torch.Tensor, percentile: float = 99.9,
                    batch_size: int = 500) -> dict[str, float]:
    """Set every ClipFloor's clip to ``percentile`` of the positive values of its input on
    ``x`` (the scale plain conversion would use), a better start for fine-tuning than a
    constant; returns the clips by module path."""
    mods = dict(clip_floor_modules(model))
    acts: dict[str, list[np.ndarray]] = {k: [] for k in mods}

    def hook(name):
        def f(_m, inputs, _out):
            a = inputs[0].detach().reshape(-1).numpy()
            acts[name].append(a[a > 0])
        return f

    handles = [m.register_forward_hook(hook(k)) for k, m in mods.items()]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = {}
    for k, m in mods.items():
        pos = np.concatenate(acts[k]) if acts[k] else np.zeros(0)
        clip = float(np.percentile(pos, percentile)) if pos.size else 1.0
        m.clip.fill_(clip)
        out[k] = clip
    return out
