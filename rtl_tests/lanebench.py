"""What the cocotb benches of snn_if_array and snn_accum share (cocotb_if_array.py,
cocotb_accum.py), and how test_if_array.py and test_accum.py run them on both backends.

Both blocks are LANES RAM banks of signed words (word n in bank n % LANES at row n / LANES)
behind the same control contract (the headers of snn_if_array.v and snn_accum.v): row updates
(upd_valid/upd_addr/upd_weight: one read-add-write of a whole bank row per cycle, field j of
upd_weight added to lane j's word, exact for the same row at any spacing), a clear that takes
exactly ceil(N/LANES) busy cycles, a sweep onto one m
stream, readies by the priority clear > sweep > updates and only while idle, every output a
register or a function of registers and clear_valid/sweep_valid, and a synchronous reset that
makes the block idle. :class:`LaneBench` drives one cycle at a time and checks, in every cycle:

* the readies against the priority rule;
* on some cycles (probes) the inputs other than clear_valid/sweep_valid are first driven to
  other values: no output may move when they take their real values (no combinational path
  from an update, m_ready, or the block's other inputs to any output);

and provides what both blocks do the same way: reset (optionally inside a clear or a sweep),
the clear with its exact cycle count, random update sequences with same-row hazards (runs on
consecutive cycles and a, b, a at spacing 2), one per lane, merged into row updates (the lanes
whose next update is to the same row go together, the others add 0; a lane without a word in
a row always adds 0, as the router's ROM gives it) with random gaps, and idle gaps that must
stay idle.
"""

from __future__ import annotations

import collections
import json
import os
import random
import zlib
from collections.abc import Callable, Mapping, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from snngen.hwmodel.blocks import banks

PERIOD_NS = 10
P_PROBE = 0.15  # share of checked cycles that first probe for combinational paths

Update = tuple[int, int]  # (bank row, signed weight) of one lane
RowUpdate = tuple[int, Sequence[int]]  # (bank row, the LANES signed weights)


def uint(value) -> int:
    """A LogicArray or (a 1-bit port) a Logic as an unsigned int."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def hazard_rows(rng: random.Random, nrows: int) -> list[int]:
    """A random sequence of rows of one lane, between nrows and ~20 * nrows long, with runs of
    the same row on consecutive updates and same-row pairs at spacing 2 (a, b, a): the
    read-add-write hazards the forwarding must get right."""
    rows: list[int] = []
    for _ in range(rng.randint(nrows, 4 * nrows)):
        row = rng.randrange(nrows)
        r = rng.random()
        if r < 0.3:  # a run of the same word on consecutive updates
            rows += [row] * rng.randint(2, 6)
        elif r < 0.4 and rows:  # a, b, a: the same word at spacing 2
            rows += [row, rng.randrange(nrows), row]
        else:
            rows.append(row)
    return rows


def config(env: str) -> dict:
    """The bench's configuration: the JSON in environment variable ``env`` (run_bench)."""
    return json.loads(os.environ[env])


class LaneBench:
    """One cycle at a time: drive the inputs (right after a rising edge), sample the outputs
    at ReadOnly, check the readies, wait for the next edge.

    A subclass names its other inputs (``EXTRA_INPUTS``), drives them (``drive_extra``), adds
    its other outputs (``OUTPUTS``) and gives the random inputs of a busy cycle (``junk``)."""

    WORD = "word"  # what a bank word is called in the coverage counters
    EXTRA_INPUTS: tuple[str, ...] = ()
    OUTPUTS: tuple[str, ...] = ("m_index", "m_eot")

    def __init__(self, dut, cfg: dict, name: str, n: int, addr_width: int,
                 upd_width: int, plane: int = 1) -> None:
        self.dut = dut
        self.cfg = cfg
        self.n = n
        self.lanes: int = cfg["LANES"]
        self.plane = plane  # neurons per channel: the banks split the channels
        self.rows = banks.bank_rows(n, self.lanes, plane)  # the clear's cycles
        self.addr_w = addr_width
        self.upd_w = upd_width
        self.umin, self.umax = -(1 << (upd_width - 1)), (1 << (upd_width - 1)) - 1
        # each cocotb test of a run has its own stream, from the run's seed
        seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
        self.rng = random.Random(seed)
        dut._log.info("%s: config %s, rng seed %d (from COCOTB_RANDOM_SEED=%d)", name, cfg,
                      seed, cocotb.RANDOM_SEED)
        self.cycle = 0
        self.stats: collections.Counter = collections.Counter()
        assert len(dut.upd_valid) == 1 and len(dut.upd_ready) == 1
        assert len(dut.upd_addr) == addr_width
        assert len(dut.upd_weight) == self.lanes * upd_width
        # the rows of this timestep's hazard sequence, shared by the lanes (shared_rows)
        self._shared: list[int] = []

    def msg(self, text: str) -> str:
        return f"cycle {self.cycle}: {text}"

    # --- one clock cycle -------------------------------------------------------------------

    def drive_extra(self, **extra) -> None:
        """Drive the block's other inputs for this cycle (``extra`` from the caller)."""

    def drive_other(self) -> None:
        """Drive the block's other inputs to random values (a probe)."""

    def outputs(self) -> dict[str, str]:
        """Every output as its string of bits (X included), for the probes."""
        d = self.dut
        names = ("busy", "clear_ready", "sweep_ready", "upd_ready", "m_valid", *self.OUTPUTS)
        return {name: str(getattr(d, name).value) for name in names}

    async def step(self, clear=0, sweep=0, upd: RowUpdate | None = None,
                   m_ready=1, check=True, **extra) -> dict:
        """Drive one cycle: ``upd`` is None or (row, the LANES weights), ``extra`` the block's
        other inputs. Returns the outputs (ints; the m payload only while m_valid) and
        ``upd_fire``, whether the row update transferred. ``check=False`` (the reset at time 0,
        where outputs may be X): nothing is checked or returned."""
        d, rng = self.dut, self.rng
        valid = int(upd is not None)
        addr = upd[0] if upd is not None else 0
        weight = 0
        for j, w in enumerate(upd[1] if upd is not None else []):
            weight |= (w & ((1 << self.upd_w) - 1)) << (j * self.upd_w)
        d.clear_valid.value = clear
        d.sweep_valid.value = sweep
        probe = check and rng.random() < P_PROBE
        if probe:
            # every other input at another value first: no output may follow them (the
            # readies depend on clear_valid and sweep_valid only, the rest on registers)
            d.upd_valid.value = 1 - valid
            d.upd_addr.value = rng.getrandbits(self.addr_w)
            d.upd_weight.value = rng.getrandbits(self.lanes * self.upd_w)
            d.m_ready.value = 1 - m_ready
            self.drive_other()
            await Timer(1, "ns")
            before = self.outputs()
        d.upd_valid.value = valid
        d.upd_addr.value = addr
        d.upd_weight.value = weight
        d.m_ready.value = m_ready
        self.drive_extra(**extra)
        await ReadOnly()
        self.cycle += 1
        if not check:
            await RisingEdge(d.clk)
            return {}
        if probe:
            after = self.outputs()
            assert after == before, self.msg(
                f"outputs moved with the other inputs: {before} -> {after}")
            self.stats["probes"] += 1
        out = self.sample()
        # the readies follow the documented priority: clear > sweep > updates, all only idle
        idle = not out["busy"]
        expect = (int(idle), int(idle and not clear), int(idle and not clear and not sweep))
        got = (out["clear_ready"], out["sweep_ready"], out["upd_ready"])
        assert got == expect, self.msg(f"readies {got}, expected {expect}")
        out["upd_fire"] = valid & out["upd_ready"]
        await RisingEdge(d.clk)
        return out

    def sample(self) -> dict:
        """The outputs as ints (at ReadOnly); the m payload only while m_valid."""
        d = self.dut
        out = {name: uint(getattr(d, name).value)
               for name in ("busy", "clear_ready", "sweep_ready", "upd_ready", "m_valid")}
        if out["m_valid"]:
            if "m_index" in self.OUTPUTS:
                out["m_index"] = uint(d.m_index.value)
            out["m_eot"] = int(d.m_eot.value)
        return out

    def junk_updates(self) -> RowUpdate | None:
        """A random row update (or none), any address the port can carry and any weights:
        offered where it must be refused."""
        rng = self.rng
        if rng.random() < 0.3:
            return None
        return (rng.randrange(1 << self.addr_w),
                [rng.randint(self.umin, self.umax) for _ in range(self.lanes)])

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must all be refused or ignored."""
        return {"upd": self.junk_updates()}

    # --- operations --------------------------------------------------------------------------

    async def start(self) -> None:
        """Every input defined before the first clock edge (Verilator starts inputs at random
        values and may see a rising edge at time 0), the clock, a reset."""
        d = self.dut
        d.rst.value = 1
        for name in ("clear_valid", "sweep_valid", "upd_valid", "upd_addr", "upd_weight",
                     "m_ready", *self.EXTRA_INPUTS):
            getattr(d, name).value = 0
        await Timer(1, unit="ns")
        Clock(d.clk, PERIOD_NS, unit="ns").start()
        await self.reset(check=False)

    async def reset(self, cycles: int = 2, check: bool = True, **inputs) -> dict:
        """Hold rst for ``cycles`` edges, offering ``inputs`` (default: random ones, which the
        reset must drop: a transfer in a reset cycle has no effect). Returns the outputs of the
        first reset cycle (those of the state before the reset)."""
        self.dut.rst.value = 1
        first: dict = {}
        for _ in range(cycles):
            if check:
                out = await self.step(m_ready=0, **(inputs or self.junk()))
                first = first or out
            else:
                await self.step(m_ready=0, check=False)
        self.dut.rst.value = 0
        self.stats["resets"] += check
        return first

    async def reset_inside(self, op: str, busy_cycles: int) -> None:
        """Start ``op`` ("clear" or "sweep"), let it run 0 .. busy_cycles - 1 more cycles
        (random backpressure, random inputs that must be refused), then reset for one edge:
        it must have been busy until then, and be idle right after, with nothing on m and
        both clear and sweep ready again."""
        rng = self.rng
        out = await self.step(**{op: 1})
        assert out[f"{op}_ready"], self.msg(f"{op} refused while idle")
        for _ in range(rng.randrange(busy_cycles)):
            out = await self.step(m_ready=rng.randrange(2), **self.junk())
            assert out["busy"], self.msg(f"{op} ended early")
        out = await self.reset(1)
        assert out["busy"], self.msg(f"the reset is not inside the {op}")
        out = await self.step()
        assert not out["busy"] and not out["m_valid"], self.msg(f"not idle after a reset in a {op}")
        assert out["clear_ready"] and out["sweep_ready"], self.msg(f"reset in a {op}: {out}")

    async def idle(self, cycles: int) -> None:
        """``cycles`` cycles offering nothing: the block stays idle."""
        for _ in range(cycles):
            out = await self.step()
            assert not out["busy"] and not out["m_valid"], self.msg("not idle in a gap")

    def cleared(self) -> None:
        """Set the model's words to their cleared value."""
        raise NotImplementedError

    async def clear(self) -> None:
        """A clear offered together with a sweep and updates (it must win over both): exactly
        ceil(N/LANES) busy cycles refusing or ignoring everything offered, then idle."""
        out = await self.step(clear=1, sweep=self.rng.randrange(2), upd=self.junk_updates())
        assert out["clear_ready"] and not out["upd_fire"], self.msg("clear refused or lost")
        for i in range(self.rows):
            out = await self.step(**self.junk())
            assert out["busy"], self.msg(f"clear ended after {i} cycles, expected {self.rows}")
        out = await self.step()
        assert not out["busy"], self.msg(f"clear still busy after {self.rows} rows")
        self.cleared()
        self.stats["clears"] += 1

    def lane_rows(self, j: int) -> int:
        """How many words lane j holds (rows 0 .. lane_rows - 1)."""
        return banks.lane_rows(self.n, self.lanes, self.plane, j)

    def neuron(self, j: int, row: int) -> int:
        """The neuron (or accumulator) at ``row`` of lane ``j``."""
        return banks.neuron_at(j, row, self.lanes, self.plane)

    def new_shared_rows(self) -> None:
        """Draw the bank-row sequence (hazard_rows over every row) that the lanes' update
        sequences of the next drive_updates follow (shared_rows), so that their updates often
        meet in one row update."""
        self._shared = hazard_rows(self.rng, self.rows)

    def shared_rows(self, nrows: int) -> list[int]:
        """The shared row sequence as one lane's: its rows < ``nrows`` (the lane's rows), each
        kept with probability 0.8, and now and then one of its own."""
        rng = self.rng
        out = []
        for row in self._shared:
            if row < nrows and rng.random() < 0.8:
                out.append(row)
            if rng.random() < 0.05:
                out.append(rng.randrange(nrows))
        return out

    async def drive_updates(self, seqs: Sequence[Sequence[Update]], p_gap: float) -> None:
        """Drive one update sequence per lane as row updates: a cycle (unless it is a gap,
        with probability ``p_gap``) takes the row at the head of a random lane's queue, and
        every lane whose next update is to that row adds its weight, the others 0; every row
        update offered while idle must transfer at once."""
        rng = self.rng
        queues = [collections.deque(s) for s in seqs]
        self.stats["updates"] += sum(len(q) for q in queues)
        prev_row: int | None = None
        while any(queues):
            if rng.random() < p_gap:
                await self.step()
                prev_row = None
                continue
            row = rng.choice([q[0][0] for q in queues if q])
            weights = []
            for q in queues:
                take = bool(q) and q[0][0] == row
                weights.append(q.popleft()[1] if take else 0)
            members = sum(w != 0 for w in weights)
            self.stats["multi_lane_row_updates"] += members > 1
            self.stats[f"back_to_back_same_{self.WORD}"] += prev_row == row
            prev_row = row
            out = await self.step(upd=(row, weights))
            assert out["upd_fire"] == 1, self.msg("update refused while idle")

    def check_coverage(self, keys: Sequence[str]) -> None:
        s = self.stats
        self.dut._log.info("%d cycles; %s", self.cycle, dict(s))
        for key in (*keys, "probes"):
            assert s[key] > 0, f"stimulus never reached {key!r}: {dict(s)}"


# --- host side (pytest): one run of a bench on one backend and simulator --------------------

def run_bench(block: str, hw: Mapping[str, int], sim: str,
              backend: str, mem: tuple[str, str, Sequence[int], int],
              component: Callable[[list[int]], object], seed: int,
              **cfg: object) -> None:
    """Run ``block``'s cocotb bench (``runner.run_block``) with hardware parameters ``hw``.

    ``mem`` = (parameter, file name, words, width): the block's memory contents, written as a
    .mem file in the build directory (the bench's model reads it; the Verilog loads it through
    the parameter) and given to ``component(words)``, the Amaranth twin with ``hw``, for the
    amaranth backend. ``seed`` (that of the words) is the run's seed. ``cfg``: the bench's
    other settings, passed to the bench with ``hw``."""
    import runner

    from snngen.backends.verilog.memfile import write_mem

    param, file_name, words, width = mem
    build_dir = runner.build_dir_for(block, hw, sim, backend=backend)
    build_dir.mkdir(parents=True, exist_ok=True)
    mem_file = build_dir / file_name  # a fixed path: the parameter, and the build, stay put
    write_mem(mem_file, list(words), width)
    runner.run_block(block, sim, backend, hw, lambda: component(list(words)),
                     {**hw, "mem_file": str(mem_file), **cfg},
                     sim_parameters={**hw, param: mem_file}, seed=seed)
