"""Extreme eigenvalues of the NTK Gram matrix without storing it (``m`` up to ~60 000).

``Theta_L`` is never formed: each product ``Theta_L V`` is one jitted pass of
:mod:`kernelnorm.ntk._blockwise`, which re-evaluates the kernel (``K_0`` from the inputs, then
the fused recursion of :mod:`kernelnorm.ntk._fused`) on half the pairs, a few rows at a time,
split over every device; memory is ``O(m (d + L + k))`` plus ``O(b m)`` working arrays. Each
product costs ``O(L m^2)``, so the solver is block Lanczos (:func:`lanczos_extremes`), which needs
few passes: converged when the Ritz residual is ``<= tol |theta|``, so each eigenvalue, hence
``kappa``, is stated to relative accuracy ``tol`` (``|lambda - theta| <= ||r||`` for a unit Ritz
vector: Parlett, *The Symmetric Eigenvalue Problem*, Thm. 4.5.1).
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
class BlockwiseNTK:
    """``V -> Theta_L V`` without the Gram matrix (see the module docstring).

    Each product is one jitted pass over half the pairs, ``block`` rows at a time, on every
    device (:class:`kernelnorm.ntk._blockwise.CirculantPass`).

    Attributes:
        m: inputs; block: rows per block; products: ``Theta`` passes done so far;
        devices: devices a pass runs on.
    """

    def __init__(self, scheme, x, depth: int, *, block: int | None = None):
        from kernelnorm.ntk._blockwise import DEFAULT_STEP, CirculantPass
        from kernelnorm.ntk._fused import diagonal_trajectory, fused_supported
        from kernelnorm.ntk._recursion import check_depth

        check_block("scheme", scheme)
        if not fused_supported(scheme):
            raise KernelnormInputError("--eigen", "the matrix-free path needs a plain or "
                                       "weight-mean ReLU block (use dense)")
        self.scheme, self.depth = scheme, check_depth(depth)
        self.x = np.asarray(x, dtype=np.float64)
        self.m = self.x.shape[0]
        q0 = np.einsum("ij,ij->i", self.x, self.x) / self.x.shape[1]
        self.trajectory = diagonal_trajectory(scheme, q0, self.depth)
        self.diagonal = self.trajectory["ntk"][self.depth - 1]
        self._pass = CirculantPass(scheme, self.x, self.trajectory, self.depth,
                                   step=DEFAULT_STEP if block is None else int(block))
        self.block, self.devices = self._pass.step, self._pass.devices
        self.products = 0

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``Theta_L`` (exact diagonal)."""
        from kernelnorm.ntk._fused import _slice, pair_kernels
        from kernelnorm.ntk._recursion import input_gram

        index = np.arange(start, stop)
        k0 = input_gram(self.x[index], self.x)
        ntk = pair_kernels(self.scheme, k0, _slice(self.trajectory, index), self.trajectory,
                           [self.depth], track=False)[self.depth][1]
        ntk[np.arange(len(index)), index] = self.diagonal[index]
        return ntk

    def error_bound(self) -> tuple[float, float]:
        """``(max |Theta - Theta exact|, max |Theta|)`` from one tracked pass (the first-order
        bound of :func:`kernelnorm.ntk.exact_gram_kernels`; the diagonal's from its recursion)."""
        bound, scale = self._pass.error_bound()
        return (max(bound, float(np.max(self.trajectory["ntk_error"][self.depth - 1]))),
                max(scale, float(np.max(self.diagonal))))

    def matmat(self, v) -> np.ndarray:
        out = self._pass.matmat(np.asarray(v, dtype=np.float64).reshape(self.m, -1))
        self.products += 1
        return out.reshape(np.shape(v))

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
    check_matrix_free_request(scheme, x.shape[0], depth, x.shape[1], block=block)
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


def _extreme_ritz_pairs(band):
    """Smallest and largest eigenpairs of the symmetric band matrix in lower storage
    (``band[k, j] = T[j + k, j]``): the values by LAPACK ``sbevx`` without vectors
    (``scipy.linalg.eig_banded``, ``O(n p^2)`` work: asking it for vectors would build the
    ``n x n`` reduction and cost ``O(n^3)``), each vector by two steps of inverse iteration
    with the value as shift (banded LU, ``O(n p^2)``)."""
    from scipy.linalg import eig_banded

    n, p = band.shape[1], band.shape[0] - 1
    full = np.zeros((2 * p + 1, n))  # solve_banded's storage: T[i, j] at full[p + i - j, j]
    full[p:] = band
    for k in range(1, p + 1):
        full[p - k, k:] = band[k, :n - k]
    values, vectors = [], []
    for index in (0, n - 1):
        value = float(eig_banded(band, lower=True, eigvals_only=True, select="i",
                                 select_range=(index, index))[0])
        values.append(value)
        vectors.append(_inverse_iteration(full, p, value))
    return values, np.stack(vectors, axis=1)


def _inverse_iteration(full, p, value):
    """Unit eigenvector of the band matrix ``full`` (``solve_banded`` storage) for the
    eigenvalue ``value``: two solves with ``T - value (1 + 4 eps) I`` from a fixed start
    (the shift kept off the exact eigenvalue so the LU has no zero pivot)."""
    from scipy.linalg import solve_banded

    shifted = full.copy()
    shift = value + 4 * np.finfo(float).eps * max(abs(value), float(np.max(np.abs(full))))
    shifted[p] -= shift
    y = np.random.default_rng(0).standard_normal(full.shape[1])
    for _ in range(2):
        y = solve_banded((p, p), shifted, y, check_finite=False)
        y /= np.linalg.norm(y)
    return y


def _grow(band, alpha, coupling):
    """The band (lower storage, bandwidth ``p``) of the block tridiagonal ``T`` with one more
    diagonal block ``alpha`` below ``coupling`` (upper triangular, from the QR step)."""
    p = alpha.shape[0]
    new = np.zeros((p + 1, p))
    for k in range(p):
        new[k, :p - k] = np.diagonal(alpha, -k)
    if coupling is not None:  # T[n + a, n - p + b] = coupling[a, b], a <= b: row p + a - b
        a, b = np.triu_indices(p)
        band[p + a - b, band.shape[1] - p + b] = coupling[a, b]
    return np.concatenate([band, new], axis=1)


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
    (so each eigenvalue is within ``tol`` relative of an eigenvalue of ``Theta``); when the
    basis would fill ``R^m`` first, the formed matrix's LAPACK spectrum.
    ``operator.products`` counts the passes. Memory: the basis,
    ``8 m vectors passes`` bytes.
    """
    from kernelnorm.ntk._condition import Spectrum, spectrum

    _check_tol(tol)
    start = time.perf_counter()
    m = operator.m
    if m <= 2 * vectors:
        return spectrum(operator.rows(0, m))
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, vectors)))
    basis = _Basis(m, vectors)
    basis.append(q)
    coupling = None
    band = np.zeros((vectors + 1, 0))
    for passes in range(1, max_passes + 1):
        w = operator.matmat(q)
        alpha = q.T @ w
        for _ in range(2):  # full reorthogonalisation, twice is enough (Giraud et al. 2005)
            w = basis.project_out(w)
        band = _grow(band, (alpha + alpha.T) / 2, coupling)
        q, coupling = np.linalg.qr(w)
        (low, high), y = _extreme_ritz_pairs(band)
        residual = np.linalg.norm(coupling @ y[-vectors:], axis=0)
        report_progress(passes, max_passes)
        if residual[0] <= tol * abs(low) and residual[1] <= tol * abs(high):
            break
        if basis.columns + vectors > m:  # no room for another block before convergence
            return _dense_fallback(operator, tol, residual, start)
        basis.append(q)
    else:
        raise KernelnormInputError("--tol", f"block Lanczos did not reach {tol:g} in "
                                   f"{max_passes} passes (residuals {residual.tolist()})")
    kappa = high / low if low > 0 else float("inf")
    return Spectrum(kappa, low, high, time.perf_counter() - start)


class _Basis:
    """The Lanczos basis in chunks of ``16 vectors`` columns: memory grows with the columns
    used (a doubling array would hold twice that, and three times while it is copied)."""

    def __init__(self, m: int, vectors: int):
        self.m, self.width, self.columns, self.chunks = m, 16 * vectors, 0, []

    def append(self, block) -> None:
        if self.columns % self.width == 0:
            self.chunks.append(np.empty((self.m, self.width)))
        offset = self.columns % self.width
        self.chunks[-1][:, offset:offset + block.shape[1]] = block
        self.columns += block.shape[1]

    def project_out(self, w):
        """``w - Q (Q^T w)`` chunk by chunk (classical Gram-Schmidt over the chunks)."""
        last = self.columns - self.width * (len(self.chunks) - 1)
        filled = [self.width] * (len(self.chunks) - 1) + [last]
        coefficients = [chunk[:, :n].T @ w for chunk, n in zip(self.chunks, filled)]
        for chunk, n, c in zip(self.chunks, filled, coefficients):
            w = w - chunk[:, :n] @ c
        return w


def _dense_fallback(operator, tol, residual, start):
    """The spectrum from the formed matrix, when the Krylov space fills ``R^m`` first."""
    from kernelnorm.ntk._condition import Spectrum, spectrum

    m = operator.m
    if 12 * FLOAT64 * m * m > available_memory():
        raise KernelnormInputError("--tol", f"block Lanczos filled R^{m} before reaching {tol:g} "
                                   f"(residuals {residual.tolist()}) and the {m} x {m} matrix "
                                   "does not fit in memory")
    dense = spectrum(operator.rows(0, m))
    return Spectrum(dense.kappa, dense.lambda_min, dense.lambda_max, time.perf_counter() - start)
