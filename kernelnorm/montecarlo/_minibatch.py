"""Monte-Carlo measurements of mini-batch BN that are limits of :func:`kernelnorm.minibatch_theory`.

The inputs of :func:`exchangeable_inputs` have an exchangeable Gram inside every mini-batch, so
at infinite width every BN layer sits exactly at the symmetric fixed point ``c* = -1/(B - 1)``
(docs/minibatch.md) and each per-layer number below has one predicted value:

* ``chi``: :attr:`GradientStatistics.chi` of layers ``3..L`` (a white probe through one layer),
  whose limit is ``MiniBatchTheory.chi_1``. Layer 2 is left out: its Jacobian reads the plain,
  Gaussian layer 1, where ``E phi'^2`` differs from the batch-sphere value (not for ReLU).
* ``growth``: ratios of consecutive :attr:`GradientStatistics.backprop` entries, leaving out the
  top step (the white probe, whose limit is ``chi_1``) and the last step (into layer 1); their
  limit is ``MiniBatchTheory.gradient_growth`` (after one BN step the gradient covariance is
  the backward operator's eigenvector ``G``).

Each network gives one mean per quantity (its layers are averaged), so seeds are independent
samples and :func:`mean_ci` intervals apply. Finite width adds an ``O(1/n)`` bias (measured in
docs/minibatch.md). For ``B <= 5`` the per-unit factor ``1/chi^2_{B-1}`` has infinite variance:
see :func:`heavy_tail_tolerance`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm.montecarlo._estimators import Estimate, mean_ci


class MiniBatchMeasurement(NamedTuple):
    """Per-seed estimates and their intervals (see the module docstring).

    Attributes:
        chi, growth: :class:`Estimate` over seeds of the white-probe growth and the gradient
            growth per layer.
        units: number of (unit, mini-batch, layer, seed) samples behind the growth estimate
            (``chi`` has one layer more), the sample count of the heavy-tailed per-unit factor.
    """

    chi: Estimate
    growth: Estimate
    units: int


def exchangeable_inputs(batch_size: int, batches: int) -> np.ndarray:
    """``m = B * batches`` orthonormal inputs scaled to ``||x||^2 = m`` (``K0 = I``): exchangeable
    inside every mini-batch, so every BN layer is at the symmetric fixed point."""
    count = int(batch_size) * int(batches)
    return math.sqrt(count) * np.eye(count)


def gradient_growth_samples(stats) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed ``(chi, growth)`` from :class:`GradientStatistics` of depth ``>= 4``."""
    chi = np.asarray(stats.chi)
    backprop = np.asarray(stats.backprop)
    if chi.shape[1] < 3:
        raise KernelnormInputError("--depth", "the mini-batch growth estimates need depth >= 4")
    ratios = backprop[:, 1:] / backprop[:, :-1]
    return chi[:, 1:].mean(axis=1), ratios[:, 1:-1].mean(axis=1)


def measure_gradient_growth(activation, batch_size: int, *, batches: int, width: int, depth: int,
                            seeds: int, seed: int = 0, level: float = 0.95) -> MiniBatchMeasurement:
    """:class:`MiniBatchMeasurement` of ``seeds`` random BN networks (literal weights) on
    :func:`exchangeable_inputs`."""
    from kernelnorm._schemes import MiniBatchNorm
    from kernelnorm.montecarlo._gradients import sample_gradient_statistics

    stats = sample_gradient_statistics(MiniBatchNorm(activation, batch_size),
                                       exchangeable_inputs(batch_size, batches), seed=seed,
                                       seeds=seeds, width=width, depth=depth)
    chi, growth = gradient_growth_samples(stats)
    units = int(width) * int(batches) * (int(depth) - 3) * int(seeds)  # the fewer: growth
    return MiniBatchMeasurement(mean_ci(chi, level=level), mean_ci(growth, level=level), units)


def heavy_tail_tolerance(tail_constant: float, units: int, *, failure: float = 1e-3):
    """``(below, above)``: how far a mean of ``units`` independent nonnegative samples with
    ``P(X > t) <= C t^(-3/2)`` (all ``t``) may fall below / rise above its expectation.

    The variance is infinite (``B = 4``: per unit ``1/chi^2_3``), so seed-to-seed intervals do
    not hold. Below (rigorous): truncating at ``T`` loses at most ``int_T^inf P(X > x) dx <= 2 C
    T^(-1/2)`` of the mean, and ``Y = min(X, T) >= 0`` has ``E Y^2 <= int_0^T 2x C x^(-3/2) dx =
    4 C T^(1/2)``, so by Maurer's inequality for nonnegative variables the mean of ``Y`` falls
    ``delta`` below its expectation with probability ``<= exp(-N delta^2 / (2 E Y^2))``; ``T``
    minimises the sum. Above (one big jump, the usual heavy-tail approximation): besides the
    same bulk fluctuation, a single sample above ``delta N`` has probability ``<= N C (delta
    N)^(-3/2)``, so ``delta = (C / (failure sqrt(N)))^(2/3)``. For the white-probe ``chi`` the
    per-unit factor is ``(m0/alpha) chi^2_2/chi^2_3`` with ``C = (m0/alpha)^(3/2)`` exactly.
    """
    log_failure = math.log(1.0 / failure)
    spread = math.sqrt(8.0 * tail_constant * log_failure / units)  # times T^(1/4)
    cut = (4.0 * tail_constant / spread) ** (4.0 / 3.0)  # minimises spread T^1/4 + 2C T^-1/2
    below = spread * cut**0.25 + 2.0 * tail_constant / math.sqrt(cut)
    jump = (tail_constant / (failure * math.sqrt(units))) ** (2.0 / 3.0)
    return below, below + jump


def tail_constants(activation, batch_size: int = 4, *, samples: int = 200_000, seed: int = 0):
    """``(C_chi, C_growth)`` of ``P(Y > t) ~ C t^(-3/2)`` for the per-unit factors at ``B = 4``.

    ``chi``: ``Y = (m0/alpha) ||P u||^2/R^2`` with a white ``u``, ``C = (m0/alpha)^(3/2)``.
    ``growth``: ``Y = B/(alpha (B-1)) ||P D e||^2/R^2`` with ``e ~ N(0, G)`` (the gradient's
    covariance), ``C = P(R^2 < t)/t^(3/2) E[(B/(alpha (B-1)) ||P D e||^2)^(3/2)]``, the last
    moment sampled from the infinite-width law (``samples`` draws, numpy, seeded).
    """
    from kernelnorm._activations import get_activation
    from kernelnorm._minibatch import minibatch_theory, sphere_moments

    if batch_size != 4:
        raise KernelnormInputError("--batch-size", "the t^(-3/2) tail is that of B = 4")
    phi = get_activation(activation)
    theory = minibatch_theory(phi, batch_size)
    c_chi = (sphere_moments(phi, batch_size).m0 / theory.alpha) ** 1.5
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, batch_size))
    z -= z.mean(axis=1, keepdims=True)
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    e = rng.standard_normal((samples, batch_size))
    e -= e.mean(axis=1, keepdims=True)
    de = phi.derivative(math.sqrt(batch_size) * u) * e
    de -= de.mean(axis=1, keepdims=True)  # P = G - u u^T
    pde = de - (de * u).sum(axis=1, keepdims=True) * u
    factor = batch_size / (theory.alpha * (batch_size - 1)) * (pde * pde).sum(axis=1)
    small_chi2_3 = (2.0 / 3.0) / math.sqrt(2.0 * math.pi)  # P(chi^2_3 < t) ~ this * t^(3/2)
    return c_chi, small_chi2_3 * float(np.mean(factor ** 1.5))
