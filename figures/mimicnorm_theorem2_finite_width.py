"""MimicNorm Theorem 2 at finite width: (a) CLT rate of the correlation error, (b) BN's empirical
chi_1 against pi/(pi-1), (c) its spread against width, (d) the empirical NTK's kappa.

Reads the data of ``analysis/mimicnorm_theorem2_finite_width.py``.
Run: python figures/mimicnorm_theorem2_finite_width.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def _rate_line(ax, widths, anchor, label):
    w = np.asarray(widths, float)
    ax.plot(w, anchor * (w / w[0]) ** -0.5, "k:", label=label)


def draw(data: dict, out: str) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    ax = axes[0]
    for name, row in data["clt"].items():
        ax.errorbar(row["widths"], row["rms"], yerr=np.array(row["rms"]) * row["log_rms_se"],
                    marker="o", capsize=2,
                    label=f"{name}: slope {row['slope']:.3f} ± {row['slope_se']:.3f}")
    plain = data["clt"]["plain"]
    _rate_line(ax, plain["widths"], plain["rms"][0], "n^-1/2")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="RMS correlation error",
           title="(a) correlation error at depth 3 (CLT)")
    t2 = data["theorem2"]
    ax = axes[1]
    ax.errorbar(t2["widths"], t2["chi_mean"], yerr=t2["chi_ci"], marker="o", capsize=2,
                label=f"BN, batch {t2['batch']}: mean, 95% CI")
    ax.axhline(math.pi / (math.pi - 1), color="k", ls=":", label="pi/(pi-1) (Theorem 2)")
    ax.set(xscale="log", xlabel="width n", ylabel=r"empirical $\chi_1$ per layer",
           title="(b) Theorem 2: chi_1 of BN layers")
    ax = axes[2]
    ax.plot(t2["widths"], t2["spread"], "o-",
            label=f"std over layers and nets: slope {t2['slope']:.3f} ± {t2['slope_se']:.3f}")
    _rate_line(ax, t2["widths"], t2["spread"][0], "n^-1/2 (convergence in probability)")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel=r"std of $\chi_1$",
           title="(c) Theorem 2: spread of chi_1")
    ax = axes[3]
    for i, (name, rows) in enumerate(data["ntk"].items()):
        widths = [r["width"] for r in rows]
        ax.errorbar(widths, [r["kappa"] for r in rows], yerr=[r["kappa_ci"] for r in rows],
                    marker="o", capsize=2, color=f"C{i}", label=f"{name} (empirical NTK)")
        ax.axhline(rows[0]["kappa_infinite"], color=f"C{i}", ls=":", lw=1.2)
    ax.plot([], [], "k:", label="infinite-width kappa")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel=r"$\kappa$ of the NTK",
           title="(d) NTK condition number, 16 digits, depth 3")
    for ax in axes:
        ax.title.set_fontsize(9.5)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Finite random nets against the infinite-width theory (MimicNorm Theorem 2 and "
                 "the NTK argument)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_theorem2_finite_width.json",
                       out="figures/out/mimicnorm_theorem2_finite_width.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
