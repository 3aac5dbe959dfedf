import numpy as np
import pytest
import torch
from torch import nn

from snngen.convert import passes
from snngen.frontend import ModelLoadError, UnsupportedLayerError, from_torch, load_graph
from snngen.ir import ann
from snngen.ir import graph as ir
from tests.nets import Inception, Residual, StridedMaxFirst, digits_like, randomize_bn

GEN = torch.Generator().manual_seed(0)


def _check_same(model: nn.Module, shape=(1, 8, 8), tol=1e-5):
    model = randomize_bn(model, GEN)
    x = torch.rand(16, *shape, generator=GEN)
    ref = model(x).detach().double().numpy()
    g = from_torch(model, shape)
    out = ann.forward(g, x.numpy())[g.output]
    assert np.abs(out - ref).max() < tol
    # every canonicalisation pass keeps the function (BN folding included), to 1e-5
    c = passes.canonicalize(g)
    if isinstance(g[g.output].op, ir.Softmax):
        ref = np.log(ref)  # the final softmax is dropped: compare logits up to a constant
        out_c = ann.forward(c, x.numpy())[c.output]
        out_c = out_c - np.log(np.exp(out_c).sum(1, keepdims=True))
    else:
        out_c = ann.forward(c, x.numpy())[c.output]
    assert np.abs(out_c - ref).max() < tol
    assert not any(isinstance(n.op, (ir.BatchNorm, ir.Identity, ir.Softmax)) for n in c)
    return g, c


@pytest.mark.parametrize("factory", [digits_like, Residual, Inception, StridedMaxFirst])
def test_torch_and_ir_agree(factory):
    _check_same(factory())


def test_sequential_names_and_layers():
    g, _ = _check_same(digits_like())
    kinds = [type(n.op).__name__ for n in g]
    assert kinds == ["Input", "Conv2d", "BatchNorm", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                     "AvgPool2d", "Flatten", "Identity", "Linear"]
    assert [n.name for n in g][:3] == ["input", "0", "1"]
    assert g["9"].shape == (10,)


def test_dag_structure_kept():
    _, c = _check_same(Inception())
    cat = [n for n in c if isinstance(n.op, ir.Concat)]
    assert len(cat) == 1 and len(cat[0].inputs) == 3
    _, c = _check_same(Residual())
    add = [n for n in c if isinstance(n.op, ir.Add)]
    assert len(add) == 1 and not c.is_sequential()


def test_maxpool_relu_commuted():
    _, c = _check_same(StridedMaxFirst())
    order = [type(n.op).__name__ for n in c]
    assert order[:4] == ["Input", "Conv2d", "ReLU", "MaxPool2d"]


@pytest.mark.parametrize("layer,needle", [
    (nn.Sigmoid(), "Sigmoid"),
    (nn.Conv2d(1, 2, 3, groups=1, dilation=2), "dilation"),
    (nn.LeakyReLU(), "LeakyReLU"),
    (nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
    (nn.AvgPool2d(2, divisor_override=3), "divisor_override"),
    (nn.Upsample(scale_factor=2), "Upsample"),
])
def test_unsupported_layers_named(layer, needle):
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(), layer)
    with pytest.raises(UnsupportedLayerError) as e:
        from_torch(model, (1, 8, 8))
    msg = str(e.value)
    assert "'2'" in msg and needle in msg and "supported:" in msg


def test_grouped_conv_refused():
    with pytest.raises(UnsupportedLayerError, match="groups=2"):
        from_torch(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), (2, 8, 8))


def test_unsupported_function_named():
    class M(nn.Module):
        def forward(self, x):
            return torch.tanh(x)

    with pytest.raises(UnsupportedLayerError, match="tanh"):
        from_torch(M(), (1, 4, 4))


def test_untraceable_model_refused():
    class M(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(UnsupportedLayerError, match="torch.fx"):
        from_torch(M(), (1, 4, 4))


def test_structural_errors_named():
    # two linear layers in a row have no spiking equivalent
    g = from_torch(nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Linear(8, 2)), (1, 4, 4))
    with pytest.raises(passes.ConversionError, match="'?2'?.*pre-activation"):
        passes.canonicalize(g)
    # BatchNorm after a ReLU cannot be folded into the layer before it
    g = from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2), nn.Flatten(),
                                 nn.Linear(8, 2)), (1, 4, 4))
    with pytest.raises(passes.ConversionError, match="2: BatchNorm"):
        passes.canonicalize(g)


FACTORY = "tests/nets.py:digits_like"


def test_load_factory_and_weights(tmp_path):
    model = digits_like().eval()
    w = tmp_path / "w.pt"
    torch.save(model.state_dict(), w)
    g = load_graph(FACTORY, w, (1, 8, 8))
    x = torch.rand(4, 1, 8, 8, generator=GEN)
    assert np.abs(ann.forward(g, x.numpy())[g.output] - model(x).detach().numpy()).max() < 1e-5


def test_bad_files(tmp_path):
    with pytest.raises(ModelLoadError, match="missing.pt"):
        load_graph(FACTORY, tmp_path / "missing.pt", (1, 8, 8))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelLoadError, match="junk.pt"):
        load_graph(FACTORY, junk, (1, 8, 8))
    # a pickle with an arbitrary object is refused by weights_only=True, never executed
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "obj": ModelLoadError("x")}, evil)
    with pytest.raises(ModelLoadError, match="evil.pt"):
        load_graph(FACTORY, evil, (1, 8, 8))
    wrong = tmp_path / "wrong.pt"
    torch.save(nn.Linear(2, 2).state_dict(), wrong)
    with pytest.raises(ModelLoadError, match="does not match"):
        load_graph(FACTORY, wrong, (1, 8, 8))
    with pytest.raises(ModelLoadError, match="nope.py"):
        load_graph("nope.py:make", None, (1, 8, 8))
    with pytest.raises(ModelLoadError, match="no callable"):
        load_graph("tests/nets.py:missing", None, (1, 8, 8))
