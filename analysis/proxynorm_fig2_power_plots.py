"""Proxy Normalization Figure 2 (top row): power plots of random conv nets, every scheme.

Random nets of Proxy Norm Definition 1 (periodic 3x3 convs, gamma ~ N(1, 0.2^2), beta ~
N(0, 0.2^2), ReLU) for every scheme of the registry a random net can run
(``scheme_names(engine="conv")``): the paper's BN, LN, IN, GN, LN+PN, GN+PN, LN+WS and, new
here, plain, WS, mean-only BN, MimicNorm's weight mean and Mean Shift Rejection's CZM filters.
For each scheme and depth: mean and 10-90% interval over realisations of the four power shares
of the normalised pre-activations (Eq. 5), the channel-averaged power (Proposition 1: 1 after
BN/LN/IN/GN), channel imbalance and channel-wise linearity. Nets without a normaliser run in
float64: their power drifts by orders of magnitude (CZMIG's ``e^g = 0.8`` unit-norm filters
lose a factor ~0.32 per ReLU layer, 1e-25 at depth 50), below float32's precision floor, where
the shares would be rounding noise; normalised nets run in float32.
Run: python analysis/proxynorm_fig2_power_plots.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402
import time  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

from kernelnorm import get_scheme, scheme_names  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.power import make_inputs, power_profile  # noqa: E402

FIGURE = {
    "name": "proxynorm_fig2_power_plots",
    "paper": "Proxy Norm Fig. 2, top row (random nets; Proposition 1, Theorems 1-2)",
    "claim": "LN (and less so GN) collapses channel-wise with depth (mu_c^2 share -> 1); IN "
             "has no instance variability; BN, LN+PN, GN+PN avoid both",
    "estimate_s": 100,
    "estimate_full_s": 40000,
    "data": "digits",
}
PROFILES = {
    # tiny: the schemes of the paper's three statements only (compiling a net dominates)
    "tiny": {"depth": 8, "width": 16, "realisations": 2, "resolution": 8, "inputs": 16,
             "norms": ["bn", "ln", "in", "ln+pn", "czmig"]},
    "default": {"depth": 50, "width": 64, "realisations": 3, "resolution": 16, "inputs": 64,
                "norms": "all"},
    "full": {"depth": 50, "width": 256, "realisations": 50, "resolution": 16, "inputs": 128,
             "norms": "all"},
}
#: The paper's panels first, in its order, then the schemes it did not analyse.
PAPER_ORDER = ("bn", "ln", "in", "gn", "ln+pn", "gn+pn", "ln+ws")


def norms(selection) -> list[str]:
    conv = scheme_names(engine="conv")
    ordered = [n for n in PAPER_ORDER if n in conv] + [n for n in conv if n not in PAPER_ORDER]
    return ordered if selection == "all" else [n for n in ordered if n in selection]


def compute(config: dict, *, seed: int, data: str) -> dict:
    inputs = make_inputs(data, config["inputs"], config["resolution"], seed=seed)
    profiles = []
    for norm in norms(config["norms"]):
        start = time.perf_counter()
        dtype = "float64" if get_scheme(norm).normaliser is None else "float32"
        profile = power_profile(norm, depth=config["depth"], width=config["width"],
                                realisations=config["realisations"], inputs=inputs, seed=seed,
                                dtype=dtype)
        profiles.append(profile.as_dict())
        last = profile.shares[:, -1, 0]
        print(f"{profiles[-1]['label']:<12} mu_c^2 share at depth {config['depth']}: "
              f"{last.mean():.4f}  linearity {profile.linearity[:, -1].mean():.3f}  "
              f"({dtype}, {time.perf_counter() - start:.0f} s)", flush=True)
    return {"profiles": profiles}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
