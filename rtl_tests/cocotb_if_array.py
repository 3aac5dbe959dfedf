"""cocotb test for snn_if_array, run inside the simulator by test_if_array.py (through runner.py)
on the hand-written Verilog and on the Amaranth IfArray (converted with the same ports).

``test_images``: several images of several timesteps. Per image: a few k_wr writes (the
per-image current), a clear (offered with a sweep and updates, which must lose; exactly
ceil(N/LANES) busy cycles; every membrane V0 after), then per timestep random updates on every
lane with random gaps, including runs of the same neuron on consecutive cycles and at spacing 2
(the read-add-write hazard), then a sweep (sometimes offered with updates, which must lose, and
with a K write, which it must see) under random backpressure. The expected values come from
``snngen.golden.model.if_update`` on int64 arrays, one call per timestep with current = (sum of
the neuron's updates) + K: every event of every timestep (the spiking indices in the sweep's
order, snngen.hwmodel.blocks.banks.emission_order: bank row by bank row, lanes ascending, then
EOT with index 0) and, after every timestep, every membrane (through the debug read port) are
compared with ``==``. The sweep's cycle count (acceptance edge to EOT transfer edge) must equal
sum over the bank rows of max(1, spikes in the row) + 4 + the cycles with m_valid && !m_ready,
busy in each of them, the clear's the bank rows, as in the header of
snngen/backends/verilog/rtl/snn_if_array.v. The K memory is one row of LANES fields per bank
row (banks.k_rows); K writes address a bank row and lane. While busy,
random updates, k writes and debug reads are offered: they must be refused (readies low) or
ignored. Every cycle the readies are checked against the priority rule, and on some cycles the
other inputs first take other values: no output may move (lanebench.LaneBench).

``test_reset``: a reset while idle keeps the membranes and K (a K write offered in reset is
ignored); a reset inside a sweep and inside a clear leaves the array idle with no event
pending; after a clear everything works again.

The weights are chosen so that every partial sum and every membrane stays within half of the
V_WIDTH range (the width analysis guarantees no wrap in real networks; here it keeps the int64
model and the hardware comparable). The configuration comes from SNN_IF_ARRAY_CONFIG (JSON).
"""

from __future__ import annotations

import cocotb
import numpy as np
from lanebench import LaneBench, config

from snngen.backends.verilog.memfile import read_mem
from snngen.golden.model import if_update
from snngen.hwmodel.blocks import banks


class IfArrayBench(LaneBench):
    WORD = "neuron"
    EXTRA_INPUTS = ("k_wr_en", "k_wr_row", "k_wr_data", "dbg_rd_en", "dbg_rd_index")
    OUTPUTS = ("m_index", "m_eot", "dbg_rd_data")

    def __init__(self, dut, name: str) -> None:
        cfg = config("SNN_IF_ARRAY_CONFIG")
        super().__init__(dut, cfg, name, n=cfg["N"], addr_width=cfg["ADDR_WIDTH"],
                         upd_width=cfg["W_WIDTH"], plane=cfg.get("PLANE", 1))
        self.vw: int = cfg["V_WIDTH"]
        self.kw: int = cfg["K_WIDTH"]
        self.iw: int = cfg["INDEX_WIDTH"]
        self.theta: int = cfg["THRESHOLD"]
        self.v0: int = cfg["V0"]
        self.vmin: int | None = cfg["VMIN"] if cfg["HAS_VMIN"] else None
        self.spiking: bool = bool(cfg["SPIKING"])
        rows = read_mem(cfg["mem_file"], self.lanes * self.kw, signed=False)
        assert len(rows) == self.rows
        self.k = np.array(banks.k_values(rows, self.n, self.lanes, self.plane, self.kw),
                          dtype=np.int64)
        self.order = banks.emission_order(self.n, self.lanes, self.plane)
        self.v = np.zeros(self.n, dtype=np.int64)  # model membranes (valid after a clear)
        # the stimulus keeps every partial sum in [lo, hi]: half the membrane range
        self.lo, self.hi = -(1 << (self.vw - 2)), (1 << (self.vw - 2)) - 1
        self.wmax = self.umax
        self.kmax = (1 << (self.kw - 1)) - 1
        assert self.kmax + self.wmax < self.hi // 2, "K/W too wide for this V_WIDTH"
        assert len(dut.m_index) == self.iw and len(dut.dbg_rd_data) == self.vw
        assert len(dut.k_wr_row) == cfg["ADDR_WIDTH"]
        assert len(dut.k_wr_data) == self.lanes * self.kw

    # --- one clock cycle -------------------------------------------------------------------

    def drive_extra(self, k_wr=None, dbg=None) -> None:
        """``k_wr``: None or (bank row, the LANES values of the row); ``dbg``: None or the
        index to read."""
        d = self.dut
        d.k_wr_en.value = int(k_wr is not None)
        d.k_wr_row.value = k_wr[0] if k_wr else 0
        d.k_wr_data.value = banks.k_rows_of(k_wr[1], self.kw) if k_wr else 0
        d.dbg_rd_en.value = int(dbg is not None)
        d.dbg_rd_index.value = dbg if dbg is not None else 0

    def drive_other(self) -> None:
        d, rng = self.dut, self.rng
        d.k_wr_en.value = rng.randrange(2)
        d.k_wr_row.value = rng.getrandbits(len(d.k_wr_row))
        d.k_wr_data.value = rng.getrandbits(self.lanes * self.kw)
        d.dbg_rd_en.value = rng.randrange(2)
        d.dbg_rd_index.value = rng.getrandbits(self.iw)

    def sample(self) -> dict:
        out = super().sample()
        out["dbg_data"] = self.dut.dbg_rd_data.value  # converted only where a read is due
        return out

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must be refused or ignored."""
        rng = self.rng
        k_wr = ((rng.randrange(self.rows), self.random_k_row())
                if rng.random() < 0.3 else None)
        dbg = rng.randrange(self.n) if rng.random() < 0.3 else None
        return {"upd": self.junk_updates(), "k_wr": k_wr, "dbg": dbg}

    # --- operations --------------------------------------------------------------------------

    def cleared(self) -> None:
        self.v[:] = self.v0

    def row_neurons(self, row: int) -> list[int | None]:
        """The neuron of every lane at bank row ``row`` (None where a lane has none)."""
        # a lane past the last channel maps to an index >= N
        return [n if (n := banks.neuron_at(j, row, self.lanes, self.plane)) < self.n else None
                for j in range(self.lanes)]

    def k_row(self, row: int) -> list[int]:
        """The model's K row (0 for a lane without a neuron)."""
        return [0 if n is None else int(self.k[n]) for n in self.row_neurons(row)]

    def random_k_row(self) -> list[int]:
        return [self.rng.randint(-self.kmax - 1, self.kmax) for _ in range(self.lanes)]

    def set_k_row(self, row: int, values: list[int]) -> None:
        for n, v in zip(self.row_neurons(row), values, strict=True):
            if n is not None:
                self.k[n] = v

    async def load_k(self) -> None:
        """Write the model's K into the K RAM (while idle), one bank row per cycle."""
        for row in range(self.rows):
            out = await self.step(k_wr=(row, self.k_row(row)))
            assert not out["busy"], self.msg("busy during K writes")

    async def k_writes(self, count: int) -> None:
        for _ in range(count):
            row = self.rng.randrange(self.rows)
            values = self.random_k_row()
            out = await self.step(k_wr=(row, values))
            assert not out["busy"], self.msg("busy during K writes")
            self.set_k_row(row, values)
            self.stats["k_writes"] += 1

    def lane_updates(self, j: int, current: np.ndarray) -> list[tuple[int, int]]:
        """A random update sequence for lane j; ``current`` (the partial sums) is updated."""
        rng = self.rng
        nrows = self.lane_rows(j)
        seq: list[tuple[int, int]] = []

        def add(row: int, w: int) -> None:
            n = self.neuron(j, row)
            p = self.v[n] + current[n]
            if not self.lo <= p + w <= self.hi:
                flip = min(-w, self.wmax)
                w = flip if self.lo <= p + flip <= self.hi else 0
            current[n] += w
            seq.append((row, w))

        def weight() -> int:
            w = rng.randint(-self.wmax // 2, self.wmax)
            if rng.random() < 0.05:
                w = -self.wmax - 1  # the most negative code
            return w

        for row in self.shared_rows(nrows) if nrows else []:
            add(row, weight())
        # some neurons end exactly on the threshold (v + I == THRESHOLD: fires, >= not >);
        # every neuron can, until the first one did
        for row in range(nrows):
            n = self.neuron(j, row)
            diff = self.theta - int(self.v[n] + current[n] + self.k[n])
            p = 0.2 if self.stats["exactly_threshold"] else 1.0
            if rng.random() < p and 0 < abs(diff) <= 6 * self.wmax:
                while diff:
                    w = max(-self.wmax, min(self.wmax, diff))
                    add(row, w)
                    diff -= w
                self.stats["exactly_threshold"] += 1
        # corrections: v + updates + K must stay in range
        for row in range(nrows):
            n = self.neuron(j, row)
            while not self.lo <= self.v[n] + current[n] + self.k[n] <= self.hi:
                p = self.v[n] + current[n] + self.k[n]
                add(row, -self.wmax if p > self.hi else self.wmax)
        return seq

    async def timestep(self, p_gap: float, p_ready: float, force_stall: bool = False,
                       k_at_sweep: bool = False) -> None:
        """One timestep: updates, then the sweep (with a K write offered in its acceptance
        cycle when ``k_at_sweep``, else sometimes), checked event by event, then every
        membrane."""
        rng = self.rng
        # the K write that goes with the sweep: a new value, in the model before the updates
        # are made, so they keep v + updates + K in range with it
        k_wr = None
        if k_at_sweep or rng.random() < 0.3:
            n = rng.randrange(self.n)
            row = banks.lane_address(n, self.lanes, self.plane)[1]
            values = self.k_row(row)
            lane = banks.lane_address(n, self.lanes, self.plane)[0]
            k = rng.randint(-self.kmax - 1, self.kmax - 1)
            values[lane] = k + int(k >= self.k[n])  # any value but the old one
            self.set_k_row(row, values)
            k_wr = (row, values)
            self.stats["k_write_at_sweep"] += 1
        current = np.zeros(self.n, dtype=np.int64)
        self.new_shared_rows()
        await self.drive_updates([self.lane_updates(j, current) for j in range(self.lanes)],
                                 p_gap)
        # expected result of this timestep
        v_new, spikes = if_update(self.v, current + self.k, self.theta, self.vmin, self.spiking)
        expected = [i for i in self.order if spikes[i]]
        sweep_cycles = int(np.maximum(banks.sweep_rows(expected, self.n, self.lanes,
                                                       self.plane), 1).sum()) + 4
        # the sweep, sometimes offered together with updates (which must be refused)
        upd = self.junk_updates() if rng.random() < 0.5 else None
        out = await self.step(sweep=1, upd=upd, k_wr=k_wr)
        assert out["sweep_ready"] and not out["upd_fire"], self.msg("sweep refused while idle")
        cycles = stalls = 0
        events: list[int] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == sweep_cycles:
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], self.msg(f"busy low {cycles} cycles into a sweep")
            assert cycles <= 4 * self.n + 1000, self.msg("the sweep never ends")
            if out["m_valid"] and not m_ready:
                stalls += 1
            if out["m_valid"] and m_ready:
                if out["m_eot"]:
                    assert out["m_index"] == 0, self.msg("EOT event with a nonzero index")
                    break
                events.append(out["m_index"])
        assert events == expected, self.msg(f"events {events}, expected {expected}")
        assert cycles == sweep_cycles + stalls, self.msg(
            f"sweep took {cycles} cycles with {stalls} stall cycles; contract: "
            f"sum_r max(1, s_r) + 4 + stalls = {sweep_cycles + stalls}")
        self.v = v_new
        self.stats["timesteps"] += 1
        self.stats["spikes"] += len(events)
        self.stats["stall_cycles"] += stalls
        await self.check_membranes()

    async def check_membranes(self) -> None:
        """Every membrane through the debug port (a read at edge e is on dbg_rd_data after e),
        one read per cycle; starts idle."""
        got: list[int] = []
        out = await self.step(dbg=0)
        assert not out["busy"], self.msg("busy after the sweep's EOT transfer")
        for n in range(1, self.n + 1):
            out = await self.step(dbg=n if n < self.n else None)
            got.append(out["dbg_data"].to_signed())
        want = [int(x) for x in self.v]
        assert got == want, self.msg(f"membranes {got}, expected {want}")


@cocotb.test()
async def test_images(dut) -> None:
    bench = IfArrayBench(dut, "test_images")
    await bench.start()
    if cocotb.SIM_NAME.lower().startswith("verilator"):
        # Verilator starts every signal at a random value (x-initial unique) and its first
        # evaluation at time 0 can see a rising clk edge before cocotb has driven any input: a
        # random k_wr_en there is a real K write (seen in CI). Rewrite K from the .mem file so
        # the run starts from it; the load of the K init itself is checked on Icarus, which
        # starts inputs at X and has no such edge.
        await bench.load_k()
    rng = bench.rng
    images, steps = bench.cfg["images"], bench.cfg["timesteps"]
    for image in range(images):
        if image > 0:
            await bench.k_writes(rng.randint(1, bench.n))
        await bench.clear()
        await bench.check_membranes()
        for t in range(steps):
            p_gap = rng.choice([0.0, 0.0, 0.3, 0.7])
            p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if t > 0 else 1.0
            await bench.timestep(p_gap, p_ready, force_stall=t == steps - 1, k_at_sweep=t == 1)
            await bench.idle(rng.randrange(3))  # idle gaps between timesteps
    keys = ["stall_cycles", "back_to_back_same_neuron", "k_writes", "exactly_threshold",
            "k_write_at_sweep", *(["multi_lane_row_updates"] if bench.lanes > 1 else [])]
    bench.check_coverage([*keys, "spikes"] if bench.spiking else keys)
    s = bench.stats
    if bench.spiking:
        assert s["spikes"] < s["timesteps"] * bench.n, f"every neuron always spiked: {dict(s)}"


@cocotb.test()
async def test_reset(dut) -> None:
    """Reset while idle keeps the membranes and K (a K write offered in reset is ignored);
    reset inside a sweep and inside a clear: idle right after, no event pending; the
    membranes are undefined then, and after a clear everything works again."""
    bench = IfArrayBench(dut, "test_reset")
    await bench.start()
    await bench.load_k()  # K as the model has it (the test before wrote to it)
    await bench.clear()
    await bench.timestep(0.2, 0.5)
    await bench.k_writes(3)
    # reset while idle: the membranes are kept; a K write offered in reset is ignored
    last = bench.rows - 1
    await bench.reset(2, k_wr=(last, [v ^ 1 for v in bench.k_row(last)]))
    await bench.idle(1)
    await bench.check_membranes()
    await bench.timestep(0.0, 1.0)  # K as written before the reset
    # reset inside a sweep and inside a clear (junk K writes offered there are ignored)
    await bench.reset_inside("sweep", bench.rows + 4)  # the shortest sweep: no spikes
    await bench.reset_inside("clear", bench.rows)
    await bench.clear()
    await bench.check_membranes()
    await bench.timestep(0.3, 0.5, force_stall=True)
    bench.check_coverage(["resets", "k_writes"])
