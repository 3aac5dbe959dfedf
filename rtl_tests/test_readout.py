"""snn_readout on Icarus and Verilator (cocotb_readout.py): the class against
snngen.golden.model.readout with ties in count and membrane, the counts, the F + 1 cycle
contract."""

from __future__ import annotations

import json

import pytest
import runner

from snngen.resources import rtl_dir

CONFIGS = {
    "F10-count": dict(F=10, CNT_WIDTH=5, V_WIDTH=12, INDEX_WIDTH=4, CLASS_WIDTH=4, BY_COUNT=1),
    "F3-membrane": dict(F=3, CNT_WIDTH=3, V_WIDTH=20, INDEX_WIDTH=5, CLASS_WIDTH=2, BY_COUNT=0),
    "F17-count-wide": dict(F=17, CNT_WIDTH=4, V_WIDTH=32, INDEX_WIDTH=5, CLASS_WIDTH=8,
                           BY_COUNT=1),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_readout(sim, name):
    hw = CONFIGS[name]
    runner.run_cocotb(
        toplevel="snn_readout", sources=[rtl_dir() / "snn_readout.v"],
        test_module="cocotb_readout", parameters=hw, sim=sim,
        build_dir=runner.build_dir_for("snn_readout", hw, sim),
        extra_env={"SNN_READOUT_CONFIG": json.dumps({**hw, "rounds": 25})})
