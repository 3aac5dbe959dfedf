"""Tests for snngen.data that need no downloaded files: MNIST is exercised with tiny IDX files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from snngen.data import (
    Dataset,
    DatasetError,
    Split,
    load_dataset,
    load_digits,
    load_mnist,
    load_npz,
    split,
)

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + payload


def image_bytes(n: int, rows: int = 28, cols: int = 28, seed: int = 0) -> tuple[bytes, np.ndarray]:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    return idx_bytes(0x00000803, (n, rows, cols), pixels.tobytes()), pixels


def label_bytes(labels: list[int]) -> bytes:
    return idx_bytes(0x00000801, (len(labels),), bytes(labels))


def write(path: Path, data: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_mnist(
    directory: Path, n: int = 5, gz: bool = True, prefix: str = "t10k"
) -> tuple[Path, Path, np.ndarray, list[int]]:
    img, pixels = image_bytes(n)
    labels = [i % 10 for i in range(n)]
    ip = write(directory / f"{prefix}-images-idx3-ubyte", img, gz)
    lp = write(directory / f"{prefix}-labels-idx1-ubyte", label_bytes(labels), gz)
    return ip, lp, pixels, labels


# ---------------------------------------------------------------------------------------------
# MNIST / IDX


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_roundtrip(tmp_path: Path, gz: bool) -> None:
    ip, _, pixels, labels = write_mnist(tmp_path, n=5, gz=gz)
    ds = load_mnist(tmp_path)
    assert ds.name == "mnist"
    assert ds.x.shape == (5, 1, 28, 28)
    assert ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, labels)
    np.testing.assert_allclose(ds.x[:, 0], pixels.astype(np.float32) / 255.0)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0
    assert ds.source == str(ip)
    assert len(ds) == 5


def test_mnist_prefers_gz_when_both_exist(tmp_path: Path) -> None:
    write_mnist(tmp_path, n=3, gz=True)
    # Raw files with a different count: if these were read, the count would be 4.
    write_mnist(tmp_path, n=4, gz=False)
    assert len(load_mnist(tmp_path)) == 3


def test_mnist_falls_back_to_train_files(tmp_path: Path) -> None:
    write_mnist(tmp_path, n=6, gz=False, prefix="train")
    ds = load_mnist(tmp_path)
    assert len(ds) == 6
    assert Path(ds.source).name == "train-images-idx3-ubyte"


def test_mnist_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match="not found") as e:
        load_mnist(missing)
    assert str(missing) in str(e.value)


def test_mnist_no_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no MNIST files") as e:
        load_mnist(tmp_path)
    assert str(tmp_path) in str(e.value)


def test_mnist_missing_labels_file_does_not_fall_back(tmp_path: Path) -> None:
    write(tmp_path / IMAGES, image_bytes(3)[0], gz=True)
    # A complete train pair must not be mixed in to replace the missing t10k labels.
    write_mnist(tmp_path, n=3, gz=True, prefix="train")
    with pytest.raises(DatasetError, match="not found") as e:
        load_mnist(tmp_path)
    assert str(tmp_path / LABELS) in str(e.value)


def test_mnist_missing_images_file(tmp_path: Path) -> None:
    write(tmp_path / LABELS, label_bytes([1, 2]), gz=False)
    with pytest.raises(DatasetError, match="not found") as e:
        load_mnist(tmp_path)
    assert str(tmp_path / IMAGES) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_bad_magic(tmp_path: Path, gz: bool) -> None:
    _, pixels = image_bytes(2)
    ip = write(tmp_path / IMAGES, idx_bytes(0x00000804, (2, 28, 28), pixels.tobytes()), gz)
    write(tmp_path / LABELS, label_bytes([0, 1]), gz)
    with pytest.raises(DatasetError, match="bad IDX magic") as e:
        load_mnist(tmp_path)
    assert str(ip) in str(e.value)


def test_mnist_labels_with_image_magic(tmp_path: Path) -> None:
    write(tmp_path / IMAGES, image_bytes(2)[0], gz=False)
    lp = write(tmp_path / LABELS, idx_bytes(0x00000803, (2,), b"\x00\x01"), gz=False)
    with pytest.raises(DatasetError, match="bad IDX magic") as e:
        load_mnist(tmp_path)
    assert str(lp) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_truncated_payload(tmp_path: Path, gz: bool) -> None:
    img, _ = image_bytes(3)
    ip = write(tmp_path / IMAGES, img[:-10], gz)
    write(tmp_path / LABELS, label_bytes([0, 1, 2]), gz)
    with pytest.raises(DatasetError, match="truncated") as e:
        load_mnist(tmp_path)
    assert str(ip) in str(e.value)


def test_mnist_trailing_bytes(tmp_path: Path) -> None:
    write(tmp_path / IMAGES, image_bytes(2)[0], gz=False)
    lp = write(tmp_path / LABELS, label_bytes([0, 1]) + b"\x00", gz=False)
    with pytest.raises(DatasetError, match="trailing bytes") as e:
        load_mnist(tmp_path)
    assert str(lp) in str(e.value)


def test_mnist_truncated_header(tmp_path: Path) -> None:
    ip = write(tmp_path / IMAGES, struct.pack(">II", 0x00000803, 2), gz=False)
    write(tmp_path / LABELS, label_bytes([0, 1]), gz=False)
    with pytest.raises(DatasetError, match="truncated IDX header") as e:
        load_mnist(tmp_path)
    assert str(ip) in str(e.value)


def test_mnist_truncated_gzip_stream(tmp_path: Path) -> None:
    ip = write(tmp_path / IMAGES, image_bytes(4)[0], gz=True)
    ip.write_bytes(ip.read_bytes()[:-20])
    write(tmp_path / LABELS, label_bytes([0, 1, 2, 3]), gz=True)
    with pytest.raises(DatasetError, match="gzip") as e:
        load_mnist(tmp_path)
    assert str(ip) in str(e.value)


def test_mnist_count_mismatch(tmp_path: Path) -> None:
    write(tmp_path / IMAGES, image_bytes(3)[0], gz=True)
    lp = write(tmp_path / LABELS, label_bytes([0, 1]), gz=True)
    with pytest.raises(DatasetError, match=r"2 labels but .* has 3 images") as e:
        load_mnist(tmp_path)
    assert str(lp) in str(e.value)


def test_mnist_label_out_of_range(tmp_path: Path) -> None:
    write(tmp_path / IMAGES, image_bytes(3)[0], gz=False)
    lp = write(tmp_path / LABELS, label_bytes([0, 10, 2]), gz=False)
    with pytest.raises(DatasetError, match="label 10 at index 1") as e:
        load_mnist(tmp_path)
    assert str(lp) in str(e.value)


def test_mnist_wrong_image_size(tmp_path: Path) -> None:
    ip = write(tmp_path / IMAGES, image_bytes(2, rows=8, cols=8)[0], gz=False)
    write(tmp_path / LABELS, label_bytes([0, 1]), gz=False)
    with pytest.raises(DatasetError, match="8x8") as e:
        load_mnist(tmp_path)
    assert str(ip) in str(e.value)


# ---------------------------------------------------------------------------------------------
# digits


def test_digits_shape_and_range() -> None:
    ds = load_digits()
    assert ds.name == "digits"
    assert ds.x.shape == (1797, 1, 8, 8)
    assert ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.y.shape == (1797,)
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    # Pixel values are 0..16 scaled by 1/16, so x * 16 must be whole numbers.
    np.testing.assert_array_equal(ds.x * 16, np.round(ds.x * 16))
    assert set(np.unique(ds.y)) == set(range(10))


def test_digits_split() -> None:
    s = split(load_digits())
    assert isinstance(s, Split)
    assert (len(s.train), len(s.test)) == (1437, 360)
    full = load_digits()
    np.testing.assert_array_equal(s.test.x, full.x[1437:])
    assert "1,437-1,796" in s.protocol and "0-1,436" in s.protocol


# ---------------------------------------------------------------------------------------------
# npz


def test_npz_uint8_images_get_channel_axis_and_scaling(tmp_path: Path) -> None:
    p = tmp_path / "faces.npz"
    x = np.array([[[0, 255], [128, 3]]] * 10, dtype=np.uint8)
    np.savez(p, x=x, y=np.arange(10) % 3)
    ds = load_npz(p)
    assert ds.name == "faces"
    assert ds.x.shape == (10, 1, 2, 2) and ds.x.dtype == np.float32
    assert ds.x.max() == 1.0
    np.testing.assert_allclose(ds.x[0, 0], x[0] / 255.0, rtol=1e-6)
    assert ds.y.dtype == np.int64


def test_npz_2d_float_features_kept(tmp_path: Path) -> None:
    p = tmp_path / "feat.npz"
    x = np.linspace(0, 1, 20, dtype=np.float64).reshape(10, 2)
    np.savez(p, x=x, y=np.zeros(10, dtype=np.float32))
    ds = load_npz(p)
    assert ds.x.shape == (10, 2)
    np.testing.assert_allclose(ds.x, x.astype(np.float32))


def test_npz_binary_integers_not_rescaled(tmp_path: Path) -> None:
    p = tmp_path / "bits.npz"
    np.savez(p, x=np.ones((5, 1, 2, 2), dtype=np.int32), y=np.zeros(5, dtype=np.int8))
    assert load_npz(p).x.max() == 1.0


def test_npz_4d_and_split(tmp_path: Path) -> None:
    p = tmp_path / "cifarish.npz"
    np.savez(p, x=np.zeros((11, 3, 4, 4), dtype=np.uint8), y=np.zeros(11, dtype=np.int64))
    ds = load_dataset(str(p))
    s = split(ds)
    assert (len(s.train), len(s.test)) == (8, 3)  # floor(0.8 * 11) = 8
    assert "cifarish" in s.protocol and str(p) in s.protocol


def test_npz_named_mnist_gets_generic_split(tmp_path: Path) -> None:
    p = tmp_path / "mnist.npz"
    np.savez(p, x=np.zeros((10, 4), dtype=np.float32), y=np.zeros(10, dtype=np.int64))
    s = split(load_npz(p))
    assert (len(s.train), len(s.test)) == (8, 2)


def test_npz_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "absent.npz"
    with pytest.raises(DatasetError, match="not found") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_missing_key(tmp_path: Path) -> None:
    p = tmp_path / "nolabels.npz"
    np.savez(p, x=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(DatasetError, match="missing array") as e:
        load_npz(p)
    assert str(p) in str(e.value) and "y" in str(e.value)


def test_npz_object_array_refused(tmp_path: Path) -> None:
    p = tmp_path / "pickled.npz"
    np.savez(p, x=np.array([np.zeros(2), "a", None], dtype=object), y=np.zeros(3, dtype=int))
    with pytest.raises(DatasetError, match="object arrays") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_not_an_archive(tmp_path: Path) -> None:
    p = tmp_path / "garbage.npz"
    p.write_bytes(b"this is not a zip file at all")
    with pytest.raises(DatasetError) as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_length_mismatch(tmp_path: Path) -> None:
    p = tmp_path / "short.npz"
    np.savez(p, x=np.zeros((4, 2)), y=np.zeros(3, dtype=int))
    with pytest.raises(DatasetError, match="4 samples but y has 3") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_non_integer_labels(tmp_path: Path) -> None:
    p = tmp_path / "soft.npz"
    np.savez(p, x=np.zeros((3, 2)), y=np.array([0.0, 0.5, 1.0]))
    with pytest.raises(DatasetError, match="non-integer labels") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_string_labels(tmp_path: Path) -> None:
    p = tmp_path / "names.npz"
    np.savez(p, x=np.zeros((2, 2)), y=np.array(["cat", "dog"]))
    with pytest.raises(DatasetError, match="integer class labels") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_float_out_of_range(tmp_path: Path) -> None:
    p = tmp_path / "raw.npz"
    np.savez(p, x=np.full((2, 2), 255.0), y=np.zeros(2, dtype=int))
    with pytest.raises(DatasetError, match=r"\[0, 1\]") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_bad_ndim(tmp_path: Path) -> None:
    p = tmp_path / "flat.npz"
    np.savez(p, x=np.zeros(4), y=np.zeros(4, dtype=int))
    with pytest.raises(DatasetError, match="shape") as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_npz_too_small_to_split(tmp_path: Path) -> None:
    p = tmp_path / "one.npz"
    np.savez(p, x=np.zeros((1, 2)), y=np.zeros(1, dtype=int))
    with pytest.raises(DatasetError, match="too few"):
        split(load_npz(p))


# ---------------------------------------------------------------------------------------------
# dispatch, Dataset invariants, MNIST split


def test_load_dataset_mnist_needs_data_dir() -> None:
    with pytest.raises(DatasetError, match="--data-dir"):
        load_dataset("mnist")


def test_load_dataset_dispatch(tmp_path: Path) -> None:
    write_mnist(tmp_path, n=2)
    assert load_dataset("mnist", tmp_path).name == "mnist"
    assert load_dataset("digits").name == "digits"
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("cifar10")


def test_subset_bounds_checked() -> None:
    ds = Dataset("toy", np.zeros((4, 2), dtype=np.float32), np.zeros(4, dtype=np.int64))
    assert len(ds.subset(1, 3)) == 2
    with pytest.raises(DatasetError, match="toy"):
        ds.subset(2, 5)
    with pytest.raises(DatasetError, match="toy"):
        ds.subset(3, 2)


def test_dataset_rejects_wrong_dtypes() -> None:
    with pytest.raises(DatasetError, match="float32"):
        Dataset("toy", np.zeros((2, 2)), np.zeros(2, dtype=np.int64))
    with pytest.raises(DatasetError, match="int64"):
        Dataset("toy", np.zeros((2, 2), dtype=np.float32), np.zeros(2, dtype=np.int32))


def test_mnist_split_sizes_and_protocol() -> None:
    # Built directly: 10,000 synthetic images are cheap in memory, and the split only needs the
    # name and source of the dataset, not real IDX files.
    x = np.zeros((10_000, 1, 28, 28), dtype=np.float32)
    y = np.arange(10_000, dtype=np.int64) % 10
    ds = Dataset("mnist", x, y, source="data/mnist/t10k-images-idx3-ubyte.gz")
    s = split(ds)
    assert (len(s.train), len(s.test)) == (8_000, 2_000)
    np.testing.assert_array_equal(s.test.y, y[8_000:])
    assert s.protocol.startswith(
        "MNIST test set (data/mnist): trained on images 0-7,999, evaluated on images 8,000-9,999"
    )


def test_mnist_split_needs_10000_images(tmp_path: Path) -> None:
    write_mnist(tmp_path, n=20)
    with pytest.raises(DatasetError, match="10,000"):
        split(load_mnist(tmp_path))
