"""MimicNorm Figure 4: transition operators without and with weight mean, fixed points marked.

Left: the plain ReLU net (critical and ordered init), whose only fixed point rho = 1 is stable
(the frozen NNGP kernel). Middle: weight mean, with BN drawn over it (Theorem 2: the same
operator), stable at rho* = 0 and unstable at 1. Right: the slopes T'(rho), chi_1 = T'(1).
Run: python figures/mimicnorm_fig4_transition_maps.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

PANELS = (("without weight mean", ("plain (critical)", "plain (ordered)")),
          ("with weight mean (BN: the same operator)", ("weight mean", "BN")))
STYLES = {"plain (critical)": ("C0", "-"), "plain (ordered)": ("C0", (0, (5, 3))),
          "weight mean": ("C1", "-"), "BN": ("C3", (0, (2, 3)))}


def _fixed_point_groups(schemes: dict, labels) -> list[tuple[float, list[tuple[str, dict]]]]:
    """Fixed points of the panel's schemes grouped by location (one marker per location)."""
    groups: dict[float, list] = {}
    for label in labels:
        for point in schemes[label]["fixed_points"]:
            groups.setdefault(round(point["rho"], 9), []).append((label, point))
    return sorted(groups.items())


def _mark(ax, rho: float, members) -> None:
    stable = {point["stable"] for _, point in members}
    colour = STYLES[members[0][0]][0]
    fill = "full" if stable == {True} else "none" if stable == {False} else "left"
    ax.plot(rho, rho, "o", ms=9, color=colour, fillstyle=fill, mew=1.6, clip_on=False, zorder=4)
    slopes = sorted({round(point["slope"], 3) for _, point in members})
    kind = "stable" if stable == {True} else "unstable" if stable == {False} else "mixed"
    text = f"rho = {rho:g}: {kind}\nslope {' / '.join(f'{s:g}' for s in slopes)}"
    ax.annotate(text, (rho, rho), xytext=(-14, -34) if rho > 0.5 else (10, -26),
                textcoords="offset points", ha="right" if rho > 0.5 else "left", fontsize=7.5,
                bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})


def draw(data: dict, out: str) -> None:
    rho, schemes = data["rho"], data["schemes"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))
    for ax, (title, labels) in zip(axes, PANELS):
        ax.plot(rho, rho, color="0.6", lw=0.8, ls=":", label="identity")
        for label in labels:
            colour, style = STYLES[label]
            ax.plot(rho, schemes[label]["T"], color=colour, ls=style, lw=1.8,
                    label=f"{label}: chi_1 = {schemes[label]['chi_1']:.4g}")
        for location, members in _fixed_point_groups(schemes, labels):
            _mark(ax, location, members)
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel=r"input correlation $\rho$",
               ylabel=r"next-layer correlation $T(\rho)$", title=title)
        ax.title.set_fontsize(9.5)
        ax.legend(fontsize=7.5, loc="upper left")
        ax.grid(alpha=0.3)
    ax = axes[2]
    for label, scheme in schemes.items():
        colour, style = STYLES[label]
        ax.plot(rho, scheme["slope"], color=colour, ls=style, lw=1.8, label=label)
        ax.plot(1.0, scheme["chi_1"], "s", color=colour, ms=5, clip_on=False, zorder=4)
    ax.axhline(1.0, color="0.3", lw=0.8, ls=":")
    ax.text(-0.98, 1.02, "chi_1 > 1: chaotic; = 1: critical; < 1: ordered", fontsize=7.5,
            va="bottom")
    ax.set(xlim=(-1.05, 1.05), xlabel=r"$\rho$", ylabel=r"slope $T'(\rho)$",
           title=r"slopes; squares: $\chi_1 = T'(1)$")
    ax.title.set_fontsize(9.5)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.grid(alpha=0.3)
    fig.suptitle(f"MimicNorm Fig. 4: transition operators, {data['activation']} "
                 "(filled: stable fixed point, open: unstable)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_fig4_transition_maps.json",
                       out="figures/out/mimicnorm_fig4_transition_maps.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
