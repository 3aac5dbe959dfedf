"""The network file (``.snn``): a versioned, self-contained, checksummed fixed-point network.

One file holds everything the golden model, the timing model and the hardware backends need: the
integer graph, the proven register formats of every IF population, what quantisation did, the
fixed-point and conversion settings and where the network came from. The exact layout is in
``docs/format.md``; the meaning of the numbers in ``docs/semantics.md``.

* :func:`save` / :func:`load` write / read a file, :func:`dumps` / :func:`loads` bytes.
* The bytes are deterministic: the same network always gives the same file (canonical JSON, no
  timestamps, no absolute paths), and ``dumps(load(path))`` is byte-identical to the file.
* :func:`load` trusts nothing: it checks the format name, the version, the SHA-256 checksum, the
  canonical encoding, every field's presence and type, the graph (rebuilt with
  :func:`snngen.ir.graph.build`, every shape re-inferred), and every value against the formats that
  are supposed to hold it. Any problem is a :class:`NetFileError` naming the file, the field and the
  cause. :func:`save` runs the same checks first, so it never writes a file ``load`` would refuse.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from snngen import atomic
from snngen.convert.passes import ConversionConfig, kinds
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet
from snngen.fixedpoint.formats import Fixed
from snngen.fixedpoint.quantize import LayerQuant, QuantizationError, synapses
from snngen.fixedpoint.widths import LayerFormat, analyze
from snngen.ir import graph as ir

FORMAT = "snngen-net"
VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (VERSION,)

# the op names of a version-1 graph, with the fields each node carries besides
# name / op / inputs / shape
OP_FIELDS: dict[str, tuple[str, ...]] = {
    "Input": ("bits",),
    "Conv2d": ("weight", "bias", "stride", "padding"),
    "Linear": ("weight", "bias"),
    "AvgPool2d": ("kernel", "stride", "padding", "gain"),
    "MaxPool2d": ("kernel", "stride", "padding"),
    "Flatten": (),
    "Concat": (),
    "Add": ("gains",),
    "IF": ("threshold", "v0", "output", "spiking", "v_min"),
}
OPS = tuple(OP_FIELDS)
_OP_NAME = {ir.Input: "Input", ir.Conv2d: "Conv2d", ir.Linear: "Linear",
            ir.AvgPool2d: "AvgPool2d", ir.MaxPool2d: "MaxPool2d", ir.Flatten: "Flatten",
            ir.Concat: "Concat", ir.Add: "Add", ir.IF: "IF"}

_BODY_KEYS = ("config", "conversion", "formats", "graph", "quant", "source")
_TOP_KEYS = ("body", "checksum", "format", "version")
_FORMAT_KEYS = ("accumulator", "bias", "current", "layer", "membrane", "membrane_range",
                "threshold", "v0", "v_min", "weight")
_QUANT_KEYS = ("layer", "scale", "sources", "threshold", "v0", "v_min", "weight_bits",
               "weight_error")
_CONFIG_KEYS = ("input_bits", "layer_bits", "max_timesteps", "membrane_bits", "weight_bits")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_CHECKSUM_PREFIX = "sha256:"
_MAX_ELEMENTS = 1 << 31  # per node and image: keeps every shape computation far from int64


# what a cut can leave of a JSON token at the end of a file
# (a lone minus sign, the "." or exponent of a number the decoder stopped before, a prefix of
# true/false/null)
_PARTIAL_TOKEN = re.compile(r"-|\.|[eE][+-]?|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?")


class NetFileError(ValueError):
    """A network file cannot be read (or a network cannot be written). The message names the
    file, the field (as a path such as ``body.graph.nodes[3].weight``) and the cause."""

    def __init__(self, file: str, reason: str, field: str | None = None) -> None:
        self.file, self.reason, self.field = file, reason, field
        super().__init__(f"{file}: {field}: {reason}" if field else f"{file}: {reason}")


class _Bad(Exception):
    """Internal: a validation failure at ``field``; turned into a NetFileError by the caller."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


# --------------------------------------------------------------------------------------------
# canonical bytes
# --------------------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    """The one encoding of a JSON value: sorted keys, no whitespace, UTF-8, finite numbers."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _checksum(body_bytes: bytes) -> str:
    return _CHECKSUM_PREFIX + hashlib.sha256(body_bytes).hexdigest()


def _assemble(body_bytes: bytes, version: int = VERSION) -> bytes:
    """The whole file around canonical body bytes; equal to ``_canonical(top) + b"\\n"``
    because the top-level keys sort as body < checksum < format < version."""
    tail = json.dumps(_checksum(body_bytes)) + f',"format":"{FORMAT}","version":{version}}}\n'
    return b'{"body":' + body_bytes + b',"checksum":' + tail.encode("ascii")


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return f"a boolean ({'true' if v else 'false'})"
    if isinstance(v, (int, np.integer)):
        return f"an integer ({int(v)})"
    if isinstance(v, (float, np.floating)):
        return f"a float ({float(v)!r})"
    if isinstance(v, str):
        return f"a string ({v[:40]!r})"
    if isinstance(v, (list, tuple)):
        return f"a list of {len(v)}"
    if isinstance(v, dict):
        return "an object"
    return f"a {type(v).__module__}.{type(v).__qualname__}"


def _key(path: str, k: str) -> str:
    if k.isidentifier():
        return f"{path}.{k}" if path else k
    return f"{path}[{json.dumps(k, ensure_ascii=False)}]"


def _enc_int(v: Any, path: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise _Bad(path, f"expected an integer, got {_describe(v)} (is the network quantised?)")
    return int(v)


def _enc_opt_int(v: Any, path: str) -> int | None:
    return None if v is None else _enc_int(v, path)


def _enc_bool(v: Any, path: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise _Bad(path, f"expected a boolean, got {_describe(v)}")
    return bool(v)


def _enc_float(v: Any, path: str) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                              np.floating)):
        raise _Bad(path, f"expected a number, got {_describe(v)}")
    f = float(v)
    if not math.isfinite(f):
        raise _Bad(path, f"expected a finite number, got {f!r}")
    return f


def _enc_ints(v: Any, path: str) -> list[int]:
    return [_enc_int(x, f"{path}[{i}]") for i, x in enumerate(v)]


def _enc_array(a: Any, path: str) -> dict:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise _Bad(path, f"expected an integer array, got dtype {a.dtype} (is the network "
                         f"quantised?)")
    if a.dtype.kind == "u" and a.size and int(a.max()) > _INT64_MAX:
        raise _Bad(path, f"value {int(a.max())} does not fit in int64")
    return {"data": a.reshape(-1).tolist(), "shape": list(a.shape)}


def _enc_json(v: Any, path: str) -> Any:
    """A free-form JSON value (conversion, source): objects with string keys, lists, strings,
    booleans, integers, finite floats, null. Tuples are written as lists."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return _enc_float(v, path)
    if isinstance(v, (list, tuple)):
        return [_enc_json(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, Mapping):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise _Bad(path, f"object keys must be strings, got {_describe(k)}")
            out[k] = _enc_json(x, _key(path, k))
        return out
    raise _Bad(path, f"{_describe(v)} is not a JSON value (use str, int, float, bool, None, "
                     f"list or dict)")


def _enc_node(node: ir.Node, path: str) -> dict:
    op = node.op
    name = _OP_NAME.get(type(op))
    if name is None:
        raise _Bad(f"{path}.op", f"{type(op).__name__} node {node.name!r} has no place in a "
                                 f"quantised spiking network (version {VERSION} holds "
                                 f"{', '.join(OPS)})")
    d: dict[str, Any] = {"name": node.name, "op": name, "inputs": list(node.inputs),
                         "shape": _enc_ints(node.shape, f"{path}.shape")}
    bias = lambda b: None if b is None else _enc_array(b, f"{path}.bias")  # noqa: E731
    if isinstance(op, ir.Input):
        d["bits"] = _enc_opt_int(op.bits, f"{path}.bits")
        d["shape"] = _enc_ints(op.shape, f"{path}.shape")
    elif isinstance(op, (ir.Conv2d, ir.Linear)):
        d["weight"] = _enc_array(op.weight, f"{path}.weight")
        d["bias"] = bias(op.bias)
        if isinstance(op, ir.Conv2d):
            d["stride"] = _enc_ints(op.stride, f"{path}.stride")
            d["padding"] = _enc_ints(op.padding, f"{path}.padding")
    elif isinstance(op, (ir.AvgPool2d, ir.MaxPool2d)):
        d["kernel"] = _enc_ints(op.kernel, f"{path}.kernel")
        d["stride"] = _enc_ints(op.stride, f"{path}.stride")
        d["padding"] = _enc_ints(op.padding, f"{path}.padding")
        if isinstance(op, ir.AvgPool2d):
            d["gain"] = _enc_array(op.gain, f"{path}.gain")
    elif isinstance(op, ir.Add):
        d["gains"] = [_enc_array(g, f"{path}.gains[{i}]") for i, g in enumerate(op.gains)]
    elif isinstance(op, ir.IF):
        d["threshold"] = _enc_int(op.threshold, f"{path}.threshold")
        d["v0"] = _enc_int(op.v0, f"{path}.v0")
        d["output"] = _enc_bool(op.output, f"{path}.output")
        d["spiking"] = _enc_bool(op.spiking, f"{path}.spiking")
        d["v_min"] = _enc_opt_int(op.v_min, f"{path}.v_min")
    return d


def _enc_quant(q: LayerQuant, path: str) -> dict:
    return {
        "layer": q.layer, "sources": list(q.sources),
        "weight_bits": _enc_int(q.weight_bits, f"{path}.weight_bits"),
        "scale": _enc_float(q.scale, f"{path}.scale"),
        "threshold": _enc_int(q.threshold, f"{path}.threshold"),
        "v0": _enc_int(q.v0, f"{path}.v0"),
        "v_min": _enc_opt_int(q.v_min, f"{path}.v_min"),
        "weight_error": _enc_float(q.weight_error, f"{path}.weight_error"),
    }


def _body(net: FixedNet) -> dict:
    """The body of the file as plain JSON values (not yet validated)."""
    if not isinstance(net, FixedNet):
        raise _Bad(None, f"expected a FixedNet, got {_describe(net)}")
    nodes = [_enc_node(n, f"body.graph.nodes[{i}]") for i, n in enumerate(net.graph.nodes)]
    formats = {}
    for k, f in net.formats.items():
        path = _key("body.formats", str(k))
        if not isinstance(f, LayerFormat):
            raise _Bad(path, f"expected a LayerFormat, got {_describe(f)}")
        formats[k] = _enc_json(f.to_dict(), path)
    return {
        "graph": {"output": net.graph.output, "nodes": nodes},
        "formats": formats,
        "quant": [_enc_quant(q, f"body.quant[{i}]") for i, q in enumerate(net.quant)],
        "config": _enc_json(net.config.to_dict(), "body.config"),
        "conversion": _enc_json(net.conversion, "body.conversion"),
        "source": _enc_json(net.source, "body.source"),
    }


def _encode(net: FixedNet, name: str) -> bytes:
    try:
        body = _body(net)
        body_bytes = _canonical(body)
        # never write what load would refuse: validate what a reader will parse
        _dec_body(json.loads(body_bytes))
    except _Bad as e:
        where = f"{e.field}: " if e.field else ""
        err = NetFileError(name, f"cannot write this network: {where}{e.reason}")
        err.field = e.field
        raise err from None
    except (ValueError, UnicodeError) as e:  # non-finite floats, unpaired surrogates
        raise NetFileError(name, f"cannot write this network: {e}") from None
    return _assemble(body_bytes)


def dumps(net: FixedNet) -> bytes:
    """The file's bytes for ``net`` (deterministic: equal networks give equal bytes)."""
    return _encode(net, "<bytes>")


def save(net: FixedNet, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` atomically: the file is either the old one or the whole new
    one, never a mix, and no temporary file is left behind on error."""
    path = os.fspath(path)
    data = _encode(net, os.fsdecode(path))
    atomic.write_bytes(path, data)


# --------------------------------------------------------------------------------------------
# reading: primitive checks (each raises _Bad naming the field)
# --------------------------------------------------------------------------------------------


def _fields(d: Any, path: str, keys: tuple[str, ...]) -> dict:
    """``d`` must be an object with exactly ``keys``."""
    if not isinstance(d, dict):
        raise _Bad(path, f"expected an object, got {_describe(d)}")
    for k in keys:
        if k not in d:
            raise _Bad(_key(path, k), "missing field")
    extra = sorted(set(d) - set(keys))
    if extra:
        raise _Bad(_key(path, extra[0]), f"unexpected field (version {VERSION} has only "
                                         f"{', '.join(sorted(keys))} here)")
    return d


def _int(v: Any, path: str, lo: int = _INT64_MIN, hi: int = _INT64_MAX) -> int:
    if type(v) is not int:
        raise _Bad(path, f"expected an integer, got {_describe(v)}")
    if not lo <= v <= hi:
        want = (f"an integer >= {lo}" if hi == _INT64_MAX and lo != _INT64_MIN else
                f"an integer <= {hi}" if lo == _INT64_MIN and hi != _INT64_MAX else
                f"{lo}..{hi}")
        raise _Bad(path, f"{v} is out of range: expected {want}")
    return v


def _opt_int(v: Any, path: str, lo: int = _INT64_MIN, hi: int = _INT64_MAX) -> int | None:
    return None if v is None else _int(v, path, lo, hi)


def _bool(v: Any, path: str) -> bool:
    if type(v) is not bool:
        raise _Bad(path, f"expected a boolean, got {_describe(v)}")
    return v


def _str(v: Any, path: str) -> str:
    if type(v) is not str or not v:
        raise _Bad(path, f"expected a non-empty string, got {_describe(v)}")
    return v


def _float(v: Any, path: str, positive: bool = False) -> float:
    if type(v) is not float:
        raise _Bad(path, f"expected a float (a JSON number with a '.' or an exponent), got "
                         f"{_describe(v)}")
    if v < 0 or (positive and v == 0):
        raise _Bad(path, f"{v!r} is out of range: expected a number "
                         f"{'> 0' if positive else '>= 0'}")
    return v


def _list(v: Any, path: str, n: int | None = None) -> list:
    if type(v) is not list:
        raise _Bad(path, f"expected a list, got {_describe(v)}")
    if n is not None and len(v) != n:
        raise _Bad(path, f"expected a list of {n}, got {len(v)} entries")
    return v


def _ints(v: Any, path: str, n: int | None = None, lo: int = _INT64_MIN) -> tuple[int, ...]:
    return tuple(_int(x, f"{path}[{i}]", lo) for i, x in enumerate(_list(v, path, n)))


def _array(v: Any, path: str, ndim: int | None = None, positive: bool = False) -> np.ndarray:
    """``{"shape": [...], "data": [...]}`` -> an int64 array."""
    _fields(v, path, ("data", "shape"))
    shape = _ints(v["shape"], f"{path}.shape", lo=1 if positive else 0)
    if ndim is not None and len(shape) != ndim:
        raise _Bad(f"{path}.shape", f"expected {ndim} dimensions, got {list(shape)}")
    data = _list(v["data"], f"{path}.data")
    size = math.prod(shape)
    if len(data) != size:
        raise _Bad(f"{path}.data", f"has {len(data)} values, but shape {list(shape)} needs "
                                   f"{size}")
    if not set(map(type, data)) <= {int}:
        i = next(i for i, x in enumerate(data) if type(x) is not int)
        raise _Bad(f"{path}.data[{i}]", f"expected an integer, got {_describe(data[i])}")
    try:
        return np.array(data, dtype=np.int64).reshape(shape)
    except OverflowError:
        i = next(i for i, x in enumerate(data) if not _INT64_MIN <= x <= _INT64_MAX)
        raise _Bad(f"{path}.data[{i}]", f"{data[i]} does not fit in int64") from None


def _fixed(v: Any, path: str) -> Fixed:
    _fields(v, path, ("frac", "signed", "width"))
    width = _int(v["width"], f"{path}.width", 1, 62)
    _int(v["frac"], f"{path}.frac", 0, 0)  # version 1 formats are integers
    return Fixed(width, 0, _bool(v["signed"], f"{path}.signed"))


def _opt_fixed(v: Any, path: str) -> Fixed | None:
    return None if v is None else _fixed(v, path)


def _range(v: Any, path: str) -> tuple[int, int]:
    lo, hi = _ints(v, path, 2)
    if lo > hi:
        raise _Bad(path, f"empty range [{lo}, {hi}]: expected lo <= hi")
    return lo, hi


def _json_object(v: Any, path: str) -> dict:
    if not isinstance(v, dict):
        raise _Bad(path, f"expected an object, got {_describe(v)}")
    return v


# --------------------------------------------------------------------------------------------
# reading: the body
# --------------------------------------------------------------------------------------------


def _dec_op(nd: dict, opname: str, p: str, shape: tuple[int, ...]) -> ir.Op:
    def pair(k: str, lo: int) -> tuple[int, int]:
        a, b = _ints(nd[k], f"{p}.{k}", 2, lo)
        return a, b

    def bias() -> np.ndarray | None:
        b = nd["bias"]
        return None if b is None else _array(b, f"{p}.bias", 1, positive=True)

    if opname == "Input":
        return ir.Input(shape, _int(nd["bits"], f"{p}.bits", 1, 16))
    if opname == "Conv2d":
        return ir.Conv2d(_array(nd["weight"], f"{p}.weight", 4, positive=True), bias(),
                         pair("stride", 1), pair("padding", 0))
    if opname == "Linear":
        return ir.Linear(_array(nd["weight"], f"{p}.weight", 2, positive=True), bias())
    if opname == "AvgPool2d":
        return ir.AvgPool2d(pair("kernel", 1), pair("stride", 1), pair("padding", 0),
                            _array(nd["gain"], f"{p}.gain", 1, positive=True))
    if opname == "MaxPool2d":
        return ir.MaxPool2d(pair("kernel", 1), pair("stride", 1), pair("padding", 0))
    if opname == "Flatten":
        return ir.Flatten()
    if opname == "Concat":
        return ir.Concat()
    if opname == "Add":
        gains = _list(nd["gains"], f"{p}.gains", len(nd["inputs"]))
        return ir.Add(tuple(_array(g, f"{p}.gains[{i}]") for i, g in enumerate(gains)))
    return ir.IF(_int(nd["threshold"], f"{p}.threshold", 1), _int(nd["v0"], f"{p}.v0"),
                 _bool(nd["output"], f"{p}.output"), _bool(nd["spiking"], f"{p}.spiking"),
                 _opt_int(nd["v_min"], f"{p}.v_min"))


def _dec_graph(g: Any, path: str) -> ir.Graph:
    _fields(g, path, ("nodes", "output"))
    output = _str(g["output"], f"{path}.output")
    nodes = _list(g["nodes"], f"{path}.nodes")
    specs: list[tuple[str, ir.Op, tuple[str, ...]]] = []
    stored: list[tuple[int, ...]] = []
    index: dict[str, int] = {}
    all_names = {nd.get("name") for nd in nodes
                 if isinstance(nd, dict) and isinstance(nd.get("name"), str)}
    for i, nd in enumerate(nodes):
        p = f"{path}.nodes[{i}]"
        if not isinstance(nd, dict):
            raise _Bad(p, f"expected an object, got {_describe(nd)}")
        if "op" not in nd:
            raise _Bad(f"{p}.op", "missing field")
        opname = nd["op"]
        if type(opname) is not str or opname not in OP_FIELDS:
            what = repr(opname[:40]) if type(opname) is str else _describe(opname)
            raise _Bad(f"{p}.op", f"unknown op {what}: version {VERSION} graphs hold only "
                                  f"{', '.join(OPS)} (a quantised graph has no ReLU, BatchNorm, "
                                  f"Identity, Softmax)")
        _fields(nd, p, ("inputs", "name", "op", "shape", *OP_FIELDS[opname]))
        name = _str(nd["name"], f"{p}.name")
        if name in index:
            raise _Bad(f"{p}.name", f"duplicate node name {name!r} (also nodes[{index[name]}])")
        inputs = tuple(_str(x, f"{p}.inputs[{j}]")
                       for j, x in enumerate(_list(nd["inputs"], f"{p}.inputs")))
        for j, src in enumerate(inputs):
            if src not in index:
                why = ("comes later: nodes must be in topological order" if src in all_names
                       else "is not a node of the graph")
                raise _Bad(f"{p}.inputs[{j}]", f"{name!r} reads {src!r}, which {why}")
        if opname == "Input" and inputs:
            raise _Bad(f"{p}.inputs", f"the Input node reads nothing, got {list(inputs)}")
        shape = _ints(nd["shape"], f"{p}.shape", lo=1)
        if not shape:
            raise _Bad(f"{p}.shape", "expected at least one dimension, got []")
        if math.prod(shape) > _MAX_ELEMENTS:
            raise _Bad(f"{p}.shape", f"{list(shape)} has more than 2**31 elements per image")
        specs.append((name, _dec_op(nd, opname, p, shape), inputs))
        stored.append(shape)
        index[name] = i
    if output not in index:
        raise _Bad(f"{path}.output", f"{output!r} is not a node of the graph")
    try:
        graph = ir.build(specs, output)
    except (ir.GraphError, ValueError) as e:
        raise _Bad(path, f"invalid graph: {e}") from None
    names = [n.name for n in graph]
    if names != [s[0] for s in specs]:
        dead = [s[0] for s in specs if s[0] not in graph]
        raise _Bad(f"{path}.nodes", f"nodes {dead} do not feed the output {output!r}" if dead
                   else "nodes are not in topological order")
    for i, (n, shape) in enumerate(zip(graph, stored, strict=True)):
        p = f"{path}.nodes[{i}]"
        if n.shape != shape:
            raise _Bad(f"{p}.shape", f"stored {list(shape)}, but {n.name!r} computes "
                                     f"{list(n.shape)} from its inputs")
        op = n.op
        if isinstance(op, (ir.Conv2d, ir.Linear)) and op.bias is not None \
                and op.bias.shape != (op.weight.shape[0],):
            raise _Bad(f"{p}.bias.shape", f"expected [{op.weight.shape[0]}] (one per output), "
                                          f"got {list(op.bias.shape)}")
        if isinstance(op, ir.AvgPool2d) and op.gain.shape != (n.shape[0],):
            raise _Bad(f"{p}.gain.shape", f"expected [{n.shape[0]}] (one per channel), got "
                                          f"{list(op.gain.shape)}")
        if isinstance(op, ir.Add):
            for j, gain in enumerate(op.gains):
                if gain.shape not in ((), n.shape):
                    raise _Bad(f"{p}.gains[{j}].shape", f"expected [] (a scalar) or the node's "
                                                        f"shape {list(n.shape)}, got "
                                                        f"{list(gain.shape)}")
    return graph


def _dec_format(v: Any, path: str) -> LayerFormat:
    _fields(v, path, _FORMAT_KEYS)
    membrane = _fixed(v["membrane"], f"{path}.membrane")
    return LayerFormat(
        _str(v["layer"], f"{path}.layer"), _fixed(v["weight"], f"{path}.weight"),
        _opt_fixed(v["bias"], f"{path}.bias"), _int(v["threshold"], f"{path}.threshold", 1),
        _int(v["v0"], f"{path}.v0"), _opt_int(v["v_min"], f"{path}.v_min"),
        _range(v["current"], f"{path}.current"),
        _range(v["membrane_range"], f"{path}.membrane_range"), membrane,
        _opt_fixed(v["accumulator"], f"{path}.accumulator"))


def _dec_quant(v: Any, path: str) -> LayerQuant:
    _fields(v, path, _QUANT_KEYS)
    sources = tuple(_str(x, f"{path}.sources[{i}]")
                    for i, x in enumerate(_list(v["sources"], f"{path}.sources")))
    return LayerQuant(
        _str(v["layer"], f"{path}.layer"), sources,
        _int(v["weight_bits"], f"{path}.weight_bits", 2, 32),
        _float(v["scale"], f"{path}.scale", positive=True),
        _int(v["threshold"], f"{path}.threshold", 1),
        _int(v["v0"], f"{path}.v0"), _opt_int(v["v_min"], f"{path}.v_min"),
        _float(v["weight_error"], f"{path}.weight_error"))


def _dec_config(v: Any, path: str) -> FixedConfig:
    _fields(v, path, _CONFIG_KEYS)
    lb = _json_object(v["layer_bits"], f"{path}.layer_bits")
    layer_bits = {k: _int(x, _key(f"{path}.layer_bits", k), 2, 32) for k, x in lb.items()}
    return FixedConfig(
        weight_bits=_int(v["weight_bits"], f"{path}.weight_bits", 2, 32),
        layer_bits=layer_bits,
        input_bits=_int(v["input_bits"], f"{path}.input_bits", 1, 16),
        max_timesteps=_int(v["max_timesteps"], f"{path}.max_timesteps", 1),
        membrane_bits=_opt_int(v["membrane_bits"], f"{path}.membrane_bits", 1, 62))


def _check_range(a: np.ndarray, fmt: Fixed, path: str, what: str) -> None:
    if a.size == 0:
        return
    lo, hi = int(a.min()), int(a.max())
    if fmt.contains(lo, hi):
        return
    bad = lo if lo < fmt.min_int else hi
    at = np.unravel_index(int(np.argmax(a == bad)), a.shape)
    raise _Bad(f"{path}.data[{int(np.ravel_multi_index(at, a.shape)) if a.ndim else 0}]",
               f"{bad} (at index {tuple(int(x) for x in at)}) is outside {what} {fmt} "
               f"({fmt.min_int}..{fmt.max_int})")


def _check_scalar(v: int | None, fmt: Fixed, path: str, what: str) -> None:
    if v is not None and not fmt.contains(v, v):
        raise _Bad(path, f"{v} is outside {what} {fmt} ({fmt.min_int}..{fmt.max_int})")


def _current_nodes(graph: ir.Graph, layer: str, k: dict[str, str]) -> list[str]:
    """Every node on the input current of IF ``layer`` (linear ops, Adds, max-pools of a
    constant current), as :func:`snngen.fixedpoint.quantize.synapses` walks it."""
    out, stack = [], [graph[layer].inputs[0]]
    while stack:
        name = stack.pop()
        out.append(name)
        node = graph[name]
        if isinstance(node.op, ir.Add):
            stack.extend(s for s in node.inputs if k[s] == "current")
        elif isinstance(node.op, ir.MaxPool2d):
            stack.append(node.inputs[0])
    return out


def _check_net(graph: ir.Graph, formats: dict[str, LayerFormat], quant: tuple[LayerQuant, ...],
               config: FixedConfig, conversion: dict) -> None:
    """Cross-checks between the graph, its formats, the quantisation record and the config."""
    gp = "body.graph.nodes"
    pos = {n.name: i for i, n in enumerate(graph)}
    ifs = [n for n in graph if isinstance(n.op, ir.IF)]
    bits = graph.input.op.bits
    if bits != config.input_bits:
        raise _Bad(f"{gp}[0].bits", f"the input is {bits} bits but body.config.input_bits is "
                                    f"{config.input_bits}")
    out = graph[graph.output]
    if not (isinstance(out.op, ir.IF) and out.op.output):
        raise _Bad("body.graph.output", f"the output {out.name!r} must be an IF population "
                                        f"with output=true (the readout)")
    for n in ifs:
        if n.op.output and n.name != out.name:
            raise _Bad(f"{gp}[{pos[n.name]}].output", f"only the readout {out.name!r} may have "
                                                      f"output=true")
        if not n.op.spiking and n.name != out.name:
            raise _Bad(f"{gp}[{pos[n.name]}].spiking", "only the readout may be non-spiking")
    if "input" in conversion and conversion["input"] not in ("analog", "spikes"):
        raise _Bad("body.conversion.input", f"expected \"analog\" or \"spikes\", got "
                                            f"{_describe(conversion['input'])}")
    known = {k: v for k, v in conversion.items() if k in ConversionConfig.__dataclass_fields__}
    try:
        ConversionConfig(**known)
    except (TypeError, ValueError) as e:
        raise _Bad("body.conversion", f"invalid conversion settings: {e}") from None

    # structure: linear ops read spikes, IFs read currents, every current ends in one IF
    k = kinds(graph)
    for n in graph:
        if k[n.name] == "mixed":
            raise _Bad(f"{gp}[{pos[n.name]}]", f"{n.name!r} mixes spikes and currents")
        if isinstance(n.op, ir.LINEAR_OPS) and k[n.inputs[0]] != "spikes":
            raise _Bad(f"{gp}[{pos[n.name]}].inputs", f"{n.name!r} reads the current "
                                                      f"{n.inputs[0]!r}; linear ops read spikes")
        if isinstance(n.op, ir.IF) and k[n.inputs[0]] != "current":
            raise _Bad(f"{gp}[{pos[n.name]}].inputs", f"the IF population {n.name!r} reads "
                                                      f"spikes; it must read a current")
    owner: dict[str, str] = {}
    owned: dict[str, list[str]] = {}
    edges: dict[str, list[tuple[str, int | None]]] = {}
    for n in ifs:
        try:
            edges[n.name] = synapses(graph, n.name)
        except (QuantizationError, RecursionError) as e:
            raise _Bad(f"{gp}[{pos[n.name]}]", f"invalid input current: {e}") from None
        owned[n.name] = _current_nodes(graph, n.name, k)
        for c in owned[n.name]:
            if c in owner and owner[c] != n.name:
                raise _Bad(f"{gp}[{pos[c]}]", f"the current {c!r} feeds two IF populations, "
                                              f"{owner[c]!r} and {n.name!r}")
            owner[c] = n.name
    for n in graph:
        if k[n.name] == "current" and not isinstance(n.op, ir.IF) and n.name not in owner:
            raise _Bad(f"{gp}[{pos[n.name]}]", f"the current {n.name!r} feeds no IF population")

    # formats: one per IF, consistent with it, holding every value it claims to hold
    names = [n.name for n in ifs]
    for name in formats:
        if name not in pos or not isinstance(graph[name].op, ir.IF):
            raise _Bad(_key("body.formats", name), f"{name!r} is not an IF population of the "
                                                   f"graph (those are {names})")
    for n in ifs:
        fp = _key("body.formats", n.name)
        if n.name not in formats:
            raise _Bad(fp, f"missing: every IF population needs its formats (IF {n.name!r})")
        f, op = formats[n.name], n.op
        if f.layer != n.name:
            raise _Bad(f"{fp}.layer", f"expected {n.name!r}, got {f.layer!r}")
        for fld in ("threshold", "v0", "v_min"):
            if getattr(f, fld) != getattr(op, fld):
                raise _Bad(f"{fp}.{fld}", f"{getattr(f, fld)} differs from the IF node's "
                                          f"{fld} {getattr(op, fld)} ({gp}[{pos[n.name]}])")
        mem = f.membrane
        _check_scalar(op.v0, mem, f"{gp}[{pos[n.name]}].v0", f"{n.name}'s membrane format")
        _check_scalar(op.v_min, mem, f"{gp}[{pos[n.name]}].v_min",
                      f"{n.name}'s membrane format")
        lo, hi = f.membrane_range
        if not mem.contains(lo, hi):
            raise _Bad(f"{fp}.membrane_range", f"[{lo}, {hi}] does not fit the membrane "
                                               f"format {mem} ({mem.min_int}..{mem.max_int})")
        if not lo <= op.v0 <= hi:
            raise _Bad(f"{fp}.membrane_range", f"[{lo}, {hi}] does not hold v0 = {op.v0}")
        if config.membrane_bits is not None and mem.width > config.membrane_bits:
            raise _Bad(f"{fp}.membrane.width", f"{mem.width} bits exceed "
                                               f"body.config.membrane_bits "
                                               f"{config.membrane_bits}")
        has_bias = False
        wf = f.weight
        for c in owned[n.name]:
            cop, cp = graph[c].op, f"{gp}[{pos[c]}]"
            what = f"{n.name}'s weight format"
            if isinstance(cop, (ir.Conv2d, ir.Linear)):
                _check_range(cop.weight, wf, f"{cp}.weight", what)
                if cop.bias is not None:
                    has_bias = True
                    if f.bias is None:
                        raise _Bad(f"{fp}.bias", f"null, but {c!r} has a bias")
                    _check_range(cop.bias, f.bias, f"{cp}.bias", f"{n.name}'s bias format")
            elif isinstance(cop, ir.AvgPool2d):
                _check_range(cop.gain, wf, f"{cp}.gain", what)
            elif isinstance(cop, ir.Add):
                for j, gain in enumerate(cop.gains):
                    _check_range(gain, wf, f"{cp}.gains[{j}]", what)
        if f.bias is not None and not has_bias:
            raise _Bad(f"{fp}.bias", f"{f.bias} given, but no synapse of {n.name!r} has a bias "
                                     f"(expected null)")

    # the quantisation record: one per IF, consistent with it
    seen: dict[str, int] = {}
    for i, q in enumerate(quant):
        qp = f"body.quant[{i}]"
        if q.layer not in pos or not isinstance(graph[q.layer].op, ir.IF):
            raise _Bad(f"{qp}.layer", f"{q.layer!r} is not an IF population of the graph "
                                      f"(those are {names})")
        if q.layer in seen:
            raise _Bad(f"{qp}.layer", f"{q.layer!r} is also body.quant[{seen[q.layer]}]")
        seen[q.layer] = i
        op = graph[q.layer].op
        for fld in ("threshold", "v0", "v_min"):
            if getattr(q, fld) != getattr(op, fld):
                raise _Bad(f"{qp}.{fld}", f"{getattr(q, fld)} differs from the IF node's {fld} "
                                          f"{getattr(op, fld)}")
        srcs = tuple(sorted({e for e, _ in edges[q.layer]}))
        if q.sources != srcs:
            raise _Bad(f"{qp}.sources", f"{list(q.sources)}, but the synapses of {q.layer!r} "
                                        f"come from {list(srcs)}")
        if formats[q.layer].weight.width > q.weight_bits:
            raise _Bad(f"{qp}.weight_bits", f"{q.weight_bits}, narrower than the weight format "
                                            f"{formats[q.layer].weight} of {q.layer!r}")
    missing = [x for x in names if x not in seen]
    if missing:
        raise _Bad("body.quant", f"no record for the IF populations {missing}")
    for name in config.layer_bits:
        if name != "*" and name not in pos:
            raise _Bad(_key("body.config.layer_bits", name), f"{name!r} is not a node of the "
                                                             f"graph")


def _dec_body(body: Any) -> FixedNet:
    _fields(body, "body", _BODY_KEYS)
    graph = _dec_graph(body["graph"], "body.graph")
    fm = _json_object(body["formats"], "body.formats")
    formats = {k: _dec_format(v, _key("body.formats", k)) for k, v in fm.items()}
    quant = tuple(_dec_quant(v, f"body.quant[{i}]")
                  for i, v in enumerate(_list(body["quant"], "body.quant")))
    config = _dec_config(body["config"], "body.config")
    conversion = _json_object(body["conversion"], "body.conversion")
    source = _json_object(body["source"], "body.source")
    _check_net(graph, formats, quant, config, conversion)
    # the formats must be the ones the width analysis proves for this graph: a hand-edited
    # file with a self-consistent but too narrow membrane is refused here
    proven = analyze(graph, config.max_timesteps, conversion.get("input", "analog"))
    for name, f in proven.items():
        if formats[name] != f:
            raise _Bad(_key("body.formats", name),
                       f"differs from what the width analysis proves for this graph and "
                       f"{config.max_timesteps} timesteps (membrane {formats[name].membrane} "
                       f"{list(formats[name].membrane_range)}, proven {f.membrane} "
                       f"{list(f.membrane_range)})")
    formats = proven  # equal, and in graph order
    return FixedNet(graph, formats, quant, config, conversion, source)


# --------------------------------------------------------------------------------------------
# reading: the envelope
# --------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        dup = next(k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i]))
        raise _Bad(None, f"not a valid network file: the key {dup!r} appears twice in an object")
    return d


def _parse_float(s: str) -> float:
    f = float(s)
    if not math.isfinite(f):
        raise _Bad(None, f"not a valid network file: the number {s[:40]} is not finite in "
                         f"double precision")
    return f


def _reject_constant(s: str) -> None:
    raise _Bad(None, f"not valid JSON: {s} is not a JSON number")


def _parse(data: bytes) -> Any:
    if not data:
        raise _Bad(None, "the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.end >= len(data) and "end of data" in e.reason:
            raise _Bad(None, f"truncated: the file ends inside a UTF-8 character at byte "
                             f"{e.start}") from None
        raise _Bad(None, f"not UTF-8 text: invalid byte 0x{data[e.start]:02x} at offset "
                         f"{e.start}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_parse_float,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        # the document ends early: at the error, or inside a token the cut left unfinished
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string") \
                or _PARTIAL_TOKEN.fullmatch(text[e.pos:].rstrip()):
            raise _Bad(None, f"truncated: the JSON ends early ({e.msg} at line {e.lineno} "
                             f"column {e.colno}, {len(data)} bytes)") from None
        raise _Bad(None, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno} "
                         f"(char {e.pos})") from None
    except RecursionError:
        raise _Bad(None, "not a valid network file: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal too long for Python to parse
        raise _Bad(None, f"not valid JSON: {e}") from None


def _decode(data: bytes) -> FixedNet:
    doc = _parse(data)
    if not isinstance(doc, dict):
        raise _Bad(None, f"not an snngen network file: expected a JSON object, got "
                         f"{_describe(doc)}")
    if doc.get("format") != FORMAT:
        got = "no 'format' field" if "format" not in doc else f"format {_describe(doc['format'])}"
        raise _Bad("format", f"not an snngen network file: {got}, expected {FORMAT!r}")
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    if "version" not in doc:
        raise _Bad("version", f"missing field; this snngen reads versions {supported}")
    version = doc["version"]
    if type(version) is not int:
        raise _Bad("version", f"expected an integer, got {_describe(version)}; this snngen "
                              f"reads versions {supported}")
    if version not in SUPPORTED_VERSIONS:
        hint = " (a newer snngen wrote it: upgrade)" if version > max(SUPPORTED_VERSIONS) else ""
        raise _Bad("version", f"version {version} is not supported{hint}; this snngen reads "
                              f"versions {supported}")
    _fields(doc, "", _TOP_KEYS)
    checksum = doc["checksum"]
    if type(checksum) is not str or not checksum.startswith(_CHECKSUM_PREFIX) \
            or len(checksum) != len(_CHECKSUM_PREFIX) + 64 \
            or any(c not in "0123456789abcdef" for c in checksum[len(_CHECKSUM_PREFIX):]):
        raise _Bad("checksum", f"expected 'sha256:' and 64 lowercase hex digits, got "
                               f"{_describe(checksum)}")
    try:
        body_bytes = _canonical(doc["body"])
    except (ValueError, UnicodeError) as e:
        raise _Bad("body", f"cannot be encoded canonically: {e}") from None
    actual = _checksum(body_bytes)
    if actual != checksum:
        raise _Bad("checksum", f"mismatch: the file says {checksum}, the body hashes to "
                               f"{actual}; the file is corrupt or was edited")
    expected = _assemble(body_bytes, version)
    if data != expected:
        if expected.startswith(data):
            raise _Bad(None, f"truncated: {len(data)} bytes of {len(expected)}")
        at = next((i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b),
                  min(len(data), len(expected)))
        raise _Bad(None, f"not in canonical encoding (sorted keys, no whitespace, one trailing "
                         f"newline; docs/format.md): first difference at byte {at}")
    return _dec_body(doc["body"])


def loads(data: bytes, name: str = "<bytes>") -> FixedNet:
    """Read a network from the bytes of a network file; ``name`` names it in errors."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"loads expects bytes, got {type(data).__name__}")
    try:
        return _decode(bytes(data))
    except _Bad as e:
        raise NetFileError(name, e.reason, e.field) from None


def load(path: str | os.PathLike) -> FixedNet:
    """Read and validate a network file (OSError if it cannot be read, NetFileError if it is
    not a valid version-1 network file)."""
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, os.fsdecode(path))


__all__ = ["FORMAT", "OPS", "SUPPORTED_VERSIONS", "VERSION", "NetFileError", "dumps", "load",
           "loads", "save"]
