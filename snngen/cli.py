"""The ``snngen`` command line.

    snngen convert  MODEL|net.nir [--weights W] [--dataset ...] [--weight-bits 8] -o net.snn
    snngen export-nir MODEL|net.snn [--weights W] ... -o net.nir
    snngen simulate MODEL|net.snn|net.nir [--weights W] [--dataset ...] [--timesteps 8,16,...]
    snngen sweep    MODEL [--weights W] --weight-bits 4,6,8 --timesteps 8,16,32 [--out DIR]
    snngen plot     MODEL [--weights W] ... --out DIR
    snngen graph    MODEL [--weights W] ...
    snngen build    net.snn --target verilog -o DIR [--lanes 2|4,layer=1] [--fifo-depth ...]
    snngen verify   DIR --sim icarus|verilator [--images 4] [--timesteps 16]
    snngen synth    DIR --device ice40-up5k|ice40-hx8k|ecp5-25k|ecp5-85k|gowin-gw1nr9 [--freq MHz]
    snngen report   DIR [--dataset ...] [--model M --weights W]   (DIR/report.html)
    snngen explore  MODEL|net.snn --weight-bits 4,6,8 --timesteps 8,16,32 --lanes 1,2,4 [--device D]

MODEL is ``path/to/file.py:factory`` (with ``--weights`` a state_dict, loaded with
``torch.load(weights_only=True)``, or ``--random-weights`` for its untrained initialisation) or a
TorchScript archive (which carries its own weights); ``convert`` and ``simulate`` also take a NIR
graph (``.nir``, docs/interop.md). Errors from bad input are printed as one
line naming the cause, with exit status 2 (the traceback only with ``--debug``); output files are
checked before the work starts and never replace an input, nor an existing file without
``--force`` (:mod:`snngen.outputs`). Ctrl-C prints "interrupted" (exit status 130), SIGTERM
"terminated" (143), and either leaves no temporary file behind. docs/errors.md lists every
refusal.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from snngen import atomic, outputs
from snngen.convert.passes import ConversionConfig
from snngen.fixedpoint.fixednet import FixedConfig
from snngen.flows.synth import DEVICES as DEVICE_NAMES


def _int_list(s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {s!r}")
    return vals


def _positive(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _layer_bits(s: str) -> dict[str, int]:
    out = {}
    for item in filter(None, (p.strip() for p in s.split(","))):
        name, sep, bits = item.rpartition("=")
        if not sep or not name or not bits.isdigit():
            raise argparse.ArgumentTypeError(f"expected layer=bits[,layer=bits], got {item!r}")
        out[name] = int(bits)
    return out


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="file.py:factory or module:factory (with --weights), a "
                                 "TorchScript archive, or (convert, simulate) a NIR graph .nir")
    p.add_argument("--weights", help="state_dict file (torch.save(model.state_dict())); "
                                     "needed with file.py:factory unless --random-weights")
    p.add_argument("--random-weights", action="store_true",
                   help="use the factory's untrained, randomly initialised weights on purpose "
                        "(without --weights snngen refuses, rather than convert a network "
                        "that was never trained)")
    p.add_argument("--dataset", default="digits",
                   help="digits (sklearn, default), mnist (IDX files in --data-dir) or a .npz "
                        "with x and y")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files (gzip or not)")
    p.add_argument("--percentile", type=float, default=99.9,
                   help="normalisation percentile of ReLU activations (100 = max; default 99.9)")
    p.add_argument("--channelwise", action="store_true",
                   help="one normalisation scale per conv channel instead of per layer")
    p.add_argument("--v-init", type=float, default=0.5,
                   help="initial membrane as a fraction of the threshold (default 0.5; 0 = the "
                        "papers)")
    p.add_argument("--v-min", type=float, default=None,
                   help="clamp membranes from below at this multiple of the threshold, e.g. -1 "
                        "(default: no clamp)")
    p.add_argument("--readout", choices=("count", "membrane"), default="count",
                   help="class by output spike count (ties: membrane, then lowest index) or by "
                        "output membrane")
    p.add_argument("--input", dest="input_mode", choices=("analog", "spikes"), default="analog",
                   help="analog: pixels as constant current (default); spikes: rate-coded "
                        "by the seeded LFSR")
    p.add_argument("--spiking-avgpool", action="store_true",
                   help="keep average pooling as a layer of IF neurons (the papers); by default "
                        "it is folded into the next Linear or Conv2d where that is exact")
    p.add_argument("--equalize-concat", action="store_true",
                   help="one common scale (the largest) for the branches of a concatenation: "
                        "the reader's weights keep their resolution, the weaker branches fire "
                        "less (docs/conversion.md)")
    p.add_argument("--calib", type=_positive, default=1000,
                   help="calibration images for normalisation (first N training images)")


def _fixed_args(p: argparse.ArgumentParser, sweep: bool = False, timesteps: bool = True) -> None:
    # timesteps: whether the command has --timesteps (convert has not: its default is 128)
    if sweep:
        p.add_argument("--weight-bits", type=_int_list, default=[4, 6, 8],
                       help="weight widths to sweep (default 4,6,8)")
    else:
        p.add_argument("--weight-bits", type=_positive, default=8,
                       help="signed weight width of every layer (default 8)")
    p.add_argument("--layer-bits", type=_layer_bits, default={},
                   help="per-layer weight widths, e.g. 0=6,9=4 (layer or op name)")
    p.add_argument("--input-bits", type=_positive, default=8,
                   help="unsigned pixel width (default 8)")
    p.add_argument("--max-timesteps", type=_positive, default=None,
                   help="the longest run the register widths must be safe for (default: "
                        + ("the largest --timesteps)" if timesteps else "128)"))
    p.add_argument("--membrane-bits", type=_positive, default=None,
                   help="require this membrane width; refused if any layer needs more")


def _sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timesteps", type=_int_list, default=[8, 16, 32, 64, 128],
                   help="comma-separated T values (default 8,16,32,64,128)")
    p.add_argument("--seed", type=int, default=None,
                   help="LFSR seed for spike input (1..2^32-1; default: the network file's, "
                        "else 1)")
    p.add_argument("--limit", type=_positive, help="evaluate on the first N test images only")
    p.add_argument("--batch-size", type=_positive, default=256)
    p.add_argument("--engine", choices=("fast", "int64"), default="fast",
                   help="how the golden model computes: fast (default: the BLAS and float "
                        "types where the widths analysis proves them exact), or int64 (the "
                        "literal all-integer reference); the same results bit for bit")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="snngen", description="CNN -> spiking network -> hardware")
    ap.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("convert", help="convert and quantise; write the network file")
    _model_args(p)
    _fixed_args(p, timesteps=False)
    p.add_argument("--seed", type=int, default=None,
                   help="LFSR seed of spike input (1..2^32-1, default 1), kept in the network "
                        "file")
    p.add_argument("-o", "--output", required=True, help="network file to write (.snn)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output file (an input file is never replaced)")
    p = sub.add_parser("export-nir", help="write the fixed-point network as a NIR graph "
                                          "(docs/interop.md)")
    _model_args(p)
    _fixed_args(p, timesteps=False)
    p.add_argument("-o", "--output", required=True, help="NIR file to write (.nir)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output file (an input file is never replaced)")
    p = sub.add_parser("simulate", help="ANN vs float SNN vs fixed-point SNN, accuracy and "
                                        "operations per T")
    _model_args(p)
    _fixed_args(p)
    _sim_args(p)
    p.add_argument("--no-fixed", action="store_true", help="skip the fixed-point column")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output file (an input file is never replaced)")
    p = sub.add_parser("sweep", help="fixed-point accuracy over weight width and T")
    _model_args(p)
    _fixed_args(p, sweep=True)
    _sim_args(p)
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--out", help="directory for the sweep plot (PNG)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output file (an input file is never replaced)")
    p = sub.add_parser("plot", help="PNGs: accuracy vs T, accuracy vs operations, spike raster")
    _model_args(p)
    _sim_args(p)
    p.add_argument("--out", required=True, help="directory for the PNGs")
    p.add_argument("--image", type=int, default=0, help="test image for the raster (default 0)")
    p = sub.add_parser("graph", help="print the network before and after conversion")
    _model_args(p)
    p = sub.add_parser("build", help="generate hardware for a network file (Verilog or Amaranth)")
    p.add_argument("net", help="network file written by `snngen convert -o`")
    p.add_argument("--target", choices=("verilog", "amaranth"), default="verilog",
                   help="verilog: hand-written blocks + a generated top level (default); "
                        "amaranth: the same hardware from the Amaranth components "
                        "(snngen.backends.amaranth), "
                        "converted to one Verilog module and RTLIL")
    p.add_argument("-o", "--output", required=True, help="build directory to write")
    p.add_argument("--lanes", type=_lanes_or_auto, default={"*": 1},
                   help="parallel update lanes (a power of two) for every IF layer, and/or per "
                        "layer: 2 or 4,9_if=1 (default 1); auto: chosen per layer from the "
                        "timing model on training images (see --lane-budget)")
    p.add_argument("--lane-budget", type=_positive, default=16,
                   help="--lanes auto: the most lanes of all layers together (default 16)")
    p.add_argument("--latency-target", type=_positive, default=None,
                   help="--lanes auto: stop adding lanes once the mean predicted latency is at "
                        "most this many cycles")
    p.add_argument("--auto-images", type=_positive, default=32,
                   help="--lanes auto: training images the choice is measured on (default 32)")
    p.add_argument("--fifo-depth", type=_lanes, default=None,
                   help="event FIFO depth in front of every stage or per stage (default: the "
                        "smallest that never fills; smaller values are refused)")
    p.add_argument("--top", default="snn_net", help="name of the top-level module")
    p.add_argument("--force", action="store_true",
                   help="replace an existing directory that `snngen build` did not create")
    _example_args(p, images=4)
    p = sub.add_parser("verify", help="simulate a build (cocotb) and compare every spike and "
                                      "cycle with the golden and timing models")
    p.add_argument("build", help="build directory (`snngen build -o`)")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator")
    _example_args(p, images=None)
    p.add_argument("--images", type=_image_spec, default="4",
                   help="N (the first N test images from --first), A:B (test images A .. B-1) "
                        "or all (the whole evaluation split); default 4")
    p.add_argument("--jobs", type=_positive, default=1,
                   help="simulator processes in parallel")
    p.add_argument("--bench", choices=("harness", "harness-cocotb", "edges"), default="harness",
                   help="harness: stimulus and capture inside the simulation, compiled into a "
                        "plain simulator executable (default, fastest); harness-cocotb: the same "
                        "harness started by cocotb; edges: the per-edge cocotb bench")
    p.add_argument("--keep", help="simulation work directory to keep (default: a temporary one)")
    p = sub.add_parser("synth", help="synthesise, place and route a build with Yosys and nextpnr "
                                     "(LUTs, block RAMs, DSPs, Fmax, latency, images/s)")
    p.add_argument("build", help="build directory (`snngen build -o`)")
    p.add_argument("--device", required=True,
                   choices=tuple(DEVICE_NAMES))
    p.add_argument("--freq", type=float, default=None,
                   help="target clock in MHz for place and route (default: the device's)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    p = sub.add_parser("report", help="one self-contained HTML page for a build directory "
                                      "(network, formats, accuracy, resources, synthesis, "
                                      "raster, verification)")
    p.add_argument("build", help="build directory (`snngen build -o`)")
    p.add_argument("--dataset", default=None,
                   help="measure accuracy on digits, mnist or a .npz (default: not measured)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files")
    p.add_argument("--model", dest="from_model", default=None,
                   help="the model the network was converted from (file.py:factory), for the "
                        "ANN and float SNN columns (checked against the network's digests)")
    p.add_argument("--weights", help="its state_dict (with --model)")
    p.add_argument("--random-weights", action="store_true",
                   help="with --model file.py:factory and no --weights: its untrained weights, "
                        "on purpose")
    p.add_argument("--timesteps", type=_int_list, default=None,
                   help="T values for accuracy (default 8,16,32,64,128 up to the network's "
                        "proven maximum)")
    p.add_argument("--limit", type=_positive, help="evaluate on the first N test images only")
    p.add_argument("--image", type=int, default=0, help="test image for the raster (default 0)")
    p.add_argument("--batch-size", type=_positive, default=256)
    p.add_argument("--engine", choices=("fast", "int64"), default="fast",
                   help="golden-model engine (the same results; int64 is the literal "
                        "all-integer reference, slower)")
    p = sub.add_parser("explore", help="accuracy, cycles and resources over weight width, T and "
                                       "lanes; table, explore.json and a Pareto plot")
    _model_args(p)
    _fixed_args(p, sweep=True)
    p.set_defaults(weight_bits=None)
    p.add_argument("--timesteps", type=_int_list, default=[8, 16, 32],
                   help="T values (default 8,16,32)")
    p.add_argument("--lanes", type=_int_list, default=[1, 2, 4],
                   help="lanes of every layer (powers of two; default 1,2,4)")
    p.add_argument("--images", type=_positive, default=None,
                   help="evaluate on the first N test images (default: all)")
    p.add_argument("--device", default=None,
                   choices=tuple(DEVICE_NAMES),
                   help="also synthesise every (width, lanes) design for this FPGA (slow)")
    p.add_argument("--freq", type=float, default=None,
                   help="target clock in MHz for place and route (default: the device's)")
    p.add_argument("--jobs", type=_positive, default=None,
                   help="worker processes (default: the number of CPUs)")
    p.add_argument("--batch-size", type=_positive, default=256)
    p.add_argument("--engine", choices=("fast", "int64"), default="fast",
                   help="golden-model engine (the same results; int64 is the literal "
                        "all-integer reference, slower)")
    p.add_argument("-o", "--output", default="explore",
                   help="directory for explore.json and pareto.png (default explore)")
    for p in sub.choices.values():
        # also accepted after the command; SUPPRESS keeps the value given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return ap


DEBUG_HELP = "show the Python traceback of an error (for a bug report)"


def _example_args(p: argparse.ArgumentParser, images: int | None) -> None:
    if images is not None:  # (None: the command adds its own --images)
        p.add_argument("--images", type=_positive, default=images,
                       help=f"how many test images (default {images})")
    p.add_argument("--first", type=int, default=0, help="index of the first test image")
    p.add_argument("--timesteps", type=_positive, default=16, help="T (default 16)")
    p.add_argument("--dataset", default=None,
                   help="digits, mnist or a .npz (default: the dataset the network was "
                        "calibrated on)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files")


def _image_spec(s: str) -> str:
    """``N``, ``A:B`` or ``all`` (checked against the split later)."""
    a, sep, b = s.partition(":")
    if s == "all" or (not sep and s.isdigit() and int(s) > 0) or (
            sep and a.isdigit() and b.isdigit() and int(a) < int(b)):
        return s
    raise argparse.ArgumentTypeError(f"expected N, A:B (A < B) or all, got {s!r}")


def _lanes_or_auto(s: str) -> dict[str, int] | str:
    return "auto" if s.strip() == "auto" else _lanes(s)


def _lanes(s: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in s.split(","))):
        name, sep, value = item.rpartition("=")
        if not value.isdigit() or (sep and not name):
            raise argparse.ArgumentTypeError(f"expected N or layer=N[,layer=N], got {item!r}")
        out[name if sep else "*"] = int(value)
    return out


def _config(a: argparse.Namespace) -> ConversionConfig:
    return ConversionConfig(percentile=a.percentile, channelwise=a.channelwise, v_init=a.v_init,
                            v_min=a.v_min, readout=a.readout, input=a.input_mode,
                            spiking_avgpool=a.spiking_avgpool,
                            equalize_concat=a.equalize_concat,
                            seed=1 if getattr(a, "seed", None) is None else a.seed)


def _fixed_config(a: argparse.Namespace, bits: int | None = None) -> FixedConfig:
    t_max = a.max_timesteps or max(getattr(a, "timesteps", None) or [128])
    return FixedConfig(weight_bits=bits or a.weight_bits, layer_bits=a.layer_bits,
                       input_bits=a.input_bits, max_timesteps=t_max,
                       membrane_bits=a.membrane_bits)


def _progress(console: Console) -> Progress:
    # no bar in logs and pipes: it would only leave blank lines behind
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)


def _is_netfile(model: str) -> bool:
    return model.endswith(".snn")


def _is_nir(model: str) -> bool:
    return model.lower().endswith(".nir")


def _experiment(a: argparse.Namespace, console: Console, fixed: FixedConfig | None):
    from snngen.data import check_labels
    from snngen.flows.workflow import load_experiment, load_fixed_experiment

    with console.status("converting"):
        if _is_netfile(a.model):
            exp = load_fixed_experiment(a.model, a.dataset, a.data_dir)
        elif _is_nir(a.model):
            from snngen.flows.workflow import load_nir_experiment

            exp = load_nir_experiment(a.model, a.dataset, a.data_dir, a.input_mode,
                                      fixed or _fixed_config(a), keep_fixed=fixed is not None)
        else:
            exp = load_experiment(a.model, a.weights, a.dataset, a.data_dir, _config(a),
                                  a.calib, fixed)
    g = exp.fixed.graph if exp.fixed is not None else exp.snn
    check_labels(exp.data, math.prod(g[g.output].shape))
    return exp


def _model_file(model: str | None) -> str | None:
    """The file behind a MODEL argument (``file.py`` of ``file.py:factory``)."""
    if model is None or Path(model).is_file() or ":" not in model:
        return model
    return model.rpartition(":")[0]


def _inputs(a: argparse.Namespace) -> list[tuple[str, str | None]]:
    """The files a model command reads, which none of its outputs may replace."""
    dataset = getattr(a, "dataset", None)
    return [("model file", _model_file(getattr(a, "model", None))),
            ("weights file", getattr(a, "weights", None)),
            ("dataset", dataset if dataset and dataset.lower().endswith(".npz") else None)]


def _check_netfile_arg(path: str) -> None:
    if not Path(path).exists():
        raise ValueError(f"network file {path} does not exist")
    if not Path(path).is_file():
        raise ValueError(f"network file {path} is not a file (a directory?); give the .snn file "
                         "`snngen convert -o` wrote")


def _check_args(a: argparse.Namespace) -> None:
    """The refusals that need nothing loaded, made before any slow work: the model and its
    weights (a factory without trained weights, weights a model cannot take) and the network
    file argument."""
    if a.cmd == "build":
        _check_netfile_arg(a.net)
    model = a.from_model if a.cmd == "report" else getattr(a, "model", None)
    weights = getattr(a, "weights", None)
    random_weights = getattr(a, "random_weights", False)
    if model is None:
        if random_weights:
            raise ValueError("--random-weights needs --model")
        return
    if _is_nir(model):
        if a.cmd not in ("convert", "simulate"):
            raise ValueError(f"{a.cmd} does not read NIR graphs: `snngen convert {model} -o "
                             "net.snn` first")
        if not Path(model).is_file():
            raise ValueError(f"NIR file {model} does not exist" if not Path(model).exists()
                             else f"NIR file {model} is not a file")
        if weights or random_weights:
            raise ValueError(f"{model} is a NIR graph, which holds its own weights: "
                             f"--{'weights' if weights else 'random-weights'} does not apply")
        return
    if _is_netfile(model):
        if a.cmd not in ("simulate", "explore", "export-nir"):
            raise ValueError(f"{a.cmd} needs a model, not a network file")
        _check_netfile_arg(model)
        if weights or random_weights:
            raise ValueError(f"{model} is a network file, which holds its own integer weights: "
                             f"--{'weights' if weights else 'random-weights'} does not apply")
        return
    from snngen.frontend import is_factory_spec

    if not is_factory_spec(model):
        if weights or random_weights:
            raise ValueError(f"{model} is a TorchScript archive, which carries its own weights: "
                             f"--{'weights' if weights else 'random-weights'} does not apply")
        return
    if weights and random_weights:
        raise ValueError("--weights and --random-weights contradict each other; give one")
    if not weights and not random_weights:
        raise ValueError(f"{model} needs its trained weights: pass --weights FILE (a state_dict), "
                         "or --random-weights to use the untrained initialisation on purpose")


def _evaluate(exp, a: argparse.Namespace, console: Console):
    from snngen.flows.workflow import evaluate

    n = len(exp.data.test) if a.limit is None else min(a.limit, len(exp.data.test))
    runs = (exp.snn is not None) + (exp.fixed is not None)
    with _progress(console) as prog:
        task = prog.add_task(f"simulating T={max(a.timesteps)}", total=n * runs)
        return evaluate(exp, a.timesteps, a.seed, a.limit, a.batch_size,
                        progress=lambda k: prog.advance(task, k), engine=a.engine)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def print_report(rep, console: Console) -> None:
    t = Table(title=f"{escape(rep.model)} on {rep.dataset}: {rep.images} test images, "
                    f"{rep.input_mode} input")
    cols = ["T", "ANN acc %", "SNN acc %"]
    if rep.fixed:
        cols.append(f"fixed {rep.fixed['weight_bits']}-bit acc %")
    cols += ["SNN ops/img", "ANN MACs/img", "ops ratio", "spikes/img"]
    for col in cols:
        t.add_column(col, justify="right")
    for r in rep.rows:
        cells = [str(r.timesteps), _pct(rep.ann_accuracy), _pct(r.snn_accuracy)]
        if rep.fixed:
            cells.append(_pct(r.fixed_accuracy))
        ops = r.snn_ops if r.snn_ops is not None else r.fixed_ops
        cells += [f"{ops:,.0f}", f"{rep.ann_macs:,}",
                  f"{ops / rep.ann_macs:.2f}", "-" if r.spikes is None else f"{r.spikes:,.0f}"]
        t.add_row(*cells)
    console.print(t)
    c = rep.config
    console.print(f"protocol: {rep.protocol}")
    console.print(f"conversion: percentile {c['percentile']}, "
                  f"{'channel' if c['channelwise'] else 'layer'}-wise, v_init {c['v_init']}, "
                  f"v_min {c['v_min']}, readout {c['readout']}, calibration on "
                  f"{c['calib_images']} training images")
    rules = c.get("thresholds") or {}
    if any(not r.startswith("p") for r in rules.values()):  # some layer is not a percentile
        console.print("thresholds: " + "; ".join(f"{escape(k)}: {escape(r)}"
                                                 for k, r in rules.items()))
    times = []
    if rep.sim_seconds is not None:
        times.append(f"float SNN {rep.sim_seconds:.1f} s")
    if rep.fixed_seconds is not None:
        f = rep.fixed
        times.append(f"fixed-point SNN {rep.fixed_seconds:.1f} s")
        console.print(f"fixed point: {f['weight_bits']}-bit weights"
                      f"{' (' + str(f['layer_bits']) + ')' if f['layer_bits'] else ''}, "
                      f"{f['input_bits']}-bit input, widths proven for "
                      f"{f['max_timesteps']} timesteps")
    console.print("simulated in " + ", ".join(times))


def print_formats(net, console: Console) -> None:
    t = Table(title=f"fixed-point formats (widths proven for up to "
                    f"{net.config.max_timesteps} timesteps, input uint{net.config.input_bits})")
    for col in ("layer", "neurons", "weights", "bias", "threshold", "v0", "v_min",
                "current/step", "membrane", "membrane range", "accum", "weight err %"):
        t.add_column(col, justify="right")
    quant = {q.layer: q for q in net.quant}
    for name, f in net.formats.items():
        n = net.graph[name]
        t.add_row(escape(name), "x".join(map(str, n.shape)),
                  str(f.weight), "-" if f.bias is None else str(f.bias), f"{f.threshold:,}",
                  f"{f.v0:,}", "-" if f.v_min is None else f"{f.v_min:,}",
                  f"{f.current[0]:,}..{f.current[1]:,}", str(f.membrane),
                  f"{f.membrane_range[0]:,}..{f.membrane_range[1]:,}",
                  "-" if f.accumulator is None else str(f.accumulator),
                  f"{100 * quant[name].weight_error:.2f}")
    console.print(t)


def warn_weight_error(net, console: Console) -> None:
    """One warning line per layer whose weights lost more than
    :data:`~snngen.fixedpoint.quantize.WEIGHT_ERROR_WARNING` to rounding (converted anyway: a
    sweep of widths may want exactly that, but nobody should get it by surprise)."""
    from snngen.fixedpoint.quantize import WEIGHT_ERROR_WARNING

    for q in net.quant:
        if q.weight_error > WEIGHT_ERROR_WARNING:
            console.print(f"[yellow]warning:[/yellow] layer {escape(q.layer)} (weights of "
                          f"{escape(', '.join(q.sources))}): relative weight error "
                          f"{100 * q.weight_error:.2f}% with {q.weight_bits}-bit weights (above "
                          f"{100 * WEIGHT_ERROR_WARNING:.0f}%): expect lost accuracy; give it "
                          f"more bits (--weight-bits, or --layer-bits {escape(q.layer)}=N)",
                          highlight=False, soft_wrap=True)


def write_json_atomic(path: str | Path, obj) -> None:
    """Write ``obj`` as JSON; an interrupted run leaves the old file or none, never a partial
    one. Parent directories are created."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def cmd_convert(a: argparse.Namespace, console: Console) -> int:
    from snngen.fixedpoint import netfile

    outputs.check(a.output, "-o", a.force, _inputs(a))
    exp = _experiment(a, console, _fixed_config(a))
    print_formats(exp.fixed, console)
    warn_weight_error(exp.fixed, console)
    try:
        data = netfile.dumps(exp.fixed)
    except netfile.NetFileError as e:  # named after the file it was meant for
        raise netfile.NetFileError(a.output, e.reason, e.field) from None
    outputs.write(a.output, data, "-o")
    console.print(f"wrote {escape(a.output)}")
    return 0


def cmd_export_nir(a: argparse.Namespace, console: Console) -> int:
    from snngen.fixedpoint import netfile
    from snngen.interop import nirgraph

    outputs.check(a.output, "-o", a.force, _inputs(a))
    if _is_netfile(a.model):
        net = netfile.load(a.model)
    else:
        net = _experiment(a, console, _fixed_config(a)).fixed
    graph, warnings = nirgraph.to_nir(net)
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, soft_wrap=True)
    outputs.write(a.output, nirgraph.write(graph, a.output), "-o")
    console.print(f"wrote {escape(a.output)} (NIR {nirgraph.nir_version()}, snngen profile "
                  f"{nirgraph.PROFILE}: {len(graph.nodes)} nodes)")
    return 0


def cmd_simulate(a: argparse.Namespace, console: Console) -> int:
    if a.json:
        outputs.check(a.json, "--json", a.force, _inputs(a))
    exp = _experiment(a, console, None if a.no_fixed else _fixed_config(a))
    if exp.fixed is not None and _is_netfile(a.model):
        print_formats(exp.fixed, console)
    if exp.fixed is not None:
        warn_weight_error(exp.fixed, console)
    rep = _evaluate(exp, a, console)
    print_report(rep, console)
    if a.json:
        outputs.write(a.json, _json_bytes(rep.to_dict()), "--json")
        console.print(f"wrote {escape(a.json)}")
    return 0


def cmd_sweep(a: argparse.Namespace, console: Console) -> int:
    from snngen.fixedpoint.fixednet import fix
    from snngen.flows import plots

    if a.json:
        outputs.check(a.json, "--json", a.force, _inputs(a))
    if a.out:
        outputs.check_dir(a.out, "--out")
        outputs.check(Path(a.out) / "sweep.png", "--out", a.force, _inputs(a))
    exp = _experiment(a, console, None)
    results = {}
    float_rep = None
    for bits in a.weight_bits:
        net = fix(exp.snn, _fixed_config(a, bits), asdict(exp.config))
        # the float SNN and the ANN are the same for every width: simulate them once
        e = replace(exp, fixed=net, snn=exp.snn if float_rep is None else None,
                    ann=exp.ann if float_rep is None else None)
        rep = _evaluate(e, a, console)
        float_rep = float_rep or rep
        results[bits] = {r.timesteps: r.fixed_accuracy for r in rep.rows}
    t = Table(title=f"fixed-point accuracy % by weight width and T ({escape(exp.model)}, "
                    f"{float_rep.images} test images)")
    t.add_column("weights", justify="right")
    for ts in a.timesteps:
        t.add_column(f"T={ts}", justify="right")
    t.add_row("float", *[_pct(r.snn_accuracy) for r in float_rep.rows])
    for bits, accs in results.items():
        t.add_row(f"{bits}-bit", *[_pct(accs[ts]) for ts in sorted(set(a.timesteps))])
    console.print(t)
    console.print(f"ANN {_pct(float_rep.ann_accuracy)}%; protocol: {float_rep.protocol}")
    out = {"model": exp.model, "dataset": exp.dataset, "protocol": float_rep.protocol,
           "images": float_rep.images, "ann_accuracy": float_rep.ann_accuracy,
           "float": {str(r.timesteps): r.snn_accuracy for r in float_rep.rows},
           "fixed": {str(b): {str(t): v for t, v in accs.items()} for b, accs in results.items()}}
    if a.json:
        outputs.write(a.json, _json_bytes(out), "--json")
        console.print(f"wrote {escape(a.json)}")
    if a.out:
        console.print(f"wrote {plots.sweep(out, Path(a.out) / 'sweep.png')}")
    return 0


def cmd_plot(a: argparse.Namespace, console: Console) -> int:
    from snngen.flows import plots
    from snngen.golden import sim
    exp = _experiment(a, console, None)
    rep = _evaluate(exp, a, console)
    test = exp.data.test
    if not 0 <= a.image < len(test):
        raise ValueError(f"--image {a.image} is outside the test split (0..{len(test) - 1})")
    trace = sim.simulate(exp.snn, test.x[a.image:a.image + 1], [max(a.timesteps)],
                         input_mode=exp.config.input,
                         seed=exp.config.seed if a.seed is None else a.seed, trace=True)
    for f in plots.write_all(rep, exp.snn, trace, int(test.y[a.image]), a.out):
        console.print(f"wrote {f}")
    return 0


def cmd_graph(a: argparse.Namespace, console: Console) -> int:
    exp = _experiment(a, console, None)
    console.print("[bold]canonical ANN[/bold]")
    console.print(exp.ann.summary(), markup=False, highlight=False)
    console.print("[bold]spiking network[/bold]")
    console.print(exp.snn.summary(), markup=False, highlight=False)
    return 0


def _image_range(a: argparse.Namespace, n: int, name: str) -> tuple[int, int]:
    """The test images ``--images`` (N from ``--first``, A:B, or all) select: (start, stop)."""
    spec = str(a.images)
    if spec == "all" or ":" in spec:
        if a.first:
            raise ValueError(f"--first {a.first} goes with --images N, not with {spec}")
        start, stop = (0, n) if spec == "all" else (int(v) for v in spec.split(":"))
        a.first = start
    else:
        start, stop = a.first, a.first + int(spec)
    if not 0 <= start < stop <= n:
        raise ValueError(f"test images {start} .. {stop - 1}: the test split of {name} has "
                         f"{n} images (0 .. {n - 1})")
    return start, stop


def _example_images(a: argparse.Namespace, net) -> tuple[object, str]:
    """Integer pixels of the test images ``--images`` selects (see :func:`_image_range`) of the
    network's dataset (and its name); sets ``a.first`` to the first one."""
    from snngen.data import load_dataset, split
    from snngen.fixedpoint.quantize import quantize_input

    name = a.dataset or net.source.get("dataset") or "digits"
    data = split(load_dataset(name, a.data_dir))
    test = data.test
    start, stop = _image_range(a, len(test), name)
    x = test.x[start:stop]
    if tuple(x.shape[1:]) != tuple(net.graph.input.shape):
        raise ValueError(f"dataset {name} has images of shape {tuple(x.shape[1:])}, the "
                         f"network expects {tuple(net.graph.input.shape)}")
    return quantize_input(x, net.config.input_bits), name


def _auto_lanes(a: argparse.Namespace, net, console: Console):
    """``--lanes auto``: lanes per layer from the timing model on the first ``--auto-images``
    training images (not the evaluation images the build's figures are reported on)."""
    from snngen.data import load_dataset, split
    from snngen.fixedpoint.quantize import quantize_input
    from snngen.hwmodel import lanes as lane_alloc
    from snngen.hwmodel import plan as hwplan

    name = a.dataset or net.source.get("dataset") or "digits"
    train = split(load_dataset(name, a.data_dir)).train
    x = quantize_input(train.x[:a.auto_images], net.config.input_bits)
    t = min(a.timesteps, hwplan.plan(net).max_timesteps)
    choice = lane_alloc.choose(net, x, t, a.lane_budget, a.latency_target,
                               images=f"{name} training images 0..{len(x) - 1}")
    console.print(f"--lanes auto ({len(x)} {name} training images, T={t}, budget "
                  f"{a.lane_budget}): " + ", ".join(f"{k}={v}" for k, v in choice.lanes.items())
                  + f"; mean {choice.mean_cycles:,.0f} cycles (1 lane each: "
                  f"{choice.start_cycles:,.0f}); stopped: {choice.stop}")
    return choice


def _check_fifo_depths(net, fifo_depth: dict[str, int]) -> None:
    """Refuse a ``--fifo-depth`` with every rule it breaks (the hardware plan's rules, in its
    words: :func:`snngen.hwmodel.plan.fifo_depth_problem`) before any other work."""
    from snngen.hwmodel import plan as hwplan

    p = hwplan.plan(net)  # the default depths are the smallest that never fill
    for prev, stage, need in zip(p.stages, p.stages[1:], p.fifo_depths, strict=True):
        want = fifo_depth.get(stage.name, fifo_depth.get("*", need))
        problem = hwplan.fifo_depth_problem(want, need, prev)
        if problem:
            raise ValueError(f"--fifo-depth: the FIFO in front of {stage.name}: {problem}")


def cmd_build(a: argparse.Namespace, console: Console) -> int:
    from snngen.backends.verilog import writer as verilog
    from snngen.fixedpoint import netfile
    from snngen.golden import model as golden
    from snngen.hwmodel import plan as hwplan
    from snngen.hwmodel import timing
    net = netfile.load(a.net)
    if a.fifo_depth:
        _check_fifo_depths(net, a.fifo_depth)
    choice = None
    if a.lanes == "auto":
        choice = _auto_lanes(a, net, console)
        a.lanes = choice.lanes
    opts = verilog.BuildOptions(top=a.top, lanes=a.lanes, fifo_depth=a.fifo_depth,
                                lane_choice=choice.to_dict() if choice else None)
    p = hwplan.plan(net, lanes=a.lanes, fifo_depth=a.fifo_depth)
    predicted: list[dict] = []
    try:
        x, dataset = _example_images(a, net)
    except (ValueError, OSError) as e:
        console.print(f"no predicted cycles (no example images: {escape(str(e))})")
        x = None
    if x is not None:
        t = min(a.timesteps, p.max_timesteps)
        res = golden.run(net.graph, x, (t,), trace=True)
        for i in range(len(x)):
            ins = timing.stage_inputs(p, res.raster, i, t)
            tm = timing.predict(p, x[i], ins, t)
            bd = timing.bounds(p, x[i], ins, t)
            predicted.append({"dataset": dataset, "test_image": a.first + i, "timesteps": t,
                              "class": int(res.predictions[t][i]), "cycles": tm.latency,
                              "ideal_cycles": bd.ideal, "pipelined_bound": bd.pipelined,
                              "timing": tm.to_dict()})
    if a.target == "amaranth":
        try:
            from snngen.backends.amaranth import build as backend
        except ImportError as e:
            raise verilog.BuildError(f"--target amaranth needs the amaranth extra (pip install "
                                     f"'snngen[amaranth]'): {e}") from None
    else:
        backend = verilog
    out = backend.build(net, a.output, opts, force=a.force, predicted=predicted)
    man = verilog.load_manifest(out)
    table = Table(title=f"{escape(str(out))}: top {man['top']}, {len(p.stages)} pipeline stages")
    for col in ("stage", "kind", "neurons", "lanes", "weights", "membrane", "memory bits"):
        table.add_column(col, justify="right" if col not in ("stage", "kind") else "left")
    for st, res_ in zip(man["stages"], man["resources"], strict=True):
        bits = sum(v for k, v in res_.items() if k.endswith("_bits"))
        table.add_row(f"{st['stage']} {escape(st['name'])}", st["kind"], str(st["neurons"]),
                      str(st.get("lanes", "-")),
                      f"int{st['weight_width']}" if "weight_width" in st else "-",
                      f"int{st['membrane_width']}" if "membrane_width" in st else "-",
                      f"{bits:,}")
    console.print(table)
    for st in man["stages"]:
        if "lanes_asked" in st:
            console.print(f"layer {escape(st['name'])}: {st['lanes_asked']} lanes asked, built "
                          f"with {st['lanes']} (it has {st['geometry']['COUT']} output "
                          "channels: more lanes would hold none and take no cycle off)")
    if predicted:
        cyc = [d["cycles"] for d in predicted]
        console.print(f"predicted cycles per image (T={predicted[0]['timesteps']}, test images "
                      f"{a.first}..{a.first + len(cyc) - 1}): mean {sum(cyc) / len(cyc):,.0f}, "
                      f"min {min(cyc):,}, max {max(cyc):,}")
    console.print(f"wrote {escape(str(out))} ({man['target']} target: {len(man['files'])} "
                  f"Verilog file(s), manifest.json, files.f)")
    return 0


def cmd_verify(a: argparse.Namespace, console: Console) -> int:
    from snngen.flows import verify

    _, net, _ = verify.plan_of_build(a.build)
    x, dataset = _example_images(a, net)

    def progress(done: int, total: int, s) -> None:
        if done < total:
            rate = s.cycles_per_second
            console.print(f"  {done:,}/{total:,} images, {s.cycles:,} cycles simulated, "
                          f"{s.wall_seconds:.1f} s" + (f", {rate:,.0f} cycles/s per simulator"
                                                       if rate else ""))

    rep = verify.verify(a.build, a.sim, x, a.timesteps, work_dir=a.keep, jobs=a.jobs,
                        bench_kind=a.bench, progress=progress)
    verify.record(a.build, rep, dataset, a.first)
    table = Table(title=f"{escape(a.build)} on {a.sim}, T={a.timesteps}: RTL vs golden and "
                        "timing models (== on every spike, count, class and cycle)")
    table.add_column("image", justify="right")
    table.add_column("class golden / RTL", justify="right")
    table.add_column("spikes per stage", justify="right")
    table.add_column("cycles predicted / RTL", justify="right")
    table.add_column("result")
    shown = rep.images if len(rep.images) <= 20 else [r for r in rep.images if not r.ok][:20]
    for r in shown:
        table.add_row(str(a.first + r.image), f"{r.golden_class} / {r.rtl_class}",
                      " ".join(str(s) for s in r.spikes),
                      f"{r.predicted_cycles:,} / {r.rtl_cycles:,}" if r.rtl_cycles is not None
                      else f"{r.predicted_cycles:,} / -",
                      "[green]match[/green]" if r.ok else f"[red]{len(r.mismatches)} "
                                                           "differences[/red]")
    if shown:
        console.print(table)
    s = rep.stats
    cyc = [r.rtl_cycles for r in rep.images if r.rtl_cycles is not None]
    if cyc:
        console.print(f"cycles per image (RTL): mean {sum(cyc) / len(cyc):,.0f}, min {min(cyc):,}, "
                      f"max {max(cyc):,}")
    steady = s.steady_cycles_per_second
    if s.build_seconds:  # compiled once, before the runs: their rate is the simulator's own
        speed = (f" ({s.cycles_per_second:,.0f} cycles/s; compiling took "
                 f"{s.build_seconds:.1f} s)" if s.cycles_per_second else "")
    else:
        speed = ((f" ({s.cycles_per_second:,.0f} cycles/s" if s.cycles_per_second else " (")
                 + (f"; {steady:,.0f} without compiling)" if steady else ")"))
    console.print(f"simulated {s.cycles:,} cycles with the {s.bench} bench on {s.jobs} "
                  f"job(s): {s.sim_seconds:.1f} s of simulator time{speed}, "
                  f"{s.wall_seconds:.1f} s wall")
    if rep.ok:
        console.print(f"[green]verified:[/green] {len(rep.images)} images, every stage's spikes "
                      "of every timestep, the counts, the class and the cycle counts match")
        return 0
    console.print(f"[red]{sum(not r.ok for r in rep.images)} of {len(rep.images)} images "
                  "differ[/red]")
    console.print(f"[bold red]mismatch:[/bold red] {escape(rep.first_mismatch() or '')}")
    return 1


def cmd_synth(a: argparse.Namespace, console: Console) -> int:
    from snngen.flows import synth

    def show(rep) -> None:
        table = Table(title=f"{escape(a.build)}: synthesis for {rep.device}")
        table.add_column("")
        table.add_column("", justify="right")
        for label, value in synth.format_table(rep):
            table.add_row(escape(label), escape(value))
        console.print(table)

    try:
        rep = synth.synthesize(a.build, a.device, a.freq, a.seed,
                               progress=lambda m: console.print(escape(m)))
    except synth.DoesNotFit as e:
        show(e.report)
        raise
    show(rep)
    console.print(f"wrote {escape(str(Path(a.build) / 'synth' / a.device / 'synth.json'))}")
    return 0


def cmd_report(a: argparse.Namespace, console: Console) -> int:
    from snngen.flows import report

    if a.weights and not a.from_model:
        raise ValueError("--weights needs --model")
    with _progress(console) as prog:
        task = prog.add_task("simulating", total=None)
        out = report.generate(a.build, dataset=a.dataset, data_dir=a.data_dir,
                              model=a.from_model, weights=a.weights, timesteps=a.timesteps,
                              limit=a.limit, image=a.image, batch_size=a.batch_size,
                              engine=a.engine, progress=lambda k: prog.advance(task, k))
    console.print(f"wrote {escape(str(out))}")
    return 0


def cmd_explore(a: argparse.Namespace, console: Console) -> int:
    from snngen.flows import explore

    if _is_netfile(a.model):
        exp = _experiment(a, console, None)
        width = exp.fixed.config.weight_bits
        if a.weight_bits not in (None, [width]) or a.layer_bits or a.max_timesteps:
            raise ValueError(f"{a.model} is a network file with {width}-bit weights, widths "
                             f"proven for {exp.fixed.config.max_timesteps} timesteps: it cannot "
                             "be re-quantised (--weight-bits, --layer-bits, --max-timesteps "
                             "need the model, file.py:factory --weights W)")
        if max(a.timesteps) > exp.fixed.config.max_timesteps:
            raise ValueError(f"T={max(a.timesteps)} exceeds the "
                             f"{exp.fixed.config.max_timesteps} timesteps {a.model} was proven "
                             "for")
        bits = [width]
        source = explore.Source(fixed=exp.fixed)
    else:
        exp = _experiment(a, console, None)
        bits = a.weight_bits or [4, 6, 8]
        if a.max_timesteps and a.max_timesteps < max(a.timesteps):
            raise ValueError(f"--max-timesteps {a.max_timesteps} is below T={max(a.timesteps)}")
        source = explore.Source(snn=exp.snn, conversion=asdict(exp.config),
                                base=_fixed_config(a, bits[0]))
    test = exp.data.test if a.images is None else exp.data.test.subset(
        0, min(a.images, len(exp.data.test)))
    grid = len(bits) * len(a.timesteps) * len(a.lanes)
    with _progress(console) as prog:
        task = prog.add_task(f"{grid} configurations", total=None)

        def tick(label: str, done: int, total: int) -> None:
            prog.update(task, completed=done, total=total, description=label)

        configs = explore.explore(source, test.x, test.y, bits, a.timesteps, a.lanes,
                                  device=a.device, freq_mhz=a.freq, jobs=a.jobs,
                                  batch_size=a.batch_size, engine=a.engine, progress=tick)
    doc = explore.document(configs, model=exp.model, dataset=exp.dataset,
                           protocol=exp.data.protocol, images=len(test), weight_bits=bits,
                           timesteps=a.timesteps, lanes=a.lanes, device=a.device,
                           freq_mhz=a.freq)
    table = Table(title=f"{escape(exp.model)} on {exp.dataset}: {len(test)} test images"
                        f"{', ' + a.device if a.device else ''} (* Pareto-optimal)")
    cols = ["weights", "T", "lanes", "acc %", "cycles/img", "min..max", "memory bits"]
    if a.device:
        cols += ["logic cells" if a.device.startswith("ice40") else "LUTs", "BRAMs", "DSPs",
                 "Fmax MHz", "latency us", "images/s"]
    for col in [*cols, "pareto"]:
        table.add_column(col, justify="right")
    for c in configs:
        cells = [f"{c['weight_bits']}-bit", str(c["timesteps"]), str(c["lanes"]),
                 _pct(c.get("accuracy"))]
        if "cycles" in c:
            cy = c["cycles"]
            cells += [f"{cy['mean']:,.0f}", f"{cy['min']:,}..{cy['max']:,}",
                      f"{c['estimate']['memory_bits']:,}"]
        else:
            cells += ["-", "-", "-"]
        if a.device:
            s = c.get("synth") or {}
            if "error" in s or "luts" not in s:
                cells += ["error", "", "", "", "", ""]
            else:
                fits = "" if s["fits"] else " (does not fit)"
                cells += [f"{s['luts']:,}{fits}", "-" if s["brams"] is None else str(s["brams"]),
                          "-" if s["dsps"] is None else str(s["dsps"]),
                          "-" if s.get("fmax_mhz") is None else f"{s['fmax_mhz']:.1f}",
                          "-" if s.get("latency_us") is None else f"{s['latency_us']:,.1f}",
                          "-" if s.get("images_per_s") is None else f"{s['images_per_s']:,.0f}"]
        cells.append("*" if c["pareto"] else "")
        table.add_row(*cells)
    console.print(table)
    for c in configs:
        for what, err in (("", c.get("error")), ("synthesis: ", (c.get("synth") or {}).get(
                "error"))):
            if err:
                console.print(f"{c['weight_bits']}-bit T={c['timesteps']} lanes={c['lanes']}: "
                              f"{what}{escape(err)}", highlight=False)
    console.print(f"protocol: {escape(exp.data.protocol)}")
    console.print("resources: " + ("logic cells (iCE40) or LUT4s (ECP5) from synthesis"
                                   if a.device else
                                   "memory bits of the hardware plan (no --device: no "
                                   "synthesis)") + "; latency: " +
                  ("cycles / Fmax" if a.device else "cycles per image (timing model)"))
    out = Path(a.output)
    write_json_atomic(out / "explore.json", doc)
    console.print(f"wrote {escape(str(out / 'explore.json'))}")
    console.print(f"wrote {escape(str(explore.plot(doc, out / 'pareto.png')))}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that every cleanup on the way out (the
    temporary directory of a build, the temporary file of an atomic write: both remove theirs on
    any BaseException) runs before the process ends."""


def _sigterm_handler(owner: int):
    def on_sigterm(signum: int, frame) -> None:
        if os.getpid() != owner:
            # a forked child that inherited the handler: end as SIGTERM ends it by default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated
    return on_sigterm


def _message(e: BaseException) -> str:
    """An error as one line: an OSError as ``path: reason`` rather than ``[Errno 21] ...``."""
    if isinstance(e, OSError) and e.strerror:
        names = [str(f) for f in (e.filename, e.filename2) if f is not None]
        return ": ".join([*names, e.strerror])
    return str(e)


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # a pipe or CI log gets a fixed width, so tables are not truncated at 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=160)
    # signal handlers can only be set from the main thread (tests may call main elsewhere)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _sigterm_handler(os.getpid()))
    try:
        return _run(a, console)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(a: argparse.Namespace, console: Console) -> int:
    cmds = {"convert": cmd_convert, "export-nir": cmd_export_nir, "simulate": cmd_simulate,
            "sweep": cmd_sweep,
            "plot": cmd_plot, "graph": cmd_graph, "build": cmd_build, "verify": cmd_verify,
            "synth": cmd_synth, "report": cmd_report, "explore": cmd_explore}
    try:
        _check_args(a)
        return cmds[a.cmd](a, console)
    except KeyboardInterrupt as e:
        if a.debug:
            raise
        # the cleanups have run on the way here; the traceback would only bury this line
        term = isinstance(e, Terminated)
        console.print("terminated" if term else "interrupted", highlight=False)
        return 128 + (signal.SIGTERM if term else signal.SIGINT)
    except (ValueError, OSError, RuntimeError) as e:
        if a.debug:
            raise
        # every user-facing error type derives from ValueError (or, VerifyError: a simulator
        # that cannot run, RuntimeError) (DatasetError, ModelLoadError, OutputError,
        # UnsupportedLayerError, ConversionError, GraphError, QuantizationError, WidthError,
        # NetFileError); print it as one clear line
        # soft_wrap: one line however long (rich would break it at the console's width)
        console.print(f"[bold red]error:[/bold red] {escape(_message(e))}", highlight=False,
                      soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
