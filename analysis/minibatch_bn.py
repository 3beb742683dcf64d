"""Mini-batch BN: predicted vs measured gradient growth and fixed point against batch size B.

MimicNorm's Theorem 2 uses the full-batch operator (B -> inf), which gives weight mean's map and
chi_1 = pi/(pi - 1) for ReLU. At batch size B the infinite-width theory
(``kernelnorm.minibatch_theory``, docs/minibatch.md) predicts

* ``chi_1(B)``: one layer's white-probe Jacobian growth (``GradientStatistics.chi``),
* ``lambda(B)``: the per-layer growth of a back-propagated gradient (``backprop`` ratios),
* the symmetric fixed point ``c* = -1/(B - 1)`` and the exact Gram trajectory towards it.

This pipeline measures the first two on random ReLU networks whose mini-batches sit at the fixed
point (orthogonal inputs), and the pair correlations of correlated inputs (0.9, 0.5, 0, -0.5)
layer by layer against the exact Gram map; it also records how far BN at batch B is from weight
mean (the batch sizes below which chi_1, lambda, c* differ by more than 1%, 5%, 10%).

Writes a JSON data file (``--out``) for ``figures/minibatch_bn.py``.
Run: .venv/bin/python analysis/minibatch_bn.py [--profile tiny|default|full] [--seed 0]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import functools  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

from kernelnorm import MiniBatchNorm, minibatch_grams, minibatch_theory  # noqa: E402
from kernelnorm.io import pipeline_parser, run_script, write_json  # noqa: E402
from kernelnorm.montecarlo import (  # noqa: E402
    heavy_tail_tolerance,
    independent_pairs,
    mean_ci,
    measure_gradient_growth,
    sample_statistics,
    tail_constants,
)

FIGURE = {
    "name": "minibatch_bn",
    "paper": "MimicNorm Theorem 2 (finite batch)",
    "claim": "BN at batch B grows gradients by lambda(B) > pi/(pi-1) per layer and settles at "
             "c* = -1/(B-1); weight mean matches only as B -> inf",
    "estimate_s": 49,
    "estimate_full_s": 900,
}

#: ``(batches B, width, depth, seeds, inputs m, forward depth)`` of each profile.
PROFILES = {
    "tiny": {"batches": [4, 8], "width": 32, "depth": 4, "seeds": 3, "inputs": 32,
             "forward_depth": 6},
    "default": {"batches": [4, 8, 32, 128], "width": 256, "depth": 6, "seeds": 8,
                "inputs": 128, "forward_depth": 16},
    "full": {"batches": [4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256], "width": 512,
             "depth": 8, "seeds": 32, "inputs": 256, "forward_depth": 30},
}
PAIR_CORRELATIONS = (0.9, 0.5, 0.0, -0.5)
THRESHOLDS = (0.01, 0.05, 0.10)
THEORY_GRID = sorted({int(round(b)) for b in np.geomspace(4, 4096, 80)})


def theory_curves(activation: str) -> dict:
    """``chi_1(B)``, ``lambda(B)``, the forward eigenvalues and ``c*`` on a grid of B."""
    rows = [minibatch_theory(activation, b) for b in THEORY_GRID]
    limit = minibatch_theory(activation, math.inf)
    return {"batch": THEORY_GRID, "chi_1": [r.chi_1 for r in rows],
            "gradient_growth": [r.gradient_growth for r in rows],
            "rate_lengths": [r.rate_lengths for r in rows],
            "rate_correlations": [r.rate_correlations for r in rows],
            "c_star": [r.c_star for r in rows], "limit": limit.chi_1,
            "limit_rate_correlations": limit.rate_correlations}


@functools.lru_cache(maxsize=None)
def _theory(activation: str, batch: int):
    return minibatch_theory(activation, batch)


def smallest_close_batch(activation: str, quantity: str, tolerance: float) -> int:
    """The smallest B from which on ``quantity`` stays within ``tolerance`` of its B -> inf
    value (relative; ``c_star``: absolute). The gap is not monotone for every activation (tanh's
    chi_1 crosses its limit near B = 4), so every B is scanned up to one where the gap is below
    a quarter of the tolerance (the gap decays like 1/B)."""
    limit = getattr(minibatch_theory(activation, math.inf), quantity)

    def gap(batch):
        value = getattr(_theory(activation, batch), quantity)
        return abs(value - limit) if quantity == "c_star" else abs(value / limit - 1.0)

    last_far, batch = 3, 3  # B = 3: chi_1 = lambda = inf, c* = -1/2
    while batch < 4 * last_far or gap(batch) > tolerance / 4:
        batch += 1
        if gap(batch) > tolerance:
            last_far = batch
    return last_far + 1


def mimicnorm_gaps(activation: str) -> dict:
    """How far BN at batch B is from weight mean / the full-batch operator (docs/minibatch.md)."""
    return {quantity: {f"{t:g}": smallest_close_batch(activation, quantity, t) for t in THRESHOLDS}
            for quantity in ("chi_1", "gradient_growth", "c_star")}


def _pair_predictions(activation, x, batch, depth):
    """Exact Gram-map trajectories of every tracked pair ``(2p, 2p + 1)``: ``(depth, P)``."""
    gram = x @ x.T / x.shape[1]
    cache, columns = {}, []
    for p in range(x.shape[0] // 2):
        first = (2 * p) // batch * batch
        block = gram[first:first + batch, first:first + batch]
        key = np.round(block, 12).tobytes()
        if key not in cache:
            cache[key] = minibatch_grams(activation, block, depth)
        grams = cache[key]
        a, b = 2 * p - first, 2 * p + 1 - first
        columns.append(grams[:, a, b] / np.sqrt(grams[:, a, a] * grams[:, b, b]))
    return np.stack(columns, axis=1)


def forward_row(activation, batch, config, seed) -> dict:
    """Measured and predicted pair correlations at the last layer (mean over pairs)."""
    rhos = np.resize(PAIR_CORRELATIONS, config["inputs"] // 2)
    inputs = independent_pairs(rhos, config["inputs"], seed=seed)
    depth = config["forward_depth"]
    stats = sample_statistics(MiniBatchNorm(activation, batch), inputs.x, inputs.pairs,
                              seed=seed, seeds=config["seeds"], width=config["width"], depth=depth)
    predicted = _pair_predictions(activation, inputs.x, batch, depth)
    last = mean_ci(stats.correlations[:, -1].mean(axis=1))
    by_layer = mean_ci(stats.correlations.mean(axis=2))
    return {"rho_last": float(last.mean), "rho_last_ci": float(last.half_width),
            "rho_last_se": float(last.standard_error),
            "rho_last_predicted": float(predicted[-1].mean()),
            "rho_by_layer": by_layer.mean, "rho_by_layer_ci": by_layer.half_width,
            "rho_by_layer_predicted": predicted.mean(axis=1)}


def gradient_row(activation, batch, config, seed) -> dict:
    measured = measure_gradient_growth(activation, batch, batches=max(1, config["inputs"] // batch),
                                       width=config["width"], depth=config["depth"],
                                       seeds=config["seeds"], seed=seed)
    row = {"chi": float(measured.chi.mean), "chi_ci": float(measured.chi.half_width),
           "chi_se": float(measured.chi.standard_error),
           "growth": float(measured.growth.mean), "growth_ci": float(measured.growth.half_width),
           "growth_se": float(measured.growth.standard_error), "units": measured.units}
    if batch == 4:  # infinite variance: the heavy-tail tolerance replaces the t interval
        c_chi, c_growth = tail_constants(activation, batch, seed=seed)
        row["chi_bounds"] = heavy_tail_tolerance(c_chi, measured.units)  # (below, above)
        row["growth_bounds"] = heavy_tail_tolerance(c_growth, measured.units)
    return row


def main(argv=None) -> int:
    parser = pipeline_parser(__doc__, name=FIGURE["name"])
    parser.add_argument("--activation", default="relu")
    args = parser.parse_args(argv)
    config = PROFILES[args.profile]
    start = time.perf_counter()
    rows = []
    for batch in config["batches"]:
        theory = minibatch_theory(args.activation, batch)
        row = {"batch": batch, "chi_predicted": theory.chi_1,
               "growth_predicted": theory.gradient_growth, "c_star": theory.c_star,
               "rate_lengths": theory.rate_lengths, "rate_correlations": theory.rate_correlations}
        row.update(gradient_row(args.activation, batch, config, args.seed + batch))
        row.update(forward_row(args.activation, batch, config, args.seed + batch))
        rows.append(row)
        print(f"B={batch:<4} chi {row['chi']:.4f} +- {row['chi_ci']:.4f} (predicted "
              f"{row['chi_predicted']:.4f})  lambda {row['growth']:.4f} +- {row['growth_ci']:.4f} "
              f"(predicted {row['growth_predicted']:.4f})  rho_L {row['rho_last']:+.4f} +- "
              f"{row['rho_last_ci']:.4f} (predicted {row['rho_last_predicted']:+.4f}, c* "
              f"{row['c_star']:+.4f})  [{time.perf_counter() - start:.0f} s]", flush=True)
    write_json(args.out, {"figure": FIGURE, "profile": args.profile, "activation": args.activation,
                          "seed": args.seed, "config": config,
                          "theory": theory_curves(args.activation),
                          "mimicnorm": mimicnorm_gaps(args.activation), "rows": rows,
                          "seconds": time.perf_counter() - start})
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
