"""Seeded random IR networks (no torch) for property tests: chains and small DAGs."""

from __future__ import annotations

import numpy as np

from snngen.ir import graph as ir


def random_graph(seed: int, dag: bool | None = None) -> ir.Graph:
    """A random convertible CNN on a (C, H, W) input: conv layers with random kernel, stride and
    padding, max or average pooling, optional residual add or concat, dense layers, biases."""
    rng = np.random.default_rng(seed)
    c, h = int(rng.integers(1, 3)), int(rng.integers(6, 11))
    specs: list = [("input", ir.Input((c, h, h)), ())]
    prev, shape = "input", (c, h, h)
    dag = bool(rng.integers(0, 2)) if dag is None else dag

    def add(name, op, ins):
        nonlocal prev, shape
        specs.append((name, op, tuple(ins)))
        shape = ir.build(specs, name)[name].shape
        prev = name

    def conv(name, cin, cout, k, s, p, src):
        w = rng.normal(0, 1.0 / np.sqrt(cin * k * k), (cout, cin, k, k))
        b = rng.normal(0, 0.1, cout) if rng.integers(0, 2) else None
        add(name, ir.conv(w, b, s, p), [src])

    for li in range(int(rng.integers(1, 3))):
        k = int(rng.integers(1, min(4, shape[1] + 1)))  # the kernel must fit unpadded
        s = int(rng.integers(1, 3)) if shape[1] >= 6 else 1
        p = int(rng.integers(0, k))
        cout = int(rng.integers(2, 6))
        conv(f"conv{li}", shape[0], cout, k, s, p, prev)
        add(f"relu{li}", ir.ReLU(), [prev])
        if dag and li == 0:
            skip, cs = prev, shape[0]
            if rng.integers(0, 2):  # residual: conv(same shape) + skip, then ReLU
                w = rng.normal(0, 0.5 / np.sqrt(cs * 9), (cs, cs, 3, 3))
                add("res_conv", ir.conv(w, None, 1, 1), [skip])
                add("res_add", ir.Add(), ["res_conv", skip])
                add("res_relu", ir.ReLU(), ["res_add"])
            else:  # inception-like: a 1x1 branch concatenated with the trunk
                w = rng.normal(0, 1.0, (2, cs, 1, 1))
                add("br_conv", ir.conv(w, rng.normal(0, 0.1, 2)), [skip])
                add("br_relu", ir.ReLU(), ["br_conv"])
                add("cat", ir.Concat(), [skip, "br_relu"])
        if shape[1] >= 4 and rng.integers(0, 2):
            k2 = 2
            if rng.integers(0, 2):
                add(f"pool{li}", ir.maxpool(k2, k2, int(rng.integers(0, 2))), [prev])
            else:
                add(f"pool{li}", ir.avgpool(shape[0], k2, k2), [prev])
    add("flat", ir.Flatten(), [prev])
    if rng.integers(0, 2):
        n = int(rng.integers(4, 12))
        add("fc0", ir.linear(rng.normal(0, 1 / np.sqrt(shape[0]), (n, shape[0])),
                             rng.normal(0, 0.1, n)), [prev])
        add("fc0_relu", ir.ReLU(), [prev])
    add("out", ir.linear(rng.normal(0, 1 / np.sqrt(shape[0]), (5, shape[0])),
                         rng.normal(0, 0.1, 5)), [prev])
    return ir.build(specs, "out")


def random_input(seed: int, graph: ir.Graph, n: int = 8) -> np.ndarray:
    return np.random.default_rng(seed + 1).random((n, *graph.input.shape))


def fixed_random_net(seed: int, n_calib: int = 16, t_max: int = 32, **conv):
    """``random_graph(seed, dag=False)`` converted (default ConversionConfig, overridable with
    ``conv``) on ``n_calib`` random inputs and fixed with 8-bit weights, or the width the
    quantiser names when a layer needs more; returns the FixedNet and the inputs."""
    g = random_graph(seed, dag=False)
    return fixed_net(g, random_input(seed, g, n_calib), t_max, **conv)


def fixed_net(g: ir.Graph, x: np.ndarray, t_max: int = 32, weight_bits: int = 8,
              input_bits: int = 8, **conv):
    """``g`` converted (default ConversionConfig, overridable with ``conv``) on the inputs
    ``x`` and fixed with ``weight_bits``-bit weights, or the width the quantiser names when a
    layer needs more, and ``input_bits``-bit pixels; returns the FixedNet and ``x``."""
    from dataclasses import asdict

    from snngen.convert import passes
    from snngen.convert.passes import ConversionConfig
    from snngen.fixedpoint.fixednet import FixedConfig, fix
    from snngen.fixedpoint.quantize import QuantizationError

    cfg = ConversionConfig(**conv)
    snn = passes.convert(g, x, cfg)
    bits = weight_bits
    for _ in range(4):
        try:
            return fix(snn, FixedConfig(weight_bits=bits, input_bits=input_bits,
                                        max_timesteps=t_max), asdict(cfg)), x
        except QuantizationError as e:
            bits = int(str(e).split("at least ")[1].split("-bit")[0])
    raise AssertionError(f"{g.output}: no weight width fits")
