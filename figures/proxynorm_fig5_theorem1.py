"""Proxy Normalization Figure 5: Theorem 1 in random LN nets and channel-wise linearity.

Reads the data of ``analysis/proxynorm_fig5_theorem1.py``. Left: rho = 1 - mu_c^2 share of
ReLU LN nets against Theorem 1's bound rho^(1) r^(l-1). Middle: identity LN nets (the equality
case), rho / bound. Right: channel-wise linearity R^2 per scheme. Bands: 10-90% over nets.
Run: python figures/proxynorm_fig5_theorem1.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def _band(ax, depth, stat, colour, label):
    ax.fill_between(depth, stat["low"], stat["high"], color=colour, alpha=0.25, lw=0)
    ax.plot(depth, stat["mean"], color=colour, lw=1.6, label=label)


def draw(data: dict, out: str) -> None:
    config = data["config"]
    depth = np.arange(1, config["depth"] + 1)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    ax = axes[0]
    relu = data["relu"]
    _band(ax, depth, relu["rho"], "C3", f"measured, ReLU (fitted log rate "
                                        f"{relu['fitted_log_rate']:.4f})")
    ax.plot(depth, relu["bound"], "k--", lw=1.3,
            label=f"Theorem 1 bound rho(1) r^(l-1), log r = {data['log_rate']:.4f}")
    ax.set(yscale="log", xlabel="depth l", ylabel=r"$\rho = 1 - \mu_c^2$ share",
           title="LN, ReLU: collapse at least as fast as the bound")
    ax = axes[1]
    _band(ax, depth, data["identity"]["ratio"], "C0",
          f"measured / bound, phi = identity (fitted log rate "
          f"{data['identity']['fitted_log_rate']:.4f})")
    ax.axhline(1.0, color="k", ls="--", lw=1.3, label="equality (their §D.4, wide limit)")
    identity = data["identity"]
    ax.plot(depth, np.array(identity["finite_width"]) / np.array(identity["bound"]), "C2-.",
            lw=1.4, label=f"finite width C = {config['width']}: LN removes 1/C of the channel "
                          "mean (derived here)")
    ax.set(xlabel="depth l", ylabel=r"$\rho^{(l)} / (\rho^{(1)} r^{l-1})$",
           title="LN, identity activation: equality up to finite width")
    ax = axes[2]
    for colour, (label, stat) in zip(("C3", "C2", "C0", "C1", "C4"), data["linearity"].items()):
        _band(ax, depth, stat, colour, label)
    ax.axhline(data["gaussian_relu_linearity"], color="0.4", ls=":", lw=1.2,
               label="ReLU on a standard Gaussian channel (0.733)")
    ax.set(xlabel="depth l", ylabel=r"channel-wise linearity $R^2$", ylim=(0.6, 1.01),
           title="collapse makes the ReLU channel-wise linear")
    for ax in axes:
        ax.title.set_fontsize(9.5)
        ax.legend(fontsize=7.5)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"Proxy Norm Fig. 5: random nets, width {config['width']}, {config['inputs']} "
                 f"{data['data']} inputs at {config['resolution']}x{config['resolution']}, "
                 f"{config['realisations']} nets", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/proxynorm_fig5_theorem1.json",
                       out="figures/out/proxynorm_fig5_theorem1.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
