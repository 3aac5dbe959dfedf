"""Model of the spike router ``snngen/backends/verilog/rtl/snn_router.v``: geometry, weight ROM,
enumeration order and cycle counts.

The router turns every input event of one layer into its synaptic updates. Every supported layer
is one convolution geometry (:class:`RouterGeometry`): input map ``CIN x H x W`` (flat index
``n = (c*H + h)*W + w``), output map ``COUT x OH x OW``, kernel ``KH x KW``, stride ``SH, SW``,
zero padding ``PH, PW``; target ``(o, y, x)`` receives ``W[o, c, kh, kw]`` from input
``(c, h, w)`` iff ``kh = h + PH - y*SH`` is in ``[0, KH)`` and ``kw = w + PW - x*SW`` in
``[0, KW)``. A Linear layer ``F_in -> F_out`` is the 1x1 convolution ``CIN=F_in, H=W=1,
COUT=F_out, OH=OW=1, KH=KW=1`` with ``W[o, c, 0, 0] = Wl[o, c]`` (see :func:`geometry`,
:func:`weight4d`).

Enumeration (normative, the RTL issues exactly this): the output channels are split over the
lanes (:mod:`snngen.hwmodel.blocks.banks`: channel ``o`` on lane ``o % LANES``, at bank address
``(o // LANES) * OH*OW + y*OW + x``). For an event at ``(c, h, w)``, for each channel group
``g = 0 .. ceil(COUT/LANES)-1``, for the valid rows ``y`` from ``y_hi`` down to ``y_lo``, for
the valid columns ``x`` from ``x_hi`` down to ``x_lo``: one issue slot per cycle whose members
are the channels ``o = g*LANES + k < COUT`` (member ``k`` on lane ``k``), all at the same bank
address ``(g*OH + y)*OW + x`` (:func:`groups`). An event costs ``max(G, 1)`` issue cycles with
``G = ceil(COUT / LANES) * cnt_y * cnt_x`` (:func:`event_cycles`); every slot but a channel
group's last (when ``LANES`` does not divide ``COUT``) fills every lane.

Cycle contract (header of ``snn_router.v``; edges counted from the acceptance edge ``e0`` of
the timestep's first event, or of its EOT when it has no events): with the events and the EOT
offered back to back, ``upd_ready`` all ones and no stall, the first update transfers at edge
``e0 + FIRST_UPDATE_LATENCY`` and ``sweep_valid`` is first high in the cycle after edge
``e0 + SWEEP_LATENCY + sum_i max(G_i, 1)`` (:func:`timestep_cycles`); every stall cycle adds one.
:func:`schedule` gives the exact edges for any input timing with ``upd_ready`` all ones.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from snngen.ir.graph import Conv2d, Linear, Node, pool_out

__all__ = [
    "FIRST_UPDATE_LATENCY", "QUEUE_STAGES", "SWEEP_LATENCY", "RouterGeometry", "Schedule",
    "event_cycles", "geometry", "groups", "rom_words", "schedule", "timestep_cycles", "weight4d",
]

# registers an event passes between its acceptance and the group sequencer (I, DC, D1, D2, N):
# an event accepted at edge a can be loaded into the sequencer at edge a + QUEUE_STAGES at the
# earliest
QUEUE_STAGES = 5
# a group issued by the sequencer in the cycle ending at edge q is offered on upd_* from edge
# q + 2 (ROM read at q, the word registered at q + 1, output register at q + 2) and transfers
# at edge q + 3 when ready
ISSUE_TO_TRANSFER = 3
# first update transfer after the acceptance edge e0 of the first event (back to back, no stall)
FIRST_UPDATE_LATENCY = QUEUE_STAGES + 1 + ISSUE_TO_TRANSFER  # 9
# sweep_valid first high in the cycle after edge e0 + SWEEP_LATENCY + sum_i max(G_i, 1)
SWEEP_LATENCY = QUEUE_STAGES + ISSUE_TO_TRANSFER  # 8


@dataclass(frozen=True)
class RouterGeometry:
    """One layer's fan-out as a convolution geometry (the router's parameters)."""

    cin: int
    h: int
    w: int
    cout: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    def __post_init__(self) -> None:
        for name in ("cin", "h", "w", "cout", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"RouterGeometry.{name} must be an int, got {value!r}")
            object.__setattr__(self, name, int(value))
            if value < (0 if name in ("ph", "pw") else 1):
                raise ValueError(f"RouterGeometry.{name} = {value} is out of range")
        if self.h + 2 * self.ph < self.kh or self.w + 2 * self.pw < self.kw:
            raise ValueError(f"kernel {self.kh}x{self.kw} does not fit the padded input {self}")
        if self.oh != pool_out(self.h, self.kh, self.sh, self.ph):
            raise ValueError(f"OH = {self.oh} != (H + 2*PH - KH) / SH + 1 in {self}")
        if self.ow != pool_out(self.w, self.kw, self.sw, self.pw):
            raise ValueError(f"OW = {self.ow} != (W + 2*PW - KW) / SW + 1 in {self}")

    @property
    def n_in(self) -> int:
        """Input events' index range: CIN * H * W."""
        return self.cin * self.h * self.w

    @property
    def n_out(self) -> int:
        """Target neurons: COUT * OH * OW."""
        return self.cout * self.oh * self.ow

    @property
    def plane(self) -> int:
        """Neurons per output channel: OH * OW (the banks' PLANE)."""
        return self.oh * self.ow

    def channel_groups(self, lanes: int) -> int:
        """Channel groups of ``lanes`` output channels: ceil(COUT / LANES)."""
        return -(-self.cout // _check_lanes(lanes))

    def rom_depth(self, lanes: int) -> int:
        """Weight ROM words: ceil(COUT / LANES) * CIN * KH * KW."""
        return self.channel_groups(lanes) * self.cin * self.kh * self.kw

    def params(self) -> dict[str, int]:
        """The 12 geometry parameters of snn_router.v."""
        return {"CIN": self.cin, "H": self.h, "W": self.w, "COUT": self.cout, "OH": self.oh,
                "OW": self.ow, "KH": self.kh, "KW": self.kw, "SH": self.sh, "SW": self.sw,
                "PH": self.ph, "PW": self.pw}


def geometry(node: Node, in_shape: Sequence[int]) -> RouterGeometry:
    """The router geometry of a Conv2d or Linear IR node whose input has per-sample shape
    ``in_shape`` (``(C, H, W)`` for a Conv2d, ``(F_in,)`` for a Linear)."""
    op = node.op
    in_shape = tuple(int(s) for s in in_shape)
    if isinstance(op, Conv2d):
        o, i, kh, kw = op.weight.shape
        if len(in_shape) != 3 or in_shape[0] != i:
            raise ValueError(f"{node.name}: Conv2d with {i} input channels cannot take input "
                             f"shape {in_shape}")
        c, h, w = in_shape
        (sh, sw), (ph, pw) = op.stride, op.padding
        return RouterGeometry(c, h, w, o, pool_out(h, kh, sh, ph), pool_out(w, kw, sw, pw),
                              kh, kw, sh, sw, ph, pw)
    if isinstance(op, Linear):
        f_out, f_in = op.weight.shape
        if in_shape != (f_in,):
            raise ValueError(f"{node.name}: Linear {f_in} -> {f_out} cannot take input shape "
                             f"{in_shape}")
        return RouterGeometry(f_in, 1, 1, f_out, 1, 1, 1, 1, 1, 1, 0, 0)
    raise ValueError(f"{node.name}: the spike router handles Conv2d and Linear nodes only, "
                     f"not {type(op).__name__}")


def _int_weights(node: Node) -> np.ndarray:
    w = np.asarray(node.op.weight)
    if np.issubdtype(w.dtype, np.integer):
        return w.astype(np.int64)
    wi = np.rint(w)
    if not np.array_equal(wi, w) or np.abs(wi).max(initial=0) >= 2**62:
        raise ValueError(f"{node.name}: the router needs integer weights (a quantised graph)")
    return wi.astype(np.int64)


def weight4d(node: Node) -> np.ndarray:
    """The node's weights as ``W[o, c, kh, kw]`` of its geometry (int64, ``(COUT, CIN, KH,
    KW)``): a Conv2d's own weight, a Linear's ``Wl[F_out, F_in]`` as ``W[o, c, 0, 0] =
    Wl[o, c]``."""
    op = node.op
    if isinstance(op, Conv2d):
        return _int_weights(node).copy()
    if isinstance(op, Linear):
        return _int_weights(node)[:, :, None, None].copy()
    raise ValueError(f"{node.name}: the spike router handles Conv2d and Linear nodes only, "
                     f"not {type(op).__name__}")


def rom_words(geom: RouterGeometry, w4d: np.ndarray, lanes: int, w_width: int) -> list[int]:
    """The weight ROM: ``ceil(COUT/LANES)*CIN*KH*KW`` unsigned words of ``lanes * w_width`` bits,
    each weight stored once. Word ``((g*CIN + c)*KH + kh)*KW + kw`` holds, in field ``k`` (bits
    ``k*w_width`` up), ``W[g*LANES + k, c, kh, kw]`` in ``w_width``-bit two's complement, or 0
    where ``g*LANES + k >= COUT``. Ready for ``memfile.write_mem(path, words, lanes *
    w_width)``."""
    lanes = _check_lanes(lanes)
    w_width = operator.index(w_width)
    if w_width < 1:
        raise ValueError(f"w_width must be positive, got {w_width}")
    g = geom
    w = np.asarray(w4d)
    if w.shape != (g.cout, g.cin, g.kh, g.kw):
        raise ValueError(f"weights of shape {w.shape}, expected {(g.cout, g.cin, g.kh, g.kw)}")
    lo, hi = -(1 << (w_width - 1)), (1 << (w_width - 1)) - 1
    if w.size and (int(w.min()) < lo or int(w.max()) > hi):
        raise ValueError(f"weights in [{int(w.min())}, {int(w.max())}] do not fit {w_width}-bit "
                         f"signed [{lo}, {hi}]")
    mask = (1 << w_width) - 1
    ng = g.channel_groups(lanes)
    padded = np.zeros((ng * lanes, g.cin, g.kh, g.kw), dtype=np.int64)
    padded[:g.cout] = w
    # (g, k, c, kh, kw) -> (g, c, kh, kw, k): one word per (g, c, kh, kw), field k
    fields = padded.reshape(ng, lanes, g.cin, g.kh, g.kw).transpose(0, 2, 3, 4, 1)
    fields = fields.reshape(-1, lanes)
    words = []
    for row in fields.tolist():
        word = 0
        for k, v in enumerate(row):
            word |= (v & mask) << (k * w_width)
        words.append(word)
    return words


def _check_lanes(lanes: int) -> int:
    lanes = operator.index(lanes)
    if lanes < 1 or lanes & (lanes - 1):
        raise ValueError(f"LANES must be a power of two, got {lanes}")
    return lanes


def _span(pos: int, pad: int, k: int, s: int, n: int) -> tuple[int, int]:
    """(hi, lo) of the outputs 0 <= t < n with 0 <= pos + pad - t*s < k (empty when lo > hi)."""
    p = pos + pad
    hi = min(p // s, n - 1)
    lo = max(0, -(-(p - k + 1) // s))
    return hi, lo


def groups(geom: RouterGeometry, lanes: int, index: int) -> list[list[tuple[int, int, int]]]:
    """The issue slots the router issues for input event ``index``, in order, one per cycle:
    each a list of its members ``(neuron, kh, kw)``, member ``k`` on lane ``k`` (all members of
    a slot share one bank address). Empty (no slot) when the event reaches no neuron; it still
    costs one cycle (:func:`event_cycles`)."""
    lanes = _check_lanes(lanes)
    g = geom
    index = operator.index(index)
    if not 0 <= index < g.n_in:
        raise ValueError(f"input index {index} out of range [0, {g.n_in})")
    h, w = (index // g.w) % g.h, index % g.w  # the channel selects the weights only
    y_hi, y_lo = _span(h, g.ph, g.kh, g.sh, g.oh)
    x_hi, x_lo = _span(w, g.pw, g.kw, g.sw, g.ow)
    out: list[list[tuple[int, int, int]]] = []
    for grp in range(g.channel_groups(lanes)):
        chans = range(grp * lanes, min(g.cout, (grp + 1) * lanes))
        for y in range(y_hi, y_lo - 1, -1):
            kh = h + g.ph - y * g.sh
            for x in range(x_hi, x_lo - 1, -1):
                kw = w + g.pw - x * g.sw
                out.append([((o * g.oh + y) * g.ow + x, kh, kw) for o in chans])
    return out


def event_cycles(geom: RouterGeometry, lanes: int, index: int) -> int:
    """Issue cycles of one event: ``max(G, 1)``, ``G = ceil(COUT / LANES) * cnt_y * cnt_x``."""
    g = geom
    index = operator.index(index)
    if not 0 <= index < g.n_in:
        raise ValueError(f"input index {index} out of range [0, {g.n_in})")
    y_hi, y_lo = _span((index // g.w) % g.h, g.ph, g.kh, g.sh, g.oh)
    x_hi, x_lo = _span(index % g.w, g.pw, g.kw, g.sw, g.ow)
    cnt = max(y_hi - y_lo + 1, 0) * max(x_hi - x_lo + 1, 0)
    return max(g.channel_groups(lanes) * cnt, 1)


def timestep_cycles(geom: RouterGeometry, lanes: int, indices: Sequence[int]) -> int:
    """``SWEEP_LATENCY + sum_i max(G_i, 1)``: with the timestep's events and EOT offered back to
    back and no stall, ``sweep_valid`` is first high in the cycle after edge ``e0 +`` this,
    ``e0`` the acceptance edge of the first event (or of the EOT when there are none)."""
    return SWEEP_LATENCY + sum(event_cycles(geom, lanes, i) for i in indices)


@dataclass(frozen=True)
class Schedule:
    """Edges (rising clock edges, counted like ``offers``) of one timestep, upd_ready all ones:
    ``accept[i]`` accepts item i (the events, then the EOT last), ``transfer[j]`` transfers
    group j of the timestep (the concatenation of :func:`groups` of its events), the sweep is
    offered (``sweep_valid`` high) from edge ``sweep`` on."""

    accept: tuple[int, ...]
    transfer: tuple[int, ...]
    sweep: int


def schedule(geom: RouterGeometry, lanes: int, indices: Sequence[int],
             offers: Sequence[int]) -> Schedule:
    """Cycle-exact timing of one timestep for any input timing, with ``upd_ready`` all ones.

    ``offers[i]`` (non-decreasing, one per event and a last one for the EOT) is the first edge
    at which item i may be accepted: the producer holds ``s_valid`` high with item i from the
    cycle ending at that edge until it is accepted. The router must be idle before
    ``offers[0]`` (reset, or the previous sweep handshake done). Models the elastic queue
    D1 -> D2 -> N (each stage takes a new item when it is empty or hands its item on in the
    same cycle) in front of the sequencer Q, which loads item N when it is empty or issues the
    last group of its event, and issues one group (or the one slot of a G = 0 event, or of the
    EOT) per cycle."""
    lanes = _check_lanes(lanes)
    n_items = len(indices) + 1
    if len(offers) != n_items:
        raise ValueError(f"{len(offers)} offers for {len(indices)} events + EOT")
    if any(b < a for a, b in itertools.pairwise(offers)):
        raise ValueError("offers must be non-decreasing")
    cycles = [event_cycles(geom, lanes, i) for i in indices] + [1]
    ngroups = [len(groups(geom, lanes, i)) for i in indices] + [0]
    accept: list[int] = []
    transfer: list[int] = []
    queue: list[int | None] = [None] * QUEUE_STAGES  # I, DC, D1, D2, N: item numbers
    q_item: int | None = None  # the sequencer's item
    q_left = 0  # its issue cycles after the current one
    q_slot = 0  # its issue cycle in progress
    t = offers[0] - 1
    while True:
        t += 1  # the cycle ending at edge t
        # the sequencer issues its current slot in this cycle (to R at t, O at t + 1)
        if q_item == len(indices):  # the EOT: O holds it, i.e. sweep_valid, from edge t + 1
            return Schedule(tuple(accept), tuple(transfer), t + ISSUE_TO_TRANSFER - 1)
        if q_item is not None and q_slot < ngroups[q_item]:
            transfer.append(t + ISSUE_TO_TRANSFER)
        # the ready chain from the sequencer back to s_ready
        take = [False] * QUEUE_STAGES
        ready = q_item is None or q_left == 0
        for k in range(QUEUE_STAGES - 1, -1, -1):
            take[k] = queue[k] is not None and ready
            ready = queue[k] is None or take[k]
        nxt = len(accept)
        fire = ready and nxt < n_items and offers[nxt] <= t
        # the edge
        if take[-1]:
            q_item, q_left, q_slot = queue[-1], cycles[queue[-1]] - 1, 0
        elif q_item is not None:
            if q_left == 0:
                q_item = None
            else:
                q_left -= 1
                q_slot += 1
        new = [None if take[k] else queue[k] for k in range(QUEUE_STAGES)]
        for k in range(1, QUEUE_STAGES):
            if take[k - 1]:
                new[k] = queue[k - 1]
        if fire:
            new[0] = nxt
            accept.append(t)
        queue = new
