"""What only the Amaranth twin of snn_rom has to show: snngen.backends.amaranth.rom.Rom takes
as init exactly the values of write_mem (signed or unsigned, numpy integers too) and holds the
words of the .mem file, refuses bad parameters with the Verilog's rule words, has the
hand-written module's ports (no rst), converts to Verilog that is lint-clean with exactly the
listed waivers, and is formally equivalent (Yosys equiv_induct) to
snngen/backends/verilog/rtl/snn_rom.v reading the same words from a .mem file (write_mem, in
tmp_path): the same data in every cycle; a ROM with one word changed must fail that proof. No
Verilog block instantiates snn_rom (the router keeps its weights in its own reg array,
docs/architecture.md §4.6); this is the ROM primitive for the Amaranth backend.

Its behaviour (every address read in random order, one cycle of latency, data registered and
held while en is low, the words equal to the values written) is checked by the one cocotb bench
of the block, rtl_tests/cocotb_rom.py, run on both backends (rtl_tests/test_rom.py).
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.rom import Rom
from snngen.backends.verilog.memfile import read_mem, write_mem

ROM_WAIVERS = ("UNUSEDSIGNAL",)
assert set(ROM_WAIVERS) <= set(LINT_REASONS)


def _values(rng: random.Random, width: int, signed: bool, depth: int) -> list[int]:
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = [rng.randint(lo, hi) for _ in range(depth)]
    for v in {lo, hi, 0, -1 if signed else 1}:  # the extreme codes, at random addresses
        values[rng.randrange(depth)] = v
    return values


def test_rom_init_is_the_mem_file_words(tmp_path):
    """``init`` takes exactly what write_mem takes (signed or unsigned per word, numpy
    integers too) and holds the words of the .mem file, unsigned."""
    values = [-1, 0, 4095, -4096, 7, 8191, np.int64(-2), np.uint16(3)]
    dut = Rom(13, 8, init=values)
    write_mem(tmp_path / "w.mem", values, 13)
    assert dut.init == read_mem(tmp_path / "w.mem", 13, signed=False)
    assert dut.init[:4] == [0x1FFF, 0, 0xFFF, 0x1000]
    Fragment.get(dut, None)
    dut = Rom(4, 2, addr_width=5, init=np.array([3, -3]))
    assert dut.init == [3, 13] and dut.mem_addr_width == 1
    Fragment.get(dut, None)


_OK = dict(data_width=8, depth=4, init=[0, 1, 2, 3])
BAD_PARAMS: list[tuple[dict, str, str]] = [
    ({"data_width": 0}, "DATA_WIDTH_must_be_at_least_1", "data_width="),
    ({"depth": 1, "init": [0]}, "DEPTH_must_be_at_least_2", "depth="),
    ({"depth": 100, "addr_width": 6, "init": [0] * 100}, "ADDR_WIDTH_too_small_for_DEPTH",
     "addr_width="),
    ({"init": [0, 1, 2]}, "INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH",
     "init has 3 words"),
    ({"init": [0, 1, 2, 256]}, "INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH",
     r"init\[3\]=256"),
    ({"init": [0, 1, -129, 3]}, "INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH",
     r"init\[2\]=-129"),
    ({"init": [0, 1, 2.0, 3]}, "INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH",
     r"init\[2\]=2.0"),
    ({"init": "w.mem"}, "INIT_must_hold_DEPTH_words_that_fit_DATA_WIDTH", "init='w.mem'"),
]


@pytest.mark.parametrize(("params", "rule", "detail"), BAD_PARAMS,
                         ids=[f"{r}-{i}" for i, (_, r, _) in enumerate(BAD_PARAMS)])
def test_rom_bad_parameters(params, rule, detail):
    with pytest.raises(ValueError, match=f"snn_rom_ERROR_{rule}: {detail}"):
        Rom(**{**_OK, **params})


def test_rom_ports_match_the_verilog():
    dut = Rom(13, 100, 9, init=[0] * 100)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {"addr": (9, "i"), "en": (1, "i"), "data": (13, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_rom\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk"])


# the parameter sets of rtl_tests/test_lint.py for snn_rom
LINT_CONFIGS = {"default": (8, 256, None), "W13-D100": (13, 100, 7), "W24-D37-A9": (24, 37, 9)}


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_rom_verilog_lint(flat_ports, tmp_path):
    rng = random.Random(3)
    texts = {name: to_verilog(Rom(w, d, a, init=_values(rng, w, False, d)),
                              flat_ports=flat_ports)
             for name, (w, d, a) in LINT_CONFIGS.items()}
    check_lint(texts, "snn_rom", ROM_WAIVERS, tmp_path)


EQUIV_CONFIGS = [(8, False, 4, None), (5, True, 3, 4), (13, True, 37, 7), (1, False, 2, 1)]


@pytest.mark.parametrize(("width", "signed", "depth", "addr_width"), EQUIV_CONFIGS,
                         ids=[f"W{w}-{'s' if s else 'u'}-D{d}-A{a}"
                              for w, s, d, a in EQUIV_CONFIGS])
def test_rom_formally_equivalent_to_the_verilog(width, signed, depth, addr_width, tmp_path):
    values = _values(random.Random(f"{width}-{depth}"), width, signed, depth)
    dut = Rom(width, depth, addr_width, init=values)
    params = dict(DATA_WIDTH=width, DEPTH=depth, ADDR_WIDTH=dut.addr_width,
                  INIT_FILE="rom.mem")
    (tmp_path / "good").mkdir()
    write_mem(tmp_path / "good" / "rom.mem", values, width)
    check_equivalence(dut, params, [], tmp_path / "good")
    # the proof compares the contents: the last word with one bit flipped must fail it
    bad = [*values[:-1], (values[-1] & ((1 << width) - 1)) ^ 1]
    (tmp_path / "bad").mkdir()
    write_mem(tmp_path / "bad" / "rom.mem", values, width)
    with pytest.raises(AssertionError, match="not proven equivalent"):
        check_equivalence(Rom(width, depth, addr_width, init=bad), params, [], tmp_path / "bad")
