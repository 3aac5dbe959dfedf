"""Datasets for training and evaluating the example networks.

Deliberately free of torch: the converter, the fixed-point simulator and the hardware test-bench
generator all need the data, and none of them should pay for (or require) a torch import.

Every loader returns a :class:`Dataset` whose ``x`` is float32 in [0, 1] and whose ``y`` is int64.
Every split is fixed (no shuffling, no seed) so that an accuracy quoted anywhere in the project can
be reproduced from the protocol sentence alone.
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Dataset",
    "DatasetError",
    "Split",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_npz",
    "split",
]

# IDX magic numbers: two zero bytes, type code 0x08 (unsigned byte), then the number of dimensions.
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801
_MNIST_SIDE = 28

# The MNIST protocol: only the official 10,000-image test set is shipped with the project, so
# training and evaluation images both come from it, in a fixed, disjoint, unshuffled split.
_MNIST_TRAIN = 8_000
_MNIST_TEST = 2_000

# sklearn's digits set always has 1,797 images; 360 (about 20%) are held out at the end.
_DIGITS_TOTAL = 1_797
_DIGITS_TRAIN = 1_437

_NPZ_TRAIN_FRACTION = 0.8


class DatasetError(ValueError):
    """A dataset could not be loaded or split. The message names the file/dataset and the cause."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images (or feature vectors) with integer class labels.

    ``x`` is float32 with shape (N, C, H, W) -- or (N, F) for an .npz given as 2-D -- scaled to
    [0, 1]; ``y`` is int64 with shape (N,). ``source`` records where the data came from (a file
    path, or empty for built-in sets) so that :func:`split` can name it in the protocol sentence.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    # Not part of the identity of the data, only used for human-readable messages.
    source: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        # Catch malformed datasets where they are built rather than deep inside a training loop.
        where = f"dataset {self.name!r}" + (f" ({self.source})" if self.source else "")
        if not isinstance(self.x, np.ndarray) or not isinstance(self.y, np.ndarray):
            raise DatasetError(f"{where}: x and y must be numpy arrays")
        if self.x.dtype != np.float32:
            raise DatasetError(f"{where}: x must be float32, got {self.x.dtype}")
        if self.y.dtype != np.int64:
            raise DatasetError(f"{where}: y must be int64, got {self.y.dtype}")
        if self.x.ndim not in (2, 4):
            raise DatasetError(
                f"{where}: x must have shape (N, F) or (N, C, H, W), got {self.x.shape}"
            )
        if self.y.ndim != 1 or self.y.shape[0] != self.x.shape[0]:
            raise DatasetError(
                f"{where}: y has shape {self.y.shape} but x has {self.x.shape[0]} samples"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, start: int, stop: int) -> Dataset:
        """Samples ``start`` (inclusive) to ``stop`` (exclusive), as views of the same arrays."""
        n = len(self)
        # Python slicing would silently clamp or wrap; a split that is off by a few thousand
        # images must fail loudly instead of quietly evaluating on fewer samples.
        if not (0 <= start <= stop <= n):
            raise DatasetError(
                f"dataset {self.name!r}: subset({start}, {stop}) is out of range for {n:,} samples"
            )
        return Dataset(self.name, self.x[start:stop], self.y[start:stop], source=self.source)


@dataclass(frozen=True)
class Split:
    """A fixed train/test split and the sentence describing it (printed under every table)."""

    train: Dataset
    test: Dataset
    protocol: str


# ---------------------------------------------------------------------------------------------
# sklearn digits


def load_digits() -> Dataset:
    """The 1,797 8x8 scikit-learn digits, shape (N, 1, 8, 8), pixel values 0..16 scaled by 1/16.

    The data ships inside scikit-learn, so this never touches the network.
    """
    # Imported lazily: sklearn takes about a second to import and is only needed here.
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    x = (images / 16.0).astype(np.float32)[:, None, :, :]
    y = np.asarray(bunch.target, dtype=np.int64)
    return Dataset("digits", x, y)


# ---------------------------------------------------------------------------------------------
# MNIST (IDX files)


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError as e:
        raise DatasetError(f"{path}: file not found") from e
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        # EOFError is what gzip raises for a truncated .gz stream.
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({e})") from e
    except OSError as e:
        raise DatasetError(f"{path}: cannot read file ({e})") from e


def _parse_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes, checking magic, header and payload length."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 4:
        raise DatasetError(f"{path}: truncated IDX header ({len(raw)} bytes, need at least 4)")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise DatasetError(f"{path}: bad IDX magic 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = expected_magic & 0xFF
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(
            f"{path}: truncated IDX header ({len(raw)} bytes, need {header_len} "
            f"for {ndim} dimensions)"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(raw) - header_len
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise DatasetError(
            f"{path}: {what}: header dimensions {dims} need {expected:,} payload "
            f"bytes, file has {payload:,}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def _find_idx(directory: Path, stem: str) -> Path | None:
    # The published files are gzipped and the project's SHA256SUMS cover the .gz, so when both
    # forms are present the .gz is the one that can be verified.
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(data_dir: str | os.PathLike[str]) -> Dataset:
    """MNIST images from IDX files in ``data_dir``, shape (N, 1, 28, 28), pixel values / 255.

    Reads ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``; only if neither t10k
    file is present does it fall back to the ``train-*`` files. Images and labels always come from
    the same set, never one from each.
    """
    directory = Path(data_dir)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: MNIST data directory not found")

    chosen: tuple[Path | None, Path | None, str] | None = None
    for prefix in ("t10k", "train"):
        images = _find_idx(directory, f"{prefix}-images-idx3-ubyte")
        labels = _find_idx(directory, f"{prefix}-labels-idx1-ubyte")
        if images is not None or labels is not None:
            chosen = (images, labels, prefix)
            break
    if chosen is None:
        raise DatasetError(
            f"{directory}: no MNIST files found (expected "
            f"t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], "
            f"or the train-* equivalents)"
        )
    images_path, labels_path, prefix = chosen
    # Half a pair is an error rather than a reason to fall back: mixing test images with
    # training labels would produce a plausible-looking but meaningless dataset.
    if images_path is None:
        raise DatasetError(
            f"{directory / f'{prefix}-images-idx3-ubyte'}[.gz]: file not found "
            f"(the labels file {labels_path.name} is present)"
        )
    if labels_path is None:
        raise DatasetError(
            f"{directory / f'{prefix}-labels-idx1-ubyte'}[.gz]: file not found "
            f"(the images file {images_path.name} is present)"
        )

    images = _parse_idx(images_path, _IDX_IMAGES_MAGIC)
    labels = _parse_idx(labels_path, _IDX_LABELS_MAGIC)
    if images.shape[1:] != (_MNIST_SIDE, _MNIST_SIDE):
        raise DatasetError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"MNIST images are {_MNIST_SIDE}x{_MNIST_SIDE}"
        )
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{labels_path}: {labels.shape[0]:,} labels but {images_path.name} "
            f"has {images.shape[0]:,} images"
        )
    if images.shape[0] == 0:
        raise DatasetError(f"{images_path}: contains no images")
    if labels.size and int(labels.max()) > 9:
        bad = int(np.argmax(labels > 9))
        raise DatasetError(
            f"{labels_path}: label {int(labels[bad])} at index {bad} is outside 0..9"
        )

    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    y = labels.astype(np.int64)
    return Dataset("mnist", x, y, source=str(images_path))


# ---------------------------------------------------------------------------------------------
# .npz files


def _scale_npz_x(path: Path, x: np.ndarray) -> np.ndarray:
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
        if lo < 0 or hi > 255:
            raise DatasetError(f"{path}: integer x must hold pixel values 0..255, found {lo}..{hi}")
        # Integer data with values above 1 is taken to be 8-bit pixels; 0/1 data is already in
        # range and must not be shrunk to 0..1/255.
        scale = np.float32(1.0 / 255.0) if hi > 1 else np.float32(1.0)
        return x.astype(np.float32) * scale
    if np.issubdtype(x.dtype, np.floating):
        xf = x.astype(np.float32)
        if not np.all(np.isfinite(xf)):
            raise DatasetError(f"{path}: x contains NaN or infinite values")
        if xf.size and (float(xf.min()) < 0.0 or float(xf.max()) > 1.0):
            # Guessing a scale for float data (0..255? -1..1? standardised?) would silently
            # change what the network sees, so refuse instead.
            raise DatasetError(
                f"{path}: float x must be scaled to [0, 1], found "
                f"{float(xf.min()):g}..{float(xf.max()):g}"
            )
        return xf
    raise DatasetError(f"{path}: x has unsupported dtype {x.dtype} (need integer or float)")


def _npz_labels(path: Path, y: np.ndarray) -> np.ndarray:
    if y.ndim != 1:
        raise DatasetError(f"{path}: y must be 1-D, got shape {y.shape}")
    if np.issubdtype(y.dtype, np.integer):
        labels = y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.floating):
        # Float labels are common (e.g. saved from pandas); accept them only if they are whole.
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError(f"{path}: y holds non-integer labels")
        labels = y.astype(np.int64)
    else:
        raise DatasetError(f"{path}: y must hold integer class labels, got dtype {y.dtype}")
    if labels.size and int(labels.min()) < 0:
        raise DatasetError(f"{path}: y holds negative label {int(labels.min())}")
    return labels


def load_npz(path: str | os.PathLike[str]) -> Dataset:
    """A dataset from an .npz archive holding arrays ``x`` and ``y``.

    ``x`` may be (N, F), (N, H, W) (a channel axis is added) or (N, C, H, W) (channels first).
    Integer ``x`` with values above 1 is treated as 8-bit pixels and scaled by 1/255; float ``x``
    must already be in [0, 1]. Pickled (object) arrays are refused: loading them would execute
    arbitrary code from the file.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: file not found")
    try:
        archive = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetError(f"{p}: not a readable .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{p}: is a single .npy array, not an .npz archive with x and y")
    with archive:
        missing = [key for key in ("x", "y") if key not in archive.files]
        if missing:
            raise DatasetError(
                f"{p}: missing array(s) {', '.join(missing)} "
                f"(found: {', '.join(archive.files) or 'none'})"
            )
        try:
            x_raw = archive["x"]
            y_raw = archive["y"]
        except ValueError as e:
            # numpy raises ValueError for object arrays when allow_pickle=False.
            raise DatasetError(
                f"{p}: cannot load arrays without pickle ({e}); object arrays are refused"
            ) from e
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise DatasetError(f"{p}: corrupt array data ({e})") from e

    if x_raw.ndim == 3:
        x_raw = x_raw[:, None, :, :]
    if x_raw.ndim not in (2, 4):
        raise DatasetError(
            f"{p}: x must be 2-D (N, F), 3-D (N, H, W) or 4-D (N, C, H, W), got shape {x_raw.shape}"
        )
    if x_raw.shape[0] == 0:
        raise DatasetError(f"{p}: x holds no samples")
    y = _npz_labels(p, y_raw)
    if y.shape[0] != x_raw.shape[0]:
        raise DatasetError(f"{p}: x has {x_raw.shape[0]:,} samples but y has {y.shape[0]:,} labels")
    x = np.ascontiguousarray(_scale_npz_x(p, x_raw))
    return Dataset(p.stem, x, y, source=str(p))


# ---------------------------------------------------------------------------------------------
# Dispatch and splits


def load_dataset(spec: str, data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load ``"digits"``, ``"mnist"`` (needs ``data_dir``) or a path ending in ``.npz``."""
    if spec == "digits":
        return load_digits()
    if spec == "mnist":
        if data_dir is None:
            raise DatasetError(
                "dataset 'mnist': --data-dir is needed (the directory holding "
                "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)"
            )
        return load_mnist(data_dir)
    if spec.lower().endswith(".npz"):
        return load_npz(spec)
    raise DatasetError(
        f"dataset {spec!r}: unknown dataset (use 'digits', 'mnist' or a path to an .npz file)"
    )


def _range(start: int, stop: int) -> str:
    return f"{start:,}-{stop - 1:,}"


def split(ds: Dataset) -> Split:
    """The project's fixed train/test split for ``ds``, with a sentence describing it.

    * digits: first 1,437 images train, last 360 test.
    * mnist: images 0-7,999 train, 8,000-9,999 test, all from the official MNIST *test* set (the
      only part of MNIST available to the project).
    * anything else (.npz): first floor(80%) train, the rest test.

    No shuffling: the order of the source file defines the split.
    """
    n = len(ds)
    # An .npz that happens to be called digits.npz or mnist.npz gets the generic protocol: the
    # fixed digits/MNIST index ranges only make sense for the sets the loaders above produce.
    from_npz = ds.source.lower().endswith(".npz")
    if ds.name == "digits" and not from_npz:
        if n != _DIGITS_TOTAL:
            raise DatasetError(
                f"dataset 'digits': expected {_DIGITS_TOTAL:,} images, got {n:,} "
                f"(split() needs the full set from load_digits())"
            )
        train = ds.subset(0, _DIGITS_TRAIN)
        test = ds.subset(_DIGITS_TRAIN, n)
        protocol = (
            f"scikit-learn digits (8x8): trained on images {_range(0, _DIGITS_TRAIN)}, "
            f"evaluated on images {_range(_DIGITS_TRAIN, n)} (fixed split, no shuffling)"
        )
        return Split(train, test, protocol)

    if ds.name == "mnist" and not from_npz:
        total = _MNIST_TRAIN + _MNIST_TEST
        if n < total:
            raise DatasetError(
                f"dataset 'mnist' ({ds.source or 'unknown source'}): the split "
                f"needs {total:,} images, got {n:,}"
            )
        train = ds.subset(0, _MNIST_TRAIN)
        test = ds.subset(_MNIST_TRAIN, total)
        directory = (os.path.dirname(ds.source) or ".") if ds.source else "unknown directory"
        is_test_file = os.path.basename(ds.source).startswith("t10k") or not ds.source
        if is_test_file:
            origin = f"MNIST test set ({directory})"
            note = (
                "only the official MNIST test set is available, so both parts come from it "
                "and the official training set is not used"
            )
        else:
            origin = f"MNIST training-set file ({directory})"
            note = "the t10k test files were absent, so the train-* files were used"
        if n > total:
            note += f"; images {total:,}-{n - 1:,} are unused"
        protocol = (
            f"{origin}: trained on images {_range(0, _MNIST_TRAIN)}, evaluated on images "
            f"{_range(_MNIST_TRAIN, total)} ({note})"
        )
        return Split(train, test, protocol)

    n_train = int(n * _NPZ_TRAIN_FRACTION)
    if n_train == 0 or n_train == n:
        raise DatasetError(
            f"dataset {ds.name!r} ({ds.source or 'no file'}): {n:,} samples are "
            f"too few for an 80/20 split with non-empty parts"
        )
    train = ds.subset(0, n_train)
    test = ds.subset(n_train, n)
    where = f" ({ds.source})" if ds.source else ""
    protocol = (
        f"{ds.name}{where}: trained on the first 80% (samples {_range(0, n_train)}), "
        f"evaluated on the rest (samples {_range(n_train, n)}) (fixed split, no "
        f"shuffling)"
    )
    return Split(train, test, protocol)


def check_labels(data: Split, classes: int) -> None:
    """Refuse a split whose labels are not all classes of a model with ``classes`` outputs
    (0 .. classes - 1). A label such as 42 for a 10-class model can never be predicted, so it
    would only lower the accuracy without a word; it means the dataset and the model do not
    belong together."""
    y = np.concatenate([data.train.y, data.test.y])
    bad = y[(y < 0) | (y >= classes)]
    if bad.size:
        part = data.test
        where = part.source or f"dataset {part.name!r}"
        raise DatasetError(f"{where}: label {int(bad[0])} is outside the model's {classes} "
                           f"classes (0..{classes - 1}); {bad.size:,} label(s) in all are")
