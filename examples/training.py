"""What the example training scripts share: deterministic setup, loading the example's model.py,
the training loop, evaluation on the test split and writing the weights.

MNIST: only the official test set (10,000 images) is available to the project, so a network is
trained on its first 8,000 images and evaluated on the last 2,000 (:func:`load_mnist_split`,
snngen.data.split). Deterministic: the same torch build on the same machine writes a
byte-identical weights file (one thread, fixed seeds; another CPU may round differently).

Each ``examples/<name>/train.py`` keeps only what differs: its docstring, its dataset and its
hyper-parameter defaults with the reasons for them, and calls :func:`main`. It imports this module
by putting ``examples/`` on ``sys.path`` (resolved from its own ``__file__``), so it runs from any
directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from snngen.data import Dataset, DatasetError, Split, load_digits, load_mnist, split

SEED = 0
# <repo>/../shared/data/mnist, resolved from this file so the scripts work from any directory
DEFAULT_MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def load_mnist_split(data_dir: Path) -> Split:
    """The MNIST protocol: the official test set's first 8,000 images to train on, its last
    2,000 to evaluate on (snngen.data.split); a bad file exits with its error, no traceback."""
    try:
        data = split(load_mnist(data_dir))
    except DatasetError as e:
        # The message already names the file and the problem; a traceback would only bury it.
        raise SystemExit(f"error: {e}") from None
    print(
        f"training on the first {len(data.train):,} images, evaluating on the last "
        f"{len(data.test):,}"
    )
    return data


def load_model_module(example_dir: Path) -> ModuleType:
    # Loaded by path under a unique name: every example has a model.py, so a plain
    # `import model` would pick whichever example directory is first on sys.path.
    spec = importlib.util.spec_from_file_location(
        f"snngen_example_{example_dir.name}_model", example_dir / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_deterministic(seed: int) -> None:
    # One thread: the reductions inside convolutions are split differently with more threads,
    # which changes the low bits of the gradients and hence the trained weights.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def tensors(ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    # torch.tensor copies: the Dataset arrays are views shared with the rest of the program.
    return torch.tensor(ds.x), torch.tensor(ds.y)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(dim=1) == y).float().mean())


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y, filling with zeros."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (max_shift, max_shift, max_shift, max_shift))
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    out = torch.empty_like(x)
    # One slice per distinct offset rather than per image: at most (2s+1)^2 indexing operations.
    for dy in range(2 * max_shift + 1):
        for dx in range(2 * max_shift + 1):
            sel = (offsets[0] == dy) & (offsets[1] == dx)
            out[sel] = padded[sel, :, dy : dy + h, dx : dx + w]
    return out


def qcfs_start(example_dir: Path, init: Path, levels: int, train_set: Dataset,
               percentile: float) -> nn.Module:
    """Conversion-aware fine-tuning starts from the trained ReLU network: its weights, every
    ReLU swapped for a clip-floor activation of ``levels`` levels, each clip started at the
    ``percentile`` of its input on the training images (what plain conversion would use)."""
    from snngen.training import calibrate_clips, swap_relus

    model = load_model_module(example_dir).make_model()
    model.load_state_dict(torch.load(init, weights_only=True))
    swap_relus(model, levels)
    clips = calibrate_clips(model, tensors(train_set)[0], percentile)
    print("clips from p" + f"{percentile:g}: "
          + ", ".join(f"{k} {v:.3g}" for k, v in clips.items()))
    return model


def train(
    example_dir: Path,
    train_set: Dataset,
    epochs: int,
    batch_size: int,
    lr: float,
    label_smoothing: float,
    shift: int,
    model: nn.Module | None = None,
) -> nn.Module:
    """Train ``model`` (default: a fresh ``make_model()``) on ``train_set``."""
    if model is None:
        model = load_model_module(example_dir).make_model()
    x, y = tensors(train_set)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    # Cosine decay to zero: the last epochs fine-tune with a small step instead of bouncing
    # around, which makes the final accuracy far less sensitive to the epoch count.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    # Separate generators for order and augmentation: changing one (e.g. --shift 0) leaves the
    # other's random stream, and so the comparison, unchanged.
    shuffle = torch.Generator().manual_seed(SEED)
    augment = torch.Generator().manual_seed(SEED + 1)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=shuffle)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(random_shift(x[idx], shift, augment)), y[idx])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        schedule.step()
        print(f"epoch {epoch:3d}  loss {total / len(x):.4f}")
    return model


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    label_smoothing: float,
    shift: int,
    out: Path,
) -> None:
    """Add the hyper-parameter and output options; each example passes its own defaults."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--label-smoothing", type=float, default=label_smoothing)
    parser.add_argument(
        "--shift", type=int, default=shift, help="random shift augmentation, in pixels (0 = off)"
    )
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument(
        "--qcfs", type=int, default=0, metavar="L",
        help="conversion-aware fine-tuning: start from --init (the trained ReLU weights), swap "
        "every ReLU for a clip-floor activation of L levels and train again (0 = off; the "
        "output defaults to weights_qcfs.pt)",
    )
    parser.add_argument("--init", type=Path, default=out, help="--qcfs: the weights to start from")
    parser.add_argument("--clip-percentile", type=float, default=99.9,
                        help="--qcfs: the percentile the clips start at")


def run(args: argparse.Namespace, example_dir: Path, load_data: Callable[[], Split]) -> None:
    """Seed, load the data, train ``example_dir/model.py``, report test accuracy, save weights.

    ``args`` holds the options from ``add_arguments``. ``load_data`` runs after seeding and inside
    the timed span, just before the model is built.
    """
    make_deterministic(SEED)
    started = time.perf_counter()
    data = load_data()
    start = (qcfs_start(example_dir, args.init, args.qcfs, data.train, args.clip_percentile)
             if args.qcfs else None)
    model = train(
        example_dir,
        data.train,
        args.epochs,
        args.batch_size,
        args.lr,
        args.label_smoothing,
        args.shift,
        model=start,
    )
    elapsed = time.perf_counter() - started

    x_test, y_test = tensors(data.test)
    acc = accuracy(model, x_test, y_test)
    print(f"test accuracy {acc * 100:.2f}% ({round(acc * len(y_test))}/{len(y_test)})")
    print(data.protocol)
    print(f"trained in {elapsed:.1f} s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # atomic: write a file of the same name in a scratch directory beside the target, then
    # rename (torch.save names the archive's entries after the file, so the name must match)
    with tempfile.TemporaryDirectory(dir=args.out.parent) as scratch:
        tmp = Path(scratch) / args.out.name
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, args.out)
    print(f"wrote {args.out}")


def main(doc: str, example_dir: Path, dataset: str, qcfs: dict | None = None,
         **defaults) -> None:
    """The command line of ``example_dir/train.py``: its docstring's first line as the
    description, ``--data-dir`` for MNIST, the hyper-parameter options with the example's
    ``defaults`` (see :func:`add_arguments`; ``out`` defaults to ``example_dir/weights.pt``),
    then :func:`run` on the dataset's fixed split (``"digits"`` or ``"mnist"``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if dataset == "mnist":
        parser.add_argument("--data-dir", type=Path, default=DEFAULT_MNIST_DIR)
    elif dataset != "digits":
        raise ValueError(f"unknown dataset {dataset!r}")
    add_arguments(parser, out=example_dir / "weights.pt", **defaults)
    args = parser.parse_args()
    if args.qcfs:
        # the fine-tuning recipe's own defaults (``qcfs``), where the user gave none
        given = {a.split("=")[0] for a in sys.argv[1:] if a.startswith("--")}
        for key, value in (qcfs or {}).items():
            if f"--{key.replace('_', '-')}" not in given:
                setattr(args, key, value)
        if "--out" not in given:
            args.out = example_dir / "weights_qcfs.pt"
    if dataset == "mnist":
        run(args, example_dir, lambda: load_mnist_split(args.data_dir))
    else:
        run(args, example_dir, lambda: split(load_digits()))
