"""Extreme eigenvalues of the NTK Gram matrix without storing it (``m`` up to ~60 000).

``Theta_L`` is never formed: its products ``Theta_L V`` are computed a block of rows at a time
from the inputs (``K_0`` rows ``X_b X^T / d``, then the fused recursion of
:mod:`kernelnorm.ntk._fused` on that ``(b, m)`` block), so memory is ``O(m b)``; each product
re-evaluates the kernel (``O(L m^2)`` work), so the solver is block Lanczos
(:func:`lanczos_extremes`), which needs few kernel passes: converged when the Ritz residual is
``<= tol |theta|``, so each eigenvalue, hence ``kappa``, is stated to relative accuracy ``tol``
(``|lambda - theta| <= ||r||`` for a unit Ritz vector: Parlett, *The Symmetric Eigenvalue
Problem*, Thm. 4.5.1).
Small ``m`` take the dense LAPACK solver (:func:`kernelnorm.ntk.spectrum`).
"""

from __future__ import annotations

import time

import numpy as np

from kernelnorm._errors import KernelnormInputError, check_block
from kernelnorm._resources import FLOAT64, available_memory, report_progress

EIGEN_METHODS = ("auto", "dense", "matrix_free")
#: Relative accuracy of the matrix-free eigenvalues (ARPACK's ``tol``).
DEFAULT_EIGEN_TOL = 1e-8
#: ``auto`` uses the dense solver up to this ``m`` when the matrices fit in memory.
DENSE_MAX_M = 4000
#: Start vectors of block Lanczos (columns of ``Theta`` applied per kernel pass).
LANCZOS_VECTORS = 32
#: Float64 arrays of ``b x m`` alive per row block (the fused loop's state and XLA's temporaries).
_BLOCK_ARRAYS = 24


def block_rows_for(m: int, memory: int | None = None) -> int:
    """Rows per block: a quarter of the free memory (or 256 MiB, the smaller) over
    :data:`_BLOCK_ARRAYS` arrays of ``m`` float64."""
    budget = min(memory if memory is not None else available_memory() // 4, 2**28)
    return int(max(1, min(m, budget // (_BLOCK_ARRAYS * FLOAT64 * m))))


class BlockwiseNTK:
    """``V -> Theta_L V`` evaluated a block of rows at a time (see the module docstring).

    Attributes:
        m: inputs; block: rows per block; products: ``Theta`` passes done so far.
    """

    def __init__(self, scheme, x, depth: int, *, block: int | None = None):
        from kernelnorm.ntk._fused import diagonal_trajectory, fused_supported
        from kernelnorm.ntk._recursion import check_depth

        check_block("scheme", scheme)
        if not fused_supported(scheme):
            raise KernelnormInputError("--eigen", "the matrix-free path needs a plain or "
                                       "weight-mean ReLU block (use dense)")
        self.scheme, self.depth = scheme, check_depth(depth)
        self.x = np.asarray(x, dtype=np.float64)
        self.m = self.x.shape[0]
        self.block = block_rows_for(self.m) if block is None else int(block)
        q0 = np.einsum("ij,ij->i", self.x, self.x) / self.x.shape[1]
        self.trajectory = diagonal_trajectory(scheme, q0, self.depth)
        self.diagonal = self.trajectory["ntk"][self.depth - 1]
        self.products = 0

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``Theta_L`` (exact diagonal)."""
        from kernelnorm.ntk._fused import _slice, pair_kernels

        index = np.arange(start, stop)
        k0 = self.x[index] @ self.x.T / self.x.shape[1]
        ntk = pair_kernels(self.scheme, k0, _slice(self.trajectory, index), self.trajectory,
                           [self.depth], track=False)[self.depth][1]
        ntk[np.arange(len(index)), index] = self.diagonal[index]
        return ntk

    def error_bound(self) -> tuple[float, float]:
        """``(max |Theta - Theta exact|, max |Theta|)`` from one tracked pass over the row blocks
        (the first-order bound of :func:`kernelnorm.ntk.exact_gram_kernels`)."""
        from kernelnorm.ntk._fused import _slice, pair_kernels
        from kernelnorm.ntk._recursion import _EPS

        d = self.x.shape[1]
        norms = np.sqrt(np.einsum("ij,ij->i", self.x, self.x))
        bound, scale = float(np.max(self.trajectory["ntk_error"][self.depth - 1])), 0.0
        for start in range(0, self.m, self.block):
            index = np.arange(start, min(self.m, start + self.block))
            k0 = self.x[index] @ self.x.T / d
            k0_error = (d + 2) * _EPS * np.outer(norms[index], norms) / d  # input_gram_error
            _, ntk, _, ntk_error = pair_kernels(
                self.scheme, k0, _slice(self.trajectory, index), self.trajectory, [self.depth],
                k0_error=k0_error)[self.depth]
            ntk_error[np.arange(len(index)), index] = 0.0  # the diagonal: the trajectory's
            bound, scale = max(bound, float(np.max(ntk_error))), max(scale, float(np.max(ntk)))
        return bound, max(scale, float(np.max(self.diagonal)))

    def matmat(self, v) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        out = np.empty((self.m,) + v.shape[1:])
        for start in range(0, self.m, self.block):
            stop = min(self.m, start + self.block)
            out[start:stop] = self.rows(start, stop) @ v
        self.products += 1
        return out

    def operator(self):
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator((self.m, self.m), matvec=self.matmat, matmat=self.matmat,
                              dtype=np.float64)


def matrix_free_condition(scheme, x, depth: int, *, tol: float = DEFAULT_EIGEN_TOL,
                          block: int | None = None, seed: int = 0):
    """:func:`kernelnorm.ntk.ntk_condition` without the Gram matrix: a
    :class:`kernelnorm.ntk.ConditionReport` (path ``"matrix_free"``) whose error bound comes from
    one tracked blockwise pass and whose eigenvalues are accurate to ``tol`` relative."""
    from kernelnorm._costs import check_matrix_free_request
    from kernelnorm.ntk._condition import (
        ConditionReport,
        _stated_bound,
        check_inputs,
        scheme_phase,
    )

    x = check_inputs(x)
    _check_tol(tol)
    check_block("scheme", scheme)
    block = block_rows_for(x.shape[0]) if block is None else block
    check_matrix_free_request(scheme, x.shape[0], depth, block)
    start = time.perf_counter()
    operator = BlockwiseNTK(scheme, x, depth, block=block)
    bound, scale = operator.error_bound()
    kernel_seconds = time.perf_counter() - start
    spec = lanczos_extremes(operator, tol, seed)
    bound, note = _stated_bound(bound, np.array([scale]))
    chi, name = scheme_phase(scheme)
    return ConditionReport(scheme.name, scheme.activation.name, operator.depth, operator.m,
                           spec.kappa, spec.lambda_min, spec.lambda_max, chi, name,
                           "matrix_free", bound, bound / scale, kernel_seconds, spec.seconds,
                           note)


def _check_tol(tol) -> None:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise KernelnormInputError("--tol", f"must be in (0, 1), got {tol!r}")


def choose_eigen_method(method: str, m: int) -> str:
    """``"dense"`` or ``"matrix_free"`` for ``method`` in :data:`EIGEN_METHODS` and ``m``."""
    return _choose(method, m)


def _extreme_ritz_pairs(tridiagonal, bandwidth):
    """Smallest and largest eigenpairs of the block tridiagonal matrix, from its band
    (LAPACK ``sbevx`` via ``scipy.linalg.eig_banded``: ``O(n p^2)``, not ``O(n^3)``)."""
    from scipy.linalg import eig_banded

    n = tridiagonal.shape[0]
    band = np.zeros((bandwidth + 1, n))
    for k in range(min(bandwidth, n - 1) + 1):
        band[k, :n - k] = np.diagonal(tridiagonal, -k)
    values, vectors = [], []
    for index in (0, n - 1):
        value, vector = eig_banded(band, lower=True, select="i", select_range=(index, index))
        values.append(float(value[0]))
        vectors.append(vector[:, 0])
    return values, np.stack(vectors, axis=1)


def _grow(tridiagonal, alpha, coupling):
    """The block tridiagonal ``T`` with one more diagonal block ``alpha`` below ``coupling``."""
    n, p = tridiagonal.shape[0], alpha.shape[0]
    out = np.zeros((n + p, n + p))
    out[:n, :n] = tridiagonal
    out[n:, n:] = alpha
    if coupling is not None:
        out[n:, n - p:n] = coupling
        out[n - p:n, n:] = coupling.T
    return out


def _choose(method: str, m: int) -> str:
    if method not in EIGEN_METHODS:
        raise KernelnormInputError("--eigen", f"choose from {', '.join(EIGEN_METHODS)}, got "
                                   f"{method!r}")
    if method != "auto":
        return method
    fits = 12 * FLOAT64 * m * m <= available_memory()
    return "dense" if m <= DENSE_MAX_M and fits else "matrix_free"


def ntk_extreme_eigenvalues(scheme, x, depth: int, *, method: str = "auto",
                            tol: float = DEFAULT_EIGEN_TOL, block: int | None = None,
                            seed: int = 0):
    """``lambda_min``, ``lambda_max`` and ``kappa`` of ``Theta_L`` on ``x``.

    ``method``: ``"dense"`` (form ``Theta_L``, LAPACK), ``"matrix_free"`` (module docstring;
    eigenvalues to relative accuracy ``tol``), ``"auto"``: dense for ``m <= 4000`` when it fits
    in memory. ``seed`` fixes Lanczos' start vector. Returns a :class:`kernelnorm.ntk.Spectrum`.

    Example: ``ntk_extreme_eigenvalues(Plain(sigma_b2=0.1), x, 10, method="matrix_free")``.
    """
    from kernelnorm.ntk._condition import check_inputs, ntk_gram, spectrum

    x = check_inputs(x)
    _check_tol(tol)
    chosen = _choose(method, x.shape[0])
    if chosen == "dense":
        return spectrum(ntk_gram(scheme, x, depth, method="exact").ntk)
    return lanczos_extremes(BlockwiseNTK(scheme, x, depth, block=block), tol, seed)


def lanczos_extremes(operator, tol: float = DEFAULT_EIGEN_TOL, seed: int = 0, *,
                     vectors: int = LANCZOS_VECTORS, max_passes: int = 1000):
    """Both ends of the spectrum of a :class:`BlockwiseNTK` by block Lanczos: a
    :class:`kernelnorm.ntk.Spectrum`.

    Block Lanczos with full reorthogonalisation (Golub & Underwood 1977; Golub & Van Loan,
    *Matrix Computations*, §10.3.6) on ``vectors`` start vectors from ``seed``: each pass is one
    evaluation of ``Theta`` applied to ``vectors`` columns, so the kernel is evaluated about 7x
    less often than by single-vector Lanczos (ARPACK: 358 passes against 51 at ``m = 2000``,
    depth 10). Stops when the Ritz residuals of both extreme Ritz pairs are ``<= tol |theta|``
    (so each eigenvalue is within ``tol`` relative of an eigenvalue of ``Theta``) or when the
    basis spans the space. ``operator.products`` counts the passes. Memory: the basis,
    ``8 m vectors passes`` bytes.
    """
    from kernelnorm.ntk._condition import Spectrum, spectrum

    _check_tol(tol)
    start = time.perf_counter()
    m = operator.m
    if m <= 2 * vectors:
        return spectrum(operator.rows(0, m))
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, vectors)))
    basis, coupling = q, None
    tridiagonal = np.zeros((0, 0))
    for passes in range(1, max_passes + 1):
        w = operator.matmat(q)
        alpha = q.T @ w
        for _ in range(2):  # full reorthogonalisation, twice is enough (Giraud et al. 2005)
            w -= basis @ (basis.T @ w)
        tridiagonal = _grow(tridiagonal, (alpha + alpha.T) / 2, coupling)
        q, coupling = np.linalg.qr(w)
        (low, high), y = _extreme_ritz_pairs(tridiagonal, vectors)
        residual = np.linalg.norm(coupling @ y[-vectors:], axis=0)
        report_progress(passes, max_passes)
        if (residual[0] <= tol * abs(low) and residual[1] <= tol * abs(high)) or (
                basis.shape[1] + vectors > m):
            break
        basis = np.hstack([basis, q])
    else:
        raise KernelnormInputError("--tol", f"block Lanczos did not reach {tol:g} in "
                                   f"{max_passes} passes (residuals {residual.tolist()})")
    kappa = high / low if low > 0 else float("inf")
    return Spectrum(kappa, low, high, time.perf_counter() - start)
