"""Predicted (linearised NTK) vs measured loss curves of wide dense nets, and the gap vs width.

Reads ``results/ntk_linearised_dynamics.json`` (from ``analysis/ntk_linearised_dynamics.py``) and
writes a PNG and a PDF beside it.
Run: python figures/ntk_linearised_dynamics.py [--data ...] [--out figures/out/ntk_linearised_dynamics.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

MARKERS = "osD^v<>p"


def _curves(ax, label: str, result: dict, data: dict) -> None:
    steps = np.arange(len(result["predicted"]))
    cmap = plt.get_cmap("viridis")
    widths = [c["width"] for c in result["curves"]]
    for i, curve in enumerate(result["curves"]):
        colour = cmap(i / max(len(widths) - 1, 1))
        ax.fill_between(steps, curve["min"], curve["max"], color=colour, alpha=0.15, lw=0)
        ax.plot(steps, curve["mean"], color=colour, lw=1.2, label=f"n = {curve['width']}")
    ax.plot(steps, result["predicted"], "k--", lw=1.4, label="NTK prediction (n = inf)")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step t")
    ax.set_ylabel("training MSE  L_t")
    ax.set_title(f"{label}: chi_1 = {result['chi_1']:.3f} ({result['phase']}), kappa = "
                 f"{result['kappa']:.3g}", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, loc="lower left")


def _rates(ax, data: dict, name: str, guides: tuple[float, ...], title: str) -> None:
    for k, (label, result) in enumerate(data["schemes"].items()):
        rows = result["rows"]
        widths = np.array([r["width"] for r in rows], float)
        values = np.array([r[name] for r in rows])
        errors = np.array([r[f"{name}_log_se"] for r in rows])
        line = ax.errorbar(widths, values, yerr=[values * (1 - np.exp(-errors)), values * (np.exp(errors) - 1)],
                           fmt=MARKERS[k % len(MARKERS)], ms=4, capsize=2, lw=0.8,
                           label=f"{label}: slope {result['rates'][name]['slope']:+.2f} +- "
                                 f"{result['rates'][name]['se']:.2f}")
        fit = result["rates"][name]
        ax.plot(widths, np.exp(fit["intercept"]) * widths ** fit["slope"], color=line[0].get_color(), lw=0.8)
    widths = np.array(data["widths"], float)
    anchor = np.median([r[name] for res in data["schemes"].values() for r in res["rows"][:1]])
    for slope, style in zip(guides, (":", "-.")):
        ax.plot(widths, anchor * (widths / widths[0]) ** slope, "k" + style, lw=0.8,
                label=f"n^{slope:+g} (declared)" if slope == data["declared_rates"][name] else f"n^{slope:+g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel(f"{name} (relative to L_0, RMS over steps)")
    pooled = data["pooled_rates"].get(name)
    extra = f"; pooled slope {pooled['slope']:+.2f} +- {pooled['se']:.2f}" if pooled else ""
    ax.set_title(title + extra, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=5.5)


def draw(data: dict, out: str) -> None:
    schemes = list(data["schemes"].items())
    columns = 3
    rows = int(np.ceil((len(schemes) + 2) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 3.5 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (label, result) in zip(flat, schemes):
        _curves(ax, label, result, data)
    _rates(flat[len(schemes)], data, "bias", (-1.0, -0.5), "mean over seeds vs prediction")
    _rates(flat[len(schemes) + 1], data, "fluctuation", (-0.5, -1.0), "seed-to-seed spread")
    for ax in flat[len(schemes) + 2:]:
        ax.axis("off")
    fig.suptitle(f"Full-batch GD on MSE, {data['data']} m = {data['m']}, depth {data['depth']}, "
                 f"{data['outputs']} one-hot outputs, lr = {data['lr_fraction']:g} m / lambda_max, "
                 f"{data['seeds']} seeds (band: min-max)", fontsize=9)
    fig.tight_layout()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # reproducible PDF: no creation date
    save_figure(fig, os.path.splitext(out)[0] + ".pdf")
    save_figure(fig, out, dpi=110)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/ntk_linearised_dynamics.json",
                       out="figures/out/ntk_linearised_dynamics.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
