"""Whole-network verification of a build: ``snngen verify DIR --sim icarus|verilator``.

It simulates the build's RTL on some images (the in-simulator harness,
:mod:`snngen.flows.bench`, or the per-edge cocotb bench, :mod:`snngen.flows.cocotb_net`; in
chunks on one or more worker processes) and compares, with ``==`` and nothing else,

* every stage's spike events of every timestep with the golden model's (``snngen.golden.model``,
  run on the build's own ``net.snn``),
* the output spike counts and the class,
* the cycles every stage spends on every timestep, the start of every pipeline step, and the
  latency of the inference, with the timing model (``snngen.hwmodel.timing``).

The first difference is reported with its image, stage, timestep and neuron.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snngen.fixedpoint import netfile
from snngen.flows import bench, simrun
from snngen.golden import model as golden
from snngen.hwmodel import timing
from snngen.hwmodel.blocks import banks
from snngen.hwmodel.build import load_manifest
from snngen.hwmodel.plan import HwPlan, PoolStage, plan


class VerifyError(RuntimeError):
    """The simulation could not run (missing simulator, build failure); not a mismatch."""


@dataclass
class ImageResult:
    image: int
    golden_class: int
    rtl_class: int | None
    spikes: list[int]                      # golden spikes per stage (all timesteps)
    predicted_cycles: int
    rtl_cycles: int | None
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass
class RunStats:
    """What a verification run cost: ``cycles`` simulated (reset to last result, summed over the
    simulator runs), ``sim_seconds`` (wall time of those runs, summed: start-up included, and
    compilation for the cocotb benches, whose first run on each worker compiles),
    ``build_seconds`` (compiling the ``harness`` bench's executable, once, before its runs),
    ``wall_seconds`` of the whole verification, the ``jobs`` and the ``bench``.
    ``steady_cycles``/``steady_seconds`` leave out runs that compiled, for the simulator's own
    speed."""
    bench: str = "harness"
    jobs: int = 1
    cycles: int = 0
    sim_seconds: float = 0.0
    build_seconds: float = 0.0
    wall_seconds: float = 0.0
    steady_cycles: int = 0
    steady_seconds: float = 0.0

    @property
    def cycles_per_second(self) -> float | None:
        """Simulated cycles per second of simulator run time (start-up and compilation in)."""
        return self.cycles / self.sim_seconds if self.sim_seconds > 0 else None

    @property
    def steady_cycles_per_second(self) -> float | None:
        """The same without each worker's first (compiling) run."""
        return self.steady_cycles / self.steady_seconds if self.steady_seconds > 0 else None


@dataclass
class VerifyReport:
    build: str
    sim: str
    timesteps: int
    images: list[ImageResult]
    stats: RunStats = field(default_factory=RunStats)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.images)

    def first_mismatch(self) -> str | None:
        for r in self.images:
            if r.mismatches:
                return r.mismatches[0]
        return None


def plan_of_build(build_dir: str | os.PathLike) -> tuple[dict, object, HwPlan]:
    """The manifest, the network and the hardware plan of a build directory."""
    man = load_manifest(build_dir)
    net = netfile.load(Path(build_dir) / "net.snn")
    lanes = {s["name"]: s["lanes"] for s in man["stages"] if "lanes" in s}
    depths = {s["name"]: s["fifo_depth"] for s in man["stages"] if "fifo_depth" in s}
    return man, net, plan(net, lanes=lanes, fifo_depth=depths)


def expected(net, p: HwPlan, pixels: np.ndarray, timesteps: int) -> tuple[object, list]:
    """The golden run (with rasters) and the timing prediction of every image."""
    res = golden.run(net.graph, pixels, (timesteps,), trace=True)
    timings = []
    for i in range(len(pixels)):
        ins = timing.stage_inputs(p, res.raster, i, timesteps)
        timings.append(timing.predict(p, pixels[i], ins, timesteps))
    return res, timings


def _parameters(man: dict, build_dir: Path) -> dict[str, str]:
    # the top's parameters (MEM_DIR of a Verilog build, relative to the build directory; an
    # Amaranth build has none: its memories hold their contents)
    return {name: str(build_dir / value) + ("/" if value.endswith("/") else "")
            for name, value in man.get("parameters", {}).items()}


BENCHES = ("harness", "harness-cocotb", "edges")


def simulate(build_dir: str | os.PathLike, sim: str, pixels: np.ndarray, timesteps: int,
             work_dir: str | os.PathLike | None = None, seed: int | None = None,
             gap: float = 0.0, bench_kind: str = "harness",
             max_cycles: int = 2_000_000_000) -> list[dict]:
    """Run the build's RTL on ``pixels`` (n, ...) and return the bench's records. With ``gap``
    > 0 the bench withholds pixels and refuses the result in random cycles. The run stops
    early, its last record saying why, when the top raises ``deadlock`` or after
    ``max_cycles`` (the whole run's budget).

    ``bench_kind``: ``"harness"`` (default) compiles the in-simulator harness
    (:mod:`snngen.flows.bench`) into a plain simulator executable and runs it, at the
    simulator's speed; ``"harness-cocotb"`` runs the same harness under cocotb;
    ``"edges"`` the per-edge cocotb bench (:mod:`snngen.flows.cocotb_net`, Python at every
    clock edge). All follow the same protocol and give the same records."""
    if bench_kind not in BENCHES:
        raise ValueError(f"bench must be one of {BENCHES}, got {bench_kind!r}")
    build_dir = Path(build_dir).resolve()
    man = load_manifest(build_dir)
    files = [build_dir / f for f in man["files"]]
    work = Path(work_dir) if work_dir is not None else build_dir / "sim" / sim
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    params = _parameters(man, build_dir)
    try:
        if bench_kind == "harness":
            model = bench.build(man, files, params, sim, work)
            return bench.run_model(model, man, pixels, timesteps, work, seed=seed, gap=gap,
                                   max_cycles=max_cycles)
        if bench_kind == "harness-cocotb":
            return bench.run_cocotb(build_dir, man, files, params, sim, pixels, timesteps,
                                    work, seed=seed, gap=gap, max_cycles=max_cycles)
    except simrun.SimError as e:
        raise VerifyError(str(e)) from None
    out = work / "record.json"
    if out.exists():
        out.unlink()
    cfg = {
        "images": [[int(v) for v in np.asarray(x).reshape(-1)] for x in pixels],
        "timesteps": int(timesteps), "stages": len(man["stages"]),
        "index_width": man["dbg_index_width"], "count_width": man["output"]["count_width"],
        "classes": man["output"]["classes"], "out": str(out), "gap": float(gap),
        "max_cycles": int(max_cycles),
    }
    cfg_file = work / "bench.json"
    cfg_file.write_text(json.dumps(cfg))
    try:
        simrun.run_cocotb(
            toplevel=man["top"], sources=files, test_module="snngen.flows.cocotb_net",
            parameters=_parameters(man, build_dir), sim=sim, build_dir=work,
            extra_env={"SNNGEN_NET_BENCH": str(cfg_file)}, seed=seed,
            verilator_waivers=man.get("verilator_waivers", ()))
    except simrun.SimError as e:
        raise VerifyError(str(e)) from None
    return json.loads(out.read_text())


def _first_diff(a: list[int], b: list[int]) -> str:
    for j, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"event {j}: RTL neuron {x}, golden neuron {y}"
    if len(a) > len(b):
        return f"RTL has extra events from neuron {a[len(b)]} on"
    return f"RTL is missing the events from golden neuron {b[len(a)]} on"


def cycle_budget(latencies: list[int], gap: float = 0.0) -> int:
    """The cycles a harness run of images with these predicted ``latencies`` may take before
    it is stopped as hung: twice the prediction (the timing model is exact, so any excess is a
    failure) plus a few cycles per image between them, stretched by the stall probability
    ``gap`` (a stalled image loads and hands over its result more slowly)."""
    base = 2 * sum(latencies) + 16 * len(latencies) + 1000
    return int(base / (1.0 - min(gap, 0.99)))


def _stopped(p: HwPlan, i: int, rec: dict | None, tm: timing.Timing) -> str | None:
    """Why image ``i`` has no result: the hardware deadlocked or hung in it, or an earlier image
    of its run did; None when it has one."""
    if rec is None:
        return f"image {i}: not simulated: the run stopped at an earlier image (see it)"
    dead = rec.get("deadlock")
    if dead is not None:
        at = dead["edge"] - rec.get("start_edge", 0)
        why = []
        for k in dead["stages"]:
            st = p.stages[k]
            if k + 1 < len(p.stages):
                why.append(f"stage {k} ({st.kind} {st.name}) cannot hand on its events: the "
                           f"FIFO in front of stage {k + 1} (depth {p.fifo_depths[k]}) is full "
                           f"and stage {k + 1} has finished the step (the FIFO must hold two "
                           f"timesteps of stage {k}, 2 x ({st.n} + 1) = {2 * (st.n + 1)} words)")
            else:
                why.append(f"stage {k} ({st.kind} {st.name}): the readout did not take its "
                           "events")
        return (f"image {i}: the hardware deadlocked in step {dead['step']} (cycle {at} of the "
                f"image): " + "; ".join(why))
    if "timeout" in rec:
        return (f"image {i}: no result within the run's cycle budget (the timing model predicts "
                f"{tm.latency} cycles for this image): the hardware hung without raising its "
                "deadlock flag")
    return None


def compare(p: HwPlan, res, timings: list[timing.Timing], records: list[dict | None],
            timesteps: int, stalls: bool = False) -> list[ImageResult]:
    """Every spike, count, class and cycle count of the records against the models. With
    ``stalls`` (pixels withheld, results refused) the load phase and the result handshake take
    longer than predicted, so the step starts and the latency are not compared; every stage's
    cycles per timestep still are. An image whose record says the hardware deadlocked or hung
    in it, or that has none (its run stopped at an earlier image), fails with that reason."""
    out = []
    out_name = p.output.name
    # the order in which each stage emits a timestep's spikes: an IF array sweeps its bank rows
    # (docs/architecture.md §4.1), a max-pool gate its windows in ascending order
    rank = [None if isinstance(st, PoolStage) else
            np.argsort(banks.emission_order(st.n, st.lanes, st.plane)) for st in p.stages]
    for i, (rec, tm) in enumerate(zip(records, timings, strict=True)):
        mism: list[str] = []
        spikes = []
        want_class = int(res.predictions[timesteps][i])
        stop = _stopped(p, i, rec, tm)
        if stop is not None:
            out.append(ImageResult(i, want_class, None, [], tm.latency, None, [stop]))
            continue
        start = rec["start_edge"]
        for k, st in enumerate(p.stages):
            r = res.raster[st.name][:timesteps, i].reshape(timesteps, -1)
            spikes.append(int(r.sum()))
            for t in range(1, timesteps + 1):
                s = t + k
                want = [int(n) for n in np.flatnonzero(r[t - 1])]
                if rank[k] is not None:
                    want.sort(key=rank[k].__getitem__)
                got = rec["events"][k].get(str(s), [])
                if got != want:
                    mism.append(f"image {i}, stage {k} ({st.kind} {st.name}), timestep {t}: "
                                f"{_first_diff(got, want)}")
                go = rec["step_edges"].get(str(s))
                done = rec["eot_edges"][k].get(str(s))
                if go is None or done is None:
                    mism.append(f"image {i}, stage {k} ({st.name}), timestep {t}: no "
                                f"{'step start' if go is None else 'end of timestep'} seen")
                elif done - go != tm.stage[k][t]:
                    mism.append(f"image {i}, stage {k} ({st.name}), timestep {t}: "
                                f"{done - go} cycles, timing model {tm.stage[k][t]}")
        for s, edge in enumerate(tm.step_edges, start=1):
            got = rec["step_edges"].get(str(s))
            if stalls and got is not None:
                break
            if got is None or got - start != edge:
                mism.append(f"image {i}: step {s} started at cycle "
                            f"{None if got is None else got - start}, timing model {edge}")
                break
        want_counts = [int(c) for c in res.final[out_name]["count"][i].reshape(-1)]
        if p.readout == "count" and rec.get("counts") != want_counts:
            mism.append(f"image {i}: output counts {rec.get('counts')}, golden {want_counts}")
        if rec.get("class") != want_class:
            mism.append(f"image {i}: class {rec.get('class')}, golden {want_class}")
        latency = rec["result_edge"] - start if "result_edge" in rec else None
        if not stalls and latency != tm.latency:
            mism.append(f"image {i}: latency {latency} cycles, timing model {tm.latency}")
        out.append(ImageResult(i, want_class, rec.get("class"), spikes, tm.latency, latency,
                               mism))
    return out


def _chunks(n: int, jobs: int, chunk: int | None) -> list[range]:
    """Contiguous image ranges: about ``chunk`` images each (default: a quarter of a job's
    share, at least 16 so that a simulator run is not mostly start-up, at most 100 so that
    progress shows), never more than ``n``."""
    if chunk is None:
        chunk = min(100, max(16, -(-n // (4 * jobs))))
    return [range(a, min(a + chunk, n)) for a in range(0, n, chunk)]


_WORKER_DIR: list[Path] = []


def _init_worker(dirs) -> None:
    # each worker process takes one work directory of its own for its whole life: its compiled
    # model is reused by every chunk it runs, and no two processes share one
    _WORKER_DIR.append(Path(dirs.get()))


def _run_chunk(args: tuple) -> tuple[list[dict], float, bool, str]:
    (build_dir, sim, pixels, timesteps, seed, gap, bench_kind, max_cycles) = args
    import time

    work = _WORKER_DIR[0]
    first = not (work / ".used").exists()
    t0 = time.perf_counter()
    recs = simulate(build_dir, sim, pixels, timesteps, work, seed, gap, bench_kind, max_cycles)
    (work / ".used").touch()
    return recs, time.perf_counter() - t0, first, str(work)


def _run_model(model, man: dict, pixels: np.ndarray, timesteps: int, run_dir: Path, seed: int,
               gap: float, max_cycles: int) -> tuple[list[dict], float, bool, str]:
    import time

    t0 = time.perf_counter()
    try:
        recs = bench.run_model(model, man, pixels, timesteps, run_dir, seed=seed, gap=gap,
                               max_cycles=max_cycles)
    except simrun.SimError as e:
        raise VerifyError(str(e)) from None
    return recs, time.perf_counter() - t0, False, str(run_dir)


def verify(build_dir: str | os.PathLike, sim: str, pixels: np.ndarray, timesteps: int,
           work_dir: str | os.PathLike | None = None, seed: int | None = None,
           gap: float = 0.0, bench_kind: str = "harness", jobs: int = 1,
           chunk: int | None = None,
           progress: Callable[[int, int, RunStats], None] | None = None) -> VerifyReport:
    """Simulate and compare; see the module doc and :func:`simulate` (``gap``, ``bench_kind``).

    The images run in contiguous chunks (``chunk`` images each), ``jobs`` at a time. The
    ``harness`` bench compiles one executable (in ``work_dir/model``; a temporary directory
    when ``work_dir`` is None) and runs each chunk in a directory of its own
    (``work_dir/chunk<k>``); the cocotb benches run chunks on ``jobs`` worker processes, each
    with a work directory of its own (``work_dir/job<k>``) whose compiled model serves all its
    chunks. ``progress(done, total, stats)`` is called after every chunk. Every image is
    compared, whatever the chunking: the records are the same as one run's but for the
    absolute edge numbers, which the comparison takes relative to each image's start."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import time

    t_start = time.perf_counter()
    _, net, p = plan_of_build(build_dir)
    if not 1 <= timesteps <= p.max_timesteps:
        raise VerifyError(f"timesteps must be 1 .. {p.max_timesteps} (the proven maximum of "
                          f"this network), got {timesteps}")
    if jobs < 1:
        raise VerifyError(f"jobs must be at least 1, got {jobs}")
    if bench_kind not in BENCHES:
        raise ValueError(f"bench must be one of {BENCHES}, got {bench_kind!r}")
    pixels = np.asarray(pixels, dtype=np.int64)
    if pixels.shape[1:] != tuple(p.input_shape):
        raise VerifyError(f"images of shape {pixels.shape[1:]}, the build expects "
                          f"{tuple(p.input_shape)}")
    if seed is None:
        seed = simrun.pick_seed()
    res, timings = expected(net, p, pixels, timesteps)
    stats = RunStats(bench=bench_kind, jobs=jobs)
    chunks = _chunks(len(pixels), jobs, chunk)
    budgets = [cycle_budget([timings[i].latency for i in c], gap) for c in chunks]
    records: list[list[dict] | None] = [None] * len(chunks)
    with tempfile.TemporaryDirectory(prefix="snngen-verify-") as tmp:
        root = (Path(work_dir) if work_dir is not None else Path(tmp) / sim).resolve()
        pool: cf.Executor | None = None
        if bench_kind == "harness":
            bdir = Path(build_dir).resolve()
            man = load_manifest(bdir)
            t0 = time.perf_counter()
            try:
                model = bench.build(man, [bdir / f for f in man["files"]],
                                    _parameters(man, bdir), sim, root / "model")
            except simrun.SimError as e:
                raise VerifyError(str(e)) from None
            stats.build_seconds = time.perf_counter() - t0
            # the simulators are separate processes: threads are enough to keep jobs of them
            pool = cf.ThreadPoolExecutor(min(jobs, len(chunks)))
            futures = {pool.submit(_run_model, model, man, pixels[c.start:c.stop], timesteps,
                                   root / f"chunk{k}", seed + k, gap, budgets[k]): k
                       for k, c in enumerate(chunks)}
            outcomes = ((futures[f], f.result()) for f in cf.as_completed(futures))
        else:
            dirs = [root / f"job{k}" for k in range(min(jobs, len(chunks)))]
            if len(dirs) == 1:
                _WORKER_DIR[:] = [dirs[0]]
                outcomes = ((k, _run_chunk((build_dir, sim, pixels[c.start:c.stop], timesteps,
                                            seed + k, gap, bench_kind, budgets[k])))
                            for k, c in enumerate(chunks))
            else:
                ctx = mp.get_context("spawn")
                queue = ctx.Manager().Queue()
                for d in dirs:
                    queue.put(str(d))
                pool = cf.ProcessPoolExecutor(len(dirs), mp_context=ctx,
                                              initializer=_init_worker, initargs=(queue,))
                futures = {pool.submit(_run_chunk, (build_dir, sim, pixels[c.start:c.stop],
                                                    timesteps, seed + k, gap, bench_kind,
                                                    budgets[k])): k
                           for k, c in enumerate(chunks)}
                outcomes = ((futures[f], f.result()) for f in cf.as_completed(futures))
        done = 0
        try:
            for k, (recs, seconds, first, _) in outcomes:
                records[k] = recs
                cyc = bench.cycles_of(recs)
                stats.cycles += cyc
                stats.sim_seconds += seconds
                if not first:
                    stats.steady_cycles += cyc
                    stats.steady_seconds += seconds
                done += len(recs)
                if progress is not None:
                    stats.wall_seconds = time.perf_counter() - t_start
                    progress(done, len(pixels), stats)
        finally:
            if pool is not None:
                # after a failure: the chunks not started are dropped, the running ones end
                pool.shutdown(wait=True, cancel_futures=True)
    # a run that deadlocked or hung stopped early: the images after it have no record
    flat = [recs[j] if recs is not None and j < len(recs) else None
            for c, recs in zip(chunks, records, strict=True) for j in range(len(c))]
    images = compare(p, res, timings, flat, timesteps, stalls=gap > 0)
    stats.wall_seconds = time.perf_counter() - t_start
    return VerifyReport(str(build_dir), sim, timesteps, images, stats)


RECORD = "verify.json"


def _rounded(x: float | None) -> int | None:
    return None if x is None else round(x)


def record(build_dir: str | os.PathLike, rep: VerifyReport, dataset: str, first: int) -> Path:
    """Record the result of a run in ``build_dir/verify.json`` (one entry per simulator, the
    latest run of each; written atomically), for ``snngen report``: the images, classes and
    cycles, and what the simulation cost (cycles simulated, seconds, cycles per second)."""
    from snngen import atomic

    path = Path(build_dir) / RECORD
    man = load_manifest(build_dir)
    try:
        old = json.loads(path.read_text())
        runs = old["runs"] if old.get("net_sha256") == man["net_sha256"] else {}
    except (OSError, ValueError, KeyError, TypeError):
        runs = {}
    runs[rep.sim] = {
        "sim": rep.sim, "dataset": dataset, "first": first, "images": len(rep.images),
        "timesteps": rep.timesteps, "passed": rep.ok,
        "images_passed": sum(r.ok for r in rep.images),
        "cycles": {"predicted": [r.predicted_cycles for r in rep.images],
                   "rtl": [r.rtl_cycles for r in rep.images]},
        "classes": {"golden": [r.golden_class for r in rep.images],
                    "rtl": [r.rtl_class for r in rep.images]},
        "first_mismatch": rep.first_mismatch(),
        "simulation": {
            "bench": rep.stats.bench, "jobs": rep.stats.jobs,
            "cycles_simulated": rep.stats.cycles,
            "simulator_seconds": round(rep.stats.sim_seconds, 3),
            "build_seconds": round(rep.stats.build_seconds, 3),
            "wall_seconds": round(rep.stats.wall_seconds, 3),
            "cycles_per_second": _rounded(rep.stats.cycles_per_second),
            "steady_cycles_per_second": _rounded(rep.stats.steady_cycles_per_second),
        },
    }
    doc = {"format": "snngen-verify", "version": 1, "net_sha256": man["net_sha256"],
           "runs": dict(sorted(runs.items()))}
    atomic.write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return path
