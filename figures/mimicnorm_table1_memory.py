"""MimicNorm Table 1 (memory column): training memory relative to BN, paper beside measured.

Reads the data of ``analysis/mimicnorm_table1_memory.py``. Bars: memory of each scheme divided
by BN's memory on the same model, hatched = the paper (PyTorch, GPU totals), solid = here (XLA
peak of one step); numbers on the bars are absolute MB / MiB.
Run: python figures/mimicnorm_table1_memory.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

COLOURS = {"mimicnorm": "C3", "mimicnorm[graph-wm]": "C1", "plain": "C7", "fixup": "C4"}


def draw(data: dict, out: str) -> None:
    tables = data["tables"]
    fig, ax = plt.subplots(figsize=(max(6.0, 3.2 * len(tables)), 4.6))
    x, ticks, labels = 0.0, [], []
    seen = set()
    for model, table in tables.items():
        start = x
        bn_paper = table["paper"].get("bn")
        for row in table["rows"]:
            scheme = row["scheme"]
            if scheme == "bn":
                continue
            colour = COLOURS.get(scheme, "C0")
            paper = table["paper"].get(scheme)
            if paper is not None and bn_paper:
                ax.bar(x, paper / bn_paper, 0.4, color="white", edgecolor=colour, hatch="///",
                       label="paper (PyTorch GPU total)" if "paper" not in seen else None)
                ax.text(x, paper / bn_paper + 0.01, f"{paper}", ha="center", fontsize=6.5,
                        rotation=90, va="bottom")
                seen.add("paper")
                x += 0.42
            ax.bar(x, row["/bn"], 0.4, color=colour,
                   label=f"{scheme} (here)" if scheme not in seen else None)
            ax.text(x, row["/bn"] + 0.01, f"{row['peak_MiB']:.0f}", ha="center", fontsize=6.5,
                    rotation=90, va="bottom")
            seen.add(scheme)
            x += 0.6
        ticks.append((start + x - 0.6) / 2)
        labels.append(f"{model}\nbatch {table['batch']}")
        x += 0.6
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xticks(ticks, labels, fontsize=8.5)
    ax.set(ylabel="training memory / BN's", ylim=(0, 1.3))
    ax.legend(fontsize=7.5, ncol=2, loc="upper right")
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("MimicNorm Table 1 memory column: relative to BN (labels: MB in the paper, MiB "
                 "here: XLA peak of one jitted step, CPU, float32)", fontsize=9.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/mimicnorm_table1_memory.json",
                       out="figures/out/mimicnorm_table1_memory.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
