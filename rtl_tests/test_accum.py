"""snn_accum on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth Accum), with the one bench cocotb_accum.py: images of clears, random updates (with
same-accumulator hazards) and max-pool readouts under backpressure, checked beat by beat against
snngen.hwmodel.blocks.accum.readout, with the documented cycle counts; resets while idle, inside
a readout and inside a clear. Plus: the conv-current use case end to end in Python (the readout
of the router's summed products equals snngen.ir.kernels conv2d -> maxpool2d), and bad
parameters fail elaboration in both tools with a message naming the rule."""

from __future__ import annotations

import random

import numpy as np
import pytest
import runner
from lanebench import run_bench

from snngen.hwmodel.blocks import accum, banks
from snngen.ir import graph as ir
from snngen.ir import kernels

BLOCK = "snn_accum"

_NOPOOL = dict(PKH=1, PKW=1, PSH=1, PSW=1, PPH=0, PPW=0)

# hardware parameter sets (BIAS_FILE is added per build dir): LANES 1/2/4; no pooling; 2x2
# stride 2; 3x3 stride 2 padding 1 on an odd map; a rectangular window (2x3, strides 1 and 2,
# padding 1) wider than its one-column map, with all accumulators in one bank row; padding 2
# on a 3-wide map (the walk's steps to the next row and channel are negative) with unequal
# paddings; one channel (the bias is a constant) with U_WIDTH = A_WIDTH and the larger stride
# in H; narrow (A_WIDTH 8, K_WIDTH < A_WIDTH) and wide (A_WIDTH 26, K_WIDTH 27) widths; address
# and row ports wider than needed; two channels on four lanes (two lanes idle); a dense
# layer's view (13 channels of 1 x 1, not a multiple of LANES); 6 channels on 4 lanes with
# pooling (two channel groups, the second half full)
CONFIGS: dict[str, dict[str, int]] = {
    "L1-nopool-A12": dict(C=2, H=3, W=5, LANES=1, U_WIDTH=6, A_WIDTH=12, K_WIDTH=10,
                          **_NOPOOL, OH=3, OW=5, ADDR_WIDTH=7),
    "L2-pool2s2": dict(C=3, H=6, W=4, LANES=2, U_WIDTH=10, A_WIDTH=16, K_WIDTH=14,
                       PKH=2, PKW=2, PSH=2, PSW=2, PPH=0, PPW=0, OH=3, OW=2,
                       ADDR_WIDTH=6, OUT_ROW_WIDTH=6),
    "L4-pool3s2p1-A26": dict(C=2, H=7, W=5, LANES=4, U_WIDTH=22, A_WIDTH=26, K_WIDTH=27,
                             PKH=3, PKW=3, PSH=2, PSW=2, PPH=1, PPW=1, OH=4, OW=3,
                             ADDR_WIDTH=6),
    "L4-tiny-rect": dict(C=2, H=2, W=1, LANES=4, U_WIDTH=5, A_WIDTH=8, K_WIDTH=9,
                         PKH=2, PKW=3, PSH=1, PSW=2, PPH=1, PPW=1, OH=3, OW=1,
                         ADDR_WIDTH=1),
    "L2-pad2-negstep": dict(C=2, H=3, W=3, LANES=2, U_WIDTH=6, A_WIDTH=10, K_WIDTH=11,
                            PKH=2, PKW=3, PSH=1, PSW=1, PPH=1, PPW=2, OH=4, OW=5,
                            ADDR_WIDTH=4),
    "L1-C1-U=A": dict(C=1, H=3, W=4, LANES=1, U_WIDTH=8, A_WIDTH=8, K_WIDTH=7,
                      PKH=2, PKW=2, PSH=2, PSW=1, PPH=1, PPW=0, OH=2, OW=3,
                      ADDR_WIDTH=4),
    "L4-C2-nopool": dict(C=2, H=2, W=5, LANES=4, U_WIDTH=9, A_WIDTH=14, K_WIDTH=13,
                         **_NOPOOL, OH=2, OW=5, ADDR_WIDTH=4, OUT_ROW_WIDTH=7),
    "L4-dense": dict(C=13, H=1, W=1, LANES=4, U_WIDTH=9, A_WIDTH=14, K_WIDTH=13,
                     **_NOPOOL, OH=1, OW=1, ADDR_WIDTH=2),
    "L4-C6-pool2s2": dict(C=6, H=4, W=4, LANES=4, U_WIDTH=7, A_WIDTH=12, K_WIDTH=13,
                          PKH=2, PKW=2, PSH=2, PSW=2, PPH=0, PPW=0, OH=2, OW=2,
                          ADDR_WIDTH=5),
}


def _accum(hw: dict[str, int], bias: list[int]):
    """The Amaranth twin with the parameters ``hw`` of the Verilog and BIAS = ``bias``."""
    from snngen.backends.amaranth.accum import Accum

    # the constructor's arguments are the Verilog parameters' names in lower case
    return Accum(**{k.lower(): v for k, v in hw.items()}, bias_init=bias)


def _out_row_width(cfg: dict[str, int]) -> int:
    """The Verilog's default OUT_ROW_WIDTH: bits of the output bank rows."""
    rows = -(-cfg["C"] // cfg["LANES"]) * cfg["OH"] * cfg["OW"]
    return max(1, (rows - 1).bit_length())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_accum(sim, backend, name):
    hw = {**CONFIGS[name]}
    hw.setdefault("OUT_ROW_WIDTH", _out_row_width(hw))
    # the biases come from the same seed as the simulation (logged by run_cocotb); within half
    # the K range, so that max + bias fits K_WIDTH; the first one negative, so that a negative
    # value is sent (the readout of the cleared map is the bias)
    seed = runner.pick_seed()
    rng = random.Random(seed)
    half = 1 << (hw["K_WIDTH"] - 2)
    bias = [rng.randint(-half, half - 1) for _ in range(hw["C"])]
    bias[0] = rng.randint(-half, -1)
    # one word of LANES bias fields per channel group (the Amaranth twin takes the same words)
    lanes = hw["LANES"]
    words = banks.k_rows(bias, lanes, 1, hw["K_WIDTH"])
    run_bench(BLOCK, hw, sim, backend,
              ("BIAS_FILE", "bias.mem", words, lanes * hw["K_WIDTH"]),
              lambda w: _accum(hw, w), seed, images=3)


def _router_sums(x: np.ndarray, op: ir.Conv2d, out_hw: tuple[int, int]) -> np.ndarray:
    """What the router delivers into the accumulators for one image: every pixel times every
    weight it reaches, added one product at a time to the output it reaches (no bias)."""
    cin, h, w = x.shape
    cout, _, kh, kw = op.weight.shape
    (sh, sw), (ph, pw) = op.stride, op.padding
    oh, ow = out_hw
    acc = np.zeros((cout, oh, ow), dtype=np.int64)
    weight = op.weight.astype(np.int64)
    for c in range(cin):
        for r in range(h):
            for q in range(w):
                for o in range(cout):
                    for i in range(kh):
                        for j in range(kw):
                            y, ry = divmod(r + ph - i, sh)
                            xx, rx = divmod(q + pw - j, sw)
                            if ry == 0 and rx == 0 and 0 <= y < oh and 0 <= xx < ow:
                                acc[o, y, xx] += weight[o, c, i, j] * x[c, r, q]
    return acc


@pytest.mark.parametrize("trial", range(12))
def test_conv_current_readout_is_conv_then_maxpool(trial):
    # semantics.md §4 (max-pool of a constant current) with the bias added after the max: the
    # readout of the router's summed products equals kernels.conv2d -> maxpool2d of the node
    seed = runner.pick_seed()
    rng = np.random.default_rng(seed)
    cin, cout = (int(v) for v in rng.integers(1, 4, size=2))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    stride = tuple(int(v) for v in rng.integers(1, 3, size=2))
    padding = (int(rng.integers(0, kh)), int(rng.integers(0, kw)))
    h, w = (int(v) for v in rng.integers(4, 9, size=2))
    weight = rng.integers(-127, 128, size=(cout, cin, kh, kw))
    bias = rng.integers(-3000, 3001, size=cout)
    conv = ir.conv(weight, bias, stride, padding)
    while True:  # a random pooling that fits the conv output
        pkh, pkw = (int(v) for v in rng.integers(1, 4, size=2))
        pool = (pkh, pkw, int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                int(rng.integers(0, pkh)), int(rng.integers(0, pkw)))
        mp = ir.maxpool((pkh, pkw), pool[2:4], pool[4:6])
        try:
            graph = ir.build([("x", ir.Input((cin, h, w), bits=8), ()),
                              ("conv", conv, ("x",)), ("pool", mp, ("conv",))], "pool")
        except ir.GraphError:
            continue
        break
    x = rng.integers(0, 256, size=(cin, h, w))
    current = kernels.conv2d(x[None].astype(np.int64), conv)  # float: exact small integers
    want = kernels.maxpool2d(current, mp)[0]
    sums = _router_sums(x, conv, graph["conv"].shape[1:])
    got = accum.readout(sums, bias, pool)
    assert got.shape == graph["pool"].shape == accum.out_shape(graph["conv"].shape, pool)
    assert got.dtype == np.int64
    assert np.array_equal(got, want), f"seed {seed}"


def test_cycle_formulas():
    assert accum.clear_cycles((2, 3, 5), 1) == 30 and accum.clear_cycles((5, 3, 3), 4) == 18
    assert accum.READOUT_LATENCY == 4  # read, read data registered, maximum, output register
    assert accum.readout_cycles(30) == 34  # no pooling: NOUT + 4
    assert accum.readout_cycles(24, (3, 3, 2, 2, 1, 1), stalls=5) == 24 * 9 + 4 + 5
    assert accum.beat_offer_cycle(0, (2, 2, 2, 2, 0, 0)) == 7
    assert accum.eot_offer_cycle(18, (2, 2, 2, 2, 0, 0), 2) == 18 * 4 + 4 + 2
    # channel 3 of 2x2 planes on 2 lanes: lane 1, second channel group; the inverse
    assert banks.lane_address(13, 2, 4) == (1, 5)
    assert banks.neuron_at(1, 5, 2, 4) == 13
    assert banks.lane_address(13, 4) == (1, 3)


_OK = {"BIAS_FILE": "b.mem", "C": 2, "H": 5, "W": 5, "LANES": 2, "PKH": 3, "PKW": 3,
       "PSH": 2, "PSW": 2, "PPH": 1, "PPW": 1}
BAD_PARAMS: list[tuple[dict[str, object], str]] = [
    ({"BIAS_FILE": ""}, "BIAS_FILE_must_name_a_mem_file"),
    ({"C": 0}, "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"C": 1, "H": 1, "W": 1, "PKH": 1, "PKW": 1, "PPH": 0, "PPW": 0},
     "C_H_W_must_be_positive_with_at_least_2_accumulators"),
    ({"LANES": 3}, "LANES_must_be_a_power_of_two"),
    ({"LANES": 0}, "LANES_must_be_a_power_of_two"),
    ({"A_WIDTH": 33}, "A_WIDTH_must_be_2_to_32"),
    ({"U_WIDTH": 21}, "U_WIDTH_must_be_1_to_A_WIDTH"),
    ({"K_WIDTH": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"PKW": 0, "PPW": 0}, "PKH_PKW_must_be_at_least_1"),
    ({"PSH": 0}, "PSH_PSW_must_be_at_least_1"),
    ({"PPH": 3}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"PPW": -1}, "PPH_PPW_must_be_0_to_kernel_minus_1"),
    ({"OH": 4}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"OW": 2}, "OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1"),
    ({"ADDR_WIDTH": 5, "LANES": 1, "C": 3}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    ({"OUT_ROW_WIDTH": 3}, "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
    ({"OUT_ROW_WIDTH": 33}, "OUT_ROW_WIDTH_too_small_for_the_output_bank_rows"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS, ids=[m for _, m in BAD_PARAMS])
@pytest.mark.parametrize("tool", ["verilator", "iverilog"])
def test_bad_parameters_fail_elaboration(tool, params, message, tmp_path):
    runner.check_bad_parameters(tool, BLOCK, {**_OK, **params}, message, tmp_path)
