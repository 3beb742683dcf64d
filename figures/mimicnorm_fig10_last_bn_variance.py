"""MimicNorm supplement Fig. 10: running variance of the last BN layer per logit channel, per step.

Reads the data of ``analysis/mimicnorm_fig10_last_bn_variance.py``. Top row: the running variance
of every output channel of the last BN (log scale), one panel per model and learning rate.
Bottom row: the training loss per step of the same net with and without the last BN.
Run: python figures/mimicnorm_fig10_last_bn_variance.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def _groups(runs):
    """``{(model, width factor, lr): {norm: run}}`` in the order of the data."""
    groups: dict = {}
    for run in runs:
        groups.setdefault((run["model"], run["width_factor"], run["lr"]), {})[run["norm"]] = run
    return groups


def draw(data: dict, out: str) -> None:
    groups = _groups(data["runs"])
    fig, axes = plt.subplots(2, len(groups), figsize=(4.4 * len(groups), 6.6), squeeze=False,
                             sharex="col")
    for column, ((model, factor, lr), runs) in enumerate(groups.items()):
        top, bottom = axes[0, column], axes[1, column]
        mimic = runs["mimicnorm"]
        variance = np.asarray(mimic["running_var"])
        colours = plt.cm.tab10(np.linspace(0, 1, variance.shape[1], endpoint=False))
        for channel, colour in enumerate(colours):
            top.plot(mimic["step"], variance[:, channel], color=colour, lw=1.0)
        top.set(yscale="log", ylabel="running variance of the last BN")
        top.set_title(f"{model} (width x{factor:g}), lr {lr:g}", fontsize=9.5)
        for norm, colour in (("mimicnorm", "C1"), ("weight-mean", "C7")):
            run = runs[norm]
            label = data["schemes"][norm]
            if run["diverged"]:
                label += f" (diverged at step {run['diverged_step']})"
            bottom.plot(run["step"], run["loss"], color=colour, lw=1.0, label=label)
        bottom.set(yscale="log", xlabel="SGD step", ylabel="training loss (cross-entropy)")
        bottom.legend(fontsize=7)
        for ax in (top, bottom):
            ax.grid(alpha=0.3, which="both")
            for epoch in range(1, len(mimic["test_accuracy"]) + 1):
                ax.axvline(epoch * data["steps_per_epoch"], color="0.6", lw=0.6, ls=":")
    config = data["config"]
    fig.suptitle(f"MimicNorm Fig. 10: last-BN running variance per logit channel (momentum "
                 f"{data['bn_momentum']}), {data['data_name']}, batch {config['batch']}, first "
                 f"{config['epochs']} epochs (dotted: epoch ends)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_fig10_last_bn_variance.json",
                       out="figures/out/mimicnorm_fig10_last_bn_variance.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
