"""What both hardware backends share: stage parameters, the manifest, the build directory.

The Verilog backend (:mod:`snngen.backends.verilog.writer`) and the Amaranth backend
(:mod:`snngen.backends.amaranth.build`) map a network onto the same stages
(:mod:`snngen.hwmodel.plan`) with the same parameters (:func:`stage_params`, named as the
hand-written wrappers' Verilog parameters), and write the same build directory layout:

* ``rtl/`` (the Verilog), ``mem/`` (``$readmemh`` images, Verilog target only), ``files.f``;
* ``manifest.json`` (:func:`manifest`: ports, parameters, formats, resources by stage,
  predicted cycles; ``target`` says which backend wrote it);
* ``net.snn``, the network file the build came from, and the marker ``.snngen-build``.

:func:`write_build_dir` writes the directory beside the target and renames it into place, so a
failed build leaves nothing half-written; it refuses to replace a directory snngen did not
create unless forced.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from snngen.fixedpoint import netfile
from snngen.fixedpoint.fixednet import FixedNet
from snngen.hwmodel.blocks.banks import bank_rows, k_rows
from snngen.hwmodel.blocks.router import rom_words
from snngen.hwmodel.plan import HiddenLayer, HwPlan, InputLayer, PoolStage, plan
from snngen.resources import rtl_dir

MARKER = ".snngen-build"
MANIFEST_FORMAT = "snngen-build"
MANIFEST_VERSION = 1
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Verilog-2005 keywords a user-chosen top-module name must not be
_KEYWORD_TEXT = """always and assign automatic begin buf bufif0 bufif1 case casex casez cell
cmos config deassign default defparam design disable edge else end endcase endconfig endfunction
endgenerate endmodule endprimitive endspecify endtable endtask event for force forever fork
function generate genvar highz0 highz1 if ifnone incdir include initial inout input instance
integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown
pullup pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg release repeat rnmos
rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0
strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg
unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())

class BuildError(ValueError):
    """The build cannot be written (bad option, existing directory); the message says why."""


def sanitize(name: str) -> str:
    """A Verilog identifier fragment from any model name: [A-Za-z0-9_] only, never empty."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s or "_"


def check_identifier(name: str, what: str = "module name") -> str:
    blocks = {p.stem for p in rtl_dir().glob("*.v")}
    if not _IDENT.match(name) or name in _KEYWORDS or name in blocks:
        raise BuildError(f"{what} {name!r} is not a usable Verilog identifier (letters, digits "
                         "and _, not starting with a digit, not a keyword, not the name of a "
                         "snngen block)")
    return name


@dataclass(frozen=True)
class BuildOptions:
    top: str = "snn_net"
    lanes: int | Mapping[str, int] = 1
    fifo_depth: int | Mapping[str, int] | None = None
    # how --lanes auto chose the lanes (snngen.hwmodel.lanes.LaneChoice.to_dict), for the
    # manifest
    lane_choice: Mapping | None = None


@dataclass(frozen=True)
class MemRef:
    """A memory-image parameter (``*_FILE``): the name of its file in the build's ``mem/``."""

    name: str


@dataclass(frozen=True)
class StageParams:
    """A stage's wrapper module, its parameters in declaration order (``*_FILE`` ones as
    :class:`MemRef`), the memory images they name (file name -> (words, word width)) and a
    one-line description."""

    module: str
    params: tuple[tuple[str, int | MemRef], ...]
    mems: dict[str, tuple[list[int], int]]
    describe: str

    def values(self) -> dict[str, int | list[int]]:
        """Parameter name -> value, with each memory image's words in place of its file."""
        return {n: (self.mems[v.name][0] if isinstance(v, MemRef) else v)
                for n, v in self.params}


def stage_params(p: HwPlan, k: int) -> StageParams:
    """Stage ``k``'s wrapper module and its parameters, as both backends instantiate it."""
    s = p.stages[k]
    mems: dict[str, tuple[list[int], int]] = {}
    if isinstance(s, InputLayer):
        g = s.geom
        wfile, kfile, bfile = f"s{k}_weights.mem", f"s{k}_k.mem", f"s{k}_bias.mem"
        mems[wfile] = (rom_words(g, s.weights, s.lanes, s.w_width), s.lanes * s.w_width)
        mems[kfile] = ([0] * bank_rows(s.n, s.lanes, s.plane), s.lanes * s.k_width)
        mems[bfile] = (k_rows(s.bias, s.lanes, 1, s.k_width), s.lanes * s.k_width)
        pkh, pkw, psh, psw, pph, ppw = s.pool
        params = [("N_IN", p.n_in), *[(f"R_{n}", v) for n, v in g.params().items()],
                  ("R_W_WIDTH", s.w_width), ("R_VALUE_WIDTH", s.value_width),
                  ("R_IN_INDEX_WIDTH", s.in_index_width), ("R_WEIGHT_FILE", MemRef(wfile)),
                  ("A_ADDR_WIDTH", s.acc_addr_width), ("A_WIDTH", s.acc_width),
                  ("A_PKH", pkh), ("A_PKW", pkw), ("A_PSH", psh), ("A_PSW", psw),
                  ("A_PPH", pph), ("A_PPW", ppw),
                  ("A_BIAS_FILE", MemRef(bfile)),
                  ("N", s.n), ("LANES", s.lanes), ("V_WIDTH", s.v_width),
                  ("K_WIDTH", s.k_width), ("THRESHOLD", s.threshold), ("V0", s.v0),
                  ("HAS_VMIN", int(s.v_min is not None)), ("VMIN", s.v_min or 0),
                  ("SPIKING", int(s.spiking)), ("K_INIT_FILE", MemRef(kfile)),
                  ("INDEX_WIDTH", s.index_width), ("OH", s.pooled[0]), ("OW", s.pooled[1])]
        describe = (f"{s.synapse} {g.cout}x{g.oh}x{g.ow} from {g.cin}x{g.h}x{g.w} pixels"
                    f"{', max-pooled' if s.pool != (1, 1, 1, 1, 0, 0) else ''}, "
                    f"{s.n} IF neurons, {s.lanes} lane(s)")
        module = "snn_input_layer"
    elif isinstance(s, HiddenLayer):
        g = s.geom
        wfile, kfile = f"s{k}_weights.mem", f"s{k}_k.mem"
        mems[wfile] = (rom_words(g, s.weights, s.lanes, s.w_width), s.lanes * s.w_width)
        mems[kfile] = (k_rows(s.k, s.lanes, s.plane, s.k_width), s.lanes * s.k_width)
        params = [*[(f"R_{n}", v) for n, v in g.params().items()],
                  ("R_IN_INDEX_WIDTH", s.in_index_width), ("R_WEIGHT_FILE", MemRef(wfile)),
                  ("N", s.n), ("LANES", s.lanes), ("W_WIDTH", s.w_width),
                  ("V_WIDTH", s.v_width), ("K_WIDTH", s.k_width),
                  ("THRESHOLD", s.threshold), ("V0", s.v0),
                  ("HAS_VMIN", int(s.v_min is not None)), ("VMIN", s.v_min or 0),
                  ("SPIKING", int(s.spiking)), ("K_INIT_FILE", MemRef(kfile)),
                  ("INDEX_WIDTH", s.index_width), ("ADDR_WIDTH", s.addr_width)]
        describe = (f"{s.synapse} {g.cout}x{g.oh}x{g.ow} kernel {g.kh}x{g.kw}, "
                    f"{s.n} IF neurons, {s.lanes} lane(s)")
        module = "snn_layer"
    else:
        assert isinstance(s, PoolStage)
        c, h, w = s.in_shape
        _, oh, ow = s.out_shape
        params = [("C", c), ("H", h), ("W", w), ("KH", s.kernel[0]), ("KW", s.kernel[1]),
                  ("SH", s.stride[0]), ("SW", s.stride[1]), ("PH", s.padding[0]),
                  ("PW", s.padding[1]), ("OH", oh), ("OW", ow), ("CNT_WIDTH", s.cnt_width),
                  ("IN_INDEX_WIDTH", s.in_index_width), ("OUT_INDEX_WIDTH", s.index_width)]
        describe = f"max-pool gate {s.kernel[0]}x{s.kernel[1]} over {c}x{h}x{w}"
        module = "snn_pool_layer"
    return StageParams(module, tuple((n, v if isinstance(v, MemRef) else int(v))
                                     for n, v in params), mems, describe)



def version() -> str:
    try:
        return metadata.version("snngen")
    except metadata.PackageNotFoundError:  # pragma: no cover - a plain checkout
        return "0+unknown"


def _resources(p: HwPlan) -> list[dict]:
    out = []
    for k, s in enumerate(p.stages):
        r: dict[str, object] = {"stage": k, "name": s.name, "kind": s.kind}
        if isinstance(s, (InputLayer, HiddenLayer)):
            # the bits the banks allocate: every lane holds ceil(channels / lanes) channels
            g = s.geom
            r["membrane_bits"] = bank_rows(s.n, s.lanes, s.plane) * s.lanes * s.v_width
            r["k_bits"] = bank_rows(s.n, s.lanes, s.plane) * s.lanes * s.k_width
            r["weight_rom_bits"] = g.rom_depth(s.lanes) * s.lanes * s.w_width
            if isinstance(s, InputLayer):
                r["accumulator_bits"] = (bank_rows(g.n_out, s.lanes, g.plane) * s.lanes
                                         * s.acc_width)
        else:
            r["count_ram_bits"] = int(np.prod(s.in_shape)) * (s.cnt_width + s.cnt_width)
        if k > 0:
            r["fifo_bits"] = p.fifo_depths[k - 1] * (p.stages[k - 1].index_width + 1)
        out.append(r)
    return out


def _stage_manifest(p: HwPlan) -> list[dict]:
    out = []
    for k, s in enumerate(p.stages):
        d: dict[str, object] = {"stage": k, "name": s.name, "kind": s.kind,
                                "instance": f"s{k}_{sanitize(s.name)}", "neurons": s.n,
                                "index_width": s.index_width}
        if isinstance(s, (InputLayer, HiddenLayer)):
            if s.lanes_asked is not None:
                # more lanes than channels: built with fewer (plan._lanes_for says why)
                d["lanes_asked"] = s.lanes_asked
            d.update(shape=list(s.shape), lanes=s.lanes, synapse=s.synapse,
                     geometry=s.geom.params(), weight_width=s.w_width, membrane_width=s.v_width,
                     k_width=s.k_width, threshold=s.threshold, v0=s.v0, v_min=s.v_min,
                     spiking=s.spiking)
            if isinstance(s, InputLayer):
                d.update(pool=list(s.pool), accumulator_width=s.acc_width,
                         pixel_width=s.value_width)
        else:
            d.update(source=s.source, in_shape=list(s.in_shape), out_shape=list(s.out_shape),
                     kernel=list(s.kernel), stride=list(s.stride), padding=list(s.padding),
                     count_width=s.cnt_width)
        if k > 0:
            d["fifo_depth"] = p.fifo_depths[k - 1]
        out.append(d)
    return out


def manifest(p: HwPlan, top: str, net_sha256: str, files: list[str],
             predicted: list[dict] | None = None, target: str = "verilog",
             parameters: Mapping[str, str] | None = None,
             lane_choice: Mapping | None = None) -> dict:
    """The build's ``manifest.json`` content; ``parameters``: the top module's parameters a
    simulation must set (``MEM_DIR`` for the Verilog target)."""
    class_width = max(1, (p.classes - 1).bit_length())
    s_count = len(p.stages)
    dbg_iw = max(s.index_width for s in p.stages)
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "generator": version(),
        "target": target, "top": top, "net_sha256": net_sha256,
        "parameters": dict(parameters or {}),
        "ports": {
            "clk": {"dir": "in", "width": 1}, "rst": {"dir": "in", "width": 1},
            "start": {"dir": "in", "width": 1},
            "timesteps": {"dir": "in", "width": p.t_width},
            "busy": {"dir": "out", "width": 1}, "done": {"dir": "out", "width": 1},
            "deadlock": {"dir": "out", "width": s_count},
            "s_pix_valid": {"dir": "in", "width": 1}, "s_pix_ready": {"dir": "out", "width": 1},
            "s_pix_data": {"dir": "in", "width": p.input_bits},
            "m_valid": {"dir": "out", "width": 1}, "m_ready": {"dir": "in", "width": 1},
            "m_class": {"dir": "out", "width": class_width},
            "m_counts": {"dir": "out", "width": p.classes * p.cnt_width},
            "dbg_step": {"dir": "out", "width": p.step_width},
            "dbg_valid": {"dir": "out", "width": s_count},
            "dbg_eot": {"dir": "out", "width": s_count},
            "dbg_index": {"dir": "out", "width": s_count * dbg_iw},
        },
        "input": {"shape": list(p.input_shape), "pixels": p.n_in, "bits": p.input_bits},
        "output": {"classes": p.classes, "readout": p.readout, "count_width": p.cnt_width,
                   "class_width": class_width},
        "max_timesteps": p.max_timesteps, "dbg_index_width": dbg_iw,
        "stages": _stage_manifest(p), "resources": _resources(p), "files": files,
        "predicted": predicted or [],
        **({"lane_choice": dict(lane_choice)} if lane_choice else {}),
    }


@dataclass(frozen=True)
class BuildInput:
    """What every build starts from: the checked options, the hardware plan, and the network
    file's bytes (copied into the build as ``net.snn``) with their digest."""

    options: BuildOptions
    plan: HwPlan
    net_bytes: bytes
    net_sha256: str


def prepare(net: FixedNet, options: BuildOptions | None = None) -> BuildInput:
    """Check ``options`` (the top's name) and plan ``net``: the start of both backends' build."""
    options = options or BuildOptions()
    check_identifier(options.top)
    p = plan(net, lanes=options.lanes, fifo_depth=options.fifo_depth)
    body = netfile.dumps(net)
    return BuildInput(options, p, body, "sha256:" + hashlib.sha256(body).hexdigest())


def write_sources(tmp: Path, b: BuildInput, files: list[str]) -> None:
    """``net.snn`` and ``files.f`` (the Verilog sources in dependency order) of a build."""
    (tmp / "net.snn").write_bytes(b.net_bytes)
    (tmp / "files.f").write_text("".join(f"{f}\n" for f in files))


def write_build_dir(out_dir: str | os.PathLike, force: bool,
                    fill: Callable[[Path], None]) -> Path:
    """Create ``out_dir`` through ``fill(tmp)`` (which writes every file into the empty
    directory ``tmp``) atomically: ``tmp`` is beside ``out_dir`` and renamed into place, and
    removed if ``fill`` raises. An existing ``out_dir`` is replaced only if it is empty, holds
    the marker of an earlier build, or ``force`` is set."""
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise BuildError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / MARKER).is_file() and not force:
            raise BuildError(f"{out} is a non-empty directory snngen did not create; choose "
                             "another one or pass --force to replace it")
    tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        (tmp / MARKER).write_text("snngen build directory: `snngen build` may replace it\n")
        if out.exists():
            trash = out.parent / f".{out.name}.{secrets.token_hex(6)}.old"
            out.rename(trash)
            tmp.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_manifest(path: Path, man: dict) -> None:
    path.write_text(json.dumps(man, indent=2, sort_keys=False) + "\n")


def load_manifest(build_dir: str | os.PathLike) -> dict:
    path = Path(build_dir) / "manifest.json"
    try:
        man = json.loads(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path}: not found: is {build_dir} a `snngen build` directory?") from None
    except (OSError, ValueError) as e:
        raise BuildError(f"{path}: unreadable ({e})") from None
    if man.get("format") != MANIFEST_FORMAT or man.get("version") != MANIFEST_VERSION:
        raise BuildError(f"{path}: not a snngen build manifest (version {MANIFEST_VERSION})")
    return man
