"""The ``snngen`` command line.

    snngen simulate MODEL [--weights W] [--dataset digits|mnist|FILE.npz] [--timesteps 8,16,...]
    snngen plot MODEL [--weights W] ... --out DIR
    snngen graph MODEL [--weights W] ...

MODEL is ``path/to/file.py:factory`` (with ``--weights`` a state_dict, loaded with
``torch.load(weights_only=True)``) or a TorchScript archive. Errors from bad input are printed as
one line naming the cause, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from snngen.passes import ConversionConfig


def _int_list(s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {s!r}")
    return vals


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="file.py:factory or module:factory (with --weights), or a "
                                 "TorchScript archive")
    p.add_argument("--weights", help="state_dict file (torch.save(model.state_dict()))")
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
    p.add_argument("--calib", type=int, default=1000,
                   help="calibration images for normalisation (first N training images)")


def _sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timesteps", type=_int_list, default=[8, 16, 32, 64, 128],
                   help="comma-separated T values (default 8,16,32,64,128)")
    p.add_argument("--seed", type=int, default=1, help="LFSR seed for spike input (1..2^32-1)")
    p.add_argument("--limit", type=int, help="evaluate on the first N test images only")
    p.add_argument("--batch-size", type=int, default=256)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="snngen", description="CNN -> spiking network -> hardware")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("simulate", help="ANN vs SNN accuracy and operations per T")
    _model_args(p)
    _sim_args(p)
    p.add_argument("--json", help="also write the results to this JSON file")
    p = sub.add_parser("plot", help="PNGs: accuracy vs T, accuracy vs operations, spike raster")
    _model_args(p)
    _sim_args(p)
    p.add_argument("--out", required=True, help="directory for the PNGs")
    p.add_argument("--image", type=int, default=0, help="test image for the raster (default 0)")
    p = sub.add_parser("graph", help="print the network before and after conversion")
    _model_args(p)
    return ap


def _config(a: argparse.Namespace) -> ConversionConfig:
    return ConversionConfig(percentile=a.percentile, channelwise=a.channelwise, v_init=a.v_init,
                            v_min=a.v_min,
                            readout=a.readout, input=a.input_mode)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _run_eval(a: argparse.Namespace, console: Console):
    from snngen.workflow import evaluate, load_experiment

    with console.status("converting"):
        exp = load_experiment(a.model, a.weights, a.dataset, a.data_dir, _config(a), a.calib)
    n = len(exp.data.test) if a.limit is None else min(a.limit, len(exp.data.test))
    with _progress(console) as prog:
        task = prog.add_task(f"simulating T={max(a.timesteps)}", total=n)
        rep = evaluate(exp, a.timesteps, a.seed, a.limit, a.batch_size,
                       progress=lambda k: prog.advance(task, k))
    return exp, rep


def print_report(rep, console: Console) -> None:
    t = Table(title=f"{rep.model} on {rep.dataset}: {rep.images} test images, "
                    f"{rep.input_mode} input")
    for col in ("T", "ANN acc %", "SNN acc %", "SNN ops/img", "ANN MACs/img", "ops ratio",
                "spikes/img"):
        t.add_column(col, justify="right")
    for r in rep.rows:
        t.add_row(str(r.timesteps), f"{100 * rep.ann_accuracy:.2f}", f"{100 * r.snn_accuracy:.2f}",
                  f"{r.snn_ops:,.0f}", f"{rep.ann_macs:,}", f"{r.ops_ratio:.2f}",
                  f"{r.spikes:,.0f}")
    console.print(t)
    c = rep.config
    console.print(f"protocol: {rep.protocol}")
    console.print(f"conversion: percentile {c['percentile']}, "
                  f"{'channel' if c['channelwise'] else 'layer'}-wise, v_init {c['v_init']}, "
                  f"readout {c['readout']}, calibration on {c['calib_images']} training images; "
                  f"simulated in {rep.sim_seconds:.1f} s")


def write_json_atomic(path: str | Path, obj) -> None:
    """Write JSON next to ``path`` and rename, so an interrupted run leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_simulate(a: argparse.Namespace, console: Console) -> int:
    _, rep = _run_eval(a, console)
    print_report(rep, console)
    if a.json:
        write_json_atomic(a.json, rep.to_dict())
        console.print(f"wrote {a.json}")
    return 0


def cmd_plot(a: argparse.Namespace, console: Console) -> int:
    from snngen import plots, sim

    exp, rep = _run_eval(a, console)
    test = exp.data.test
    if not 0 <= a.image < len(test):
        raise ValueError(f"--image {a.image} is outside the test split (0..{len(test) - 1})")
    trace = sim.simulate(exp.snn, test.x[a.image:a.image + 1], [max(a.timesteps)],
                         input_mode=a.input_mode, seed=a.seed, trace=True)
    for f in plots.write_all(rep, exp.snn, trace, int(test.y[a.image]), a.out):
        console.print(f"wrote {f}")
    return 0


def cmd_graph(a: argparse.Namespace, console: Console) -> int:
    from snngen.workflow import load_experiment

    exp = load_experiment(a.model, a.weights, a.dataset, a.data_dir, _config(a), a.calib)
    console.print("[bold]canonical ANN[/bold]")
    console.print(exp.ann.summary(), markup=False, highlight=False)
    console.print("[bold]spiking network[/bold]")
    console.print(exp.snn.summary(), markup=False, highlight=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # a pipe or CI log gets a fixed width, so tables are not truncated at 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=120)
    cmds = {"simulate": cmd_simulate, "plot": cmd_plot, "graph": cmd_graph}
    try:
        return cmds[a.cmd](a, console)
    except (ValueError, OSError) as e:
        # every user-facing error type derives from ValueError (DatasetError, ModelLoadError,
        # UnsupportedLayerError, ConversionError, GraphError); print it as one clear line
        console.print(f"[bold red]error:[/bold red] {escape(str(e))}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
