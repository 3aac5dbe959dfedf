"""snngen.backends.amaranth.rom.Rom (the Amaranth twin of snngen/backends/verilog/rtl/snn_rom.v) in
amaranth.sim.

The bench of rtl_tests/cocotb_rom.py, cycle by cycle: every address read once per pass in
random order (small ROMs get several passes), with random cycles of en low in between (a random
address is driven then, and data must hold), one cycle of latency, data registered (on some
cycles the inputs are first set to other values and data must not move), and the words read
equal to the values given (``==``, read back as signed or unsigned as written). The reset of
the sync domain never touches data. No Verilog block instantiates snn_rom (the router keeps its
weights in its own reg array, docs/architecture.md §4.6); this is the ROM primitive for the
Amaranth backend. Plus the init rules (the values of write_mem: signed or unsigned, stored as
the .mem words), the parameter checks with the Verilog's rule words, the port list (no rst),
Verilator lint, and a formal proof (Yosys equiv_induct) that the converted module and
snngen/backends/verilog/rtl/snn_rom.v reading the same words from a .mem file (write_mem, in
tmp_path) give the same data in every cycle; a ROM with one word changed must fail that proof.

Seeded from SNN_SEED (else a fresh seed), mixed with the configuration's name; the seed is in
every assertion message.
"""

from __future__ import annotations

import random
import re
import zlib

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import LINT_REASONS, check_equivalence, check_lint, run_sim, sim_top

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.rom import Rom
from snngen.backends.verilog.memfile import read_mem, write_mem
from snngen.flows import simrun

# (data_width, signed, depth, addr_width) as in rtl_tests/test_rom.py: widths 1/8/13/24,
# signed and unsigned words, depths that are and are not powers of two, a wider addr
CONFIGS = [
    (8, False, 256, 8),
    (8, True, 64, 6),
    (13, True, 100, 7),
    (13, False, 37, 9),
    (24, True, 3, 2),
    (1, False, 2, 1),
]
ROM_WAIVERS = ("UNUSEDSIGNAL",)
assert set(ROM_WAIVERS) <= set(LINT_REASONS)


def _seed(name: str) -> int:
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


def _values(rng: random.Random, width: int, signed: bool, depth: int) -> list[int]:
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = [rng.randint(lo, hi) for _ in range(depth)]
    for v in {lo, hi, 0, -1 if signed else 1}:  # the extreme codes, at random addresses
        values[rng.randrange(depth)] = v
    return values


def _as_read(word: int, width: int, signed: bool) -> int:
    return word - (1 << width) if signed and word >> (width - 1) else word


@pytest.mark.parametrize(("width", "signed", "depth", "addr_width"), CONFIGS,
                         ids=[f"W{w}-{'s' if s else 'u'}-D{d}-A{a}" for w, s, d, a in CONFIGS])
def test_rom_reads(width, signed, depth, addr_width):
    name = f"rom-{width}-{signed}-{depth}-{addr_width}"
    seed = _seed(name)
    rng = random.Random(seed)
    values = _values(rng, width, signed, depth)
    dut = Rom(width, depth, addr_width, init=values)
    top, cd = sim_top(dut)
    stats = {"holds": 0, "probes": 0, "resets": 0}

    def msg(text: str) -> str:
        return f"seed {seed} (SNN_SEED): {text}"

    async def testbench(ctx):
        passes = -(-64 // depth)
        order: list[int] = []
        for _ in range(passes):
            order += rng.sample(range(depth), depth)
        got: list[int | None] = [None] * len(order)
        last = held = None  # index in order of the read at the last edge; data while en low
        i = 0
        while i < len(order) or last is not None:
            en = i < len(order) and rng.random() < 0.7
            # en low: any address in range (beyond DEPTH is undefined, as in the Verilog)
            addr = order[i] if en else rng.randrange(depth)
            before = None
            if rng.random() < 0.2:
                # other inputs first: data is a register
                ctx.set(dut.en, rng.randrange(2))
                ctx.set(dut.addr, rng.randrange(depth))
                before = ctx.get(dut.data)
                stats["probes"] += 1
            ctx.set(dut.en, en)
            ctx.set(dut.addr, addr)
            data = _as_read(ctx.get(dut.data), width, signed)
            if before is not None:
                assert _as_read(before, width, signed) == data, msg("data follows addr/en")
            if last is not None:
                got[last] = held = data  # one cycle after the edge that read order[last]
            elif held is not None:
                assert data == held, msg(f"data changed with en low: {data} != {held}")
                stats["holds"] += 1
            reset = not en and (rng.random() < 0.1 or not stats["resets"])
            ctx.set(cd.rst, reset)  # the reset never touches data
            stats["resets"] += reset
            await ctx.tick()
            last = i if en else None
            i += en
        ctx.set(cd.rst, 0)
        for p in range(passes):
            by_addr = [None] * depth
            for k in range(p * depth, (p + 1) * depth):
                by_addr[order[k]] = got[k]
            assert by_addr == values, msg(f"pass {p}: words read differ from init")

    run_sim(top, testbench)
    assert all(stats.values()), msg(f"stimulus missed a check: {stats}")


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
