"""Monte-Carlo check of MimicNorm Lemma 1 with unequal input and output widths."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelnorm._costs import check_lemma1_request
from kernelnorm._errors import KernelnormInputError, check_correlation
from kernelnorm._schemes import WeightMean
from kernelnorm.montecarlo._estimators import Estimate, mean_ci


#: Draws per compiled call of :func:`lemma1_check`.
CHUNK = 4096


class Lemma1Check(NamedTuple):
    """Measured ``E_W[Phi_bar(rho)] / n_o`` against both published forms.

    Attributes:
        measured: Monte-Carlo estimate (with CI) of ``E[h_bar_o(u) h_bar_o(v)]`` per output
            unit, unnormalised weights ``W ~ N(0, 1)``.
        factor: the same divided by ``n_i (phi_hat(rho) - phi_hat(0))``: estimates the width
            factor, ``(n_i - 1)/n_i`` by the main text, ``(n_o - 1)/n_o`` by the supplement.
        main_text, supplement: the two predictions of ``measured``.
    """

    n_in: int
    n_out: int
    rho: float
    measured: Estimate
    factor: Estimate
    main_text: float
    supplement: float

    def as_dict(self) -> dict:
        return {"n_in": self.n_in, "n_out": self.n_out, "rho": self.rho,
                "measured": self.measured.as_dict(), "factor": self.factor.as_dict(),
                "main_text_factor": (self.n_in - 1) / self.n_in,
                "supplement_factor": (self.n_out - 1) / self.n_out,
                "main_text": self.main_text, "supplement": self.supplement,
                "z_main_text": float(self.measured.z_score(self.main_text)),
                "z_supplement": float(self.measured.z_score(self.supplement))}


def lemma1_check(n_in: int, n_out: int, rho: float, *, draws: int, seed: int = 0,
                 activation="relu", level: float = 0.95, progress=None) -> Lemma1Check:
    """Lemma 1 by Monte-Carlo: ``E_W[Phi_bar(rho)] = n_o (n_i - 1) (phi_hat(rho) - phi_hat(0))``.

    Each draw samples a pre-activation pair ``(u, v)`` of ``n_i`` iid units with correlation
    ``rho`` and a fresh ``W`` ``(n_i, n_o)``, and applies the :class:`WeightMean` scheme with
    ``sigma_w2 = n_i`` (so the ``sqrt(sigma_w2 / n_i)`` scale is 1: the lemma's unnormalised
    ``W``). The main-text prediction is that scheme's own ``kernel_map`` (width ``n_i``); the
    supplement's is the same map with the width set to ``n_o`` (docs/errata.md, erratum 1).
    The draws run in chunks of :data:`CHUNK` (same keys, same numbers); ``progress``, if given,
    is called with the number of draws finished after each chunk.
    """
    import jax
    import jax.numpy as jnp

    check_lemma1_request(n_in, n_out, draws, seed, chunk=CHUNK)
    rho = float(check_correlation("--rho", rho))
    scheme = WeightMean(activation, sigma_w2=float(n_in), sigma_b2=0.0, width=int(n_in))

    def one(key):
        pair_key, weight_key = jax.random.split(key)
        z = jax.random.normal(pair_key, (2, n_in))
        u, v = z[0], rho * z[0] + math.sqrt(1.0 - rho * rho) * z[1]
        out = scheme.apply(scheme.init(weight_key, n_in, n_out), jnp.stack([u, v]))
        return jnp.mean(out[0] * out[1])

    unit = n_in * float(scheme.activation.centred_dual(1.0, 1.0, rho))
    if unit == 0.0:  # phi_hat(rho) = phi_hat(0): both forms predict 0, the factor is undefined
        raise KernelnormInputError("--rho", f"at rho = {rho:g} both forms of Lemma 1 predict 0 "
                                            "and the width factor is undefined: use rho != 0")
    keys = jax.random.split(jax.random.key(seed), draws)
    run, size = jax.jit(jax.vmap(one)), min(CHUNK, draws)
    parts = []
    for start in range(0, draws, size):
        block = keys[start:start + size]
        if len(block) < size:  # one compiled shape: pad, then drop the padding
            block = jnp.concatenate([block, keys[: size - len(block)]])
        parts.append(np.asarray(run(block))[: min(size, draws - start)])
        if progress is not None:
            progress(len(parts[-1]))
    samples = np.concatenate(parts)
    main = float(scheme.kernel_map(1.0, 1.0, rho)[2])
    wrong = WeightMean(activation, sigma_w2=float(n_in), sigma_b2=0.0, width=int(n_out))
    supplement = float(wrong.kernel_map(1.0, 1.0, rho)[2])
    scaled = samples / unit
    return Lemma1Check(int(n_in), int(n_out), rho, mean_ci(samples, level=level),
                       mean_ci(scaled, level=level), main, supplement)
