"""The fixed-point network: a quantised graph with its proven formats and its settings.

This is what ``snngen convert`` writes (:mod:`snngen.fixedpoint.netfile`) and what the golden model,
the timing model and the hardware backends read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from snngen.fixedpoint.quantize import LayerQuant, quantize
from snngen.fixedpoint.widths import LayerFormat, analyze, check_membrane_bits
from snngen.ir.graph import Graph


@dataclass(frozen=True)
class FixedConfig:
    """Fixed-point settings.

    weight_bits: signed weight width for every layer (default 8).
    layer_bits: per-layer overrides, layer or op name -> bits.
    input_bits: unsigned pixel width (default 8).
    max_timesteps: the longest run the widths must be safe for (default 128).
    membrane_bits: a membrane width the user requires (checked, never silently narrowed).
    """

    weight_bits: int = 8
    layer_bits: Mapping[str, int] = field(default_factory=dict)
    input_bits: int = 8
    max_timesteps: int = 128
    membrane_bits: int | None = None

    def weight_spec(self) -> int | dict[str, int]:
        return {"*": self.weight_bits, **self.layer_bits} if self.layer_bits else \
            self.weight_bits

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layer_bits"] = dict(sorted(self.layer_bits.items()))
        return d


@dataclass(frozen=True)
class FixedNet:
    graph: Graph                         # integer-valued spiking graph
    formats: dict[str, LayerFormat]      # IF population -> formats
    quant: tuple[LayerQuant, ...]        # what quantisation did, per IF population
    config: FixedConfig
    conversion: dict                     # the ConversionConfig used, as a dict
    source: dict = field(default_factory=dict)  # model, weights digest, dataset, calibration

    @property
    def input_mode(self) -> str:
        return self.conversion.get("input", "analog")


def fix(snn: Graph, config: FixedConfig, conversion: dict, source: dict | None = None
        ) -> FixedNet:
    """Quantise a converted float spiking graph and prove its register widths."""
    mode = conversion.get("input", "analog")
    q, quant = quantize(snn, config.weight_spec(), config.input_bits, mode)
    formats = analyze(q, config.max_timesteps, mode)
    if config.membrane_bits is not None:
        check_membrane_bits(formats, config.membrane_bits, config.max_timesteps)
    return FixedNet(q, formats, quant, config, dict(conversion), dict(source or {}))
