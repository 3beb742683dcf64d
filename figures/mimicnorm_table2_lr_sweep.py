"""MimicNorm Table 2 analogue, drawn as the paper's table next to the measured one.

Reads the data of ``analysis/mimicnorm_table2_lr_sweep.py``. Left: the paper's best accuracy (%)
of the first 10 epochs (VGG16, CIFAR-100). Right: measured here, mean +- std over seeds (a
dagger marks runs that diverged). Cell colour: accuracy relative to the best of its table.
Run: python figures/mimicnorm_table2_lr_sweep.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm import get_scheme  # noqa: E402
from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def _table(ax, values: np.ndarray, text: list[list[str]], rows, columns, title: str) -> None:
    ax.imshow(values / np.nanmax(values), cmap="YlGn", vmin=0, vmax=1.15, aspect="auto")
    for i, row in enumerate(text):
        for j, cell in enumerate(row):
            ax.text(j, i, cell, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(columns)), columns, fontsize=8.5)
    ax.set_yticks(range(len(rows)), [f"lr {r:g}" for r in rows], fontsize=8.5)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=9.5)


def draw(data: dict, out: str) -> None:
    config, paper = data["config"], data["paper"]
    norms, lrs = config["norms"], config["lrs"]
    cells = {(c["norm"], c["lr"]): c for c in data["cells"]}
    measured = np.array([[100 * cells[(n, lr)]["mean"] for n in norms] for lr in lrs])
    text = [[f"{100 * cells[(n, lr)]['mean']:.1f} ± {100 * cells[(n, lr)]['std']:.1f}"
             + (" †" if cells[(n, lr)]["diverged"] else "") for n in norms] for lr in lrs]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.45 * len(lrs) + 1.9))
    reference = np.array(paper["accuracy"])
    _table(axes[0], reference, [[f"{v:.2f}" for v in row] for row in reference], paper["lrs"],
           paper["columns"], "paper: VGG16, CIFAR-100, best of the first 10 epochs (%)")
    _table(axes[1], measured, text, lrs, [get_scheme(n).label for n in norms],
           f"here: {config['model']} (width x{config['width_factor']:g}), {data['data_name']}, "
           f"best of {config['epochs']} epochs, {config['seeds']} seeds (%)")
    fig.suptitle(f"MimicNorm Table 2: learning-rate stability (chance = "
                 f"{100 / data['n_classes']:.0f}%; † = some runs diverged)", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_table2_lr_sweep.json",
                       out="figures/out/mimicnorm_table2_lr_sweep.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
