"""Random networks at scale: seeded random CNNs built with both backends, verified on both
simulators against the golden and timing models.

    make fuzz                                   # = python benchmarks/fuzz.py --count 100
    python benchmarks/fuzz.py --seed 17         # one network: the command a failure prints
    python benchmarks/fuzz.py --count 10 --first 200 --sims verilator --backends verilog

Seed s draws (all from ``numpy.random.default_rng(s)``; ``draw`` is the whole recipe):

* the network: ``tests/randnet.random_graph`` (conv layers with kernels 1-3, stride 1-2,
  padding, max-pooling of the constant current and of spikes, average pooling folded into the
  next layer, dense layers, biases), converted with the default conversion;
* the fixed point: weights of 2-16 bits (or the width the quantiser says a layer needs), pixels
  of 2-8 bits, widths proven for 16 timesteps;
* the hardware: lanes 1, 2, 4, 8 or 16 (every layer alike, or one layer on its own count),
  FIFO depths 1x, 2x or 4x the smallest legal one;
* the run: T from 1 to 8, 3 random images (one of them sparse), stalls (pixels withheld and the
  result refused in random cycles) with probability 0, 0.1 or 0.3.

Every (network, backend, simulator) runs ``snngen.flows.verify.verify`` with the in-simulator
harness: every spike of every stage and timestep, the counts, the class and every cycle count
equal (step starts and latency only without stalls). A failure prints the one command that
reproduces it. Results: ``benchmarks/results/fuzz.json`` (per seed: the draw, and per backend
and simulator: passed, cycles, first mismatch). ``rtl_tests/test_fuzz.py`` runs two seeds of it
in ``make test``.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import numpy as np
from common import RESULTS, ROOT

from snngen.fixedpoint.quantize import quantize_input
from snngen.flows import verify
from snngen.hwmodel.plan import plan

LANES = (1, 2, 4, 8, 16)


def draw(seed: int) -> dict:
    """Everything seed ``seed`` decides except the network graph (``random_graph(seed)``)."""
    rng = np.random.default_rng(10_000 + seed)
    return {
        "weight_bits": int(rng.integers(2, 17)),
        "input_bits": int(rng.integers(2, 9)),
        "lanes": int(rng.choice(LANES)),
        "other_lanes": int(rng.choice(LANES)),  # one layer on its own count (if it has layers)
        "fifo_factor": int(rng.choice([1, 2, 4])),
        "timesteps": int(rng.integers(1, 9)),
        "gap": float(rng.choice([0.0, 0.1, 0.3])),
        "images": 3,
    }


def network(seed: int, d: dict):
    """The fixed-point network of ``seed`` and its pixels (``d`` from :func:`draw`): the
    quantiser takes the drawn weight width or, where a layer needs more, the width it names
    (recorded as ``weight_bits_used``)."""
    from tests.randnet import fixed_net, random_graph, random_input

    g = random_graph(seed, dag=False)
    net, x = fixed_net(g, random_input(seed, g, 16), t_max=16, weight_bits=d["weight_bits"],
                       input_bits=d["input_bits"])
    d["weight_bits_used"] = net.config.weight_bits
    pixels = quantize_input(x[:d["images"]], d["input_bits"])
    pixels[0][np.random.default_rng(seed).random(pixels[0].shape) < 0.6] = 0  # a sparse one
    return net, pixels


def options(net, d: dict) -> tuple[dict, dict]:
    """(lanes, fifo depths) for the build: every layer ``lanes``, the first hidden layer
    ``other_lanes``; each FIFO ``fifo_factor`` times the smallest legal depth."""
    base = plan(net, lanes=d["lanes"])
    lanes: dict[str, int] = {"*": d["lanes"]}
    layers = [s.name for s in base.stages if hasattr(s, "lanes")]
    if len(layers) > 1:
        lanes[layers[1]] = d["other_lanes"]
    p = plan(net, lanes=lanes)
    depths = {s.name: p.fifo_depths[k - 1] * d["fifo_factor"]
              for k, s in enumerate(p.stages) if k > 0}
    return lanes, depths


def run_seed(seed: int, backends: list[str], sims: list[str], work: Path) -> dict:
    from snngen.hwmodel.plan import HardwareError

    d = draw(seed)
    out: dict = {"seed": seed, "draw": d, "runs": [], "passed": True}
    t0 = time.perf_counter()
    try:
        net, pixels = network(seed, d)
        try:
            lanes, depths = options(net, d)
        except HardwareError as e:
            # a network the hardware does not build (yet), e.g. average pooling the converter
            # could not fold: not a failure, and not counted as one of the networks
            out.update(refused=str(e), passed=None, seconds=round(time.perf_counter() - t0, 1))
            return out
        p = plan(net, lanes=lanes, fifo_depth=depths)
        out["stages"] = [f"{s.kind} {s.name}" for s in p.stages]
        out["lanes_by_layer"] = lanes
        for backend in backends:
            bdir = work / f"seed{seed}" / backend
            if backend == "verilog":
                from snngen.backends.verilog.writer import BuildOptions, build
            else:
                from snngen.backends.amaranth.build import BuildOptions, build
            build(net, bdir, BuildOptions(lanes=lanes, fifo_depth=depths), force=True)
            for sim in sims:
                rep = verify.verify(bdir, sim, pixels, d["timesteps"], gap=d["gap"],
                                    seed=seed, work_dir=work / f"seed{seed}" / f"{backend}-{sim}")
                cyc = [r.rtl_cycles for r in rep.images]
                run = {"backend": backend, "sim": sim, "passed": rep.ok, "cycles": cyc,
                       "predicted": [r.predicted_cycles for r in rep.images],
                       "cycles_simulated": rep.stats.cycles,
                       "first_mismatch": rep.first_mismatch()}
                out["runs"].append(run)
                out["passed"] &= rep.ok
    except Exception as e:  # a crash is a failure of this seed, with its traceback
        out["passed"] = False
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def repro(seed: int) -> str:
    return f".venv/bin/python benchmarks/fuzz.py --seed {seed}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100,
                    help="networks to build and verify (seeds from --first on; seeds whose "
                         "network the hardware refuses are skipped)")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--seed", type=int, help="run only this seed (prints every mismatch)")
    ap.add_argument("--backends", default="verilog,amaranth")
    ap.add_argument("--sims", default="verilator,icarus")
    ap.add_argument("--jobs", type=int, default=2, help="seeds in parallel")
    ap.add_argument("--work", default=str(ROOT / "out" / "fuzz"))
    ap.add_argument("--json", default=None,
                    help="result file (default benchmarks/results/fuzz.json; none with --seed)")
    a = ap.parse_args()
    backends = [b for b in a.backends.split(",") if b]
    sims = [s for s in a.sims.split(",") if s]
    work = Path(a.work).resolve()
    t0 = time.perf_counter()
    results: list[dict] = []
    if a.seed is not None:
        results.append(run_seed(a.seed, backends, sims, work))
        _show(results[-1], 1, 1)
    else:
        # seeds from --first on until --count networks were built and verified (seeds whose
        # network the hardware refuses are recorded and skipped)
        import concurrent.futures as cf
        import multiprocessing as mp

        next_seed = a.first
        built = lambda: sum(r["passed"] is not None for r in results)  # noqa: E731
        with cf.ProcessPoolExecutor(max(1, a.jobs), mp_context=mp.get_context("spawn")) as pool:
            running: set = set()
            while True:
                while len(running) < max(1, a.jobs) and built() + len(running) < a.count:
                    running.add(pool.submit(run_seed, next_seed, backends, sims, work))
                    next_seed += 1
                if not running:
                    break
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    results.append(f.result())
                    _show(results[-1], built(), a.count)
    results.sort(key=lambda r: r["seed"])
    failed = [r for r in results if r["passed"] is False]
    refused = [r for r in results if r["passed"] is None]
    networks = len(results) - len(refused)
    runs = sum(len(r["runs"]) for r in results)
    print(f"{networks - len(failed)} of {networks} networks passed ({runs} runs: "
          f"{', '.join(backends)} x {', '.join(sims)}) in {time.perf_counter() - t0:.0f} s; "
          f"{len(refused)} seeds skipped (the hardware refuses their network)")
    for r in failed:
        print(f"FAILED seed {r['seed']}: {r.get('error') or _first(r)}; reproduce: "
              f"{repro(r['seed'])}")
    if a.seed is None or a.json:
        path = Path(a.json or RESULTS / "fuzz.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": "snngen-fuzz", "version": 1, "backends": backends, "sims": sims,
               "networks": networks, "passed": networks - len(failed),
               "refused": {str(r["seed"]): r["refused"] for r in refused},
               "runs": runs, "seconds": round(time.perf_counter() - t0, 1),
               "results": [{k: v for k, v in r.items() if k != "traceback"} for r in results]}
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}")
    elif failed:
        print(failed[0].get("traceback") or "\n".join(
            f"{run['backend']} {run['sim']}: {run['first_mismatch']}"
            for run in failed[0]["runs"] if not run["passed"]))
    return 1 if failed else 0


def _first(r: dict) -> str:
    bad = next(run for run in r["runs"] if not run["passed"])
    return f"{bad['backend']} on {bad['sim']}: {bad['first_mismatch']}"


def _show(r: dict, done: int, total: int) -> None:
    d = r["draw"]
    if r["passed"] is None:
        print(f"[{done}/{total}] seed {r['seed']}: skipped ({r['refused']})", flush=True)
        return
    state = "ok" if r["passed"] else "FAILED"
    print(f"[{done}/{total}] seed {r['seed']}: {state} ({r['seconds']} s; "
          f"{' / '.join(r.get('stages', []))}; w{d.get('weight_bits_used', d['weight_bits'])} "
          f"in{d['input_bits']} lanes {r.get('lanes_by_layer')} fifo x{d['fifo_factor']} "
          f"T={d['timesteps']} gap {d['gap']})", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
