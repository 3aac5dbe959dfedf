"""Loading a model: a ``file.py:factory`` (or ``package.module:factory``) spec plus a
state_dict read with ``torch.load(weights_only=True)``, or a TorchScript archive; then the IR
graph through the matching frontend (:mod:`snngen.frontend.torch_fx` or
:mod:`snngen.frontend.torchscript`). Nothing is ever unpickled with arbitrary globals.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn

from snngen.frontend.common import ModelLoadError
from snngen.frontend.torch_fx import from_torch
from snngen.frontend.torchscript import from_torchscript, load_torchscript
from snngen.ir.graph import Graph


def load_factory(spec: str) -> nn.Module:
    """``path/to/file.py:factory`` or ``package.module:factory`` -> ``factory()``."""
    if ":" not in spec:
        raise ModelLoadError(f"model spec {spec!r} must look like 'file.py:factory' or "
                             f"'package.module:factory'")
    mod_part, func = spec.rsplit(":", 1)
    try:
        if mod_part.endswith(".py"):
            path = Path(mod_part)
            if not path.is_file():
                raise ModelLoadError(f"model file {path} does not exist")
            name = f"snngen_user_model_{abs(hash(path.resolve()))}"
            s = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(s)
            sys.modules[name] = module
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_part)
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(f"cannot import {mod_part}: {type(e).__name__}: {e}") from e
    factory = getattr(module, func, None)
    if not callable(factory):
        raise ModelLoadError(f"{mod_part} has no callable {func!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_state_dict(model: nn.Module, weights: str | Path) -> nn.Module:
    """Load a state_dict safely (``weights_only=True``: tensors and plain containers only)."""
    path = Path(weights)
    if not path.is_file():
        raise ModelLoadError(f"weights file {path} does not exist")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"weights file {path} is not a safe-loadable state_dict "
                             f"(torch.load(weights_only=True) said: {e})") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelLoadError(f"weights file {path} does not hold a state_dict of tensors")
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"weights file {path} does not match the model: {e}") from e
    return model


def load_model(model: str, weights: str | Path | None = None) -> nn.Module:
    """A model from ``file.py:factory`` (+ ``weights``) or from a TorchScript archive."""
    if ":" in model and not Path(model).is_file():
        m = load_factory(model)
        return load_state_dict(m, weights) if weights is not None else m
    return load_torchscript(model)


def load_graph(model: str, weights: str | Path | None, input_shape: tuple[int, ...]) -> Graph:
    """Load a model (see :func:`load_model`) and return its IR graph."""
    m = load_model(model, weights)
    if isinstance(m, torch.jit.ScriptModule):
        return from_torchscript(m, input_shape)
    return from_torch(m, input_shape)
