"""PNG figures: accuracy vs T, accuracy vs operations (as the 2017 paper's Fig. 4), spike raster.

matplotlib with the Agg backend and fixed metadata, so the same results give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from snngen.ir.graph import IF, Graph

# no timestamps or software versions in the files: byte-identical output for identical input
_META = {"Software": None}


def _accuracy_figure(ax, fig, xlabel: str, title: str, path: Path) -> Path:
    """The common frame of the accuracy plots, then save."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _time_axis(ax, ts: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ts, [str(t) for t in ts])


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, metadata=_META)
    plt.close(fig)
    return path


def _series(rep) -> list[tuple[str, str, list[float], list[float]]]:
    """The SNN curves ``rep`` has: (label, style, accuracies %, operations per image in
    millions). The float SNN alone keeps the label "SNN" (``snngen plot``); next to the
    fixed-point golden model both are named."""
    out = []
    fixed = rep.fixed is not None and any(r.fixed_accuracy is not None for r in rep.rows)
    if any(r.snn_accuracy is not None for r in rep.rows):
        out.append(("float SNN" if fixed else "SNN", "o-",
                    [100 * r.snn_accuracy for r in rep.rows],
                    [r.snn_ops / 1e6 for r in rep.rows]))
    if fixed:
        out.append((f"fixed {rep.fixed['weight_bits']}-bit SNN", "s-",
                    [100 * r.fixed_accuracy for r in rep.rows],
                    [r.fixed_ops / 1e6 for r in rep.rows]))
    return out


def accuracy_vs_time(rep, path: Path) -> Path:
    ts = [r.timesteps for r in rep.rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, style, acc, _ in _series(rep):
        ax.plot(ts, acc, style, label=label)
    if rep.ann_accuracy is not None:
        ax.axhline(100 * rep.ann_accuracy, color="k", ls="--", label="ANN")
    _time_axis(ax, ts)
    return _accuracy_figure(ax, fig, "timesteps T", f"{rep.dataset}: accuracy vs simulation time",
                            path)


def accuracy_vs_ops(rep, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, style, acc, ops in _series(rep):
        ax.plot(ops, acc, style, label=label)
        for r, o, a in zip(rep.rows, ops, acc, strict=True):
            ax.annotate(f"T={r.timesteps}", (o, a), fontsize=7,
                        textcoords="offset points", xytext=(3, -9))
    if rep.ann_accuracy is not None:
        ax.plot([rep.ann_macs / 1e6], [100 * rep.ann_accuracy], "ks", label="ANN (MACs)")
    ax.set_xscale("log")
    # plain numbers on the log axis; minor labels would collide
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    return _accuracy_figure(ax, fig, "operations per image (millions)",
                            f"{rep.dataset}: accuracy vs operations", path)


def raster(graph: Graph, trace, label: int, path: Path) -> Path:
    """Every spike of one image: one panel per IF layer, neuron index vs timestep."""
    layers = [n for n in graph if isinstance(n.op, IF) and n.op.spiking]
    fig, axes = plt.subplots(len(layers), 1, figsize=(6.5, 1.4 + 1.3 * len(layers)),
                             sharex=True, squeeze=False)
    for ax, n in zip(axes[:, 0], layers, strict=True):
        r = trace.raster[n.name][:, 0].reshape(trace.raster[n.name].shape[0], -1)
        t, i = np.nonzero(r)
        ax.scatter(t + 1, i, s=1.5, marker="|", color="k", linewidths=0.6)
        ax.set_ylabel(f"{n.name}\n({r.shape[1]})", fontsize=7)
        ax.set_ylim(-0.5, r.shape[1] - 0.5)
        ax.tick_params(labelsize=7)
    pred = int(trace.predictions[trace.timesteps[-1]][0])
    axes[0, 0].set_title(f"spike raster (label {label}, predicted {pred})", fontsize=10)
    axes[-1, 0].set_xlabel("timestep")
    fig.tight_layout()
    return _save(fig, path)


def write_all(rep, graph: Graph, trace, label: int, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [accuracy_vs_time(rep, out / "accuracy_vs_time.png"),
            accuracy_vs_ops(rep, out / "accuracy_vs_ops.png"),
            raster(graph, trace, label, out / "raster.png")]


def sweep(res: dict, path: Path) -> Path:
    """Fixed-point accuracy vs T, one line per weight width, the float SNN dashed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ts = sorted(int(t) for t in res["float"])
    ax.plot(ts, [100 * res["float"][str(t)] for t in ts], "k--", label="float SNN")
    for bits, accs in res["fixed"].items():
        ax.plot(ts, [100 * accs[str(t)] for t in ts], "o-", label=f"{bits}-bit weights")
    _time_axis(ax, ts)
    return _accuracy_figure(ax, fig, "timesteps T",
                            f"{res['dataset']}: fixed-point accuracy by weight width", path)
