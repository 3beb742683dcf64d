"""Matrix-free extreme eigenvalues of the NTK Gram matrix against the dense LAPACK solver.

The blockwise operator computes the same rows as the dense exact path (same fused recursion, so
equal to rounding); ARPACK's criterion ``||r|| <= tol |lambda|`` bounds each eigenvalue's
relative error by ``tol`` (a symmetric residual bound), so ``kappa`` agrees to ``2 tol``.
"""

import numpy as np
import pytest

from kernelnorm import LayerNorm, Plain, WeightMean, with_stable_init
from kernelnorm._errors import KernelnormInputError
from kernelnorm.ntk import BlockwiseNTK, ntk_extreme_eigenvalues, ntk_gram, spectrum

_rng = np.random.default_rng(5)
X = _rng.standard_normal((160, 10)) * _rng.uniform(0.5, 2.0, (160, 1))
TOL = 1e-8


@pytest.mark.parametrize("scheme", [Plain(sigma_w2=2.0, sigma_b2=0.1),
                                    with_stable_init(WeightMean(sigma_b2=0.05))],
                         ids=["plain-bias", "wm-bias"])
def test_matrix_free_kappa_matches_dense(scheme):
    depth = 6
    dense = spectrum(ntk_gram(scheme, X, depth, method="exact").ntk)
    free = ntk_extreme_eigenvalues(scheme, X, depth, method="matrix_free", tol=TOL, block=37)
    assert abs(free.lambda_max - dense.lambda_max) <= 2 * TOL * dense.lambda_max
    # lambda_min: ARPACK's residual criterion and the dense solver's eps * lambda_max
    assert abs(free.lambda_min - dense.lambda_min) <= (2 * TOL * dense.lambda_min
                                                       + 1e-12 * dense.lambda_max)
    assert abs(free.kappa / dense.kappa - 1) <= 5 * TOL + 1e-12 * dense.kappa


def test_blockwise_rows_equal_the_dense_gram():
    scheme = Plain(sigma_w2=2.0, sigma_b2=0.1)
    dense = ntk_gram(scheme, X, 9, method="exact").ntk
    operator = BlockwiseNTK(scheme, X, 9, block=64)
    v = np.random.default_rng(0).standard_normal((160, 2))
    assert np.max(np.abs(operator.matmat(v) - dense @ v)) <= 1e-12 * np.max(np.abs(dense @ v))


def test_auto_is_dense_for_small_m_and_bad_requests_are_refused():
    scheme = Plain(sigma_w2=2.0)
    small = ntk_extreme_eigenvalues(scheme, X[:50], 3)
    assert small.kappa == spectrum(ntk_gram(scheme, X[:50], 3, method="exact").ntk).kappa
    with pytest.raises(KernelnormInputError, match="--eigen"):
        ntk_extreme_eigenvalues(LayerNorm(), X[:50], 3, method="matrix_free")
    with pytest.raises(KernelnormInputError, match="--eigen"):
        ntk_extreme_eigenvalues(scheme, X[:50], 3, method="lanczos")
    with pytest.raises(KernelnormInputError, match="--tol"):
        ntk_extreme_eigenvalues(scheme, X[:50], 3, tol=0.0)


def test_matrix_free_condition_report_agrees_with_dense():
    from kernelnorm.ntk import ntk_condition

    scheme = Plain(sigma_w2=1.8, sigma_b2=0.1)
    dense = ntk_condition(scheme, X, 5, eigen="dense", method="exact")
    free = ntk_condition(scheme, X, 5, eigen="matrix_free", tol=TOL)
    assert free.method == "matrix_free" and dense.method == "exact"
    assert abs(free.kappa / dense.kappa - 1) <= 5 * TOL + 1e-12 * dense.kappa
    # both bound the same kernel error (first-order analysis), within a factor 3
    assert dense.error_bound / 3 <= free.error_bound <= 3 * dense.error_bound
