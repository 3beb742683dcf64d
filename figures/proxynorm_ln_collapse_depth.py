"""Layer-norm collapse against depth (Proxy Norm §4): mu_c^2 share and rho = 1 - share.

Reads the data of ``analysis/proxynorm_ln_collapse_depth.py``. Left: the channel-mean share of
the normalised pre-activations (10-90% band over nets). Right: rho on a log scale with Theorem
1's bound ``rho^(1) r^(l-1)`` drawn from each LN curve's first layer.
Run: python figures/proxynorm_ln_collapse_depth.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kernelnorm.io import figure_main, run_script, save_figure  # noqa: E402


def draw(data: dict, out: str) -> None:
    config = data["config"]
    depth = np.arange(1, config["depth"] + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    ln = [s for s in data["series"] if s["norm"] == "ln"]
    others = [s for s in data["series"] if s["norm"] != "ln"]
    colours = dict(zip([s["label"] for s in ln], plt.cm.Reds(np.linspace(0.45, 0.95, len(ln)))))
    colours.update(zip([s["label"] for s in others], ("C2", "C0", "C4", "C1")))
    for s in data["series"]:
        c = colours[s["label"]]
        left.fill_between(depth, s["share"]["low"], s["share"]["high"], color=c, alpha=0.2, lw=0)
        left.plot(depth, s["share"]["mean"], color=c, lw=1.6, label=s["label"])
        positive = np.asarray(s["rho"]) > 1e-12
        right.plot(depth[positive], np.asarray(s["rho"])[positive], color=c, lw=1.6,
                   label=f"{s['label']}: log rate {s['fitted_log_rate']:.4f}")
    for i, s in enumerate(ln):
        right.plot(depth, s["rho"][0] * data["rate"] ** (depth - 1), color=colours[s["label"]],
                   ls=":", lw=1.1, label=f"Theorem 1 bound, log r = {data['log_rate']:.4f}"
                   if i == 0 else None)
    left.set(xlabel="depth l", ylabel=r"$\mu_c^2$ share of the power of y", ylim=(-0.02, 1.02),
             title="channel-wise collapse: LN and GN rise towards 1")
    right.set(yscale="log", xlabel="depth l", ylabel=r"$\rho = 1 - \mu_c^2$ share",
              title="rho decays at least geometrically under LN (dotted: bound)")
    for ax in (left, right):
        ax.title.set_fontsize(9.5)
        ax.legend(fontsize=7.5)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"LN collapse against depth: random ReLU conv nets, {config['inputs']} "
                 f"{data['data']} inputs at {config['resolution']}x{config['resolution']}, "
                 f"{config['realisations']} nets per curve", fontsize=10.5)
    fig.tight_layout()
    save_figure(fig, out, pdf=True)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/proxynorm_ln_collapse_depth.json",
                       out="figures/out/proxynorm_ln_collapse_depth.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
