"""TorchScript frontend: scripted and traced archives convert to the same function as in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snngen.frontend import (
    ModelLoadError,
    UnsupportedLayerError,
    from_torch,
    from_torchscript,
    load_graph,
    load_torchscript,
)
from snngen.ir import ann
from snngen.ir import graph as ir
from tests.nets import randomize_bn

TOL = 1e-5


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    return randomize_bn(model, torch.Generator().manual_seed(seed))


def sequential() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(),
        nn.Linear(64, 10))


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.stem(x))
        y = self.conv2(F.relu(self.bn1(self.conv1(x))))
        z = F.relu(x + y)
        return self.fc(torch.flatten(F.avg_pool2d(z, 2), 1))


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(2, 3, 1)
        self.b3 = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU())
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(2, 2, 1))
        self.fc = nn.Linear(9 * 4 * 4, 3)

    def forward(self, x):
        y = torch.cat([F.relu(self.b1(x)), self.b3(x), F.relu(self.bp(x))], 1)
        y = F.max_pool2d(y, 2)
        return F.softmax(self.fc(y.view(y.size(0), -1)), dim=1)


class ViewNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.bn = nn.BatchNorm1d(6 * 6 * 6)
        self.fc = nn.Linear(6 * 6 * 6, 4)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = x.view(x.size(0), -1)
        return self.fc(self.bn(x))


class Strided(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(4, 8, (3, 1), stride=(2, 1), padding=(1, 0)), nn.ReLU(inplace=True),
            nn.AvgPool2d(3, stride=2, padding=1))
        self.classifier = nn.Linear(8 * 2 * 4, 3)

    def forward(self, x):
        return F.log_softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


MODELS = {
    "sequential": (sequential, (1, 8, 8)),
    "residual": (Residual, (1, 8, 8)),
    "inception": (Inception, (2, 8, 8)),
    "view": (ViewNet, (3, 8, 8)),
    "strided": (Strided, (1, 13, 15)),
}


def _make(name: str) -> tuple[nn.Module, tuple[int, ...], torch.Tensor]:
    factory, shape = MODELS[name]
    torch.manual_seed(0)
    model = _randomise_bn(factory())
    x = torch.randn(4, *shape)
    return model, shape, x


def _torch_out(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        y = model(x)
    if isinstance(model, Strided):  # the IR's Softmax stands for log_softmax too
        y = y.exp()
    return y.double().numpy()


def _jit(model: nn.Module, x: torch.Tensor, how: str) -> torch.jit.ScriptModule:
    if how == "script":
        return torch.jit.script(model)
    return torch.jit.trace(model, x, check_trace=False)  # the check re-traces: slow


def _save(model: nn.Module, x: torch.Tensor, how: str, path) -> str:
    torch.jit.save(_jit(model, x, how), str(path))
    return str(path)


@pytest.mark.parametrize("how", ["script", "trace"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_archive_matches_torch_and_fx(name, how, tmp_path):
    model, shape, x = _make(name)
    path = _save(model, x, how, tmp_path / f"{name}.pt")
    graph = load_graph(path, None, shape)
    assert graph.input.name == "input" and graph.input.shape == shape
    y = ann.forward(graph, x.numpy())[graph.output]
    assert np.abs(y - _torch_out(model, x)).max() < TOL
    fx_graph = from_torch(model, shape)
    y_fx = ann.forward(fx_graph, x.numpy())[fx_graph.output]
    assert np.abs(y - y_fx).max() < TOL
    # same layer kinds in the same order as the torch.fx frontend
    kinds = [type(n.op).__name__ for n in graph]
    assert sorted(kinds) == sorted(type(n.op).__name__ for n in fx_graph)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_sequential_structure_and_names(how, tmp_path):
    model, shape, x = _make("sequential")
    graph = load_graph(_save(model, x, how, tmp_path / "m.pt"), None, shape)
    assert graph.is_sequential()
    ops = [(n.name, type(n.op).__name__) for n in graph]
    assert ops == [("input", "Input"), ("0", "Conv2d"), ("1", "BatchNorm"), ("2", "ReLU"),
                   ("3", "MaxPool2d"), ("4", "Conv2d"), ("5", "ReLU"), ("6", "AvgPool2d"),
                   ("7", "Flatten"), ("8", "Identity"), ("9", "Linear")]
    bn = graph["1"].op
    np.testing.assert_allclose(bn.mean, model[1].running_mean.double().numpy())
    np.testing.assert_allclose(bn.var, model[1].running_var.double().numpy())
    assert bn.eps == pytest.approx(model[1].eps)
    np.testing.assert_allclose(graph["6"].op.gain, np.full(16, 0.25))
    assert graph["3"].op == ir.maxpool(2)
    assert graph["9"].shape == (10,)


def test_deterministic_and_unique_names(tmp_path):
    model, shape, x = _make("residual")
    path = _save(model, x, "script", tmp_path / "r.pt")
    a = from_torchscript(load_torchscript(path), shape)
    b = from_torchscript(load_torchscript(path), shape)
    assert a.summary() == b.summary()
    names = [n.name for n in a]
    assert len(set(names)) == len(names)
    assert {"stem", "conv1", "bn1", "conv2", "fc"} <= set(names)
    (add,) = [n for n in a if isinstance(n.op, ir.Add)]
    assert len(add.inputs) == 2 and len(set(add.inputs)) == 2


def test_in_memory_modules_convert_too():
    model, shape, x = _make("inception")
    for ts in (_jit(model, x, "script"), _jit(model, x, "trace")):
        graph = from_torchscript(ts, shape)
        y = ann.forward(graph, x.numpy())[graph.output]
        assert np.abs(y - _torch_out(model, x)).max() < TOL
        assert isinstance(graph[graph.output].op, ir.Softmax)
        assert sum(isinstance(n.op, ir.Concat) for n in graph) == 1


class Containers(nn.Module):
    """Layers reached by indexing a ModuleList/ModuleDict, which are never called themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(8, 8) for _ in range(2)])
        self.acts = nn.ModuleList([nn.ReLU(), nn.ReLU()])
        self.heads = nn.ModuleDict({"out": nn.Sequential(nn.Linear(8, 3), nn.ReLU())})

    def forward(self, x):
        x = torch.flatten(x, 1)
        for fc, act in zip(self.fcs, self.acts):  # noqa: B905 (TorchScript has no strict=)
            x = act(fc(x))
        return self.heads["out"](x)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_names_are_module_paths_as_in_the_fx_frontend(how, tmp_path):
    torch.manual_seed(2)
    model, x = Containers().eval(), torch.randn(3, 2, 2, 2)
    graph = load_graph(_save(model, x, how, tmp_path / "c.pt"), None, (2, 2, 2))
    layers = [n.name for n in graph if not isinstance(n.op, (ir.Input, ir.Flatten))]
    assert layers == ["fcs.0", "acts.0", "fcs.1", "acts.1", "heads.out.0", "heads.out.1"]
    fx_graph = from_torch(model, (2, 2, 2))
    assert set(layers) <= {n.name for n in fx_graph}
    y = ann.forward(graph, x.numpy())[graph.output]
    assert np.abs(y - _torch_out(model, x)).max() < TOL


class MatmulNet(nn.Module):
    """A hand-written linear layer: ``x @ W.t() + b``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 16))
        self.b = nn.Parameter(torch.randn(3))

    def forward(self, x):
        return torch.matmul(torch.flatten(x, 1), self.w.t()) + self.b


@pytest.mark.parametrize("how", ["script", "trace"])
def test_matmul_plus_bias_is_a_linear_layer(how):
    torch.manual_seed(1)
    model, x = MatmulNet().eval(), torch.randn(2, 1, 4, 4)
    graph = from_torchscript(_jit(model, x, how), (1, 4, 4))
    assert [type(n.op).__name__ for n in graph] == ["Input", "Flatten", "Linear"]
    assert np.abs(ann.forward(graph, x.numpy())[graph.output] - _torch_out(model, x)).max() < TOL


# --------------------------------------------------------------------------------------------
# unsupported models
# --------------------------------------------------------------------------------------------


class Sigmoid(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.sigmoid(self.conv(x))


class InplaceReuse(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        z = F.relu(y, inplace=True)
        return z + y


UNSUPPORTED = {
    "sigmoid": (Sigmoid, "aten::sigmoid"),
    "gelu": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.GELU()), "aten::gelu"),
    "grouped": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, groups=2)),
                "groups=2"),
    "adaptive": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1)),
                 "aten::adaptive_avg_pool2d"),
    "ceil_mode": (lambda: nn.Sequential(nn.MaxPool2d(3, ceil_mode=True)), "ceil_mode"),
    "flatten0": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(0)), "aten::flatten"),
}


@pytest.mark.parametrize("how", ["script", "trace"])
@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_ops_are_named(name, how, tmp_path):
    factory, needle = UNSUPPORTED[name]
    model, x = factory().eval(), torch.randn(2, 1, 8, 8)
    path = _save(model, x, how, tmp_path / "u.pt")
    with pytest.raises(UnsupportedLayerError, match=needle) as err:
        load_graph(path, None, (1, 8, 8))
    assert err.value.kind.startswith("aten::")


def test_unsupported_error_names_the_module():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.GELU())
    with pytest.raises(UnsupportedLayerError) as err:
        from_torchscript(torch.jit.script(model), (1, 8, 8))
    assert err.value.path == "1" and err.value.kind == "aten::gelu"
    assert "GELU" in str(err.value)


def test_inplace_update_of_a_reused_tensor_is_rejected():
    with pytest.raises(UnsupportedLayerError, match="in-place"):
        from_torchscript(torch.jit.script(InplaceReuse().eval()), (1, 8, 8))


def test_softmax_must_be_final_and_output_single():
    class Mid(nn.Module):
        def forward(self, x):
            return F.relu(F.softmax(torch.flatten(x, 1), dim=1))

    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(UnsupportedLayerError, match="final"):
        from_torchscript(torch.jit.script(Mid()), (1, 4, 4))
    with pytest.raises(UnsupportedLayerError, match="single tensor"):
        from_torchscript(torch.jit.script(Pair()), (1, 4, 4))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_batch_norm_traced_in_training_mode_is_rejected():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    ts = _jit(model, torch.randn(2, 1, 8, 8), "trace")
    with pytest.raises(UnsupportedLayerError, match="training"):
        from_torchscript(ts, (1, 8, 8))


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def test_state_dict_is_not_an_archive(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(sequential().state_dict(), path)
    with pytest.raises(ModelLoadError, match="weights.pt") as err:
        load_torchscript(path)
    assert "state_dict" in str(err.value)
    with pytest.raises(ModelLoadError, match="weights.pt"):
        load_graph(str(path), None, (1, 8, 8))


def test_garbage_truncated_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    good = tmp_path / "good.pt"
    torch.jit.save(torch.jit.script(sequential().eval()), str(good))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for path in (garbage, truncated, tmp_path / "missing.pt", tmp_path):
        with pytest.raises(ModelLoadError, match=path.name):
            load_torchscript(path)
    assert isinstance(load_torchscript(good), torch.jit.ScriptModule)


def test_not_a_script_module():
    with pytest.raises(TypeError):
        from_torchscript(sequential(), (1, 8, 8))
