"""The golden model: the integer network of docs/semantics.md, the contract the hardware meets.

* :mod:`~snngen.golden.model`: one pure function per operation and one runner for float and
  integer networks (spikes of every layer and timestep, counts, membranes, class, operations);
* :mod:`~snngen.golden.spikegen`: the LFSR spike-input generator;
* :mod:`~snngen.golden.sim`: batched runs over a dataset (float SNN, fixed-point SNN).

May import: :mod:`snngen.ir`, :mod:`snngen.convert`, :mod:`snngen.fixedpoint` (no torch, no
backend).
"""
