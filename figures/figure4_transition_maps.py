"""MimicNorm Figure 4: correlation maps with and without weight mean, fixed points marked.

Reads ``results/transition_maps.json`` (from ``analysis/transition_maps.py``) and writes a PNG.
Run: .venv/bin/python figures/figure4_transition_maps.py [--data ...] [--out figures/out/figure4.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()


import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def draw(data: dict, out: str) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    rho = data["rho"]
    ax.plot(rho, rho, color="0.6", lw=0.8, ls=":", label="identity")
    styles = {"plain (critical)": "-", "plain (ordered)": "--", "weight mean": "-", "BN": (0, (4, 3))}
    for size, (label, scheme) in zip((13, 10, 7, 4), data["schemes"].items()):
        line, = ax.plot(rho, scheme["T"], ls=styles.get(label, "-"), lw=1.6,
                        label=f"{label}: chi_1 = {scheme['chi_1']:.3f}")
        for point in scheme["fixed_points"]:
            ax.plot(point["rho"], point["rho"], "o", ms=size, color=line.get_color(), clip_on=False,
                    mfc=line.get_color() if point["stable"] else "white", zorder=3)
    ax.set_xlabel(r"input correlation $\rho$")
    ax.set_ylabel(r"next-layer correlation $T(\rho)$")
    ax.set_title(f"Transition operators ({data['activation']}); filled = stable, open = unstable fixed point", fontsize=9)
    ax.set_xlim(-1.02, 1.04)
    ax.set_ylim(-1.02, 1.04)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/transition_maps.json", out="figures/out/figure4_transition_maps.png", argv=argv,
                       required=("rho", "schemes", "activation"))


if __name__ == "__main__":
    raise SystemExit(run_script(main))
