"""The in-simulator harness of ``snngen verify``: stimulus and capture run inside the simulation.

:func:`render` writes ``templates/snn_bench.v.j2`` for a build (from its ``manifest.json``
alone, so it serves both backends); :func:`run` simulates images through it and returns the
same per-image records as the per-edge cocotb bench (:mod:`snngen.flows.cocotb_net`), which
:func:`snngen.flows.verify.compare` checks against the golden and timing models. The harness
drives the top with the per-edge bench's protocol cycle for cycle, so a record is the same
whichever bench made it (the tests compare the two).

What the harness writes (one line per item, see the template's header) is parsed by
:func:`parse_record`. Run-time values (the image file, the count, T, stalls, the seed) are
plusargs, so one compiled model serves every run. :func:`build` compiles it into a plain
simulator executable (no cocotb: Verilator at full speed) and :func:`run_model` runs it, in
parallel from several directories if wanted; :func:`run_cocotb` runs the same harness under
cocotb instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2
import numpy as np

from snngen.backends.verilog.memfile import write_mem
from snngen.flows import simrun
from snngen.resources import templates_dir

TEMPLATE = "snn_bench.v.j2"
TEST_MODULE = "snngen.flows.cocotb_harness"


def bench_name(man: dict) -> str:
    """The harness module's name: the top's with ``_bench`` (never a block's name: those start
    with ``snn_`` and end otherwise, and a top is refused if it is a block's name)."""
    return f"{man['top']}_bench"


def render(man: dict, parameters: dict[str, str]) -> str:
    """The harness Verilog for the build described by ``man`` (its manifest), passing
    ``parameters`` (name -> default value) to the top."""
    ports = man["ports"]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    return env.get_template(TEMPLATE).render(
        bench=bench_name(man), top=man["top"], parameters=sorted(parameters.items()),
        n_in=man["input"]["pixels"], input_bits=man["input"]["bits"],
        stages=len(man["stages"]), dbg_iw=man["dbg_index_width"],
        step_width=ports["dbg_step"]["width"], t_width=ports["timesteps"]["width"],
        class_width=ports["m_class"]["width"], counts_width=ports["m_counts"]["width"],
        max_timesteps=man["max_timesteps"])


def write_images(path: Path, pixels: np.ndarray, bits: int) -> None:
    """The pixels of every image, image after image, in the ``.mem`` format (one zero-padded
    hexadecimal word per line) that the harness reads with ``$fscanf``."""
    flat = np.asarray(pixels, dtype=np.int64).reshape(-1)
    if flat.size and flat.min() < 0:  # (write_mem would store a negative in two's complement)
        raise ValueError(f"pixels outside the {bits}-bit input range")
    write_mem(path, flat, bits)


def parse_record(text: str, stages: int, count_width: int, classes: int) -> list[dict]:
    """The harness's record lines -> one dict per image, as the per-edge bench writes them:
    ``start_edge``, ``step_edges`` {step: edge}, ``events`` [stage] {step: [neuron, ...]},
    ``eot_edges`` [stage] {step: edge}, ``result_edge``, ``class``, ``counts``; an image that
    deadlocked the top has ``deadlock`` {``stages``: [k, ...], ``step``, ``edge``} and no result
    (and is the last); one during which the cycle budget ran out has ``timeout`` (its edge; the
    last record, possibly without ``start_edge``)."""
    records: list[dict] = []
    rec: dict | None = None
    mask = (1 << count_width) - 1

    def begin(**fields) -> dict:
        new = {"events": [{} for _ in range(stages)], "eot_edges": [{} for _ in range(stages)],
               "step_edges": {}, **fields}
        records.append(new)
        return new
    for n, line in enumerate(text.splitlines(), start=1):
        f = line.split()
        if not f:
            continue
        kind = f[0]
        if kind == "B":
            rec = begin(start_edge=int(f[1]))
            continue
        if kind == "X":
            # the budget ran out: in the current image, or before the next one started
            if rec is None or "class" in rec:
                rec = begin()
            rec["timeout"] = int(f[1])
            continue
        if rec is None:
            raise ValueError(f"record line {n}: {line!r} before any image start")
        if kind == "S":
            rec["step_edges"][f[1]] = int(f[2])
        elif kind == "E":
            rec["events"][int(f[1])].setdefault(f[2], []).append(int(f[3]))
        elif kind == "T":
            rec["eot_edges"][int(f[1])][f[2]] = int(f[3])
        elif kind == "R":
            rec["result_edge"] = int(f[1])
        elif kind == "D":
            rec["deadlock"] = {"stages": [k for k in range(stages) if int(f[1], 16) >> k & 1],
                               "step": int(f[2]), "edge": int(f[3])}
        elif kind == "C":
            rec["class"] = int(f[1])
            c = int(f[2], 16)
            rec["counts"] = [(c >> (i * count_width)) & mask for i in range(classes)]
        else:
            raise ValueError(f"record line {n}: unknown item {line!r}")
    return records


def prepare(man: dict, parameters: dict[str, str], work: Path) -> Path:
    """Write the harness of the build into ``work`` (rewritten only on change, so Verilator
    rebuilds incrementally) and return its path."""
    work.mkdir(parents=True, exist_ok=True)
    harness = work / f"{bench_name(man)}.v"
    text = render(man, parameters)
    if not harness.is_file() or harness.read_text() != text:
        harness.write_text(text)
    return harness


def _plusargs(images: Path, out: Path, n: int, timesteps: int, gap: float, seed: int,
              max_cycles: int) -> list[str]:
    g = round(gap * 256)
    if gap > 0:
        g = max(1, min(g, 255))
    return [f"+images={images}", f"+record={out}", f"+n_images={n}",
            f"+timesteps={int(timesteps)}", f"+gap={g}", f"+seed={(seed % (2**31 - 1)) + 1}",
            f"+max_cycles={int(max_cycles)}"]


def _stage_run(run_dir: Path, man: dict, pixels: np.ndarray, seed: int | None
               ) -> tuple[Path, Path, int]:
    """Before a harness run in ``run_dir``: the image file written, the old record removed (a
    run that fails must not leave an earlier record to be read), the seed picked. Returns
    (image file, record file, seed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    images = run_dir / "images.hex"
    write_images(images, pixels, man["input"]["bits"])
    out = run_dir / "record.txt"
    if out.exists():
        out.unlink()
    return images, out, simrun.pick_seed() if seed is None else seed


def _records(out: Path, man: dict, n: int, log: Path | None = None) -> list[dict]:
    # a failed harness (a file it could not open, the cycle budget spent) stops with fewer
    # images recorded than asked for, its reason in the simulator's log
    why = f"; {log}:\n{simrun.tail(log)}" if log is not None else ""
    try:
        text = out.read_text()
    except OSError as e:
        raise simrun.SimError(f"the harness wrote no record ({e}){why}") from None
    records = parse_record(text, len(man["stages"]), man["output"]["count_width"],
                           man["output"]["classes"])
    if records and ("deadlock" in records[-1] or "timeout" in records[-1]):
        # the top deadlocked or hung: the run stopped there (verify says which image and why)
        return records
    if len(records) != n or any("class" not in r for r in records):
        done = sum("class" in r for r in records)
        raise simrun.SimError(f"the harness recorded {done} of {n} images ({out}){why}")
    return records


def build(man: dict, files: Sequence[Path], parameters: dict[str, str], sim: str,
          work: Path) -> simrun.DirectModel:
    """Compile the harness around the build into a simulator executable in ``work`` (no
    cocotb: see :func:`snngen.flows.simrun.build_direct`); :func:`run_model` runs it."""
    harness = prepare(man, parameters, work)
    return simrun.build_direct(bench_name(man), [*files, harness], parameters, sim, work,
                               verilator_waivers=man.get("verilator_waivers", ()), timing=True)


def run_model(model: simrun.DirectModel, man: dict, pixels: np.ndarray, timesteps: int,
              run_dir: Path, seed: int | None = None, gap: float = 0.0,
              max_cycles: int = 2_000_000_000) -> list[dict]:
    """Simulate ``pixels`` with a model from :func:`build` (its image file, record and log in
    ``run_dir``, so runs in different directories may go in parallel) and return the records.
    ``gap``: the probability (in 1/256 steps) that a pixel is withheld, or the result refused,
    in a cycle."""
    images, out, seed = _stage_run(run_dir, man, pixels, seed)
    args = [*_plusargs(images, out, len(pixels), timesteps, gap, seed, max_cycles), "+finish"]
    if simrun.waves_enabled():
        args.append(f"+waves={run_dir / 'waves.fst'}")
        print(f"[snngen] waves: {run_dir / 'waves.fst'}")
    simrun.run_direct(model, args, run_dir / "sim.log", seed)
    return _records(out, man, len(pixels), run_dir / "sim.log")


def run_cocotb(build_dir: Path, man: dict, files: Sequence[Path], parameters: dict[str, str],
               sim: str, pixels: np.ndarray, timesteps: int, work: Path,
               seed: int | None = None, gap: float = 0.0,
               max_cycles: int = 2_000_000_000) -> list[dict]:
    """Like :func:`build` then :func:`run_model`, but the simulator is started by cocotb
    (:mod:`snngen.flows.cocotb_harness` waits for the harness to finish): the same records,
    slower, since cocotb's runner builds Verilator with VPI and every signal public."""
    harness = prepare(man, parameters, work)
    images, out, seed = _stage_run(work, man, pixels, seed)
    simrun.run_cocotb(
        toplevel=bench_name(man), sources=[*files, harness], test_module=TEST_MODULE,
        parameters=parameters, sim=sim, build_dir=work, seed=seed,
        verilator_waivers=man.get("verilator_waivers", ()),
        plusargs=_plusargs(images, out, len(pixels), timesteps, gap, seed, max_cycles),
        timing=True)
    return _records(out, man, len(pixels))


def cycles_of(records: list[dict]) -> int:
    """Clock cycles one simulator run of ``records`` took: the 3 reset edges, then up to the
    edge after the last result (for speed figures; edges count from reset in every run)."""
    return 3 + max((r.get("result_edge", 0) for r in records), default=0) + 1

