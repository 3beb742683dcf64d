"""MNIST IDX and CIFAR binary loaders on small files written here; bad files are clear errors."""

import gzip
import os

import numpy as np
import pytest

from kernelnorm import KernelnormInputError
from kernelnorm.data import load_cifar10_binary, load_cifar100_binary, load_image_dataset, load_mnist_idx, read_idx


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(directory, n_train=7, n_test=3, *, gz=False):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    for name, array in arrays.items():
        data = _idx(array)
        if gz:
            with gzip.open(os.path.join(directory, name + ".gz"), "wb") as handle:
                handle.write(data)
        else:
            with open(os.path.join(directory, name), "wb") as handle:
                handle.write(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_round_trips_pixels_and_labels(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    data = load_mnist_idx(str(tmp_path))
    assert data.x.shape == (7, 784) and data.x_test.shape == (3, 784) and data.image_shape == (28, 28, 1)
    np.testing.assert_array_equal(data.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_allclose(data.x[2].reshape(28, 28) * 255, arrays["train-images-idx3-ubyte"][2], atol=1e-4)


def _corrupt(path, how):
    raw = path.read_bytes()
    path.write_bytes(raw[:-5] if how == "truncated" else b"\x01\x02" + raw[2:])


@pytest.mark.parametrize("how,message", [("truncated", "truncated"), ("magic", "magic")])
def test_mnist_truncated_or_corrupt_file_is_a_one_line_input_error(tmp_path, how, message):
    _write_mnist(tmp_path)
    _corrupt(tmp_path / "train-images-idx3-ubyte", how)
    with pytest.raises(KernelnormInputError, match=message):
        load_mnist_idx(str(tmp_path))


def test_mnist_label_out_of_range_and_count_mismatch_are_errors(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.array([1, 2, 3, 4, 5, 6, 12])))
    with pytest.raises(KernelnormInputError, match="0..9"):
        load_mnist_idx(str(tmp_path))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(6)))
    with pytest.raises(KernelnormInputError, match="expected 7 labels"):
        load_mnist_idx(str(tmp_path))


def test_missing_directory_or_file_is_an_error(tmp_path):
    with pytest.raises(KernelnormInputError, match="no such directory"):
        load_mnist_idx(str(tmp_path / "nope"))
    with pytest.raises(KernelnormInputError, match="no file"):
        load_cifar10_binary(str(tmp_path))


def test_idx_with_trailing_bytes_is_rejected(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(_idx(np.arange(4)) + b"\x00")
    with pytest.raises(KernelnormInputError, match="trailing"):
        read_idx(str(path))


def _cifar_records(labels_rows, rng):
    """Records whose pixel (row r, col c) of channel k is (k * 64 + r + c) % 256 + per-image noise."""
    out = []
    for labels in labels_rows:
        k, r, c = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
        image = (k * 64 + r + c + rng.integers(0, 3)) % 256
        out.append(bytes(labels) + image.astype(np.uint8).tobytes())
    return b"".join(out)


def _write_cifar10(directory, bad_label=False):
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        (directory / f"data_batch_{i}.bin").write_bytes(_cifar_records([[i], [9]], rng))
    (directory / "test_batch.bin").write_bytes(_cifar_records([[3], [10 if bad_label else 0]], rng))


def test_cifar10_binary_is_read_channel_last_with_labels(tmp_path):
    _write_cifar10(tmp_path)
    data = load_cifar10_binary(str(tmp_path))
    assert data.x.shape == (10, 3072) and data.image_shape == (32, 32, 3)
    np.testing.assert_array_equal(data.y, [1, 9, 2, 9, 3, 9, 4, 9, 5, 9])
    image = data.x[0].reshape(32, 32, 3) * 255
    offset = image[0, 0, 0]
    np.testing.assert_allclose(image[5, 7, 2], (2 * 64 + 5 + 7 + offset) % 256, atol=1e-3)
    assert load_image_dataset(f"cifar10:{tmp_path}").name == "cifar10"


def test_cifar10_truncated_or_bad_label_is_an_error(tmp_path):
    _write_cifar10(tmp_path, bad_label=True)
    with pytest.raises(KernelnormInputError, match="label 10"):
        load_cifar10_binary(str(tmp_path))
    raw = (tmp_path / "data_batch_2.bin").read_bytes()
    (tmp_path / "data_batch_2.bin").write_bytes(raw[:-100])
    with pytest.raises(KernelnormInputError, match="multiple of the 3073-byte record"):
        load_cifar10_binary(str(tmp_path))


def test_cifar100_binary_fine_and_coarse_labels(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "train.bin").write_bytes(_cifar_records([[4, 99], [19, 0]], rng))
    (tmp_path / "test.bin").write_bytes(_cifar_records([[0, 50]], rng))
    fine, coarse = load_cifar100_binary(str(tmp_path)), load_cifar100_binary(str(tmp_path), labels="coarse")
    np.testing.assert_array_equal(fine.y, [99, 0])
    np.testing.assert_array_equal(coarse.y, [4, 19])
    (tmp_path / "test.bin").write_bytes(_cifar_records([[0, 100]], rng))
    with pytest.raises(KernelnormInputError, match=">= 100"):
        load_cifar100_binary(str(tmp_path))
