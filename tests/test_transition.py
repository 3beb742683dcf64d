"""Transition operators: Proposition 1, Theorems 2 and 3, fixed points, depth scales (docs/theory.md).

Expected values are derived in closed form here, independently of the library's code path.
"""

import math

import numpy as np
import pytest

from kernelnorm import (
    BatchNorm,
    Plain,
    WeightMean,
    chi_1,
    correlation_map,
    correlation_map_slope,
    critical_line,
    depth_scales,
    fixed_points,
    length_fixed_point,
    stable_fixed_point,
    stable_init,
    with_stable_init,
)

PI = math.pi
RHO = np.linspace(-1.0, 1.0, 201)


def phi_hat(rho):
    """ReLU dual, written out again from MimicNorm Eq. 3 as the test's own derivation."""
    return (np.sqrt(1 - rho**2) + (PI - np.arccos(rho)) * rho) / (2 * PI)


def t_bar(rho):
    return (phi_hat(rho) - phi_hat(0.0)) / (phi_hat(1.0) - phi_hat(0.0))


# -- Proposition 1 ------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma_b2", [0.0, 1e-6, 0.05, 0.3, 0.7, 0.99])
def test_proposition1_chi1_at_most_one_under_stable_plain_init(sigma_b2):
    scheme = with_stable_init(Plain("relu", sigma_b2=sigma_b2))
    assert scheme.sigma_w2 == pytest.approx(2 * (1 - sigma_b2), rel=1e-14)
    # q* = sigma_b2 / (1 - sigma_w2/2): condition number 1/sigma_b2, so rel. error ~ eps/sigma_b2
    assert length_fixed_point(scheme).q == pytest.approx(1.0, rel=1e-14 + 1e-15 / max(sigma_b2, 1e-15))
    expected = 1 - sigma_b2  # chi_1 = sigma_w^2 / 2
    assert chi_1(scheme) == pytest.approx(expected, rel=1e-13)
    assert chi_1(scheme) <= 1.0 + 1e-15
    if sigma_b2 > 0:
        assert chi_1(scheme) < 1.0


def test_proposition1_equality_only_at_sqrt2_zero():
    scheme = with_stable_init(Plain("relu", sigma_b2=0.0))
    assert math.sqrt(scheme.sigma_w2) == pytest.approx(math.sqrt(2), rel=1e-15)
    assert chi_1(scheme) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("sigma_b2", [0.0, 0.05, 0.5])
def test_proposition1_only_stable_fixed_point_is_one(sigma_b2):
    """Frozen NNGP: the only stable correlation fixed point of a stable plain ReLU net is 1."""
    points = fixed_points(with_stable_init(Plain("relu", sigma_b2=sigma_b2)))
    stable = [p.rho for p in points if p.stable]
    assert stable == [pytest.approx(1.0, abs=1e-12)]


# -- Theorem 3 (weight mean) ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 10, 64, 1000])
def test_theorem3_stable_sigma_w2(n):
    expected = 2 * n / ((n - 1) * (1 - 1 / PI))
    assert stable_init(WeightMean("relu", width=n)) == pytest.approx(expected, rel=1e-14)


def test_theorem3_wide_limit_sigma_w2():
    assert stable_init(WeightMean("relu")) == pytest.approx(2 / (1 - 1 / PI), rel=1e-14)


@pytest.mark.parametrize("width", [4, 256, math.inf])
def test_theorem3_correlation_map_is_t_bar(width):
    scheme = with_stable_init(WeightMean("relu", width=width))
    np.testing.assert_allclose(correlation_map(scheme, RHO), t_bar(RHO), atol=1e-14)
    assert correlation_map(scheme, -1.0) == pytest.approx(-1 / (PI - 1), abs=1e-14)


@pytest.mark.parametrize("width", [4, 256, math.inf])
def test_theorem3_chi1_is_pi_over_pi_minus_one(width):
    scheme = with_stable_init(WeightMean("relu", width=width))
    assert chi_1(scheme) == pytest.approx(PI / (PI - 1), rel=1e-14)
    assert chi_1(scheme) == pytest.approx(1.466942206924, abs=1e-12)


def test_theorem3_fixed_points_zero_stable_one_unstable():
    points = {round(p.rho, 12): p for p in fixed_points(with_stable_init(WeightMean("relu")))}
    assert set(points) == {0.0, 1.0}
    assert points[0.0].stable and points[0.0].slope == pytest.approx(1 / (2 * (1 - 1 / PI)), rel=1e-13)
    assert points[0.0].slope == pytest.approx(0.733471103462, abs=1e-12)
    assert not points[1.0].stable and points[1.0].slope == pytest.approx(PI / (PI - 1), rel=1e-13)


# -- Theorem 2 (batch norm) ----------------------------------------------------------------------


def test_theorem2_bn_chi1_limit():
    assert chi_1(BatchNorm("relu")) == pytest.approx(1 / (1 - 1 / PI), rel=1e-14)


def test_bn_operator_equals_weight_mean_operator():
    """T_BN = T_bar (docs/theory.md §2), for ReLU and for a smooth activation."""
    for activation in ("relu", "tanh"):
        bn, wm = BatchNorm(activation), with_stable_init(WeightMean(activation))
        np.testing.assert_allclose(correlation_map(bn, RHO), correlation_map(wm, RHO), atol=1e-12)
        assert chi_1(bn) == pytest.approx(chi_1(wm), rel=1e-10)


# -- lengths, critical line ------------------------------------------------------------------------


def test_public_reference_q_star_is_four():
    """sigma_w^2 = 1.9, sigma_b^2 = 0.2: q* = sigma_b^2 / (1 - sigma_w^2/2) = 4."""
    assert length_fixed_point(Plain("relu", sigma_w2=1.9, sigma_b2=0.2)).q == pytest.approx(4.0, rel=1e-13)


def test_tanh_length_fixed_point_is_fixed():
    scheme = Plain("tanh", sigma_w2=1.5, sigma_b2=0.05)
    q = length_fixed_point(scheme).q
    assert scheme.kernel_map(q, q, q)[0] == pytest.approx(q, rel=1e-12)


def test_critical_line_closed_forms():
    assert critical_line(Plain("relu", sigma_b2=0.3)) == pytest.approx(2.0, rel=1e-14)
    n = 16
    assert critical_line(WeightMean("relu", width=n)) == pytest.approx(2 * n / (n - 1), rel=1e-14)
    # erf, no bias: q* = 0 and chi_1 = sigma_w^2 erf'(0)^2 = sigma_w^2 4/pi
    assert critical_line(Plain("erf", sigma_b2=0.0)) == pytest.approx(PI / 4, rel=1e-6)


@pytest.mark.parametrize("activation,sigma_b2", [("tanh", 0.05), ("erf", 0.2), ("tanh", 0.5)])
def test_critical_line_has_chi1_equal_one(activation, sigma_b2):
    scheme = Plain(activation, sigma_w2=1.0, sigma_b2=sigma_b2)
    at_line = Plain(activation, sigma_w2=critical_line(scheme), sigma_b2=sigma_b2)
    assert chi_1(at_line) == pytest.approx(1.0, abs=1e-9)


# -- properties over grids ---------------------------------------------------------------------------


def _schemes():
    yield with_stable_init(Plain("relu", sigma_b2=0.1))
    yield Plain("relu", sigma_w2=2.0)
    yield with_stable_init(WeightMean("relu", width=32))
    yield BatchNorm("relu")
    yield Plain("tanh", sigma_w2=1.5, sigma_b2=0.05)
    yield Plain("erf", sigma_w2=3.0, sigma_b2=0.1)
    yield with_stable_init(WeightMean("tanh"))
    yield BatchNorm("erf")


@pytest.mark.parametrize("scheme", list(_schemes()), ids=lambda s: f"{s.name}-{s.activation.name}")
def test_maps_send_unit_interval_into_itself_monotonically(scheme):
    values = correlation_map(scheme, RHO)
    assert np.all(values <= 1 + 1e-12) and np.all(values >= -1 - 1e-12)
    assert np.all(np.diff(values) >= -1e-13)
    assert np.all(correlation_map_slope(scheme, RHO[1:-1]) >= -1e-13)


@pytest.mark.parametrize("scheme", list(_schemes()), ids=lambda s: f"{s.name}-{s.activation.name}")
def test_fixed_points_are_fixed(scheme):
    for point in fixed_points(scheme):
        assert float(correlation_map(scheme, point.rho)) == pytest.approx(point.rho, abs=1e-12)
        # central differences inside; one-sided at rho = +-1, where ReLU maps have a
        # sqrt(1 - rho^2) term: truncation ~ sqrt(h) = 3e-5, rounding ~ eps/h = 1e-7
        h = 1e-9
        low, high = max(point.rho - h, -1.0), min(point.rho + h, 1.0)
        numeric = (correlation_map(scheme, high) - correlation_map(scheme, low)) / (high - low)
        assert point.slope == pytest.approx(float(numeric), rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("scheme", [
    with_stable_init(WeightMean("relu")), with_stable_init(Plain("relu", sigma_b2=0.1)),
    Plain("tanh", sigma_w2=1.5, sigma_b2=0.05),
], ids=["weight-mean", "plain-ordered", "tanh"])
def test_depth_scale_is_measured_convergence_rate(scheme):
    """diffrax-style: iterate the map, regress log|rho_l - rho*| on l; the slope is
    log chi_c*, i.e. -1/xi_c."""
    star = stable_fixed_point(scheme)
    xi_c, _ = depth_scales(scheme)
    rho, gaps = star.rho - 0.02, []
    while not gaps or gaps[-1] > 1e-9:  # near rho* = 1 corrections are ~ sqrt(gap): go deep
        rho = float(correlation_map(scheme, rho))
        gaps.append(abs(rho - star.rho))
    tail = np.array(gaps[-30:])
    slope = np.polyfit(np.arange(tail.size), np.log(tail), 1)[0]
    assert slope == pytest.approx(-1 / xi_c, rel=1e-3)
