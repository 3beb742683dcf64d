"""MimicNorm Lemma 1 erratum: measured weight-mean factor against (n_i-1)/n_i and (n_o-1)/n_o.

Reads the data of ``analysis/mimicnorm_lemma1_erratum.py``: one row per case, the Monte-Carlo
factor with its 95% CI, the main text's form (circle) and the supplement's (cross).
Run: python figures/mimicnorm_lemma1_erratum.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def draw(data: dict, out: str) -> None:
    cases = data["cases"]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(cases) + 1.6))
    for i, case in enumerate(cases):
        factor = case["factor"]
        ax.errorbar(factor["mean"], i, xerr=factor["ci_half_width"], fmt="s", color="k", ms=4,
                    capsize=3, label="Monte-Carlo, 95% CI" if i == 0 else None)
        ax.plot(case["main_text_factor"], i, "o", color="C2", mfc="none", ms=9, mew=1.6,
                label="(n_i - 1)/n_i (main text, Eq. 11)" if i == 0 else None)
        ax.plot(case["supplement_factor"], i, "x", color="C3", ms=9, mew=1.6,
                label="(n_o - 1)/n_o (supplement)" if i == 0 else None)
    ax.set_yticks(range(len(cases)), [f"n_i = {c['n_in']}, n_o = {c['n_out']}, rho = {c['rho']:+g}"
                                      for c in cases], fontsize=8.5)
    ax.set(xlabel=r"width factor $E\,\bar\Phi(\rho) / E[\Phi(\rho) - \Phi(0)]$")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"MimicNorm Lemma 1: the factor follows the input width "
                 f"({data['config']['draws']} draws per case)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_lemma1_erratum.json",
                       out="figures/out/mimicnorm_lemma1_erratum.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
