"""NetworkTop: a whole spiking network as one Amaranth component, the twin of the top level
the Verilog backend generates (``templates/snn_top.v.j2``).

The same stage chain (docs/architecture.md §3): :class:`~snngen.backends.amaranth.control.Control`
steps the stages, stage k working on timestep t = s − k in pipeline step s; an
:class:`~snngen.backends.amaranth.fifo.EventFifo` of two timesteps of events sits between
consecutive stages (it never fills, so nothing stalls and the timing model is exact); the output
stage's events are counted by :class:`~snngen.backends.amaranth.readout.Readout`, which then picks
the class. Every stage gets exactly the parameters the Verilog top gives its wrapper
(:func:`snngen.hwmodel.build.stage_params`), with the memory images as initial contents instead of
``$readmemh`` files.

Ports (``verilog_ports()`` names in brackets; the Verilog top's port list)
-----
start : In(1), timesteps : In(t_width), busy : Out(1), done : Out(1)
    ``start`` is honoured while ``busy`` is low and samples ``timesteps`` (1 .. T_max);
    ``done`` pulses when the result has been taken.
deadlock : Out(stages)
    stage k's output FIFO is full while the stage after it has finished its timestep: the
    image can never finish (only a FIFO shallower than two timesteps does this; the plan
    refuses those); sticky until reset.
s_pix : ``In(stream.Signature(input_bits))`` [s_pix_valid, s_pix_ready, s_pix_data]
    the image, unsigned pixels in flat (c, h, w) order.
m : ``Out(stream.Signature({class, counts}))`` [m_valid, m_ready, m_class, m_counts]
    the result: the class and the output spike counts (``counts[i]`` = neuron i).
dbg_step : Out(step_width), dbg_valid : Out(stages), dbg_eot : Out(stages),
dbg_index : Out(stages * dbg_index_width)
    the current pipeline step; stage k emitted an event (a neuron index, or the marker) in
    this cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from snngen.fixedpoint.fixednet import FixedNet
from snngen.hwmodel.build import MemRef, stage_params
from snngen.hwmodel.plan import HwPlan, plan

from ._ports import vports
from .control import Control
from .fifo import EventFifo
from .input_layer import InputLayer
from .layer import Layer
from .pool_layer import PoolLayer
from .readout import Readout

__all__ = ["NetworkTop", "build_network", "stage_component"]

_STAGE_CLASSES = {"snn_input_layer": InputLayer, "snn_layer": Layer,
                  "snn_pool_layer": PoolLayer}
# the *_FILE parameters of the wrappers and the words that replace them
_INIT_NAMES = {"R_WEIGHT_FILE": "r_weight_init", "A_BIAS_FILE": "a_bias_init",
               "K_INIT_FILE": "k_init"}


def stage_component(p: HwPlan, k: int) -> wiring.Component:
    """Stage ``k`` of ``p`` as its Amaranth wrapper, with the Verilog top's parameters."""
    sp = stage_params(p, k)
    kwargs: dict[str, object] = {}
    for name, value in sp.params:
        if isinstance(value, MemRef):
            kwargs[_INIT_NAMES[name]] = sp.mems[value.name][0]
        else:
            kwargs[name.lower()] = value
    return _STAGE_CLASSES[sp.module](**kwargs)


class NetworkTop(wiring.Component):
    """The whole network of hardware plan ``p`` (see the module doc for the ports)."""

    def __init__(self, p: HwPlan) -> None:
        self.plan = p
        self.stages = [stage_component(p, k) for k in range(len(p.stages))]
        self.fifos = [EventFifo(p.stages[k - 1].index_width + 1, p.fifo_depths[k - 1])
                      for k in range(1, len(p.stages))]
        n = len(p.stages)
        self.class_width = max(1, (p.classes - 1).bit_length())
        self.dbg_iw = max(s.index_width for s in p.stages)
        out = p.stages[-1]
        self._control = Control(stages=n, t_width=p.t_width, t_max=p.max_timesteps,
                                step_width=p.step_width)
        self._readout = Readout(f=p.classes, cnt_width=p.cnt_width, v_width=out.v_width,
                                index_width=out.index_width, class_width=self.class_width,
                                by_count=int(p.readout == "count"))
        super().__init__({
            "start": In(1),
            "timesteps": In(p.t_width),
            "busy": Out(1),
            "done": Out(1),
            "deadlock": Out(n),
            "s_pix": In(stream.Signature(p.input_bits)),
            "m": Out(stream.Signature(data.StructLayout({
                "class": self.class_width,
                "counts": data.ArrayLayout(p.cnt_width, p.classes)}))),
            "dbg_step": Out(p.step_width),
            "dbg_valid": Out(n),
            "dbg_eot": Out(n),
            "dbg_index": Out(n * self.dbg_iw),
        })

    def verilog_ports(self) -> dict[str, tuple]:
        """The generated Verilog top's ports (besides clk, rst): name -> (value, "i"/"o")."""
        return {
            "start": (self.start, "i"),
            "timesteps": (self.timesteps, "i"),
            "busy": (self.busy, "o"),
            "done": (self.done, "o"),
            "deadlock": (self.deadlock, "o"),
            "s_pix_valid": (self.s_pix.valid, "i"),
            "s_pix_ready": (self.s_pix.ready, "o"),
            "s_pix_data": (self.s_pix.payload, "i"),
            "m_valid": (self.m.valid, "o"),
            "m_ready": (self.m.ready, "i"),
            "m_class": (self.m.payload["class"], "o"),
            "m_counts": (self.m.payload.counts.as_value(), "o"),
            "dbg_step": (self.dbg_step, "o"),
            "dbg_valid": (self.dbg_valid, "o"),
            "dbg_eot": (self.dbg_eot, "o"),
            "dbg_index": (self.dbg_index, "o"),
        }

    def elaborate(self, platform) -> Module:
        m = Module()
        n = len(self.stages)
        m.submodules.control = control = self._control
        m.submodules.readout = readout = self._readout
        c, rd = vports(control), vports(readout)
        st = []
        for k, stage in enumerate(self.stages):
            m.submodules[f"s{k}"] = stage
            st.append(vports(stage))
        for k, fifo in enumerate(self.fifos, start=1):
            m.submodules[f"s{k}_fifo"] = fifo

        go = c["go"]
        stage_done = Signal(n, name="stage_done")
        stage_busy = Signal(n, name="stage_busy")
        m.d.comb += [
            c["start"].eq(self.start),
            c["timesteps"].eq(self.timesteps),
            self.busy.eq(c["busy"]),
            self.done.eq(c["done"]),
            # the load waits for the first stage's clear; the others clear during the load
            c["first_busy"].eq(stage_busy[0]),
            c["rest_busy"].eq(stage_busy[1:].any() if n > 1 else 0),
            c["load_done"].eq(st[0]["load_done"]),
            c["stage_done"].eq(stage_done),
            c["rd_done"].eq(self.m.valid & self.m.ready),
            self.dbg_step.eq(c["dbg_step"]),
            self.deadlock.eq(c["deadlock"]),
        ]
        # stage k offers an event that its reader does not take
        out_blocked = Signal(n, name="out_blocked")
        m.d.comb += c["out_blocked"].eq(out_blocked)
        for k, s in enumerate(st):
            iw = self.plan.stages[k].index_width
            m.d.comb += [
                s["clear_valid"].eq(c["clear"]),
                s["go"].eq(go[k]),
                stage_done[k].eq(s["done"]),
                stage_busy[k].eq(s["busy"]),
                self.dbg_valid[k].eq(s["m_valid"] & s["m_ready"]),
                out_blocked[k].eq(s["m_valid"] & ~s["m_ready"]),
                self.dbg_eot[k].eq(s["m_eot"]),
                self.dbg_index[k * self.dbg_iw:(k + 1) * self.dbg_iw].eq(s["m_index"]),
            ]
            if k == 0:
                m.d.comb += [
                    s["load"].eq(c["load"]),
                    s["s_pix_valid"].eq(self.s_pix.valid),
                    self.s_pix.ready.eq(s["s_pix_ready"]),
                    s["s_pix_data"].eq(self.s_pix.payload),
                ]
            else:
                # the FIFO in front of stage k: two timesteps of stage k - 1's events
                f, prev = vports(self.fifos[k - 1]), st[k - 1]
                in_iw = self.plan.stages[k - 1].index_width
                m.d.comb += [
                    f["s_data"].eq(Cat(prev["m_index"], prev["m_eot"])),
                    f["s_valid"].eq(prev["m_valid"]),
                    prev["m_ready"].eq(f["s_ready"]),
                    s["s_valid"].eq(f["m_valid"]),
                    f["m_ready"].eq(s["s_ready"]),
                    s["s_index"].eq(f["m_data"][:in_iw]),
                    s["s_eot"].eq(f["m_data"][in_iw]),
                ]
            if self.plan.stages[k].kind != "pool" and k != n - 1:
                # only the output layer's membranes are read (by the readout)
                m.d.comb += [s["dbg_rd_en"].eq(0), s["dbg_rd_index"].eq(Const(0, iw))]

        # readout: the output layer's events are counted; at the end its membranes are read
        o = st[-1]
        m.d.comb += [
            o["m_ready"].eq(1),
            rd["clear"].eq(c["clear"]),
            rd["ev_valid"].eq(o["m_valid"]),
            rd["ev_index"].eq(o["m_index"]),
            rd["ev_eot"].eq(o["m_eot"]),
            rd["start"].eq(c["rd_start"]),
            o["dbg_rd_en"].eq(rd["dbg_rd_en"]),
            o["dbg_rd_index"].eq(rd["dbg_rd_index"]),
            rd["dbg_rd_data"].eq(o["dbg_rd_data"]),
            self.m.valid.eq(rd["m_valid"]),
            rd["m_ready"].eq(self.m.ready),
            self.m.payload["class"].eq(rd["m_class"]),
            self.m.payload.counts.as_value().eq(rd["m_counts"]),
        ]
        return m


def build_network(net: FixedNet, lanes=1, fifo_depth=None) -> NetworkTop:
    """The network ``net`` as an Amaranth component (``lanes``/``fifo_depth`` as in
    :func:`snngen.hwmodel.plan.plan`), for composing into a design of your own."""
    return NetworkTop(plan(net, lanes=lanes, fifo_depth=fifo_depth))
