"""MimicNorm Figure 4: correlation maps T(rho) of plain, weight-mean and BN nets, fixed points.

For each scheme of the figure (rows of ``kernelnorm compare``): the grid ``rho``, ``T(rho)``,
``T'(rho)``, the fixed points (``rho*``, slope, stability), ``chi_1 = T'(1)`` and the phase.
Analytic (closed-form ReLU duals): every profile takes well under a second; the profiles differ
in the grid only.
Run: python analysis/mimicnorm_fig4_transition_maps.py [--profile default] [--out PATH]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm import comparison_schemes, correlation_map, correlation_map_slope, summarise  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402

FIGURE = {
    "name": "mimicnorm_fig4_transition_maps",
    "paper": "MimicNorm Fig. 4 (Theorem 3)",
    "claim": "weight mean moves the stable fixed point of T from rho* = 1 to rho* = 0 and makes "
             "chi_1 = pi/(pi-1) > 1 (chaotic), like BN",
    "estimate_s": 2,
    "estimate_full_s": 2,
}
PROFILES = {"tiny": {"grid": 41}, "default": {"grid": 401}, "full": {"grid": 2001}}

#: The rows of ``kernelnorm compare`` that MimicNorm Figure 4 draws.
ROWS = ("plain (critical)", "plain (ordered)", "weight mean", "BN")


def compute(config: dict, *, seed: int, activation: str = "relu") -> dict:
    del seed  # analytic
    rhos = np.linspace(-1.0, 1.0, config["grid"])
    schemes = {}
    for label, scheme in comparison_schemes(activation):
        if label in ROWS:
            schemes[label] = {"T": correlation_map(scheme, rhos),
                              "slope": correlation_map_slope(scheme, rhos),
                              **summarise(scheme).as_dict()}
    return {"activation": activation, "rho": rhos, "schemes": schemes}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
