"""The end-to-end jobs behind the CLI: load a model and a dataset, convert, fix, simulate, report.

Kept apart from :mod:`snngen.cli` so benchmarks and tests drive exactly what users run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from snngen.convert import passes
from snngen.convert.passes import ConversionConfig
from snngen.data import Split, load_dataset, split
from snngen.fixedpoint.fixednet import FixedConfig, FixedNet, fix
from snngen.golden import sim
from snngen.ir import ann
from snngen.ir.graph import IF, Graph


@dataclass(frozen=True)
class Experiment:
    """A model converted with one configuration, and the data split it is judged on."""

    model: str
    dataset: str
    ann: Graph | None   # the canonical ANN (BatchNorm folded, clean-ups done), unnormalised
    snn: Graph | None   # the float spiking graph
    fixed: FixedNet | None  # the fixed-point network (None: float only)
    data: Split
    config: ConversionConfig
    calib_images: int


def _digest(path: str | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _source(model: str, weights: str | None, dataset: str, calib: int) -> dict:
    # files are recorded by name and digest, never by absolute path: the same inputs give the
    # same network file on any machine
    file, sep, func = model.rpartition(":") if ":" in model else (model, "", "")
    return {"model": Path(file).name + sep + func, "model_digest": _digest(file),
            "weights_digest": _digest(weights), "dataset": dataset, "calib_images": calib}


def load_experiment(model: str, weights: str | None, dataset: str = "digits",
                    data_dir: str | None = None, config: ConversionConfig | None = None,
                    calib: int = 1000, fixed: FixedConfig | None = None) -> Experiment:
    """Load ``model`` (see :func:`snngen.frontend.torch_fx.load_graph`) and ``dataset``, calibrate
    on the first ``calib`` training images, convert, and (with ``fixed``) quantise."""
    from snngen.frontend import load_graph  # torch is only needed here

    config = config or ConversionConfig()
    data = split(load_dataset(dataset, data_dir))
    graph = load_graph(model, weights, tuple(data.train.x.shape[1:]))
    calib_x = data.train.x[:calib]
    canonical = passes.canonicalize(graph)
    snn = passes.convert(graph, calib_x, config)
    net = None
    if fixed is not None:
        # which rule set each layer's threshold (a percentile or a learned clip), kept in the
        # network file
        conv = {**asdict(config), "thresholds": _threshold_rules(canonical, snn, config)}
        net = fix(snn, fixed, conv, _source(model, weights, dataset, len(calib_x)))
    return Experiment(model, dataset, canonical, snn, net, data, config, len(calib_x))


def _threshold_rules(ann: Graph, snn: Graph, config: ConversionConfig) -> dict[str, str]:
    """Which rule set the threshold of each IF population the conversion made (a percentile
    or a learned clip), by the name of its activation."""
    layers = {n.name for n in snn if isinstance(n.op, IF)}
    return passes.scale_rules(ann, config.percentile, config.channelwise, layers)


def load_fixed_experiment(path: str, dataset: str = "digits", data_dir: str | None = None
                          ) -> Experiment:
    """A network file (``snngen convert -o``) and a dataset: the fixed-point network only."""
    from snngen.fixedpoint import netfile

    net = netfile.load(path)
    conv = {k: v for k, v in net.conversion.items() if k in ConversionConfig.__dataclass_fields__}
    data = split(load_dataset(dataset, data_dir))
    if tuple(data.test.x.shape[1:]) != net.graph.input.shape:
        raise ValueError(f"{path} expects inputs of shape {net.graph.input.shape}, dataset "
                         f"{dataset} has {tuple(data.test.x.shape[1:])}")
    return Experiment(path, dataset, None, None, net, data, ConversionConfig(**conv),
                      int(net.source.get("calib_images", 0)))


def load_nir_experiment(path: str, dataset: str = "digits", data_dir: str | None = None,
                        input_mode: str = "analog", fixed: FixedConfig | None = None,
                        keep_fixed: bool = True) -> Experiment:
    """A NIR graph (:mod:`snngen.interop.nirgraph`) and a dataset: the float spiking graph it
    describes and its fixed-point network (``fixed``: the widths; a graph snngen wrote carries
    its own, and no float graph). No ANN, no calibration: the graph is spiking already."""
    from snngen.interop import nirgraph

    source = {"model": Path(path).name, "model_digest": _digest(path), "weights_digest": None,
              "dataset": dataset, "calib_images": 0}
    imp = nirgraph.from_nir(nirgraph.read(path), input_mode=input_mode,
                            fixed=fixed or FixedConfig(), source=source)
    net = imp.fixed
    data = split(load_dataset(dataset, data_dir))
    if tuple(data.test.x.shape[1:]) != net.graph.input.shape:
        raise ValueError(f"{path} expects inputs of shape {net.graph.input.shape}, dataset "
                         f"{dataset} has {tuple(data.test.x.shape[1:])}")
    conv = {k: v for k, v in net.conversion.items() if k in ConversionConfig.__dataclass_fields__}
    return Experiment(path, dataset, None, imp.snn, net if keep_fixed else None, data,
                      ConversionConfig(**conv), int(net.source.get("calib_images", 0)))


@dataclass(frozen=True)
class Row:
    timesteps: int
    snn_accuracy: float | None      # float SNN
    snn_ops: float | None           # mean synaptic operations per image (float SNN)
    ops_ratio: float | None         # snn_ops / ann_macs
    spikes: float | None            # mean spikes per image, all IF layers (float SNN)
    fixed_accuracy: float | None = None   # the fixed-point (golden) SNN
    fixed_ops: float | None = None


@dataclass(frozen=True)
class Report:
    model: str
    dataset: str
    protocol: str
    images: int
    input_mode: str
    seed: int
    config: dict
    fixed: dict | None
    ann_accuracy: float | None
    ann_macs: int
    rows: tuple[Row, ...]
    sim_seconds: float
    fixed_seconds: float | None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        return d


def evaluate(exp: Experiment, timesteps: Sequence[int] = (8, 16, 32, 64, 128),
             seed: int | None = None, limit: int | None = None, batch_size: int = 256,
             progress: Callable[[int], None] | None = None, engine: str = "fast") -> Report:
    """ANN, float SNN and fixed-point SNN accuracy and operations on the test split (first
    ``limit`` images). ``progress(k)`` is told of every batch of every simulation. ``seed``
    (spike input's LFSR) defaults to the conversion's (the network file's)."""
    if seed is None:
        seed = exp.config.seed
    test = exp.data.test if limit is None else exp.data.test.subset(0, limit)
    mode = exp.config.input
    ann_acc = None if exp.ann is None else float(np.mean(ann.predict(exp.ann, test.x) == test.y))
    res = None
    elapsed = fixed_s = None
    if exp.snn is not None:
        t0 = time.perf_counter()
        res = sim.simulate(exp.snn, test.x, timesteps, input_mode=mode, seed=seed,
                           batch_size=batch_size, progress=progress)
        elapsed = round(time.perf_counter() - t0, 3)
    fres = None
    if exp.fixed is not None:
        if max(timesteps) > exp.fixed.config.max_timesteps:
            raise ValueError(f"T={max(timesteps)} exceeds the {exp.fixed.config.max_timesteps} "
                             f"timesteps the fixed-point widths were proven for "
                             f"(--max-timesteps)")
        t0 = time.perf_counter()
        fres = sim.simulate(exp.fixed.graph, test.x, timesteps, input_mode=mode, seed=seed,
                            batch_size=batch_size, progress=progress, check=exp.fixed.formats,
                            engine=engine)
        fixed_s = round(time.perf_counter() - t0, 3)
    # the ANN's own MACs (the network as trained, before any folding) when it is at hand
    graph = exp.ann if exp.ann is not None else \
        (exp.snn if exp.snn is not None else exp.fixed.graph)
    macs = sim.ann_macs(graph)
    acc = res.accuracy(test.y) if res else {}
    facc = fres.accuracy(test.y) if fres else {}
    rows = []
    for t in sorted(set(timesteps)):
        rows.append(Row(
            t, acc.get(t),
            float(res.ops[t].mean()) if res else None,
            float(res.ops[t].mean() / macs) if res else None,
            float(sum(v.mean() for v in res.spikes[t].values())) if res else None,
            facc.get(t), float(fres.ops[t].mean()) if fres else None))
    cfg = {**asdict(exp.config), "calib_images": exp.calib_images}
    if exp.ann is not None and exp.snn is not None:
        cfg["thresholds"] = _threshold_rules(exp.ann, exp.snn, exp.config)
    elif exp.fixed is not None and "thresholds" in exp.fixed.conversion:
        cfg["thresholds"] = dict(exp.fixed.conversion["thresholds"])
    fixed_cfg = exp.fixed.config.to_dict() if exp.fixed else None
    return Report(exp.model, exp.dataset, exp.data.protocol, len(test), mode, seed, cfg,
                  fixed_cfg, ann_acc, macs, tuple(rows), elapsed, fixed_s)
