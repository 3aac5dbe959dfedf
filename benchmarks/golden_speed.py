"""Speed of the golden model (integer, fixed-point) beside SpikingJelly's float simulation of the
same network, in the same run.

    make bench-speed        # or: python benchmarks/golden_speed.py [--example digits|mnist]

Both simulate every test image of the example for T timesteps (analog input, batches of 256, one
thread each: torch.set_num_threads(1) and threadpoolctl for numpy's BLAS) and the figure is
image-timesteps per second (images x T / wall-clock seconds, conversion excluded). snngen's
golden model runs on the 8-bit fixed-point network three ways: all-int64 (the default), with its
range checks on (as `snngen simulate` runs it), and with `engine="exact-float"` (synaptic
currents through the BLAS where `golden.exact_float_type` proves that exact; the same results).
SpikingJelly runs its default RateCodingRecipe conversion of the same trained weights
(`benchmarks/peers.py` documents how).
Results go to `benchmarks/results/golden_speed_<example>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT
from peers import fix_seeds, run_spikingjelly
from threadpoolctl import threadpool_limits

from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows.workflow import load_experiment
from snngen.frontend import load_model
from snngen.golden import sim


def timed(fn) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--example", choices=sorted(EXAMPLES), default="digits")
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--timesteps", type=int, default=64)
    a = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    fix_seeds()
    import torch

    model, weights, dataset = EXAMPLES[a.example]
    model, weights = str(ROOT / model), str(ROOT / weights)
    exp = load_experiment(model, weights, dataset, a.data_dir,
                          fixed=FixedConfig(max_timesteps=a.timesteps))
    x, y, t = exp.data.test.x, exp.data.test.y, a.timesteps
    n = len(x)
    with threadpool_limits(1):
        fres, golden_s = timed(lambda: sim.simulate(exp.fixed.graph, x, [t]))
        _, checked_s = timed(lambda: sim.simulate(exp.fixed.graph, x, [t],
                                                  check=exp.fixed.formats))
        xres, exact_s = timed(lambda: sim.simulate(exp.fixed.graph, x, [t],
                                                   engine="exact-float"))
        # the BLAS engine must not change a single prediction (the tests check every spike)
        assert (xres.predictions[t] == fres.predictions[t]).all()
        res_f, float_s = timed(lambda: sim.simulate(exp.snn, x, [t]))
        ann = load_model(model, weights).eval()
        sj = run_spikingjelly(ann, exp.data.train.x[:1000], x, y, [t], ["max"], 100, 256)
    sj_default = sj["layer-wise, mode max"]
    rate = lambda s: n * t / s  # noqa: E731
    out = {
        "example": a.example, "images": n, "timesteps": t, "protocol": exp.data.protocol,
        "threads": torch.get_num_threads(),
        "snngen_golden": {"seconds": round(golden_s, 3), "image_timesteps_per_s": rate(golden_s),
                          "accuracy": fres.accuracy(y)[t]},
        "snngen_golden_checked": {"seconds": round(checked_s, 3),
                                  "image_timesteps_per_s": rate(checked_s)},
        "snngen_golden_exact_float": {"seconds": round(exact_s, 3),
                                      "image_timesteps_per_s": rate(exact_s),
                                      "accuracy": xres.accuracy(y)[t]},
        "snngen_float": {"seconds": round(float_s, 3), "image_timesteps_per_s": rate(float_s),
                         "accuracy": res_f.accuracy(y)[t]},
        "spikingjelly_float": {"seconds": sj_default["sim_seconds"],
                               "image_timesteps_per_s": rate(sj_default["sim_seconds"]),
                               "accuracy": sj_default["accuracy"][str(t)]},
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    path = RESULTS / f"golden_speed_{a.example}.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"| simulator ({a.example}, {n} images x T={t}, 1 thread) | seconds | "
          f"image-timesteps/s | accuracy % |")
    print("| --- | ---: | ---: | ---: |")
    for key, label in (("snngen_golden", "snngen golden model (8-bit integer)"),
                       ("snngen_golden_checked", "snngen golden model, range checks on"),
                       ("snngen_golden_exact_float",
                        "snngen golden model, --engine exact-float"),
                       ("snngen_float", "snngen float SNN"),
                       ("spikingjelly_float", "SpikingJelly float SNN (default recipe)")):
        r = out[key]
        acc = f"{100 * r['accuracy']:.2f}" if "accuracy" in r else "-"
        print(f"| {label} | {r['seconds']:.2f} | {r['image_timesteps_per_s']:,.0f} | {acc} |")
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
