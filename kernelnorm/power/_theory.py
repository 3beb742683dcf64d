"""The power decomposition of random conv nets predicted at infinite width, from the kernel alone.

In an infinitely wide random net of Proxy Norm Definition 1 the channels of a layer's normalised
pre-activations ``y`` are i.i.d. draws of a centred Gaussian field over (input, position) whose
covariance is the conv kernel ``K_y`` (:func:`kernelnorm.conv.random_net`). Every term of Proxy
Norm Eq. 5, averaged over channels, is then an expectation over that field (``N`` inputs, ``P``
positions, ``K_x = K_y(x, . ; x, .)``, ``M_x = C K_x C / P``, ``Q_x = sigma_{x,c}^2``):

    mu_c^2               = mean_{x, x'} mean_{a, a'} K_y(x, a; x', a')
    sigma_c(mu_xc)^2     = mean_x mean_{a, a'} K_x(a, a') - mu_c^2
    mu_c(sigma_xc)^2     = E[(mean_x sigma_x)^2] = (mean_x E sigma_x)^2 + Var(mean_x sigma_x)
    sigma_c(sigma_xc)^2  = mean_x E[Q_x] - mu_c(sigma_xc)^2,   E[Q_x] = tr M_x
    P                    = mean_x mean_a K_x(a, a)

``E sigma_x = E sqrt(Q_x)`` is the mean of the square root of a Gaussian quadratic form
(:func:`kernelnorm.power._quadratic.sqrt_mean`, exact), and ``Var(mean_x sigma_x)`` needs the
covariances ``Cov(sigma_x, sigma_x')`` of every input pair: exact by a 2-D Laplace integral
(``cross="exact"``; one ``2P x 2P`` eigenproblem per angle node and pair, affordable for small
``N P``) or, by default, ``cross="matched"``: ``Cov(sigma_x, sigma_x') = corr(Q_x, Q_x') sd(sigma_x)
sd(sigma_x')`` with the exact ``sd(sigma_x)`` and the exact correlation of the quadratic forms
(``Cov(Q_x, Q_x') = 2 ||C K_xx' C / P||_F^2``). Matching is exact for independent and for
proportional forms; on digits nets it overstates the cross-input covariance by 0.5-5%, i.e.
``<= 1e-3`` of ``mu_c(sigma_xc)^2`` (measured and bounded in ``tests/test_power_theory.py``).

The channel imbalance at infinite width is not 0 for finite ``N P``: ``P_c`` is a quadratic form
of the field, ``std_c P_c / mean_c P_c = sqrt(2 sum K_y^2) / (N P mean_c P_c)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm.power._decomposition import TERMS

CROSS_METHODS = ("matched", "exact")


def theory_gap(norm) -> str | None:
    """Why the power decomposition of ``norm`` has no infinite-width prediction (``None``:
    it has one): the reason the conv kernel engine gives (BN's batch coupling, IN, GN, ...)."""
    from kernelnorm.conv import conv_kernel_gap
    from kernelnorm._registry import get_scheme

    return conv_kernel_gap(get_scheme(norm))


def _block_means(blocks):
    flat = blocks.reshape(len(blocks), -1)
    return flat.mean(axis=1), (flat * flat).sum(axis=1)


def layer_terms(rows, cols, blocks, *, cross: str = "matched", chunk: int = 256) -> dict:
    """The four terms (not divided by the power), the power and the channel imbalance of one
    layer from the ``K_y`` blocks of all input pairs ``rows <= cols`` (module docstring)."""
    from kernelnorm.power._quadratic import (
        centred_cross,
        centred_spectrum,
        sqrt_covariance,
        sqrt_mean,
    )

    if cross not in CROSS_METHODS:
        raise KernelnormInputError("--cross", f"choose from {', '.join(CROSS_METHODS)}, got {cross!r}")
    rows, cols = np.asarray(rows), np.asarray(cols)
    same = rows == cols
    n = int(same.sum())
    diag = blocks[same]
    positions = int(round(math.sqrt(diag[0].size)))
    flat_diag = diag.reshape(n, positions, positions)
    powers = np.einsum("bii->b", flat_diag) / positions
    block_mean, block_square = _block_means(blocks)
    self_mean = block_mean[same]
    mu2 = (self_mean.sum() + 2.0 * block_mean[~same].sum()) / n**2
    lam, vectors = centred_spectrum(diag)
    expected_q = lam.sum(axis=1)
    sigma_mean = sqrt_mean(lam)
    sigma_var = np.maximum(expected_q - sigma_mean**2, 0.0)
    q_var = 2.0 * (lam * lam).sum(axis=1)
    off = np.flatnonzero(~same)
    cross_cov = 0.0
    for start in range(0, len(off), chunk):
        part = off[start:start + chunk]
        i, j = rows[part], cols[part]
        centred = centred_cross(blocks[part])
        if cross == "exact":
            g = np.einsum("bpk,bpq,bql->bkl", vectors[i], centred, vectors[j])
            cov = sqrt_covariance(lam[i], lam[j], g)
        else:
            cov_q = 2.0 * (centred * centred).sum(axis=(1, 2))
            scale = np.sqrt(q_var[i] * q_var[j])
            corr = np.divide(cov_q, scale, out=np.zeros_like(cov_q), where=scale > 0)
            cov = corr * np.sqrt(sigma_var[i] * sigma_var[j])
        cross_cov += 2.0 * cov.sum()
    term3 = sigma_mean.mean() ** 2 + (sigma_var.sum() + cross_cov) / n**2
    square_sum = block_square[same].sum() + 2.0 * block_square[~same].sum()
    power = powers.mean()
    return {
        "terms": np.array([mu2, self_mean.mean() - mu2, term3, expected_q.mean() - term3]),
        "power": power,
        "imbalance": math.sqrt(2.0 * square_sum) / (n * positions) / power if power > 0 else 0.0,
    }


@dataclass(frozen=True)
class PowerTheory:
    """Infinite-width power decomposition of ``y`` per layer.

    Attributes:
        norm, label: the scheme; depth; cross: the method for ``Var(mean_x sigma_x)``.
        terms: ``(depth, 4)`` the terms of Eq. 5 (channel averages); shares: divided by power.
        power: ``(depth,)`` ``mean_c P_c``; imbalance: ``(depth,)`` ``std_c P_c / mean_c P_c``.
        seconds: compute time; config: the net's parameters.
    """

    norm: str
    label: str
    depth: int
    cross: str
    terms: np.ndarray
    power: np.ndarray
    imbalance: np.ndarray
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def shares(self) -> np.ndarray:
        return self.terms / self.power[:, None]

    def rows(self) -> list[dict]:
        return [{"depth": layer + 1, **{t: float(self.shares[layer, k]) for k, t in enumerate(TERMS)},
                 "power": float(self.power[layer]), "imbalance": float(self.imbalance[layer])}
                for layer in range(self.depth)]

    def as_dict(self) -> dict:
        return {"norm": self.norm, "label": self.label, "depth": self.depth, "cross": self.cross,
                "terms": list(TERMS), "shares": self.shares.tolist(), "power": self.power.tolist(),
                "imbalance": self.imbalance.tolist(), "seconds": self.seconds, **self.config}


def theory_net(norm, depth: int, *, activation="relu", kernel_size: int = 3,
               gamma_std: float = 0.2, beta_std: float = 0.2, groups=None, proxy_eps=None):
    """The infinite-width random net (:func:`kernelnorm.conv.random_net`) of the measured
    nets of :func:`kernelnorm.power.power_profile` with the same parameters."""
    from kernelnorm.conv import random_net

    overrides = {k: v for k, v in (("groups", groups), ("proxy_eps", proxy_eps)) if v is not None}
    return random_net(norm, depth, activation=activation, kernel_size=kernel_size,
                      gamma_std=gamma_std, beta_std=beta_std, **overrides)


def power_theory(norm, *, depth: int, inputs, activation="relu", kernel_size: int = 3,
                 gamma_std: float = 0.2, beta_std: float = 0.2, cross: str = "matched",
                 groups=None, proxy_eps=None, progress=None, max_memory=None) -> PowerTheory:
    """Predict the power decomposition of every layer of the random nets of ``norm`` on
    ``inputs`` ``(N, *S, C)`` at infinite width (module docstring). ``progress`` wraps the
    loop over layers. Refused in one line for schemes without a conv kernel (BN, IN, GN)."""
    from kernelnorm.power._schemes import label

    net = theory_net(norm, depth, activation=activation, kernel_size=kernel_size,
                     gamma_std=gamma_std, beta_std=beta_std, groups=groups, proxy_eps=proxy_eps)
    start = time.perf_counter()
    layers = net.layer_kernels(inputs, max_memory=max_memory)
    if progress is not None:
        layers = progress(layers)
    terms, power, imbalance = [], [], []
    for _, (rows, cols), blocks in layers:
        out = layer_terms(rows, cols, blocks, cross=cross)
        terms.append(out["terms"])
        power.append(out["power"])
        imbalance.append(out["imbalance"])
    config = {"activation": net.activation.name, "kernel_size": kernel_size,
              "gamma_std": gamma_std, "beta_std": beta_std, "n_inputs": int(np.shape(inputs)[0])}
    return PowerTheory(net.scheme.name, label(net.scheme), depth, cross, np.array(terms),
                       np.array(power), np.array(imbalance), time.perf_counter() - start, config)


def theory_estimate(norm, *, depth: int, inputs, **net_options):
    """The stated cost (:class:`kernelnorm.conv.Estimate`) of :func:`power_theory`."""
    net = theory_net(norm, depth, **net_options)
    shape = np.shape(inputs)
    return net.estimate(shape[0], shape[1:-1], ntk=False, full=True)
