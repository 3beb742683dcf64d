"""NTK condition number at initialisation vs training loss after N SGD steps, every dense scheme
and depth, with the Spearman rank correlation and its bootstrap interval.

Reads ``results/kappa_vs_early_loss.json`` (from ``analysis/kappa_vs_early_loss.py``) and writes
a PNG and a PDF beside it.
Run: python figures/kappa_vs_early_loss.py [--data ...] [--out figures/out/kappa_vs_early_loss.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402
import os  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

MARKERS = "osD^v<>phX*"


def draw(data: dict, out: str) -> None:
    points = [p for p in data["points"] if math.isfinite(p["loss"])]
    schemes = list(dict.fromkeys(p["scheme"] for p in data["points"]))
    depths = data["depths"]
    cmap = plt.get_cmap("tab10")
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4.4))
    sizes = {d: 18 + 70 * i / max(len(depths) - 1, 1) for i, d in enumerate(depths)}
    for k, scheme in enumerate(schemes):
        mine = [p for p in points if p["scheme"] == scheme]
        left.scatter([p["kappa"] for p in mine], [p["loss"] for p in mine], s=[sizes[p["depth"]] for p in mine],
                     marker=MARKERS[k % len(MARKERS)], color=cmap(k % 10), alpha=0.8, label=scheme)
        every = [p for p in data["points"] if p["scheme"] == scheme]
        middle.plot([p["depth"] for p in every], [p["loss"] if math.isfinite(p["loss"]) else np.nan for p in every],
                    marker=MARKERS[k % len(MARKERS)], color=cmap(k % 10), ms=4, lw=1, label=scheme)
        right.plot([p["depth"] for p in every], [p["kappa"] for p in every],
                   marker=MARKERS[k % len(MARKERS)], color=cmap(k % 10), ms=4, lw=1,
                   label=f"{scheme} ({every[0]['phase']})")
    s = data["spearman"]
    left.set_xscale("log")
    left.axhline(data["chance_loss"], color="grey", ls=":", lw=1, label="chance log(10)")
    left.set_xlabel("kappa of the infinite-width NTK at init (training inputs)")
    left.set_ylabel(f"training cross-entropy after {data['steps']} SGD steps (best lr)")
    within = ", ".join(f"D={k}: {v:+.2f}" for k, v in data["within_depth"].items())
    left.set_title(f"Spearman rho = {s['rho']:+.2f}, {100 * s['level']:.0f}% CI "
                   f"[{s['ci_low']:+.2f}, {s['ci_high']:+.2f}] ({s['points']} points)\n"
                   f"within depth: {within}  (marker size: depth)", fontsize=8)
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=6, ncol=2)
    middle.axhline(data["chance_loss"], color="grey", ls=":", lw=1)
    middle.set_xscale("log", base=2)
    middle.set_xlabel("hidden layers D")
    middle.set_ylabel("training cross-entropy (best lr)")
    middle.set_title("measured: loss after N steps vs depth", fontsize=8)
    middle.grid(alpha=0.3, which="both")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("hidden layers D (NTK depth D + 1)")
    right.set_ylabel("kappa")
    right.set_title("predicted: kappa vs depth (phase in the legend)", fontsize=8)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=5.5, ncol=2)
    fig.suptitle(f"{data['data']} (m = {data['m']}), FCNN width {data['width']}, SGD momentum 0.9, "
                 f"batch {data['batch']}, best of {len(data['lrs'])} learning rates, "
                 f"{data['seeds']} seed(s)", fontsize=9)
    fig.tight_layout()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # reproducible PDF: no creation date
    save_figure(fig, os.path.splitext(out)[0] + ".pdf")
    save_figure(fig, out, dpi=110)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/kappa_vs_early_loss.json",
                       out="figures/out/kappa_vs_early_loss.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
