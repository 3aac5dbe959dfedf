"""The hardware model both backends implement, independent of either.

* :mod:`~snngen.hwmodel.plan`: a fixed-point network -> pipeline stages (input layer, hidden
  layers, max-pool gates) with lanes and FIFO depths; refuses what cannot be built, naming it;
* :mod:`~snngen.hwmodel.blocks`: bit- and cycle-level models of the blocks (router enumeration
  and weight ROM layout, accumulator, max-pool gate);
* :mod:`~snngen.hwmodel.timing`: the exact cycle model of a whole network, per image;
* :mod:`~snngen.hwmodel.build`: what both backends' builds share (stage parameters, manifest,
  the atomic build directory).

May import: :mod:`snngen.ir`, :mod:`snngen.fixedpoint`, :mod:`snngen.golden` (no torch, no
backend, no flow).
"""
