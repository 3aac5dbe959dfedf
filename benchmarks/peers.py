"""snngen against SpikingJelly's ANN-to-SNN converter on the same trained CNN.

    python benchmarks/peers.py --example mnist --data-dir ../shared/data/mnist

runs the same comparison on the MNIST LeNet (project protocol: the official MNIST test set only,
trained on its first 8,000 images, evaluated on its last 2,000), with results in
`benchmarks/results/peers_mnist.json`; the default is the digits example described below.

    make bench-peers              # installs spikingjelly 2.0.0 (+ tqdm, loguru, requests), runs
    python benchmarks/peers.py [--timesteps 8,16,32,64,128] [--sj-modes max,99.9%,1.0/2,1.0/3]

Protocol. Both tools get the same network (`examples/digits/model.py:make_model` with the weights
in `examples/digits/weights.pt`), the same calibration images (the first `--calib` images of the
digits training split, 1,000 by default as in `snngen simulate`) and the same test images (the
360 images of `snngen.data.split(load_digits()).test`). Inputs are analog: every time step feeds
the pixel intensities as a constant current. Each SNN is simulated once for max(T) steps and its
accuracy is read at every T (the simulation is causal). One CPU thread, all seeds fixed.

SpikingJelly (`spikingjelly.activation_based.ann2snn`, used as in its `examples/cnn_mnist.py`):
`Converter(recipe=RateCodingRecipe(calib_loader, mode=...)).convert(ann)` folds BatchNorm into
the Conv, records a scale per ReLU on the calibration loader (batches of `--calib-batch` images,
100 as in its example; the scale is a running average with momentum 0.1 of each batch's
statistic) and replaces each ReLU by VoltageScaler(1/scale) -> IFNode(threshold 1, soft reset,
v=0) -> VoltageScaler(scale). The last Linear layer stays non-spiking. Modes: "max" = the
batch's maximum activation, "99.9%" = that quantile of the ReLU outputs (zeros included), a float
r in (0, 1] ("1.0/2", "1.0/3") = r times the maximum. With `channel_wise=True` the scales are per
channel; two further switches only exist in that mode: `half_threshold` (membranes start at half
the threshold) and `pre_spike_maxpool` (a MaxPool after a ReLU is moved in front of the IF
neurons). Every mode is run layer-wise and in all four channel-wise combinations. The SNN is
simulated as its example does: a DataLoader over the test set, `functional.reset_net` before each
batch, the network called once per step and its outputs summed over time, argmax.

snngen: `snngen.flows.workflow.load_experiment` + `evaluate` (exactly what `snngen simulate` runs)
with the default `ConversionConfig()` (99.9th percentile of positive activations, layer-wise,
v_init 0.5, spike-count readout) and with `channelwise=True`; the membrane readout (the analogue
of SpikingJelly's summed outputs) of both is in the JSON as well.

The printed Markdown table shows, per T: the ANN, SpikingJelly's default recipe (mode "Max",
layer-wise), the best SpikingJelly layer-wise and channel-wise configuration *at that T, picked
on the test set* (an upper bound on what a user of SpikingJelly would get), and the two snngen
configurations. A second table lists every configuration; wall-clock times are for simulating
all test images for max(T) steps (conversion, including calibration, timed separately).
Everything is written to `benchmarks/results/peers_digits.json`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT

from snngen.convert.passes import ConversionConfig
from snngen.data import load_dataset, split
from snngen.flows.workflow import evaluate, load_experiment

SEED = 0
SNNGEN_CONFIGS = {
    "default": ConversionConfig(),
    "channelwise": ConversionConfig(channelwise=True),
    "membrane readout": ConversionConfig(readout="membrane"),
    "channelwise, membrane readout": ConversionConfig(channelwise=True, readout="membrane"),
}
SJ_DEFAULT = "layer-wise, mode max"  # RateCodingRecipe(dataloader) with nothing else set
INSTALL_HINT = ("SpikingJelly is not installed: run `make bench-peers`, or\n"
                "  .venv/bin/pip install --no-deps spikingjelly==2.0.0 tqdm loguru requests\n"
                "(--no-deps keeps pip away from the pinned torch)")


def fix_seeds(seed: int = SEED) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def sj_mode(label: str) -> str | float:
    """"max" / "99.9%" pass through; "1.0/2" or "0.5" become the float SpikingJelly expects."""
    if label.lower() == "max" or label.endswith("%"):
        return label
    if "/" in label:
        num, den = label.split("/")
        return float(num) / float(den)
    return float(label)


def sj_configs(modes: Sequence[str]) -> dict[str, dict]:
    """Every RateCodingRecipe configuration to run, by name -> recipe keyword arguments."""
    configs: dict[str, dict] = {}
    for label in modes:
        configs[f"layer-wise, mode {label}"] = {"mode": sj_mode(label)}
        for half in (False, True):
            for prepool in (False, True):
                name = f"channel-wise, mode {label}"
                name += ", half threshold" if half else ""
                name += ", MaxPool before IF" if prepool else ""
                configs[name] = {"mode": sj_mode(label), "channel_wise": True,
                                 "half_threshold": half, "pre_spike_maxpool": prepool}
    return configs


def run_spikingjelly(ann, calib_x: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     timesteps: Sequence[int], modes: Sequence[str], calib_batch: int,
                     batch_size: int) -> dict:
    """Convert ``ann`` with every configuration and simulate it; accuracy per T for each."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    try:
        from spikingjelly.activation_based import ann2snn, functional
    except ImportError as e:
        raise SystemExit(f"{INSTALL_HINT}\n(import said: {e})") from e

    t_max = max(timesteps)
    calib = TensorDataset(torch.from_numpy(calib_x))
    test = TensorDataset(torch.from_numpy(test_x), torch.from_numpy(test_y))
    out: dict = {}
    for name, kwargs in sj_configs(modes).items():
        fix_seeds()
        loader = DataLoader(calib, batch_size=calib_batch, shuffle=False, drop_last=False)
        t0 = time.perf_counter()
        recipe = ann2snn.RateCodingRecipe(dataloader=loader, **kwargs)
        snn = ann2snn.Converter(recipe=recipe).convert(copy.deepcopy(ann))
        convert_s = time.perf_counter() - t0
        snn.eval()
        correct = np.zeros(t_max, dtype=np.int64)
        t0 = time.perf_counter()
        with torch.no_grad():
            for img, label in DataLoader(test, batch_size=batch_size, shuffle=False):
                functional.reset_net(snn)
                total = None
                for t in range(t_max):
                    step = snn(img)
                    total = step if total is None else total + step
                    correct[t] += int((total.argmax(dim=1) == label).sum())
        sim_s = time.perf_counter() - t0
        out[name] = {
            "recipe": {k: v for k, v in kwargs.items()},
            "accuracy": {str(t): correct[t - 1] / len(test_y) for t in timesteps},
            "convert_seconds": round(convert_s, 3),
            "sim_seconds": round(sim_s, 3),
        }
        acc = " ".join(f"{100 * a:.2f}" for a in out[name]["accuracy"].values())
        print(f"  spikingjelly {name}: {acc} ({sim_s:.1f} s)", file=sys.stderr)
    return out


def run_snngen(example: str, data_dir: str | None, timesteps: Sequence[int], calib: int,
               batch_size: int) -> tuple[dict, float]:
    model, weights, dataset = EXAMPLES[example]
    out: dict = {}
    ann_acc = float("nan")
    for name, cfg in SNNGEN_CONFIGS.items():
        fix_seeds()
        t0 = time.perf_counter()
        exp = load_experiment(str(ROOT / model), str(ROOT / weights), dataset, data_dir, cfg,
                              calib=calib)
        convert_s = time.perf_counter() - t0
        rep = evaluate(exp, timesteps, seed=1, batch_size=batch_size)
        ann_acc = rep.ann_accuracy
        out[name] = {
            "config": {**asdict(cfg), "calib_images": exp.calib_images},
            "accuracy": {str(r.timesteps): r.snn_accuracy for r in rep.rows},
            "ops": {str(r.timesteps): r.snn_ops for r in rep.rows},
            "convert_seconds": round(convert_s, 3),  # includes loading model and data
            "sim_seconds": rep.sim_seconds,
        }
        acc = " ".join(f"{100 * a:.2f}" for a in out[name]["accuracy"].values())
        print(f"  snngen {name}: {acc} ({rep.sim_seconds:.1f} s)", file=sys.stderr)
    return out, ann_acc


def snngen_version() -> str:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
        return f"{version} (git {rev}{', modified' if dirty.strip() else ''})"
    except (OSError, subprocess.CalledProcessError):
        return version


def best(configs: dict, prefix: str, t: int) -> tuple[float, str]:
    """The highest accuracy at T among configurations whose name starts with ``prefix``
    (ties go to the first in run order)."""
    name = max((n for n in configs if n.startswith(prefix)),
               key=lambda n: configs[n]["accuracy"][str(t)])
    return configs[name]["accuracy"][str(t)], name.removeprefix(prefix).removeprefix(", ")


def markdown(res: dict) -> str:
    sj, sg, ts = res["spikingjelly"], res["snngen"], res["timesteps"]
    n_lw = sum(n.startswith("layer-wise") for n in sj)
    n_cw = sum(n.startswith("channel-wise") for n in sj)
    lines = [
        f"**{res['dataset']}**: {res['images']} test images, analog input, calibration on "
        f"{res['calib_images']} training images. {res['protocol']}.",
        "",
        "| T | ANN % | SpikingJelly default (max, layer-wise) % "
        f"| SpikingJelly best layer-wise % (of {n_lw}) "
        f"| SpikingJelly best channel-wise % (of {n_cw}) "
        "| snngen % | snngen --channelwise % |",
        "| ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for t in ts:
        lw, lw_name = best(sj, "layer-wise", t)
        cw, cw_name = best(sj, "channel-wise", t)
        lines.append(
            f"| {t} | {100 * res['ann_accuracy']:.2f} "
            f"| {100 * sj[SJ_DEFAULT]['accuracy'][str(t)]:.2f} "
            f"| {100 * lw:.2f} ({lw_name}) | {100 * cw:.2f} ({cw_name}) "
            f"| {100 * sg['default']['accuracy'][str(t)]:.2f} "
            f"| {100 * sg['channelwise']['accuracy'][str(t)]:.2f} |")
    sj_sim = [c["sim_seconds"] for c in sj.values()]
    lines += [
        "",
        "Best SpikingJelly configuration is picked per T on the test set itself (an upper "
        "bound). Simulation wall-clock, "
        f"{res['images']} images × {max(ts)} steps, 1 thread: SpikingJelly "
        f"{min(sj_sim):.2f}–{max(sj_sim):.2f} s per configuration (median "
        f"{float(np.median(sj_sim)):.2f} s); snngen {sg['default']['sim_seconds']:.2f} s "
        f"(default), {sg['channelwise']['sim_seconds']:.2f} s (--channelwise).",
        "",
        "| tool | configuration | " + " | ".join(f"T={t}" for t in ts)
        + " | convert s | simulate s |",
        "| --- | --- |" + " ---: |" * (len(ts) + 2),
    ]
    for tool, configs in (("SpikingJelly", sj), ("snngen", sg)):
        for name, c in configs.items():
            cells = " | ".join(f"{100 * c['accuracy'][str(t)]:.2f}" for t in ts)
            lines.append(f"| {tool} | {name} | {cells} | {c['convert_seconds']:.2f} "
                         f"| {c['sim_seconds']:.2f} |")
    v = res["versions"]
    lines += ["", f"Versions: torch {v['torch']}, spikingjelly {v['spikingjelly']}, "
              f"snngen {v['snngen']}, numpy {v['numpy']}, Python {v['python']}."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timesteps", default="8,16,32,64,128",
                    help="comma-separated checkpoints (default: %(default)s)")
    ap.add_argument("--sj-modes", default="max,99.9%,1.0/2,1.0/3",
                    help="SpikingJelly RateCodingRecipe modes (default: %(default)s)")
    ap.add_argument("--calib", type=int, default=1000,
                    help="calibration images from the training split (default: %(default)s)")
    ap.add_argument("--calib-batch", type=int, default=100,
                    help="SpikingJelly calibration batch size (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=256,
                    help="test batch size, both tools (default: %(default)s)")
    ap.add_argument("--example", choices=sorted(EXAMPLES), default="digits")
    ap.add_argument("--data-dir", default=MNIST_DIR,
                    help="MNIST IDX directory (mnist example only)")
    ap.add_argument("--out", type=Path, help="JSON file (default: "
                                             "benchmarks/results/peers_<example>.json)")
    a = ap.parse_args()
    timesteps = sorted({int(t) for t in a.timesteps.split(",")})
    modes = [m.strip() for m in a.sj_modes.split(",") if m.strip()]
    os.environ.setdefault("TQDM_DISABLE", "1")  # SpikingJelly's calibration progress bar

    started = time.perf_counter()
    fix_seeds()
    import torch

    from snngen.frontend import load_model

    model, weights, dataset = EXAMPLES[a.example]
    data_dir = a.data_dir if dataset == "mnist" else None
    out = a.out or RESULTS / f"peers_{a.example}.json"
    data = split(load_dataset(dataset, data_dir))
    ann = load_model(str(ROOT / model), str(ROOT / weights)).eval()
    calib_x = data.train.x[:a.calib]
    sj = run_spikingjelly(ann, calib_x, data.test.x, data.test.y, timesteps, modes,
                          a.calib_batch, a.batch_size)
    sg, ann_acc = run_snngen(a.example, data_dir, timesteps, a.calib, a.batch_size)
    with torch.no_grad():
        torch_ann_acc = float((ann(torch.from_numpy(data.test.x)).argmax(1).numpy()
                               == data.test.y).mean())

    res = {
        "benchmark": "peers",
        "model": model,
        "weights": weights,
        "dataset": dataset,
        "protocol": data.protocol,
        "images": len(data.test.y),
        "calib_images": len(calib_x),
        "sj_calib_batch": a.calib_batch,
        "batch_size": a.batch_size,
        "input": "analog",
        "seed": SEED,
        "threads": torch.get_num_threads(),
        "timesteps": timesteps,
        "ann_accuracy": ann_acc,                # snngen's own ANN forward (BatchNorm folded)
        "ann_accuracy_torch": torch_ann_acc,    # the torch module both converters started from
        "spikingjelly": sj,
        "snngen": sg,
        "versions": {
            "torch": torch.__version__,
            "spikingjelly": metadata.version("spikingjelly"),
            "snngen": snngen_version(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": platform.machine(),
    }
    res["total_seconds"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(markdown(res))
    print(f"\nwrote {out} in {res['total_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
