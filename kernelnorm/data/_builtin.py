"""Built-in data: sklearn digits and mnist1d (both generated offline), spheres, ``.npy``/``.npz``.

Every loader returns a :class:`Dataset` with float64 features ``x`` of shape ``(m, d)`` and
integer labels ``y`` (``-1`` where there are none). Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from kernelnorm._errors import KernelnormInputError


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
    args.seed = seed
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
    if m < 1:
        raise KernelnormInputError("--data", f"sphere needs m >= 1 points, got {m}")
    if not 0.0 <= correlation < 1.0:
        raise KernelnormInputError("--correlation", f"must be in [0, 1), got {correlation}")
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


def check_data_matrix(x) -> np.ndarray:
    """``x`` as a float64 ``(m, d)`` array: numeric, non-empty, every row finite."""
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelnormInputError("--data", f"expected a numeric (m, d) array: {exc}") from None
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise KernelnormInputError("--data", f"expected a non-empty (m, d) array, got {x.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
    if bad.size:
        raise KernelnormInputError("--data", f"rows {bad[:5].tolist()} contain NaN or inf")
    return x


def load_array(path: str) -> Dataset:
    """A user's ``.npy`` array ``(m, d)`` or ``.npz`` with ``x`` (and optionally ``y``).

    Loaded with ``allow_pickle=False``; empty arrays, wrong ranks and NaN/inf rows are errors.
    """
    if not os.path.isfile(path):
        raise KernelnormInputError("--data", f"no such file: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise KernelnormInputError("--data", f"cannot read {path}: {exc}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "x" not in loaded.files:
                raise KernelnormInputError("--data", f"{path} has no array named 'x'")
            x = loaded["x"]
            y = loaded["y"] if "y" in loaded.files else -np.ones(len(x), np.int64)
    else:
        x, y = loaded, -np.ones(len(loaded), np.int64)
    x = check_data_matrix(x)
    empty = np.zeros((0, x.shape[1]))
    return Dataset(os.path.basename(path), x, np.asarray(y), empty, np.zeros(0, np.int64))


DATASET_SPECS = "digits, mnist1d, sphere:M, or a path to .npy/.npz"


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """Resolve a CLI ``--data`` value: ``digits``, ``mnist1d``, ``sphere:M``, or a file path."""
    if spec == "digits":
        return load_digits(seed=seed)
    if spec == "mnist1d":
        return load_mnist1d(seed=seed)
    if spec.startswith("sphere:"):
        try:
            m = int(spec.split(":", 1)[1])
        except ValueError:
            raise KernelnormInputError("--data", f"expected sphere:M with integer M, got {spec!r}") from None
        return sphere_points(m, seed=seed)
    if spec.endswith((".npy", ".npz")):
        return load_array(spec)
    raise KernelnormInputError("--data", f"unknown data {spec!r} (use {DATASET_SPECS})")
