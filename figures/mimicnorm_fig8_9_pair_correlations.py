"""MimicNorm supplement Figs. 8-9: pair correlations through depth with the theory overlaid.

Reads the data of ``analysis/mimicnorm_fig8_9_pair_correlations.py``. Panels 1-3 (plain, BN,
weight mean): thin lines, the 200 pairs of one net (as the paper draws them); dashed, the
infinite-width mean over pairs; shaded, the predicted 5-95% band of the finite-width mixture over
pairs, with the measured 5/50/95% quantiles (over pairs and nets) as dots. Panel 4: the spread at
the last layer against width, measured and predicted, with the paper's [-0.2, 0.2] (as +-2 std).
Run: python figures/mimicnorm_fig8_9_pair_correlations.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

COLOURS = {"plain": "C0", "BN": "C3", "weight mean": "C1"}


def _panel(ax, label: str, panel: dict, depth: np.ndarray) -> None:
    colour = COLOURS[label]
    for line in panel["one_net"]:
        ax.plot(depth, line, color=colour, lw=0.35, alpha=0.35)
    low, mid, high = panel["predicted_quantiles"]
    ax.fill_between(depth, low, high, color="0.35", alpha=0.22, lw=0,
                    label="predicted 5-95% (finite width)")
    ax.plot(depth, panel["infinite_width_mean"], "k--", lw=1.4, label="infinite-width mean")
    for q, marker in zip(panel["measured_quantiles"], ("v", "o", "^")):
        ax.plot(depth, q, marker, color="k", ms=2.5, mfc=colour, mew=0.4)
    ax.plot([], [], "o", color="k", ms=3, mfc=colour, mew=0.4,
            label="measured 5/50/95% (pairs x nets)")
    if label != "plain":
        ax.axhspan(-0.2, 0.2, color=colour, alpha=0.08, lw=0)
    ax.text(0.98, 0.3 if label == "plain" else 0.96,
            f"last layer: {100 * panel['coverage_95'][-1]:.0f}% inside their pair's 95% band\n"
            f"{100 * panel['fraction_in_0.2']:.0f}% in [-0.2, 0.2]",
            transform=ax.transAxes, ha="right", va="bottom" if label == "plain" else "top",
            fontsize=7.5, bbox={"fc": "white", "ec": "0.7", "alpha": 0.9})
    ax.set(xlabel="layer", ylabel="correlation of the pair", ylim=(-1.02, 1.02))
    ax.set_title(label, fontsize=10)
    ax.legend(fontsize=7, loc="lower left" if label != "plain" else "lower right")
    ax.grid(alpha=0.3)


def draw(data: dict, out: str) -> None:
    config = data["config"]
    depth = np.arange(1, config["depth"] + 1)
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 8.8))
    for ax, (label, panel) in zip(axes.flat, data["panels"].items()):
        _panel(ax, label, panel, depth)
    ax = axes[1, 1]
    for label, rows in data["width_sweep"].items():
        widths = [r["width"] for r in rows]
        ax.plot(widths, [r["std"] for r in rows], "o-", color=COLOURS[label],
                label=f"{label} measured")
        ax.plot(widths, [r["predicted_std"] for r in rows], "s:", color=COLOURS[label], mfc="none",
                label=f"{label} predicted")
    ax.axhline(0.1, color="0.4", ls="--", lw=1, label="[-0.2, 0.2] = +-2 std")
    ax.set(xscale="log", yscale="log", xlabel="width n",
           ylabel=f"std of the correlations at layer {config['depth']}")
    ax.set_title("the gap to rho* = 0 closes like 1/sqrt(n)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"MimicNorm Figs. 8-9: {len(data['input_correlations'])} pairs of "
                 f"{data['data_name']} inputs through ReLU FCNNs of width {config['width']} "
                 f"({config['seeds']} nets per scheme)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_fig8_9_pair_correlations.json",
                       out="figures/out/mimicnorm_fig8_9_pair_correlations.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
