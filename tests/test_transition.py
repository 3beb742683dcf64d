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


# -- lengths from q0: all fixed points, basins, divergence (issue 10) -------------------------------


def _iterate_length(scheme, q, steps=4000):
    """The length map iterated directly (independent of the scan-and-bisect solver)."""
    from kernelnorm import length_map

    for _ in range(steps):
        q = float(length_map(scheme, q))
        if q > 1e9:
            return math.inf
    return q


def test_gelu_length_diverges_from_unit_inputs_and_says_where_it_converges():
    """GELU at sigma_w2 = 3: q = 0 is stable (slope sigma_w2 gelu'(0)^2 = 3/4), an unstable
    fixed point near 0.25 separates it from divergence (q' ~ 3 q / 2 for large q)."""
    from kernelnorm import KernelnormInputError, length_fixed_points, length_map

    scheme = Plain("gelu", sigma_w2=3.0)
    points = length_fixed_points(scheme)
    assert [p.stable for p in points] == [True, False]
    zero, unstable = points
    assert zero.q == 0.0 and zero.slope == pytest.approx(0.75, rel=1e-6)
    assert float(length_map(scheme, unstable.q)) == pytest.approx(unstable.q, rel=1e-12)
    assert unstable.slope > 1 and zero.basin == (0.0, unstable.q)
    assert _iterate_length(scheme, 3.0) == math.inf  # K_1 = 3 q0 from q0 = 1
    with pytest.raises(KernelnormInputError, match="diverges") as info:
        length_fixed_point(scheme)
    bound = unstable.q / 3.0
    assert f"below {bound:.6g}" in str(info.value)
    assert length_fixed_point(scheme, q0=0.9 * bound).q == 0.0
    with pytest.raises(KernelnormInputError, match="diverges"):
        chi_1(scheme)


def test_silu_two_fixed_points_the_flow_picks_by_basin():
    from kernelnorm import KernelnormInputError, length_fixed_points

    scheme = Plain("silu", sigma_w2=2.07871, sigma_b2=0.3)
    stable, unstable = length_fixed_points(scheme)
    assert stable.stable and not unstable.stable and stable.basin == (0.0, unstable.q)
    reached = length_fixed_point(scheme).q  # K_1 = 2.37871
    assert reached == pytest.approx(stable.q, rel=1e-13)
    assert _iterate_length(scheme, 2.37871) == pytest.approx(reached, rel=1e-10)
    q0 = (1.1 * unstable.q - 0.3) / 2.07871  # K_1 just above the unstable point
    with pytest.raises(KernelnormInputError, match="diverges"):
        length_fixed_point(scheme, q0=q0)
    assert _iterate_length(scheme, 1.1 * unstable.q) == math.inf


def test_relu_critical_length_is_the_first_layer_length():
    """sigma_w2 = 2, no bias: every length is fixed; inputs of length q0 stay at 2 q0."""
    for q0 in (0.5, 1.0, 3.0):
        assert length_fixed_point(Plain(sigma_w2=2.0), q0=q0).q == pytest.approx(2 * q0)


@pytest.mark.slow
def test_tanh_chi1_at_large_variance_against_mpmath():
    """sigma_w2 = 20 (q* ~ 18, where the fixed Gauss-Hermite rule was 10 % low): q* by
    iterating the length map with mpmath integrals, then chi_1 = sigma_w2 E[tanh'(u)^2]."""
    import os
    import sys

    import mpmath as mp

    sys.path.insert(0, os.path.dirname(__file__))
    import mp_reference as reference

    sigma_w2, sigma_b2 = 20.0, 0.05
    q = mp.mpf(sigma_w2 + sigma_b2)
    for _ in range(60):  # chi_q < 1/2 here: 60 steps converge far below 1e-15
        q = sigma_w2 * reference.mp_line("tanh", "dual", q, dps=20) + sigma_b2
    exact = sigma_w2 * reference.mp_line("tanh", "derivative_dual", q, dps=20)
    scheme = Plain("tanh", sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    assert length_fixed_point(scheme).q == pytest.approx(float(q), rel=1e-10)
    assert chi_1(scheme) == pytest.approx(float(exact), rel=1e-10)


# -- criticality: no spurious roots, the critical line where it exists (issue 10) -----------------


@pytest.mark.parametrize("digits", [None, 12])
def test_no_spurious_correlation_fixed_point_at_criticality(digits):
    """At chi_1 = 1 the root at rho = 1 is double; rounding used to split off a 'stable'
    rho* = 1 - 1e-8 with xi_c = 3e8. With sigma_w2 given to 12 digits (as a user types it)
    chi_1 - 1 ~ 1e-11 is below the phase tolerance: still one marginal point, xi_c = inf."""
    sigma_w2 = critical_line(Plain("tanh", sigma_w2=1.0, sigma_b2=0.05))
    if digits:
        sigma_w2 = float(f"{sigma_w2:.{digits}g}")
    scheme = Plain("tanh", sigma_w2=sigma_w2, sigma_b2=0.05)
    points = fixed_points(scheme)
    assert [p.rho for p in points] == [1.0]
    assert points[0].marginal and points[0].stable
    assert depth_scales(scheme)[0] == math.inf


@pytest.mark.parametrize("activation", ["gelu", "silu"])
@pytest.mark.parametrize("sigma_b2", [1.0, 5.0])
def test_critical_line_where_q_star_runs_into_the_hundreds(activation, sigma_b2):
    """The issue's 0.3-7 % errors: at the returned sigma_w2 the length has a fixed point q*
    (checked on the map itself) with chi_1 = sigma_w2 E[phi'(u)^2] = 1, and the length
    iterated directly from q0 = 1 approaches it monotonically (it is the one reached)."""
    from kernelnorm import get_activation, length_map

    sigma_w2 = critical_line(Plain(activation, sigma_w2=1.0, sigma_b2=sigma_b2))
    scheme = Plain(activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    q_star = length_fixed_point(scheme).q
    assert float(length_map(scheme, q_star)) == pytest.approx(q_star, rel=1e-12)
    phi = get_activation(activation)
    assert sigma_w2 * float(phi.derivative_dual(q_star, q_star, q_star)) == pytest.approx(
        1.0, abs=1e-9)
    start = sigma_w2 + sigma_b2
    q = _iterate_length(scheme, start, steps=200)
    assert abs(q - q_star) < abs(start - q_star) and (q - start) * (q_star - start) > 0


def test_critical_point_not_reached_is_explained():
    """GELU, sigma_b2 = 0.05: the chi_1 = 1 point (sigma_w2 = 2.30, q* = 0.72) is an unstable
    length, so inputs of length 1 never settle there; the error says so and it is true."""
    from kernelnorm import KernelnormInputError, get_activation

    with pytest.raises(KernelnormInputError, match="flows to q = inf") as info:
        critical_line(Plain("gelu", sigma_w2=1.0, sigma_b2=0.05))
    text = str(info.value)
    sigma_w2 = float(text.split("sigma_w2 = ")[1].split()[0])
    q_c = float(text.split("q* = ")[1].split(";")[0])
    gelu = get_activation("gelu")
    assert sigma_w2 * float(gelu.derivative_dual(q_c, q_c, q_c)) == pytest.approx(1.0, rel=1e-5)
    assert _iterate_length(Plain("gelu", sigma_w2=sigma_w2, sigma_b2=0.05), sigma_w2 + 0.05) \
        == math.inf


def test_gelu_near_critical_is_ordered():
    """Issue 10: sigma_w2 = 1.95, sigma_b2 = 1 was called chaotic; the line is at 1.9767."""
    from kernelnorm import phase

    scheme = Plain("gelu", sigma_w2=1.95, sigma_b2=1.0)
    assert phase(chi_1(scheme)) == "ordered"
    assert critical_line(Plain("gelu", sigma_w2=1.0, sigma_b2=1.0)) > 1.95
