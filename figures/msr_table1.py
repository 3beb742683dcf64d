"""Mean Shift Rejection Table 1 analogue: test accuracy (mean +- std over seeds) of every
configuration here, beside the paper's CIFAR-10 / ResNet-110 numbers.

Reads ``results/msr_table1.json`` (from ``analysis/msr_table1.py``) and writes a PNG and a PDF
beside it.
Run: python figures/msr_table1.py [--data ...] [--out figures/out/msr_table1.png]
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


def _label(row: dict) -> str:
    return f"{row['method']} lr {row['lr']:g} zmg {row['zmg']:g} noise {row['noise']:g}"


def draw(data: dict, out: str) -> None:
    rows = sorted(data["rows"], key=lambda r: -np.nan_to_num(r["accuracy"], nan=-1.0))
    labels = [_label(r) for r in rows]
    y = np.arange(len(rows))[::-1]
    colours = ["tab:red" if r["method"] == "BatchNorm" else "tab:blue" if r["zmg"] else "tab:grey"
               for r in rows]
    fig, (ours, paper) = plt.subplots(1, 2, figsize=(12, 0.42 * len(rows) + 1.6), sharey=True)
    means = np.array([r["accuracy"] for r in rows])
    stds = np.nan_to_num([r["std"] for r in rows])
    ours.barh(y, np.nan_to_num(means), xerr=stds, color=colours, alpha=0.8, capsize=3)
    for yi, r in zip(y, rows):
        points = [a for a in r["accuracies"] if math.isfinite(a)]
        ours.plot(points, [yi] * len(points), "k.", ms=3)
        text = f"{r['accuracy']:.1f} +- {r['std']:.1f}" if math.isfinite(r["accuracy"]) else "diverged"
        ours.text(1, yi, text, va="center", fontsize=7,
                  bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
    ours.set_yticks(y, labels, fontsize=7)
    ours.set_xlim(0, 100)
    ours.set_xlabel("test accuracy % (dots: seeds)")
    shape = "x".join(str(s) for s in data["image_shape"][:2])
    ours.set_title(f"here: {data['model']} x{data['width_factor']:g} on {data['data']} {shape}, "
                   f"{data['epochs']} epochs, {len(data['seeds'])} seeds", fontsize=8)
    ours.grid(alpha=0.3, axis="x")
    reported = [(yi, r) for yi, r in zip(y, rows) if r["paper_accuracy"] is not None]
    paper.barh([yi for yi, _ in reported], [r["paper_accuracy"] for _, r in reported],
               xerr=[r["paper_std"] for _, r in reported],
               color=[c for c, (yi, r) in zip(colours, zip(y, rows)) if r["paper_accuracy"] is not None],
               alpha=0.5, capsize=3)
    for yi, r in reported:
        paper.text(90.2, yi, f"{r['paper_accuracy']:.2f}", va="center", fontsize=7)
    paper.set_xlim(90, 95)
    paper.set_xlabel("test accuracy % (paper)")
    paper.set_title("paper: ResNet-110 on CIFAR-10, 200 epochs, 8 seeds (Table 1)", fontsize=8)
    paper.grid(alpha=0.3, axis="x")
    fig.suptitle("Mean Shift Rejection Table 1 analogue (red: BN; blue: CZMIG; grey: CZMI, zmg 0)",
                 fontsize=9)
    fig.tight_layout()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # reproducible PDF: no creation date
    save_figure(fig, os.path.splitext(out)[0] + ".pdf")
    save_figure(fig, out, dpi=110)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/msr_table1.json",
                       out="figures/out/msr_table1.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
