"""snn_rom on Icarus and Verilator, from both backends (cocotb_rom.py): the hand-written Verilog
reading a random .mem from write_mem, and the Amaranth Rom built from the words read back from
that same file; and the .mem writer/reader of snngen.backends.verilog.memfile on its own."""

from __future__ import annotations

import json
import os
import random
import zlib

import numpy as np
import pytest
import runner
from hypothesis import given
from hypothesis import strategies as st

from snngen.backends.verilog.memfile import mem_digits, read_mem, write_mem

# (DATA_WIDTH, signed, DEPTH, ADDR_WIDTH): widths 1/8/13/24, each signed and unsigned; depths
# that are and are not powers of two, down to the smallest (2); an addr wider than needed
CONFIGS = [
    (8, False, 256, 8),
    (8, True, 64, 6),
    (13, True, 100, 7),
    (13, False, 37, 9),
    (24, True, 512, 9),
    (24, False, 3, 2),
    (1, False, 2, 1),
]


def _values(rng: random.Random, width: int, signed: bool, depth: int) -> list[int]:
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = [rng.randint(lo, hi) for _ in range(depth)]
    # the extreme codes, at random addresses
    for v in {lo, hi, 0, -1 if signed else 1}:
        values[rng.randrange(depth)] = v
    return values


def _rom(mem, width: int, signed: bool, depth: int, addr_width: int):
    from snngen.backends.amaranth.rom import Rom

    # the words the Verilog's $readmemh reads: those of the .mem file, read back
    return Rom(width, depth, addr_width, init=read_mem(mem, width, signed))


@pytest.mark.parametrize(("width", "signed", "depth", "addr_width"), CONFIGS,
                         ids=[f"W{w}-{'s' if s else 'u'}-D{d}-A{a}" for w, s, d, a in CONFIGS])
def test_rom(sim, backend, width, signed, depth, addr_width):
    hw = {"DATA_WIDTH": width, "DEPTH": depth, "ADDR_WIDTH": addr_width}
    build_dir = runner.build_dir_for("snn_rom", hw, sim, backend=backend)
    build_dir.mkdir(parents=True, exist_ok=True)
    # the contents come from the same seed as the simulation (logged by run_cocotb). The
    # Amaranth Rom has its words built into its Verilog, so new contents mean a new Verilator
    # build (about 10 s each): its contents come from a seed fixed per configuration (the read
    # order still follows the run's seed), so its builds stay incremental
    seed = runner.pick_seed()
    contents_seed = seed if backend == "verilog" else zlib.crc32(f"{hw}-{signed}".encode())
    values = _values(random.Random(contents_seed), width, signed, depth)
    mem = build_dir / "rom.mem"  # a fixed path: the parameter, and so the build, stays the same
    write_mem(mem, values, width)
    assert read_mem(mem, width, signed) == values
    expected = build_dir / "expected.json"
    expected.write_text(json.dumps(values))
    cfg = {**hw, "signed": signed, "expected_file": str(expected)}
    # the Verilog reads the .mem at its start (INIT_FILE); the Amaranth Rom has its words
    # built in (no INIT_FILE parameter, no rst port)
    runner.run_block("snn_rom", sim, backend, hw,
                     lambda: _rom(mem, width, signed, depth, addr_width), cfg,
                     sim_parameters={**hw, "INIT_FILE": mem}, seed=seed)


# --- the .mem format on its own -----------------------------------------------------------


def test_mem_format_bytes(tmp_path):
    p = tmp_path / "w13.mem"
    write_mem(p, [0, 1, -1, 4095, -4096, 8191], 13)
    assert p.read_bytes() == b"0000\n0001\n1fff\n0fff\n1000\n1fff\n"
    assert read_mem(p, 13, signed=True) == [0, 1, -1, 4095, -4096, -1]
    assert read_mem(p, 13, signed=False) == [0, 1, 8191, 4095, 4096, 8191]
    write_mem(p, [-128, 127, 255, 0], 8)
    assert p.read_bytes() == b"80\n7f\nff\n00\n"
    write_mem(p, [1, 0], 1)
    assert p.read_bytes() == b"1\n0\n"
    write_mem(p, [-1, 0x800000], 24)
    assert p.read_bytes() == b"ffffff\n800000\n"
    write_mem(p, [], 8)
    assert p.read_bytes() == b"" and read_mem(p, 8, signed=False) == []


def test_mem_digits():
    assert [mem_digits(w) for w in (1, 4, 5, 8, 9, 13, 16, 24, 25)] == [1, 1, 2, 2, 3, 4, 4, 6, 7]
    with pytest.raises(ValueError):
        mem_digits(0)


def test_write_mem_is_deterministic_and_takes_numpy_ints(tmp_path):
    values = [3, -7, 100, -128]
    write_mem(tmp_path / "a.mem", values, 8)
    write_mem(tmp_path / "b.mem", np.array(values, dtype=np.int16), 8)
    write_mem(tmp_path / "c.mem", iter(values), 8)
    a = (tmp_path / "a.mem").read_bytes()
    assert a == (tmp_path / "b.mem").read_bytes() == (tmp_path / "c.mem").read_bytes()


@pytest.mark.parametrize(("values", "width", "error"), [
    ([256], 8, ValueError),
    ([-129], 8, ValueError),
    ([2], 1, ValueError),
    ([-2], 1, ValueError),
    ([1.0], 8, TypeError),
    ([True], 8, TypeError),
    (["7"], 8, TypeError),
])
def test_write_mem_refuses_what_does_not_fit(tmp_path, values, width, error):
    p = tmp_path / "x.mem"
    p.write_bytes(b"old\n")
    with pytest.raises(error):
        write_mem(p, [0, *values], width)
    # atomic: the old file is untouched and no temporary file is left behind
    assert p.read_bytes() == b"old\n"
    assert sorted(os.listdir(tmp_path)) == ["x.mem"]


def test_write_mem_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_mem(tmp_path / "x.mem", [1], 8)
    finally:
        os.umask(old)
    assert (tmp_path / "x.mem").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(("text", "width"), [
    (b"0000\n00001\n", 13),  # too many digits
    (b"000\n", 13),  # too few
    (b"2000\n", 13),  # 14 bits
    (b"0g\n", 8),  # not hex
    (b"00\n\n01\n", 8),  # blank line
    (b"// c\n00\n", 8),  # comment
    (b"@0\n00\n", 8),  # address record
    (b" 00\n", 8),  # whitespace
    (b"0x\n", 8),
])
def test_read_mem_rejects_other_formats(tmp_path, text, width):
    p = tmp_path / "bad.mem"
    p.write_bytes(text)
    with pytest.raises(ValueError, match=r"bad\.mem:\d+"):
        read_mem(p, width, signed=False)


def test_read_mem_accepts_upper_case_and_no_final_newline(tmp_path):
    p = tmp_path / "x.mem"
    p.write_bytes(b"7F\nfF\n80")
    assert read_mem(p, 8, signed=True) == [127, -1, -128]


@given(st.data())
def test_mem_round_trip(tmp_path_factory, data):
    width = data.draw(st.integers(1, 64), label="width")
    signed = data.draw(st.booleans(), label="signed")
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = data.draw(st.lists(st.integers(lo, hi), max_size=20), label="values")
    p = tmp_path_factory.mktemp("mem") / "r.mem"
    write_mem(p, values, width)
    assert read_mem(p, width, signed) == values
    lines = p.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(len(x) == mem_digits(width) for x in lines[:-1])
