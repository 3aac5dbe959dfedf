"""Exchange with other spiking-network tools: NIR graphs in and out
(:mod:`snngen.interop.nirgraph`, the ``nir`` extra; docs/interop.md)."""
