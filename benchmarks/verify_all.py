"""Whole-split regressions: every evaluation image of every example through the RTL.

    make verify-all   # = python benchmarks/verify_all.py --data-dir ../shared/data/mnist
    python benchmarks/verify_all.py [--only digits,mnist_lenet,mnist_mlp] [--backends ...]
                                    [--jobs 2] [--icarus-images 40,8,100] [--work DIR]

For each example the script does what a user does, with the commands of the README: `snngen
convert` (the example's options), `snngen build` with each backend (`--target verilog` and
`--target amaranth`, the example's lanes), then `snngen verify --images all --jobs J` on
Verilator (every image of the evaluation split) and `snngen verify --images 0:N` on Icarus (the
first N images: Icarus is about 100 times slower), reading what each run recorded in the
build's verify.json: images, passed, the first mismatch, cycles per image, cycles simulated,
simulator seconds, cycles per second and the compile time of the harness's executable. Every
spike of every stage and timestep, the counts, the class and every cycle count are compared with
`==` against the golden and timing models.

| example | convert | lanes | T | evaluation split |
| --- | --- | ---: | ---: | --- |
| digits | 8-bit weights | 2 | 16 | scikit-learn digits 1,437-1,796 (360 images) |
| mnist_lenet | 8-bit weights | 4 | 16 | MNIST test set 8,000-9,999 (2,000 images) |
| mnist_mlp | 4-bit weights | 2 | 4 | MNIST test set 8,000-9,999 (2,000 images) |

MNIST: only the official test set is available; the networks were trained on its first 8,000
images and are verified on the last 2,000. Results: `benchmarks/results/verify.json` and a
markdown table on stdout (the one in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import MNIST_DIR, RESULTS, ROOT

SNNGEN = str(Path(sys.executable).parent / "snngen")
# example -> (convert arguments, lanes, T)
EXAMPLES: dict[str, tuple[list[str], int, int]] = {
    "digits": (["examples/digits/model.py:make_model", "--weights", "examples/digits/weights.pt",
                "--dataset", "digits"], 2, 16),
    "mnist_lenet": (["examples/mnist_lenet/model.py:make_model", "--weights",
                     "examples/mnist_lenet/weights.pt", "--dataset", "mnist"], 4, 16),
    "mnist_mlp": (["examples/mnist_mlp/model.py:make_model", "--weights",
                   "examples/mnist_mlp/weights.pt", "--dataset", "mnist", "--weight-bits", "4"],
                  2, 4),
}
ICARUS_IMAGES = {"digits": 40, "mnist_lenet": 8, "mnist_mlp": 100}


def sh(argv: list[str], log) -> None:
    """Run a command from the repository root, its output to ``log``; fail loudly."""
    print("$ " + " ".join(argv), file=log, flush=True)
    r = subprocess.run(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if r.returncode not in (0, 1):  # 1: verified with mismatches (recorded, reported below)
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(argv)}")


def data_args(example: str, data_dir: str) -> list[str]:
    return [] if example == "digits" else ["--data-dir", data_dir]


def _recorded(bdir: Path, net: Path, t: int) -> dict[str, dict]:
    """With --resume: the runs a build directory already recorded for this network file and T
    (simulator -> run), so an interrupted regression does not redo them."""
    try:
        doc = json.loads((bdir / "verify.json").read_text())
        if (bdir / "net.snn").read_bytes() != net.read_bytes():  # the build's own copy
            return {}
    except (OSError, ValueError):
        return {}
    return {sim: r for sim, r in doc.get("runs", {}).items()
            if r.get("timesteps") == t and "simulation" in r}


def run(a: argparse.Namespace) -> list[dict]:
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(work / "verify_all.log", "a") as log:
        for example in a.only:
            conv, lanes, t = EXAMPLES[example]
            net = work / f"{example}.snn"
            # --force: the script's own output of an earlier run is replaced
            sh([SNNGEN, "convert", *conv, *data_args(example, a.data_dir), "-o", str(net),
                "--force"], log)
            for backend in a.backends:
                bdir = work / f"{example}_{backend}"
                n_icarus = a.icarus_images.get(example, ICARUS_IMAGES[example])
                plan_ = [(sim, images) for sim, images in
                         (("verilator", "all"), ("icarus", f"0:{n_icarus}"))
                         if sim == "verilator" or n_icarus > 0]
                kept = _recorded(bdir, net, t) if a.resume else {}
                if not all(sim in kept for sim, _ in plan_):
                    sh([SNNGEN, "build", str(net), "--target", backend, "-o", str(bdir),
                        "--lanes", str(lanes), "--timesteps", str(t), "--force",
                        *data_args(example, a.data_dir)], log)
                    kept = {}
                for sim, images in plan_:
                    t0 = time.perf_counter()
                    if sim not in kept:
                        sh([SNNGEN, "verify", str(bdir), "--sim", sim, "--images", images,
                            "--timesteps", str(t), "--jobs", str(a.jobs),
                            *data_args(example, a.data_dir)], log)
                    rec = json.loads((bdir / "verify.json").read_text())["runs"][sim]
                    rtl = rec["cycles"]["rtl"]
                    s = rec["simulation"]
                    row = {"example": example, "backend": backend, "sim": sim, "lanes": lanes,
                           "timesteps": t, "first": rec["first"], "images": rec["images"],
                           "images_passed": rec["images_passed"], "passed": rec["passed"],
                           "first_mismatch": rec["first_mismatch"],
                           "cycles_per_image": {"mean": sum(rtl) / len(rtl), "min": min(rtl),
                                                "max": max(rtl)},
                           "accuracy": sum(g == r for g, r in zip(
                               rec["classes"]["golden"], rec["classes"]["rtl"], strict=True))
                           / len(rtl),
                           "simulation": s,
                           "command_seconds": (round(time.perf_counter() - t0, 1)
                                               if sim not in kept else None)}
                    rows.append(row)
                    print(f"{example} {backend} {sim}: {row['images_passed']}/{row['images']} "
                          f"images verified, {s['cycles_simulated']:,} cycles, "
                          f"{s['cycles_per_second'] or 0:,} cycles/s, {s['wall_seconds']} s"
                          + (" (recorded before)" if sim in kept else ""),
                          file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| example | backend | simulator | images | verified | cycles / image (mean) | "
             "cycles simulated | cycles/s per simulator | compile s | jobs | wall s |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        s = r["simulation"]
        last = r["first"] + r["images"] - 1
        lines.append(
            f"| {r['example']} (T={r['timesteps']}, {r['lanes']} lanes) | {r['backend']} | "
            f"{r['sim']} | {r['first']}-{last} ({r['images']:,}) | "
            f"{r['images_passed']:,} | {r['cycles_per_image']['mean']:,.0f} | "
            f"{s['cycles_simulated']:,} | {s['cycles_per_second'] or 0:,} | "
            f"{s.get('build_seconds', 0):.1f} | {s['jobs']} | {s['wall_seconds']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=MNIST_DIR)
    ap.add_argument("--only", type=lambda s: [e for e in s.split(",") if e],
                    default=list(EXAMPLES))
    ap.add_argument("--backends", type=lambda s: [b for b in s.split(",") if b],
                    default=["verilog", "amaranth"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--icarus-images", default={},
                    type=lambda s: dict(zip(EXAMPLES, (int(v) for v in s.split(",")),
                                            strict=False)),
                    help="Icarus images per example, in the order digits,mnist_lenet,mnist_mlp "
                         f"(default {','.join(str(v) for v in ICARUS_IMAGES.values())})")
    ap.add_argument("--work", default=str(ROOT / "out" / "verify_all"))
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs the work directory's builds already recorded for the "
                         "same network and T (an interrupted run goes on where it stopped)")
    ap.add_argument("--json", default=str(RESULTS / "verify.json"))
    a = ap.parse_args()
    for e in a.only:
        if e not in EXAMPLES:
            ap.error(f"unknown example {e!r}; expected some of {', '.join(EXAMPLES)}")
    t0 = time.perf_counter()
    rows = run(a)
    # rows of examples not run this time stay as they were recorded (--only reruns a part)
    path = Path(a.json)
    try:
        old = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        old = []
    done = {(r["example"], r["backend"], r["sim"]) for r in rows}
    order = {e: i for i, e in enumerate(EXAMPLES)}
    rows = sorted([r for r in old if (r["example"], r["backend"], r["sim"]) not in done] + rows,
                  key=lambda r: (order.get(r["example"], 99), r["backend"] != "verilog",
                                 r["sim"] != "verilator"))
    doc = {"format": "snngen-verify-all", "version": 1, "rows": rows,
           "seconds_this_run": round(time.perf_counter() - t0, 1),
           "passed": all(r["passed"] for r in rows)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(markdown(rows))
    print(f"wrote {a.json} ({doc['seconds_this_run']} s this run)")
    return 0 if doc["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
