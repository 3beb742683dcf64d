"""Mean shift through depth: the mean-shift share of every convolution's output, the share of the
input's mean shift it passes on, and the filters' common-mode gain, at init and after training.

Reads ``results/msr_mean_shift.json`` (from ``analysis/msr_mean_shift.py``) and writes a PNG and a
PDF beside it.
Run: python figures/msr_mean_shift.py [--data ...] [--out figures/out/msr_mean_shift.png]
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

FLOOR = 1e-6  # log-scale floor for exact zeros (CZM filters at zmg = 1)


def _first_seed(runs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for r in runs:
        if r["label"] not in seen:
            seen.add(r["label"])
            out.append(r)
    return out


def draw(data: dict, out: str) -> None:
    runs = _first_seed(data["runs"])
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3))
    share, passed, gain, zmg = axes
    for k, r in enumerate(runs):
        colour = cmap(k % 10)
        layers = r["initial"]
        x = np.arange(len(layers))
        share.plot(x, [q["output_share"] for q in layers], ":", color=colour, lw=1)
        if r["trained"]:
            share.plot(x, [q["output_share"] for q in r["trained"]], "-o", color=colour, ms=3,
                       label=f"{r['label']} ({100 * r['test_accuracy']:.1f}%)")
            passed.plot(x, [max(q["transmitted_interior"], FLOOR) for q in r["trained"]], "-o",
                        color=colour, ms=3, label=r["label"])
            passed.plot(x, [max(q["transmitted"], FLOOR) for q in r["trained"]], "--", color=colour, lw=0.8)
            gain.plot(x, [max(q["common_mode_gain"], FLOOR) for q in r["trained"]], "-o", color=colour,
                      ms=3, label=r["label"])
    names = [q["layer"].replace("stage", "s").replace("/block", "b").replace("/", " ") for q in runs[0]["initial"]]
    for ax in (share, passed, gain):
        ax.set_xticks(np.arange(len(names)), names, rotation=60, fontsize=6, ha="right")
        ax.grid(alpha=0.3, which="both")
    share.set_ylabel("mean-shift share of the conv output (mu_c^2 / P)")
    share.set_title("mean shift in each convolution's output\n(dotted: at init; solid: trained)", fontsize=8)
    share.legend(fontsize=6)
    passed.set_yscale("log")
    passed.set_ylabel("share of output power = input mean shift passed on")
    passed.set_title("after training: interior positions (solid),\nall positions incl. zero padding (dashed)",
                     fontsize=8)
    gain.set_yscale("log")
    gain.axhline(1.0, color="grey", ls=":", lw=1)
    gain.set_ylabel("common-mode gain (random filter: 1; CZM: 0)")
    gain.set_title("filters' gain for a constant input after training\n(1x1 shortcuts: 1; exact zeros drawn at 1e-6)",
                   fontsize=8)
    rows = data["zmg_prediction"]
    if rows:
        z = np.array([r["zmg"] for r in rows])
        zmg.semilogy(z, [max(r["gain"], FLOOR) for r in rows], "o-", label="measured (CZM layers, mean)")
        zmg.semilogy(z, [max(r["predicted"], FLOOR) for r in rows], "k--",
                     label="(1 - z)^2 x gain at z = 0 (first order)")
        for r in rows:
            zmg.annotate(f"{100 * r['rejected']:.1f}% rejected", (r["zmg"], max(r["gain"], FLOOR)),
                         fontsize=6, xytext=(3, 3), textcoords="offset points")
    zmg.set_xlabel("zmg factor z")
    zmg.set_ylabel("common-mode gain after training")
    zmg.set_title("CZMG keeps filters near the isocline", fontsize=8)
    zmg.grid(alpha=0.3, which="both")
    zmg.legend(fontsize=6)
    shape = "x".join(str(s) for s in data["image_shape"][:2])
    fig.suptitle(f"{data['model']} x{data['width_factor']:g} on {data['data']} {shape}, {data['epochs']} epochs "
                 f"at lr {data['lr']:g}; measured on {data['probe']} held-out images", fontsize=9)
    fig.tight_layout()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")  # reproducible PDF: no creation date
    save_figure(fig, os.path.splitext(out)[0] + ".pdf")
    save_figure(fig, out, dpi=110)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/msr_mean_shift.json",
                       out="figures/out/msr_mean_shift.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
