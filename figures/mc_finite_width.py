"""Finite-width Monte-Carlo figure: (a) CLT rate of the correlation error, (b) decorrelation
spread vs width (Appendix B.1 gap), (c) mini-batch BN gradient growth vs batch size.

Reads ``results/mc_rates.json``, ``results/decorrelation_depth.json`` and
``results/minibatch_bn.json`` (from ``analysis/mc_rates.py``, ``analysis/decorrelation_depth.py``,
``analysis/minibatch_bn.py``) and writes a PNG.
Run: .venv/bin/python figures/mc_finite_width.py [--out figures/out/mc_finite_width.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import ArgumentParser, data_file_errors, image_file, read_json, run_script, save_figure  # noqa: E402


def draw(rates, decor, minibatch, out):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    ax = axes[0]
    for name, row in rates["clt"].items():
        ax.errorbar(row["widths"], row["rms"], yerr=np.array(row["rms"]) * row["log_rms_se"],
                    marker="o", label=f"{name}: slope {row['slope']:.3f} ± {row['slope_se']:.3f}")
    w = np.array(rates["clt"]["plain"]["widths"], float)
    ax.plot(w, rates["clt"]["plain"]["rms"][0] * (w / w[0]) ** -0.5, "k:", label="n^-1/2")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="RMS correlation error",
           title="(a) CLT rate, depth 3")
    ax.legend(fontsize=8)
    ax = axes[1]
    for norm in ("weight-mean", "bn"):
        rows = [r for r in decor["rows"] if r["norm"] == norm]
        ax.plot([r["width"] for r in rows], [r["std"] for r in rows], "o-", label=f"{norm} measured")
    rows = [r for r in decor["rows"] if r["norm"] == "weight-mean"]
    ax.plot([r["width"] for r in rows], [r["predicted_std"] for r in rows], "k:",
            label="sqrt((2-s^2)/(n(1-s^2))), s=T'(0)")
    ax.axhline(0.2 / 3, color="0.6", lw=0.8, ls="--", label="[-0.2,0.2] = ±3 std")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="std of pair correlations",
           title=f"(b) digits, depth {decor['depth']}")
    ax.legend(fontsize=8)
    ax = axes[2]
    rows = minibatch["rows"]
    batches = [r["batch"] for r in rows]
    ax.errorbar(batches, [r["chi"] for r in rows], yerr=[r["chi_ci"] for r in rows], marker="o",
                label="per-layer Jacobian growth chi")
    ax.plot(batches, [r["backprop_growth"] for r in rows], "s-", label="back-propagated gradient")
    ax.axhline(math.pi / (math.pi - 1), color="k", ls=":", label="B -> inf: pi/(pi-1)")
    ax.set(xscale="log", xlabel="batch size B", ylabel="growth per layer", ylim=(1.4, 2.0),
           title=f"(c) mini-batch BN, width {minibatch['width']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out, dpi=130)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="results/mc_rates.json")
    parser.add_argument("--decorrelation", default="results/decorrelation_depth.json")
    parser.add_argument("--minibatch", default="results/minibatch_bn.json")
    parser.add_argument("--out", type=image_file, default="figures/out/mc_finite_width.png")
    args = parser.parse_args(argv)
    rates = read_json(args.rates, "--rates", required=("clt",))
    decorrelation = read_json(args.decorrelation, "--decorrelation", required=("depth", "rows"))
    minibatch = read_json(args.minibatch, "--minibatch", required=("width", "rows"))
    files = f"{args.rates}, {args.decorrelation} or {args.minibatch}"
    with data_file_errors("--rates/--decorrelation/--minibatch", files):
        draw(rates, decorrelation, minibatch, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
