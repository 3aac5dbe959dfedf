"""The random-network regression (benchmarks/fuzz.py, `make fuzz`: 100 networks) on a fast
subset: three seeds, each built with both backends and verified on both simulators, every spike,
count, class and cycle against the golden and timing models. The seeds are fixed so the subset
covers what `make fuzz` draws: stalls, lanes beyond 4, FIFOs deeper than the minimum, narrow
weights and pixels (checked below, so a change to the draw cannot silently shrink it). Seed 36
is the first one `make fuzz` failed on (an image whose output counts all stay 0: Icarus did not
evaluate the Amaranth readout's count mux at time 0 under -g2012)."""

from __future__ import annotations

import sys

import pytest
import runner

sys.path.insert(0, str(runner.ROOT / "benchmarks"))
import fuzz

SEEDS = (3, 6, 36)


def test_the_subset_covers_the_draw():
    draws = [fuzz.draw(s) for s in SEEDS]
    assert any(d["gap"] > 0 for d in draws)
    assert any(max(d["lanes"], d["other_lanes"]) >= 8 for d in draws)
    assert any(d["fifo_factor"] > 1 for d in draws)
    assert any(d["weight_bits"] < 8 or d["input_bits"] < 8 for d in draws)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_both_backends_both_simulators(seed, tmp_path):
    r = fuzz.run_seed(seed, ["verilog", "amaranth"], list(runner.SIMS), tmp_path)
    assert r.get("error") is None, r.get("traceback")
    assert len(r["runs"]) == 4
    for run in r["runs"]:
        assert run["passed"], (f"{run['backend']} on {run['sim']}: {run['first_mismatch']}; "
                               f"reproduce: {fuzz.repro(seed)}")
