"""Design-space exploration: ``snngen explore NET --weight-bits 4,6,8 --timesteps 8,16,32
--lanes 1,2,4 [--device D]``.

A configuration is (weight width, T, lanes). For each one:

* the network is quantised at that weight width exactly as ``snngen sweep`` does
  (:func:`snngen.fixedpoint.fixednet.fix` of the float SNN, widths proven for ``--max-timesteps`` or
  the largest T); a network file is used as it is (it holds integer weights already, so only its
  own width can be explored);
* accuracy: the fixed-point golden model (:func:`snngen.golden.sim.simulate`, which checks every
  membrane against its proven range) at that T on the evaluation images (the first ``images``
  of the test split);
* cycles per image: the timing model (:func:`snngen.hwmodel.timing.predict`, which ``snngen verify``
  checks cycle for cycle against the RTL) on the golden model's spikes of every evaluation
  image, with the hardware plan for that many lanes: mean, min and max;
* resources: always the hardware plan's memory bits (the manifest's resources: membranes, K,
  weight ROMs, accumulators, FIFOs, gate counters); with a device, also a real synthesis
  (:func:`snngen.flows.synth.synthesize` on a build in a temporary directory): LUTs, FFs, block
  RAMs, DSPs, Fmax, and from Fmax the latency and images/s.

T is an input of the generated hardware (its ``timesteps`` port), so the design, and thus its
resources, depends on the weight width and the lanes only: it is built and synthesised once per
(width, lanes) and serves every T. Evaluations (per width and T) and syntheses (per width and
lanes) are independent and run in parallel in worker processes.

A configuration is Pareto-optimal when no other has at least its accuracy, at most its
resources and at most its latency, and is strictly better in one of them. Resources are LUTs
(logic cells on iCE40) when a device is given, else memory bits; latency is microseconds when a
device is given, else cycles. A design that does not fit the device is not a candidate.

The result (``explore.json``) lists the configurations in a fixed order, with no timings or
paths that change between runs.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from snngen.fixedpoint.fixednet import FixedConfig, FixedNet, fix
from snngen.ir.graph import Graph

FORMAT = "snngen-explore"
VERSION = 1
MAX_LABELS = 8      # more Pareto-optimal points than this are not labelled in the plot


class ExploreError(ValueError):
    """The exploration cannot run as asked; the message says why."""


@dataclass(frozen=True)
class Source:
    """What is explored: a float SNN re-quantised at every width (``snn``, ``conversion``,
    ``base``: the fixed-point settings other than the weight width), or a fixed network used as
    it is (``fixed``)."""

    snn: Graph | None = None
    conversion: dict | None = None
    base: FixedConfig | None = None
    fixed: FixedNet | None = None

    def net(self, bits: int) -> FixedNet:
        if self.fixed is not None:
            if bits != self.fixed.config.weight_bits:
                raise ExploreError(f"a network file holds {self.fixed.config.weight_bits}-bit "
                                   f"weights; other widths need the model")
            return self.fixed
        return fix(self.snn, replace(self.base, weight_bits=bits), self.conversion or {})


# ---------------------------------------------------------------------------------------------
# the work of one task (run in a worker process, or in this one with jobs=1)
# ---------------------------------------------------------------------------------------------

_STATE: dict = {}


def _init(source: Source, x: np.ndarray, y: np.ndarray) -> None:
    _STATE.update(source=source, x=x, y=y)


def memory_estimate(p) -> dict:
    """The plan's memory bits (the manifest's resources), in total and by kind."""
    from snngen.hwmodel.build import manifest

    by_kind: dict[str, int] = {}
    for r in manifest(p, "snn_net", "", [])["resources"]:
        for k, v in r.items():
            if k.endswith("_bits"):
                by_kind[k] = by_kind.get(k, 0) + int(v)
    return {"memory_bits": sum(by_kind.values()), "by_kind": dict(sorted(by_kind.items()))}


def evaluate(bits: int, timesteps: int, lanes: Sequence[int], batch_size: int = 256,
             engine: str = "fast") -> list[dict]:
    """Accuracy, operations and, per lanes, cycles and memory of one (width, T)."""
    from snngen.fixedpoint.quantize import quantize_input
    from snngen.golden import sim
    from snngen.hwmodel import timing
    from snngen.hwmodel.plan import plan

    src: Source = _STATE["source"]
    x, y = _STATE["x"], _STATE["y"]
    base = {"weight_bits": bits, "timesteps": timesteps}
    try:
        net = src.net(bits)
    except ValueError as e:     # QuantizationError, WidthError, ExploreError
        return [{**base, "lanes": ln, "error": str(e)} for ln in lanes]
    plans: dict[int, object] = {}
    errors: dict[int, str] = {}
    for ln in lanes:
        try:
            plans[ln] = plan(net, lanes=ln)
        except ValueError as e:     # HardwareError
            errors[ln] = str(e)
    correct = 0
    ops = 0.0
    cycles: dict[int, list[int]] = {ln: [] for ln in plans}
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        res = sim.simulate(net.graph, xb, [timesteps], input_mode=net.input_mode,
                           batch_size=batch_size, trace=bool(plans), check=net.formats,
                           engine=engine)
        correct += int(np.sum(res.predictions[timesteps] == y[i:i + batch_size]))
        ops += float(res.ops[timesteps].sum())
        if plans:
            q = quantize_input(xb, net.config.input_bits)
            for ln, p in plans.items():
                for j in range(len(xb)):
                    ins = timing.stage_inputs(p, res.raster, j, timesteps)
                    cycles[ln].append(timing.predict(p, q[j], ins, timesteps).latency)
    n = len(x)
    out = []
    for ln in lanes:
        row = {**base, "lanes": ln, "images": n, "correct": correct, "accuracy": correct / n,
               "ops_per_image": ops / n, "max_timesteps": net.config.max_timesteps}
        if ln in errors:
            row["error"] = errors[ln]
        else:
            c = cycles[ln]
            row["cycles"] = {"mean": sum(c) / n, "min": min(c), "max": max(c)}
            row["estimate"] = memory_estimate(plans[ln])
        out.append(row)
    return out


def synthesize(bits: int, lanes: int, device: str, freq_mhz: float | None = None,
               seed: int = 1) -> dict:
    """Build the (width, lanes) design in a temporary directory and synthesise it."""
    from snngen.backends.verilog import writer as verilog
    from snngen.flows import synth
    src: Source = _STATE["source"]
    base = {"weight_bits": bits, "lanes": lanes, "device": device}
    try:
        net = src.net(bits)
        with tempfile.TemporaryDirectory(prefix="snngen-explore-") as tmp:
            out = verilog.build(net, Path(tmp) / "build", verilog.BuildOptions(lanes=lanes))
            try:
                rep = synth.synthesize(out, device, freq_mhz, seed)
            except synth.DoesNotFit as e:
                rep = e.report
    except (ValueError, RuntimeError) as e:     # no design, or a tool failed
        return {**base, "error": str(e)}
    return {**base, **synth_summary(rep)}


def synth_summary(rep) -> dict:
    """The figures of a :class:`snngen.flows.synth.SynthReport` that explore keeps."""
    res = rep.resources

    def used(k: str) -> int | None:
        return res.get(k, {}).get("used")

    def avail(k: str) -> int | None:
        return res.get(k, {}).get("available")

    return {"fits": rep.fits, "luts": used("luts"), "luts_available": avail("luts"),
            "ffs": used("ffs") if used("ffs") is not None else rep.ffs,
            "brams": used("brams"), "brams_available": avail("brams"), "dsps": used("dsps"),
            "fmax_mhz": rep.fmax_mhz, "timing_met": rep.timing_met,
            "memories_in_bram": sum(m.mapped == "bram" for m in rep.memories),
            "memories": len(rep.memories)}


# ---------------------------------------------------------------------------------------------
# Pareto front
# ---------------------------------------------------------------------------------------------

def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` = (accuracy, resources, latency) is at least as good as ``b`` in every objective
    (accuracy higher, the others lower) and strictly better in one."""
    ge = a[0] >= b[0] and a[1] <= b[1] and a[2] <= b[2]
    return ge and (a[0] > b[0] or a[1] < b[1] or a[2] < b[2])


def pareto(points: Sequence[Sequence[float] | None]) -> list[bool]:
    """For each point (accuracy, resources, latency), or None for a point that is no candidate
    (an error, a design that does not fit): is it Pareto-optimal?"""
    cand = [p for p in points if p is not None]
    return [p is not None and not any(dominates(q, p) for q in cand) for p in points]


def objectives(cfg: dict, device: str | None) -> tuple[float, float, float] | None:
    """(accuracy, resources, latency) of a configuration, None if it is no candidate."""
    if "error" in cfg or "cycles" not in cfg:
        return None
    if device is None:
        return (cfg["accuracy"], cfg["estimate"]["memory_bits"], cfg["cycles"]["mean"])
    s = cfg.get("synth") or {}
    if "error" in s or not s.get("fits") or s.get("latency_us") is None or s.get("luts") is None:
        return None
    return (cfg["accuracy"], s["luts"], s["latency_us"])


# ---------------------------------------------------------------------------------------------
# the exploration
# ---------------------------------------------------------------------------------------------

def _context():
    # a fresh server process forks the workers: never a fork of this (maybe multithreaded, maybe
    # torch-holding) process
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def explore(source: Source, x: np.ndarray, y: np.ndarray, weight_bits: Sequence[int],
            timesteps: Sequence[int], lanes: Sequence[int], device: str | None = None,
            freq_mhz: float | None = None, jobs: int | None = None, batch_size: int = 256,
            engine: str = "fast",
            progress: Callable[[str, int, int], None] | None = None) -> list[dict]:
    """Every configuration of the grid (sorted by width, T, lanes) with its figures and its
    Pareto flag; see the module doc. ``x`` are the evaluation images (intensities), ``y`` their
    labels; ``progress(label, done, total)`` is told of every finished task."""
    weight_bits = sorted(set(weight_bits))
    timesteps = sorted(set(timesteps))
    lanes = sorted(set(lanes))
    if len(x) == 0:
        raise ExploreError("no evaluation images")
    if device is not None:
        from snngen.flows import synth

        dev = synth.device(device)
        synth.require_toolchain(dev.family)
    eval_tasks = [(evaluate, (b, t, tuple(lanes), batch_size, engine), f"golden {b}-bit T={t}")
                  for b in weight_bits for t in timesteps]
    synth_tasks = [] if device is None else \
        [(synthesize, (b, ln, device, freq_mhz), f"synth {b}-bit {ln} lanes")
         for b in weight_bits for ln in lanes]
    tasks = synth_tasks + eval_tasks        # the long ones first
    results: dict[int, object] = {}
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    if jobs == 1:
        _init(source, x, y)
        try:
            for k, (fn, args, label) in enumerate(tasks):
                results[k] = fn(*args)
                if progress:
                    progress(label, len(results), len(tasks))
        finally:
            _STATE.clear()
    else:
        with ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_init,
                                 initargs=(source, x, y)) as pool:
            futs: dict[Future, int] = {pool.submit(fn, *args): k
                                       for k, (fn, args, _) in enumerate(tasks)}
            for f in as_completed(futs):
                results[futs[f]] = f.result()
                if progress:
                    progress(tasks[futs[f]][2], len(results), len(tasks))
    synth_by = {(r["weight_bits"], r["lanes"]): r
                for k, r in results.items() if k < len(synth_tasks)}
    configs = [c for k in range(len(synth_tasks), len(tasks)) for c in results[k]]
    configs.sort(key=lambda c: (c["weight_bits"], c["timesteps"], c["lanes"]))
    for c in configs:
        if device is None:
            continue
        s = dict(synth_by[(c["weight_bits"], c["lanes"])])
        s.pop("weight_bits")
        s.pop("lanes")
        if s.get("fmax_mhz") and "cycles" in c:
            mean = c["cycles"]["mean"]
            s["latency_us"] = mean / s["fmax_mhz"]
            s["images_per_s"] = s["fmax_mhz"] * 1e6 / mean
        c["synth"] = s
    for c, ok in zip(configs, pareto([objectives(c, device) for c in configs]), strict=True):
        c["pareto"] = ok
    return configs


def document(configs: list[dict], *, model: str, dataset: str, protocol: str, images: int,
             weight_bits: Sequence[int], timesteps: Sequence[int], lanes: Sequence[int],
             device: str | None, freq_mhz: float | None) -> dict:
    """The content of ``explore.json``."""
    return {
        "format": FORMAT, "version": VERSION, "model": model, "dataset": dataset,
        "protocol": protocol, "images": images,
        "grid": {"weight_bits": sorted(set(weight_bits)), "timesteps": sorted(set(timesteps)),
                 "lanes": sorted(set(lanes))},
        "device": device, "freq_mhz": freq_mhz,
        "objectives": {"accuracy": "accuracy (higher is better)",
                       "resources": "synth.luts" if device else "estimate.memory_bits",
                       "latency": "synth.latency_us" if device else "cycles.mean"},
        "configs": configs,
    }


# ---------------------------------------------------------------------------------------------
# the plot
# ---------------------------------------------------------------------------------------------

def plot(doc: dict, path: str | Path) -> Path:
    """``pareto.png``: accuracy vs resources and accuracy vs latency, one point per
    configuration, colour = the third objective; Pareto-optimal points ringed in red and, when
    there are at most :data:`MAX_LABELS` of them, labelled (width/T/lanes); synthesised designs
    that do not fit the device as grey crosses (resources only)."""
    from snngen.flows import plots  # Agg backend and deterministic metadata

    plt = plots.plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device = doc["device"]
    pts = [(c, objectives(c, device)) for c in doc["configs"]]
    pts = [(c, o) for c, o in pts if o is not None]
    res_label = "LUTs" if device else "memory bits (estimate)"
    if device and device.startswith("ice40"):
        res_label = "logic cells"
    lat_label = "latency per image (us)" if device else "cycles per image (timing model)"
    # synthesised designs that do not fit: resources known, no latency
    over = [c for c in doc["configs"]
            if device and (c.get("synth") or {}).get("fits") is False
            and c["synth"].get("luts") is not None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    if over:
        axes[0].scatter([c["synth"]["luts"] for c in over],
                        [100 * c["accuracy"] for c in over], marker="x", color="0.5", s=30,
                        label=f"does not fit {device}", zorder=2)
    if pts:
        acc = np.array([100 * o[0] for _, o in pts])
        res = np.array([o[1] for _, o in pts], dtype=float)
        lat = np.array([o[2] for _, o in pts], dtype=float)
        front = np.array([c["pareto"] for c, _ in pts])
        for ax, xs, cs, clabel in ((axes[0], res, lat, lat_label),
                                   (axes[1], lat, res, res_label)):
            sc = ax.scatter(xs, acc, c=cs, cmap="viridis", s=30, zorder=2)
            ax.scatter(xs[front], acc[front], s=110, facecolors="none", edgecolors="red",
                       linewidths=1.4, zorder=3, label="Pareto-optimal")
            for (c, _), xv, yv, f in zip(pts, xs, acc, front, strict=True):
                if f and front.sum() <= MAX_LABELS:
                    ax.annotate(f"{c['weight_bits']}b T{c['timesteps']} L{c['lanes']}",
                                (xv, yv), fontsize=7, textcoords="offset points",
                                xytext=(4, 4))
            cb = fig.colorbar(sc, ax=ax)
            cb.set_label(clabel, fontsize=8)
            cb.ax.tick_params(labelsize=7)
            ax.margins(x=0.15, y=0.08)     # room for the labels
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            ax.legend(fontsize=8, loc="best")
        axes[0].set_xlabel(res_label)
        axes[1].set_xlabel(lat_label)
    else:
        for ax in axes:
            ax.text(0.5, 0.5, "no configuration to show", ha="center", transform=ax.transAxes)
    axes[0].set_ylabel("accuracy (%)")
    where = f", {device}" if device else ""
    fig.suptitle(f"{doc['dataset']}: design space ({doc['images']} images{where})",
                 fontsize=10)
    fig.tight_layout()
    return plots._save(fig, path)
