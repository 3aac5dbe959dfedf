"""The Verilog backend: ``snngen build --target verilog NET -o DIR``.

A build directory holds

* ``rtl/``: the hand-written blocks the network uses (copied from ``snngen/rtl``) and the
  generated top level ``<top>.v`` (``templates/snn_top.v.j2``, rendered with StrictUndefined);
* ``mem/``: the ``$readmemh`` contents (weights, biases) of every stage;
* ``files.f``: the source list, in dependency order;
* ``manifest.json``: ports, parameters, formats, resources by stage, predicted cycles;
* ``net.snn``: the network file the build came from (``snngen verify`` re-runs the golden
  model from it), and ``.snngen-build`` (the marker that lets a rebuild replace the directory).

Output is deterministic: the same network and options give byte-identical files. The
directory is written beside the target and renamed into place, so a failed build leaves
nothing half-written. Identifiers never come from model names unsanitised.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jinja2
import numpy as np

from snngen import netfile
from snngen.fixednet import FixedNet
from snngen.hwfiles import rtl_dir, write_mem
from snngen.hwplan import HiddenLayer, HwPlan, InputLayer, PoolStage, plan
from snngen.resources import templates_dir
from snngen.rtlmodel.router import rom_words

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

# hand-written blocks per stage kind, in dependency order
_BLOCKS = {
    "input": ["snn_router", "snn_accum", "snn_if_array", "snn_input_layer"],
    "layer": ["snn_router", "snn_if_array", "snn_layer"],
    "pool": ["snn_maxpool_gate", "snn_pool_layer"],
}
_ALWAYS = ["snn_fifo", "snn_readout", "snn_control"]


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


def _mem(name: str) -> str:
    return f'{{MEM_DIR, "{name}"}}'


def _stage_context(p: HwPlan, k: int, s, mems: dict[str, tuple[list[int], int]]) -> dict:
    prefix = f"s{k}_{sanitize(s.name)}"
    last = k == len(p.stages) - 1
    ctx = {"k": k, "p": prefix, "ident": sanitize(s.name), "kind": s.kind, "last": last,
           "iw": s.index_width}
    if k > 0:
        ctx.update(prev=f"s{k - 1}_{sanitize(p.stages[k - 1].name)}",
                   in_iw=p.stages[k - 1].index_width, fifo_depth=p.fifo_depths[k - 1],
                   fifo_count_width=p.fifo_depths[k - 1].bit_length())
    if isinstance(s, InputLayer):
        g = s.geom
        wfile, kfile, bfile = f"s{k}_weights.mem", f"s{k}_k.mem", f"s{k}_bias.mem"
        mems[wfile] = (rom_words(g, s.weights, s.lanes, s.w_width), s.lanes * s.w_width)
        mems[kfile] = ([0] * s.n, s.k_width)
        mems[bfile] = ([int(b) for b in s.bias], s.k_width)
        pkh, pkw, psh, psw, pph, ppw = s.pool
        params = [("N_IN", p.n_in), *[(f"R_{n}", v) for n, v in g.params().items()],
                  ("R_W_WIDTH", s.w_width), ("R_VALUE_WIDTH", s.value_width),
                  ("R_IN_INDEX_WIDTH", s.in_index_width), ("R_WEIGHT_FILE", _mem(wfile)),
                  ("A_ADDR_WIDTH", s.acc_addr_width), ("A_WIDTH", s.acc_width),
                  ("A_PKH", pkh), ("A_PKW", pkw), ("A_PSH", psh), ("A_PSW", psw),
                  ("A_PPH", pph), ("A_PPW", ppw), ("A_BIAS_FILE", _mem(bfile)),
                  ("N", s.n), ("LANES", s.lanes), ("V_WIDTH", s.v_width),
                  ("K_WIDTH", s.k_width), ("THRESHOLD", s.threshold), ("V0", s.v0),
                  ("HAS_VMIN", int(s.v_min is not None)), ("VMIN", s.v_min or 0),
                  ("SPIKING", int(s.spiking)), ("K_INIT_FILE", _mem(kfile)),
                  ("INDEX_WIDTH", s.index_width), ("OH", s.pooled[0]), ("OW", s.pooled[1])]
        describe = (f"{s.synapse} {g.cout}x{g.oh}x{g.ow} from {g.cin}x{g.h}x{g.w} pixels"
                    f"{', max-pooled' if s.pool != (1, 1, 1, 1, 0, 0) else ''}, "
                    f"{s.n} IF neurons, {s.lanes} lane(s)")
        ctx.update(module="snn_input_layer", v_width=s.v_width)
    elif isinstance(s, HiddenLayer):
        g = s.geom
        wfile, kfile = f"s{k}_weights.mem", f"s{k}_k.mem"
        mems[wfile] = (rom_words(g, s.weights, s.lanes, s.w_width), s.lanes * s.w_width)
        mems[kfile] = ([int(v) for v in s.k], s.k_width)
        params = [*[(f"R_{n}", v) for n, v in g.params().items()],
                  ("R_IN_INDEX_WIDTH", s.in_index_width), ("R_WEIGHT_FILE", _mem(wfile)),
                  ("N", s.n), ("LANES", s.lanes), ("W_WIDTH", s.w_width),
                  ("V_WIDTH", s.v_width), ("K_WIDTH", s.k_width),
                  ("THRESHOLD", s.threshold), ("V0", s.v0),
                  ("HAS_VMIN", int(s.v_min is not None)), ("VMIN", s.v_min or 0),
                  ("SPIKING", int(s.spiking)), ("K_INIT_FILE", _mem(kfile)),
                  ("INDEX_WIDTH", s.index_width), ("ADDR_WIDTH", s.addr_width)]
        describe = (f"{s.synapse} {g.cout}x{g.oh}x{g.ow} kernel {g.kh}x{g.kw}, "
                    f"{s.n} IF neurons, {s.lanes} lane(s)")
        ctx.update(module="snn_layer", v_width=s.v_width)
    else:
        assert isinstance(s, PoolStage)
        c, h, w = s.in_shape
        _, oh, ow = s.out_shape
        params = [("C", c), ("H", h), ("W", w), ("KH", s.kernel[0]), ("KW", s.kernel[1]),
                  ("SH", s.stride[0]), ("SW", s.stride[1]), ("PH", s.padding[0]),
                  ("PW", s.padding[1]), ("OH", oh), ("OW", ow), ("CNT_WIDTH", s.cnt_width),
                  ("IN_INDEX_WIDTH", s.in_index_width), ("OUT_INDEX_WIDTH", s.index_width)]
        describe = f"max-pool gate {s.kernel[0]}x{s.kernel[1]} over {c}x{h}x{w}"
        ctx.update(module="snn_pool_layer")
    ctx["params"] = [(n, v if isinstance(v, str) else str(int(v))) for n, v in params]
    ctx["describe"] = describe
    return ctx


def _version() -> str:
    try:
        return metadata.version("snngen")
    except metadata.PackageNotFoundError:  # pragma: no cover - a plain checkout
        return "0+unknown"


def render(net: FixedNet, p: HwPlan, top: str, net_sha256: str
           ) -> tuple[str, dict[str, tuple[list[int], int]], list[str]]:
    """The top-level Verilog, the .mem files (name -> (words, width)) and the block list."""
    mems: dict[str, tuple[list[int], int]] = {}
    stages = [_stage_context(p, k, s, mems) for k, s in enumerate(p.stages)]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    text = env.get_template("snn_top.v.j2").render(
        top=top, version=_version(), net_sha256=net_sha256, stages=stages,
        classes=p.classes, max_timesteps=p.max_timesteps, n_in=p.n_in,
        input_bits=p.input_bits, cnt_width=p.cnt_width, t_width=p.t_width,
        step_width=p.step_width, class_width=max(1, (p.classes - 1).bit_length()),
        dbg_iw=max(s.index_width for s in p.stages), readout=p.readout)
    blocks: list[str] = []
    for s in p.stages:
        for b in _BLOCKS[s.kind]:
            if b not in blocks:
                blocks.append(b)
    for b in _ALWAYS:
        if b not in blocks:
            blocks.append(b)
    return text, mems, blocks


def _resources(p: HwPlan) -> list[dict]:
    out = []
    for k, s in enumerate(p.stages):
        r: dict[str, object] = {"stage": k, "name": s.name, "kind": s.kind}
        if isinstance(s, (InputLayer, HiddenLayer)):
            g = s.geom
            r["membrane_bits"] = s.n * s.v_width
            r["k_bits"] = s.n * s.k_width
            r["weight_rom_bits"] = g.rom_depth * s.lanes * s.w_width
            if isinstance(s, InputLayer):
                r["accumulator_bits"] = g.n_out * s.acc_width
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
             predicted: list[dict] | None = None) -> dict:
    class_width = max(1, (p.classes - 1).bit_length())
    s_count = len(p.stages)
    dbg_iw = max(s.index_width for s in p.stages)
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "generator": _version(),
        "target": "verilog", "top": top, "net_sha256": net_sha256,
        "parameters": {"MEM_DIR": "mem/"},
        "ports": {
            "clk": {"dir": "in", "width": 1}, "rst": {"dir": "in", "width": 1},
            "start": {"dir": "in", "width": 1},
            "timesteps": {"dir": "in", "width": p.t_width},
            "busy": {"dir": "out", "width": 1}, "done": {"dir": "out", "width": 1},
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
    }


def build(net: FixedNet, out_dir: str | os.PathLike, options: BuildOptions = BuildOptions(),
          force: bool = False, predicted: list[dict] | None = None) -> Path:
    """Write the build directory ``out_dir`` for ``net`` (see the module doc). Returns it."""
    check_identifier(options.top)
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise BuildError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / MARKER).is_file() and not force:
            raise BuildError(f"{out} is a non-empty directory snngen did not create; choose "
                             "another one or pass --force to replace it")
    p = plan(net, lanes=options.lanes, fifo_depth=options.fifo_depth)
    body = netfile.dumps(net)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir(parents=True)
    try:
        (tmp / "net.snn").write_bytes(body)
        sha = "sha256:" + hashlib.sha256(body).hexdigest()
        text, mems, blocks = render(net, p, options.top, sha)
        (tmp / "rtl").mkdir()
        (tmp / "mem").mkdir()
        files = []
        for b in blocks:
            shutil.copyfile(rtl_dir() / f"{b}.v", tmp / "rtl" / f"{b}.v")
            files.append(f"rtl/{b}.v")
        (tmp / "rtl" / f"{options.top}.v").write_text(text)
        files.append(f"rtl/{options.top}.v")
        for name, (words, width) in sorted(mems.items()):
            write_mem(tmp / "mem" / name, words, width)
        (tmp / "files.f").write_text("".join(f"{f}\n" for f in files))
        man = manifest(p, options.top, sha, files, predicted)
        (tmp / "manifest.json").write_text(json.dumps(man, indent=2, sort_keys=False) + "\n")
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
