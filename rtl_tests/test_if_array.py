"""snn_if_array on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth IfArray), with the one bench cocotb_if_array.py: images of timesteps of random
updates (with same-neuron hazards), sweeps under backpressure, k writes (also in the cycle a
sweep is accepted) and clears, checked event by event and membrane by membrane against
snngen.golden.model.if_update, with the documented cycle counts; resets while idle, inside a
sweep and inside a clear. Plus: bad parameters fail elaboration in both tools with a message
naming the rule."""

from __future__ import annotations

import random

import pytest
import runner
from lanebench import run_bench

from snngen.hwmodel.blocks import banks

BLOCK = "snn_if_array"

# hardware parameter sets (K_INIT_FILE is added per build dir): LANES 1/2/4, N not a multiple
# of LANES, channels of PLANE > 1 neurons (6 channels of 5 on 4 lanes: the second channel group
# half full), SPIKING 0/1, HAS_VMIN 0/1 (also without spiking), narrow (V_WIDTH 8, 10) and wide
# (V_WIDTH 24) membranes, THRESHOLD 1, index/address ports wider than needed
CONFIGS: dict[str, dict[str, int]] = {
    "L1-N13-V10": dict(N=13, LANES=1, W_WIDTH=4, V_WIDTH=10, K_WIDTH=6, THRESHOLD=40, V0=0,
                       HAS_VMIN=0, VMIN=0, SPIKING=1, INDEX_WIDTH=4, ADDR_WIDTH=4),
    "L2-N23-V24-vmin": dict(N=23, LANES=2, W_WIDTH=8, V_WIDTH=24, K_WIDTH=10, THRESHOLD=300,
                            V0=-5, HAS_VMIN=1, VMIN=-200, SPIKING=1, INDEX_WIDTH=7,
                            ADDR_WIDTH=6),
    "L4-N30-V16-vmin-P5": dict(N=30, LANES=4, PLANE=5, W_WIDTH=6, V_WIDTH=16, K_WIDTH=8,
                               THRESHOLD=100, V0=7, HAS_VMIN=1, VMIN=-60, SPIKING=1,
                               INDEX_WIDTH=5, ADDR_WIDTH=4),
    "L4-N6-V12-readout": dict(N=6, LANES=4, W_WIDTH=5, V_WIDTH=12, K_WIDTH=7, THRESHOLD=50,
                              V0=3, HAS_VMIN=0, VMIN=0, SPIKING=0, INDEX_WIDTH=3,
                              ADDR_WIDTH=1),
    "L2-N9-V10-theta1-P3": dict(N=9, LANES=2, PLANE=3, W_WIDTH=4, V_WIDTH=10, K_WIDTH=4,
                                THRESHOLD=1, V0=0, HAS_VMIN=1, VMIN=-3, SPIKING=1,
                                INDEX_WIDTH=4, ADDR_WIDTH=3),
    # a readout population (no spikes) with a clamp: the membrane rests on VMIN
    "L1-N3-V8-readout-vmin": dict(N=3, LANES=1, W_WIDTH=3, V_WIDTH=8, K_WIDTH=3,
                                  THRESHOLD=20, V0=-1, HAS_VMIN=1, VMIN=-10, SPIKING=0,
                                  INDEX_WIDTH=2, ADDR_WIDTH=2),
    # a positive floor (the clamp then compares after the subtraction; floors <= 0 compare
    # v + K beside it)
    "L2-N8-V10-vmin-positive": dict(N=8, LANES=2, W_WIDTH=4, V_WIDTH=10, K_WIDTH=5,
                                    THRESHOLD=30, V0=5, HAS_VMIN=1, VMIN=4, SPIKING=1,
                                    INDEX_WIDTH=3, ADDR_WIDTH=2),
}


def _if_array(hw: dict[str, int], k: list[int]):
    """The Amaranth twin with the parameters ``hw`` of the Verilog and K = ``k``."""
    from snngen.backends.amaranth.if_array import IfArray

    return IfArray(n=hw["N"], lanes=hw["LANES"], w_width=hw["W_WIDTH"], v_width=hw["V_WIDTH"],
                   k_width=hw["K_WIDTH"], threshold=hw["THRESHOLD"], v0=hw["V0"],
                   v_min=hw["VMIN"] if hw["HAS_VMIN"] else None, spiking=hw["SPIKING"],
                   k_init=k, index_width=hw["INDEX_WIDTH"], addr_width=hw["ADDR_WIDTH"],
                   plane=hw.get("PLANE", 1))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_if_array(sim, backend, name):
    hw = CONFIGS[name]
    # K comes from the same seed as the simulation (logged by run_cocotb)
    seed = runner.pick_seed()
    rng = random.Random(seed)
    kw = hw["K_WIDTH"]
    k = [rng.randint(-(1 << (kw - 1)), (1 << (kw - 1)) - 1) for _ in range(hw["N"])]
    lanes, plane = hw["LANES"], hw.get("PLANE", 1)
    # the K memory holds one row of LANES fields per bank row (the Amaranth twin takes the
    # same words as its k_init)
    rows = banks.k_rows(k, lanes, plane, kw)
    run_bench(BLOCK, hw, sim, backend,
              ("K_INIT_FILE", "k.mem", rows, lanes * kw), lambda words: _if_array(hw, words),
              seed, images=3, timesteps=4)


_OK = {"K_INIT_FILE": "k.mem", "N": 10, "LANES": 2, "V_WIDTH": 12, "W_WIDTH": 6,
       "K_WIDTH": 8, "THRESHOLD": 100}
BAD_PARAMS: list[tuple[dict[str, object], str]] = [
    ({"K_INIT_FILE": ""}, "K_INIT_FILE_must_name_a_mem_file"),
    ({"N": 1}, "N_must_be_at_least_2"),
    ({"LANES": 3}, "LANES_must_be_a_power_of_two"),
    ({"LANES": 0}, "LANES_must_be_a_power_of_two"),
    ({"V_WIDTH": 33}, "V_WIDTH_must_be_2_to_32"),
    ({"W_WIDTH": 13}, "W_WIDTH_must_be_1_to_V_WIDTH"),
    ({"K_WIDTH": 0}, "K_WIDTH_must_be_1_to_32"),
    ({"THRESHOLD": 0}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"THRESHOLD": 2048}, "THRESHOLD_must_be_positive_and_fit_V_WIDTH"),
    ({"V0": -2049}, "V0_must_fit_V_WIDTH"),
    ({"VMIN": 2048, "HAS_VMIN": 1}, "VMIN_must_fit_V_WIDTH"),
    ({"HAS_VMIN": 2}, "HAS_VMIN_must_be_0_or_1"),
    ({"SPIKING": 2}, "SPIKING_must_be_0_or_1"),
    ({"INDEX_WIDTH": 3}, "INDEX_WIDTH_must_be_clog2_N_to_32"),
    ({"ADDR_WIDTH": 2}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    ({"PLANE": 5, "LANES": 1, "ADDR_WIDTH": 3}, "ADDR_WIDTH_too_small_for_the_bank_rows"),
    ({"PLANE": 3}, "PLANE_must_be_positive_and_divide_N"),
    ({"PLANE": 0}, "PLANE_must_be_positive_and_divide_N"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS, ids=[m for _, m in BAD_PARAMS])
@pytest.mark.parametrize("tool", ["verilator", "iverilog"])
def test_bad_parameters_fail_elaboration(tool, params, message, tmp_path):
    runner.check_bad_parameters(tool, BLOCK, {**_OK, **params}, message, tmp_path)
