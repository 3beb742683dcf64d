"""MimicNorm Lemma 1 and its erratum: the weight-mean factor is (n_i - 1)/n_i, not (n_o - 1)/n_o.

Lemma 1 (main text Eq. 11): ``E_W[Phi_bar(rho)] = (n_i - 1)/n_i E_W[Phi(rho) - Phi(0)]`` with
``n_i`` the *input* width; the supplement states ``(n_o - 1)/n_o`` (output width), which its own
derivation does not give. Monte-Carlo over weights and Gaussian inputs (``kernelnorm.montecarlo.
lemma1_check``), for several ``n_i != n_o`` and correlations: the measured width factor with its
95% CI against both published forms.
Run: python analysis/mimicnorm_lemma1_erratum.py [--profile default]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.montecarlo import lemma1_check  # noqa: E402

FIGURE = {
    "name": "mimicnorm_lemma1_erratum",
    "paper": "MimicNorm Lemma 1 (Eq. 11) vs its supplement statement",
    "claim": "weight mean scales the centred kernel by (n_i - 1)/n_i of the input width (main "
             "text), not (n_o - 1)/n_o (supplement)",
    "estimate_s": 13,
    "estimate_full_s": 60,
}
CASES = [(4, 256, 0.5), (256, 4, 0.5), (8, 64, 0.3), (64, 8, 0.9), (6, 48, -0.7)]
PROFILES = {"tiny": {"draws": 2000, "cases": CASES[:2]},
            "default": {"draws": 20000, "cases": CASES},
            "full": {"draws": 100000, "cases": CASES}}


def compute(config: dict, *, seed: int) -> dict:
    rows = [lemma1_check(n_in, n_out, rho, draws=config["draws"], seed=seed + i).as_dict()
            for i, (n_in, n_out, rho) in enumerate(config["cases"])]
    for r in rows:
        print(f"n_i {r['n_in']:<4} n_o {r['n_out']:<4} rho {r['rho']:+.1f}: factor "
              f"{r['factor']['mean']:.4f} +- {r['factor']['ci_half_width']:.4f}; (n_i-1)/n_i "
              f"{r['main_text_factor']:.4f} (z {r['z_main_text']:+.2f}), (n_o-1)/n_o "
              f"{r['supplement_factor']:.4f} (z {r['z_supplement']:+.2f})", flush=True)
    return {"cases": rows}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
