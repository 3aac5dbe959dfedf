"""Conversion-aware training (torch side): the clip-floor-shift activation and its recipe.

The one stage besides the frontend that imports torch; nothing below the frontend imports it.
Train (or fine-tune) a network with :class:`ClipFloor` in place of its ReLUs, and the frontend
reads each one's learned clip, which conversion takes as the layer's threshold
(docs/training.md).
"""

from snngen.training.qcfs import ClipFloor, calibrate_clips, clip_floor_modules, swap_relus

__all__ = ["ClipFloor", "calibrate_clips", "clip_floor_modules", "swap_relus"]
