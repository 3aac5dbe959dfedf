"""The Verilog backend: ``snngen build --target verilog NET -o DIR``.

A build directory holds

* ``rtl/``: the hand-written blocks the network uses (copied from ``snngen/backends/verilog/rtl``)
  and the generated top level ``<top>.v`` (``templates/snn_top.v.j2``, rendered with
  StrictUndefined);
* ``mem/``: the ``$readmemh`` contents (weights, biases) of every stage;
* ``files.f``: the source list, in dependency order;
* ``manifest.json``: ports, parameters, formats, resources by stage, predicted cycles;
* ``net.snn``: the network file the build came from (``snngen verify`` re-runs the golden
  model from it), and ``.snngen-build`` (the marker that lets a rebuild replace the directory).

Output is deterministic: the same network and options give byte-identical files. The
directory is written beside the target and renamed into place, so a failed build leaves
nothing half-written (:func:`snngen.hwmodel.build.write_build_dir`). Identifiers never come from
model names unsanitised.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jinja2

from snngen.backends.verilog.memfile import write_mem
from snngen.fixedpoint.fixednet import FixedNet
from snngen.hwmodel.build import (
    MARKER,
    BuildError,
    BuildOptions,
    MemRef,
    check_identifier,
    load_manifest,
    manifest,
    prepare,
    sanitize,
    stage_params,
    version,
    write_build_dir,
    write_manifest,
    write_sources,
)
from snngen.hwmodel.plan import HwPlan
from snngen.resources import rtl_dir, templates_dir

__all__ = ["MARKER", "BuildError", "BuildOptions", "build", "check_identifier", "load_manifest",
           "render", "sanitize"]

# hand-written blocks per stage kind, in dependency order
_BLOCKS = {
    "input": ["snn_router", "snn_accum", "snn_if_array", "snn_input_layer"],
    "layer": ["snn_router", "snn_if_array", "snn_layer"],
    "pool": ["snn_maxpool_gate", "snn_pool_layer"],
}
_ALWAYS = ["snn_fifo", "snn_readout", "snn_control"]


def _literal(v: int | MemRef) -> str:
    # memory images are named relative to the top's MEM_DIR parameter
    return f'{{MEM_DIR, "{v.name}"}}' if isinstance(v, MemRef) else str(v)


def _stage_context(p: HwPlan, k: int, mems: dict[str, tuple[list[int], int]]) -> dict:
    s = p.stages[k]
    sp = stage_params(p, k)
    mems.update(sp.mems)
    ctx = {"k": k, "p": f"s{k}_{sanitize(s.name)}", "ident": sanitize(s.name), "kind": s.kind,
           "last": k == len(p.stages) - 1, "iw": s.index_width, "module": sp.module,
           "params": [(n, _literal(v)) for n, v in sp.params], "describe": sp.describe}
    if s.kind != "pool":
        ctx["v_width"] = s.v_width
    if k > 0:
        ctx.update(prev=f"s{k - 1}_{sanitize(p.stages[k - 1].name)}",
                   in_iw=p.stages[k - 1].index_width, fifo_depth=p.fifo_depths[k - 1],
                   fifo_count_width=(p.fifo_depths[k - 1] - 1).bit_length() + 1)
    return ctx


def render(net: FixedNet, p: HwPlan, top: str, net_sha256: str
           ) -> tuple[str, dict[str, tuple[list[int], int]], list[str]]:
    """The top-level Verilog, the .mem files (name -> (words, width)) and the block list."""
    mems: dict[str, tuple[list[int], int]] = {}
    stages = [_stage_context(p, k, mems) for k in range(len(p.stages))]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    text = env.get_template("snn_top.v.j2").render(
        top=top, version=version(), net_sha256=net_sha256, stages=stages,
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


def build(net: FixedNet, out_dir: str | os.PathLike, options: BuildOptions | None = None,
          force: bool = False, predicted: list[dict] | None = None) -> Path:
    """Write the build directory ``out_dir`` for ``net`` (see the module doc). Returns it."""
    b = prepare(net, options)
    top = b.options.top

    def fill(tmp: Path) -> None:
        text, mems, blocks = render(net, b.plan, top, b.net_sha256)
        (tmp / "rtl").mkdir()
        (tmp / "mem").mkdir()
        files = []
        for blk in blocks:
            shutil.copyfile(rtl_dir() / f"{blk}.v", tmp / "rtl" / f"{blk}.v")
            files.append(f"rtl/{blk}.v")
        (tmp / "rtl" / f"{top}.v").write_text(text)
        files.append(f"rtl/{top}.v")
        for name, (words, width) in sorted(mems.items()):
            write_mem(tmp / "mem" / name, words, width)
        write_sources(tmp, b, files)
        write_manifest(tmp / "manifest.json",
                       manifest(b.plan, top, b.net_sha256, files, predicted,
                                target="verilog", parameters={"MEM_DIR": "mem/"},
                                lane_choice=b.options.lane_choice))

    return write_build_dir(out_dir, force, fill)
