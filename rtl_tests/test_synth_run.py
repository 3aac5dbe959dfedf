"""Real FPGA synthesis (Yosys + nextpnr, the YoWASP builds) of a small generated network.

A seeded random network (convolution, spiking max-pool gate, dense output; lanes 1) is built
with its predicted cycles, then synthesised, placed and routed on one iCE40 and one ECP5 device
by ``snngen.flows.synth.synthesize``. The numbers must be sane: LUTs and flip-flops used, block RAMs
used (the membranes, K, weights and FIFOs are written as inferable RAMs), Fmax > 0, the latency
and throughput consistent with the manifest's predicted cycles. Nothing is skipped: without the
toolchain the tests fail with the install hint. Each run takes about a minute once the YoWASP
cache (snngen.flows.synth.cache_dir()) is warm; the first run compiles the tools (about 20-90 s
each).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import runner

from snngen.backends.verilog.writer import BuildOptions, build, load_manifest
from snngen.fixedpoint.quantize import quantize_input
from snngen.flows import synth
from snngen.golden import model as golden
from snngen.hwmodel import timing
from snngen.hwmodel.plan import plan
from tests.randnet import fixed_random_net

SEED = 24          # input conv 32 neurons, conv 50, max-pool gate 8, dense 5: every stage kind
T = 8
# FIFOs of 512 events: big enough that Yosys maps them to block RAM on the ECP5 too (it puts
# the small membrane and K RAMs of this network into LUT RAM there)
FIFO_DEPTH = 512


def _net():
    return fixed_random_net(SEED, n_calib=8)


def _small_build(name: str) -> Path:
    """The build with the manifest's predicted cycles, as `snngen build` makes them (one build
    directory per device: pytest-xdist may run the devices in parallel)."""
    out = runner.BUILD_ROOT / "synth" / f"rand{SEED}-{name}"
    net, x = _net()
    pixels = quantize_input(x[:3], net.config.input_bits)
    p = plan(net, lanes=1, fifo_depth=FIFO_DEPTH)
    res = golden.run(net.graph, pixels, (T,), trace=True)
    predicted = []
    for i in range(len(pixels)):
        ins = timing.stage_inputs(p, res.raster, i, T)
        tm = timing.predict(p, pixels[i], ins, T)
        predicted.append({"dataset": "random", "test_image": i, "timesteps": T,
                          "class": int(res.predictions[T][i]), "cycles": tm.latency})
    build(net, out, BuildOptions(lanes=1, fifo_depth=FIFO_DEPTH), force=True,
          predicted=predicted)
    return out


def _check(rep: synth.SynthReport, build_dir: Path, dev: synth.Device) -> None:
    assert rep.fits and rep.device == dev.name
    res = rep.resources
    assert 0 < res["luts"]["used"] <= res["luts"]["available"] == dev.luts
    assert rep.lut4 > 0 and rep.ffs > 0
    assert 0 < res["brams"]["used"] <= res["brams"]["available"] == dev.brams
    assert res["io"]["available"] == dev.io
    if dev.family == "ecp5":
        assert res["ffs"]["available"] == dev.ffs and res["ffs"]["used"] == rep.ffs
    if dev.dsps:
        assert res["dsps"]["available"] == dev.dsps
    # the block RAM cells Yosys made are the ones nextpnr placed, and each belongs to a memory
    assert sum(m.cells for m in rep.memories if m.mapped == "bram") == res["brams"]["used"]
    assert any(m.mapped == "bram" and m.name.endswith("_fifo.mem") for m in rep.memories)
    # the FIFOs and the RAMs of the hidden stages are in RAM primitives (block RAM on iCE40,
    # block or LUT RAM on ECP5); only the readout counters, the bias ROM and the tiny memories
    # of the 5-neuron output layer and of the small weight ROMs may become logic
    mapped = {m.name: m.mapped for m in rep.memories}
    rams = {k: v for k, v in mapped.items()
            if k.endswith(("_fifo.mem", ".array.mem", ".accum.mem", ".kmem", "gate.mem"))}
    rams = {k: v for k, v in rams.items() if not k.startswith("s3_")}
    assert len(rams) >= 6, mapped
    want = ("bram",) if dev.family == "ice40" else ("bram", "lutram")
    assert all(v in want for v in rams.values()), mapped
    assert rep.fmax_mhz is not None and 1 < rep.fmax_mhz < 1000
    assert rep.critical_path is not None and rep.critical_path.delay_ns > 0
    assert rep.critical_path.delay_ns == pytest.approx(1000 / rep.fmax_mhz, rel=0.05)
    man = load_manifest(build_dir)
    cyc = [d["cycles"] for d in man["predicted"]]
    assert rep.timesteps == T and rep.images == len(cyc) == 3
    mean = sum(cyc) / len(cyc)
    assert rep.cycles_mean == pytest.approx(mean)
    assert rep.latency_us == pytest.approx(mean / rep.fmax_mhz, rel=1e-3)
    assert rep.images_per_s == pytest.approx(rep.fmax_mhz * 1e6 / mean, rel=1e-3)
    # synth.json holds the same report, and the logs are where it says
    out = build_dir / "synth" / dev.name
    assert json.loads((out / "synth.json").read_text()) == json.loads(
        json.dumps(rep.to_dict()))
    for rel in rep.files.values():
        assert (build_dir / rel).is_file(), rel
    rows = dict(synth.format_table(rep))
    assert rows["fits"] == "yes" and "MHz" in rows["Fmax"] and "images/s" in rows["throughput"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ice40-up5k", "ecp5-25k"])
def test_small_network_synthesises(name):
    synth.require_toolchain()   # fails (never skips) with the install hint
    dev = synth.DEVICES[name]
    out = _small_build(name)
    rep = synth.synthesize(out, name, seed=1)
    _check(rep, out, dev)
