"""NTK condition number vs depth (left) and vs data-set size on the critical line (right).

Reads ``results/kappa_depth.json`` (from ``analysis/kappa_depth.py``) and writes a PNG.
Run: .venv/bin/python figures/kappa_depth.py [--data ...] [--out figures/out/kappa_depth.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def draw(data: dict, out: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for label, series in data["kappa_vs_depth"].items():
        # kappa = inf (singular NTK, e.g. depth 1 with m > d) is left out
        points = [(d, max(k - 1.0, 1e-16)) for d, k in zip(series["depth"], series["kappa"])
                  if math.isfinite(k)]
        left.loglog(*zip(*points), marker="o", ms=3,
                    label=f"{label}: chi_1 = {series['chi_1']:.3f} ({series['phase']})")
    left.set_xlabel("depth L")
    left.set_ylabel(r"$\kappa - 1$ of the NTK")
    left.set_title(f"{data['data']}, m = {data['m']}", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3, which="both")
    for series in data["kappa_vs_size"]:
        right.plot(series["m"], series["kappa"], marker="o", ms=3,
                   label=f"L = {series['depth']}: slope {series['slope']:.3f}")
    sizes = data["kappa_vs_size"][0]["m"]
    right.plot(sizes, [1 + m / 3 for m in sizes], "k:", lw=1, label="1 + m/3 (orthogonal, L -> inf)")
    right.set_xlabel("number of inputs m")
    right.set_ylabel(r"$\kappa$ (plain ReLU, $\chi_1 = 1$)")
    right.set_title("critical line: kappa linear in m", fontsize=9)
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/kappa_depth.json", out="figures/out/kappa_depth.png", argv=argv,
                       required=("data", "m", "kappa_vs_depth", "kappa_vs_size"))


if __name__ == "__main__":
    raise SystemExit(run_script(main))
