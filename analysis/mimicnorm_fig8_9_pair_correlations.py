"""MimicNorm supplement Figs. 8-9 (Appendix B.1): correlations of 200 real input pairs through a
width-300 FCNN: plain vs BN vs weight mean, with the infinite-width prediction and the finite-
width band.

The paper: plain nets drive every pair towards correlation 1 (the frozen NNGP kernel, Fig. 8);
BN and weight mean keep them "around zero", concentrated in [-0.2, 0.2] -- "a little
discrepancy from theoretical prediction which states coefficients converge to 0" (Fig. 9).
Here each pair's infinite-width trajectory ``T^l(rho_0)`` and its finite-width standard deviation
(``kernelnorm.montecarlo.correlation_spread``: linearised propagation of the weight and
activation sampling noise, stationary ``1.78/sqrt(n)`` at rho* = 0) are compared with random
nets: per layer the measured 5/50/95% quantiles over pairs and nets against those of the
predicted Gaussian mixture, and the share of measured correlations inside their pair's 95%
band. A width sweep at the last layer shows the "discrepancy" closing like ``1/sqrt(n)``.
Run: python analysis/mimicnorm_fig8_9_pair_correlations.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402
from scipy.special import ndtr  # noqa: E402

from kernelnorm import dense  # noqa: E402
from kernelnorm.data import load_image_dataset, normalise_rows  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.montecarlo import correlation_spread, data_pairs, sample_statistics  # noqa: E402

FIGURE = {
    "name": "mimicnorm_fig8_9_pair_correlations",
    "paper": "MimicNorm supplement Figs. 8-9 (Appendix B.1)",
    "claim": "plain-net pair correlations rise to 1 with depth; BN and weight mean keep them "
             "near 0, within [-0.2, 0.2] at width 300 (a gap to the infinite-width 0)",
    "estimate_s": 62,
    "estimate_full_s": 600,
    "data": "digits",
}
PROFILES = {
    "tiny": {"inputs": 24, "pairs": 40, "width": 48, "depth": 10, "seeds": 3,
             "sweep_widths": [32], "sweep_seeds": 2},
    "default": {"inputs": 128, "pairs": 200, "width": 300, "depth": 50, "seeds": 4,
                "sweep_widths": [64, 128, 256, 512], "sweep_seeds": 2},
    "full": {"inputs": 256, "pairs": 200, "width": 300, "depth": 100, "seeds": 16,
             "sweep_widths": [64, 128, 256, 512, 1024, 2048], "sweep_seeds": 8},
}
SCHEMES = {"plain": "plain", "BN": "bn", "weight mean": "weight-mean"}
LEVELS = (0.05, 0.5, 0.95)
Z95 = 1.959963984540054


def block(norm: str, width: int):
    return dense(norm, width=width) if norm == "weight-mean" else dense(norm)


def mixture_quantiles(mean: np.ndarray, std: np.ndarray, levels=LEVELS) -> np.ndarray:
    """Quantiles per layer of the equal-weight mixture of ``N(mean_p, std_p^2)`` over pairs
    (``mean``, ``std``: ``(L, P)``); returns ``(len(levels), L)``."""
    grid = np.linspace(-1.2, 1.2, 4801)
    cdf = ndtr((grid[None, None, :] - mean[..., None]) / std[..., None]).mean(axis=1)
    return np.stack([[np.interp(level, row, grid) for row in cdf] for level in levels])


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    pool = dataset.x.reshape(len(dataset.x), -1)
    pick = np.random.default_rng(seed).choice(len(pool), size=config["inputs"], replace=False)
    inputs = data_pairs(normalise_rows(pool[pick]), count=config["pairs"], seed=seed)
    width, depth = config["width"], config["depth"]
    panels = {}
    for offset, (label, norm) in enumerate(SCHEMES.items()):
        scheme = block(norm, width)
        stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=seed + 1000 * offset,
                                  seeds=config["seeds"], width=width, depth=depth)
        measured = stats.correlations  # (seeds, depth, pairs)
        mean, std = correlation_spread(scheme, inputs.correlations, width=width, depth=depth)
        infinite, _ = correlation_spread(scheme, inputs.correlations, width=width, depth=depth,
                                         second_order=False)
        inside = np.abs(measured - mean[None]) <= Z95 * std[None]
        panels[label] = {
            "norm": norm, "one_net": measured[0].T,  # (pairs, depth)
            "measured_quantiles": np.quantile(measured, LEVELS, axis=(0, 2)),
            "predicted_quantiles": mixture_quantiles(mean, std),
            "infinite_width_mean": infinite.mean(axis=1),
            "predicted_mean": mean.mean(axis=1),
            "measured_mean": measured.mean(axis=(0, 2)),
            "net_means_last": measured[:, -1].mean(axis=1),
            "coverage_95": inside.mean(axis=(0, 2)),
            "std_last": measured[:, -1].std(ddof=1), "predicted_std_last": np.sqrt(
                (std[-1] ** 2 + (mean[-1] - mean[-1].mean()) ** 2).mean()),
            "fraction_in_0.2": np.mean(np.abs(measured[:, -1]) <= 0.2)}
        p = panels[label]
        print(f"{label:<12} depth {depth}: mean {p['measured_mean'][-1]:+.4f} (predicted "
              f"{p['predicted_mean'][-1]:+.4f}, infinite width "
              f"{p['infinite_width_mean'][-1]:+.4f}), std {p['std_last']:.4f} (predicted "
              f"{p['predicted_std_last']:.4f}), inside 95% band {p['coverage_95'][-1]:.3f}, "
              f"in [-0.2, 0.2] {p['fraction_in_0.2']:.3f}", flush=True)
    sweep = {}
    for label, norm in (("BN", "bn"), ("weight mean", "weight-mean")):
        rows = []
        for n in config["sweep_widths"]:
            scheme = block(norm, n)
            last = sample_statistics(scheme, inputs.x, inputs.pairs, seed=seed + n,
                                     seeds=config["sweep_seeds"], width=n,
                                     depth=depth).correlations[:, -1]
            mean, std = correlation_spread(scheme, inputs.correlations, width=n, depth=depth)
            rows.append({"width": n, "std": last.std(ddof=1), "predicted_std": np.sqrt(
                (std[-1] ** 2 + (mean[-1] - mean[-1].mean()) ** 2).mean()),
                "fraction_in_0.2": np.mean(np.abs(last) <= 0.2)})
            print(f"{label:<12} width {n:>5}: std {rows[-1]['std']:.4f} (predicted "
                  f"{rows[-1]['predicted_std']:.4f})", flush=True)
        sweep[label] = rows
    return {"data_name": dataset.name, "input_correlations": inputs.correlations,
            "levels": LEVELS, "panels": panels, "width_sweep": sweep}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
