"""cocotb test for snn_accum, run inside the simulator by test_accum.py (through runner.py) on
the hand-written Verilog and on the Amaranth Accum (converted with the same ports).

``test_images``: several images. Per image: a clear (offered together with a sweep and updates,
which it must win over; checked to take exactly ceil(N/LANES) busy cycles), random updates on
every lane with random gaps, including runs of the same accumulator on consecutive cycles and
at spacing 2 (the read-add-write hazard), then a readout under random backpressure; some images
get more updates and a second readout (a readout leaves the accumulators as they are), the
first image also reads out the freshly cleared map (K = bias), the second starts its readout
right after the last update (accepted at e - 1: included), whose last update on every lane is
to bank row 0, the first slot's row (its write, due at e + 1, is forwarded into that slot's
read data). The expected beats come from
``snngen.hwmodel.blocks.accum.readout`` (numpy max-pool of the model accumulators plus the
bias) and are compared with ``==``: every beat (m_row, the LANES K fields of the row's
channels, 0 for a channel past C) in order, then the EOT (row 0, value 0). The cycle contract of
the header of snngen/backends/verilog/rtl/snn_accum.v is asserted: the EOT transfers
NOUT_ROWS*PKH*PKW + 4 + (stall cycles) cycles after the sweep's
acceptance edge, every beat is first offered in the cycle ``beat_offer_cycle``/
``eot_offer_cycle`` says and held unchanged while stalled, the block is idle right after the
EOT. While busy, random updates, clears and sweeps are offered: they must be refused (readies
low). Every cycle the readies are checked against the priority rule, and on some cycles the
updates and m_ready first take other values: no output may move (lanebench.LaneBench).

``test_reset``: a reset while idle keeps the accumulators; a reset inside a readout and inside a
clear leaves the block idle with no beat pending; the interrupted readout changed nothing (it
is repeated), and after a clear everything works again.

The updates keep every partial sum within [-2^(min(A,K)-2), 2^(min(A,K)-2)) and the biases are
within half the K range, so every max + bias fits K_WIDTH (the caller's guarantee). The last
image leaves the partial sums free: the accumulators wrap modulo 2^A_WIDTH and the value sent is
the low K_WIDTH bits of max + bias, which the model reproduces with ``wrap``. The configuration
comes from SNN_ACCUM_CONFIG (JSON).
"""

from __future__ import annotations

import cocotb
import numpy as np
from lanebench import LaneBench, config, uint

from snngen.backends.verilog.memfile import read_mem
from snngen.hwmodel.blocks import accum, banks


class AccumBench(LaneBench):
    WORD = "accumulator"
    OUTPUTS = ("m_row", "m_eot", "m_value")

    def __init__(self, dut, name: str) -> None:
        cfg = config("SNN_ACCUM_CONFIG")
        self.shape = (cfg["C"], cfg["H"], cfg["W"])
        super().__init__(dut, cfg, name, n=int(np.prod(self.shape)),
                         addr_width=cfg["ADDR_WIDTH"], upd_width=cfg["U_WIDTH"],
                         plane=cfg["H"] * cfg["W"])
        self.aw: int = cfg["A_WIDTH"]
        self.kw: int = cfg["K_WIDTH"]
        self.orw: int = cfg["OUT_ROW_WIDTH"]
        self.pool = tuple(cfg[k] for k in ("PKH", "PKW", "PSH", "PSW", "PPH", "PPW"))
        c, oh, ow = accum.out_shape(self.shape, self.pool)
        assert (oh, ow) == (cfg["OH"], cfg["OW"])
        self.nout = c * oh * ow
        self.pool_plane = oh * ow
        self.out_rows = banks.bank_rows(self.nout, self.lanes, self.pool_plane)
        assert self.rows == accum.clear_cycles(self.shape, self.lanes)
        words = read_mem(cfg["mem_file"], self.lanes * self.kw, signed=False)
        assert len(words) == -(-cfg["C"] // self.lanes)
        self.bias = np.array(banks.k_values(words, cfg["C"], self.lanes, 1, self.kw),
                             dtype=np.int64)
        self.acc = np.zeros(self.n, dtype=np.int64)  # exact sums (valid after a clear)
        lim = 1 << (min(self.aw, self.kw) - 2)
        self.lo, self.hi = -lim, lim - 1
        assert len(dut.m_row) == self.orw and len(dut.m_value) == self.lanes * self.kw

    def sample(self) -> dict:
        out = super().sample()
        if out["m_valid"]:
            v = uint(self.dut.m_value.value)
            out["m_row"] = uint(self.dut.m_row.value)
            out["m_value"] = tuple(banks.k_values([v], self.lanes, self.lanes, 1, self.kw))
        return out

    def junk(self) -> dict:
        """Random inputs for a busy cycle: they must all be refused."""
        rng = self.rng
        return {"upd": self.junk_updates(), "clear": int(rng.random() < 0.2),
                "sweep": int(rng.random() < 0.3)}

    # --- operations --------------------------------------------------------------------------

    def cleared(self) -> None:
        self.acc[:] = 0

    def lane_updates(self, j: int, free: bool, last_row0: bool = False
                     ) -> list[tuple[int, int]]:
        """A random update sequence for lane j; the model sums ``self.acc`` are updated. Unless
        ``free``, every partial sum stays in [lo, hi]. ``last_row0``: the last update is to
        row 0 (the readout's first read when the first window position is inside the map)."""
        rng = self.rng
        nrows = self.lane_rows(j)
        seq: list[tuple[int, int]] = []

        def add(row: int) -> None:
            n = self.neuron(j, row)
            assert banks.lane_address(n, self.lanes, self.plane) == (j, row)
            w = rng.randint(self.umin, self.umax)
            if rng.random() < 0.05:
                w = self.umin  # the most negative code
            p = int(self.acc[n])
            if not free and not self.lo <= p + w <= self.hi:
                w = rng.randint(max(self.umin, self.lo - p), min(self.umax, self.hi - p))
            self.acc[n] += w
            seq.append((row, w))

        for row in self.shared_rows(nrows) if nrows else []:
            add(row)
        if free and nrows:
            # a couple of long same-sign runs of near-extreme weights: the sums leave the
            # A_WIDTH range and wrap (at least once for each such accumulator)
            for row in rng.sample(range(nrows), min(2, nrows)):
                n = self.neuron(j, row)
                sign = rng.choice([-1, 1])
                for _ in range((1 << (self.aw - self.upd_w + 1)) + rng.randint(0, 20)):
                    w = (rng.randint(self.umax - 2, self.umax) if sign > 0
                         else rng.randint(self.umin, self.umin + 2))
                    self.acc[n] += w
                    seq.append((row, w))
        if last_row0 and nrows:
            add(0)
        return seq

    async def updates(self, p_gap: float, free: bool = False, last_row0: bool = False) -> None:
        self.new_shared_rows()
        await self.drive_updates([self.lane_updates(j, free, last_row0)
                                  for j in range(self.lanes)], p_gap)

    def expected(self, free: bool) -> list[tuple[int, ...]]:
        """The beats' values: per output bank row, the K of its LANES channels (0 past C)."""
        held = accum.wrap(self.acc, self.aw)  # what the A_WIDTH-bit registers hold
        self.stats["wrapped_accumulators"] += int((held != self.acc).sum())
        k = accum.readout(held.reshape(self.shape), self.bias, self.pool).ravel()
        if not free:
            assert (held == self.acc).all()
            lo, hi = -(1 << (self.kw - 1)), (1 << (self.kw - 1)) - 1
            assert ((lo <= k) & (k <= hi)).all(), "stimulus broke the K_WIDTH guarantee"
        k = accum.wrap(k, self.kw)
        rows = [[0] * self.lanes for _ in range(self.out_rows)]
        for m, v in enumerate(k):
            lane, row = banks.lane_address(m, self.lanes, self.pool_plane)
            rows[row][lane] = int(v)
        return [tuple(r) for r in rows]

    async def readout(self, p_ready: float, force_stall: bool = False,
                      free: bool = False) -> None:
        rng = self.rng
        expected = self.expected(free)
        p = self.pool[0] * self.pool[1]
        # the sweep, offered together with updates (which must be refused)
        out = await self.step(sweep=1, upd=self.junk_updates() if rng.random() < 0.5 else None)
        assert out["sweep_ready"] and not out["upd_fire"], self.msg("sweep refused while idle")
        cycles = stalls = 0
        prev_stall = None  # the beat seen in the last cycle, if it stalled there
        beats: list[tuple[int, int]] = []
        while True:
            m_ready = int(rng.random() < p_ready)
            if force_stall and stalls == 0 and cycles + 1 == accum.eot_offer_cycle(
                    self.out_rows, self.pool):
                m_ready = 0  # the EOT is on m in this cycle when nothing stalled before
            out = await self.step(m_ready=m_ready, **self.junk())
            cycles += 1
            assert out["busy"], self.msg(f"busy low {cycles} cycles into a readout")
            assert cycles <= 4 * self.out_rows * p + 1000, self.msg("the readout never ends")
            if out["m_valid"]:
                beat = (out["m_row"], out["m_value"], out["m_eot"])
                if prev_stall is not None:
                    assert beat == prev_stall, self.msg(
                        f"beat {prev_stall} changed to {beat} in a stall")
                else:  # a new beat: offered exactly when the contract says
                    if beat[2]:
                        want = accum.eot_offer_cycle(self.out_rows, self.pool, stalls)
                    else:
                        want = accum.beat_offer_cycle(len(beats), self.pool, stalls)
                    assert cycles == want, self.msg(
                        f"beat {len(beats)} {beat} first offered in cycle {cycles} after the "
                        f"sweep, {stalls} stalls before; contract: cycle {want}")
                if not m_ready:
                    stalls += 1
                    prev_stall = beat
                    continue
                prev_stall = None
                if beat[2]:
                    assert beat[:2] == (0, (0,) * self.lanes), self.msg(
                        f"EOT beat with row/value {beat[:2]}")
                    break
                beats.append(beat[:2])
            else:
                prev_stall = None
        want_beats = list(enumerate(expected))
        assert beats == want_beats, self.msg(f"beats {beats}, expected {want_beats}")
        want = accum.readout_cycles(self.out_rows, self.pool, stalls)
        assert cycles == want, self.msg(
            f"readout took {cycles} cycles with {stalls} stall cycles; contract: "
            f"NOUT_ROWS*PKH*PKW + {accum.READOUT_LATENCY} + stalls = {want}")
        out = await self.step()
        assert not out["busy"], self.msg("still busy after the EOT transfer")
        self.stats["readouts"] += 1
        self.stats["beats"] += len(beats)
        self.stats["stall_cycles"] += stalls
        self.stats["negative_values"] += sum(v < 0 for r in expected for v in r)


@cocotb.test()
async def test_images(dut) -> None:
    # the accumulators are cleared before use and BIAS is never written, so the random inputs
    # Verilator may see at an edge at time 0 corrupt nothing a clear does not restore
    bench = AccumBench(dut, "test_images")
    await bench.start()
    rng = bench.rng
    images = bench.cfg["images"]
    for image in range(images):
        free = image == images - 1  # the last image: partial sums wrap modulo 2^A_WIDTH
        await bench.clear()
        # an immediate readout of a cleared map: K = BIAS (the caller makes one negative)
        if image == 0:
            await bench.readout(p_ready=1.0)
        for part in range(2 if image % 2 else 1):
            await bench.updates(rng.choice([0.0, 0.0, 0.3, 0.7]), free=free,
                                last_row0=image == 1)
            # image 1: the sweep right after the last update (accepted at e - 1, included)
            await bench.idle(0 if image == 1 else rng.randrange(3))
            p_ready = rng.choice([1.0, 0.8, 0.5, 0.2]) if image + part > 0 else 1.0
            await bench.readout(p_ready, force_stall=part == 1, free=free)
            await bench.idle(rng.randrange(3))
    bench.check_coverage(["stall_cycles", "back_to_back_same_accumulator", "updates",
                          "wrapped_accumulators", "negative_values",
                          *(["multi_lane_row_updates"] if bench.lanes > 1 else [])])


@cocotb.test()
async def test_reset(dut) -> None:
    """Reset while idle keeps the accumulators; reset inside a readout and inside a clear:
    idle right after, no beat pending, and everything works again (a readout does not change
    the accumulators, so the interrupted one can be repeated; a clear must be redone)."""
    bench = AccumBench(dut, "test_reset")
    await bench.start()
    await bench.clear()
    await bench.updates(0.2)
    await bench.idle(1)  # the last update is written two edges after its acceptance (the
    # reset's first edge): the reset does not stop it
    await bench.reset(2)  # while idle: the accumulators are kept
    await bench.idle(1)
    await bench.readout(0.5)
    await bench.reset_inside("sweep", bench.out_rows * bench.pool[0] * bench.pool[1])
    await bench.readout(0.7, force_stall=True)  # the interrupted readout changed nothing
    # the accumulators are undefined after a reset in a clear: clear, and all works again
    await bench.reset_inside("clear", bench.rows)
    await bench.clear()
    await bench.updates(0.0)
    await bench.readout(0.5, force_stall=True)
    bench.check_coverage(["resets", "updates", "readouts"])
