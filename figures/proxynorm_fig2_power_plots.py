"""Proxy Normalization Figure 2 (top row): stacked power plots, one panel per scheme.

Reads the data of ``analysis/proxynorm_fig2_power_plots.py``; bottom red band: the channel-mean
share mu_c^2 (channel-wise collapse); dashed: channel-wise linearity R^2 of the activation step.
Run: python figures/proxynorm_fig2_power_plots.py --data DATA.json --out OUT.png
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

from kernelnorm.io import figure_main, run_script  # noqa: E402
from kernelnorm.power import draw_power_plot  # noqa: E402


def draw(data: dict, out: str) -> None:
    config = data["config"]
    title = (f"Proxy Norm Fig. 2 (top row): power of the normalised pre-activations y in random "
             f"ReLU conv nets ({config['inputs']} {data['data']} inputs at "
             f"{config['resolution']}x{config['resolution']}, width {config['width']}, "
             f"{config['realisations']} nets)")
    for path in (out, os.path.splitext(out)[0] + ".pdf"):
        draw_power_plot(data["profiles"], path, title=title, columns=4)


def main(argv=None) -> int:
    return figure_main(draw, __doc__, data="results/proxynorm_fig2_power_plots.json",
                       out="figures/out/proxynorm_fig2_power_plots.png", argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
