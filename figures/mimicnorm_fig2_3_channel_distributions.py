"""MimicNorm Figures 2-3: per-channel distributions over the batch, as box plots.

Reads the data of ``analysis/mimicnorm_fig2_3_channel_distributions.py``. Top (Fig. 2): the plain
ReLU net at (sqrt 2, 0), layers 20 and 50. Bottom (Fig. 3): layer 50 with BN and with weight
mean. Boxes: 25-75% of the batch, whiskers 5-95%, line: median. Each panel states the
between-channel share B of the power, measured and at infinite width.
Run: python figures/mimicnorm_fig2_3_channel_distributions.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def _boxes(ax, stats: dict, colour: str) -> None:
    boxes = [{"whislo": q[0], "q1": q[1], "med": q[2], "q3": q[3], "whishi": q[4], "fliers": []}
             for q in stats["quantiles"]]
    ax.bxp(boxes, showfliers=False, widths=0.6, patch_artist=True,
           boxprops={"facecolor": colour, "alpha": 0.55, "lw": 0.8},
           medianprops={"color": "k", "lw": 1.0}, whiskerprops={"lw": 0.8}, capprops={"lw": 0.8})
    ax.axhline(0.0, color="0.5", lw=0.6, ls=":")
    ax.text(0.01, 0.98, f"between-channel share B = {stats['between_share']:.3g}\n"
            f"infinite width: {stats['between_share_theory']:.3g}",
            transform=ax.transAxes, va="top", fontsize=8,
            bbox={"fc": "white", "ec": "0.7", "alpha": 0.9})
    ax.set(xlabel="channel", ylabel="pre-activation h")
    ax.tick_params(axis="x", labelsize=6)


def draw(data: dict, out: str) -> None:
    config, panels = data["config"], data["panels"]
    first, last = (str(layer) for layer in config["layers"])
    layout = ((panels["plain"]["layers"][first], f"Fig. 2: plain, layer {first}", "C0"),
              (panels["plain"]["layers"][last], f"Fig. 2: plain, layer {last}", "C0"),
              (panels["bn"]["layers"][last], f"Fig. 3: BN after every layer, layer {last}", "C3"),
              (panels["weight mean"]["layers"][last], f"Fig. 3: weight mean, layer {last}", "C1"))
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.2))
    for ax, (stats, title, colour) in zip(axes.flat, layout):
        _boxes(ax, stats, colour)
        ax.set_title(title, fontsize=9.5)
    fig.suptitle(f"MimicNorm Figs. 2-3: {config['channels']} channels of a {config['depth']}-layer "
                 f"ReLU FCNN (width {config['width']}) over a batch of {config['batch']} "
                 f"{data['data_name']} inputs at initialisation", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_fig2_3_channel_distributions.json",
                       out="figures/out/mimicnorm_fig2_3_channel_distributions.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
