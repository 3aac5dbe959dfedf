"""The intermediate representation and what it means numerically.

* :mod:`~snngen.ir.graph`: the typed, immutable graph IR (frozen dataclasses, a DAG with shapes
  inferred) that every stage reads and the conversion passes rewrite;
* :mod:`~snngen.ir.kernels`: batched numpy kernels of its operations (convolution, pooling, ...),
  shared by the ANN forward, the golden model and the width analysis;
* :mod:`~snngen.ir.ann`: the graph run as an ANN in float64, the reference conversion is
  calibrated on and compared with.

May import: numpy only (no torch, no other snngen stage).
"""
