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
covariances ``Cov(sigma_x, sigma_x')`` of every input pair, each a 2-D Laplace integral with one
``2P x 2P`` eigenproblem per angle node (:func:`~kernelnorm.power._quadratic.sqrt_covariance`).
``cross`` chooses how:

* ``"exact"``: every pair (``~40 ms`` per pair and layer at ``P = 64``);
* ``"matched"``: ``Cov(sigma_x, sigma_x') = corr(Q_x, Q_x') sd(sigma_x) sd(sigma_x')`` with the
  exact ``sd(sigma_x)`` and the exact correlation of the forms (``Cov(Q_x, Q_x') = 2 ||C K_xx' C
  / P||_F^2``): exact for independent and for proportional forms; on digits nets it overstates
  the cross covariances by 0.5-5% (``mu_c(sigma_xc)^2`` by ``< 1e-3``, but
  ``sigma_c(sigma_xc)^2`` by up to 7%);
* ``"sampled"`` (default): matched for every pair, corrected by the exact-minus-matched mean over
  ``exact_pairs`` pairs drawn without replacement (a control variate); the correction's
  standard error is propagated to the two terms (``cross_se``; zero when every pair is exact).

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

CROSS_METHODS = ("sampled", "exact", "matched")
#: Pairs per layer computed exactly by ``cross="sampled"``.
EXACT_PAIRS = 16


def theory_gap(norm) -> str | None:
    """Why the power decomposition of ``norm`` has no infinite-width prediction (``None``:
    it has one): the reason the conv kernel engine gives (BN's batch coupling, IN, GN, ...)."""
    from kernelnorm.conv import conv_kernel_gap
    from kernelnorm._registry import get_scheme

    return conv_kernel_gap(get_scheme(norm))


def _block_means(blocks):
    flat = blocks.reshape(len(blocks), -1)
    return flat.mean(axis=1), (flat * flat).sum(axis=1)


def _cross_covariances(part, rows, cols, blocks, lam, vectors, sigma_var, q_var, exact: bool):
    """``Cov(sigma_i, sigma_j)`` of the pairs ``part`` (exact or matched)."""
    from kernelnorm.power._quadratic import centred_cross, sqrt_covariance

    i, j = rows[part], cols[part]
    centred = centred_cross(blocks[part])
    if exact:
        g = np.matmul(np.matmul(np.swapaxes(vectors[i], 1, 2), centred), vectors[j])
        return sqrt_covariance(lam[i], lam[j], g)
    cov_q = 2.0 * (centred * centred).sum(axis=(1, 2))
    scale = np.sqrt(q_var[i] * q_var[j])
    corr = np.divide(cov_q, scale, out=np.zeros_like(cov_q), where=scale > 0)
    return corr * np.sqrt(sigma_var[i] * sigma_var[j])


def layer_terms(rows, cols, blocks, *, cross: str = "sampled", exact_pairs: int = EXACT_PAIRS,
                seed: int = 0, chunk: int = 256) -> dict:
    """The four terms (not divided by the power), the power, the channel imbalance and two
    standard errors of one layer from the ``K_y`` blocks of the input pairs ``rows <= cols``:
    every same-input pair, and every other pair or a uniform sample of them (then every sum
    over pairs is the sample's mean times the number of pairs). ``mu2_se`` is the sampling
    error of ``mu_c^2`` (on terms 1 and 2), ``cross_se`` that of the cross-input covariance
    (on terms 3 and 4): sampling of pairs and of the exact correction, in quadrature."""
    from kernelnorm.power._quadratic import centred_spectrum, sqrt_mean

    if cross not in CROSS_METHODS:
        raise KernelnormInputError("--cross", f"choose from {', '.join(CROSS_METHODS)}, got {cross!r}")
    rows, cols = np.asarray(rows), np.asarray(cols)
    same = rows == cols
    n = int(same.sum())
    diag = blocks[same]
    positions = int(round(math.sqrt(diag[0].size)))
    powers = np.einsum("bii->b", diag.reshape(n, positions, positions)) / positions
    block_mean, block_square = _block_means(blocks)
    self_mean = block_mean[same]
    off = np.flatnonzero(~same)
    total = n * (n - 1) // 2
    scale = total / len(off) if len(off) else 0.0  # 1 when every pair is present

    def sampling_se(values):
        if len(values) < 2 or len(values) == total:
            return 0.0
        return total * values.std(ddof=1) / math.sqrt(len(values)) * math.sqrt(1 - len(values) / total)

    mu2 = (self_mean.sum() + 2.0 * scale * block_mean[off].sum()) / n**2
    mu2_se = 2.0 * sampling_se(block_mean[off]) / n**2
    lam, vectors = centred_spectrum(diag)
    expected_q = lam.sum(axis=1)
    sigma_mean = sqrt_mean(lam)
    sigma_var = np.maximum(expected_q - sigma_mean**2, 0.0)
    q_var = 2.0 * (lam * lam).sum(axis=1)
    args = (rows, cols, blocks, lam, vectors, sigma_var, q_var)
    all_exact = cross == "exact" or (cross == "sampled" and len(off) <= exact_pairs)
    covariances = np.concatenate([np.zeros(0)] + [
        _cross_covariances(off[start:start + chunk], *args, exact=all_exact)
        for start in range(0, len(off), chunk)])
    cross_sum, cross_se = scale * covariances.sum(), sampling_se(covariances)
    if cross == "sampled" and not all_exact:
        picked = np.random.default_rng(seed).choice(off, size=exact_pairs, replace=False)
        residual = (_cross_covariances(picked, *args, exact=True)
                    - _cross_covariances(picked, *args, exact=False))
        cross_sum += total * residual.mean()
        finite = math.sqrt(1.0 - exact_pairs / len(off))
        cross_se = math.hypot(cross_se, total * residual.std(ddof=1) / math.sqrt(exact_pairs) * finite)
    term3 = sigma_mean.mean() ** 2 + (sigma_var.sum() + 2.0 * cross_sum) / n**2
    square_sum = block_square[same].sum() + 2.0 * scale * block_square[off].sum()
    power = powers.mean()
    return {
        "terms": np.array([mu2, self_mean.mean() - mu2, term3, expected_q.mean() - term3]),
        "power": power,
        "imbalance": math.sqrt(2.0 * square_sum) / (n * positions) / power if power > 0 else 0.0,
        "mu2_se": mu2_se,
        "cross_se": 2.0 * cross_se / n**2,
    }


@dataclass(frozen=True)
class PowerTheory:
    """Infinite-width power decomposition of ``y`` per layer.

    Attributes:
        norm, label: the scheme; depth; cross: the method for ``Var(mean_x sigma_x)``.
        terms: ``(depth, 4)`` the terms of Eq. 5 (channel averages); shares: divided by power.
        power: ``(depth,)`` ``mean_c P_c``; imbalance: ``(depth,)`` ``std_c P_c / mean_c P_c``.
        cross_se, mu2_se: ``(depth,)`` standard errors of terms 3-4 and 1-2 from sampled pairs
            (0 when every pair is exact), in units of the terms (divide by power for shares).
        seconds: compute time; config: the net's parameters.
    """

    norm: str
    label: str
    depth: int
    cross: str
    terms: np.ndarray
    power: np.ndarray
    imbalance: np.ndarray
    cross_se: np.ndarray
    mu2_se: np.ndarray
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def shares(self) -> np.ndarray:
        return self.terms / self.power[:, None]

    @property
    def share_se(self) -> np.ndarray:
        """``(depth, 4)`` standard errors of the shares (sampled pairs; 0 when exact)."""
        return np.stack([self.mu2_se, self.mu2_se, self.cross_se, self.cross_se], axis=1) / \
            self.power[:, None]

    def rows(self) -> list[dict]:
        return [{"depth": layer + 1, **{t: float(self.shares[layer, k]) for k, t in enumerate(TERMS)},
                 "power": float(self.power[layer]), "imbalance": float(self.imbalance[layer])}
                for layer in range(self.depth)]

    def as_dict(self) -> dict:
        return {"norm": self.norm, "label": self.label, "depth": self.depth, "cross": self.cross,
                "terms": list(TERMS), "shares": self.shares.tolist(), "power": self.power.tolist(),
                "imbalance": self.imbalance.tolist(), "cross_se": self.cross_se.tolist(),
                "mu2_se": self.mu2_se.tolist(), "share_se": self.share_se.tolist(),
                "seconds": self.seconds,
                **self.config}


def theory_net(norm, depth: int, *, activation="relu", kernel_size: int = 3,
               gamma_std: float = 0.2, beta_std: float = 0.2, groups=None, proxy_eps=None):
    """The infinite-width random net (:func:`kernelnorm.conv.random_net`) of the measured
    nets of :func:`kernelnorm.power.power_profile` with the same parameters."""
    from kernelnorm.conv import random_net

    overrides = {k: v for k, v in (("groups", groups), ("proxy_eps", proxy_eps)) if v is not None}
    return random_net(norm, depth, activation=activation, kernel_size=kernel_size,
                      gamma_std=gamma_std, beta_std=beta_std, **overrides)


def power_theory(norm, *, depth: int, inputs, activation="relu", kernel_size: int = 3,
                 gamma_std: float = 0.2, beta_std: float = 0.2, cross: str = "sampled",
                 exact_pairs: int = EXACT_PAIRS, off_pairs: int | None = None, seed: int = 0,
                 groups=None, proxy_eps=None, progress=None, max_memory=None) -> PowerTheory:
    """Predict the power decomposition of every layer of the random nets of ``norm`` on
    ``inputs`` ``(N, *S, C)`` at infinite width (module docstring). ``off_pairs``: recurse
    every same-input pair and only that many other pairs, drawn uniformly with ``seed`` (the
    cost then grows like ``N``, not ``N^2``; the sampling errors are in ``mu2_se``,
    ``cross_se``). ``progress`` wraps the loop over layers. Refused in one line for schemes
    without a conv kernel (BN, IN, GN)."""
    from kernelnorm.power._schemes import label

    net = theory_net(norm, depth, activation=activation, kernel_size=kernel_size,
                     gamma_std=gamma_std, beta_std=beta_std, groups=groups, proxy_eps=proxy_eps)
    start = time.perf_counter()
    pairs = _pairs(int(np.shape(inputs)[0]), off_pairs, seed)
    layers = net.layer_kernels(inputs, max_memory=max_memory, pairs=pairs)
    if progress is not None:
        layers = progress(layers)
    terms, power, imbalance, cross_se, mu2_se = [], [], [], [], []
    for index, (_, (rows, cols), blocks) in enumerate(layers):
        out = layer_terms(rows, cols, blocks, cross=cross, exact_pairs=exact_pairs,
                          seed=seed + index)
        terms.append(out["terms"])
        power.append(out["power"])
        imbalance.append(out["imbalance"])
        cross_se.append(out["cross_se"])
        mu2_se.append(out["mu2_se"])
    config = {"activation": net.activation.name, "kernel_size": kernel_size,
              "gamma_std": gamma_std, "beta_std": beta_std, "n_inputs": int(np.shape(inputs)[0])}
    return PowerTheory(net.scheme.name, label(net.scheme), depth, cross, np.array(terms),
                       np.array(power), np.array(imbalance), np.array(cross_se),
                       np.array(mu2_se), time.perf_counter() - start, config)


def _pairs(n: int, off_pairs: int | None, seed: int):
    """Every same-input pair and ``off_pairs`` uniformly drawn other pairs (``None``: all)."""
    if off_pairs is None or off_pairs >= n * (n - 1) // 2:
        return None
    if isinstance(off_pairs, bool) or int(off_pairs) != off_pairs or off_pairs < 2:
        raise KernelnormInputError("--off-pairs", f"must be an integer >= 2, got {off_pairs!r}")
    rows, cols = np.triu_indices(n, 1)
    picked = np.sort(np.random.default_rng(seed).choice(len(rows), size=int(off_pairs), replace=False))
    index = np.arange(n)
    return np.concatenate([index, rows[picked]]), np.concatenate([index, cols[picked]])


def theory_estimate(norm, *, depth: int, inputs, off_pairs: int | None = None, **net_options):
    """The stated cost (:class:`kernelnorm.conv.Estimate`) of :func:`power_theory`."""
    net = theory_net(norm, depth, **net_options)
    shape = np.shape(inputs)
    pairs = None if off_pairs is None else min(shape[0] + off_pairs, shape[0] * (shape[0] + 1) // 2)
    return net.estimate(shape[0], shape[1:-1], ntk=False, full=True, pairs=pairs)


#: Confidence level of the measured mean's Student-t interval (the finite-width band).
BAND_LEVEL = 0.99
#: Absolute floor of the band: terms that vanish exactly (CZM's instance means) differ by rounding.
BAND_FLOOR = 1e-9


def agreement(profile, theory: PowerTheory) -> dict:
    """Where the prediction lies inside the finite-width band of the measured nets.

    ``profile``: a :class:`kernelnorm.power.PowerProfile` of the same scheme, depth and inputs.
    The band of a term at a layer is the mean over the ``R`` nets plus or minus the larger of
    half their 10-90% interval and the Student-t half-width ``t_{R-1} s / sqrt(R)`` at
    ``BAND_LEVEL``, widened by the prediction's own standard error (``share_se``) and
    ``BAND_FLOOR``. Returns ``inside`` ``(depth, 4)``, the band ``low``/``high``, the measured
    ``mean`` and the fraction inside."""
    from kernelnorm.montecarlo import mean_ci

    shares = np.asarray(profile.shares)  # (R, depth, 4)
    estimate = mean_ci(shares, level=BAND_LEVEL)
    low_q, high_q = np.quantile(shares, (0.1, 0.9), axis=0)
    half = np.maximum((high_q - low_q) / 2.0, np.nan_to_num(estimate.half_width, posinf=0.0))
    half = half + theory.share_se + BAND_FLOOR
    low, high = estimate.mean - half, estimate.mean + half
    inside = (theory.shares >= low) & (theory.shares <= high)
    return {"inside": inside, "low": low, "high": high, "mean": estimate.mean,
            "fraction": float(inside.mean())}


def theorem1_from_kernel(theory: PowerTheory, *, gamma_std: float = 0.2,
                         beta_std: float = 0.2) -> dict:
    """Proxy Norm Theorem 1 read off the predicted LN decomposition: ``rho = 1 - mu_c^2``
    share, its bound ``rho^(1) r^(l-1)`` with ``r`` = :func:`kernelnorm.power.theorem1_rate`,
    whether the bound holds at every layer, and the fitted log-rate of ``rho``."""
    from kernelnorm.power._profile import log_rate, theorem1_rate

    rho = 1.0 - theory.shares[:, 0]
    rate = theorem1_rate(gamma_std=gamma_std, beta_std=beta_std)
    bound = rho[0] * rate ** np.arange(len(rho))
    positive = rho > 0
    return {"rate": rate, "log_rate": math.log(rate), "rho": rho.tolist(), "bound": bound.tolist(),
            "bound_holds": bool(np.all(rho <= bound * (1 + 1e-12))),
            "fitted_log_rate": log_rate(rho[positive]) if positive.sum() > 1 else float("nan"),
            "monotone": bool(np.all(np.diff(rho) <= 1e-15))}
