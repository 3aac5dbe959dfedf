"""A tiny CNN for scikit-learn's 8x8 digits, without torch: a fixed random convolution and a
dense readout fitted by least squares on its ReLU features. It reaches a useful accuracy in
milliseconds, so report and explore tests have real accuracy numbers and no MNIST."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from snngen.convert import passes
from snngen.convert.passes import ConversionConfig
from snngen.data import load_dataset, split
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet, fix
from snngen.ir import graph as ir


def digits_split():
    return split(load_dataset("digits"))


def float_graph(seed: int = 3, channels: int = 4) -> ir.Graph:
    """conv 1->channels 3x3 stride 2 pad 1 (channels x 4 x 4), ReLU, Flatten, Linear -> 10."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.6, (channels, 1, 3, 3))
    b = rng.normal(0, 0.05, channels)
    data = digits_split()
    x = data.train.x
    # the ReLU features of the training images, then a least-squares readout
    probe = ir.build([("in", ir.Input((1, 8, 8)), ()),
                      ("c1", ir.conv(w, b, 2, 1), ("in",))], "c1")
    from snngen.ir import ann

    feats = np.maximum(ann.forward(probe, x)["c1"], 0).reshape(len(x), -1)
    onehot = np.eye(10)[data.train.y]
    a = np.hstack([feats, np.ones((len(x), 1))])
    sol = np.linalg.lstsq(a, onehot, rcond=None)[0]
    specs = [("in", ir.Input((1, 8, 8)), ()),
             ("c1", ir.conv(w, b, 2, 1), ("in",)),
             ("r1", ir.ReLU(), ("c1",)),
             ("flat", ir.Flatten(), ("r1",)),
             ("fc", ir.linear(sol[:-1].T, sol[-1]), ("flat",))]
    return ir.build(specs, "fc")


def snn(seed: int = 3) -> tuple[ir.Graph, ConversionConfig]:
    cfg = ConversionConfig()
    return passes.convert(float_graph(seed), digits_split().train.x[:200], cfg), cfg


def fixed_net(bits: int = 8, t_max: int = 32, seed: int = 3) -> FixedNet:
    g, cfg = snn(seed)
    return fix(g, FixedConfig(weight_bits=bits, max_timesteps=t_max), asdict(cfg),
               {"model": "tinydigits", "dataset": "digits", "calib_images": 200})
