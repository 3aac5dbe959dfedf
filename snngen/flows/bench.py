"""The in-simulator harness of ``snngen verify``: stimulus and capture run inside the simulation.

:func:`render` writes ``templates/snn_bench.v.j2`` for a build (from its ``manifest.json``
alone, so it serves both backends); :func:`run` simulates images through it and returns the
same per-image records as the per-edge cocotb bench (:mod:`snngen.flows.cocotb_net`), which
:func:`snngen.flows.verify.compare` checks against the golden and timing models. The harness
drives the top with the per-edge bench's protocol cycle for cycle, so a record is the same
whichever bench made it (the tests compare the two).

What the harness writes (one line per item, see the template's header) is parsed by
:func:`parse_record`. Run-time values (the image file, the count, T, stalls, the seed) are
plusargs, so a compiled Verilator model is reused by every run in the same work directory.
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
    ``eot_edges`` [stage] {step: edge}, ``result_edge``, ``class``, ``counts``."""
    records: list[dict] = []
    rec: dict | None = None
    mask = (1 << count_width) - 1
    for n, line in enumerate(text.splitlines(), start=1):
        f = line.split()
        if not f:
            continue
        kind = f[0]
        if kind == "B":
            rec = {"events": [{} for _ in range(stages)],
                   "eot_edges": [{} for _ in range(stages)], "step_edges": {},
                   "start_edge": int(f[1])}
            records.append(rec)
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
        elif kind == "C":
            rec["class"] = int(f[1])
            c = int(f[2], 16)
            rec["counts"] = [(c >> (i * count_width)) & mask for i in range(classes)]
        else:
            raise ValueError(f"record line {n}: unknown item {line!r}")
    return records


def run(build_dir: Path, man: dict, files: Sequence[Path], parameters: dict[str, str],
        sim: str, pixels: np.ndarray, timesteps: int, work: Path, seed: int | None = None,
        gap: float = 0.0, max_cycles: int = 2_000_000_000) -> list[dict]:
    """Simulate ``pixels`` through the harness in ``work`` (compiled once per work directory
    and reused while the build is the same) and return the records. ``gap``: the probability
    (in 1/256 steps) that a pixel is withheld, or the result refused, in a cycle."""
    work.mkdir(parents=True, exist_ok=True)
    harness = work / f"{bench_name(man)}.v"
    text = render(man, parameters)
    if not harness.is_file() or harness.read_text() != text:
        harness.write_text(text)  # rewritten only on change: Verilator rebuilds incrementally
    images = work / "images.hex"
    write_images(images, pixels, man["input"]["bits"])
    out = work / "record.txt"
    if out.exists():
        out.unlink()
    if seed is None:
        seed = simrun.pick_seed()
    g = round(gap * 256)
    if gap > 0:
        g = max(1, min(g, 255))
    plusargs = [f"+images={images}", f"+record={out}", f"+n_images={len(pixels)}",
                f"+timesteps={int(timesteps)}", f"+gap={g}", f"+seed={(seed % (2**31 - 1)) + 1}",
                f"+max_cycles={int(max_cycles)}"]
    simrun.run_cocotb(
        toplevel=bench_name(man), sources=[*files, harness], test_module=TEST_MODULE,
        parameters=parameters, sim=sim, build_dir=work, seed=seed,
        verilator_waivers=man.get("verilator_waivers", ()), plusargs=plusargs, timing=True)
    records = parse_record(out.read_text(), len(man["stages"]), man["output"]["count_width"],
                           man["output"]["classes"])
    if len(records) != len(pixels):
        raise simrun.SimError(f"the harness recorded {len(records)} of {len(pixels)} images "
                              f"({out})")
    return records


def cycles_of(records: list[dict]) -> int:
    """Clock cycles one simulator run of ``records`` took: the 3 reset edges, then up to the
    edge after the last result (for speed figures; edges count from reset in every run)."""
    return 3 + max((r.get("result_edge", 0) for r in records), default=0) + 1

