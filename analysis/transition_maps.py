"""MimicNorm Figure 4 data: correlation maps of plain vs weight-mean vs BN nets, with fixed points.

Writes ``results/transition_maps.json`` (atomically): for each scheme the grid ``rho``, ``T(rho)``,
``T'(rho)``, its fixed points (rho*, slope, stability), ``chi_1`` and the phase.
Run: .venv/bin/python analysis/transition_maps.py [--activation relu] [--out results/transition_maps.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()


import numpy as np  # noqa: E402

from kernelnorm import comparison_schemes, correlation_map, correlation_map_slope, summarise  # noqa: E402
from kernelnorm.io import ArgumentParser, output_file, run_script, write_json  # noqa: E402


#: The rows of ``kernelnorm compare`` that MimicNorm Figure 4 draws.
FIGURE4 = ("plain (critical)", "plain (ordered)", "weight mean", "BN")


def transition_maps(activation: str = "relu", grid: int = 401, rows=FIGURE4) -> dict:
    rhos = np.linspace(-1.0, 1.0, grid)
    schemes = {}
    for label, scheme in comparison_schemes(activation):
        if label not in rows or isinstance(scheme, str):  # str: why the row is missing
            continue
        summary = summarise(scheme)
        schemes[label] = {
            "T": correlation_map(scheme, rhos).tolist(),
            "slope": correlation_map_slope(scheme, rhos).tolist(),
            **summary.as_dict(),
        }
    return {"activation": activation, "rho": rhos.tolist(), "schemes": schemes}


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--out", type=output_file(), default="results/transition_maps.json")
    args = parser.parse_args(argv)
    write_json(args.out, transition_maps(args.activation))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--sigma-b2": "--activation"}))
