"""The four-term power decomposition and the channel estimators (Proxy Norm Eq. 5, §C.2)."""

import math

import numpy as np
import pytest

from kernelnorm.power import (
    TERMS,
    channel_imbalance,
    channel_linearity,
    layer_shares,
    power_terms,
)


@pytest.mark.parametrize("shape", [(5, 7, 3), (4, 6, 5, 2), (3, 2, 2, 2, 4)])
def test_power_decomposition_is_an_exact_identity_on_random_tensors(shape):
    rng = np.random.default_rng(len(shape))
    # non-zero channel means, instance-dependent scales: every term is non-trivial
    y = (rng.standard_normal(shape) * rng.uniform(0.5, 2.0, shape[:1] + (1,) * (len(shape) - 1))
         + rng.standard_normal(shape[-1]).reshape((1,) * (len(shape) - 1) + (-1,)))
    terms, power = power_terms(y)
    assert terms.shape == (4, shape[-1]) and power.shape == (shape[-1],)
    np.testing.assert_allclose(terms.sum(axis=0), power, rtol=1e-13)
    assert np.all(terms >= 0)


def test_power_terms_match_their_definitions():
    """mu_c^2, sigma_c(mu_xc)^2, mu_c(sigma_xc)^2, sigma_c(sigma_xc)^2 from numpy's mean/std."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal((6, 4, 5, 3)) * 1.5 + 0.3
    terms, power = power_terms(y)
    flat = y.reshape(6, 20, 3)
    mu_x, sigma_x = flat.mean(axis=1), flat.std(axis=1)
    expected = [mu_x.mean(0) ** 2, mu_x.var(0), sigma_x.mean(0) ** 2, sigma_x.var(0)]
    np.testing.assert_allclose(terms, np.stack(expected), rtol=1e-12)
    np.testing.assert_allclose(power, (flat**2).mean(axis=(0, 1)), rtol=1e-12)


def test_a_constant_channel_is_fully_collapsed():
    terms, power = power_terms(np.full((3, 4, 4, 1), 2.0))
    np.testing.assert_allclose(terms[:, 0], [4.0, 0.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(layer_shares(terms, power), [1.0, 0.0, 0.0, 0.0], atol=1e-15)
    assert len(TERMS) == 4


def test_layer_shares_are_proportions_whatever_the_scale():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((4, 5, 5, 6)) + 0.5
    shares = layer_shares(*power_terms(y))
    np.testing.assert_allclose(shares.sum(), 1.0, rtol=1e-13)
    np.testing.assert_allclose(layer_shares(*power_terms(7.0 * y)), shares, rtol=1e-12)


def test_channel_imbalance_is_zero_when_balanced_and_sqrt_c_minus_1_for_one_dominant_channel():
    assert channel_imbalance(np.ones(8)) == 0.0
    one_hot = np.zeros(8)
    one_hot[3] = 5.0
    np.testing.assert_allclose(channel_imbalance(one_hot), math.sqrt(7), rtol=1e-14)


def test_channel_linearity_of_relu_on_a_standard_gaussian_channel():
    """R^2 = Cov(relu Z, Z)^2 / Var(relu Z) = (1/2)^2 / (1/2 - 1/(2 pi)) = 0.733471 for Z ~ N(0,1).

    Monte-Carlo with n = 4e5 samples: tolerance 5/sqrt(n) ~ 0.008 (the estimator's sd is below
    1/sqrt(n) for this bounded-kurtosis pair)."""
    n = 400_000
    y = np.random.default_rng(2).standard_normal((n, 1, 1))
    measured = channel_linearity(y, np.maximum(y, 0.0))
    exact = 0.25 / (0.5 - 0.5 / math.pi)
    assert abs(measured - exact) < 5 / math.sqrt(n)


def test_channel_linearity_is_one_for_linear_maps_and_for_collapsed_relu_channels():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((50, 4, 3))
    np.testing.assert_allclose(channel_linearity(y, 3.0 * y - 1.0), 1.0, rtol=1e-13)
    collapsed = 5.0 + 0.1 * y  # positive everywhere: ReLU acts as the identity
    np.testing.assert_allclose(channel_linearity(collapsed, np.maximum(collapsed, 0)), 1.0,
                               rtol=1e-13)


def test_inputs_have_unit_mean_square_and_the_documented_shapes():
    from kernelnorm.power import make_inputs

    shapes = {"digits": (4, 16, 16, 1), "digits-tiled": (4, 12, 12, 1), "mnist1d": (4, 24, 1),
              "gaussian": (4, 6, 6, 3)}
    for source, shape in shapes.items():
        x = make_inputs(source, 4, shape[1], seed=3)
        assert x.shape == shape
        np.testing.assert_allclose((x**2).mean(axis=tuple(range(1, x.ndim))), 1.0, rtol=1e-12)
    up = make_inputs("digits", 2, 16, seed=1)
    np.testing.assert_array_equal(up[:, ::2, ::2], up[:, 1::2, 1::2])  # nearest upsampling
    tiled = make_inputs("digits-tiled", 2, 16, seed=1)
    np.testing.assert_array_equal(tiled[:, :8, :8], tiled[:, 8:, 8:])  # periodic tiling
