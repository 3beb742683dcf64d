"""Mini-batch BN against MimicNorm's full-batch operator: gradient growth and fixed point vs B.

Left: predicted ``lambda(B)`` (per-layer growth of a back-propagated gradient) and ``chi_1(B)``
(one layer, white probe) with the Monte-Carlo measurements (95% intervals; at ``B = 4`` the
heavy-tail bounds) and the ``B -> inf`` line ``pi/(pi - 1)`` of Theorem 2, which weight mean
shares. Right: the fixed point ``c* = -1/(B - 1)`` and the measured mean pair correlation at the
last layer, against the exact Gram-map trajectory (weight mean: ``rho* = 0``).

Reads the data of ``analysis/minibatch_bn.py``; writes a PNG and a PDF beside it.
Run: .venv/bin/python figures/minibatch_bn.py [--data results/minibatch_bn.json]
     [--out figures/out/minibatch_bn.png]
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


def _bars(rows, key):
    """Error bars: the 95% interval, or the heavy-tail bounds ``(below, above)`` where given."""
    low = [r[f"{key}_bounds"][0] if f"{key}_bounds" in r else r[f"{key}_ci"] for r in rows]
    high = [r[f"{key}_bounds"][1] if f"{key}_bounds" in r else r[f"{key}_ci"] for r in rows]
    return np.array([low, high])


def build(data: dict):
    theory, rows = data["theory"], data["rows"]
    batches = [r["batch"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    left.semilogx(theory["batch"], theory["gradient_growth"], "C0-",
                  label=r"$\lambda(B)$: back-propagated gradient (theory)")
    left.semilogx(theory["batch"], theory["chi_1"], "C1-",
                  label=r"$\chi_1(B)$: one layer, white probe")
    left.errorbar(batches, [r["growth"] for r in rows], yerr=_bars(rows, "growth"), fmt="o",
                  color="C0", ms=4, capsize=3, label=r"measured $\lambda$ (backprop ratios)")
    left.errorbar(batches, [r["chi"] for r in rows], yerr=_bars(rows, "chi"), fmt="s", color="C1",
                  ms=4, capsize=3, label=r"measured $\chi_1$ (GradientStatistics.chi)")
    left.axhline(theory["limit"], color="k", ls="--", lw=1,
                 label=rf"$B\to\infty$ = weight mean: {theory['limit']:.4f}")
    left.set_xlabel("batch size B")
    left.set_ylabel("per-layer growth of squared gradient norm")
    top = max(theory["gradient_growth"][0], *(r["growth"] for r in rows))
    left.set_ylim(theory["limit"] - 0.1, 1.1 * top)
    config = data["config"]
    left.set_title(f"{data['activation']}, width {config['width']}, {config['seeds']} seeds",
                   fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3, which="both")

    right.semilogx(theory["batch"], theory["c_star"], "C2-", label=r"fixed point $c^* = -1/(B-1)$")
    right.errorbar(batches, [r["rho_last"] for r in rows], yerr=[r["rho_last_ci"] for r in rows],
                   fmt="o", color="C2", ms=4, capsize=3,
                   label=f"measured mean pair correlation, layer {config['forward_depth']}")
    right.plot(batches, [r["rho_last_predicted"] for r in rows], "kx", ms=6,
               label="exact Gram-map trajectory, same layer")
    right.axhline(0.0, color="k", ls="--", lw=1, label=r"weight mean / $B\to\infty$: $\rho^* = 0$")
    right.set_xlabel("batch size B")
    right.set_ylabel("correlation of input pairs")
    right.set_title("pairs start at 0.9, 0.5, 0, -0.5", fontsize=9)
    right.legend(fontsize=7)
    right.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def draw(data: dict, out: str) -> None:
    """Write ``out`` (PNG) and the PDF with the same stem."""
    save_figure(build(data), out)
    save_figure(build(data), os.path.splitext(out)[0] + ".pdf")


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/minibatch_bn.json",
                       out="figures/out/minibatch_bn.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
