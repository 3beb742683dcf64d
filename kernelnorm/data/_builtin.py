"""Built-in data: sklearn digits and mnist1d (both generated offline), spheres, ``.npy``/``.npz``.

Every loader returns a :class:`Dataset` with float64 features ``x`` of shape ``(m, d)`` and
integer labels ``y`` (``-1`` where there are none). Nothing is downloaded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from kernelnorm._errors import KernelnormInputError, check_fraction, check_int, check_seed
from kernelnorm._resources import FLOAT64, format_bytes, require


#: Largest magnitude of a data entry: ``x.x / d`` must stay finite in float64.
MAX_ENTRY = 1e100


@dataclass(frozen=True)
class Dataset:
    """Features ``x`` ``(m, d)``, labels ``y`` ``(m,)``, held-out split (may be empty), name."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None = None


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Centre each feature over the data, then scale every row to ``||x||^2 = d`` so that
    ``K0(x, x) = x.x/d = 1`` (MimicNorm's input normalisation, docs/theory.md conventions)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise KernelnormInputError("--data", "a row has zero norm after centring")
    return x * (np.sqrt(x.shape[1]) / norms)


def _split(x, y, test_fraction, seed):
    test_fraction = check_fraction("test_fraction", test_fraction, open_low=False)
    seed = check_seed("--seed", seed)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def load_digits(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """sklearn's 1797 handwritten 8x8 digits, pixels scaled to [0, 1], seeded split."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    x = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    return Dataset("digits", *_split(x, y, test_fraction, seed), image_shape=(8, 8, 1))


def load_mnist1d(*, seed: int = 0) -> Dataset:
    """The mnist1d data set (4000 train / 1000 test sequences of length 40), generated offline
    by the ``mnist1d`` package with its default arguments and the given seed."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = check_seed("--seed", seed)
    data = make_dataset(args)
    return Dataset(
        "mnist1d",
        np.asarray(data["x"], np.float64), np.asarray(data["y"], np.int64),
        np.asarray(data["x_test"], np.float64), np.asarray(data["y_test"], np.int64),
        image_shape=(40, 1),
    )


def sphere_points(m: int, dim: int = 64, *, correlation: float = 0.0, seed: int = 0) -> Dataset:
    """``m`` points with ``||x||^2 = dim`` whose pairwise correlations are all ``correlation``.

    ``x_i = sqrt(dim) (sqrt(c) e + sqrt(1 - c) g_i)`` normalised exactly, with ``e`` a shared
    unit direction and ``g_i`` orthonormal directions (needs ``m + 1 <= dim``); ``c`` must be in
    ``[0, 1)``. With ``correlation = 0`` and ``m > dim`` the points are iid uniform instead.
    """
    m = check_int("--data", m)
    dim = check_int("dim", dim)
    seed = check_seed("--seed", seed)
    correlation = check_fraction("--correlation", correlation, open_low=False)
    require(f"{m} sphere points in dimension {dim}", memory=[(3 * FLOAT64 * (m + 1) * dim, "--data")])
    rng = np.random.default_rng(seed)
    if m + 1 <= dim:
        basis, _ = np.linalg.qr(rng.standard_normal((dim, m + 1)))
        shared, own = basis[:, 0], basis[:, 1:].T
        x = np.sqrt(correlation) * shared + np.sqrt(1.0 - correlation) * own
    elif correlation == 0.0:
        x = rng.standard_normal((m, dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    else:
        raise KernelnormInputError("--data", f"equicorrelated spheres need m + 1 <= dim ({dim})")
    x = x * np.sqrt(dim)
    empty = np.zeros((0, dim))
    return Dataset(f"sphere:{m}", x, -np.ones(m, np.int64), empty, np.zeros(0, np.int64))


def check_data_matrix(x, argument: str = "--data") -> np.ndarray:
    """``x`` as a float64 ``(m, d)`` array: real numbers (not complex, not objects), non-empty,
    every entry finite and below ``1e150`` in magnitude (kernels square the entries)."""
    array = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if array.dtype.kind == "c":
        raise KernelnormInputError(argument, "complex values are not supported (the kernels "
                                             "are real): pass the real and imaginary parts as columns")
    if array.dtype.kind not in "biuf":
        raise KernelnormInputError(argument, f"expected a numeric (m, d) array, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise KernelnormInputError(argument, f"expected a non-empty (m, d) array, got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
    if bad.size:
        raise KernelnormInputError(argument, f"rows {bad[:5].tolist()} contain NaN or inf")
    huge = np.flatnonzero(np.any(np.abs(array) > MAX_ENTRY, axis=1))
    if huge.size:
        raise KernelnormInputError(argument, f"rows {huge[:5].tolist()} have entries above "
                                             f"{MAX_ENTRY:g} in magnitude (their squares overflow); rescale the data")
    return array


def _array_header(handle, available: int, name: str) -> None:
    """Read a ``.npy`` header from ``handle`` and refuse, before anything is allocated, an array
    whose header claims more bytes than the file holds or than the machine has free."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(handle)
        reader = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = reader(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise KernelnormInputError("--data", f"{name} is not a .npy array ({' '.join(str(exc).split())})") from None
    if dtype.hasobject:
        raise KernelnormInputError("--data", f"{name} holds Python objects, not numbers (never unpickled)")
    claimed = math.prod(shape) * dtype.itemsize
    data = available - handle.tell()
    if claimed > data:
        raise KernelnormInputError("--data", f"{name} is truncated or corrupt: its header claims "
                                             f"shape {shape} ({format_bytes(claimed)}), the file "
                                             f"holds {format_bytes(max(data, 0))}")
    require(f"loading {name}", memory=[(2 * claimed + FLOAT64 * math.prod(shape), "--data")])


def _load_npy(path: str) -> np.ndarray:
    with open(path, "rb") as handle:
        _array_header(handle, os.fstat(handle.fileno()).st_size, path)
    return np.load(path, allow_pickle=False)


def _load_npz(path: str) -> dict:
    import zipfile

    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[:-4]
            if key not in ("x", "y", "x_test", "y_test"):
                continue
            with archive.open(info) as member:
                _array_header(member, info.file_size, f"{path}[{key}]")
            with archive.open(info) as member:
                arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays


def _check_labels(y, count: int, name: str) -> np.ndarray:
    """Labels of ``count`` rows: integers ``>= 0`` (or all ``-1``: unlabelled)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != count:
        raise KernelnormInputError("--data", f"{name} must be a vector of {count} labels, got shape {y.shape}")
    if y.dtype.kind not in "biuf" or (y.size and not np.all(np.isfinite(y.astype(np.float64)))):
        raise KernelnormInputError("--data", f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise KernelnormInputError("--data", f"{name} must hold integer class labels, found {y[np.mod(y, 1) != 0][0]!r}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0 and not np.all(y == -1):
        raise KernelnormInputError("--data", f"{name} has negative label {int(y.min())} (labels are 0..C-1; "
                                             "all -1 means unlabelled)")
    return y


def load_array(path: str) -> Dataset:
    """A user's ``.npy`` array ``(m, d)`` or ``.npz`` with ``x`` (and optionally labels ``y``
    and a held-out split ``x_test``, ``y_test``).

    Nothing is unpickled and nothing is allocated before the header's shape is checked against
    the file's size and the free memory; complex or object arrays, wrong ranks, empty arrays,
    NaN/inf rows, non-integer or negative labels are one-line errors.
    """
    import zipfile
    import zlib

    if not os.path.isfile(path):
        raise KernelnormInputError("--data", f"no such file: {path}")
    try:
        arrays = _load_npz(path) if path.endswith(".npz") else {"x": _load_npy(path)}
    except KernelnormInputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise KernelnormInputError("--data", f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if "x" not in arrays:
        raise KernelnormInputError("--data", f"{path} has no array named 'x'")
    x = check_data_matrix(arrays["x"])
    y = _check_labels(arrays.get("y", -np.ones(len(x), np.int64)), len(x), f"{path}: y")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise KernelnormInputError("--data", f"{path} needs both x_test and y_test (or neither)")
    if "x_test" in arrays:
        x_test = check_data_matrix(arrays["x_test"])
        if x_test.shape[1] != x.shape[1]:
            raise KernelnormInputError("--data", f"{path}: x_test has {x_test.shape[1]} features, x has {x.shape[1]}")
        y_test = _check_labels(arrays["y_test"], len(x_test), f"{path}: y_test")
    else:
        x_test, y_test = np.zeros((0, x.shape[1])), np.zeros(0, np.int64)
    return Dataset(os.path.basename(path), x, y, x_test, y_test)


DATASET_SPECS = "digits, mnist1d, sphere:M, or a path to .npy/.npz"


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """Resolve a CLI ``--data`` value: ``digits``, ``mnist1d``, ``sphere:M``, or a file path."""
    if not isinstance(spec, str) or not spec.strip():
        raise KernelnormInputError("--data", f"expected {DATASET_SPECS}, got {spec!r}")
    if spec == "digits":
        return load_digits(seed=seed)
    if spec == "mnist1d":
        return load_mnist1d(seed=seed)
    if spec.startswith("sphere:"):
        try:
            m = int(spec.split(":", 1)[1])
        except ValueError:
            raise KernelnormInputError("--data", f"expected sphere:M with integer M, got {spec!r}") from None
        if m < 1:
            raise KernelnormInputError("--data", f"sphere:M needs M >= 1 points, got {spec!r}")
        return sphere_points(m, seed=seed)
    if spec.endswith((".npy", ".npz")):
        return load_array(spec)
    raise KernelnormInputError("--data", f"unknown data {spec!r} (use {DATASET_SPECS})")
