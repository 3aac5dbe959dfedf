"""Accuracy and operations per T for the bundled examples (the README's tables), and for the two
conversion-only digits networks (an Inception-style concat, a strided convolution with
max-pooling: issue 15's "any network" targets).

    python benchmarks/accuracy.py [--data-dir ../shared/data/mnist] [--only EXAMPLE]

For each example and each configuration below, runs `snngen.flows.workflow.evaluate` (the code
behind `snngen simulate`) on the example's test split and writes
`benchmarks/results/accuracy_<ex>.json` plus a Markdown table on stdout. MNIST follows the project
protocol: the official MNIST test set only, trained on its first 8,000 images, evaluated on its last
2,000. MNIST is skipped (with a message) when the IDX files are not there.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT

from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows.workflow import evaluate, load_experiment

# the networks of this benchmark: the bundled examples and two architectures they do not have
ACCURACY_EXAMPLES = {
    **EXAMPLES,
    "digits_inception": ("examples/digits_inception/model.py:make_model",
                         "examples/digits_inception/weights.pt", "digits"),
    "digits_strided": ("examples/digits_strided/model.py:make_model",
                       "examples/digits_strided/weights.pt", "digits"),
}
DEFAULT = "default: layer-wise p99.9, v_init 0.5"
CONFIGS = {
    DEFAULT: ConversionConfig(),
    "channel-wise p99.9, v_init 0.5": ConversionConfig(channelwise=True),
    "as the papers: p99.9, v_init 0, spiking avg-pool": ConversionConfig(
        v_init=0.0, spiking_avgpool=True),
    "as the papers, max normalisation (p100)": ConversionConfig(
        percentile=100, v_init=0.0, spiking_avgpool=True),
    "default, spike input (LFSR, seed 1)": ConversionConfig(input="spikes"),
}
TIMESTEPS = (4, 8, 16, 32, 64, 128)


def run(example: str, data_dir: str | None) -> dict:
    model, weights, dataset = ACCURACY_EXAMPLES[example]
    out: dict = {"example": example, "timesteps": list(TIMESTEPS), "configs": {}}
    for name, cfg in CONFIGS.items():
        # the fixed-point (8-bit golden) column for the default configuration
        fixed = FixedConfig(max_timesteps=max(TIMESTEPS)) if name == DEFAULT else None
        exp = load_experiment(str(ROOT / model), str(ROOT / weights), dataset, data_dir, cfg,
                              fixed=fixed)
        rep = evaluate(exp, TIMESTEPS)
        if fixed is not None:
            out["fixed_8bit"] = {str(r.timesteps): r.fixed_accuracy for r in rep.rows}
            out["fixed_seconds"] = rep.fixed_seconds
        out["protocol"] = rep.protocol
        out["ann_accuracy"] = rep.ann_accuracy
        out["ann_macs"] = rep.ann_macs
        out["images"] = rep.images
        out["configs"][name] = {
            "input": cfg.input, "config": rep.config, "sim_seconds": rep.sim_seconds,
            "accuracy": {str(r.timesteps): r.snn_accuracy for r in rep.rows},
            "ops": {str(r.timesteps): r.snn_ops for r in rep.rows},
        }
        print(f"  {example}: {name} done in {rep.sim_seconds:.1f} s", file=sys.stderr)
    return out


def markdown(res: dict) -> str:
    head = "| configuration | " + " | ".join(f"T={t}" for t in res["timesteps"]) + " |"
    lines = [f"**{res['example']}**: ANN {100 * res['ann_accuracy']:.2f}% on {res['images']} "
             f"images, {res['ann_macs']:,} MACs/image. {res['protocol']}.", "", head,
             "|" + " --- |" * (len(res["timesteps"]) + 1)]
    for name, c in res["configs"].items():
        cells = [f"{100 * c['accuracy'][str(t)]:.2f}" for t in res["timesteps"]]
        lines.append(f"| {name} ({c['input']} input) | " + " | ".join(cells) + " |")
    fx = res["fixed_8bit"]
    lines.append(f"| {DEFAULT}, **8-bit fixed point** (golden model) | " + " | ".join(
        f"{100 * fx[str(t)]:.2f}" for t in res["timesteps"]) + " |")
    ops = res["configs"][DEFAULT]["ops"]
    lines.append("| SNN ops/image, layer-wise (×ANN MACs) | " + " | ".join(
        f"{ops[str(t)]:,.0f} ({ops[str(t)] / res['ann_macs']:.1f}×)" for t in res["timesteps"])
        + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--only", choices=sorted(ACCURACY_EXAMPLES))
    a = ap.parse_args()
    results = RESULTS
    results.mkdir(parents=True, exist_ok=True)
    for ex in [a.only] if a.only else list(ACCURACY_EXAMPLES):
        if ex == "mnist" and not Path(a.data_dir).is_dir():
            print(f"skipping mnist: {a.data_dir} not found", file=sys.stderr)
            continue
        res = run(ex, a.data_dir)
        res["machine"] = {"python": platform.python_version(), "numpy": np.__version__}
        (results / f"accuracy_{ex}.json").write_text(json.dumps(res, indent=2, sort_keys=True)
                                                     + "\n")
        print(markdown(res))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
