"""The end-to-end jobs behind the CLI: load a model and a dataset, convert, simulate, report.

Kept apart from :mod:`snngen.cli` so benchmarks and tests drive exactly what users run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from snngen import ann, passes, sim
from snngen.data import Split, load_dataset, split
from snngen.ir import Graph
from snngen.passes import ConversionConfig


@dataclass(frozen=True)
class Experiment:
    """A model converted with one configuration, and the data split it is judged on."""

    model: str
    dataset: str
    ann: Graph          # the canonical ANN (BatchNorm folded, clean-ups done), unnormalised
    snn: Graph          # the spiking graph
    data: Split
    config: ConversionConfig
    calib_images: int


def load_experiment(model: str, weights: str | None, dataset: str = "digits",
                    data_dir: str | None = None, config: ConversionConfig | None = None,
                    calib: int = 1000) -> Experiment:
    """Load ``model`` (see :func:`snngen.frontend.load_graph`) and ``dataset``, calibrate on the
    first ``calib`` training images and convert."""
    from snngen.frontend import load_graph  # torch is only needed here

    config = config or ConversionConfig()
    data = split(load_dataset(dataset, data_dir))
    graph = load_graph(model, weights, tuple(data.train.x.shape[1:]))
    calib_x = data.train.x[:calib]
    canonical = passes.canonicalize(graph)
    snn = passes.convert(graph, calib_x, config)
    return Experiment(model, dataset, canonical, snn, data, config, len(calib_x))


@dataclass(frozen=True)
class Row:
    timesteps: int
    snn_accuracy: float
    snn_ops: float          # mean synaptic operations per image
    ops_ratio: float        # snn_ops / ann_macs
    spikes: float           # mean spikes per image, all IF layers


@dataclass(frozen=True)
class Report:
    model: str
    dataset: str
    protocol: str
    images: int
    input_mode: str
    seed: int
    config: dict
    ann_accuracy: float
    ann_macs: int
    rows: tuple[Row, ...]
    sim_seconds: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        return d


def evaluate(exp: Experiment, timesteps: Sequence[int] = (8, 16, 32, 64, 128),
             seed: int = 1, limit: int | None = None,
             batch_size: int = 256, progress: Callable[[int], None] | None = None) -> Report:
    """ANN and SNN accuracy and operations on the test split (first ``limit`` images)."""
    test = exp.data.test if limit is None else exp.data.test.subset(0, limit)
    ann_acc = float(np.mean(ann.predict(exp.ann, test.x) == test.y))
    t0 = time.perf_counter()
    input_mode = exp.config.input
    res = sim.simulate(exp.snn, test.x, timesteps, input_mode=input_mode, seed=seed,
                       batch_size=batch_size, progress=progress)
    elapsed = time.perf_counter() - t0
    macs = sim.ann_macs(exp.snn)
    acc = res.accuracy(test.y)
    rows = tuple(
        Row(t, acc[t], float(res.ops[t].mean()), float(res.ops[t].mean() / macs),
            float(sum(v.mean() for v in res.spikes[t].values())))
        for t in res.timesteps)
    cfg = {**asdict(exp.config), "calib_images": exp.calib_images}
    return Report(exp.model, exp.dataset, exp.data.protocol, len(test), input_mode, seed, cfg,
                  ann_acc, macs, rows, round(elapsed, 3))
