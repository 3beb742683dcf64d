"""Estimators with confidence intervals, analytic predictions for the same inputs, rate fits.

Monte-Carlo numbers come from independent seeds, so a mean over ``S`` seeds carries a Student-t
interval ``mean +- t_{S-1} s / sqrt(S)``; a rate is a weighted least-squares slope on a log-log
scale whose standard error is propagated from those per-point errors (diffrax-style order
tests: declare the rate, measure it by regression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernelnorm._errors import check_fraction



@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo mean with its confidence interval ``mean +- half_width``.

    Attributes:
        mean, std: sample mean and standard deviation over the ``count`` seeds (arrays ok).
        half_width: ``t_{count-1, (1+level)/2} std / sqrt(count)``.
        level: confidence level of the interval.
    """

    mean: np.ndarray
    std: np.ndarray
    half_width: np.ndarray
    count: int
    level: float

    @property
    def standard_error(self):
        return self.std / np.sqrt(self.count)

    def z_score(self, value):
        """``(mean - value) / standard_error`` (how many standard errors ``value`` is off)."""
        return (self.mean - value) / self.standard_error

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci_half_width": self.half_width, "std": self.std,
                "count": self.count, "level": self.level}


def mean_ci(samples, *, axis: int = 0, level: float = 0.95) -> Estimate:
    """Mean over independent samples along ``axis`` with a Student-t confidence interval."""
    from scipy.stats import t

    level = check_fraction("--level", level)
    samples = np.asarray(samples, dtype=np.float64)
    count = samples.shape[axis]
    mean = samples.mean(axis=axis)
    std = samples.std(axis=axis, ddof=1) if count > 1 else np.full_like(mean, np.inf)
    quantile = t.ppf(0.5 + level / 2.0, max(count - 1, 1))
    return Estimate(mean, std, quantile * std / np.sqrt(count), count, level)


@dataclass(frozen=True)
class Slope:
    """``log y = intercept + slope log x`` fitted by weighted least squares, with its SE."""

    slope: float
    standard_error: float
    intercept: float

    def z_score(self, rate: float) -> float:
        return (self.slope - rate) / self.standard_error


def loglog_slope(x, y, log_y_se) -> Slope:
    """Weighted least-squares slope of ``log y`` on ``log x``; ``log_y_se`` are the standard
    errors of ``log y`` (e.g. :func:`log_rms_error`), which give the slope's standard error."""
    lx, ly = np.log(np.asarray(x, np.float64)), np.log(np.asarray(y, np.float64))
    weights = 1.0 / np.asarray(log_y_se, np.float64) ** 2
    design = np.stack([np.ones_like(lx), lx], axis=1)
    normal = design.T @ (weights[:, None] * design)
    coef = np.linalg.solve(normal, design.T @ (weights * ly))
    covariance = np.linalg.inv(normal)
    return Slope(float(coef[1]), float(np.sqrt(covariance[1, 1])), float(coef[0]))


def log_rms_error(errors, *, axis: int = 0) -> tuple[float, float]:
    """``(RMS, SE of log RMS)`` of errors whose axis ``axis`` indexes independent seeds.

    With per-seed mean squares ``m_s`` (all other axes averaged), ``RMS = sqrt(mean_s m_s)`` and
    by the delta method ``SE(log RMS) = std(m) / (2 sqrt(S) mean(m))``.
    """
    errors = np.moveaxis(np.asarray(errors, np.float64), axis, 0)
    per_seed = (errors.reshape(len(errors), -1) ** 2).mean(axis=1)
    mean = per_seed.mean()
    return float(np.sqrt(mean)), float(per_seed.std(ddof=1) / (2.0 * np.sqrt(len(per_seed)) * mean))


def input_gram(x) -> np.ndarray:
    """``K0 = x x^T / n0`` (docs/theory.md conventions)."""
    x = np.asarray(x, np.float64)
    return x @ x.T / x.shape[1]


def predicted_statistics(scheme, x, pairs, depth: int):
    """Infinite-width ``(lengths, covariances, correlations)`` per layer, ``(depth, m)`` and
    ``(depth, P)``, for the networks of :mod:`kernelnorm.montecarlo._network`: ``K1 =
    input_kernel(K0)``, then ``K_{l+1} = scheme.kernel_map(K_l)`` pair by pair."""
    pairs = np.asarray(pairs)
    gram = input_gram(x)
    q = scheme.input_kernel(np.diag(gram).copy())
    c = scheme.input_kernel(gram[pairs[:, 0], pairs[:, 1]])
    lengths, covariances = [q], [c]
    for _ in range(depth - 1):
        qa, qb = q[pairs[:, 0]], q[pairs[:, 1]]
        c = np.asarray(scheme.kernel_map(qa, qb, c)[2], np.float64)
        q = np.asarray(scheme.kernel_map(q, q, q)[0], np.float64) * np.ones_like(q)
        lengths.append(q)
        covariances.append(c)
    lengths, covariances = np.stack(lengths), np.stack(covariances)
    correlations = covariances / np.sqrt(lengths[:, pairs[:, 0]] * lengths[:, pairs[:, 1]])
    return lengths, covariances, correlations


def conditional_correlation_map(scheme, lengths_a, lengths_b, covariances):
    """The analytic one-layer map at the *measured* kernel of the layer below:
    ``c' / sqrt(q_a' q_b')`` with ``(q_a', q_b', c') = scheme.kernel_map(q_a, q_b, c)``.

    Comparing it with the measured next-layer correlation isolates one layer's finite-width
    error (the empirical transition map), without the errors accumulated below.
    """
    qa, qb, c = scheme.kernel_map(*(np.asarray(a, np.float64) for a in (lengths_a, lengths_b, covariances)))
    return c / np.sqrt(qa * qb)


def fit_transition_map(rho_in, rho_out, *, degree: int = 7):
    """Least-squares Chebyshev fit of ``rho_out`` against ``rho_in`` on ``[-1, 1]`` (the
    empirical transition map); returns a callable ``numpy.polynomial.Chebyshev``."""
    from numpy.polynomial import Chebyshev

    rho_in, rho_out = np.ravel(rho_in), np.ravel(rho_out)
    degree = int(min(degree, max(len(np.unique(np.round(rho_in, 6))) - 1, 1)))
    return Chebyshev.fit(rho_in, rho_out, degree, domain=[-1.0, 1.0])
