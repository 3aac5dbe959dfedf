"""The Verilog backend: the hand-written blocks in ``rtl/`` (each header states its cycle
contract) and :mod:`~snngen.backends.verilog.writer`, which renders the top from
``templates/snn_top.v.j2``, writes the ``.mem`` images (:mod:`~snngen.backends.verilog.memfile`)
and the build directory.

May import: :mod:`snngen.hwmodel` and below, jinja2; never :mod:`snngen.backends.amaranth`.
"""
