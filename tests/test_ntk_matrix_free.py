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


@pytest.mark.parametrize("step", [1, 3, 8, 64])
@pytest.mark.parametrize("depth", [1, 2, 7])
def test_circulant_pass_is_the_dense_product_for_every_block_size(step, depth):
    """Every unordered pair is counted once (padding, the ``delta = M/2`` halves, the exact
    diagonal): the product equals the dense Gram matrix's to rounding (``m`` eps per entry)."""
    from kernelnorm.ntk._blockwise import CirculantPass

    scheme = with_stable_init(WeightMean(sigma_b2=0.05))
    x = X[:101]  # odd, so the layout pads for every step
    dense = ntk_gram(scheme, x, depth, method="exact").ntk
    operator = BlockwiseNTK(scheme, x, depth)
    product = CirculantPass(scheme, operator.x, operator.trajectory, depth, step=step)
    assert product.size >= 101 and product.size % (8 * product.step) == 0
    v = np.random.default_rng(step).standard_normal((101, 3))
    reference = dense @ v
    scale = np.abs(dense) @ np.abs(v)
    assert np.all(np.abs(product.matmat(v) - reference) <= 101 * 4e-16 * scale)


def test_blockwise_error_bound_is_the_dense_bound_and_ignores_padding():
    """The tracked pass bounds the same pairs as the dense path: its maximum is the dense
    bound's (the same first-order analysis; the inputs' rounding included), never the larger
    bound of the padding's identical pairs."""
    from kernelnorm.ntk import exact_gram_kernels

    scheme = Plain(sigma_w2=2.0, sigma_b2=0.1)
    x = X[:101]
    dense = exact_gram_kernels(scheme, x, 5, track_error=True)[5]
    for step in (1, 8):
        bound, scale = BlockwiseNTK(scheme, x, 5, block=step).error_bound()
        assert dense.ntk_error.max() / 3 <= bound <= 3 * dense.ntk_error.max()
        assert scale == pytest.approx(np.abs(dense.ntk).max(), rel=1e-14)


def test_block_tridiagonal_band_and_its_extreme_ritz_pairs():
    """``_grow`` stores the block tridiagonal ``T`` of block Lanczos as a band; the extreme
    eigenpairs from the band (values without vectors, then inverse iteration) are LAPACK's
    dense ones to rounding."""
    from kernelnorm.ntk._matrix_free import _extreme_ritz_pairs, _grow

    rng, p = np.random.default_rng(3), 5
    band, dense, coupling = np.zeros((p + 1, 0)), np.zeros((0, 0)), None
    for _ in range(7):
        alpha = rng.standard_normal((p, p))
        alpha = alpha + alpha.T
        band = _grow(band, alpha, coupling)
        n = dense.shape[0]
        grown = np.zeros((n + p, n + p))
        grown[:n, :n], grown[n:, n:] = dense, alpha
        if coupling is not None:
            grown[n:, n - p:n], grown[n - p:n, n:] = coupling, coupling.T
        dense, coupling = grown, np.triu(rng.standard_normal((p, p)))
        (low, high), vectors = _extreme_ritz_pairs(band)
        values, reference = np.linalg.eigh(dense)
        assert abs(low - values[0]) <= 1e-14 * abs(values).max()
        assert abs(high - values[-1]) <= 1e-14 * abs(values).max()
        for k, j in ((0, 0), (1, -1)):
            assert abs(abs(vectors[:, k] @ reference[:, j]) - 1) <= 1e-12


@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_cli_prints_the_matrix_free_eigenvalues_to_the_digits_tol_allows(tol, capsys):
    """``ntk --eigen matrix_free --tol`` prints ``floor(-log10 tol)`` digits of each eigenvalue
    (``2 tol`` for ``kappa``), and every printed digit is the dense solver's, rounded."""
    from kernelnorm.cli import main

    args = ["ntk", "--data", "mnist1d", "--raw", "--sigma-b2", "0.1", "--depth", "4",
            "--max-points", "300"]
    values = {}
    for eigen in ("dense", "matrix_free"):
        assert main(args + ["--eigen", eigen, "--tol", str(tol)]) == 0
        lines = capsys.readouterr().out.splitlines()
        values[eigen] = {line.split("=")[0].strip(): line.split("=")[1].split()[0]
                         for line in lines if line.startswith(("kappa", "lambda"))}
    assert f"eigenvalues to relative {tol:g}" in lines[0]
    for name, printed in values["matrix_free"].items():
        digits = int(np.floor(-np.log10(2 * tol if name == "kappa" else tol)))
        assert len(printed.replace(".", "").replace("-", "").split("e")[0].lstrip("0")) <= digits
        assert float(printed) == float(f"{float(values['dense'][name]):.{digits}g}")
