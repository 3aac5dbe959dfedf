"""TorchScript frontend: a ``torch.jit.save`` archive -> :class:`snngen.ir.graph.Graph`.

A TorchScript archive carries its own code (``code/*.py``) and tensors, so the model can be
converted without the Python class that defined it. Loading one is safe in the sense that
matters here: ``torch.jit.load`` compiles the archived TorchScript with the TorchScript compiler
and its unpickler only rebuilds tensors and TorchScript classes, never arbitrary Python globals
(unlike ``torch.load(weights_only=False)`` on a pickled ``nn.Module``).

The converter walks ``module.inlined_graph`` (the same for ``torch.jit.script`` and
``torch.jit.trace`` outputs) backwards from the returned value, so only what the output depends
on is looked at: shape assertions, warnings and training-only branches are ignored. Parameters
are found by following ``prim::GetAttr`` chains from ``self``; constant arguments
(``prim::Constant``, ``prim::ListConstruct``, ``prim::If`` on constants, ``x.size(0)`` ...) are
evaluated in Python. ``self.training`` always reads as ``False``: the network is converted in
inference mode, as :func:`snngen.frontend.torch_fx.from_torch` does with ``model.eval()``.

Supported aten ops (everything else raises :class:`UnsupportedLayerError` naming the op):
``conv2d``/``_convolution``/``convolution`` (groups 1, dilation 1, not transposed), ``linear``,
``addmm(b, x, W.t())`` and ``matmul``/``mm(x, W.t())`` with an optional ``+ b``, ``relu``,
``max_pool2d``, ``avg_pool2d``, ``batch_norm`` (running statistics), ``flatten(x, 1)`` and
``view``/``reshape`` to ``(batch, -1)``, ``cat`` along channels, ``add`` of two tensors,
``dropout`` and friends, ``contiguous``, ``detach``, ``clone`` (no-ops) and a final
``softmax``/``log_softmax``.

IR node names are the module path for layers of ``torch.nn`` (``"features.0"``, as
:func:`~snngen.frontend.torch_fx.from_torch` names them), ``<module path>.<value name>`` for an op
in the ``forward`` of a custom module, and the TorchScript value name (``"input0.1"``, ``"42"``) for
an op in the top-level ``forward``. Names are deterministic: the same archive gives the same graph.
"""

from __future__ import annotations

import itertools
import operator
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snngen.frontend.common import ModelLoadError, UnsupportedLayerError
from snngen.frontend.common import pair as _pair
from snngen.frontend.common import to_numpy as _np
from snngen.ir import graph as ir
from snngen.ir.graph import Graph

# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """Load a ``torch.jit.save`` archive on the CPU.

    TorchScript archives hold TorchScript code and tensors; ``torch.jit.load`` does not unpickle
    arbitrary Python globals, which is why snngen accepts them as model files. Anything else (a
    missing file, a ``torch.save`` checkpoint or state_dict, random bytes, a truncated archive)
    raises :class:`ModelLoadError` naming the file and the cause.
    """
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"TorchScript file {p} does not exist")
    if not p.is_file():
        raise ModelLoadError(f"TorchScript file {p} is not a regular file")
    try:
        module = torch.jit.load(str(p), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError/ValueError/... with long C++ messages
        cause = (str(e).strip().splitlines() or [""])[0]
        cause = cause.split(". This is an internal miniz error")[0][:300]
        raise ModelLoadError(f"{p} is not a TorchScript archive (torch.jit.load said: "
                             f"{type(e).__name__}: {cause}){_hint(p)}") from e
    if not isinstance(module, torch.jit.ScriptModule):
        raise ModelLoadError(f"{p} holds a {type(module).__name__}, not a TorchScript module")
    return module


def _hint(p: Path) -> str:
    """Say so when ``p`` looks like a ``torch.save`` checkpoint rather than a jit archive."""
    try:
        if not zipfile.is_zipfile(p):
            return ""
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return ""
    if any(n.endswith("data.pkl") for n in names) and not any("/code/" in n for n in names):
        return ("; it looks like a torch.save() checkpoint such as a state_dict: give the model "
                "as 'file.py:factory' with these weights, or save it with torch.jit.save")
    return ""


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------


def from_torchscript(module: torch.jit.ScriptModule, input_shape: tuple[int, ...]) -> Graph:
    """Convert a scripted or traced module to the IR for one sample of ``input_shape`` (no
    batch axis). Raises :class:`UnsupportedLayerError` for anything snngen cannot convert."""
    if not isinstance(module, torch.jit.ScriptModule):
        raise TypeError(f"expected a torch.jit.ScriptModule, got {type(module).__name__}")
    return _Converter(module, tuple(int(d) for d in input_shape)).convert()


class _Batch:
    """The batch size (``x.size(0)``): only meaningful as the first dimension of a reshape."""

    def __repr__(self) -> str:
        return "<batch>"


BATCH = _Batch()


class _Unresolved(Exception):
    """A value is not a compile-time constant (it depends on the input, or on an unknown op)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _NeedTensor(Exception):
    """A data tensor must be converted first (it is an input, or its shape is needed)."""

    def __init__(self, value: torch._C.Value) -> None:
        super().__init__(value.debugName())
        self.value = value


@dataclass(frozen=True)
class _Mod:
    """A submodule reached through ``prim::GetAttr`` from ``self``, with its path."""

    obj: torch.jit.ScriptModule
    path: str


def _is_none(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    raise _Unresolved("aten::__is__")


def _scalar(f):
    """Wrap a Python operator so it only applies to plain scalars (never tensors or the batch)."""

    def g(*args):
        for a in args:
            if isinstance(a, (_Batch, torch.Tensor)) or not isinstance(
                    a, (bool, int, float, str, list, tuple, type(None))):
                raise _Unresolved(getattr(f, "__name__", "op"))
        return f(*args)

    return g


# Scalar ops TorchScript uses to compute constant arguments (e.g. F.softmax's ``dim``).
_SCALAR_OPS = {
    "aten::__is__": _is_none,
    "aten::__isnot__": lambda a, b: not _is_none(a, b),
    "aten::__not__": _scalar(operator.not_),
    "aten::eq": _scalar(operator.eq),
    "aten::ne": _scalar(operator.ne),
    "aten::lt": _scalar(operator.lt),
    "aten::gt": _scalar(operator.gt),
    "aten::le": _scalar(operator.le),
    "aten::ge": _scalar(operator.ge),
    "aten::add": _scalar(operator.add),
    "aten::sub": _scalar(operator.sub),
    "aten::mul": _scalar(operator.mul),
    "aten::floordiv": _scalar(operator.floordiv),
    "aten::neg": _scalar(operator.neg),
    "aten::__and__": _scalar(operator.and_),
    "aten::__or__": _scalar(operator.or_),
    "aten::__contains__": _scalar(lambda seq, x: x in seq),
    "aten::__getitem__": _scalar(lambda seq, i: seq[i]),
    "aten::len": _scalar(len),
}
# Ops that pass their first argument through unchanged for the purpose of constant evaluation.
_PASS_THROUGH = ("prim::unchecked_cast", "prim::NumToTensor", "aten::Int", "aten::ScalarImplicit",
                 "aten::IntImplicit")
_IDENTITY_OPS = {"aten::dropout", "aten::dropout_", "aten::feature_dropout",
                 "aten::feature_dropout_", "aten::alpha_dropout", "aten::alpha_dropout_",
                 "aten::feature_alpha_dropout", "aten::feature_alpha_dropout_",
                 "aten::contiguous", "aten::detach", "aten::clone"}
# ops whose second argument is the weight of a torch.nn layer
_WEIGHTED = ("aten::conv2d", "aten::_convolution", "aten::convolution", "aten::linear",
             "aten::batch_norm")
_HIERARCHY = re.compile(r"([^.()]+)\(([^()]*)\)")


def _is_inplace(kind: str) -> bool:
    return kind.startswith("aten::") and kind.endswith("_") and not kind.endswith("__")


class _Converter:
    def __init__(self, module: torch.jit.ScriptModule, input_shape: tuple[int, ...]) -> None:
        self.module = module
        self.graph = module.inlined_graph  # a fresh, inlined copy of forward's graph
        self.input_shape = input_shape
        self.names: dict[int, str] = {}  # Value.unique() of a data tensor -> IR node name
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.specs: list[tuple[str, ir.Op, tuple[str, ...]]] = []
        self.used: set[str] = set()
        self.consts: dict[int, object] = {}  # Value.unique() -> constant value
        self.not_consts: dict[int, str] = {}  # Value.unique() -> why it is not a constant
        self.consumers: dict[int, list[torch._C.Node]] = {}  # data value -> converted users
        self.emitted: list[torch._C.Node] = []
        self.labels: dict[tuple[str, str], str] = {}  # (path, type) -> qualified type name
        self.paths: dict[tuple[tuple[str, str], ...], str] = {}  # call-stack names -> module path
        self.param_paths: dict[int, str] = {}  # Value.unique() of a parameter -> module path

    # ---------------------------------------------------------------------------------------
    # driver

    def convert(self) -> Graph:
        inputs = list(self.graph.inputs())
        if len(inputs) != 2:
            raise UnsupportedLayerError("forward", "signature",
                                        f"forward takes {len(inputs) - 1} arguments; "
                                        f"one input tensor only")
        self.self_u = inputs[0].unique()
        x = inputs[1]
        self._add("input", ir.Input(self.input_shape), ())
        self.names[x.unique()] = "input"
        outs = list(self.graph.outputs())
        out = outs[0]
        if len(outs) != 1 or out.node().kind() in ("prim::TupleConstruct",
                                                   "prim::ListConstruct",
                                                   "prim::DictConstruct"):
            raise UnsupportedLayerError("output", out.node().kind(),
                                        "the model must return a single tensor")
        self._resolve(out)
        output = self.names[out.unique()]
        self.consumers.setdefault(out.unique(), []).append(self.graph.return_node())
        for name, op, _ in self.specs:
            if isinstance(op, ir.Softmax) and name != output:
                raise UnsupportedLayerError(name, "softmax",
                                            "softmax is only supported as the final layer")
        self._check_inplace()
        return ir.build(self.specs, output)

    def _resolve(self, out: torch._C.Value) -> None:
        """Convert ``out`` and, first, every data tensor it depends on (iteratively: deep
        networks would exhaust Python's recursion limit)."""
        stack = [out]
        on_stack = {out.unique()}
        while stack:
            v = stack[-1]
            if v.unique() in self.names:
                stack.pop()
                on_stack.discard(v.unique())
                continue
            try:
                self._convert_value(v)
            except _NeedTensor as need:
                u = need.value.unique()
                if u in on_stack:
                    node = need.value.node()
                    raise UnsupportedLayerError(self._label(node, need.value), node.kind(),
                                                "a value that depends on itself (a loop)"
                                                ) from None
                stack.append(need.value)
                on_stack.add(u)
                continue
            stack.pop()
            on_stack.discard(v.unique())

    def _data(self, v: torch._C.Value) -> str:
        """The IR name of data tensor ``v``; asks for it to be converted first if need be."""
        name = self.names.get(v.unique())
        if name is None:
            raise _NeedTensor(v)
        return name

    def _add(self, name: str, op: ir.Op, ins: tuple[str, ...]) -> None:
        self.shapes[name] = ir.infer_shape(op, [self.shapes[i] for i in ins], where=name)
        self.specs.append((name, op, ins))
        self.used.add(name)

    def _emit(self, node: torch._C.Node, v: torch._C.Value, op: ir.Op,
              inputs: list[torch._C.Value]) -> None:
        ins = tuple(self._data(i) for i in inputs)
        base = self._label(node, v)
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self._add(name, op, ins)
        self.names[v.unique()] = name
        self.emitted.append(node)
        for i in inputs:
            self.consumers.setdefault(i.unique(), []).append(node)

    # ---------------------------------------------------------------------------------------
    # names

    def _module_path(self, node: torch._C.Node) -> tuple[str, str]:
        """(module path, module type) of the module whose forward ``node`` comes from."""
        try:
            hier = node.getModuleHierarchy()
        except (AttributeError, RuntimeError):
            hier = ""
        parts: list[tuple[str, str]] = []  # (attribute name, type name)
        for inst, typ in _HIERARCHY.findall(hier or ""):
            if inst in ("SELF", "UNKNOWN_INSTANCE", "TOP"):
                if inst == "TOP":
                    continue
                break
            parts.append((inst, typ))
        if parts:
            key = tuple(parts)
            if key not in self.paths:
                self.paths[key] = self._find_path(parts) or ".".join(n for n, _ in parts)
            return self.paths[key], parts[-1][1]
        scope = node.scopeName() or ""  # set on traced modules that were not saved and loaded
        names = [p for p in scope.split("/")[-1].split(".") if p and p != "__module"]
        return ".".join(names), ""

    def _find_path(self, names: list[tuple[str, str]]) -> str | None:
        """The call stack names each called module by its attribute name only: ``cs.0`` appears
        as ``0`` when the ModuleList ``cs`` is indexed rather than called. Rebuild the full path
        by looking through uncalled containers (if several hold that name: those of the recorded
        type, then the shallowest); None when it stays ambiguous or is not found."""

        def find(obj, name: str) -> list[tuple[list[str], object]]:
            children = dict(obj.named_children())
            if name in children:
                return [([name], children[name])]
            found = []
            for cname, child in children.items():
                if getattr(child, "original_name", "") in ("ModuleList", "ModuleDict",
                                                           "Sequential"):
                    found += [([cname, *rel], c) for rel, c in find(child, name)]
            return found

        obj, path = self.module, []
        try:
            for name, typ in names:
                found = find(obj, name)
                if len(found) > 1:
                    found = [f for f in found if getattr(f[1], "original_name", "") == typ]
                if len(found) > 1:  # the shallowest, if just one is
                    depth = min(len(rel) for rel, _ in found)
                    found = [f for f in found if len(f[0]) == depth]
                if len(found) != 1:
                    return None
                rel, obj = found[0]
                path += rel
        except (AttributeError, RuntimeError):
            return None
        return ".".join(path)

    def _is_torch_layer(self, path: str, typ: str) -> bool:
        """True when ``path`` names a ``torch.nn`` layer (not a user's or a container module).
        Judged from the module's TorchScript type, or, when the module is gone (a frozen
        model), from the type name the call stack records."""
        if (path, typ) not in self.labels:
            obj = self.module
            try:
                for p in path.split("."):
                    obj = getattr(obj, p)
                qual = obj._c._type().qualified_name()
            except (AttributeError, RuntimeError):
                cls = getattr(torch.nn, typ, None)
                ok = isinstance(cls, type) and issubclass(cls, torch.nn.Module)
                qual = f"__torch__.torch.nn.modules.{typ}" if ok else ""
            self.labels[path, typ] = qual
        qual = self.labels[path, typ]
        return qual.startswith("__torch__.torch.nn.modules.") and not re.search(
            r"\.(Sequential|ModuleList|ModuleDict)$", qual)

    def _label(self, node: torch._C.Node, v: torch._C.Value | None = None) -> str:
        if v is None:
            outs = list(node.outputs())
            v = outs[0] if outs else None
        debug = v.debugName() if v is not None else node.kind().split("::")[-1]
        if node.kind() in _WEIGHTED and node.inputsSize() > 1:
            # the weight's attribute path names its layer exactly
            owner = self.param_paths.get(node.inputsAt(1).unique())
            if owner and self._is_torch_layer(owner, ""):
                return owner
        path, typ = self._module_path(node)
        if not path:
            return debug
        return path if self._is_torch_layer(path, typ) else f"{path}.{debug}"

    def _unsupported(self, node: torch._C.Node, detail: str = "") -> UnsupportedLayerError:
        path, typ = self._module_path(node)
        where = f"in {typ} module {path!r}" if path and typ else ""
        detail = "; ".join(d for d in (detail, where) if d)
        return UnsupportedLayerError(self._label(node), node.kind(), detail)

    # ---------------------------------------------------------------------------------------
    # constants

    def _value(self, v: torch._C.Value):
        """Evaluate a non-data value (constant, parameter, submodule, shape arithmetic)."""
        u = v.unique()
        if u in self.consts:
            return self.consts[u]
        if u in self.not_consts:
            raise _Unresolved(self.not_consts[u])
        try:
            r = self._evaluate(v)
        except _Unresolved as e:
            self.not_consts[u] = e.kind  # stays so: a value never becomes a constant later
            raise
        self.consts[u] = r
        return r

    def _evaluate(self, v: torch._C.Value):
        u = v.unique()
        node = v.node()
        kind = node.kind()
        if u == self.self_u:
            r = _Mod(self.module, "")
        elif u in self.names:
            raise _Unresolved("input-dependent tensor")
        elif kind == "prim::Constant":
            try:
                r = v.toIValue()
            except RuntimeError:
                raise _Unresolved(kind) from None
        elif kind == "prim::GetAttr":
            parent = self._value(node.inputsAt(0))
            if not isinstance(parent, _Mod):
                raise _Unresolved(kind)
            attr = node.s("name")
            if attr == "training":
                r = False  # convert in inference mode
            else:
                try:
                    obj = getattr(parent.obj, attr)
                except (AttributeError, RuntimeError):
                    raise _Unresolved(kind) from None
                path = f"{parent.path}.{attr}" if parent.path else attr
                r = _Mod(obj, path) if isinstance(obj, torch.jit.ScriptModule) else obj
                if isinstance(obj, torch.Tensor):
                    self.param_paths[u] = parent.path
        elif kind == "prim::ListConstruct":
            r = [self._value(i) for i in node.inputs()]
        elif kind == "prim::TupleConstruct":
            r = tuple(self._value(i) for i in node.inputs())
        elif kind == "prim::If":
            r = self._value(self._branch(node, v))
        elif kind in _PASS_THROUGH:
            r = self._value(node.inputsAt(0))
        elif kind in ("aten::size", "aten::dim"):
            shape = self._shape_of(node.inputsAt(0))
            if kind == "aten::dim":
                r = len(shape)
            elif node.inputsSize() == 1:
                r = list(shape)
            else:
                d = self._value(node.inputsAt(1))
                if not isinstance(d, int) or not -len(shape) <= d < len(shape):
                    raise _Unresolved(kind)
                r = shape[d]
        elif kind in ("aten::t", "aten::transpose", "aten::numpy_T"):
            args = [self._value(i) for i in node.inputs()]
            if not isinstance(args[0], torch.Tensor):
                raise _Unresolved(kind)
            r = args[0].transpose(args[1], args[2]) if kind == "aten::transpose" else args[0].t()
        elif kind in _SCALAR_OPS and not isinstance(v.type(), torch._C.TensorType):
            r = _SCALAR_OPS[kind](*[self._value(i) for i in node.inputs()])
        else:
            raise _Unresolved(kind)
        return r

    def _shape_of(self, t: torch._C.Value) -> tuple:
        """Full shape (batch first) of tensor ``t``: converted data tensors and parameters."""
        name = self.names.get(t.unique())
        if name is not None:
            return (BATCH, *self.shapes[name])
        try:
            val = self._value(t)
        except _Unresolved:
            raise _NeedTensor(t) from None
        if not isinstance(val, torch.Tensor):
            raise _Unresolved("aten::size")
        return tuple(val.shape)

    def _branch(self, node: torch._C.Node, v: torch._C.Value) -> torch._C.Value:
        """The value a ``prim::If`` with a constant condition yields for output ``v``."""
        cond = self._value(node.inputsAt(0))
        if not isinstance(cond, bool):
            raise _Unresolved(node.kind())
        block = list(node.blocks())[0 if cond else 1]
        return block.returnNode().inputsAt(v.offset())

    def _arg(self, node: torch._C.Node, i: int):
        """Constant argument ``i`` of ``node``, or an UnsupportedLayerError saying why not."""
        if i >= node.inputsSize():
            return None
        a = node.inputsAt(i)
        try:
            return self._value(a)
        except _Unresolved as e:
            raise self._unsupported(node, f"argument {i} ({a.debugName()}) is not a constant "
                                          f"(it is computed by {e.kind})") from None

    def _param(self, node: torch._C.Node, i: int, what: str, dims: int | None = None,
               optional: bool = False) -> np.ndarray | None:
        val = self._arg(node, i)
        if val is None and optional:
            return None
        if not isinstance(val, torch.Tensor):
            raise self._unsupported(node, f"{what} is not a stored tensor")
        if dims is not None and val.dim() != dims:
            raise self._unsupported(node, f"{what} has {val.dim()} dimensions, expected {dims}")
        return _np(val)

    def _ndim(self, v: torch._C.Value) -> int:
        """Number of dimensions of data tensor ``v``, batch included."""
        return len(self.shapes[self._data(v)]) + 1

    def _dim(self, node: torch._C.Node, i: int, ndim: int) -> int:
        d = self._arg(node, i)
        if not isinstance(d, int):
            raise self._unsupported(node, f"dim={d!r}")
        return d + ndim if d < 0 else d

    # ---------------------------------------------------------------------------------------
    # ops

    def _convert_value(self, v: torch._C.Value) -> None:
        node = v.node()
        kind = node.kind()
        if kind == "prim::If":
            try:
                inner = self._branch(node, v)
            except _Unresolved as e:
                raise self._unsupported(node, f"control flow on a value computed at run time "
                                              f"(by {e.kind})") from None
            self.names[v.unique()] = self._data(inner)
            return
        if kind == "prim::unchecked_cast":
            self.names[v.unique()] = self._data(node.inputsAt(0))
            return
        if kind == "prim::Param":
            raise UnsupportedLayerError(v.debugName(), "loop-carried value",
                                        "loops are not supported")
        if node.outputsSize() != 1:
            raise self._unsupported(node, "ops with several outputs are not supported")
        handler = _HANDLERS.get(kind)
        if handler is None:
            if kind in ("prim::GetAttr", "prim::Constant"):
                raise self._unsupported(node, "a stored tensor used as data; only tensors "
                                              "computed from the input are supported")
            raise self._unsupported(node)
        op, inputs = handler(self, node)
        self._emit(node, v, op, inputs)

    def _conv(self, node, stride_i: int, transposed: bool, groups_i: int):
        x = node.inputsAt(0)
        self._data(x)
        w = self._param(node, 1, "the weight", dims=4)
        b = self._param(node, 2, "the bias", dims=1, optional=True)
        stride, padding, dilation = (self._arg(node, i) for i in range(stride_i, stride_i + 3))
        groups = self._arg(node, groups_i)
        if transposed:
            raise self._unsupported(node, "transposed convolution")
        if groups != 1:
            raise self._unsupported(node, f"groups={groups}")
        if isinstance(padding, str):
            raise self._unsupported(node, f"padding={padding!r}; give it in pixels")
        if _pair(dilation) != (1, 1):
            raise self._unsupported(node, f"dilation={dilation}")
        return ir.conv(w, b, _pair(stride), _pair(padding)), [x]

    def op_conv2d(self, node):
        return self._conv(node, 3, False, 6)

    def op_convolution(self, node):  # aten::_convolution and aten::convolution
        return self._conv(node, 3, bool(self._arg(node, 6)), 8)

    def op_linear(self, node):
        x = node.inputsAt(0)
        self._data(x)
        w = self._param(node, 1, "the weight", dims=2)
        b = self._param(node, 2, "the bias", dims=1, optional=True)
        return ir.linear(w, b), [x]

    def _matmul_weight(self, node) -> tuple[torch._C.Value, np.ndarray]:
        """``matmul``/``mm(x, M)`` with a stored 2-D ``M``: (x, W) with ``W = M.T``."""
        x = node.inputsAt(0)
        self._data(x)
        m = self._param(node, 1, "the right-hand matrix", dims=2)
        return x, m.T.copy()

    def op_matmul(self, node):
        x, w = self._matmul_weight(node)
        return ir.linear(w), [x]

    def op_addmm(self, node):
        if self._arg(node, 3) != 1 or self._arg(node, 4) != 1:
            raise self._unsupported(node, "beta and alpha must be 1")
        b = self._param(node, 0, "the bias", dims=1)
        x = node.inputsAt(1)
        self._data(x)
        m = self._param(node, 2, "the right-hand matrix", dims=2)
        return ir.linear(m.T.copy(), b), [x]

    def op_add(self, node):
        alpha = self._arg(node, 2) if node.inputsSize() > 2 else 1
        if alpha != 1:
            raise self._unsupported(node, f"alpha={alpha}; only the sum of two tensors")
        a, b = node.inputsAt(0), node.inputsAt(1)
        # matmul(x, W.t()) + b: a linear layer written out by hand (or traced that way)
        for data, other in ((a, b), (b, a)):
            if data.node().kind() in ("aten::matmul", "aten::mm") and other.unique() not in \
                    self.names:
                try:
                    bias = self._value(other)
                except _Unresolved:
                    continue
                if isinstance(bias, torch.Tensor) and bias.dim() == 1:
                    x, w = self._matmul_weight(data.node())
                    return ir.linear(w, _np(bias)), [x]
        for t in (a, b):
            if t.unique() in self.names:
                continue
            try:
                val = self._value(t)
            except _Unresolved:
                continue
            raise self._unsupported(node, f"adds a constant {type(val).__name__}; only the "
                                          f"sum of two tensors computed from the input")
        self._data(a)
        self._data(b)
        return ir.Add(), [a, b]

    def op_relu(self, node):
        x = node.inputsAt(0)
        self._data(x)
        return ir.ReLU(), [x]

    def op_identity(self, node):
        x = node.inputsAt(0)
        self._data(x)
        return ir.Identity(), [x]

    def _pool_args(self, node, ceil_i: int):
        x = node.inputsAt(0)
        self._data(x)
        kernel, stride, padding = (self._arg(node, i) for i in (1, 2, 3))
        if self._arg(node, ceil_i):
            raise self._unsupported(node, "ceil_mode=True")
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
            stride = kernel
        return x, _pair(kernel), _pair(stride), _pair(padding)

    def op_max_pool2d(self, node):
        x, k, s, p = self._pool_args(node, 5)
        if _pair(self._arg(node, 4)) != (1, 1):
            raise self._unsupported(node, f"dilation={self._arg(node, 4)}")
        return ir.maxpool(k, s, p), [x]

    def op_avg_pool2d(self, node):
        x, k, s, p = self._pool_args(node, 4)
        if self._arg(node, 6) is not None:
            raise self._unsupported(node, f"divisor_override={self._arg(node, 6)}")
        if not self._arg(node, 5) and p != (0, 0):
            raise self._unsupported(node, "count_include_pad=False with padding")
        channels = self.shapes[self._data(x)][0]
        return ir.avgpool(channels, k, s, p), [x]

    def op_batch_norm(self, node):
        x = node.inputsAt(0)
        self._data(x)
        if self._arg(node, 5):
            raise self._unsupported(node, "batch statistics (training=True): trace or script "
                                          "the model in eval mode, with running statistics")
        mean = self._param(node, 3, "running_mean", dims=1, optional=True)
        var = self._param(node, 4, "running_var", dims=1, optional=True)
        if mean is None or var is None:
            raise self._unsupported(node, "no running statistics (track_running_stats=False)")
        c = mean.shape[0]
        gamma = self._param(node, 1, "the weight", dims=1, optional=True)
        beta = self._param(node, 2, "the bias", dims=1, optional=True)
        gamma = np.ones(c) if gamma is None else gamma
        beta = np.zeros(c) if beta is None else beta
        return ir.BatchNorm(gamma, beta, mean, var, float(self._arg(node, 7))), [x]

    def op_flatten(self, node):
        x = node.inputsAt(0)
        n = self._ndim(x)
        start, end = self._dim(node, 1, n), self._dim(node, 2, n)
        if start != 1 or end != n - 1:
            raise self._unsupported(node, "only flatten(x, 1) (keep the batch axis)")
        return ir.Flatten(), [x]

    def op_view(self, node):  # aten::view, aten::reshape
        x = node.inputsAt(0)
        shape = self.shapes[self._data(x)]
        dims = self._arg(node, 1)
        if (isinstance(dims, (list, tuple)) and len(dims) == 2
                and (dims[0] is BATCH or (isinstance(dims[0], int) and dims[0] == -1))
                and isinstance(dims[1], int) and dims[1] in (-1, int(np.prod(shape)))):
            return ir.Flatten(), [x]
        raise self._unsupported(node, f"shape {dims}; only (batch, -1) reshapes")

    def op_cat(self, node):
        lst = node.inputsAt(0).node()
        if lst.kind() != "prim::ListConstruct":
            raise self._unsupported(node, "the tensors must be listed literally")
        parts = list(lst.inputs())
        for p in parts:
            self._data(p)
        dim = self._dim(node, 1, self._ndim(parts[0]))
        if dim != 1:
            raise self._unsupported(node, f"dim={self._arg(node, 1)}; only channels (1)")
        return ir.Concat(), parts

    def op_softmax(self, node):
        x = node.inputsAt(0)
        if self._dim(node, 1, self._ndim(x)) != 1:
            raise self._unsupported(node, f"dim={self._arg(node, 1)}; only over dim 1")
        return ir.Softmax(), [x]

    # ---------------------------------------------------------------------------------------
    # in-place updates

    def _check_inplace(self) -> None:
        """Reject an in-place op on a tensor that is read again afterwards: the converter
        follows values, so it would see the tensor before the update (``y.relu_()`` as a
        statement, or ``z = F.relu(y, inplace=True)`` followed by a use of ``y``)."""
        for node in itertools.chain(self.graph.nodes(), self.emitted):
            if not _is_inplace(node.kind()) or node.inputsSize() == 0:
                continue
            u = node.inputsAt(0).unique()
            if u not in self.names:
                continue
            if any(c.isAfter(node) for c in self.consumers.get(u, [])):
                raise self._unsupported(node, "an in-place update of a tensor that is used "
                                              "again afterwards; use the result instead")


_HANDLERS = {
    "aten::conv2d": _Converter.op_conv2d,
    "aten::_convolution": _Converter.op_convolution,
    "aten::convolution": _Converter.op_convolution,
    "aten::linear": _Converter.op_linear,
    "aten::addmm": _Converter.op_addmm,
    "aten::matmul": _Converter.op_matmul,
    "aten::mm": _Converter.op_matmul,
    "aten::add": _Converter.op_add,
    "aten::add_": _Converter.op_add,
    "aten::relu": _Converter.op_relu,
    "aten::relu_": _Converter.op_relu,
    "aten::max_pool2d": _Converter.op_max_pool2d,
    "aten::avg_pool2d": _Converter.op_avg_pool2d,
    "aten::batch_norm": _Converter.op_batch_norm,
    "aten::flatten": _Converter.op_flatten,
    "aten::view": _Converter.op_view,
    "aten::reshape": _Converter.op_view,
    "aten::cat": _Converter.op_cat,
    "aten::softmax": _Converter.op_softmax,
    "aten::log_softmax": _Converter.op_softmax,
    **{k: _Converter.op_identity for k in _IDENTITY_OPS},
}

__all__ = ["from_torchscript", "load_torchscript"]
