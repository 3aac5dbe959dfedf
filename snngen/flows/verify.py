"""Whole-network verification of a build: ``snngen verify DIR --sim icarus|verilator``.

It simulates the build's RTL (cocotb, :mod:`snngen.flows.cocotb_net`) on some images and compares,
with ``==`` and nothing else,

* every stage's spike events of every timestep with the golden model's (``snngen.golden.model``,
  run on the build's own ``net.snn``),
* the output spike counts and the class,
* the cycles every stage spends on every timestep, the start of every pipeline step, and the
  latency of the inference, with the timing model (``snngen.hwmodel.timing``).

The first difference is reported with its image, stage, timestep and neuron.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snngen.fixedpoint import netfile
from snngen.flows import bench, simrun
from snngen.golden import model as golden
from snngen.hwmodel import timing
from snngen.hwmodel.build import load_manifest
from snngen.hwmodel.plan import HwPlan, plan


class VerifyError(RuntimeError):
    """The simulation could not run (missing simulator, build failure); not a mismatch."""


@dataclass
class ImageResult:
    image: int
    golden_class: int
    rtl_class: int | None
    spikes: list[int]                      # golden spikes per stage (all timesteps)
    predicted_cycles: int
    rtl_cycles: int | None
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass
class VerifyReport:
    build: str
    sim: str
    timesteps: int
    images: list[ImageResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.images)

    def first_mismatch(self) -> str | None:
        for r in self.images:
            if r.mismatches:
                return r.mismatches[0]
        return None


def plan_of_build(build_dir: str | os.PathLike) -> tuple[dict, object, HwPlan]:
    """The manifest, the network and the hardware plan of a build directory."""
    man = load_manifest(build_dir)
    net = netfile.load(Path(build_dir) / "net.snn")
    lanes = {s["name"]: s["lanes"] for s in man["stages"] if "lanes" in s}
    depths = {s["name"]: s["fifo_depth"] for s in man["stages"] if "fifo_depth" in s}
    return man, net, plan(net, lanes=lanes, fifo_depth=depths)


def expected(net, p: HwPlan, pixels: np.ndarray, timesteps: int) -> tuple[object, list]:
    """The golden run (with rasters) and the timing prediction of every image."""
    res = golden.run(net.graph, pixels, (timesteps,), trace=True)
    timings = []
    for i in range(len(pixels)):
        ins = timing.stage_inputs(p, res.raster, i, timesteps)
        timings.append(timing.predict(p, pixels[i], ins, timesteps))
    return res, timings


def _parameters(man: dict, build_dir: Path) -> dict[str, str]:
    # the top's parameters (MEM_DIR of a Verilog build, relative to the build directory; an
    # Amaranth build has none: its memories hold their contents)
    return {name: str(build_dir / value) + ("/" if value.endswith("/") else "")
            for name, value in man.get("parameters", {}).items()}


BENCHES = ("harness", "edges")


def simulate(build_dir: str | os.PathLike, sim: str, pixels: np.ndarray, timesteps: int,
             work_dir: str | os.PathLike | None = None, seed: int | None = None,
             gap: float = 0.0, bench_kind: str = "harness") -> list[dict]:
    """Run the build's RTL on ``pixels`` (n, ...) and return the bench's records. With ``gap``
    > 0 the bench withholds pixels and refuses the result in random cycles.

    ``bench_kind``: ``"harness"`` (default) runs the in-simulator harness
    (:mod:`snngen.flows.bench`, at the simulator's speed); ``"edges"`` the per-edge cocotb
    bench (:mod:`snngen.flows.cocotb_net`, Python at every clock edge). Both follow the same
    protocol and give the same records."""
    if bench_kind not in BENCHES:
        raise ValueError(f"bench must be one of {BENCHES}, got {bench_kind!r}")
    build_dir = Path(build_dir).resolve()
    man = load_manifest(build_dir)
    files = [build_dir / f for f in man["files"]]
    work = Path(work_dir) if work_dir is not None else build_dir / "sim" / sim
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if bench_kind == "harness":
        try:
            return bench.run(build_dir, man, files, _parameters(man, build_dir), sim, pixels,
                             timesteps, work, seed=seed, gap=gap)
        except simrun.SimError as e:
            raise VerifyError(str(e)) from None
    out = work / "record.json"
    if out.exists():
        out.unlink()
    cfg = {
        "images": [[int(v) for v in np.asarray(x).reshape(-1)] for x in pixels],
        "timesteps": int(timesteps), "stages": len(man["stages"]),
        "index_width": man["dbg_index_width"], "count_width": man["output"]["count_width"],
        "classes": man["output"]["classes"], "out": str(out), "gap": float(gap),
    }
    cfg_file = work / "bench.json"
    cfg_file.write_text(json.dumps(cfg))
    try:
        simrun.run_cocotb(
            toplevel=man["top"], sources=files, test_module="snngen.flows.cocotb_net",
            parameters=_parameters(man, build_dir), sim=sim, build_dir=work,
            extra_env={"SNNGEN_NET_BENCH": str(cfg_file)}, seed=seed,
            verilator_waivers=man.get("verilator_waivers", ()))
    except simrun.SimError as e:
        raise VerifyError(str(e)) from None
    return json.loads(out.read_text())


def _first_diff(a: list[int], b: list[int]) -> str:
    for j, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"event {j}: RTL neuron {x}, golden neuron {y}"
    if len(a) > len(b):
        return f"RTL has extra events from neuron {a[len(b)]} on"
    return f"RTL is missing the events from golden neuron {b[len(a)]} on"


def compare(p: HwPlan, res, timings: list[timing.Timing], records: list[dict],
            timesteps: int, stalls: bool = False) -> list[ImageResult]:
    """Every spike, count, class and cycle count of the records against the models. With
    ``stalls`` (pixels withheld, results refused) the load phase and the result handshake take
    longer than predicted, so the step starts and the latency are not compared; every stage's
    cycles per timestep still are."""
    out = []
    out_name = p.output.name
    for i, (rec, tm) in enumerate(zip(records, timings, strict=True)):
        mism: list[str] = []
        spikes = []
        start = rec["start_edge"]
        for k, st in enumerate(p.stages):
            r = res.raster[st.name][:timesteps, i].reshape(timesteps, -1)
            spikes.append(int(r.sum()))
            for t in range(1, timesteps + 1):
                s = t + k
                want = [int(n) for n in np.flatnonzero(r[t - 1])]
                got = rec["events"][k].get(str(s), [])
                if got != want:
                    mism.append(f"image {i}, stage {k} ({st.kind} {st.name}), timestep {t}: "
                                f"{_first_diff(got, want)}")
                go = rec["step_edges"].get(str(s))
                done = rec["eot_edges"][k].get(str(s))
                if go is None or done is None:
                    mism.append(f"image {i}, stage {k} ({st.name}), timestep {t}: no "
                                f"{'step start' if go is None else 'end of timestep'} seen")
                elif done - go != tm.stage[k][t]:
                    mism.append(f"image {i}, stage {k} ({st.name}), timestep {t}: "
                                f"{done - go} cycles, timing model {tm.stage[k][t]}")
        for s, edge in enumerate(tm.step_edges, start=1):
            got = rec["step_edges"].get(str(s))
            if stalls and got is not None:
                break
            if got is None or got - start != edge:
                mism.append(f"image {i}: step {s} started at cycle "
                            f"{None if got is None else got - start}, timing model {edge}")
                break
        want_counts = [int(c) for c in res.final[out_name]["count"][i].reshape(-1)]
        want_class = int(res.predictions[timesteps][i])
        if p.readout == "count" and rec.get("counts") != want_counts:
            mism.append(f"image {i}: output counts {rec.get('counts')}, golden {want_counts}")
        if rec.get("class") != want_class:
            mism.append(f"image {i}: class {rec.get('class')}, golden {want_class}")
        latency = rec["result_edge"] - start if "result_edge" in rec else None
        if not stalls and latency != tm.latency:
            mism.append(f"image {i}: latency {latency} cycles, timing model {tm.latency}")
        out.append(ImageResult(i, want_class, rec.get("class"), spikes, tm.latency, latency,
                               mism))
    return out


def verify(build_dir: str | os.PathLike, sim: str, pixels: np.ndarray, timesteps: int,
           work_dir: str | os.PathLike | None = None, seed: int | None = None,
           gap: float = 0.0, bench_kind: str = "harness") -> VerifyReport:
    """Simulate and compare; see the module doc and :func:`simulate` (``gap``)."""
    _, net, p = plan_of_build(build_dir)
    if not 1 <= timesteps <= p.max_timesteps:
        raise VerifyError(f"timesteps must be 1 .. {p.max_timesteps} (the proven maximum of "
                          f"this network), got {timesteps}")
    pixels = np.asarray(pixels, dtype=np.int64)
    if pixels.shape[1:] != tuple(p.input_shape):
        raise VerifyError(f"images of shape {pixels.shape[1:]}, the build expects "
                          f"{tuple(p.input_shape)}")
    res, timings = expected(net, p, pixels, timesteps)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="snngen-verify-") as tmp:
            records = simulate(build_dir, sim, pixels, timesteps, Path(tmp) / sim, seed, gap,
                               bench_kind)
    else:
        records = simulate(build_dir, sim, pixels, timesteps, work_dir, seed, gap, bench_kind)
    return VerifyReport(str(build_dir), sim, timesteps,
                        compare(p, res, timings, records, timesteps, stalls=gap > 0))


RECORD = "verify.json"


def record(build_dir: str | os.PathLike, rep: VerifyReport, dataset: str, first: int) -> Path:
    """Record the result of a run in ``build_dir/verify.json`` (one entry per simulator, the
    latest run of each; written atomically), for ``snngen report``."""
    from snngen import atomic

    path = Path(build_dir) / RECORD
    man = load_manifest(build_dir)
    try:
        old = json.loads(path.read_text())
        runs = old["runs"] if old.get("net_sha256") == man["net_sha256"] else {}
    except (OSError, ValueError, KeyError, TypeError):
        runs = {}
    runs[rep.sim] = {
        "sim": rep.sim, "dataset": dataset, "first": first, "images": len(rep.images),
        "timesteps": rep.timesteps, "passed": rep.ok,
        "images_passed": sum(r.ok for r in rep.images),
        "cycles": {"predicted": [r.predicted_cycles for r in rep.images],
                   "rtl": [r.rtl_cycles for r in rep.images]},
        "classes": {"golden": [r.golden_class for r in rep.images],
                    "rtl": [r.rtl_class for r in rep.images]},
        "first_mismatch": rep.first_mismatch(),
    }
    doc = {"format": "snngen-verify", "version": 1, "net_sha256": man["net_sha256"],
           "runs": dict(sorted(runs.items()))}
    atomic.write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return path
