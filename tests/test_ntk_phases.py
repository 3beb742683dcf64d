"""Xiao, Pennington & Schoenholz (2019) Theorem 1 (= MimicNorm Theorem 1) in all three phases,
with the asymptotic rates derived in docs/ntk.md measured by regression (diffrax-style).

Derivations (docs/ntk.md, "Asymptotics"): for ReLU, ``T_dot(rho) = sigma_w2 phi_hat'(rho)``
and ``chi_1 - T_dot(1 - eps) ~ sqrt(eps)``. Hence

* ordered (chi_1 < 1): ``1 - rho_L ~ chi_1^L`` and the gap ``Theta(x,x) - Theta(x,x')`` decays
  like ``chi_1^(L/2)``; ``log kappa`` grows with slope ``-log(chi_1) / 2`` per layer.
* critical (chi_1 = 1, ReLU sigma_w2 = 2): ``theta_l ~ 3 pi / l``, ``T_dot ~ 1 - 3/l``, so
  ``Theta_L(x,x') / Theta_L(x,x) -> 1/4`` and ``kappa -> 1 + m/3``: linear in ``m`` with slope
  ``1/3``, approached as ``O(log L / L)``.
* chaotic (weight mean, BN): ``Theta_L(x,x) = q (chi_1^L - 1)/(chi_1 - 1)`` grows like
  ``chi_1^L``; off-diagonals like ``L chi_c*^L`` with ``chi_c* = T'(rho* = 0)``, so
  ``kappa - 1 ~ C L (chi_c*/chi_1)^L`` (``chi_c*/chi_1 = 1/2`` for ReLU) -> 1.
"""

import math

import numpy as np
import pytest

from kernelnorm import BatchNorm, Plain, WeightMean, stable_fixed_point, with_stable_init
from kernelnorm.data import load_digits, normalise_rows, sphere_points
from kernelnorm.ntk import kappa_vs_depth, kappa_vs_size, ntk_gram, scheme_phase

ORDERED = with_stable_init(Plain(sigma_b2=0.2))  # sigma_w2 = 1.6, chi_1 = 0.8
CRITICAL = Plain()  # sigma_w2 = 2, sigma_b2 = 0
CHAOTIC = [with_stable_init(WeightMean()), BatchNorm()]


def _slope(xs, ys):
    return np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0]


def test_phase_classification_follows_chi_1():
    assert scheme_phase(ORDERED) == (pytest.approx(0.8, rel=1e-12), "ordered")
    assert scheme_phase(CRITICAL) == (pytest.approx(1.0, rel=1e-12), "critical")
    for scheme in CHAOTIC:
        assert scheme_phase(scheme) == (pytest.approx(math.pi / (math.pi - 1), rel=1e-12), "chaotic")


def test_ordered_phase_kappa_grows_exponentially_at_rate_half_log_chi_1():
    chi, _ = scheme_phase(ORDERED)
    x = sphere_points(8, 16, correlation=0.3).x
    depths = np.arange(30, 91, 5)
    kappas = np.array([r.kappa for r in kappa_vs_depth(ORDERED, x, depths)])
    assert np.all(np.diff(kappas) > 0) and kappas[-1] / kappas[0] > 100  # grows without bound
    rate = _slope(depths, np.log(kappas))
    # next-order terms are relatively O(chi_1^(L/2)) at the shallowest depth
    assert rate == pytest.approx(-0.5 * math.log(chi), rel=2 * chi ** (depths[0] / 2))


@pytest.mark.parametrize("depth", [100, 1000])
def test_critical_kappa_is_linear_in_m_with_slope_one_third(depth):
    sizes = [4, 8, 16, 32]
    x = sphere_points(max(sizes), 64).x  # orthonormal inputs
    rows = kappa_vs_size(CRITICAL, x, depth, sizes)
    kappas = np.array([r.kappa for r in rows])
    slope = _slope(sizes, kappas)
    assert np.max(np.abs(np.polyval(np.polyfit(sizes, kappas, 1), sizes) - kappas)) < 1e-8 * kappas[-1]
    assert abs(slope - 1.0 / 3.0) <= 1.5 * math.log(depth) / depth


@pytest.mark.slow
def test_critical_kappa_on_digits_is_linear_in_m():
    x = normalise_rows(load_digits().x)
    sizes = [50, 100, 200, 400]
    depth = 300
    kappas = np.array([r.kappa for r in kappa_vs_size(CRITICAL, x, depth, sizes)])
    per_point = kappas / np.array(sizes)
    assert np.ptp(per_point) <= 0.1 * per_point.mean()  # kappa / m constant to 10 %
    # real data adds pair-dependent O(log L / L) corrections to the 1/3 of orthogonal inputs
    assert _slope(sizes, kappas) == pytest.approx(1.0 / 3.0, abs=2 * math.log(depth) / depth)


@pytest.mark.parametrize("scheme", CHAOTIC, ids=lambda s: s.name)
def test_chaotic_ntk_diagonal_grows_like_chi_1_to_the_depth(scheme):
    chi, _ = scheme_phase(scheme)
    x = sphere_points(4, 16, correlation=0.5).x
    depths = np.arange(10, 61, 5)
    grams = [ntk_gram(scheme, x, L, method="exact").ntk[0, 0] for L in depths]
    # log Theta_L(x,x) = L log chi_1 + const + log(1 - chi_1^-L)
    assert _slope(depths, np.log(grams)) == pytest.approx(math.log(chi), rel=chi ** -depths[0])


@pytest.mark.parametrize("scheme", CHAOTIC, ids=lambda s: s.name)
def test_chaotic_kappa_tends_to_one_at_rate_chi_c_over_chi_1(scheme):
    chi, _ = scheme_phase(scheme)
    chi_c = stable_fixed_point(scheme).slope
    x = sphere_points(8, 16, correlation=0.5).x
    depths = np.arange(12, 41, 2)
    excess = np.array([r.kappa - 1.0 for r in kappa_vs_depth(scheme, x, depths)])
    assert np.all(excess > 0) and np.all(np.diff(excess) < 0)
    rate = _slope(depths, np.log(excess / depths))
    assert rate == pytest.approx(math.log(chi_c / chi), abs=1.0 / depths[0])


def test_digits_depth_50_weight_mean_and_bn_are_well_conditioned_plain_is_not():
    x = normalise_rows(load_digits().x[:300])
    kappa = {s.name: kappa_vs_depth(s, x, [50])[0].kappa for s in [CRITICAL, *CHAOTIC]}
    assert kappa["weight-mean"] < 1 + 1e-6 and kappa["bn"] < 1 + 1e-6
    assert kappa["plain"] > 50  # ~ 1 + m/3 on the critical line
