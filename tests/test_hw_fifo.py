"""What only the Amaranth twin of snn_fifo has to show: snngen.backends.amaranth.fifo.EventFifo
refuses bad parameters, has the hand-written module's ports, converts to Verilog that is
lint-clean with exactly the listed waivers, and is formally equivalent (Yosys equiv_make +
equiv_induct) to snngen/backends/verilog/rtl/snn_fifo.v cycle for cycle.

Its behaviour (random traffic, exact latency and throughput, resets) is checked by the one
cocotb bench of the block, rtl_tests/cocotb_fifo.py, run on both backends (rtl_tests/test_fifo.py).
"""

from __future__ import annotations

import re

import pytest
from hwcheck import check_equivalence, check_lint

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.fifo import EventFifo

FIFO_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND")


@pytest.mark.parametrize(("depth", "width", "rule"), [
    (1, 8, "DEPTH_must_be_at_least_2"),
    (0, 8, "DEPTH_must_be_at_least_2"),
    (4, 0, "DATA_WIDTH_must_be_at_least_1"),
])
def test_fifo_bad_parameters(depth, width, rule):
    with pytest.raises(ValueError, match=f"snn_fifo_ERROR_{rule}"):
        EventFifo(width, depth)


def test_fifo_ports_match_the_verilog():
    dut = EventFifo(24, 8)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {"s_data": (24, "i"), "s_valid": (1, "i"), "s_ready": (1, "o"),
                     "m_data": (24, "o"), "m_valid": (1, "o"), "m_ready": (1, "i"),
                     "count": (4, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_fifo\((.*?)\);", text).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_fifo_verilog_lint(flat_ports, tmp_path):
    texts = {f"D{d}-W{w}": to_verilog(EventFifo(w, d), flat_ports=flat_ports)
             for d, w in [(2, 1), (16, 16), (1024, 64), (3, 2), (4610, 13)]}
    check_lint(texts, "snn_fifo", FIFO_WAIVERS, tmp_path)


@pytest.mark.parametrize(("depth", "width"), [(2, 1), (3, 2), (4, 3), (6, 3), (16, 8)])
def test_fifo_formally_equivalent_to_the_verilog(depth, width, tmp_path):
    regs = ["wr_addr_reg", "wr_wrap_reg", "rd_addr_reg", "rd_wrap_reg", "count_reg",
            "s_ready_reg", "m_valid_reg", "out_sel_reg", "ram_q", "byp_q"]
    regs += [f"mem[{i}]" for i in range(depth)]
    check_equivalence(EventFifo(width, depth), {"DATA_WIDTH": width, "DEPTH": depth},
                      [(f"u.{r}", r) for r in regs], tmp_path)
