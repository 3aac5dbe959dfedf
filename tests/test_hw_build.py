"""``snngen build --target amaranth`` (snngen.backends.amaranth.build) and
``snngen.backends.amaranth.build_network``.

Without a simulator (the whole-network simulations and the differential test against the
Verilog backend are in rtl_tests/test_network_amaranth.py): the build directory's layout and
manifest, byte-identical rebuilds (also from another directory), the top's ports equal to the
Verilog target's generated top (names, directions, widths), every stage getting the Verilog
top's parameters, lint of the whole converted network under ``verilator -Wall`` with exactly
the listed waivers, Verilator's build waivers being the manifest's, and the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_lint

from snngen import cli
from snngen.backends.amaranth import InputLayer, Layer, NetworkTop, PoolLayer, build_network
from snngen.backends.amaranth.build import VERILATOR_WAIVERS, build
from snngen.backends.amaranth.top import stage_component
from snngen.backends.verilog.writer import build as verilog_build
from snngen.fixedpoint import netfile
from snngen.flows import simrun
from snngen.hwmodel.build import MARKER, BuildError, BuildOptions, load_manifest, stage_params
from snngen.hwmodel.plan import plan
from tests.randnet import fixed_random_net

# seed 24: input layer with max pooling + gate + conv; 57: stride, padding, dense (see
# rtl_tests/test_network.py)
SEEDS = {24: 2, 57: 2}
# the waivers the converted network needs under -Wall (docs/architecture.md §9): those of its
# blocks, and DECLFILENAME (Amaranth writes every submodule, named <top>.<path>, into one file)
TOP_WAIVERS = ("CASEINCOMPLETE", "DECLFILENAME", "PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND",
               "WIDTHTRUNC")


@pytest.fixture(scope="module")
def nets():
    return {seed: fixed_random_net(seed)[0] for seed in SEEDS}


def _ports(verilog: str, top: str) -> dict[str, tuple[str, int]]:
    """name -> (direction, width) of module ``top``'s ports in ``verilog``."""
    body = verilog[verilog.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    out = {}
    for d, msb, name in re.findall(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s*)?"
                                   r"\\?([A-Za-z_][A-Za-z0-9_$]*)\s*;", body, re.M):
        out[name] = (d, int(msb) + 1 if msb else 1)
    return out


def test_build_directory_and_determinism(nets, tmp_path):
    net = nets[24]
    a = build(net, tmp_path / "a", BuildOptions(lanes=2, top="my_net"))
    b = build(net, tmp_path / "sub" / "b", BuildOptions(lanes=2, top="my_net"))
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert names == sorted([MARKER, "files.f", "manifest.json", "net.snn", "rtl/my_net.il",
                            "rtl/my_net.v"])
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    man = load_manifest(a)
    assert man["target"] == "amaranth" and man["top"] == "my_net"
    assert man["files"] == ["rtl/my_net.v"] and man["parameters"] == {}
    assert man["verilator_waivers"] == list(VERILATOR_WAIVERS)
    assert (a / "net.snn").read_bytes() == netfile.dumps(net)
    text = (a / "rtl" / "my_net.v").read_text()
    # no absolute path of this machine in the output (src attributes are package-relative)
    assert str(tmp_path) not in text and 'src = "/' not in text
    assert 'src = "snngen/backends/amaranth/' in text
    # a rebuild replaces the directory; a foreign directory is refused
    build(net, a, BuildOptions(lanes=1, top="my_net"))
    assert load_manifest(a)["stages"][0]["lanes"] == 1
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="did not create"):
        build(net, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("seed", list(SEEDS))
def test_same_ports_and_manifest_as_the_verilog_target(nets, seed, tmp_path):
    net = nets[seed]
    a = build(net, tmp_path / "a", BuildOptions(lanes=SEEDS[seed]))
    v = verilog_build(net, tmp_path / "v", BuildOptions(lanes=SEEDS[seed]))
    ma, mv = load_manifest(a), load_manifest(v)
    for key in ("ports", "stages", "resources", "input", "output", "max_timesteps",
                "dbg_index_width", "net_sha256"):
        assert ma[key] == mv[key], key
    got = _ports((a / "rtl" / "snn_net.v").read_text(), "snn_net")
    want = {name: ({"in": "input", "out": "output"}[p["dir"]], p["width"])
            for name, p in mv["ports"].items()}
    assert got == want
    # and the Verilog target's generated top declares the same
    vtext = (v / "rtl" / "snn_net.v").read_text()
    for name, (d, _) in want.items():
        assert re.search(rf"^\s*{d}\s+wire\b[^;,]*\b{name}\b", vtext, re.M), name


def test_stages_get_the_verilog_tops_parameters(nets):
    p = plan(nets[24], lanes=2)
    kinds = {"snn_input_layer": InputLayer, "snn_layer": Layer, "snn_pool_layer": PoolLayer}
    for k in range(len(p.stages)):
        sp = stage_params(p, k)
        c = stage_component(p, k)
        assert isinstance(c, kinds[sp.module])
        assert sp.module == c.VERILOG_NAME
        Fragment.get(c, None)  # elaborates (and so uses) it and its blocks
    top = build_network(nets[24], lanes=2)
    assert isinstance(top, NetworkTop) and len(top.stages) == len(p.stages)
    assert [f.depth for f in top.fifos] == list(p.fifo_depths)
    Fragment.get(top, None)


def test_converted_network_lint(nets, tmp_path):
    texts = {}
    for seed, lanes in SEEDS.items():
        out = build(nets[seed], tmp_path / f"b{seed}", BuildOptions(lanes=lanes))
        texts[f"rand{seed}"] = (out / "rtl" / "snn_net.v").read_text()
    assert set(TOP_WAIVERS) <= set(LINT_REASONS)
    (tmp_path / "lint").mkdir()
    check_lint(texts, "snn_net", TOP_WAIVERS, tmp_path / "lint")
    # without -Wall, Verilator stops on exactly the manifest's waivers (snngen verify passes
    # them) and builds with them
    exe = simrun.verilator_exe()
    path = tmp_path / "lint" / "snn_net.v"
    path.write_text(texts["rand24"])
    base = [exe, "--lint-only", "--default-language", "1364-2005", "--top-module", "snn_net"]
    r = subprocess.run([*base, str(path)], capture_output=True, text=True)
    assert r.returncode != 0
    assert set(re.findall(r"%Warning-([A-Z0-9_]+)", r.stdout + r.stderr)) == set(
        VERILATOR_WAIVERS)
    r = subprocess.run([*base, *[f"-Wno-{w}" for w in VERILATOR_WAIVERS], str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_build_amaranth(nets, tmp_path, capsys):
    src = tmp_path / "net.snn"
    src.write_bytes(netfile.dumps(nets[57]))
    out = tmp_path / "build"
    rc = cli.main(["build", str(src), "--target", "amaranth", "-o", str(out), "--lanes", "2"])
    text = capsys.readouterr().out
    assert rc == 0, text
    man = json.loads((out / "manifest.json").read_text())
    assert man["target"] == "amaranth" and "amaranth target" in text
    # the same refusals as the Verilog target, with the cause named
    rc = cli.main(["build", str(src), "--target", "amaranth", "-o", str(tmp_path / "x"),
                   "--lanes", "3"])
    captured = capsys.readouterr()
    assert rc != 0 and "relu0: lanes must be a power of two" in captured.out + captured.err
    assert not (tmp_path / "x").exists()


def test_report_on_an_amaranth_build(nets, tmp_path):
    # snngen report reads the manifest and net.snn, which both backends write alike
    from snngen.flows import report

    out = build(nets[57], tmp_path / "b", BuildOptions(lanes=2))
    html = report.generate(out).read_text()
    assert "amaranth target" in html
    man = load_manifest(out)
    for st in man["stages"]:
        assert f">{st['name']}<" in html
    assert "Synthesis was not run on this build" in html
    # a network without a dataset: the raster section says why there is none
    assert "no example image" in html and "raster-img" not in html
