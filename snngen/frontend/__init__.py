"""Frontends: a trained PyTorch model -> the IR graph (:mod:`snngen.ir.graph`).

* :mod:`~snngen.frontend.torch_fx`: an ``nn.Module`` traced with ``torch.fx``;
* :mod:`~snngen.frontend.torchscript`: a ``torch.jit`` archive, walked op by op;
* :mod:`~snngen.frontend.load`: a model file (``file.py:factory`` plus a state_dict, or a
  TorchScript archive) to a module and to a graph, through the matching frontend;
* :mod:`~snngen.frontend.common`: the errors both frontends raise and their tensor helpers.

May import: torch, :mod:`snngen.ir`. The only stage that imports torch (conversion, fixed point,
the golden model and the hardware never do).
"""

from snngen.frontend.common import SUPPORTED, ModelLoadError, UnsupportedLayerError
from snngen.frontend.load import (
    check_finite,
    is_factory_spec,
    load_factory,
    load_graph,
    load_model,
    load_state_dict,
)
from snngen.frontend.torch_fx import from_torch
from snngen.frontend.torchscript import from_torchscript, load_torchscript

__all__ = ["SUPPORTED", "ModelLoadError", "UnsupportedLayerError", "check_finite",
           "from_torch", "from_torchscript", "is_factory_spec", "load_factory", "load_graph",
           "load_model", "load_state_dict", "load_torchscript"]
