"""Flows: the jobs that run a stage end to end or drive an outside tool.

* :mod:`~snngen.flows.workflow`: load, convert, simulate and evaluate a model on a dataset;
* :mod:`~snngen.flows.verify`: simulate a build with cocotb (:mod:`~snngen.flows.simrun`, the
  bench :mod:`~snngen.flows.cocotb_net`) and compare it with the golden and timing models;
* :mod:`~snngen.flows.synth`: Yosys + nextpnr (YoWASP): resources, Fmax, latency;
* :mod:`~snngen.flows.explore`: the weight width x T x lanes design-space sweep;
* :mod:`~snngen.flows.report`: one self-contained HTML page per build;
* :mod:`~snngen.flows.plots`: the PNGs.

May import every stage below; nothing below imports a flow. The command line
(:mod:`snngen.cli`) sits on top.
"""
