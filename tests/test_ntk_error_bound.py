"""The NTK's stated ``error_bound`` is a bound on ``|Theta - Theta_exact|``, and a tight one.

Three sources, each tested where it dominates (kernelnorm.ntk.layer_kernels, track_error):

* activation-kernel error: kernels with a known systematic error (GELU's scaled by ``1 + 1e-9``,
  stating that error) against the exact GELU recursion: the bound covers the difference and is
  within a factor 2 of it in the ordered phase (same-sign errors add up as the bound assumes),
  100 at the edge of chaos;
* float64 rounding at large depth on the critical line (where ``arccos`` near ``rho = 1``
  amplifies it): against a 40-digit mpmath recursion. Rounding errors are random, the bound
  adds them in the worst case, so it exceeds the error by ``~sqrt(L)`` to ``L`` (declared:
  at most 1000x at depth 1000);
* quadrature (tanh): against the recursion run on extended-precision reference kernels.

Where the first-order analysis fails (a callable with kinks, whose quadrature is poor) the
bound is not stated (``inf`` with the reason).
"""

import math
import os
import sys

import mpmath as mp
import numpy as np
import pytest

from kernelnorm import Plain
from kernelnorm._activations import GELU, Activation
from kernelnorm.data import sphere_points
from kernelnorm.ntk import layer_kernels, ntk_gram

sys.path.insert(0, os.path.dirname(__file__))
import mp_reference as reference  # noqa: E402

RHO = np.array([0.3, -0.4, 0.9, 0.999, 1.0])
SAME = np.array([False, False, False, False, True])


def _last(iterator):
    for item in iterator:
        pass
    return item


def _biased(kernel, delta):
    def biased(*args):
        value, error = kernel(*args)
        return value * (1 + delta), np.abs(value) * delta + error
    return biased


@pytest.mark.parametrize("sigma_w2,sigma_b2,tightness", [(1.5, 0.1, 2.0), (1.99, 1.0, 100.0)])
def test_bound_propagates_kernel_error_tightly(sigma_w2, sigma_b2, tightness):
    """Ordered (chi_1 = 0.51): within 2x. Just chaotic (chi_1 = 1.003): near rho = 1 the
    bound takes the worst slope over each error interval and both signs of the length errors:
    within 100x (measured 60x at rho = 0.999, 2-20x elsewhere)."""
    delta = 1e-9
    biased = Activation("gelu-biased", GELU.function, GELU.derivative,
                        _dual=_biased(GELU.dual_with_error, delta),
                        _derivative_dual=_biased(GELU.derivative_dual_with_error, delta),
                        _mean=_biased(GELU.mean_with_error, delta))
    depth = 20
    tracked = _last(layer_kernels(Plain(biased, sigma_w2=sigma_w2, sigma_b2=sigma_b2), 1.0, 1.0,
                                  RHO, depth, track_error=True, same_input=SAME))
    exact = _last(layer_kernels(Plain(GELU, sigma_w2=sigma_w2, sigma_b2=sigma_b2), 1.0, 1.0,
                                RHO, depth))
    error = np.abs(tracked.ntk - exact.ntk)
    assert np.all(error <= tracked.ntk_error)
    assert np.max(tracked.ntk_error / error) <= tightness
    assert np.all(np.abs(tracked.nngp - exact.nngp) <= tracked.nngp_error)


def _mp_critical_relu(depth, rho0):
    """Plain ReLU at sigma_w2 = 2 (q = 2 at every layer), 40 digits."""
    with mp.workdps(40):
        q, c = mp.mpf(2), 2 * mp.mpf(rho0)
        theta = c
        for _ in range(2, depth + 1):
            r = c / q
            angle = mp.acos(r)
            t_dot = (mp.pi - angle) / mp.pi
            c = 2 * q * (mp.sqrt(1 - r * r) + (mp.pi - angle) * r) / (2 * mp.pi)
            theta = c + t_dot * theta
        return float(theta), float(c)


@pytest.mark.slow
def test_bound_covers_the_float64_floor_of_a_deep_critical_network():
    depth = 1000
    layer = _last(layer_kernels(Plain(sigma_w2=2.0), 1.0, 1.0, RHO, depth, track_error=True,
                                same_input=SAME))
    for i, rho0 in enumerate(RHO[:-1]):
        theta, nngp = _mp_critical_relu(depth, rho0)
        error = abs(layer.ntk[i] - theta)
        assert error <= layer.ntk_error[i], rho0
        assert layer.ntk_error[i] <= 1000 * max(error, 1e-16 * theta), rho0
        assert abs(layer.nngp[i] - nngp) <= layer.nngp_error[i], rho0
    # an input with itself: Theta(x, x) = q L exactly, and the bound stays at rounding level
    assert layer.ntk[-1] == 2.0 * depth
    assert layer.ntk_error[-1] <= 1e-9 * 2.0 * depth


@pytest.mark.slow
@pytest.mark.skipif(not reference.extended_precision_available(),
                    reason="numpy.longdouble has no extended precision here")
def test_bound_covers_a_quadrature_activation():
    """tanh at sigma_w2 = 4, sigma_b2 = 0.05 (the chaotic example of issue 10), depth 6:
    our recursion and bound against the recursion on the extended-precision reference
    kernels (tests/mp_reference.py)."""
    sigma_w2, sigma_b2, depth, rho0 = 4.0, 0.05, 6, 0.5
    layer = _last(layer_kernels(Plain("tanh", sigma_w2=sigma_w2, sigma_b2=sigma_b2), 1.0, 1.0,
                                np.array([rho0]), depth, track_error=True))
    q, c = sigma_w2 + sigma_b2, sigma_w2 * rho0 + sigma_b2
    theta = c
    for _ in range(2, depth + 1):
        t_dot = sigma_w2 * reference.reference("tanh", "derivative_dual", q, q, c)[0]
        c = sigma_w2 * reference.reference("tanh", "dual", q, q, c)[0] + sigma_b2
        q = sigma_w2 * reference.reference("tanh", "dual", q, q, q)[0] + sigma_b2
        theta = c + t_dot * theta
    assert abs(float(layer.ntk[0]) - theta) <= float(layer.ntk_error[0])
    assert float(layer.ntk_error[0]) <= 1e-9 * theta


def test_exact_path_states_a_bound_and_grid_path_adds_interpolation():
    x = sphere_points(12, 16).x
    scheme = Plain(sigma_w2=1.6, sigma_b2=0.2)
    exact = ntk_gram(scheme, x, 30, method="exact")
    grid = ntk_gram(scheme, x, 30, method="grid")
    assert 0 < exact.error_bound < 1e-11 * np.max(exact.ntk)
    assert np.max(np.abs(grid.ntk - exact.ntk)) <= grid.error_bound + exact.error_bound


def test_no_bound_is_stated_where_the_analysis_fails():
    """A hard-tanh callable: kinks at +-1 leave the quadrature at ~1e-3 and its derivative
    (five-point differences across the kinks) worse: the first-order analysis is no bound."""
    hard_tanh = Plain(lambda x: np.clip(x, -1.0, 1.0), sigma_w2=1.5, sigma_b2=0.1)
    gram = ntk_gram(hard_tanh, sphere_points(5, 4).x, 4, method="exact")
    assert math.isinf(gram.error_bound)
    assert "first-order" in gram.bound_note
