"""Conversion (Rueckauer et al. 2016/2017): an ANN graph -> a graph of integrate-and-fire layers.

* :mod:`~snngen.convert.passes`: the pure ``Graph -> Graph`` passes (clean-ups, folding,
  data-based normalisation, the spiking form), listed in order in ``pipeline()``.

May import: :mod:`snngen.ir` (no torch, no backend).
"""
