"""Synthesised hardware of the examples: resources, Fmax, cycles and latency per configuration.

`make bench-hw` (= `python benchmarks/hardware.py --data-dir ../shared/data/mnist`). For every
configuration of CONFIGS (or those named with `--only`): the example converted as `snngen
convert --max-timesteps T` does (its weights, the stated weight bits, widths proven for its
T), the golden model on its evaluation images
(MNIST: the first `--mnist-images` of t10k[8000:]; digits: all 360) for the fixed-point accuracy
and the spike rasters, the exact timing model (`snngen.hwmodel.timing.predict`, which `snngen
verify` checks cycle for cycle) for the mean cycles and the `ideal` bound (every synaptic update
over every update lane), the Verilog build with those lanes, and `snngen synth` (Yosys +
nextpnr, seed 1) on the device. Latency = mean cycles / post-route Fmax.

Each record goes to `benchmarks/results/hardware.json` (a list, one record per configuration,
replaced by configuration key when a subset is rerun): `example`, `target`, `device`, `lanes`
(as passed), `timesteps`, `weight_bits`, `accuracy`, `images`, `luts`, `ffs`, `brams`,
`sprams`, `dsps`, `fmax_mhz`, `timing_met`, `cycles_mean`, `ideal_cycles_mean`,
`cycles_over_ideal`, `latency_us`, `fits`, `overflow` (what did not fit), `critical_path` (the
post-route register-to-register path that sets Fmax), `seconds`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import MNIST_DIR, RESULTS, ROOT
from threadpoolctl import threadpool_limits

from snngen.backends.verilog import writer as verilog
from snngen.cli import _lanes  # `snngen build --lanes` syntax, parsed as the CLI does
from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.fixedpoint.quantize import quantize_input
from snngen.flows import synth
from snngen.flows.workflow import load_experiment
from snngen.golden import model as golden
from snngen.hwmodel import plan as hwplan
from snngen.hwmodel import timing

# example -> (model, weights, dataset, weight bits, T)
EXAMPLES = {
    "digits": ("examples/digits/model.py:make_model", "examples/digits/weights.pt", "digits",
               8, 16),
    "digits_qcfs": ("examples/digits/model.py:make_model_qcfs",
                    "examples/digits/weights_qcfs.pt", "digits", 8, 4),
    "mnist_lenet": ("examples/mnist_lenet/model.py:make_model",
                    "examples/mnist_lenet/weights.pt", "mnist", 8, 16),
    "mnist_mlp": ("examples/mnist_mlp/model.py:make_model", "examples/mnist_mlp/weights.pt",
                  "mnist", 4, 4),
    "mnist_cnn_qcfs": ("examples/mnist_cnn/model.py:make_model_qcfs",
                       "examples/mnist_cnn/weights_qcfs.pt", "mnist", 8, 4),
}
# (example, device, lanes as `snngen build --lanes` takes them)
CONFIGS = [
    ("digits", "ice40-up5k", "1"),
    ("digits", "ice40-up5k", "2"),
    ("digits", "ice40-up5k", "4"),
    ("digits_qcfs", "ice40-up5k", "2"),
    ("digits_qcfs", "ice40-up5k", "2,5=4"),
    ("mnist_mlp", "ecp5-25k", "2"),
    ("mnist_lenet", "ecp5-25k", "4"),
    ("mnist_lenet", "ecp5-25k", "8"),
    ("mnist_lenet", "ecp5-25k", "16"),
    ("mnist_cnn_qcfs", "ecp5-25k", "1=16,4=32,8_if=2"),
    ("mnist_cnn_qcfs", "ecp5-85k", "1=16,4=32,8_if=2"),
    # the Tang Nano 9K's GW1NR-9 (issue 17: more FPGA families)
    ("digits_qcfs", "gowin-gw1nr9", "2,5=4"),
    ("mnist_lenet", "gowin-gw1nr9", "2"),
]


def key(rec: dict) -> tuple:
    return (rec["example"], rec["target"], rec["device"], rec["lanes"])


def run(example: str, device: str, lanes: str, a: argparse.Namespace, work: Path) -> dict:
    t0 = time.perf_counter()
    model, weights, dataset, bits, t_steps = EXAMPLES[example]
    data_dir = a.data_dir if dataset == "mnist" else None
    exp = load_experiment(str(ROOT / model), str(ROOT / weights), dataset, data_dir,
                          ConversionConfig(), 1000,
                          # widths proven for the run length T, as `snngen convert
                          # --max-timesteps T` does for a deployment at a fixed T
                          FixedConfig(weight_bits=bits, max_timesteps=t_steps))
    net, test = exp.fixed, exp.data.test
    n = len(test) if dataset == "digits" else min(a.mnist_images, len(test))
    x = quantize_input(test.x[:n], net.config.input_bits)
    with threadpool_limits(1):
        res = golden.run(net.graph, x, (t_steps,), trace=True)
    acc = float(np.mean(res.predictions[t_steps] == test.y[:n]))
    p = hwplan.plan(net, lanes=_lanes(lanes))
    cyc, ideal, predicted = [], [], []
    for i in range(n):
        ins = timing.stage_inputs(p, res.raster, i, t_steps)
        tm = timing.predict(p, x[i], ins, t_steps)
        cyc.append(tm.latency)
        ideal.append(timing.bounds(p, x[i], ins, t_steps).ideal)
        predicted.append({"dataset": dataset, "test_image": i, "timesteps": t_steps,
                          "class": int(res.predictions[t_steps][i]), "cycles": tm.latency})
    bdir = verilog.build(net, work / f"{example}_{device}_{lanes}",
                         verilog.BuildOptions(lanes=_lanes(lanes)), force=True,
                         predicted=predicted)
    rec: dict = {"example": example, "target": "verilog", "device": device, "lanes": lanes,
                 "timesteps": t_steps, "weight_bits": bits, "accuracy": acc,
                 "images": f"{exp.data.protocol} (first {n} evaluation images)",
                 "cycles_mean": float(np.mean(cyc)), "ideal_cycles_mean": float(np.mean(ideal)),
                 "cycles_over_ideal": float(np.sum(cyc) / np.sum(ideal))}
    try:
        rep = synth.synthesize(bdir, device, seed=1)
        fits, overflow = True, {}
    except synth.DoesNotFit as e:
        rep, fits, overflow = e.report, False, {k: list(v) for k, v in e.needs.items()}
    if rep is not None:
        used = {k: v.get("used") for k, v in rep.resources.items()}
        # luts: nextpnr's logic cells (iCE40) or LUT4s (ECP5) after placement; yosys_lut4:
        # Yosys's LUT4 cells before packing
        rec.update(luts=used.get("luts"), yosys_lut4=rep.lut4, ffs=rep.ffs,
                   brams=used.get("brams"), sprams=used.get("spram", 0),
                   dsps=used.get("dsps", 0),
                   # Gowin: its 9x9 multipliers are counted apart from the 18x18 ones
                   **({"dsps9": used["dsps9"]} if "dsps9" in used else {}),
                   fmax_mhz=rep.fmax_mhz, timing_met=rep.timing_met,
                   latency_us=(round(rec["cycles_mean"] / rep.fmax_mhz, 1)
                               if rep.fmax_mhz else None),
                   resources=rep.resources,
                   # what limits the clock: the register-to-register path nextpnr reports
                   critical_path=(None if rep.critical_path is None else {
                       "from": rep.critical_path.from_cell, "to": rep.critical_path.to_cell,
                       "ns": rep.critical_path.delay_ns,
                       "routing_ns": rep.critical_path.routing_ns,
                       "rtl": rep.critical_path.rtl[:4]}))
    rec.update(fits=fits, overflow=overflow, seconds=round(time.perf_counter() - t0, 1))
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--only", action="append", metavar="EXAMPLE:DEVICE:LANES",
                    help="run this configuration only (repeatable); default: CONFIGS")
    ap.add_argument("--mnist-images", type=int, default=200)
    ap.add_argument("--json", default=str(RESULTS / "hardware.json"))
    a = ap.parse_args(argv)
    configs = ([tuple(o.split(":", 2)) for o in a.only] if a.only else CONFIGS)
    path = Path(a.json)
    records = json.loads(path.read_text()) if path.is_file() else []
    with tempfile.TemporaryDirectory(prefix="snngen-hw-") as tmp:
        for example, device, lanes in configs:
            rec = run(example, device, lanes, a, Path(tmp))
            records = [r for r in records if key(r) != key(rec)] + [rec]
            records.sort(key=key)
            path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
            print(f"{example} {device} lanes {lanes}: {rec.get('luts')} LUT4, "
                  f"{rec.get('brams')} BRAM, {rec.get('fmax_mhz')} MHz, "
                  f"{rec['cycles_mean']:,.0f} cycles ({rec['cycles_over_ideal']:.2f} x ideal), "
                  f"{rec.get('latency_us')} us, {100 * rec['accuracy']:.2f}%, fits "
                  f"{rec['fits']} ({rec['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
