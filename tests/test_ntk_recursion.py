"""NNGP/NTK recursion (MimicNorm Eq. 5-7): closed forms, exact vs grid path, input errors."""

import math

import numpy as np
import pytest

from kernelnorm import BatchNorm, KernelnormInputError, Plain, WeightMean, with_stable_init
from kernelnorm.data import load_digits, normalise_rows, sphere_points
from kernelnorm.ntk import layer_kernels, ntk_gram, spectrum

EPS = np.finfo(np.float64).eps
CHI_WM = math.pi / (math.pi - 1.0)  # chi_1 of weight mean / BN (MimicNorm Theorems 2, 3)


@pytest.fixture(scope="module")
def digits():
    return normalise_rows(load_digits().x[:160])


def test_second_layer_of_plain_relu_on_orthogonal_inputs_is_two_over_pi():
    # K_2 = 2 * sqrt(2 * 2) * phi_hat(0) = 2/pi, T_dot(0) = 2 * phi_hat'(0) = 1/2, K_1 = 0.
    layers = list(layer_kernels(Plain(), 1.0, 1.0, np.array([1.0, 0.0]), 2))
    assert layers[1].nngp[1] == pytest.approx(2.0 / math.pi, rel=1e-15)
    assert layers[1].ntk[1] == pytest.approx(2.0 / math.pi, rel=1e-15)
    assert layers[1].ntk[0] == pytest.approx(2.0 + 1.0 * 2.0, rel=1e-15)  # K_2 + chi_1 K_1


@pytest.mark.parametrize("depth", [1, 7, 40])
def test_ntk_diagonal_is_geometric_sum_of_chi_1(depth):
    """On the diagonal every layer has K_l = q, T_dot = chi_1, so
    Theta_L(x, x) = q (chi_1^L - 1) / (chi_1 - 1) (q L at chi_1 = 1)."""
    critical = ntk_gram(Plain(), sphere_points(5, 16).x, depth, method="exact")
    assert np.allclose(np.diag(critical.ntk), 2.0 * depth, rtol=depth * 4 * EPS, atol=0)
    wm = with_stable_init(WeightMean())
    gram = ntk_gram(wm, sphere_points(5, 16).x, depth, method="exact")
    q = wm.sigma_w2
    expected = q * (CHI_WM**depth - 1.0) / (CHI_WM - 1.0)
    assert np.allclose(np.diag(gram.ntk), expected, rtol=depth * 8 * EPS, atol=0)


@pytest.mark.parametrize("scheme", [
    Plain(), Plain(sigma_w2=1.6, sigma_b2=0.2), with_stable_init(WeightMean()), BatchNorm(),
    Plain("erf", sigma_w2=1.5, sigma_b2=0.1), with_stable_init(WeightMean("erf", width=16)),
], ids=lambda s: f"{s.name}-{s.activation.name}")
def test_grid_path_matches_exact_path_within_its_stated_bound(scheme, digits):
    depth = 25
    grid = ntk_gram(scheme, digits, depth, method="grid")
    exact = ntk_gram(scheme, digits, depth, method="exact")
    assert grid.method == "grid" and exact.method == "exact"
    assert np.max(np.abs(grid.ntk - exact.ntk)) <= grid.error_bound
    assert grid.error_bound <= 1e-9 * np.max(np.abs(exact.ntk))
    assert np.max(np.abs(grid.nngp - exact.nngp)) <= 1e-9 * np.max(np.abs(exact.nngp))


@pytest.mark.slow
def test_grid_path_for_a_quadrature_activation_matches_exact_path(digits):
    scheme = with_stable_init(Plain("tanh", sigma_b2=0.05))
    x = digits[:40]
    grid = ntk_gram(scheme, x, 4, method="grid", grid=257)
    exact = ntk_gram(scheme, x, 4, method="exact")
    assert np.max(np.abs(grid.ntk - exact.ntk)) <= grid.error_bound


def test_grid_error_bound_shrinks_like_h_to_the_fourth(digits):
    """The stated bound is 2 E_2h of a cubic spline: halving h divides it by ~16."""
    from kernelnorm.ntk import grid_kernels

    bounds = [grid_kernels(Plain(sigma_w2=1.6, sigma_b2=0.2), 1.0, (0.3, 2.5), [6], grid=g)[6].ntk
              .error_bound for g in (33, 65, 129)]
    ratios = np.array(bounds[:-1]) / np.array(bounds[1:])
    assert np.all((ratios > 16 / 2) & (ratios < 16 * 2)), ratios


def test_auto_method_takes_the_exact_path_for_unequal_norms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)) * np.arange(1, 7)[:, None]
    assert ntk_gram(Plain(), x, 3).method == "exact"
    with pytest.raises(KernelnormInputError, match="equal norm"):
        ntk_gram(Plain(), x, 3, method="grid")


def test_equicorrelated_inputs_have_kappa_one_plus_m_times_offdiag_over_gap():
    """Theta = (d - o) I + o 11^T has eigenvalues d - o and d - o + m o (exact)."""
    m, depth = 12, 20
    x = sphere_points(m, 32, correlation=0.3).x
    gram = ntk_gram(Plain(sigma_w2=1.6, sigma_b2=0.2), x, depth)
    d, o = gram.ntk[0, 0], gram.ntk[0, 1]
    spec = spectrum(gram.ntk)
    assert spec.kappa == pytest.approx(1.0 + m * o / (d - o), rel=1e-9)


@pytest.mark.parametrize("x, message", [
    (np.zeros((0, 4)), "non-empty"),
    (np.array([[1.0, np.nan], [1.0, 2.0]]), "NaN"),
    (np.array([[1.0, 2.0], [0.0, 0.0]]), "zero"),
    (np.ones(4), "non-empty"),
])
def test_bad_inputs_name_the_data_argument(x, message):
    with pytest.raises(KernelnormInputError, match=message) as info:
        ntk_gram(Plain(), x, 3)
    assert info.value.argument == "--data"


@pytest.mark.parametrize("depth", [0, -1, 2.5])
def test_depth_must_be_a_positive_integer(depth):
    with pytest.raises(KernelnormInputError, match="--depth"):
        ntk_gram(Plain(), np.eye(3), depth)
