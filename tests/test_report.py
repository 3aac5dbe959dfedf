"""snngen report: the HTML page of a build directory, on a tiny digits network built here (no
MNIST, no synthesis run: synth.json comes from the real captured ECP5 logs of tests/data/synth,
parsed as snngen synth parses them). The numbers in the page are checked against the manifest,
synth.json, verify.json (from a real Icarus run) and direct golden-model runs."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from snngen.cli import main
from snngen.data import load_dataset, split
from snngen.fixedpoint import netfile
from snngen.flows import report, synth, verify
from snngen.golden import sim
from tests import tinydigits
from tests.test_synth import _report_from_logs


class _Tables(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts, and every <img> src by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images[a["id"]] = a["src"]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


def _body(table: list[list[str]]) -> list[list[str]]:
    return table[1:]


def _png(src: str) -> bytes:
    assert src.startswith("data:image/png;base64,")
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


@pytest.fixture(scope="module")
def net_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("net") / "tiny.snn"
    netfile.save(tinydigits.fixed_net(bits=8, t_max=32), path)
    return path


@pytest.fixture(scope="module")
def built(net_file) -> Path:
    out = net_file.parent / "build"
    # as users build: the manifest holds the predicted cycles of digits test images 0..3
    assert main(["build", str(net_file), "-o", str(out), "--lanes", "2", "--dataset",
                 "digits", "--timesteps", "8"]) == 0
    return out


@pytest.fixture()
def build_dir(built, tmp_path) -> Path:
    """A fresh copy of the build for each test (tests add synth.json, verify.json)."""
    return Path(shutil.copytree(built, tmp_path / "build"))


def test_report_without_dataset_synth_or_verify(build_dir):
    out = report.generate(build_dir)
    assert out == build_dir / "report.html"
    html = out.read_text()
    page = _parse(html)
    man = json.loads((build_dir / "manifest.json").read_text())
    # stages: name, kind, neurons, lanes and widths are the manifest's
    rows = _body(page.tables["stages"])
    assert len(rows) == len(man["stages"]) == 2
    for row, st in zip(rows, man["stages"], strict=True):
        assert row[1] == st["name"] and row[2] == st["kind"]
        assert row[5] == f"{st['neurons']:,}" and row[6] == str(st["lanes"])
        assert row[7] == f"int{st['weight_width']}" and row[8] == f"int{st['membrane_width']}"
        assert row[10] == f"{st['threshold']:,}"
    # memory bits by stage and in total
    head, *rows = page.tables["resources-table"]
    total = 0
    for row, res in zip(rows, man["resources"], strict=False):
        bits = {k: v for k, v in res.items() if k.endswith("_bits")}
        assert row[-1] == f"{sum(bits.values()):,}"
        assert row[head.index("membrane bits")] == f"{res['membrane_bits']:,}"
        total += sum(bits.values())
    assert rows[-1][0] == "all" and rows[-1][-1] == f"{total:,}"
    # the manifest's predicted cycles, image by image
    pred = _body(page.tables["predicted"])
    assert [r[4] for r in pred] == [f"{d['cycles']:,}" for d in man["predicted"]]
    assert len(pred) == 4
    # the fixed-point formats of net.snn
    net = netfile.load(build_dir / "net.snn")
    fmts = _body(page.tables["formats"])
    assert [r[0] for r in fmts] == list(net.formats)
    assert [r[8] for r in fmts] == [str(f.membrane) for f in net.formats.values()]
    # what is missing is said, with the commands that produce it
    assert "No dataset was given, so accuracy was not measured" in html
    assert "accuracy-table" not in page.tables
    assert "Synthesis was not run on this build" in html
    assert f"snngen synth {build_dir} --device ice40-up5k" in html
    assert "No verification recorded" in html
    # the raster comes from the network's own dataset (digits) at the manifest's T
    _png(page.images["raster-img"])
    assert "Test image 0 of digits" in html and "T=8." in html
    # self-contained: no scripts, no external resources, no leftover temporary files
    assert "<script" not in html and "http" not in html and "<link" not in html
    assert not [p for p in build_dir.iterdir() if p.name.endswith(".tmp")]


def test_report_with_accuracy_synthesis_and_verification(build_dir, tmp_path):
    # a synth.json as snngen synth writes it, from real captured tool logs
    rep = _report_from_logs()
    sdir = build_dir / "synth" / rep.device
    sdir.mkdir(parents=True)
    (sdir / "synth.json").write_text(synth._json_dump(rep))
    sj = json.loads((sdir / "synth.json").read_text())
    # a real verification run (Icarus, one image, T=4) recorded by `snngen verify`
    assert main(["verify", str(build_dir), "--sim", "icarus", "--images", "1",
                 "--timesteps", "4", "--first", "2"]) == 0
    vj = json.loads((build_dir / "verify.json").read_text())
    assert vj["runs"]["icarus"]["passed"] is True

    argv = ["report", str(build_dir), "--dataset", "digits", "--timesteps", "4,8",
            "--limit", "60", "--image", "3"]
    assert main(argv) == 0
    first = (build_dir / "report.html").read_bytes()
    assert main(argv) == 0
    assert (build_dir / "report.html").read_bytes() == first     # byte-identical
    html = first.decode()
    page = _parse(html)

    # accuracy: the fixed column is the golden model on the first 60 test images
    net = netfile.load(build_dir / "net.snn")
    test = split(load_dataset("digits")).test
    res = sim.simulate(net.graph, test.x[:60], [4, 8], check=net.formats)
    acc = _body(page.tables["accuracy-table"])
    assert [r[0] for r in acc] == ["4", "8"]
    for r, t in zip(acc, (4, 8), strict=True):
        want = 100 * float(np.mean(res.predictions[t] == test.y[:60]))
        assert r[3] == f"{want:.2f}"
        assert r[1] == r[2] == "-"          # no model given: no ANN, no float SNN
        assert r[6] == f"{res.ops[t].mean():,.0f}"
    _png(page.images["accuracy-vs-time"])
    _png(page.images["accuracy-vs-ops"])
    _png(page.images["raster-img"])
    assert "Test image 3 of digits" in html
    # every embedded image is a data URI; there are exactly the three
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3

    # synthesis: the summary row is synth.json's numbers
    (row,) = _body(page.tables["synth-summary"])
    res_ = sj["resources"]
    assert row[0] == "ecp5-25k" and row[1] == "yes"
    assert row[2] == f"{res_['luts']['used']:,} / {res_['luts']['available']:,}"
    assert row[3] == f"{res_['ffs']['used']:,} / {res_['ffs']['available']:,}"
    assert row[4] == f"{res_['brams']['used']} / {res_['brams']['available']}"
    assert row[5] == f"{res_['dsps']['used']} / {res_['dsps']['available']}"
    assert row[6] == f"{sj['fmax_mhz']:.2f}"
    assert row[8] == f"{sj['latency_us']:,.3f}" and row[9] == f"{sj['images_per_s']:,.2f}"
    in_bram = sum(m["mapped"] == "bram" for m in sj["memories"])
    assert row[10] == f"{in_bram} of {len(sj['memories'])}"
    mems = _body(page.tables["memories-ecp5-25k"])
    assert [(m[0], m[1], m[3]) for m in mems] == \
        [(m["name"], m["mapped"], str(m["cells"])) for m in sj["memories"]]
    detail = dict(_body(page.tables["synth-ecp5-25k"]))
    assert detail["Fmax"] == "61.7 MHz (target 50 MHz: met)"
    assert "Synthesis was not run" not in html

    # verification: the recorded run
    (v,) = _body(page.tables["verify-table"])
    run = vj["runs"]["icarus"]
    assert v[:6] == ["icarus", "digits", "2..2", "4", "passed", "1 / 1"]
    assert v[6] == v[7] == f"{run['cycles']['rtl'][0]:,}"
    assert run["cycles"]["rtl"] == run["cycles"]["predicted"]


def test_verify_record_keeps_one_run_per_simulator(build_dir):
    def rep(sim_: str, ok: bool) -> verify.VerifyReport:
        mism = [] if ok else ["image 0: class 3, golden 2"]
        return verify.VerifyReport(str(build_dir), sim_, 8, [
            verify.ImageResult(0, 2, 2 if ok else 3, [5, 1], 900, 900, mism)])

    verify.record(build_dir, rep("icarus", True), "digits", 0)
    verify.record(build_dir, rep("verilator", False), "digits", 5)
    doc = json.loads((build_dir / "verify.json").read_text())
    assert sorted(doc["runs"]) == ["icarus", "verilator"]
    assert doc["runs"]["verilator"]["passed"] is False
    assert doc["runs"]["verilator"]["first_mismatch"] == "image 0: class 3, golden 2"
    html = report.generate(build_dir).read_text()
    rows = _body(_parse(html).tables["verify-table"])
    assert [r[4] for r in rows] == ["passed", "FAILED"]
    assert rows[1][2] == "5..5" and rows[1][8] == "image 0: class 3, golden 2"
    # a record of another network (a rebuilt directory) is not mixed with this one
    doc["net_sha256"] = "sha256:other"
    (build_dir / "verify.json").write_text(json.dumps(doc))
    assert "recorded for another network file" in report.generate(build_dir).read_text()
    verify.record(build_dir, rep("icarus", True), "digits", 0)
    assert list(json.loads((build_dir / "verify.json").read_text())["runs"]) == ["icarus"]


def test_report_refuses_a_different_model(build_dir, tmp_path):
    from dataclasses import replace

    net = netfile.load(build_dir / "net.snn")
    w = tmp_path / "w.pt"
    w.write_bytes(b"not the weights")
    other = replace(net, source={**net.source, "weights_digest": "sha256:" + "0" * 64})
    with pytest.raises(ValueError, match="not the file the network was converted from"):
        report._check_model(other, "model.py:make", str(w))
    assert main(["report", str(build_dir), "--model", "m.py:f"]) == 2      # needs --dataset


def test_report_needs_a_build_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().out
