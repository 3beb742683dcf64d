"""NTK condition number against depth for every dense scheme of the registry, by phase.

Xiao, Pennington & Schoenholz (2019), Theorem 1 (MimicNorm Theorem 1): the condition number
kappa of the infinite-width NTK on the training inputs diverges with depth in the ordered phase
(chi_1 < 1), tends to ``1 + m/3`` on the critical line (chi_1 = 1; linear in the number of
inputs m) and to 1 in the chaotic phase (chi_1 > 1). Every scheme of ``scheme_names(engine=
"dense")`` at its stable init, plus the ordered plain and LN nets (sigma_b2 = 0.2); then kappa
against m on the critical line at several depths. Real inputs (digits by default).

The theory lines (derivations in docs/ntk.md): ordered ``log kappa`` grows with slope
``-log(chi_1)/2`` per layer; critical ``kappa -> 1 + m/3`` (orthogonal inputs); chaotic
``kappa - 1 ~ C L (chi_c*/chi_1)^L`` with ``chi_c*/chi_1 = 1/2`` for ReLU.
Run: python analysis/ntk_kappa_phases.py [--profile default] [--data digits] [--out PATH]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm import dense, scheme_names  # noqa: E402
from kernelnorm.data import load_image_dataset, normalise_rows  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.ntk import kappa_vs_depth, kappa_vs_size  # noqa: E402

FIGURE = {
    "name": "ntk_kappa_phases",
    "paper": "MimicNorm Theorem 1 / Xiao et al. 2019 Theorem 1 (NTK phases)",
    "claim": "kappa of the NTK diverges (ordered), grows like m/3 (critical) or tends to 1 "
             "(chaotic) with depth; weight mean and BN are chaotic, plain ReLU is at best critical",
    "estimate_s": 23,
    "estimate_full_s": 600,
    "data": "digits",
}
PROFILES = {
    "tiny": {"m": 24, "max_depth": 60, "depths": 12, "sizes": [6, 12, 24], "size_depths": [60]},
    "default": {"m": 200, "max_depth": 200, "depths": 24, "sizes": [25, 50, 100, 200, 400],
                "size_depths": [10, 100, 1000]},
    "full": {"m": 1000, "max_depth": 1000, "depths": 60,
             "sizes": [50, 100, 200, 400, 800, 1000], "size_depths": [10, 100, 1000, 10000]},
}
#: Ordered variants: the registry's schemes at their stable init are critical or chaotic.
ORDERED = {"plain": 0.2, "ln": 0.2}


def schemes():
    """``(label, dense block)``: every dense registry scheme, then the ordered variants."""
    out = [(name, dense(name)) for name in scheme_names(engine="dense")]
    out += [(f"{name} (sigma_b2 = {b2:g})", dense(name, sigma_b2=b2)) for name, b2 in ORDERED.items()]
    return out


def _depths(max_depth: int, count: int) -> list[int]:
    return sorted({int(d) for d in np.geomspace(1, max_depth, count).round()})


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    x = normalise_rows(dataset.x.reshape(len(dataset.x), -1))
    x = x[np.random.default_rng(seed).permutation(len(x))]
    depths = _depths(config["max_depth"], config["depths"])
    by_depth = {}
    for label, block in schemes():
        rows = kappa_vs_depth(block, x[: config["m"]], depths)
        by_depth[label] = {"norm": block.name, "sigma_w2": block.sigma_w2,
                           "sigma_b2": block.sigma_b2, "chi_1": rows[0].chi_1,
                           "phase": rows[0].phase, "depth": depths,
                           "kappa": [r.kappa for r in rows],
                           "error_bound": [r.relative_error_bound for r in rows]}
        print(f"{label:24s} chi_1 = {rows[0].chi_1:.4f} ({rows[0].phase}): kappa(L={depths[-1]})"
              f" = {rows[-1].kappa:.6g}", flush=True)
    by_size = []
    sizes = [m for m in config["sizes"] if m <= len(x)]
    for depth in config["size_depths"]:
        kappas = np.array([r.kappa for r in kappa_vs_size(dense("plain"), x, depth, sizes)])
        slope, intercept = np.polyfit(sizes, kappas, 1)
        by_size.append({"depth": depth, "m": sizes, "kappa": kappas, "slope": slope,
                        "intercept": intercept, "orthogonal_prediction": 1.0 / 3.0})
        print(f"critical line, depth {depth}: kappa ~ {slope:.4f} m + {intercept:.3g} "
              "(orthogonal inputs, L -> inf: m/3 + 1)", flush=True)
    return {"data_name": dataset.name, "m": config["m"], "kappa_vs_depth": by_depth,
            "kappa_vs_size": by_size}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
