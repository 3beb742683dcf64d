"""Linearised (NTK) training dynamics of dense-block networks (kernelnorm.train._dynamics).

The prediction's own mathematics is checked where it is exact (a one-layer network is linear in
its parameters, so its NTK is ``K_1 = sigma_w2 X X^T / d + sigma_b2`` at every width and gradient
descent follows the linearised curve to rounding), then the finite-width gap of real deep networks
against the infinite-width prediction: at most the Hanin-Nica scale ``sqrt(5 L / n)`` and
shrinking at least like ``n^-1/2``.
"""

import math

import numpy as np
import pytest

from kernelnorm import BatchNorm, KernelnormInputError, Plain, WeightMean, with_stable_init
from kernelnorm.data import load_digits, normalise_rows
from kernelnorm.montecarlo import seed_keys
from kernelnorm.ntk import exact_gram_kernels
from kernelnorm.train import (
    DenseNetwork,
    gap_statistics,
    hanin_nica_scale,
    linearised_loss,
    readout_block,
    stable_learning_rate,
    train_full_batch,
)


def _digits(m, outputs=10):
    """``m`` normalised digits and the first ``outputs`` columns of their one-hot labels."""
    data = load_digits()
    return normalise_rows(data.x[:m]), np.eye(10)[data.y[:m], :outputs]


def test_linearised_loss_is_the_eigenmode_sum_derived_by_hand():
    """Theta = diag(4, 1), m = 2, lr = 0.5: modes decay by (1 - lr lambda / m) = 0 and 0.75, so
    L_t = (y_1^2 [t = 0] + 0.75^(2t) y_2^2) / (2m) for targets y = (3, 2)."""
    loss = linearised_loss(np.diag([4.0, 1.0]), np.array([3.0, 2.0]), lr=0.5, steps=5)
    expected = (9.0 * (np.arange(6) == 0) + 4.0 * 0.75 ** (2 * np.arange(6))) / 4.0
    np.testing.assert_allclose(loss, expected, rtol=1e-14)
    assert stable_learning_rate(np.diag([4.0, 1.0])) == pytest.approx(0.5)


def test_linearised_loss_with_nngp_adds_the_expected_initial_output_term():
    """E||A^t (f0 - y)||^2 = ||A^t y||^2 + k tr(A^t K A^t): with Theta = I (m = 1, lr = 0.5),
    A = 1/2 and the extra term is k K / 4^t."""
    loss = linearised_loss(np.eye(1), np.array([[1.0, 2.0]]), lr=0.5, steps=3, nngp=np.array([[3.0]]))
    t = np.arange(4)
    np.testing.assert_allclose(loss, (5.0 + 2 * 3.0) * 0.25 ** t / 2.0, rtol=1e-14)


def test_one_layer_network_has_the_exact_ntk_and_follows_the_prediction_to_rounding():
    """f = sqrt(sigma_w2/d) x W + sqrt(sigma_b2) b is linear in (W, b): gradient descent on the
    centred MSE is the linearised dynamics exactly, at any width."""
    x, y = _digits(24, outputs=3)
    block = Plain(sigma_w2=1.5, sigma_b2=0.3)
    network = DenseNetwork(block, depth=1, width=7, outputs=y.shape[1])
    nngp, ntk = network.kernels(x)
    np.testing.assert_allclose(ntk, 1.5 * x @ x.T / x.shape[1] + 0.3, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(nngp, ntk)
    lr = stable_learning_rate(ntk, 1.5)
    measured = train_full_batch(network, x, y, keys=seed_keys(0, 3), lr=lr, steps=25, dtype="float64")
    predicted = linearised_loss(ntk, y, lr=lr, steps=25)
    np.testing.assert_allclose(measured, np.broadcast_to(predicted, measured.shape), rtol=1e-9, atol=1e-14)


def test_uncentred_linear_model_matches_the_expected_loss_over_initialisations():
    """f_0 = first layer at init is exactly GP(0, K_1): the mean loss over 160 initialisations lies
    within 4.5 standard errors of (||A^t y||^2 + k tr(A^t K A^t)) / (2m) at every step."""
    x, y = _digits(12, outputs=2)
    network = DenseNetwork(Plain(), depth=1, width=3, outputs=2)
    nngp, ntk = network.kernels(x)
    lr = stable_learning_rate(ntk)
    measured = train_full_batch(network, x, y, keys=seed_keys(5, 160), lr=lr, steps=6, centre=False,
                                dtype="float64")
    expected = linearised_loss(ntk, y, lr=lr, steps=6, nngp=nngp)
    error = measured.std(axis=0, ddof=1) / math.sqrt(len(measured))
    assert np.all(np.abs(measured.mean(axis=0) - expected) <= 4.5 * error)


@pytest.mark.parametrize("block", [Plain(), with_stable_init(WeightMean(width=64))], ids=["plain", "wm"])
def test_network_without_normaliser_is_the_depth_l_network_of_kernelnorm_ntk(block):
    x, _ = _digits(10)
    network = DenseNetwork(block, depth=4, width=64, outputs=1)
    assert network.readout == block
    nngp, ntk = network.kernels(x)
    reference = exact_gram_kernels(block, x, 4)[4]
    np.testing.assert_allclose(ntk, reference.ntk, rtol=1e-13)
    np.testing.assert_allclose(nngp, reference.nngp, rtol=1e-13)


def test_batch_norm_network_reads_out_without_normaliser_at_the_plain_stable_init():
    readout = readout_block(BatchNorm())
    assert readout.scheme.normaliser is None and readout.sigma_w2 == pytest.approx(2.0)
    x, _ = _digits(8)
    nngp, _ = DenseNetwork(BatchNorm(), depth=3, width=16, outputs=1).kernels(x)
    np.testing.assert_allclose(np.diag(nngp), 1.0, rtol=1e-12)  # q = 1 under BN, then T(1) = 1


def test_gap_statistics_decompose_exactly_and_reject_too_few_seeds():
    rng = np.random.default_rng(0)
    predicted = np.linspace(1.0, 0.1, 11)
    measured = predicted + 0.01 * rng.standard_normal((6, 11)) + 0.02
    stats = gap_statistics(measured, predicted)
    assert stats.gap ** 2 == pytest.approx(stats.bias ** 2 + stats.fluctuation ** 2, rel=1e-12)
    assert stats.bias == pytest.approx(0.02, abs=0.01) and stats.seeds == 6
    assert all(v > 0 for v in (stats.gap_log_se, stats.bias_log_se, stats.fluctuation_log_se))
    with pytest.raises(KernelnormInputError):
        gap_statistics(measured[:2], predicted)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plain", "weight mean", "BN"])
def test_deep_network_loss_curve_approaches_the_ntk_prediction_as_width_grows(name):
    """Depth 3, m = 32 digits, 40 steps at lr = m / (2 lambda_max): one run's RMS relative gap is
    below the Hanin-Nica scale sqrt(5 L / n) at n = 32 and 512, and shrinks at least as fast as
    the declared n^-1/2 (a bias ~ 1/n plus a fluctuation ~ n^-1/2 shrink by <= (32/512)^1/2)."""
    x, y = _digits(32)
    gaps = {}
    for width in (32, 512):
        block = {"plain": Plain(), "weight mean": with_stable_init(WeightMean(width=width)),
                 "BN": BatchNorm()}[name]
        network = DenseNetwork(block, depth=3, width=width, outputs=10)
        _, ntk = network.kernels(x)
        lr = stable_learning_rate(ntk, 0.5)
        measured = train_full_batch(network, x, y, keys=seed_keys(1, 4), lr=lr, steps=40)
        stats = gap_statistics(measured, linearised_loss(ntk, y, lr=lr, steps=40))
        assert stats.gap <= hanin_nica_scale(3, width)
        gaps[width] = stats.gap
    assert gaps[512] / gaps[32] <= math.sqrt(32 / 512)
