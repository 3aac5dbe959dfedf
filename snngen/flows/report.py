"""One self-contained HTML page per build directory: ``snngen report DIR``.

``DIR/report.html`` shows, from what the build directory holds and what the golden model
computes:

* the network and its formats: the pipeline stages of ``manifest.json`` (shapes, lanes,
  register widths, thresholds) and the fixed-point formats of ``net.snn``;
* accuracy vs T and vs operations: the fixed-point golden model on a dataset (``--dataset``,
  ``--data-dir``), through :func:`snngen.flows.workflow.evaluate` as ``snngen simulate`` does; with
  ``--model``/``--weights`` (the model the network was converted from, checked by digest) also
  the ANN and the float SNN. Without a dataset the page says that accuracy was not measured;
* memory by stage (the manifest's resources) and the manifest's predicted cycles;
* synthesis: every ``DIR/synth/<device>/synth.json`` that ``snngen synth`` wrote (LUTs, FFs,
  block RAMs, DSPs, Fmax, latency, images/s, which memories became block RAM), or a line saying
  synthesis was not run, with the command that runs it;
* a spike raster of one test image (golden model);
* verification: the runs ``snngen verify`` recorded in ``DIR/verify.json``.

The PNGs are embedded as base64 data URIs and the page has no scripts and no external style
sheets, so it is viewable offline. The same build directory and options give a byte-identical
page (matplotlib's Agg backend without metadata, no timestamps, no absolute paths beyond what
the user typed); it is written through a temporary file and renamed into place.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path

import jinja2

from snngen import atomic

REPORT = "report.html"
DEFAULT_TIMESTEPS = (8, 16, 32, 64, 128)
DEVICE_HINT = "ice40-up5k"
_BITS_ORDER = ("membrane_bits", "k_bits", "weight_rom_bits", "accumulator_bits",
               "count_ram_bits", "fifo_bits")


def default_timesteps(max_timesteps: int) -> list[int]:
    """The T values of ``snngen simulate`` that the network's widths were proven for."""
    ts = [t for t in DEFAULT_TIMESTEPS if t <= max_timesteps]
    return ts or [max_timesteps]


# ---------------------------------------------------------------------------------------------
# what the build directory holds
# ---------------------------------------------------------------------------------------------

def synth_from_dict(d: dict):
    """A :class:`snngen.flows.synth.SynthReport` from its ``synth.json`` (unknown keys ignored)."""
    from snngen.flows import synth

    def pick(cls, v: dict) -> dict:
        names = {f.name for f in fields(cls)}
        return {k: val for k, val in v.items() if k in names}

    args = pick(synth.SynthReport, d)
    args["memories"] = [synth.Memory(**pick(synth.Memory, m)) for m in d.get("memories", [])]
    cp = d.get("critical_path")
    args["critical_path"] = None if cp is None else \
        synth.CriticalPath(**pick(synth.CriticalPath, cp))
    return synth.SynthReport(**args)


def synth_files(build: Path) -> list[Path]:
    """Every synthesis report of the build: ``synth/<device>/synth.json`` by device name, and
    ``synth.json`` at the top if one was put there."""
    out = sorted(p for p in (build / "synth").glob("*/synth.json") if p.is_file())
    if (build / "synth.json").is_file():
        out.insert(0, build / "synth.json")
    return out


def load_synth(build: Path) -> list:
    reports = []
    for f in synth_files(build):
        try:
            reports.append(synth_from_dict(json.loads(f.read_text())))
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{f}: not a synth.json written by `snngen synth` ({e})") from None
    return reports


def load_verify(build: Path, man: dict) -> tuple[list[dict], bool]:
    """The recorded verification runs (by simulator) and whether they are of this build."""
    from snngen.flows.verify import RECORD

    path = build / RECORD
    if not path.is_file():
        return [], True
    try:
        doc = json.loads(path.read_text())
        runs = [doc["runs"][k] for k in sorted(doc["runs"])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a verify.json written by `snngen verify` ({e})") from None
    return runs, doc.get("net_sha256") == man.get("net_sha256")


# ---------------------------------------------------------------------------------------------
# golden-model runs
# ---------------------------------------------------------------------------------------------

def _check_model(net, model: str, weights: str | None) -> None:
    """Refuse a model or weights file other than the one the network was converted from."""
    from snngen.flows.workflow import _digest

    file = model.rpartition(":")[0] if ":" in model else model
    for what, path, key in (("model", file, "model_digest"),
                            ("weights", weights, "weights_digest")):
        want = net.source.get(key)
        got = _digest(path)
        if want and got and want != got:
            raise ValueError(f"{what} {path} is not the file the network was converted from "
                             f"(digest {got[:19]}..., the network records {want[:19]}...)")


def experiment(build: Path, net, dataset: str, data_dir: str | None, model: str | None = None,
               weights: str | None = None):
    """The build's network on ``dataset``: fixed point only, or with ``model`` also the ANN and
    the float SNN (converted with the network's own conversion settings)."""
    from snngen.convert.passes import ConversionConfig
    from snngen.flows.workflow import load_experiment, load_fixed_experiment

    if model is None:
        return load_fixed_experiment(str(build / "net.snn"), dataset, data_dir)
    _check_model(net, model, weights)
    conv = {k: v for k, v in net.conversion.items() if k in ConversionConfig.__dataclass_fields__}
    calib = int(net.source.get("calib_images") or 1000)
    exp = load_experiment(model, weights, dataset, data_dir, ConversionConfig(**conv), calib)
    return replace(exp, fixed=net)


def raster_png(net, x, label: int, timesteps: int) -> tuple[bytes, int]:
    """The spike raster of one image (intensities ``x`` of shape (1, ...)) through the golden
    model, as PNG bytes, and the class it predicts."""
    from snngen.flows import plots
    from snngen.golden import sim
    trace = sim.simulate(net.graph, x, [timesteps], input_mode=net.input_mode, trace=True,
                         check=net.formats)
    with tempfile.TemporaryDirectory(prefix="snngen-report-") as tmp:
        png = plots.raster(net.graph, trace, label, Path(tmp) / "raster.png").read_bytes()
    return png, int(trace.predictions[timesteps][0])


def accuracy_pngs(rep) -> dict[str, bytes]:
    from snngen.flows import plots

    with tempfile.TemporaryDirectory(prefix="snngen-report-") as tmp:
        return {"time": plots.accuracy_vs_time(rep, Path(tmp) / "t.png").read_bytes(),
                "ops": plots.accuracy_vs_ops(rep, Path(tmp) / "o.png").read_bytes()}


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------

def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _n(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}" if v != int(v) else f"{int(v):,}"
    return f"{v:,}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def _synapse(net, st: dict) -> str:
    from snngen.ir.graph import Conv2d

    g = st["geometry"]
    syn = st["synapse"]
    if syn in net.graph and isinstance(net.graph[syn].op, Conv2d):
        return (f"{st['synapse']}: conv {g['KH']}x{g['KW']}, stride {g['SH']}, padding "
                f"{g['PH']}, {g['CIN']}x{g['H']}x{g['W']} -> {g['COUT']}x{g['OH']}x{g['OW']}")
    return f"{st['synapse']}: dense {g['CIN'] * g['H'] * g['W']} -> {st['neurons']}"


def stage_rows(man: dict, net) -> list[list[str]]:
    rows = []
    for st in man["stages"]:
        if st["kind"] == "pool":
            shape = "x".join(map(str, st["out_shape"]))
            what = (f"{st['source']}: max-pool gate {st['kernel'][0]}x{st['kernel'][1]}, "
                    f"stride {st['stride'][0]}")
        else:
            shape = "x".join(map(str, st["shape"]))
            what = _synapse(net, st)
        rows.append([str(st["stage"]), st["name"], st["kind"], what, shape, _n(st["neurons"]),
                     _n(st.get("lanes")),
                     f"int{st['weight_width']}" if "weight_width" in st else "-",
                     f"int{st['membrane_width']}" if "membrane_width" in st else "-",
                     f"int{st['k_width']}" if "k_width" in st else "-",
                     _n(st.get("threshold")), _n(st.get("v0")), _n(st.get("v_min")),
                     _n(st.get("fifo_depth"))])
    return rows


def format_rows(net) -> list[list[str]]:
    quant = {q.layer: q for q in net.quant}
    rows = []
    for name, f in net.formats.items():
        n = net.graph[name]
        rows.append([name, "x".join(map(str, n.shape)), str(f.weight),
                     "-" if f.bias is None else str(f.bias), _n(f.threshold), _n(f.v0),
                     _n(f.v_min), f"{f.current[0]:,}..{f.current[1]:,}", str(f.membrane),
                     f"{f.membrane_range[0]:,}..{f.membrane_range[1]:,}",
                     "-" if f.accumulator is None else str(f.accumulator),
                     f"{100 * quant[name].weight_error:.2f}"])
    return rows


def resource_table(man: dict) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in _BITS_ORDER if any(k in r for r in man["resources"])]
    keys += sorted({k for r in man["resources"] for k in r
                    if k.endswith("_bits") and k not in keys})
    head = ["stage", "name", "kind", *[k.removesuffix("_bits").replace("_", " ") + " bits"
                                       for k in keys], "total bits"]
    rows, totals = [], [0] * len(keys)
    for r in man["resources"]:
        vals = [r.get(k) for k in keys]
        for i, v in enumerate(vals):
            totals[i] += v or 0
        rows.append([str(r["stage"]), r["name"], r["kind"], *[_n(v) for v in vals],
                     _n(sum(v or 0 for v in vals))])
    rows.append(["all", "", "", *[_n(t) for t in totals], _n(sum(totals))])
    return head, rows


def synth_summary(s) -> list[str]:
    res = s.resources

    def used(key: str) -> str:
        r = res.get(key)
        if not r:
            return "-"
        u = r.get("used")
        return f"{_n(u)} / {_n(r.get('available'))}"

    bram = [m for m in s.memories if m.mapped == "bram"]
    return [s.device, "yes" if s.fits else "no", used("luts"), used("ffs"), used("brams"),
            used("dsps"), "-" if s.fmax_mhz is None else f"{s.fmax_mhz:.2f}",
            "-" if s.cycles_mean is None else _n(s.cycles_mean),
            "-" if s.latency_us is None else f"{s.latency_us:,.3f}",
            "-" if s.images_per_s is None else f"{s.images_per_s:,.2f}",
            f"{len(bram)} of {len(s.memories)}"]


def accuracy_rows(rep) -> list[list[str]]:
    rows = []
    for r in rep.rows:
        ratio = r.fixed_ops / rep.ann_macs if r.fixed_ops is not None and rep.ann_macs else None
        rows.append([str(r.timesteps), _pct(rep.ann_accuracy), _pct(r.snn_accuracy),
                     _pct(r.fixed_accuracy), _n(rep.ann_macs),
                     "-" if r.snn_ops is None else f"{r.snn_ops:,.0f}",
                     "-" if r.fixed_ops is None else f"{r.fixed_ops:,.0f}",
                     "-" if ratio is None else f"{ratio:.2f}"])
    return rows


def verify_rows(runs: Sequence[dict]) -> list[list[str]]:
    rows = []
    for r in runs:
        pred = r["cycles"]["predicted"]
        rtl = [c for c in r["cycles"]["rtl"] if c is not None]
        last = r["first"] + r["images"] - 1
        rows.append([r["sim"], r["dataset"], f"{r['first']}..{last}", str(r["timesteps"]),
                     "passed" if r["passed"] else "FAILED",
                     f"{r['images_passed']} / {r['images']}",
                     _n(round(sum(pred) / len(pred), 1)) if pred else "-",
                     _n(round(sum(rtl) / len(rtl), 1)) if rtl else "-",
                     r.get("first_mismatch") or ""])
    return rows


def _env() -> jinja2.Environment:
    from snngen.resources import templates_dir

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              undefined=jinja2.StrictUndefined, autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(build_dir: str, man: dict, net, *, rep=None, acc_png: dict | None = None,
           dataset_note: str = "", raster: dict | None = None, synth_reports: Sequence = (),
           verify_runs: Sequence[dict] = (), verify_current: bool = True) -> str:
    """The page's HTML (see the module doc); ``build_dir`` as the user named it."""
    from snngen.flows import synth

    res_head, res_rows = resource_table(man)
    predicted = man.get("predicted", [])
    cyc = [d["cycles"] for d in predicted]
    ctx = {
        "dir": build_dir, "man": man, "source": net.source, "config": net.config.to_dict(),
        "conversion": dict(sorted(net.conversion.items())),
        "stages": stage_rows(man, net), "formats": format_rows(net),
        "res_head": res_head, "res_rows": res_rows,
        "predicted": [[d.get("dataset", "-"), str(d["test_image"]), str(d["timesteps"]),
                       str(d["class"]), _n(d["cycles"]), _n(d.get("ideal_cycles")),
                       _n(d.get("pipelined_bound"))]
                      for d in predicted],
        "predicted_mean": _n(round(sum(cyc) / len(cyc), 1)) if cyc else None,
        "rep": rep, "acc_rows": accuracy_rows(rep) if rep is not None else [],
        "acc_png": {k: data_uri(v) for k, v in (acc_png or {}).items()},
        "dataset_note": dataset_note,
        "raster": raster and ({**raster, "uri": data_uri(raster["png"])} if "png" in raster
                              else raster),
        "synth": [{"r": s, "summary": synth_summary(s), "table": synth.format_table(s),
                   "memories": [[m.name, m.mapped, m.primitive, _n(m.cells)]
                                for m in s.memories]} for s in synth_reports],
        "synth_command": f"snngen synth {build_dir} --device {DEVICE_HINT}",
        "verify": verify_rows(verify_runs), "verify_current": verify_current,
        "verify_command": f"snngen verify {build_dir} --sim verilator",
    }
    return _env().get_template("report.html.j2").render(**ctx)


def generate(build_dir: str | Path, *, dataset: str | None = None, data_dir: str | None = None,
             model: str | None = None, weights: str | None = None,
             timesteps: Sequence[int] | None = None, limit: int | None = None, image: int = 0,
             batch_size: int = 256, engine: str = "fast",
             progress: Callable[[int], None] | None = None) -> Path:
    """Write ``build_dir/report.html`` (see the module doc) and return its path."""
    from snngen.backends.verilog.writer import load_manifest
    from snngen.data import load_dataset, split
    from snngen.fixedpoint import netfile
    from snngen.flows.workflow import evaluate

    build = Path(build_dir)
    man = load_manifest(build)
    net = netfile.load(build / "net.snn")
    t_max = int(net.config.max_timesteps)
    rep = acc_png = data = None
    note = ""
    if dataset is not None:
        ts = list(timesteps) if timesteps else default_timesteps(t_max)
        exp = experiment(build, net, dataset, data_dir, model, weights)
        rep = evaluate(exp, ts, limit=limit, batch_size=batch_size, progress=progress,
                       engine=engine)
        acc_png = accuracy_pngs(rep)
        data = exp.data
    else:
        if model is not None:
            raise ValueError("--model needs --dataset (the data to measure accuracy on)")
        home = net.source.get("dataset") or "digits"
        note = (f"No dataset was given, so accuracy was not measured. Run snngen report "
                f"{build_dir} --dataset {home}{' --data-dir DIR' if home == 'mnist' else ''} "
                f"(the dataset the network was calibrated on; add --model and --weights for "
                f"the ANN and float SNN columns).")
    # the raster: the given dataset, else the one the network was calibrated on if it loads
    name = dataset or net.source.get("dataset")
    raster = {"error": "no example image (no dataset given and the network names none)"}
    if data is None and name:
        try:
            data = split(load_dataset(name, data_dir))
        except (ValueError, OSError) as e:
            raster = {"error": f"no example image ({e})"}
    if data is not None:
        test = data.test
        if not 0 <= image < len(test):
            raise ValueError(f"--image {image} is outside the test split (0..{len(test) - 1})")
        pred_t = [d["timesteps"] for d in man.get("predicted", [])]
        t = min(pred_t[0] if pred_t else 16, t_max)
        png, cls = raster_png(net, test.x[image:image + 1], int(test.y[image]), t)
        raster = {"png": png, "dataset": name, "image": image, "label": int(test.y[image]),
                  "predicted": cls, "timesteps": t}
    runs, current = load_verify(build, man)
    html = render(str(build_dir), man, net, rep=rep, acc_png=acc_png, dataset_note=note,
                  raster=raster, synth_reports=load_synth(build), verify_runs=runs,
                  verify_current=current)
    out = build / REPORT
    atomic.write_bytes(out, html.encode("utf-8"))
    return out
