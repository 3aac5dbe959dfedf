"""The network file: byte-identical round trips, determinism, every refusal, atomic writes, and
random corruptions that never raise anything but NetFileError."""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snngen.convert.passes import ConversionConfig, convert
from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet, fix
from snngen.fixedpoint.netfile import NetFileError
from snngen.ir import graph as ir
from tests.randnet import random_graph

# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------


def _seeds(pred, n=3):
    return [s for s in range(60) if pred(random_graph(s))][:n]


RES_SEEDS = _seeds(lambda g: "res_add" in g)
CAT_SEEDS = _seeds(lambda g: "cat" in g)
CHAIN_SEEDS = _seeds(lambda g: "res_add" not in g and "cat" not in g)
AVG_SEED = _seeds(lambda g: any(isinstance(n.op, ir.AvgPool2d) for n in g), 1)[0]
MAX_SEED = _seeds(lambda g: any(isinstance(n.op, ir.MaxPool2d) for n in g), 1)[0]
ALL_SEEDS = sorted({*RES_SEEDS, *CAT_SEEDS, *CHAIN_SEEDS, AVG_SEED, MAX_SEED})


def build(seed: int, conversion: ConversionConfig | None = None,
          config: FixedConfig | None = None, source: dict | None = None) -> FixedNet:
    # spiking average pooling kept, so that files with AvgPool2d nodes are covered too
    conversion = conversion or ConversionConfig(spiking_avgpool=True)
    g = random_graph(seed)
    calib = np.random.default_rng(seed + 1).random((16, *g.input.shape))
    snn = convert(g, calib, conversion)
    return fix(snn, config or FixedConfig(), dataclasses.asdict(conversion), source)


@functools.cache
def net(seed: int) -> FixedNet:
    return build(seed, source={"model": "examples/digits/model.py:make_model",
                               "weights": "sha256:" + "0" * 64, "calibration": 16})


@functools.cache
def data(seed: int) -> bytes:
    return netfile.dumps(net(seed))


def assert_nets_equal(a: FixedNet, b: FixedNet) -> None:
    assert a.graph.output == b.graph.output
    assert [n.name for n in a.graph] == [n.name for n in b.graph]
    for x, y in zip(a.graph, b.graph, strict=True):
        assert (x.inputs, x.shape, type(x.op)) == (y.inputs, y.shape, type(y.op))
        for f in dataclasses.fields(x.op):
            u, v = getattr(x.op, f.name), getattr(y.op, f.name)
            if isinstance(u, np.ndarray):
                assert v.dtype == np.int64 and np.array_equal(u, v), (x.name, f.name)
            elif isinstance(u, tuple) and u and isinstance(u[0], np.ndarray):
                assert len(u) == len(v)
                for p, q in zip(u, v, strict=True):
                    assert q.dtype == np.int64 and np.array_equal(p, q), (x.name, f.name)
            else:
                assert u == v and type(u) is type(v), (x.name, f.name, u, v)
    assert a.formats == b.formats and list(a.formats) == list(b.formats)
    assert a.quant == b.quant
    assert a.config == b.config
    assert a.conversion == b.conversion
    assert a.source == b.source


# --------------------------------------------------------------------------------------------
# helpers for edited files
# --------------------------------------------------------------------------------------------


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sign(body, version=1) -> bytes:
    """A file around ``body`` with the right checksum (what a careful editor would write)."""
    digest = hashlib.sha256(canonical(body)).hexdigest()
    return canonical({"body": body, "checksum": f"sha256:{digest}", "format": "snngen-net",
                      "version": version}) + b"\n"


def body_of(seed: int) -> dict:
    return json.loads(data(seed))["body"]


def node(body: dict, pred) -> tuple[int, dict]:
    """The first node (index, dict) matching ``pred`` (an op name or a callable)."""
    test = (lambda n: n["op"] == pred) if isinstance(pred, str) else pred
    return next((i, n) for i, n in enumerate(body["graph"]["nodes"]) if test(n))


def named(body: dict, name: str) -> tuple[int, dict]:
    return node(body, lambda n: n["name"] == name)


def refuse(raw: bytes, *fragments: str) -> NetFileError:
    with pytest.raises(NetFileError) as e:
        netfile.loads(raw, name="net.snn")
    msg = str(e.value)
    assert msg.startswith("net.snn: "), msg
    for f in fragments:
        assert f in msg, (f, msg)
    return e.value


def refuse_edit(seed: int, edit, *fragments: str) -> NetFileError:
    body = body_of(seed)
    edit(body)
    return refuse(sign(body), *fragments)


# --------------------------------------------------------------------------------------------
# round trips and determinism
# --------------------------------------------------------------------------------------------


def test_seed_sets_cover_dags():
    assert RES_SEEDS and CAT_SEEDS and CHAIN_SEEDS
    assert any(isinstance(n.op, ir.Add) for n in net(RES_SEEDS[0]).graph)
    assert any(isinstance(n.op, ir.Concat) for n in net(CAT_SEEDS[0]).graph)


@pytest.mark.parametrize("seed", ALL_SEEDS)
def test_round_trip_is_byte_identical(seed, tmp_path):
    path = tmp_path / "net.snn"
    netfile.save(net(seed), path)
    raw = path.read_bytes()
    assert raw == data(seed)
    back = netfile.load(path)
    assert_nets_equal(net(seed), back)
    assert netfile.dumps(back) == raw
    assert os.listdir(tmp_path) == ["net.snn"]


@pytest.mark.parametrize("conversion,config", [
    (ConversionConfig(v_min=-1.0), FixedConfig(max_timesteps=16)),
    (ConversionConfig(readout="membrane", v_init=0.0), FixedConfig(weight_bits=6)),
    (ConversionConfig(input="spikes", channelwise=True), FixedConfig(input_bits=3)),
    (ConversionConfig(percentile=100.0), FixedConfig(layer_bits={"out": 12}, membrane_bits=40)),
])
@pytest.mark.parametrize("seed", [RES_SEEDS[0], CAT_SEEDS[0]])
def test_round_trip_of_every_setting(seed, conversion, config):
    a = build(seed, conversion, config, {"dataset": "digits", "note": "é ✓ \"quoted\"\n"})
    raw = netfile.dumps(a)
    b = netfile.loads(raw)
    assert_nets_equal(a, b)
    assert netfile.dumps(b) == raw


def test_determinism():
    seed = RES_SEEDS[0]
    assert netfile.dumps(net(seed)) == netfile.dumps(net(seed))
    # built twice from the same seed, independently
    a = build(seed, source=dict(net(seed).source))
    assert a is not net(seed)
    assert netfile.dumps(a) == data(seed)
    # different networks, different bytes
    assert data(RES_SEEDS[0]) != data(RES_SEEDS[1])


def test_layout_is_canonical_json_with_checksum_over_body():
    raw = data(CAT_SEEDS[0])
    doc = json.loads(raw)
    assert set(doc) == {"format", "version", "checksum", "body"}
    assert doc["format"] == netfile.FORMAT == "snngen-net" and doc["version"] == 1
    assert raw == canonical(doc) + b"\n"
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
    # the body is the file's bytes between '{"body":' and ',"checksum":'
    tail = b',"checksum":"' + doc["checksum"].encode() + b'","format":"snngen-net","version":1}\n'
    assert raw.startswith(b'{"body":') and raw.endswith(tail)
    body_bytes = raw[len(b'{"body":'):-len(tail)]
    assert body_bytes == canonical(doc["body"])
    assert doc["checksum"] == "sha256:" + hashlib.sha256(body_bytes).hexdigest()
    body = doc["body"]
    assert set(body) == {"graph", "formats", "quant", "config", "conversion", "source"}
    ops = [n["op"] for n in body["graph"]["nodes"]]
    assert ops[0] == "Input" and set(ops) <= set(netfile.OPS)
    conv = node(body, "Conv2d")[1]
    assert set(conv) == {"name", "op", "inputs", "shape", "weight", "bias", "stride", "padding"}
    w = conv["weight"]
    assert len(w["data"]) == np.prod(w["shape"]) and all(type(x) is int for x in w["data"])
    assert b"/work/" not in raw and b"/tmp/" not in raw  # no absolute paths


def test_formats_come_back_in_graph_order():
    back = netfile.loads(data(RES_SEEDS[0]))
    assert list(back.formats) == [n.name for n in back.graph if isinstance(n.op, ir.IF)]


def test_loads_accepts_bytes_like_and_rejects_str():
    raw = data(CHAIN_SEEDS[0])
    assert netfile.dumps(netfile.loads(bytearray(raw))) == raw
    with pytest.raises(TypeError):
        netfile.loads(raw.decode())


# --------------------------------------------------------------------------------------------
# refusals of the envelope: encoding, truncation, format, version, checksum
# --------------------------------------------------------------------------------------------


def test_load_names_the_file(tmp_path):
    path = tmp_path / "broken.snn"
    path.write_bytes(b"{}")
    with pytest.raises(NetFileError, match="broken.snn: "):
        netfile.load(path)
    with pytest.raises(FileNotFoundError):
        netfile.load(tmp_path / "missing.snn")


@pytest.mark.parametrize("raw,fragment", [
    (b"", "empty"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"hello", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"format": NaN}', "NaN"),
    (b'{"format": "snngen-net", "format": "x"}', "appears twice"),
    (b"[" * 100_000, "JSON"),
    (b"1" * 5000, "JSON"),
])
def test_refuses_what_is_not_json(raw, fragment):
    refuse(raw, fragment)


@pytest.mark.parametrize("fraction", [0.0001, 0.1, 0.37, 0.5, 0.9, 0.999])
def test_refuses_truncated(fraction):
    raw = data(RES_SEEDS[0])
    refuse(raw[:max(1, int(len(raw) * fraction))], "truncated")


def test_every_cut_says_truncated():
    # wherever the file is cut (inside a number's sign, fraction or exponent, a literal, a key),
    # the message is "truncated", never a JSON syntax error
    raw = data(RES_SEEDS[0])
    for cut in range(1, len(raw)):
        refuse(raw[:cut], "truncated")


def test_refuses_missing_trailing_newline_and_trailing_data():
    raw = data(RES_SEEDS[0])
    refuse(raw[:-1], "truncated")
    refuse(raw + b"x", "JSON")
    refuse(raw + b"\n", "canonical")


def test_refuses_wrong_format():
    doc = json.loads(data(CHAIN_SEEDS[0]))
    doc["format"] = "onnx"
    refuse(canonical(doc) + b"\n", "format", "not an snngen network file", "'snngen-net'")
    del doc["format"]
    refuse(canonical(doc) + b"\n", "format", "not an snngen network file")


@pytest.mark.parametrize("version,fragment", [
    (2, "version 2 is not supported (a newer snngen wrote it: upgrade)"),
    (0, "version 0 is not supported"),
    ("1", "expected an integer, got a string"),
    (True, "expected an integer, got a boolean"),
    (1.0, "expected an integer, got a float"),
])
def test_refuses_wrong_version(version, fragment):
    body = body_of(CHAIN_SEEDS[0])
    refuse(sign(body, version), "version", fragment, "reads versions 1")


def test_refuses_missing_version():
    doc = json.loads(data(CHAIN_SEEDS[0]))
    del doc["version"]
    refuse(canonical(doc) + b"\n", "version: missing field", "reads versions 1")


def test_refuses_checksum_mismatch():
    raw = bytearray(data(RES_SEEDS[0]))
    i = raw.index(b'"data":[') + len(b'"data":[')
    if raw[i:i + 1] == b"-":
        i += 1
    raw[i] = ord("1") if raw[i] != ord("1") else ord("2")  # still valid JSON, other value
    refuse(bytes(raw), "checksum: mismatch", "corrupt or was edited")


@pytest.mark.parametrize("checksum", ["md5:abc", "sha256:" + "A" * 64, "sha256:00", 7, None])
def test_refuses_malformed_checksum(checksum):
    doc = json.loads(data(CHAIN_SEEDS[0]))
    doc["checksum"] = checksum
    refuse(canonical(doc) + b"\n", "checksum", "64 lowercase hex")


def test_refuses_non_canonical_encoding():
    doc = json.loads(data(CHAIN_SEEDS[0]))
    pretty = json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"  # right checksum
    refuse(pretty, "not in canonical encoding", "first difference at byte")
    escaped = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    body = body_of(CHAIN_SEEDS[0])
    body["source"]["note"] = "é"
    assert netfile.loads(sign(body)).source["note"] == "é"
    doc["body"] = body
    escaped = json.dumps(doc | {"checksum": json.loads(sign(body))["checksum"]},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    refuse(escaped.encode() + b"\n", "canonical")


def test_refuses_unexpected_and_missing_top_level_fields():
    doc = json.loads(data(CHAIN_SEEDS[0]))
    refuse(canonical(doc | {"created": "today"}) + b"\n", "created: unexpected field")
    del doc["body"]
    refuse(canonical(doc) + b"\n", "body: missing field")


# --------------------------------------------------------------------------------------------
# refusals behind the checksum: structure and types
# --------------------------------------------------------------------------------------------


def _first_conv(body):
    return node(body, "Conv2d")


def test_refuses_missing_fields():
    seed = CHAIN_SEEDS[0]
    i, _ = _first_conv(body_of(seed))
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].pop("weight"),
                f"body.graph.nodes[{i}].weight: missing field")
    refuse_edit(seed, lambda b: b.pop("quant"), "body.quant: missing field")
    refuse_edit(seed, lambda b: b["graph"].pop("output"), "body.graph.output: missing field")
    refuse_edit(seed, lambda b: b["formats"]["relu0"].pop("membrane"),
                "body.formats.relu0.membrane: missing field")
    refuse_edit(seed, lambda b: b["quant"][0].pop("scale"), "body.quant[0].scale: missing")
    refuse_edit(seed, lambda b: b["config"].pop("max_timesteps"),
                "body.config.max_timesteps: missing field")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i]["weight"].pop("shape"),
                f"body.graph.nodes[{i}].weight.shape: missing field")


def test_refuses_unexpected_fields():
    seed = CHAIN_SEEDS[0]
    refuse_edit(seed, lambda b: b["graph"]["nodes"][0].update(mean=[0.5]),
                "body.graph.nodes[0].mean: unexpected field")
    refuse_edit(seed, lambda b: b.update(extra={}), "body.extra: unexpected field")
    refuse_edit(seed, lambda b: b["config"].update(clock_mhz=100),
                "body.config.clock_mhz: unexpected field")


@pytest.mark.parametrize("op", ["ReLU", "BatchNorm", "Identity", "Softmax", "conv", 3])
def test_refuses_unknown_ops(op):
    refuse_edit(CHAIN_SEEDS[0], lambda b: b["graph"]["nodes"][1].update(op=op),
                "body.graph.nodes[1].op: unknown op")


def _set_data(field, k, value):
    def edit(b):
        _, n = _first_conv(b)
        n[field]["data"][k] = value
    return edit


@pytest.mark.parametrize("value,fragment", [
    (1.5, "expected an integer, got a float (1.5)"),
    (2.0, "expected an integer, got a float (2.0)"),
    (True, "expected an integer, got a boolean"),
    ("3", "expected an integer, got a string"),
    (None, "expected an integer, got null"),
    ([1], "expected an integer, got a list"),
])
def test_refuses_non_integer_array_data(value, fragment):
    seed = CHAIN_SEEDS[0]
    i, _ = _first_conv(body_of(seed))
    refuse_edit(seed, _set_data("weight", 0, value),
                f"body.graph.nodes[{i}].weight.data[0]: {fragment}")


def test_refuses_shape_data_mismatch():
    seed = CHAIN_SEEDS[0]
    i, _ = _first_conv(body_of(seed))
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i]["weight"]["data"].pop(),
                f"body.graph.nodes[{i}].weight.data: has", "needs")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i]["weight"]["shape"].pop(),
                f"body.graph.nodes[{i}].weight.shape: expected 4 dimensions")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i]["weight"].update(shape=[1, 1, 1, -1]),
                "out of range")


@pytest.mark.parametrize("field,value,fragment", [
    ("threshold", True, "expected an integer, got a boolean"),
    ("threshold", 7.0, "expected an integer, got a float"),
    ("threshold", 0, "0 is out of range: expected an integer >= 1"),
    ("threshold", -5, "-5 is out of range"),
    ("v0", "0", "expected an integer, got a string"),
    ("output", 0, "expected a boolean, got an integer"),
    ("spiking", None, "expected a boolean, got null"),
    ("v_min", 0.5, "expected an integer, got a float"),
])
def test_refuses_bad_if_fields(field, value, fragment):
    seed = CHAIN_SEEDS[0]
    i, _ = node(body_of(seed), "IF")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update({field: value}),
                f"body.graph.nodes[{i}].{field}: {fragment}")


@pytest.mark.parametrize("bits", [0, 17, -1, 8.0, None])
def test_refuses_input_bits_out_of_range(bits):
    refuse_edit(CHAIN_SEEDS[0], lambda b: b["graph"]["nodes"][0].update(bits=bits),
                "body.graph.nodes[0].bits")


def test_refuses_bad_conv_geometry():
    seed = CHAIN_SEEDS[0]
    i, _ = _first_conv(body_of(seed))
    p = f"body.graph.nodes[{i}]"
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(stride=[0, 1]), f"{p}.stride[0]")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(padding=[1]),
                f"{p}.padding: expected a list of 2")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(padding=[-1, 0]),
                f"{p}.padding[0]")


def test_refuses_stored_shape_that_does_not_match_the_inferred_one():
    seed = CHAIN_SEEDS[0]
    i, n = _first_conv(body_of(seed))
    wrong = [n["shape"][0] + 1, *n["shape"][1:]]
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(shape=wrong),
                f"body.graph.nodes[{i}].shape: stored {wrong}", "computes")


def test_refuses_absurd_shapes():
    seed = CHAIN_SEEDS[0]
    refuse_edit(seed, lambda b: b["graph"]["nodes"][0].update(shape=[1 << 20, 1 << 20, 4]),
                "body.graph.nodes[0].shape", "more than 2**31 elements")


def test_wraps_graph_errors():
    seed = CHAIN_SEEDS[0]
    body = body_of(seed)
    i, n = node(body, "Linear")
    o, k = n["weight"]["shape"]

    def widen(b):  # a Linear expecting one more input than it gets
        w = b["graph"]["nodes"][i]["weight"]
        w["shape"] = [o, k + 1]
        w["data"] = [x for r in range(o) for x in [*n["weight"]["data"][r * k:(r + 1) * k], 0]]
    refuse_edit(seed, widen, "body.graph: invalid graph", "Linear expects")


def test_refuses_bad_wiring():
    seed = RES_SEEDS[0]
    body = body_of(seed)
    ia, add = node(body, "Add")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][ia].update(inputs=[add["inputs"][0], "x"]),
                f"body.graph.nodes[{ia}].inputs[1]", "'x', which is not a node")

    def swap(b):  # the Add before one of its inputs
        ns = b["graph"]["nodes"]
        ns[ia - 1], ns[ia] = ns[ia], ns[ia - 1]
    refuse_edit(seed, swap, "topological order")

    def dup(b):
        b["graph"]["nodes"][2]["name"] = b["graph"]["nodes"][1]["name"]
    refuse_edit(seed, dup, "body.graph.nodes[2].name: duplicate node name")

    def dead(b):  # an extra node nothing reads
        ns = b["graph"]["nodes"]
        ns.append(copy.deepcopy(named(b, "flat")[1]) | {"name": "flat2"})
    refuse_edit(seed, dead, "['flat2'] do not feed the output")
    refuse_edit(seed, lambda b: b["graph"].update(output="nope"), "body.graph.output")

    def input_reads(b):
        b["graph"]["nodes"][0]["inputs"] = [b["graph"]["nodes"][1]["name"]]
    refuse_edit(seed, input_reads, "body.graph.nodes[0].inputs")


def test_refuses_add_gains_of_the_wrong_number_or_shape():
    seed = RES_SEEDS[0]
    ia, _ = node(body_of(seed), "Add")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][ia]["gains"].pop(),
                f"body.graph.nodes[{ia}].gains: expected a list of 2")

    def reshape(b):
        b["graph"]["nodes"][ia]["gains"][0] = {"shape": [2], "data": [1, 1]}
    refuse_edit(seed, reshape, f"body.graph.nodes[{ia}].gains[0].shape: expected [] (a scalar)")


def test_refuses_readout_that_is_not_an_if():
    seed = CHAIN_SEEDS[0]
    i, _ = node(body_of(seed), lambda n: n["op"] == "IF" and not n["output"])
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(output=True),
                f"body.graph.nodes[{i}].output: only the readout")
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i].update(spiking=False),
                f"body.graph.nodes[{i}].spiking: only the readout")


# --------------------------------------------------------------------------------------------
# refusals behind the checksum: values out of their formats, inconsistent records
# --------------------------------------------------------------------------------------------


def _layer_of(body, op_name):
    """A node with weights and the IF population it feeds."""
    i, n = node(body, op_name)
    target = n["name"]
    while True:
        _, c = node(body, lambda m, t=target: t in m["inputs"])
        if c["op"] == "IF":
            return i, n, c["name"]
        target = c["name"]


@pytest.mark.parametrize("op_name,field,seed", [
    ("Conv2d", "weight", CHAIN_SEEDS[0]),
    ("Linear", "weight", CHAIN_SEEDS[0]),
    ("AvgPool2d", "gain", AVG_SEED),
])
@pytest.mark.parametrize("side", [1, -1])
def test_refuses_weight_out_of_its_format(op_name, field, seed, side):
    body = body_of(seed)
    i, _, layer = _layer_of(body, op_name)
    fmt = body["formats"][layer]["weight"]
    bad = (1 << (fmt["width"] - 1)) if side > 0 else -(1 << (fmt["width"] - 1)) - 1
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i][field]["data"].__setitem__(-1, bad),
                f"body.graph.nodes[{i}].{field}.data[", f"{bad}",
                f"outside {layer}'s weight format int{fmt['width']}")


def test_refuses_residual_gain_out_of_its_format():
    seed = RES_SEEDS[0]
    body = body_of(seed)
    ia, add = node(body, "Add")
    layer = node(body, lambda m: add["name"] in m["inputs"])[1]["name"]
    width = body["formats"][layer]["weight"]["width"]
    j = next(j for j, g in enumerate(add["gains"]) if g["shape"])  # the spike gain

    def edit(b):
        b["graph"]["nodes"][ia]["gains"][j]["data"][5] = 1 << width
    refuse_edit(seed, edit, f"body.graph.nodes[{ia}].gains[{j}].data[5]", "weight format")


def test_refuses_bias_out_of_its_format():
    seed = CHAIN_SEEDS[0]
    body = body_of(seed)
    i, _, layer = _layer_of(body, "Linear")
    bits = body["formats"][layer]["bias"]["width"]
    refuse_edit(seed, lambda b: b["graph"]["nodes"][i]["bias"]["data"].__setitem__(0, 1 << bits),
                f"body.graph.nodes[{i}].bias.data[0]", f"outside {layer}'s bias format")
    refuse_edit(seed, lambda b: b["formats"][layer].update(bias=None),
                f"body.formats.{layer}.bias: null, but")


def test_refuses_membrane_values_outside_the_membrane_format():
    seed = CHAIN_SEEDS[0]
    body = body_of(seed)
    i, n = node(body, "IF")
    layer, width = n["name"], body["formats"][n["name"]]["membrane"]["width"]
    big = 1 << (width - 1)

    def v0(b):
        b["graph"]["nodes"][i]["v0"] = big
        b["formats"][layer]["v0"] = big
        b["quant"][0]["v0"] = big
    refuse_edit(seed, v0, f"body.graph.nodes[{i}].v0: {big} is outside {layer}'s membrane")

    def v_min(b):
        b["graph"]["nodes"][i]["v_min"] = -big - 1
        b["formats"][layer]["v_min"] = -big - 1
        b["quant"][0]["v_min"] = -big - 1
    refuse_edit(seed, v_min, f"body.graph.nodes[{i}].v_min: {-big - 1} is outside")

    def narrow(b):
        b["formats"][layer]["membrane"]["width"] = 2
    refuse_edit(seed, narrow, f"outside {layer}'s membrane format int2")


def test_refuses_formats_inconsistent_with_the_if_ops():
    seed = CHAIN_SEEDS[0]
    body = body_of(seed)
    _, n = node(body, "IF")
    layer = n["name"]
    refuse_edit(seed, lambda b: b["formats"][layer].update(threshold=n["threshold"] + 1),
                f"body.formats.{layer}.threshold", "differs from the IF node's threshold")
    refuse_edit(seed, lambda b: b["formats"][layer].update(v0=n["v0"] + 1),
                f"body.formats.{layer}.v0")
    refuse_edit(seed, lambda b: b["formats"][layer].update(v_min=-1), f"body.formats.{layer}.v_min")
    refuse_edit(seed, lambda b: b["formats"][layer].update(layer="x"),
                f"body.formats.{layer}.layer: expected")
    refuse_edit(seed, lambda b: b["formats"].pop(layer), f"body.formats.{layer}: missing")
    refuse_edit(seed, lambda b: b["formats"].update(conv0=b["formats"][layer]),
                "body.formats.conv0: 'conv0' is not an IF population")
    refuse_edit(seed, lambda b: b["formats"][layer]["weight"].update(frac=2),
                f"body.formats.{layer}.weight.frac")
    refuse_edit(seed, lambda b: b["formats"][layer]["weight"].update(width=63),
                f"body.formats.{layer}.weight.width")
    refuse_edit(seed, lambda b: b["formats"][layer].update(current=[5, 1]), "empty range")


def test_refuses_inconsistent_quant_and_config():
    seed = CHAIN_SEEDS[0]
    refuse_edit(seed, lambda b: b["quant"][0].update(threshold=b["quant"][0]["threshold"] + 1),
                "body.quant[0].threshold", "differs")
    refuse_edit(seed, lambda b: b["quant"].pop(), "body.quant: no record")
    refuse_edit(seed, lambda b: b["quant"].append(b["quant"][0]), "is also body.quant[0]")
    refuse_edit(seed, lambda b: b["quant"][0].update(sources=["nope"]), "body.quant[0].sources")
    refuse_edit(seed, lambda b: b["quant"][0].update(scale=100),
                "body.quant[0].scale: expected a float", "got an integer")
    refuse_edit(seed, lambda b: b["quant"][0].update(weight_error=-0.5),
                "body.quant[0].weight_error: -0.5 is out of range")
    refuse_edit(seed, lambda b: b["quant"][0].update(scale=0.0),
                "body.quant[0].scale: 0.0 is out of range: expected a number > 0")
    refuse_edit(seed, lambda b: b["quant"][0].update(weight_bits=2),
                "body.quant[0].weight_bits", "narrower than the weight format")
    refuse_edit(seed, lambda b: b["config"].update(input_bits=4),
                "body.graph.nodes[0].bits", "body.config.input_bits is 4")
    refuse_edit(seed, lambda b: b["config"].update(membrane_bits=3), "exceed")
    refuse_edit(seed, lambda b: b["config"].update(layer_bits={"ghost": 8}),
                "body.config.layer_bits.ghost")
    refuse_edit(seed, lambda b: b["config"].update(weight_bits=8.0),
                "body.config.weight_bits: expected an integer, got a float")
    refuse_edit(seed, lambda b: b["conversion"].update(input="digital"), "body.conversion.input")
    refuse_edit(seed, lambda b: b["conversion"].update(percentile=0.0),
                "body.conversion: invalid conversion settings", "percentile")
    refuse_edit(seed, lambda b: b["conversion"].update(v_init=None),
                "body.conversion: invalid conversion settings")
    refuse_edit(seed, lambda b: b.update(source=[]), "body.source: expected an object")


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def test_save_refuses_networks_load_would_refuse(tmp_path):
    path = tmp_path / "net.snn"
    g = random_graph(2)
    float_graph = convert(g, np.random.default_rng(3).random((8, *g.input.shape)))
    a = net(CHAIN_SEEDS[0])
    bad = [
        (dataclasses.replace(a, graph=float_graph), "is the network quantised?"),
        (dataclasses.replace(a, source={"n": np.int64(3)}), "body.source.n"),
        (dataclasses.replace(a, source={"x": float("nan")}), "finite"),
        (dataclasses.replace(a, formats={}), "missing: every IF population needs"),
        (dataclasses.replace(a, graph=a.graph.with_op("relu0", ir.ReLU())), "has no place"),
    ]
    for b, fragment in bad:
        with pytest.raises(NetFileError, match="cannot write") as e:
            netfile.save(b, path)
        assert fragment in str(e.value) and str(e.value).startswith(str(path))
        assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target", ["json.dumps", "os.replace", "os.fsync"])
@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_save_is_atomic(tmp_path, monkeypatch, target, exc):
    path = tmp_path / "net.snn"
    netfile.save(net(CHAIN_SEEDS[0]), path)
    old = path.read_bytes()
    module, name = target.split(".")
    real = getattr(getattr(netfile, module), name)
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(getattr(netfile, module), name, boom)
    with pytest.raises(type(exc)):
        netfile.save(net(RES_SEEDS[0]), path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["net.snn"]  # no temporary file left
    netfile.save(net(RES_SEEDS[0]), path)
    assert path.read_bytes() == data(RES_SEEDS[0])
    assert os.listdir(tmp_path) == ["net.snn"]


def test_save_into_a_directory_path_leaves_nothing(tmp_path):
    (tmp_path / "d.snn").mkdir()
    with pytest.raises(OSError):
        netfile.save(net(CHAIN_SEEDS[0]), tmp_path / "d.snn")
    assert sorted(os.listdir(tmp_path)) == ["d.snn"]
    assert os.listdir(tmp_path / "d.snn") == []


def test_save_accepts_str_paths_and_uses_the_umask(tmp_path):
    path = str(tmp_path / "n.snn")
    old = os.umask(0o022)
    try:
        netfile.save(net(CHAIN_SEEDS[0]), path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert netfile.dumps(netfile.load(path)) == data(CHAIN_SEEDS[0])


# --------------------------------------------------------------------------------------------
# fuzz: random corruptions never raise anything but NetFileError
# --------------------------------------------------------------------------------------------


FUZZ_SEEDS = [RES_SEEDS[0], CAT_SEEDS[0], AVG_SEED]


def _load_or_refuse(raw: bytes) -> None:
    try:
        back = netfile.loads(raw, name="fuzz.snn")
    except NetFileError as e:
        assert str(e).startswith("fuzz.snn: ")
        return
    assert netfile.dumps(back) == raw  # whatever loads is canonical


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FUZZ_SEEDS), st.data())
def test_fuzz_byte_corruptions(seed, draw):
    raw = bytearray(data(seed))
    for _ in range(draw.draw(st.integers(1, 4))):
        kind = draw.draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        i = draw.draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[i] ^= 1 << draw.draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[i] = draw.draw(st.sampled_from(b'0123456789-.eE,:[]{}"\\ \x00\xff\xc3'))
        elif kind == "insert":
            raw[i:i] = draw.draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del raw[i:i + draw.draw(st.integers(1, 16))]
        else:
            del raw[i:]
    _load_or_refuse(bytes(raw))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


def _paths(obj, prefix=()):
    """Every place in a JSON tree (long integer lists: only their first entries)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _paths(v, (*prefix, i))


@functools.cache
def _body_paths(seed):
    return [p for p in _paths(body_of(seed)) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FUZZ_SEEDS), st.data())
def test_fuzz_resigned_body_edits(seed, draw):
    """Edits behind a valid checksum reach the validators: still only NetFileError."""
    body = body_of(seed)
    for _ in range(draw.draw(st.integers(1, 2))):
        path = draw.draw(st.sampled_from(_body_paths(seed)))
        parent = body
        try:
            for k in path[:-1]:
                parent = parent[k]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this place
        action = draw.draw(st.sampled_from(["replace", "delete", "nudge"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "nudge" and type(parent[path[-1]]) is int:
            parent[path[-1]] += draw.draw(st.sampled_from([-1, 1, -(1 << 40), 1 << 62]))
        else:
            parent[path[-1]] = draw.draw(_json_values)
    _load_or_refuse(sign(body))


def test_formats_must_be_the_proven_ones(tmp_path):
    # a re-signed file whose membrane format is self-consistent but narrower than proven
    import json as _json

    from snngen.fixedpoint import netfile as nf

    net = _net_for_proof()
    data = _json.loads(nf.dumps(net))
    layer = next(iter(data["body"]["formats"]))
    fmt = data["body"]["formats"][layer]
    fmt["membrane_range"][1] -= 1
    body = nf._canonical(data["body"])
    with pytest.raises(nf.NetFileError, match="width analysis proves"):
        nf.loads(nf._assemble(body), "edited.snn")


def _net_for_proof():
    from dataclasses import asdict

    from snngen.convert import passes
    from snngen.convert.passes import ConversionConfig
    from snngen.fixedpoint.fixednet import FixedConfig, fix
    from tests.randnet import random_graph, random_input

    g = random_graph(4)
    snn = passes.convert(g, random_input(4, g, 8), ConversionConfig())
    return fix(snn, FixedConfig(weight_bits=12, max_timesteps=16), asdict(ConversionConfig()))
