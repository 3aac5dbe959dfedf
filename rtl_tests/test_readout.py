"""snn_readout on Icarus and Verilator, from both backends (the hand-written Verilog and the
Amaranth Readout), with cocotb_readout.py: random rounds (the class against
snngen.golden.model.readout with ties in count and membrane, the counts, the exact F + 2 cycle
scan, stalls, junk start/clear, no combinational path), hand-picked tie cases and resets."""

from __future__ import annotations

import pytest
import runner

# F not a power of two and a power of two, by count and by membrane, 1-bit counts and 2-bit
# membranes, 32-bit membranes, index and class ports wider than needed and exactly as wide
CONFIGS = {
    "F10-count": dict(F=10, CNT_WIDTH=5, V_WIDTH=12, INDEX_WIDTH=4, CLASS_WIDTH=4, BY_COUNT=1),
    "F3-membrane": dict(F=3, CNT_WIDTH=3, V_WIDTH=20, INDEX_WIDTH=5, CLASS_WIDTH=2, BY_COUNT=0),
    "F17-count-wide": dict(F=17, CNT_WIDTH=4, V_WIDTH=32, INDEX_WIDTH=5, CLASS_WIDTH=8,
                           BY_COUNT=1),
    "F2-C1-V2-count": dict(F=2, CNT_WIDTH=1, V_WIDTH=2, INDEX_WIDTH=1, CLASS_WIDTH=1,
                           BY_COUNT=1),
    "F4-C4-V6-membrane": dict(F=4, CNT_WIDTH=4, V_WIDTH=6, INDEX_WIDTH=2, CLASS_WIDTH=2,
                              BY_COUNT=0),
}

# hand-picked ties (semantics.md §5): (BY_COUNT, counts, membranes, class)
TIES = [
    (1, [3, 5, 5, 1], [9, -2, -2, 30], 1),  # count tie, membrane tie: lowest index
    (1, [3, 5, 5, 1], [9, -2, 4, 30], 2),  # count tie: the larger membrane
    (1, [0, 0, 0, 0], [-8, -8, -8, -8], 0),  # all equal: index 0
    (1, [0, 0, 0, 1], [7, 7, 7, -8], 3),  # one spike beats any membrane
    (0, [9, 0, 0, 0], [-3, 5, 5, 1], 1),  # by membrane: counts ignored, tie: lowest index
    (0, [0, 0, 0, 0], [-8, -8, -8, 7], 3),
]


def _ties(hw: dict) -> list[tuple[list[int], list[int], int]]:
    """The tie cases that configuration ``hw`` can run: its mode, at least 4 neurons, every
    count and membrane representable (padded neurons get the lowest membrane: below or equal
    to every case's, so they never win)."""
    lo, hi = -(1 << (hw["V_WIDTH"] - 1)), (1 << (hw["V_WIDTH"] - 1)) - 1
    return [(counts, v, want) for by_count, counts, v, want in TIES
            if by_count == hw["BY_COUNT"] and hw["F"] >= len(counts)
            and max(counts) < 1 << hw["CNT_WIDTH"] and lo <= min(v) and max(v) <= hi]


def test_every_tie_case_runs():
    missing = [case for case in TIES
               if not any(case[1:] in _ties(hw) for hw in CONFIGS.values())]
    assert not missing, f"no configuration runs these tie cases: {missing}"


def _readout(hw: dict):
    from snngen.backends.amaranth.readout import Readout

    return Readout(hw["F"], hw["CNT_WIDTH"], hw["V_WIDTH"], index_width=hw["INDEX_WIDTH"],
                   class_width=hw["CLASS_WIDTH"], by_count=hw["BY_COUNT"])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_readout(sim, backend, name):
    hw = CONFIGS[name]
    runner.run_block("snn_readout", sim, backend, hw, lambda: _readout(hw),
                     {**hw, "rounds": 25, "ties": _ties(hw)})
