"""Layer-norm collapse against depth: the mu_c^2 share of random LN nets at several widths,
next to GN, LN+PN and BN, and rho = 1 - share against Theorem 1's geometric bound.

Proxy Norm §4: with LN, random nets drift towards channel-wise constant pre-activations
(Theorem 1: rho^(l) <~ rho^(1) r^(l-1), r = 0.963 for gamma ~ N(1, 0.2^2), beta ~ N(0, 0.2^2)).
Their Appendix A.2.1 notes that deep down the decay ends slightly below the prediction because
LN mitigates the collapse at finite width; several widths show that here. GN (8 groups) collapses
less; Proxy Norm and BN not at all.
Run: python analysis/proxynorm_ln_collapse_depth.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.power import log_rate, make_inputs, power_profile, theorem1_rate  # noqa: E402

FIGURE = {
    "name": "proxynorm_ln_collapse_depth",
    "paper": "Proxy Norm §4, Theorem 1 and Appendix A.2.1 (LN collapse against depth)",
    "claim": "LN's channel-mean share mu_c^2 rises towards 1 with depth, at every width; GN "
             "collapses less, LN+PN and BN do not",
    "estimate_s": 34,
    "estimate_full_s": 57000,
    "data": "digits",
}
PROFILES = {
    "tiny": {"depth": 16, "ln_widths": [8, 16], "width": 16, "realisations": 2,
             "resolution": 8, "inputs": 16, "others": ["ln+pn"]},
    "default": {"depth": 150, "ln_widths": [16, 32, 64], "width": 64, "realisations": 3,
                "resolution": 8, "inputs": 32, "others": ["gn", "ln+pn", "bn"]},
    "full": {"depth": 500, "ln_widths": [32, 64, 128, 256], "width": 256, "realisations": 20,
             "resolution": 16, "inputs": 128, "others": ["gn", "ln+pn", "bn"]},
}


def _series(profile, label: str) -> dict:
    share = profile.shares[..., 0]  # (realisations, depth)
    low, high = np.quantile(share, [0.1, 0.9], axis=0)
    rho = 1.0 - share.mean(axis=0)
    return {"label": label, "norm": profile.config.scheme.name, "width": profile.config.width,
            "share": {"mean": share.mean(axis=0), "low": low, "high": high},
            "rho": rho, "fitted_log_rate": log_rate(np.maximum(rho, 1e-300))}


def compute(config: dict, *, seed: int, data: str) -> dict:
    inputs = make_inputs(data, config["inputs"], config["resolution"], seed=seed)
    runs = [("ln", width) for width in config["ln_widths"]]
    runs += [(norm, config["width"]) for norm in config["others"]]
    series = []
    for norm, width in runs:
        profile = power_profile(norm, depth=config["depth"], width=width,
                                realisations=config["realisations"], inputs=inputs, seed=seed)
        series.append(_series(profile, f"{profile.as_dict()['label']}, width {width}"))
        print(f"{series[-1]['label']:<20} mu_c^2 share at depth {config['depth']}: "
              f"{series[-1]['share']['mean'][-1]:.4f}, fitted log rate of rho "
              f"{series[-1]['fitted_log_rate']:.4f}", flush=True)
    return {"rate": theorem1_rate(), "log_rate": np.log(theorem1_rate()), "series": series}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
