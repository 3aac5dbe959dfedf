"""PyTorch frontend: an ``nn.Module`` -> :class:`snngen.ir.graph.Graph`, through ``torch.fx``.

Supported (everything else raises :class:`UnsupportedLayerError` naming the module path, its type
and this list): Conv2d (groups=1, dilation 1, zero padding), Linear, ReLU, AvgPool2d, MaxPool2d,
BatchNorm1d/2d (folded later), Flatten (and ``x.view(x.size(0), -1)``), Dropout and Identity
(removed), a final Softmax/LogSoftmax (dropped), ``torch.cat`` along channels, and ``+`` of two
tensors (residual connections). Loading a model file is :mod:`snngen.frontend.load`.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from snngen.frontend.common import UnsupportedLayerError
from snngen.frontend.common import pair as _pair
from snngen.frontend.common import to_numpy as _np
from snngen.ir import graph as ir
from snngen.ir.graph import Graph
from snngen.training.qcfs import ClipFloor


def _conv(path: str, m: nn.Conv2d) -> ir.Conv2d:
    if m.groups != 1:
        raise UnsupportedLayerError(path, "Conv2d", f"groups={m.groups}")
    if _pair(m.dilation) != (1, 1):
        raise UnsupportedLayerError(path, "Conv2d", f"dilation={m.dilation}")
    if m.padding_mode != "zeros":
        raise UnsupportedLayerError(path, "Conv2d", f"padding_mode={m.padding_mode!r}")
    if isinstance(m.padding, str):
        raise UnsupportedLayerError(path, "Conv2d", f"padding={m.padding!r}; give it in pixels")
    return ir.conv(_np(m.weight), _np(m.bias), m.stride, m.padding)


def _pool(path: str, kind: str, kernel, stride, padding, ceil_mode: bool, **extra) -> ir.Op:
    if ceil_mode:
        raise UnsupportedLayerError(path, kind, "ceil_mode=True")
    stride = stride if stride not in (None, []) else kernel
    if kind == "MaxPool2d":
        if _pair(extra.get("dilation", 1)) != (1, 1) or extra.get("return_indices"):
            raise UnsupportedLayerError(path, kind, "dilation or return_indices")
        return ir.maxpool(kernel, stride, padding)
    if extra.get("divisor_override") is not None:
        raise UnsupportedLayerError(path, kind, "divisor_override")
    if not extra.get("count_include_pad", True) and _pair(padding) != (0, 0):
        raise UnsupportedLayerError(path, kind, "count_include_pad=False with padding")
    return ("avg", kernel, stride, padding)  # channels known once shapes are: see below


def _bn(path: str, m: nn.modules.batchnorm._BatchNorm) -> ir.BatchNorm:
    if m.running_mean is None or m.running_var is None:
        raise UnsupportedLayerError(path, type(m).__name__, "track_running_stats=False")
    c = m.num_features
    gamma = _np(m.weight) if m.affine else np.ones(c)
    beta = _np(m.bias) if m.affine else np.zeros(c)
    return ir.BatchNorm(gamma, beta, _np(m.running_mean), _np(m.running_var), float(m.eps))


def _module_op(path: str, m: nn.Module):
    if isinstance(m, nn.Conv2d):
        return _conv(path, m)
    if isinstance(m, nn.Linear):
        return ir.linear(_np(m.weight), _np(m.bias))
    if isinstance(m, nn.ReLU):
        return ir.ReLU()
    if isinstance(m, ClipFloor):
        clip = m.clip.item()
        if not (np.isfinite(clip) and clip > 0):
            raise UnsupportedLayerError(path, "ClipFloor", f"clip {clip} is not positive")
        return ir.ReLU(clip=clip, levels=m.levels)
    if isinstance(m, nn.MaxPool2d):
        return _pool(path, "MaxPool2d", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                     dilation=m.dilation, return_indices=m.return_indices)
    if isinstance(m, nn.AvgPool2d):
        return _pool(path, "AvgPool2d", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                     count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _bn(path, m)
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise UnsupportedLayerError(path, "Flatten", f"start_dim={m.start_dim}, "
                                                         f"end_dim={m.end_dim}")
        return ir.Flatten()
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity)):
        return ir.Identity()
    if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
        if m.dim not in (1, -1, None):
            raise UnsupportedLayerError(path, type(m).__name__, f"dim={m.dim}")
        return ir.Softmax()
    raise UnsupportedLayerError(path, type(m).__name__)


def _arg(node: fx.Node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _function_op(node: fx.Node):
    f = node.target
    fname = getattr(f, "__name__", str(f))
    if f in (F.relu, torch.relu, torch.relu_):
        return ir.ReLU()
    if f in (operator.add, torch.add):
        a, b = node.args[0], node.args[1]
        two_tensors = isinstance(a, fx.Node) and isinstance(b, fx.Node)
        if not two_tensors or node.kwargs.get("alpha", 1) != 1:
            raise UnsupportedLayerError(node.name, f"function {fname}",
                                        "only the sum of two tensors is supported")
        return ir.Add()
    if f is torch.cat:
        dim = _arg(node, 1, "dim", 0)
        if dim != 1:
            raise UnsupportedLayerError(node.name, "torch.cat", f"dim={dim}; only channels (1)")
        return ir.Concat()
    if f is torch.flatten:
        if _arg(node, 1, "start_dim", 0) != 1 or _arg(node, 2, "end_dim", -1) != -1:
            raise UnsupportedLayerError(node.name, "torch.flatten", "only flatten(x, 1)")
        return ir.Flatten()
    if f in (F.softmax, F.log_softmax, torch.softmax, torch.log_softmax):
        return ir.Softmax()
    if f in (F.dropout, F.dropout2d):
        return ir.Identity()
    if f is F.max_pool2d:
        return _pool(node.name, "MaxPool2d", _arg(node, 1, "kernel_size"),
                     _arg(node, 2, "stride"), _arg(node, 3, "padding", 0),
                     _arg(node, 5, "ceil_mode", False), dilation=_arg(node, 4, "dilation", 1),
                     return_indices=_arg(node, 6, "return_indices", False))
    if f is F.avg_pool2d:
        return _pool(node.name, "AvgPool2d", _arg(node, 1, "kernel_size"),
                     _arg(node, 2, "stride"), _arg(node, 3, "padding", 0),
                     _arg(node, 4, "ceil_mode", False),
                     count_include_pad=_arg(node, 5, "count_include_pad", True),
                     divisor_override=_arg(node, 6, "divisor_override"))
    raise UnsupportedLayerError(node.name, f"function {fname}")


class _Tracer(fx.Tracer):
    # the clip-floor activation is one IR op, not the floor/clamp arithmetic inside it
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, ClipFloor) or super().is_leaf_module(m, qualname)


def from_torch(model: nn.Module, input_shape: tuple[int, ...]) -> Graph:
    """Trace ``model`` (in eval mode) with ``torch.fx`` and build the IR for one sample of
    ``input_shape`` (no batch axis)."""
    model = model.eval()
    try:
        gm = fx.GraphModule(model, _Tracer().trace(model))
    except Exception as e:  # fx raises many types for untraceable control flow
        raise UnsupportedLayerError(type(model).__name__, "model",
                                    f"torch.fx cannot trace it: {e}") from e
    specs: list[tuple[str, object, tuple[str, ...]]] = []
    # IR names: the module path for modules (what the user sees in print(model)), fx's unique
    # node name otherwise
    names: dict[str, str] = {}
    sizes: set[str] = set()  # fx nodes that are x.size(0): only used by view/reshape
    output = None
    for node in gm.graph.nodes:
        ins = tuple(names.get(a.name, a.name) for a in node.all_input_nodes)
        if node.op == "placeholder":
            if any(isinstance(s[1], ir.Input) for s in specs):
                raise UnsupportedLayerError(node.name, "second input", "one input tensor only")
            names[node.name] = "input"
            op = ir.Input(tuple(int(d) for d in input_shape))
        elif node.op == "call_module":
            if str(node.target) not in names.values():
                names[node.name] = str(node.target)
            op = _module_op(str(node.target), gm.get_submodule(str(node.target)))
        elif node.op == "call_function":
            op = _function_op(node)
        elif node.op == "call_method":
            op = _method_op(node, sizes)
            if op is None:
                continue
            ins = tuple(i for i in ins if i not in sizes)
        elif node.op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node):
                raise UnsupportedLayerError("output", type(out).__name__,
                                            "the model must return a single tensor")
            output = names.get(out.name, out.name)
            continue
        else:
            raise UnsupportedLayerError(str(node.target), node.op, "direct parameter access")
        specs.append((names.get(node.name, node.name), op, ins))
    # AvgPool needs its channel count for the per-channel gain: resolve after shapes are known
    return _resolve_avgpool(specs, output)


def _method_op(node: fx.Node, sizes: set[str]):
    m = node.target
    if m == "size":
        sizes.add(node.name)
        return None
    if m in ("relu", "relu_"):
        return ir.ReLU()
    if m == "flatten":
        if _arg(node, 1, "start_dim", 0) != 1 or _arg(node, 2, "end_dim", -1) != -1:
            raise UnsupportedLayerError(node.name, "Tensor.flatten", "only flatten(1)")
        return ir.Flatten()
    if m in ("view", "reshape"):
        dims = node.args[1:]
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) == 2 and (dims[1] == -1 or dims[0] == -1 or isinstance(dims[0], fx.Node)):
            return ir.Flatten()
        raise UnsupportedLayerError(node.name, f"Tensor.{m}", "only (batch, -1) reshapes")
    if m in ("softmax", "log_softmax"):
        return ir.Softmax()
    if m == "contiguous":
        return ir.Identity()
    raise UnsupportedLayerError(node.name, f"Tensor.{m}")


def _resolve_avgpool(specs, output) -> Graph:
    # Shapes are inferred in order, so build prefixes until each AvgPool's input is known.
    done: list = []
    for name, op, ins in specs:
        if isinstance(op, tuple) and op[0] == "avg":
            g = ir.build(done, ins[0])
            op = ir.avgpool(g[ins[0]].shape[0], op[1], op[2], op[3])
        done.append((name, op, ins))
    return ir.build(done, output)
