"""Speed of the golden model beside SpikingJelly's float simulation of the same network, measured
side by side in one process.

    make bench-speed        # = python benchmarks/golden_speed.py --data-dir ../shared/data/mnist
    python benchmarks/golden_speed.py --only digits --timesteps 4,16 --rounds 1   # a quick look

For every example (digits, the MNIST LeNet, the MNIST MLP) and every T in 4, 8, 16, 32, 64, 128,
both simulators run every evaluation image for T timesteps (analog input, batches of 256, one
thread each: ``torch.set_num_threads(1)`` and threadpoolctl for numpy's BLAS). A round runs
snngen's default engine (``fast``) and then SpikingJelly on the same images; there are three
rounds (interleaved: snngen, SpikingJelly, snngen, SpikingJelly, ...) and each simulator's
figure is the minimum of its rounds. The figure is image-timesteps per second (images x T / wall
seconds); conversion and data loading are excluded on both sides, and both read the class out
once, after T steps. snngen runs the 8-bit fixed-point network (the golden model, whose spikes
the RTL must match); SpikingJelly its default ``RateCodingRecipe`` conversion of the same trained
weights (``benchmarks/peers.py`` documents it), in float32. The fast engine's predictions must
equal the literal ``int64`` engine's (checked at T=16 on every image, where the int64 engine is
also timed, min of the same rounds, as are the range-checked run `snngen simulate` does and
snngen's float SNN).
Results: ``benchmarks/results/golden_speed.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT
from peers import INSTALL_HINT, fix_seeds
from threadpoolctl import threadpool_limits

from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows.workflow import load_experiment
from snngen.frontend import load_model
from snngen.golden import sim

# the examples of this benchmark: the two of benchmarks/common.py and the MNIST MLP
SPEED_EXAMPLES = {
    **EXAMPLES,
    "mnist_mlp": ("examples/mnist_mlp/model.py:make_model", "examples/mnist_mlp/weights.pt",
                  "mnist"),
}
TIMESTEPS = (4, 8, 16, 32, 64, 128)
REFERENCE_T = 16  # where the other engines are timed and the int64 engine checked
BATCH = 256


def timed(fn) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def spikingjelly_snn(ann, calib_x: np.ndarray):
    """SpikingJelly's default RateCodingRecipe conversion of ``ann`` (as benchmarks/peers.py
    runs it, calibrated on ``calib_x``)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    try:
        from spikingjelly.activation_based import ann2snn
    except ImportError as e:
        raise SystemExit(f"{INSTALL_HINT}\n(import said: {e})") from e
    fix_seeds()
    loader = DataLoader(TensorDataset(torch.from_numpy(calib_x)), batch_size=100, shuffle=False)
    recipe = ann2snn.RateCodingRecipe(dataloader=loader, mode="max")
    return ann2snn.Converter(recipe=recipe).convert(copy.deepcopy(ann)).eval()


def spikingjelly_run(snn, x: np.ndarray, t: int) -> np.ndarray:
    """Classes of ``x`` after ``t`` timesteps (summed output, read once at the end)."""
    import torch
    from spikingjelly.activation_based import functional

    out = []
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            img = torch.from_numpy(x[i:i + BATCH])
            functional.reset_net(snn)
            total = snn(img)
            for _ in range(t - 1):
                total = total + snn(img)
            out.append(total.argmax(dim=1).numpy())
    return np.concatenate(out)


def measure(example: str, data_dir: str, timesteps: list[int], rounds: int) -> dict:
    import torch

    model, weights, dataset = SPEED_EXAMPLES[example]
    model, weights = str(ROOT / model), str(ROOT / weights)
    exp = load_experiment(model, weights, dataset, data_dir,
                          fixed=FixedConfig(max_timesteps=max(timesteps)))
    x, y = exp.data.test.x.astype(np.float32), exp.data.test.y
    n = len(x)
    g = exp.fixed.graph
    sj = spikingjelly_snn(load_model(model, weights).eval(), exp.data.train.x[:1000])
    rows = []
    for t in timesteps:
        runs: dict[str, list[float]] = {"snngen": [], "spikingjelly": []}
        acc: dict[str, float] = {}
        extra = t == REFERENCE_T
        if extra:
            for k in ("snngen_int64", "snngen_checked", "snngen_float"):
                runs[k] = []
        for r in range(rounds):
            res, s = timed(lambda t=t: sim.simulate(g, x, [t], batch_size=BATCH))
            runs["snngen"].append(s)
            acc["snngen"] = float(res.accuracy(y)[t])
            pred, s = timed(lambda t=t: spikingjelly_run(sj, x, t))
            runs["spikingjelly"].append(s)
            acc["spikingjelly"] = float(np.mean(pred == y))
            if extra:
                ref, s = timed(lambda t=t: sim.simulate(g, x, [t], batch_size=BATCH,
                                                        engine="int64"))
                runs["snngen_int64"].append(s)
                # the fast engine must not change a single prediction (tests check every spike)
                assert (ref.predictions[t] == res.predictions[t]).all(), example
                _, s = timed(lambda t=t: sim.simulate(g, x, [t], batch_size=BATCH,
                                                      check=exp.fixed.formats))
                runs["snngen_checked"].append(s)
                fres, s = timed(lambda t=t: sim.simulate(exp.snn, x, [t], batch_size=BATCH))
                runs["snngen_float"].append(s)
                acc["snngen_float"] = float(fres.accuracy(y)[t])
            print(f"  {example} T={t} round {r + 1}: "
                  + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), file=sys.stderr)
        row = {"timesteps": t, "images": n,
               "seconds": {k: [round(v, 4) for v in vs] for k, vs in runs.items()},
               "image_timesteps_per_s": {k: n * t / min(vs) for k, vs in runs.items()},
               "accuracy": acc}
        row["speedup"] = row["image_timesteps_per_s"]["snngen"] / \
            row["image_timesteps_per_s"]["spikingjelly"]
        rows.append(row)
    return {"example": example, "protocol": exp.data.protocol, "images": n,
            "threads": torch.get_num_threads(), "rows": rows}


def markdown(results: list[dict]) -> str:
    lines = ["| example | T | snngen golden (fast engine) | SpikingJelly (float32) | "
             "ratio | accuracy snngen / SJ % |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for res in results:
        for row in res["rows"]:
            r, a = row["image_timesteps_per_s"], row["accuracy"]
            lines.append(f"| {res['example']} ({res['images']:,} images) | {row['timesteps']} | "
                         f"{r['snngen']:,.0f} | {r['spikingjelly']:,.0f} | "
                         f"{row['speedup']:.2f}x | {100 * a['snngen']:.2f} / "
                         f"{100 * a['spikingjelly']:.2f} |")
    lines += ["", f"At T={REFERENCE_T} (image-timesteps/s, min of the same rounds):", "",
              "| example | fast (default) | int64 (literal reference) | range checks on | "
              "snngen float SNN | SpikingJelly |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for res in results:
        for row in res["rows"]:
            if row["timesteps"] != REFERENCE_T:
                continue
            r = row["image_timesteps_per_s"]
            lines.append(f"| {res['example']} | {r['snngen']:,.0f} | {r['snngen_int64']:,.0f} | "
                         f"{r['snngen_checked']:,.0f} | {r['snngen_float']:,.0f} | "
                         f"{r['spikingjelly']:,.0f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=sorted(SPEED_EXAMPLES))
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--timesteps", default=",".join(map(str, TIMESTEPS)))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="result file (default benchmarks/results/golden_speed.json; "
                                   "none with --only unless given)")
    a = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch

    torch.set_num_threads(1)
    timesteps = sorted({int(v) for v in a.timesteps.split(",") if v.strip()})
    if REFERENCE_T not in timesteps:
        timesteps = sorted({*timesteps, REFERENCE_T})
    examples = [a.only] if a.only else list(SPEED_EXAMPLES)
    t0 = time.perf_counter()
    with threadpool_limits(1):
        results = [measure(ex, a.data_dir, timesteps, a.rounds) for ex in examples]
    doc = {"format": "snngen-golden-speed", "version": 2, "rounds": a.rounds,
           "batch_size": BATCH, "results": results, "seconds": round(time.perf_counter() - t0),
           "versions": {"torch": torch.__version__, "numpy": np.__version__,
                        "python": platform.python_version()}}
    print(markdown(results))
    path = a.json or (None if a.only else str(RESULTS / "golden_speed.json"))
    if path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
