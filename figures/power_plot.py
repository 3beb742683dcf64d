"""Stacked power plots of random conv nets, one panel per normalisation scheme (cf Proxy Norm
Figure 2), with MimicNorm's weight mean and CZM filters next to BN, LN, LN+PN.

Reads ``results/power_sweep.json`` (from ``analysis/power_sweep.py``) and writes a PNG.
Run: .venv/bin/python figures/power_plot.py [--data ...] [--out figures/out/power_plot.png]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()


from kernelnorm.io import (  # noqa: E402
    ArgumentParser,
    data_file_errors,
    image_file,
    integer,
    read_json,
    run_script,
)
from kernelnorm.power import draw_power_plot  # noqa: E402


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="results/power_sweep.json")
    parser.add_argument("--out", type=image_file, default="figures/out/power_plot.png")
    parser.add_argument("--columns", type=integer(1, 64), default=5)
    args = parser.parse_args(argv)
    data = read_json(args.data, required=("config", "profiles"))
    with data_file_errors("--data", args.data):
        config = data["config"]
        title = (f"power of the normalised pre-activations y in random ReLU conv nets "
                 f"({config['inputs']} {config['inputs_from']} inputs at "
                 f"{config['resolution']}x{config['resolution']}; bottom red band = channel-wise "
                 f"collapse)")
        draw_power_plot(data["profiles"], args.out, title=title, columns=args.columns)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
