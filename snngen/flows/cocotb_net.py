"""cocotb bench for a whole generated network (run inside the simulator by snngen.flows.verify).

It only drives and records; snngen.flows.verify compares the record with the golden and timing
models in the calling process. Configuration: the JSON file named by ``SNNGEN_NET_BENCH``
with ``images`` (a list of pixel lists), ``timesteps``, ``stages`` (the number of pipeline
stages), ``index_width`` (of dbg_index fields), ``out`` (where the record goes) and optionally
``gap``: the probability that a pixel is withheld, or the result refused, in a cycle.

Cycle convention: "cycle c" is the clock period after rising edge c (edges counted from the
first edge after reset). A transfer in cycle c (valid && ready sampled in it) happens at edge
c + 1. The record per image holds

* ``start_edge``: the edge at which start was taken (start high while busy was low);
* ``step_edges``: for every pipeline step s, the edge at which dbg_step became s (the go edge);
* ``events``: per stage, per step, the neuron indices it emitted, in order, and ``eot_edges``:
  per stage, per step, the edge of its end-of-timestep transfer (the stage's done edge);
* ``result_edge``: the edge after which m_valid was first high; ``class`` and ``counts``;
* or, when the top raised ``deadlock`` (it can never finish the image), ``deadlock``:
  {``stages``, ``step``, ``edge``}, and the run stops there (as the harness does); likewise
  ``timeout`` (the edge) when ``max_cycles`` (the whole run's budget) ran out.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

PERIOD_NS = 10


def _u(value) -> int:
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


@cocotb.test()
async def run_images(dut) -> None:
    with open(os.environ["SNNGEN_NET_BENCH"]) as f:
        cfg = json.load(f)
    stages: int = cfg["stages"]
    iw: int = cfg["index_width"]
    cw: int = cfg["count_width"]
    classes: int = cfg["classes"]
    timesteps: int = cfg["timesteps"]
    budget: int = cfg.get("max_cycles", 50_000_000)
    # optional stalls: pixels withheld and the result refused in random cycles
    gap: float = cfg.get("gap", 0.0)
    rng = random.Random(cocotb.RANDOM_SEED)

    # every input defined before the first edge (Verilator starts signals at random values)
    dut.rst.value = 1
    dut.start.value = 0
    dut.timesteps.value = timesteps
    dut.s_pix_valid.value = 0
    dut.s_pix_data.value = 0
    dut.m_ready.value = 0
    await Timer(1, unit="ns")
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    records = []
    edge = 0  # the edge that began the current cycle
    for pixels in cfg["images"]:
        rec: dict = {"events": [dict() for _ in range(stages)],
                     "eot_edges": [dict() for _ in range(stages)], "step_edges": {}}
        n_pix = len(pixels)
        pix = 0
        started = False
        step = 0
        while True:
            await RisingEdge(dut.clk)
            edge += 1
            if edge % 100_000 == 0:
                dut._log.info("cycle %d: step %d, %d/%d pixels", edge, step, pix, n_pix)
            if edge > budget:
                rec["timeout"] = edge
                break
            # drive this cycle
            dut.start.value = int(not started)
            offer = started and pix < n_pix and not (gap and rng.random() < gap)
            if offer:
                dut.s_pix_valid.value = 1
                dut.s_pix_data.value = pixels[pix]
            else:
                dut.s_pix_valid.value = 0
            ready = not (gap and rng.random() < gap)
            dut.m_ready.value = int(ready)
            await ReadOnly()
            if not started:
                if not int(dut.busy.value):
                    started = True
                    rec["start_edge"] = edge + 1
                continue
            if offer and int(dut.s_pix_ready.value):
                pix += 1
            s = _u(dut.dbg_step.value)
            if s != step:
                step = s
                if s:
                    rec["step_edges"][str(s)] = edge
            valid = _u(dut.dbg_valid.value)
            if valid:
                # only the fields of valid stages are defined (Icarus shows X elsewhere)
                eot_bits = str(dut.dbg_eot.value)[::-1]
                index_bits = str(dut.dbg_index.value)[::-1]
                for k in range(stages):
                    if valid >> k & 1:
                        key = str(step)
                        if eot_bits[k] == "1":
                            rec["eot_edges"][k][key] = edge + 1
                        else:
                            field = index_bits[k * iw:(k + 1) * iw][::-1]
                            rec["events"][k].setdefault(key, []).append(int(field, 2))
            dead = _u(dut.deadlock.value)
            if dead:
                rec["deadlock"] = {"stages": [k for k in range(stages) if dead >> k & 1],
                                   "step": step, "edge": edge}
                break
            if int(dut.m_valid.value) and "result_edge" not in rec:
                rec["result_edge"] = edge
            if int(dut.m_valid.value) and ready:
                rec["class"] = _u(dut.m_class.value)
                c = _u(dut.m_counts.value)
                rec["counts"] = [(c >> (i * cw)) & ((1 << cw) - 1) for i in range(classes)]
                break
        records.append(rec)
        if "deadlock" in rec or "timeout" in rec:
            break
        # let the result transfer (m_ready was high in this cycle) and the controller go idle
        await RisingEdge(dut.clk)
        edge += 1
        dut.m_ready.value = 0
    with open(cfg["out"], "w") as f:
        json.dump(records, f)
