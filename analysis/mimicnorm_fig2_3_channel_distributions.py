"""MimicNorm Figures 2 and 3: per-channel distributions of the pre-activations of a deep FCNN.

Fig. 2: a 51-layer ReLU FCNN at (sigma_w, sigma_b) = (sqrt 2, 0), batch 2000: the values of 30
channels over the batch at layers 20 and 50 ("intra-channel similarities and inter-channel
variations increase with depth"). Fig. 3: the same at layer 50 with BN after every layer and with
weight mean ("activation in each channel follows the same distribution").

Theory (infinite width): channel ``i`` of layer ``l`` has batch mean ``m_i`` with
``E_i m_i^2 = mean_{x,x'} K_l(x, x')`` and power ``E_i mean_x h_i(x)^2 = mean_x K_l(x, x)``, so
the *between-channel share* ``B_l = mean_i m_i^2 / mean_i mean_x h_i(x)^2`` of the power is
``mean(K_l) / mean(diag K_l)`` from the NNGP recursion on the batch's Gram matrix: it tends to 1
when the kernel freezes (plain, rho* = 1) and to ``~1/B`` at rho* = 0 (BN, weight mean).
Run: python analysis/mimicnorm_fig2_3_channel_distributions.py [--profile default] [--data mnist1d]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

from kernelnorm import dense  # noqa: E402
from kernelnorm.data import load_image_dataset, normalise_rows  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.montecarlo import layer_activations, seed_keys  # noqa: E402
from kernelnorm.ntk import ntk_grams  # noqa: E402

FIGURE = {
    "name": "mimicnorm_fig2_3_channel_distributions",
    "paper": "MimicNorm Figs. 2-3 (frozen NNGP kernel; BN and weight mean unfreeze it)",
    "claim": "in a deep plain ReLU net each channel is nearly constant over the batch and "
             "channels differ (frozen kernel); with BN or weight mean all channels share one "
             "distribution",
    "estimate_s": 12,
    "estimate_full_s": 15,
    "data": "mnist1d",
}
PROFILES = {
    "tiny": {"batch": 64, "width": 48, "depth": 12, "layers": [5, 12], "channels": 12},
    "default": {"batch": 2000, "width": 300, "depth": 51, "layers": [20, 50], "channels": 30},
    "full": {"batch": 2000, "width": 300, "depth": 51, "layers": [20, 50], "channels": 30},
}
#: (panel, scheme) of the two figures: Fig. 2 plain at both layers, Fig. 3 BN and weight mean
#: at the last of them.
PANELS = (("plain", "plain"), ("bn", "bn"), ("weight mean", "weight-mean"))
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _channels(h: np.ndarray, shown: int) -> dict:
    """Per-channel summaries over the batch (``h``: ``(batch, width)``) and ``B_l``."""
    means = h.mean(axis=0)
    return {"quantiles": np.quantile(h[:, :shown], QUANTILES, axis=0).T,
            "mean": means[:shown], "std": h[:, :shown].std(axis=0),
            "between_share": float((means**2).mean() / (h**2).mean()),
            "within_std_over_between_std": float(h.std(axis=0).mean() / means.std())}


def _theory_share(block, x, layers) -> dict:
    kernels = ntk_grams(block, x, layers)  # angle-grid path: the rows have equal norms
    return {layer: float(k.nngp.mean() / np.diag(k.nngp).mean()) for layer, k in kernels.items()}


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    pool = dataset.x.reshape(len(dataset.x), -1)
    pick = np.random.default_rng(seed).choice(len(pool), size=config["batch"], replace=False)
    x = normalise_rows(pool[pick])
    panels = {}
    for (label, norm), key in zip(PANELS, seed_keys(seed, len(PANELS))):
        block = dense(norm, width=config["width"]) if norm == "weight-mean" else dense(norm)
        h = layer_activations(block, x, key=key, width=config["width"], depth=config["depth"],
                              layers=config["layers"])
        theory = _theory_share(block, x, config["layers"])
        panels[label] = {"norm": norm, "layers": {}}
        for layer, values in zip(config["layers"], h):
            stats = _channels(values, config["channels"])
            stats["between_share_theory"] = theory[layer]
            panels[label]["layers"][str(layer)] = stats
            print(f"{label:<12} layer {layer:>3}: between-channel share {stats['between_share']:.4f}"
                  f" (infinite width {theory[layer]:.4f}), within/between std "
                  f"{stats['within_std_over_between_std']:.3g}", flush=True)
    return {"data_name": dataset.name, "panels": panels, "quantile_levels": QUANTILES}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
