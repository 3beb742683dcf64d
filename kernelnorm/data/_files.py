"""Image data sets from a user's local directory: MNIST (IDX files) and CIFAR-10/100 (the
*binary* versions). Nothing is downloaded and nothing is unpickled: the files are parsed byte by
byte with their documented layouts, and every size, header and label is validated, so a
truncated or corrupt file raises :class:`KernelnormInputError` naming the file.

Layouts:
* IDX (LeCun et al.): big-endian magic ``0x00 0x00 dtype ndim`` (dtype ``0x08`` = uint8), then
  ``ndim`` big-endian int32 sizes, then the data. Images ``(m, 28, 28)``, labels ``(m,)`` in 0..9.
* CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (``3 x 32 x 32``, channel-major);
  ``data_batch_1..5.bin`` and ``test_batch.bin``.
* CIFAR-100 binary: records of 2 label bytes (coarse 0..19, fine 0..99) + 3072 pixel bytes;
  ``train.bin`` and ``test.bin``.
Pixels become floats in ``[0, 1]`` (float32), images channel-last ``(H, W, C)``, flattened in ``x``.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm.data._builtin import Dataset, load_dataset

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_PIXELS = 3 * 32 * 32
ARG = "--data"


def _find(directory: str, name: str, *, suffixes=("", ".gz")) -> str:
    for sub in ("", "cifar-10-batches-bin", "cifar-100-binary"):
        for suffix in suffixes:
            path = os.path.join(directory, sub, name + suffix)
            if os.path.isfile(path):
                return path
    raise KernelnormInputError(ARG, f"{directory} has no file {name}")


def _read_bytes(path: str) -> bytes:
    from kernelnorm._resources import require

    if not path.endswith(".gz"):  # the bytes, then float32 pixels: 5x the file
        require(f"reading {path}", memory=[(5 * os.path.getsize(path), ARG)])
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise KernelnormInputError(ARG, f"cannot read {path}: {exc}") from None


def read_idx(path: str) -> np.ndarray:
    """An IDX file as a uint8 array; header, sizes and total length are checked."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise KernelnormInputError(ARG, f"{path} is not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise KernelnormInputError(ARG, f"{path}: only uint8 IDX data (type 0x08) is supported, got 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise KernelnormInputError(ARG, f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise KernelnormInputError(ARG, f"{path}: expected {expected} bytes for shape {shape}, "
                                        f"found {len(raw)} ({'truncated' if len(raw) < expected else 'trailing data'})")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _mnist_split(directory: str, images_name: str, labels_name: str):
    images_path, labels_path = _find(directory, images_name), _find(directory, labels_name)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise KernelnormInputError(ARG, f"{images_path}: expected (m, 28, 28) images, got {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise KernelnormInputError(ARG, f"{labels_path}: expected {len(images)} labels, got shape {labels.shape}")
    if labels.size and labels.max() > 9:
        raise KernelnormInputError(ARG, f"{labels_path}: labels must lie in 0..9, found {int(labels.max())}")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def load_mnist_idx(directory: str) -> Dataset:
    """MNIST from the four IDX files (optionally gzipped) in ``directory``."""
    _check_directory(directory)
    x, y = _mnist_split(directory, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    x_test, y_test = _mnist_split(directory, MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    return Dataset("mnist", x, y, x_test, y_test, image_shape=(28, 28, 1))


def read_cifar_binary(path: str, *, label_bytes: int, n_classes: int, label_index: int):
    """Records of ``label_bytes`` label bytes + 3072 pixels; returns ``(x, y)`` with ``x``
    ``(m, 32*32*3)`` channel-last floats in [0, 1] and ``y`` the label at ``label_index``."""
    raw = _read_bytes(path)
    record = label_bytes + CIFAR_PIXELS
    if len(raw) == 0 or len(raw) % record:
        raise KernelnormInputError(ARG, f"{path}: size {len(raw)} is not a positive multiple of the "
                                        f"{record}-byte record (truncated or not CIFAR binary)")
    records = np.frombuffer(raw, np.uint8).reshape(-1, record)
    labels = records[:, label_index].astype(np.int64)
    if labels.max() >= n_classes:
        bad = int(np.flatnonzero(labels >= n_classes)[0])
        raise KernelnormInputError(ARG, f"{path}: record {bad} has label {labels[bad]} >= {n_classes} (corrupt file)")
    pixels = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return pixels.reshape(len(records), -1).astype(np.float32) / 255.0, labels


def load_cifar10_binary(directory: str) -> Dataset:
    """CIFAR-10 binary version: ``data_batch_1..5.bin`` + ``test_batch.bin``."""
    _check_directory(directory)
    read = lambda name: read_cifar_binary(_find(directory, name, suffixes=("",)), label_bytes=1,  # noqa: E731
                                          n_classes=10, label_index=0)
    parts = [read(f"data_batch_{i}.bin") for i in range(1, 6)]
    x_test, y_test = read("test_batch.bin")
    return Dataset("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   x_test, y_test, image_shape=(32, 32, 3))


def load_cifar100_binary(directory: str, *, labels: str = "fine") -> Dataset:
    """CIFAR-100 binary version: ``train.bin`` + ``test.bin``; ``labels`` ``"fine"`` (100
    classes) or ``"coarse"`` (20 super-classes)."""
    _check_directory(directory)
    if labels not in ("fine", "coarse"):
        raise KernelnormInputError("--labels", f"must be fine or coarse, got {labels!r}")
    index, n_classes = (1, 100) if labels == "fine" else (0, 20)
    read = lambda name: read_cifar_binary(_find(directory, name, suffixes=("",)), label_bytes=2,  # noqa: E731
                                          n_classes=n_classes, label_index=index)
    (x, y), (x_test, y_test) = read("train.bin"), read("test.bin")
    return Dataset("cifar100", x, y, x_test, y_test, image_shape=(32, 32, 3))


def _check_directory(directory: str) -> None:
    if not os.path.isdir(directory):
        raise KernelnormInputError(ARG, f"no such directory: {directory}")


IMAGE_DATASET_SPECS = "mnist:DIR, cifar10:DIR, cifar100:DIR"


def load_image_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """``mnist:DIR``, ``cifar10:DIR``, ``cifar100:DIR`` (local files), else :func:`load_dataset`."""
    kind, _, directory = spec.partition(":")
    loaders = {"mnist": load_mnist_idx, "cifar10": load_cifar10_binary, "cifar100": load_cifar100_binary}
    if kind in loaders and directory:
        return loaders[kind](os.path.expanduser(directory))
    return load_dataset(spec, seed=seed)
