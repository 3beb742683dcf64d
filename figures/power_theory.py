"""Power plots of Proxy Norm's random nets with the infinite-width prediction overlaid, and
Theorem 1 read off the kernel.

One panel per scheme: the measured shares of the four terms of the power of ``y`` (stacked,
mean over nets) and the shares predicted from the conv kernel alone (dotted: the boundaries
between the stacked terms). Last panel: LN's ``rho = 1 - mu_c^2`` share, measured and predicted,
with Theorem 1's bound ``rho^(1) r^(l-1)``, and the identity activation's predicted ``rho``, for
which the bound is an equality.

Reads the JSON of ``analysis/power_theory.py``; writes ``--out`` (PNG) and a PDF beside it.
Run: .venv/bin/python figures/power_theory.py --data results/power_theory.json --out figures/out/power_theory.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()


import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402

COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#2ca02c")
LEGEND = (r"$\mu_c^2$", r"$\sigma_c(\mu_{x,c})^2$", r"$\mu_c(\sigma_{x,c})^2$",
          r"$\sigma_c(\sigma_{x,c})^2$")


def _scheme_panel(ax, result):
    measured = result["measured"]
    terms = measured["terms"]
    depth = np.arange(1, measured["depth"] + 1)
    shares = [measured["layers"][t]["mean"] for t in terms]
    stacks = ax.stackplot(depth, *shares, colors=COLOURS, alpha=0.8)
    predicted = np.cumsum(np.asarray(result["theory"]["shares"]), axis=1)[:, :3]
    lines = ax.plot(depth, predicted, color="black", ls=":", lw=1.7)
    ax.set_title(f"{result['label']}: {result['fraction_inside']:.0%} of layer-terms in band",
                 fontsize=9)
    ax.set_xlim(1, measured["depth"])
    ax.set_ylim(0, 1)
    ax.set_xlabel("depth")
    return stacks, lines[0]


def _theorem1_panel(ax, data):
    theorem = data.get("theorem1_ln")
    identity = data["theorem1_identity"]
    if theorem is not None:
        depth = np.arange(1, len(theorem["rho"]) + 1)
        ax.semilogy(depth, theorem["measured_rho"], "o", ms=3, color="#1f77b4", label="LN nets")
        ax.semilogy(depth, theorem["rho"], "-", color="#1f77b4", label="LN kernel")
        ax.semilogy(depth, theorem["bound"], "--", color="grey",
                    label=f"Theorem 1 bound, r = {theorem['rate']:.4f}")
    depth = np.arange(1, len(identity["rho"]) + 1)
    ax.semilogy(depth, identity["rho"], "-", color="#2ca02c", label="identity activation: kernel")
    ax.semilogy(depth, identity["bound"], ":", color="black", lw=2, label="= bound (equality case)")
    ax.set_xlabel("depth")
    ax.set_ylabel(r"$\rho = 1 - \mu_c^2$ share")
    ax.set_title("Proxy Norm Theorem 1 from the kernel", fontsize=9)
    ax.legend(fontsize=7)


def draw(data: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = list(data["schemes"].values())
    count = len(results) + 1
    columns = min(3, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 3.3 * rows + 0.6), squeeze=False)
    stacks, overlay = None, None
    for ax, result in zip(axes.flat, results):
        stacks, overlay = _scheme_panel(ax, result)
    _theorem1_panel(axes.flat[len(results)], data)
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    for ax in list(axes.flat)[:len(results)]:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("share of the power of y")
    config = data["config"]
    fig.suptitle(f"power of y in random ReLU conv nets: nets (stacked, width {config['width']}, "
                 f"{config['realisations']} nets) vs infinite-width kernel (dotted); "
                 f"{config['inputs']} digits at {config['resolution']}x{config['resolution']}",
                 fontsize=9)
    fig.legend(list(stacks) + [overlay], list(LEGEND) + ["kernel prediction"],
               loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    save_figure(fig, path, dpi=130, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/power_theory.json",
                       out="figures/out/power_theory.png", argv=argv,
                       required=("schemes", "config"))


if __name__ == "__main__":
    raise SystemExit(run_script(main))
