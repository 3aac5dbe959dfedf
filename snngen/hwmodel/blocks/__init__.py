"""Bit- and cycle-level models of the hand-written RTL blocks (no torch, no backend imports).

Each module describes one block of ``snngen/backends/verilog/rtl/``: the order in which it does its
work, the contents of its generated memories, and its exact cycle counts. The build
(``snngen.backends.verilog.writer``) uses them to write ``.mem`` files, the timing model
(``snngen.hwmodel.timing``) to predict cycles, and the cocotb tests to check the RTL.
"""
