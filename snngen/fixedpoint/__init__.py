"""Fixed point: the converted network in integers, with widths proven never to overflow.

* :mod:`~snngen.fixedpoint.formats`: ``Fixed(width, frac, signed)``, the precision value type;
* :mod:`~snngen.fixedpoint.quantize`: per-layer weight scales, integer biases and thresholds;
* :mod:`~snngen.fixedpoint.widths`: the interval analysis that proves membrane, current and
  accumulator widths for a number of timesteps;
* :mod:`~snngen.fixedpoint.fixednet`: the fixed-point network (graph + formats) and ``fix()``;
* :mod:`~snngen.fixedpoint.netfile`: the versioned, checksummed ``.snn`` network file.

May import: :mod:`snngen.ir`, :mod:`snngen.convert` (no torch, no backend).
"""
