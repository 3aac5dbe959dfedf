"""Accuracy and operations per T for the bundled examples (the README's tables), and for the two
conversion-only digits networks (an Inception-style concat, a strided convolution with
max-pooling: issue 15's "any network" targets).

    python benchmarks/accuracy.py [--data-dir ../shared/data/mnist] [--only EXAMPLE]
    python benchmarks/accuracy.py --targets-only [--data-dir ../shared/data/mnist]

For each example and each configuration below, runs `snngen.flows.workflow.evaluate` (the code
behind `snngen simulate`) on the example's test split and writes
`benchmarks/results/accuracy_<ex>.json` plus a Markdown table on stdout. MNIST follows the project
protocol: the official MNIST test set only, trained on its first 8,000 images, evaluated on its last
2,000. MNIST is skipped (with a message) when the IDX files are not there.

Then (not with `--only`; alone with `--targets-only`) the configurations of issue 15's accuracy
targets, TARGET_CONFIGS, go to `benchmarks/results/accuracy.json` with a Markdown table and the
verdict of each target on stdout. The file is a list of records, one per (configuration, T),
sorted by example, activation, weight bits and T:

* `example`: the example directory (`digits`, `mnist_cnn`, ...); `model`, `weights`: the files;
* `activation`: `{"kind": "relu"}`, or `{"kind": "clip-floor", "levels": L}` for a network
  fine-tuned with the clip-floor activation of L levels (read from the loaded network, whose
  clip-floor layers the frontend recognises);
* `weight_bits`, `timesteps` (T), `max_timesteps` (the T the fixed-point widths were proven
  for: the largest T of the configuration, as `snngen simulate --timesteps ...` does);
* `ann`, `float_snn`, `fixed`: accuracy (a fraction) of the float ANN, of the float SNN at T and
  of the fixed-point golden model (integer, `weight_bits`-bit weights) at T;
* `images` (the data loader's protocol sentence), `image_count` (the whole evaluation split);
* `conversion`: `"default"` (`ConversionConfig()`, i.e. `snngen convert` without options; a
  clip-floor layer's threshold is its learned clip) and `conversion_settings`, its fields.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from common import EXAMPLES, MNIST_DIR, RESULTS, ROOT
from threadpoolctl import threadpool_limits

from snngen.convert.passes import ConversionConfig
from snngen.data import DatasetError
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows.workflow import Experiment, evaluate, load_experiment
from snngen.ir.graph import ReLU

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


# issue 15's configurations: (example, model, weights, dataset, weight bits, T), paths relative
# to ROOT; one record per T
TARGET_CONFIGS = [
    ("digits", "examples/digits/model.py:make_model", "examples/digits/weights.pt", "digits",
     8, (4, 8, 16, 32, 64, 128)),
    ("digits", "examples/digits/model.py:make_model_qcfs", "examples/digits/weights_qcfs.pt",
     "digits", 8, (4, 8, 16)),
    ("mnist_cnn", "examples/mnist_cnn/model.py:make_model_qcfs",
     "examples/mnist_cnn/weights_qcfs.pt", "mnist", 8, (4, 8)),
    ("mnist_cnn", "examples/mnist_cnn/model.py:make_model", "examples/mnist_cnn/weights.pt",
     "mnist", 8, (4, 8, 16)),
    ("mnist_mlp", "examples/mnist_mlp/model.py:make_model", "examples/mnist_mlp/weights.pt",
     "mnist", 4, (4, 8, 16)),
    ("mnist_mlp", "examples/mnist_mlp/model.py:make_model_qcfs",
     "examples/mnist_mlp/weights_qcfs.pt", "mnist", 4, (4, 8, 16)),
    ("digits_strided", *ACCURACY_EXAMPLES["digits_strided"], 8, (16, 64)),
    ("digits_inception", *ACCURACY_EXAMPLES["digits_inception"], 8, (16, 64)),
]
# issue 15's targets, judged on the fixed-point (golden model) accuracy: (examples, weight bits,
# T, minimum accuracy in %, largest shortfall under the configuration's own ANN in points)
TARGETS = [
    (("digits",), 8, 4, 96.5, 0.5),
    (("mnist_cnn",), 8, 4, 99.0, 0.2),
    (("mnist_mlp",), 4, 4, 98.0, None),
    (("digits_strided", "digits_inception"), 8, 16, None, 1.0),
    (("digits_strided", "digits_inception"), 8, 64, None, 0.3),
]


def activation(model: str, weights: str, exp: Experiment) -> dict:
    """`{"kind": "relu"}` or `{"kind": "clip-floor", "levels": L}`: the activations of the
    network as the frontend reads it (before canonicalisation, which may add exact ReLUs)."""
    from snngen.frontend import load_graph

    graph = load_graph(model, weights, tuple(exp.data.test.x.shape[1:]))
    levels = {n.op.levels for n in graph if isinstance(n.op, ReLU)}
    if levels == {None}:
        return {"kind": "relu"}
    if len(levels) == 1:
        return {"kind": "clip-floor", "levels": int(levels.pop())}
    raise ValueError(f"{exp.model}: mixed activations {sorted(levels, key=str)}")


def record_key(r: dict) -> tuple:
    return (r["example"], r["activation"]["kind"], r["activation"].get("levels", 0),
            r["weight_bits"], r["timesteps"])


def target_records(data_dir: str) -> list[dict]:
    """One record per (TARGET_CONFIGS entry, T); see the module docstring."""
    records = []
    cfg = ConversionConfig()
    for example, model, weights, dataset, bits, steps in TARGET_CONFIGS:
        name = f"{example} ({model.rsplit(':', 1)[-1]}, {bits}-bit)"
        if dataset == "mnist" and not Path(data_dir).is_dir():
            print(f"skipping {name}: {data_dir} not found", file=sys.stderr)
            continue
        try:
            exp = load_experiment(str(ROOT / model), str(ROOT / weights), dataset,
                                  data_dir if dataset == "mnist" else None, cfg,
                                  fixed=FixedConfig(weight_bits=bits,
                                                    max_timesteps=max(steps)))
        except (OSError, DatasetError) as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
            continue
        with threadpool_limits(1):
            rep = evaluate(exp, steps)
        act = activation(str(ROOT / model), str(ROOT / weights), exp)
        for row in rep.rows:
            records.append({
                "example": example, "model": model, "weights": weights, "activation": act,
                "weight_bits": bits, "timesteps": row.timesteps, "max_timesteps": max(steps),
                "ann": rep.ann_accuracy, "float_snn": row.snn_accuracy,
                "fixed": row.fixed_accuracy, "images": rep.protocol, "image_count": rep.images,
                "conversion": "default", "conversion_settings": asdict(cfg)})
        print(f"  {name}: float {rep.sim_seconds:.1f} s, fixed {rep.fixed_seconds:.1f} s",
              file=sys.stderr)
    return sorted(records, key=record_key)


def activation_name(act: dict) -> str:
    return "ReLU" if act["kind"] == "relu" else f"clip-floor L={act['levels']}"


def target_verdicts(records: list[dict]) -> list[str]:
    """One Markdown row per (target, matching record): met or missed, and by how much."""
    rows = []
    for examples, bits, t, floor, gap in TARGETS:
        want = " and ".join(([f">= {floor}%"] if floor is not None else [])
                            + ([f"within {gap} of its ANN"] if gap is not None else []))
        for r in records:
            if r["example"] not in examples or r["weight_bits"] != bits or r["timesteps"] != t:
                continue
            fixed, ann_pct = 100 * r["fixed"], 100 * r["ann"]
            # margins in points; the tolerance keeps float noise from failing an exact tie
            margins = ([fixed - floor] if floor is not None else []) + \
                ([gap - (ann_pct - fixed)] if gap is not None else [])
            worst = min(margins)
            verdict = f"met (margin {abs(worst):.2f})" if worst >= -1e-9 else \
                f"**missed by {-worst:.2f}**"
            rows.append(f"| {r['example']} {activation_name(r['activation'])}, {bits}-bit, "
                        f"T={t} | {want} | {fixed:.2f} | {ann_pct:.2f} | "
                        f"{fixed - ann_pct:+.2f} | {verdict} |")
    return rows


def targets_markdown(records: list[dict]) -> str:
    lines = ["| example | activation | weight bits | T | ANN % | float SNN % | fixed % |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in records:
        lines.append(f"| {r['example']} | {activation_name(r['activation'])} | "
                     f"{r['weight_bits']} | {r['timesteps']} | {100 * r['ann']:.2f} | "
                     f"{100 * r['float_snn']:.2f} | {100 * r['fixed']:.2f} |")
    lines += ["", "| target | wanted | fixed % | ANN % | fixed - ANN | verdict |",
              "| --- | --- | ---: | ---: | ---: | --- |", *target_verdicts(records)]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--only", choices=sorted(ACCURACY_EXAMPLES))
    ap.add_argument("--targets-only", action="store_true",
                    help="only the issue-15 target configurations (accuracy.json)")
    a = ap.parse_args()
    results = RESULTS
    results.mkdir(parents=True, exist_ok=True)
    examples = [] if a.targets_only else [a.only] if a.only else list(ACCURACY_EXAMPLES)
    for ex in examples:
        if ex == "mnist" and not Path(a.data_dir).is_dir():
            print(f"skipping mnist: {a.data_dir} not found", file=sys.stderr)
            continue
        res = run(ex, a.data_dir)
        res["machine"] = {"python": platform.python_version(), "numpy": np.__version__}
        (results / f"accuracy_{ex}.json").write_text(json.dumps(res, indent=2, sort_keys=True)
                                                     + "\n")
        print(markdown(res))
        print()
    if a.targets_only or not a.only:
        records = target_records(a.data_dir)
        (results / "accuracy.json").write_text(json.dumps(records, indent=1, sort_keys=True)
                                               + "\n")
        print(targets_markdown(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
