"""Loading a model: a ``file.py:factory`` (or ``package.module:factory``) spec plus a
state_dict read with ``torch.load(weights_only=True)``, or a TorchScript archive; then the IR
graph through the matching frontend (:mod:`snngen.frontend.torch_fx` or
:mod:`snngen.frontend.torchscript`). Nothing is ever unpickled with arbitrary globals.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import re
import sys
import zipfile
from collections.abc import Mapping
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
    try:
        model = factory()
    except Exception as e:
        # the user's code failed, not snngen: say whose, in one line (--debug has the traceback)
        raise ModelLoadError(f"model factory {spec} raised {type(e).__name__}: {e}") from e
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_state_dict(model: nn.Module, weights: str | Path) -> nn.Module:
    """Load a state_dict safely (``weights_only=True``: tensors and plain containers only)."""
    path = Path(weights)
    if not path.exists():
        raise ModelLoadError(f"weights file {path} does not exist")
    if not path.is_file():
        raise ModelLoadError(f"weights file {path} is not a regular file")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(_load_failure(path, e)) from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelLoadError(f"weights file {path} does not hold a state_dict of tensors")
    check_finite(sd, str(path))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"weights file {path} does not match the model: {e}") from e
    return model


def _load_failure(path: Path, e: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in one line.

    torch's own message is never passed on: for a file the safe unpickler refuses it advises
    re-running with ``weights_only=False``, which is exactly what must not be done with a file
    of unknown origin, and for a truncated file it says ``[Errno 22] Invalid argument``."""
    if isinstance(e, PermissionError):
        return f"weights file {path} cannot be read (permission denied)"
    corrupt = (f"weights file {path} is truncated or corrupt (not a complete torch.save() "
               "file)")
    if isinstance(e, pickle.UnpicklingError):
        # the start of a torch.save() zip archive whose own structure is broken is damage,
        # not a threat (torch's unpickler then reads the zip header as pickle opcodes)
        with open(path, "rb") as f:
            head = f.read(4)
        if head and b"PK\x03\x04".startswith(head) and not zipfile.is_zipfile(path):
            return corrupt
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (it asks for the Python object {found.group(1)})" if found else ""
        return (f"weights file {path} is not a plain weights file{what}: refused for safety, "
                "only tensors and plain containers are loaded")
    return corrupt


def check_finite(tensors: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse NaN or infinite values in any floating-point tensor of ``tensors`` (a state_dict),
    naming ``source`` and the parameter: they would otherwise surface as an OverflowError deep
    in quantisation, or as accuracies silently computed from NaN."""
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            continue
        nan = int(torch.isnan(t).sum())
        inf = int(torch.isinf(t).sum())
        if nan or inf:
            bad = " and ".join(f"{n} {kind} value{'s' if n > 1 else ''}"
                               for n, kind in ((nan, "NaN"), (inf, "infinite")) if n)
            raise ModelLoadError(f"{source}: parameter {name!r} has {bad}")


def is_factory_spec(model: str) -> bool:
    """Whether ``model`` names a ``file.py:factory`` (which needs a state_dict for trained
    weights) rather than a TorchScript archive (which carries its own)."""
    return ":" in model and not Path(model).is_file()


def load_model(model: str, weights: str | Path | None = None) -> nn.Module:
    """A model from ``file.py:factory`` (+ ``weights``) or from a TorchScript archive. NaN or
    infinite parameters or buffers are refused (:func:`check_finite`)."""
    if is_factory_spec(model):
        m = load_factory(model)
        if weights is not None:
            return load_state_dict(m, weights)
        check_finite(m.state_dict(), model)
        return m
    if weights is not None:
        # an archive holds its own weights; ignoring the file given would convert other
        # weights than the user asked for
        raise ModelLoadError(f"{model} is a TorchScript archive, which carries its own weights: "
                             f"the weights file {weights} cannot be applied to it")
    m = load_torchscript(model)
    check_finite(m.state_dict(), model)
    return m


def load_graph(model: str, weights: str | Path | None, input_shape: tuple[int, ...]) -> Graph:
    """Load a model (see :func:`load_model`) and return its IR graph."""
    m = load_model(model, weights)
    if isinstance(m, torch.jit.ScriptModule):
        return from_torchscript(m, input_shape)
    return from_torch(m, input_shape)
