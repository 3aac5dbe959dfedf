"""The Amaranth stage wrappers (Layer, InputLayer, PoolLayer) proven equivalent to the
hand-written snn_layer.v, snn_input_layer.v and snn_pool_layer.v (with their blocks).

Each stage of a tiny network (an input layer with a strided conv, a hidden 1x1 conv layer, a
max-pool gate and a dense output layer; sized so that a proof takes at most a minute or two)
is instantiated twice with
the parameters both backends take from ``snngen.hwmodel.build.stage_params``: the Verilog wrapper
reading its weights and biases from ``.mem`` files, and the Amaranth wrapper holding them as
initial memory contents. Yosys flattens both and proves by temporal induction (equiv_induct)
that every register, memory word and output is equal in every cycle (see
``test_hw_fifo.check_equivalence``). The register names come from the block tests' own lists,
so a register renamed in a block and not here fails the match.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hwcheck import check_equivalence
from test_hw_accum import _TOP_REGS as ACC_TOP_REGS
from test_hw_if_array import _top_regs as if_top_regs
from test_hw_maxpool_gate import _REGS as GATE_REGS
from test_hw_router import _REGS as ROUTER_REGS
from test_hw_router import _VAL_REGS as ROUTER_VAL_REGS

from snngen.backends.amaranth.top import stage_component
from snngen.backends.verilog.memfile import write_mem
from snngen.hwmodel.build import MemRef, stage_params
from snngen.hwmodel.plan import plan
from snngen.ir import graph as ir
from tests.randnet import fixed_net

LANES = 2


@pytest.fixture(scope="module")
def hw_plan():
    rng = np.random.default_rng(5)
    specs = [
        ("input", ir.Input((1, 4, 4)), ()),
        ("conv0", ir.conv(rng.normal(0, 0.7, (2, 1, 2, 2)), rng.normal(0, 0.1, 2), 2), ("input",)),
        ("relu0", ir.ReLU(), ("conv0",)),                                    # 2x2x2: 8 neurons
        ("conv1", ir.conv(rng.normal(0, 0.5, (4, 2, 1, 1)), None), ("relu0",)),
        ("relu1", ir.ReLU(), ("conv1",)),                                    # 4x2x2: 16 neurons
        ("pool1", ir.maxpool(2, 2), ("relu1",)),                             # 4x1x1
        ("flat", ir.Flatten(), ("pool1",)),
        ("out", ir.linear(rng.normal(0, 0.5, (4, 4)), rng.normal(0, 0.1, 4)), ("flat",)),
    ]
    g = ir.build(specs, "out")
    net, _ = fixed_net(g, rng.random((16, 1, 4, 4)), t_max=8)
    return plan(net, lanes=LANES)




def _router(prefix: str, value: bool) -> list[tuple[str, str]]:
    regs = ROUTER_REGS + (ROUTER_VAL_REGS if value else [])
    return [(f"u.{prefix}.{r}", f"{prefix}.{r}") for r in regs]


def _banks(prefix: str, top: list[str], depth: int, kmem: int = 0) -> list[tuple[str, str]]:
    """The registers ``top``, the bank memory's ``depth`` rows (the Verilog's ``mem``, the
    twin's ``bank``) and ``kmem`` rows of a K memory of the block instance ``prefix``."""
    out = [(f"u.{prefix}.{r}", f"{prefix}.{r}") for r in top]
    out += [(f"u.{prefix}.kmem[{i}]", f"{prefix}.kmem[{i}]") for i in range(kmem)]
    out += [(f"u.{prefix}.mem[{i}]", f"{prefix}.bank[{i}]") for i in range(depth)]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_stage_equivalent_to_the_verilog_wrapper(hw_plan, k, tmp_path):
    sp = stage_params(hw_plan, k)
    dut = stage_component(hw_plan, k)
    params = {}
    for name, value in sp.params:
        if isinstance(value, MemRef):
            words, width = sp.mems[value.name]
            write_mem(tmp_path / value.name, words, width)
            params[name] = value.name  # Yosys runs in tmp_path
        else:
            params[name] = value
    if sp.module == "snn_layer":
        array = dut._array
        # K is never written in a hidden layer: kmem is a ROM (constants) in both designs
        renames = [("u.en_reg", "en_reg"), *_router("router", False),
                   *_banks("array", if_top_regs(array), array.depth)]
        sources = ("snn_router", "snn_if_array")
    elif sp.module == "snn_input_layer":
        array, acc = dut._array, dut._accum
        renames = [(f"u.{r}", r) for r in ("ld_reg", "eot_reg", "pix_idx_reg", "sweep_reg")]
        renames += [*_router("router", True),
                    *_banks("accum", ACC_TOP_REGS, acc.depth),
                    *_banks("array", if_top_regs(array), array.depth, kmem=array.depth)]
        sources = ("snn_router", "snn_accum", "snn_if_array")
    else:
        gate = dut._gate
        renames = [("u.en_reg", "en_reg")]
        renames += [(f"u.gate.{r}", f"gate.{r}") for r in GATE_REGS]
        renames += [(f"u.gate.mem[{i}]", f"gate.mem[{i}]") for i in range(gate.depth)]
        sources = ("snn_maxpool_gate",)
    check_equivalence(dut, params, renames, tmp_path, sources=sources)


def test_the_stages_cover_every_wrapper(hw_plan):
    assert [stage_params(hw_plan, k).module for k in range(4)] == [
        "snn_input_layer", "snn_layer", "snn_pool_layer", "snn_layer"]
    # powers of two: the induction starts from any state, and with an array index past the last
    # neuron (unreachable) the Verilog reads an x where Amaranth reads a 0, so that the proof
    # of a non-power-of-two array needs its own depth (the block proofs cover those sizes)
    assert [s.n for s in hw_plan.stages] == [8, 16, 4, 4]
    for k in range(4):
        Fragment.get(stage_component(hw_plan, k), None)
