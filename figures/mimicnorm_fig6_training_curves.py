"""MimicNorm Figure 6 analogue: training loss per step and test accuracy per epoch per scheme.

Reads the data of ``analysis/mimicnorm_fig6_training_curves.py``; lines are means over seeds
(loss smoothed over one epoch), bands +- one std of the test accuracy.
Run: python figures/mimicnorm_fig6_training_curves.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

COLOURS = {"plain": "C7", "weight-mean": "C1", "last-bn": "C2", "mimicnorm": "C3", "bn": "C0"}


def _smoothed(losses: list[list[float]], window: int) -> np.ndarray:
    length = min(len(loss) for loss in losses)
    mean = np.mean([loss[:length] for loss in losses], axis=0)
    kernel = np.ones(window) / window
    return np.convolve(mean, kernel, mode="valid")


def draw(data: dict, out: str) -> None:
    config, window = data["config"], max(1, data["steps_per_epoch"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    epochs = np.arange(1, config["epochs"] + 1)
    for s in data["series"]:
        colour = COLOURS.get(s["norm"], None)
        loss = _smoothed([r["loss"] for r in s["runs"]], window)
        left.plot(np.arange(window, window + len(loss)), loss, color=colour, lw=1.5,
                  label=s["label"])
        mean, std = np.asarray(s["accuracy_mean"]), np.asarray(s["accuracy_std"])
        right.fill_between(epochs, 100 * (mean - std), 100 * (mean + std), color=colour,
                           alpha=0.2, lw=0)
        right.plot(epochs, 100 * mean, "o-", color=colour, ms=3.5, lw=1.5, label=s["label"])
    left.set(yscale="log", xlabel="SGD step", ylabel="training loss (mean over seeds, 1-epoch "
             "window)", title="training loss")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (left, right):
        ax.title.set_fontsize(9.5)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"MimicNorm Fig. 6 (ablation): {config['model']} (width "
                 f"x{config['width_factor']:g}) on {data['data_name']}, lr {config['lr']:g}, "
                 f"batch {config['batch']}, {config['seeds']} seeds", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_fig6_training_curves.json",
                       out="figures/out/mimicnorm_fig6_training_curves.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
