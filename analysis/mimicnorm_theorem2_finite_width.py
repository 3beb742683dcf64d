"""MimicNorm Theorem 2 at finite width: convergence rates of the infinite-width theory.

Theorem 2 says the BN net's chi_1 converges *in probability* to pi/(pi-1) as the width grows;
the NTK argument assumes the finite net's kernels converge to the infinite-width ones. Measured:

* CLT: RMS over seeds of (measured - predicted) pair correlations, depth 3, vs width; the
  log-log slope (weighted LS, SE from the seeds) should be -1/2.
* Theorem 2: std of per-layer BN chi_1 estimates (batch 64) vs width: slope -1/2; mean vs
  pi/(pi-1).
* NTK: kappa = lambda_max/lambda_min of the empirical NTK (JAX Jacobians of the whole batch
  output; BN batch-coupled) on digit inputs vs the infinite-width recursion of
  :mod:`kernelnorm.ntk` (``exact_gram_kernels``).

Run: python analysis/mimicnorm_theorem2_finite_width.py [--profile default]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm import BatchNorm, Plain, WeightMean  # noqa: E402
from kernelnorm import with_stable_init  # noqa: E402
from kernelnorm.data import load_digits, normalise_rows  # noqa: E402
from kernelnorm.montecarlo import (  # noqa: E402
    empirical_ntk,
    independent_pairs,
    log_rms_error,
    loglog_slope,
    mean_ci,
    predicted_statistics,
    sample_gradient_statistics,
    sample_statistics,
    seed_keys,
)


FIGURE = {
    "name": "mimicnorm_theorem2_finite_width",
    "paper": "MimicNorm Theorem 2 and the NTK argument at finite width (rates)",
    "claim": "finite nets approach the infinite-width theory: correlation errors and the spread "
             "of BN's chi_1 shrink like n^-1/2 around pi/(pi-1); the empirical NTK's kappa "
             "approaches the infinite-width kappa",
    "estimate_s": 40,
    "estimate_full_s": 900,
}
PROFILES = {
    "tiny": {"widths": [16, 64], "seeds": 8, "theorem2_widths": [16, 64],
             "theorem2_seeds": 4, "ntk_widths": [16], "ntk_seeds": 2},
    "default": {"widths": [64, 128, 256, 512], "seeds": 16, "theorem2_widths": [64, 128, 256],
                "theorem2_seeds": 6, "ntk_widths": [64, 256], "ntk_seeds": 2},
    "full": {"widths": [64, 128, 256, 512, 1024], "seeds": 48,
             "theorem2_widths": [64, 128, 256, 512], "theorem2_seeds": 12,
             "ntk_widths": [64, 256, 1024], "ntk_seeds": 6},
}


def clt(widths, seeds, *, seed: int = 0):
    inputs = independent_pairs(np.linspace(-0.9, 0.9, 8), 64, seed=1 + seed)
    out = {}
    for name, make in (("plain", lambda n: Plain("relu")),
                       ("weight-mean", lambda n: with_stable_init(WeightMean("relu", width=n)))):
        rms, se = [], []
        for n in widths:
            scheme = make(n)
            predicted = predicted_statistics(scheme, inputs.x, inputs.pairs, 3)[2]
            stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=n + seed, seeds=seeds,
                                      width=n, depth=3)
            r, s = log_rms_error(stats.correlations - predicted)
            rms.append(r)
            se.append(s)
        slope = loglog_slope(widths, rms, se)
        out[name] = {"widths": widths, "rms": rms, "log_rms_se": se, "slope": slope.slope,
                     "slope_se": slope.standard_error}
        print(f"CLT {name}: rms {np.round(rms, 4).tolist()} slope {slope.slope:.3f} +- "
              f"{slope.standard_error:.3f} (theory -0.5)", flush=True)
    return out


def theorem2(widths, seeds, batch=64, depth=5, *, seed: int = 0):
    inputs = independent_pairs(np.zeros(batch // 2), batch, seed=seed)
    spreads, log_se, means, cis = [], [], [], []
    for n in widths:
        chi = sample_gradient_statistics(BatchNorm("relu"), inputs.x, seed=n + seed, seeds=seeds,
                                         width=n, depth=depth).chi.ravel()
        spreads.append(float(chi.std(ddof=1)))
        log_se.append(1.0 / math.sqrt(2.0 * (len(chi) - 1)))
        est = mean_ci(chi)
        means.append(float(est.mean))
        cis.append(float(est.half_width))
    slope = loglog_slope(widths, spreads, log_se)
    print(f"Theorem 2 (B={batch}): chi means {np.round(means, 4).tolist()} +- "
          f"{np.round(cis, 4).tolist()}, spreads {np.round(spreads, 4).tolist()}, slope "
          f"{slope.slope:.3f} +- {slope.standard_error:.3f}; pi/(pi-1) = {math.pi / (math.pi - 1):.4f}",
          flush=True)
    return {"batch": batch, "widths": widths, "chi_mean": means, "chi_ci": cis,
            "spread": spreads, "slope": slope.slope, "slope_se": slope.standard_error}


def ntk(widths, seeds, m=16, depth=3, *, seed: int = 0):
    from kernelnorm.ntk import exact_gram_kernels

    x = normalise_rows(load_digits().x)[:m]
    out = {}
    for name, make in (("plain", lambda n: Plain("relu")),
                       ("weight-mean", lambda n: with_stable_init(WeightMean("relu", width=n))),
                       ("bn", lambda n: BatchNorm("relu"))):
        rows = []
        for n in widths:
            scheme = make(n)
            with jax.numpy_rank_promotion("allow"):
                grams = [np.asarray(empirical_ntk(scheme, x, key=k, width=n, depth=depth))
                         for k in seed_keys(n + seed, seeds)]
            # a BN output unit is standardised over the batch: sum_b f_b = 0 and sum_b f_b^2 = m
            # for every theta, so Theta 1 = Theta f = 0 and kappa is infinite at every width;
            # for BN we report kappa on the complement of those two directions
            skip = 2 if name == "bn" else 0
            spectra = [np.linalg.eigvalsh(g) for g in grams]
            kappa = mean_ci([e[-1] / e[skip] for e in spectra])
            null = float(np.mean([e[0] / e[-1] for e in spectra]))
            theta = exact_gram_kernels(scheme, x, depth)[depth].ntk
            eig = np.linalg.eigvalsh(theta)
            mean_gram = np.mean(grams, axis=0)
            rows.append({"width": n, "kappa": float(kappa.mean), "kappa_ci": float(kappa.half_width),
                         "kappa_infinite": float(eig[-1] / eig[0]), "skipped_null_directions": skip,
                         "lambda_min_over_max": null,
                         "gram_rel_error": float(np.linalg.norm(mean_gram - theta) / np.linalg.norm(theta))})
            r = rows[-1]
            print(f"NTK {name} n={n}: kappa {r['kappa']:.2f} +- {r['kappa_ci']:.2f} "
                  f"(skipping {skip} null directions; lambda_min/lambda_max {null:.1e}; infinite "
                  f"{r['kappa_infinite']:.2f}); |E Theta_emp - Theta|/|Theta| {r['gram_rel_error']:.3f}",
                  flush=True)
        out[name] = rows
    return out


def compute(config: dict, *, seed: int) -> dict:
    return {"clt": clt(config["widths"], config["seeds"], seed=seed),
            "theorem2": theorem2(config["theorem2_widths"], config["theorem2_seeds"], seed=seed),
            "ntk": ntk(config["ntk_widths"], config["ntk_seeds"], seed=seed)}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--width": "--widths"}))
