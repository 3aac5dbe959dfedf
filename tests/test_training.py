"""Conversion-aware training: the clip-floor-shift activation (snngen.training) from the torch
module through the frontend and conversion to IF neurons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from snngen.convert import passes
from snngen.convert.passes import ConversionConfig
from snngen.frontend import from_torch
from snngen.golden import sim
from snngen.ir import ann
from snngen.ir import graph as ir
from snngen.training import ClipFloor, calibrate_clips, clip_floor_modules, swap_relus


def _ref(x: np.ndarray, clip: float, levels: int) -> np.ndarray:
    return clip * np.clip(np.floor(x * levels / clip + 0.5), 0, levels) / levels


def test_the_activation_is_clip_floor_shift_with_straight_through_gradients():
    torch.manual_seed(0)
    m = ClipFloor(levels=4, clip=2.0)
    x = torch.linspace(-1, 3, 41, dtype=torch.float64, requires_grad=True)
    y = m.double()(x)
    np.testing.assert_allclose(y.detach().numpy(), _ref(x.detach().numpy(), 2.0, 4))
    y.sum().backward()
    # the floor passes the gradient through; the clamp (of the floored value, bounds
    # included) stops it outside [0, L]
    g = x.grad.numpy()
    q = np.floor(x.detach().numpy() * 4 / 2 + 0.5)
    inside = (q >= 0) & (q <= 4)
    assert inside.any() and (~inside).any()
    np.testing.assert_allclose(g[inside], 1.0)
    np.testing.assert_allclose(g[~inside], 0.0)
    assert m.clip.grad is not None and float(m.clip.grad) != 0.0
    with pytest.raises(ValueError, match="levels"):
        ClipFloor(levels=0)
    with pytest.raises(ValueError, match="clip"):
        ClipFloor(levels=2, clip=-1.0)


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 4))


def test_swap_and_calibrate():
    torch.manual_seed(1)
    model = swap_relus(_net(), levels=4)
    mods = dict(clip_floor_modules(model))
    assert list(mods) == ["1", "5"] and all(m.levels == 4 for m in mods.values())
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    x = torch.rand(64, 1, 8, 8)
    clips = calibrate_clips(model, x, percentile=99.0)
    # the clip is the percentile of the positive inputs of that activation
    pre = model[0](x).reshape(-1).detach().numpy()
    assert clips["1"] == pytest.approx(float(np.percentile(pre[pre > 0], 99.0)))
    assert mods["1"].clip.item() == pytest.approx(clips["1"])

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return torch.relu(self.fc(x))

    with pytest.raises(ValueError, match="functional relu"):
        swap_relus(Functional(), 4)
    with pytest.raises(ValueError, match="no nn.ReLU"):
        swap_relus(nn.Sequential(nn.Linear(2, 2)), 4)


def test_the_frontend_reads_the_learned_clip_and_the_ann_matches_torch():
    torch.manual_seed(2)
    model = swap_relus(_net(), levels=3)
    calibrate_clips(model, torch.rand(32, 1, 8, 8))
    g = from_torch(model, (1, 8, 8))
    relus = [n for n in g if isinstance(n.op, ir.ReLU)]
    assert [(n.name, n.op.levels) for n in relus] == [("1", 3), ("5", 3)]
    assert relus[0].op.clip == pytest.approx(model[1].clip.item())
    x = np.random.default_rng(0).random((16, 1, 8, 8))
    want = model.double()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ann.forward(g, x)[g.output], want, rtol=1e-9, atol=1e-9)
    rules = passes.scale_rules(g)
    assert rules["1"].startswith("learned clip") and rules["5"].startswith("learned clip")
    with pytest.raises(ir.GraphError, match="both"):
        ir.ReLU(clip=1.0)


@pytest.mark.parametrize("levels", [1, 2, 4, 7])
def test_if_neurons_reproduce_the_activation_at_t_equal_levels(levels):
    # the correspondence conversion rests on: with the clip as threshold and the membrane
    # starting at half of it, a constant current makes an IF neuron spike
    # clamp(floor(x * L / clip + 1/2), 0, L) times in T = L steps
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), ClipFloor(levels, 1.5),
                          nn.Linear(12, 3))
    g = from_torch(model, (1, 4, 4))
    x = np.random.default_rng(levels).random((40, 1, 4, 4))
    snn = passes.convert(g, x, ConversionConfig())
    res = sim.simulate(snn, x, [levels], trace=True)
    pre = ann.forward(g, x, keep=["1"])["1"]
    q = np.clip(np.floor(pre * levels / 1.5 + 0.5), 0, levels)
    if_name = next(n.name for n in snn if isinstance(n.op, ir.IF) and not n.op.output)
    np.testing.assert_array_equal(res.final[if_name]["count"], q)


def test_the_cli_says_which_rule_set_each_threshold(tmp_path, capsys):
    # a clip-floor model of the digits' shape, as a user writes it: a factory file and weights
    import json

    from snngen import cli
    from snngen.fixedpoint import netfile

    (tmp_path / "m.py").write_text(
        "from torch import nn\n"
        "from snngen.training import ClipFloor\n"
        "def make():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), ClipFloor(4, 2.0),\n"
        "                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))\n")
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), ClipFloor(4, 2.0), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        model[1].clip.fill_(2.5)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    args = [str(tmp_path / "m.py:make"), "--weights", str(tmp_path / "w.pt"), "--dataset",
            "digits"]
    assert cli.main(["simulate", *args, "--timesteps", "4", "--limit", "20"]) == 0
    assert "thresholds: 1: learned clip 2.5 (4 levels); 4: p99.9" in capsys.readouterr().out
    out = tmp_path / "n.snn"
    assert cli.main(["convert", *args, "-o", str(out)]) == 0
    assert netfile.load(out).conversion["thresholds"] == {"1": "learned clip 2.5 (4 levels)",
                                                         "4": "p99.9"}
    assert json.dumps(netfile.load(out).conversion["thresholds"])
