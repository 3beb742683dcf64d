"""Input sets for Monte-Carlo checks: pairs of unit-length inputs with prescribed correlations.

Every input ``x`` has ``||x||^2 = dim``, so ``K0(x, x) = x.x/dim = 1`` (docs/theory.md conventions) and the
input correlation of a pair is ``x.x'/dim``. Built with numpy from an explicit seed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelnorm._errors import KernelnormInputError, check_correlation, check_int, check_seed
from kernelnorm._resources import FLOAT64, require


class PairedInputs(NamedTuple):
    """Inputs ``x`` ``(m, dim)`` and the index pairs ``pairs`` ``(P, 2)`` whose kernels are tracked;
    ``correlations`` ``(P,)`` are the exact input correlations of those pairs."""

    x: np.ndarray
    pairs: np.ndarray
    correlations: np.ndarray


def _orthonormal(count: int, dim: int, seed: int) -> np.ndarray:
    """``count`` orthonormal directions in ``R^dim``: QR of a ``(dim, count)`` Gaussian matrix
    (memory: the matrix, its Q factor and the inputs built from them, ``3 x 8 dim count``)."""
    dim = check_int("--input-dim", dim)
    check_seed("--seed", seed)
    if count > dim:
        raise KernelnormInputError("--input-dim", f"needs >= {count} dimensions, got {dim}")
    require(f"{count} orthonormal inputs of dimension {dim}",
            memory=[(3 * FLOAT64 * dim * count, "--input-dim")])
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, count)))
    return basis.T


def anchored_pairs(correlations, dim: int, *, seed: int = 0) -> PairedInputs:
    """``P + 1`` inputs: an anchor ``a`` and partners ``x_p = rho_p a + sqrt(1 - rho_p^2) v_p``.

    The directions ``a, v_1, ..., v_P`` are orthonormal (needs ``P + 1 <= dim``), so pair
    ``(0, p)`` has correlation ``rho_p`` exactly and partners correlate as ``rho_p rho_q``.
    "200 input pairs" of the benchmark are 201 inputs built this way.
    """
    rhos = check_correlation("--rho", np.atleast_1d(np.asarray(correlations, np.float64)))
    basis = _orthonormal(len(rhos) + 1, dim, seed)
    anchor, own = basis[0], basis[1:]
    partners = rhos[:, None] * anchor + np.sqrt(1.0 - rhos * rhos)[:, None] * own
    x = np.sqrt(dim) * np.concatenate([anchor[None], partners])
    pairs = np.stack([np.zeros(len(rhos), np.int64), np.arange(1, len(rhos) + 1)], axis=1)
    return PairedInputs(x, pairs, rhos)


def independent_pairs(correlations, dim: int, *, seed: int = 0) -> PairedInputs:
    """``2P`` inputs forming ``P`` pairs with correlations ``rho_p``, orthogonal across pairs
    (needs ``2P <= dim``): the setting of the idealised batch-norm operator, where the rest of
    the batch is uncorrelated with a pair (docs/theory.md §2)."""
    rhos = check_correlation("--rho", np.atleast_1d(np.asarray(correlations, np.float64)))
    basis = _orthonormal(2 * len(rhos), dim, seed)
    first, second = basis[0::2], basis[1::2]
    partners = rhos[:, None] * first + np.sqrt(1.0 - rhos * rhos)[:, None] * second
    x = np.sqrt(dim) * np.stack([first, partners], axis=1).reshape(2 * len(rhos), dim)
    pairs = np.arange(2 * len(rhos)).reshape(len(rhos), 2)
    return PairedInputs(x, pairs, rhos)


def data_pairs(x: np.ndarray, *, count: int, seed: int = 0) -> PairedInputs:
    """``count`` distinct random pairs of rows of a data matrix whose rows satisfy
    ``||x||^2 = dim`` (see :func:`kernelnorm.data.normalise_rows`)."""
    from kernelnorm.data import check_data_matrix

    x = check_data_matrix(x, "x")
    count = check_int("count", count)
    check_seed("seed", seed)
    m = len(x)
    if m < 2:
        raise KernelnormInputError("--data", f"needs >= 2 inputs, got {m}")
    require(f"pairs among {m} inputs", memory=[(4 * FLOAT64 * m * m, "--data")])
    rng = np.random.default_rng(seed)
    first, second = np.triu_indices(m, k=1)
    chosen = rng.choice(len(first), size=min(count, len(first)), replace=False)
    pairs = np.stack([first[chosen], second[chosen]], axis=1)
    gram = x @ x.T / x.shape[1]
    rho = gram[pairs[:, 0], pairs[:, 1]] / np.sqrt(gram[pairs[:, 0], pairs[:, 0]] * gram[pairs[:, 1], pairs[:, 1]])
    return PairedInputs(x, pairs, rho)
