"""The two hardware backends; each builds the stages of :mod:`snngen.hwmodel`.

* :mod:`~snngen.backends.verilog`: hand-written parametric Verilog blocks plus a Jinja-generated
  top (``snngen build --target verilog``);
* :mod:`~snngen.backends.amaranth`: the same blocks as Amaranth 0.5 components, proven
  equivalent to the Verilog (``snngen build --target amaranth``).

The two never import each other; each may import :mod:`snngen.hwmodel` and what is below it.
"""
