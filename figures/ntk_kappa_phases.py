"""NTK condition number against depth, one panel per phase, and against m on the critical line.

Reads the data of ``analysis/ntk_kappa_phases.py``. Panels: ordered (kappa - 1 grows like
``chi_1^(-L/2)``), critical (tends to ``m/3``), chaotic (tends to 0 like ``L 2^-L``), and kappa
against the number of inputs m on the critical line.
Run: python figures/ntk_kappa_phases.py --data DATA.json --out OUT.png
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

PHASES = (("ordered", r"ordered ($\chi_1 < 1$): $\kappa$ diverges"),
          ("critical", r"critical ($\chi_1 = 1$): $\kappa \to 1 + m/3$"),
          ("chaotic", r"chaotic ($\chi_1 > 1$): $\kappa \to 1$"))
MARKERS = "os^vDP*Xhp<>"


def _finite(series):
    points = [(d, k - 1.0) for d, k in zip(series["depth"], series["kappa"])
              if math.isfinite(k) and k - 1.0 > 1e-12]
    return tuple(np.array(a) for a in zip(*points)) if points else (np.array([]), np.array([]))


def _theory(ax, phase: str, members: dict, m: int) -> None:
    depth = np.array(next(iter(members.values()))["depth"], float)
    if phase == "critical":
        ax.axhline(m / 3.0, color="k", ls=":", lw=1.2, label=f"m/3 = {m / 3:.0f} (L -> inf)")
    elif phase == "ordered":
        for label, series in members.items():
            d, k = _finite(series)
            rate = -0.5 * math.log(series["chi_1"])
            anchor = len(d) // 2
            ax.plot(d[anchor:], k[anchor] * np.exp(rate * (d[anchor:] - d[anchor])), "k:",
                    lw=1.2, label=r"slope $-\log(\chi_1)/2$ per layer" if label == next(iter(members)) else None)
    else:
        d, k = _finite(next(iter(members.values())))
        anchor = np.searchsorted(d, 10)
        if anchor < len(d):
            shape = d * 0.5 ** d
            ax.plot(d[anchor:], k[anchor] * shape[anchor:] / shape[anchor], "k:", lw=1.2,
                    label=r"$\propto L\,2^{-L}$")
    del depth


def draw(data: dict, out: str) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6))
    for ax, (phase, title) in zip(axes, PHASES):
        members = {label: s for label, s in data["kappa_vs_depth"].items() if s["phase"] == phase}
        for i, (label, series) in enumerate(members.items()):
            d, k = _finite(series)
            ax.plot(d, k, marker=MARKERS[i % len(MARKERS)], ms=3.5, lw=1.1,
                    label=f"{label} (chi_1 = {series['chi_1']:.3g})")
        if members:
            _theory(ax, phase, members, data["m"])
        ax.set(yscale="log", xlabel="depth L", ylabel=r"$\kappa - 1$ of the NTK")
        ax.set_title(title, fontsize=9.5)
        ax.legend(fontsize=6.5, loc="best")
        ax.grid(alpha=0.3, which="both")
    ax = axes[3]
    for series in data["kappa_vs_size"]:
        ax.plot(series["m"], series["kappa"], marker="o", ms=3.5,
                label=f"L = {series['depth']}: slope {series['slope']:.3f}")
    sizes = np.array(data["kappa_vs_size"][0]["m"], float)
    ax.plot(sizes, 1 + sizes / 3, "k:", lw=1.2, label="1 + m/3 (orthogonal inputs, L -> inf)")
    ax.set(xlabel="number of inputs m", ylabel=r"$\kappa$ (plain ReLU, $\chi_1 = 1$)")
    ax.set_title("critical line: kappa linear in m", fontsize=9.5)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(f"NTK condition number on {data['m']} {data['data_name']} inputs, every dense "
                 "scheme at its stable init (Xiao et al. 2019, Theorem 1)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/ntk_kappa_phases.json",
                       out="figures/out/ntk_kappa_phases.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
