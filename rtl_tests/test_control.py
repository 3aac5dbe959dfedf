"""snn_control on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth Control), with cocotb_control.py: images back to back against an independent schedule
model (random delays, junk pulses, timesteps limited to 1 .. T_MAX, no combinational path),
exact step lengths with fixed delays, and reset in every cycle of an image."""

from __future__ import annotations

import pytest
import runner

# one stage and 1-bit timesteps (the smallest), every input value legal (T_MAX = 2^T_WIDTH - 1),
# timesteps above T_MAX limited, a long run (200 timesteps), STEP_WIDTH given and the default
CONFIGS: dict[str, dict] = {
    "S3-T3-max5": dict(STAGES=3, T_WIDTH=3, T_MAX=5),
    "S1-T1-max1-W1": dict(STAGES=1, T_WIDTH=1, T_MAX=1, STEP_WIDTH=1),
    "S4-T2-max3-W3": dict(STAGES=4, T_WIDTH=2, T_MAX=3, STEP_WIDTH=3),
    "S2-T8-max200": dict(STAGES=2, T_WIDTH=8, T_MAX=200),
    "S5-T4-max15": dict(STAGES=5, T_WIDTH=4, T_MAX=15),
}


def _control(hw: dict):
    from snngen.backends.amaranth.control import Control

    return Control(hw["STAGES"], hw["T_WIDTH"], hw["T_MAX"], hw.get("STEP_WIDTH"))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_control(sim, backend, name):
    hw = CONFIGS[name]
    runner.run_block("snn_control", sim, backend, hw, lambda: _control(hw), hw)
