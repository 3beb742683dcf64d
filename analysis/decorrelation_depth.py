"""Appendix B.1 at finite width: correlations of real digit pairs through depth.

Plain ReLU nets (critical init) keep/freeze correlations near 1; weight mean and BN drive them
to rho* = 0, but a width-n net leaves a spread around 0. The script measures, at the last layer,
the mean and std of pair correlations (over pairs and seeds), the fraction in [-0.2, 0.2], and
``std * sqrt(n)``: constant if the spread is finite-width (CLT) noise.

Prediction (linear noise propagation at ``rho* = 0``, slope ``s = T'(0)``): each layer draws
two fresh sampling errors over its ``n`` units, each of variance ``1/n`` at zero correlation:
the weights' (the Gaussian columns given the layer input) and the activations' (the empirical
kernel of ``phi(h)``). The latter is correlated with the sample correlation of ``h`` with
coefficient ``E[u phi(u)]^2 / Var phi = s``; that part is already carried by the map, leaving
``(1 - s^2)/n`` new. The stationary variance ``V = s^2 V + (2 - s^2)/n`` gives
``std = sqrt((2 - s^2) / (n (1 - s^2)))`` = 1.78/sqrt(n) for ReLU weight mean / BN.

Writes ``results/decorrelation_depth.json``.
Run: .venv/bin/python analysis/decorrelation_depth.py [--widths 64 128 256 512] [--depth 50]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

from kernelnorm.io import ArgumentParser, integer, output_file, positive_int, run_script, write_json  # noqa: E402
from kernelnorm import BatchNorm, Plain, WeightMean  # noqa: E402
from kernelnorm import correlation_map_slope, with_stable_init  # noqa: E402
from kernelnorm.data import load_digits, normalise_rows  # noqa: E402
from kernelnorm.montecarlo import check_sampling, data_pairs, sample_statistics  # noqa: E402


def schemes(width):
    return {"plain": Plain("relu"), "weight-mean": with_stable_init(WeightMean("relu", width=width)),
            "bn": BatchNorm("relu")}


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=integer(2), nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--depth", type=positive_int, default=50)
    parser.add_argument("--seeds", type=integer(2), default=8)
    parser.add_argument("--inputs", type=integer(2), default=96, help="digits per network (= BN batch)")
    parser.add_argument("--pairs", type=positive_int, default=200)
    parser.add_argument("--out", type=output_file(), default="results/decorrelation_depth.json")
    args = parser.parse_args(argv)
    x = normalise_rows(load_digits().x)[: args.inputs]
    inputs = data_pairs(x, count=args.pairs, seed=0)
    check_sampling(Plain("relu"), inputs.x, inputs.pairs, seed=0, seeds=args.seeds,  # all widths
                   width=max(args.widths), depth=args.depth)
    rows = []
    for width in args.widths:
        for name, scheme in schemes(width).items():
            stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=width, seeds=args.seeds,
                                      width=width, depth=args.depth)
            last = stats.correlations[:, -1].ravel()
            slope = float(correlation_map_slope(scheme, 0.0)) if name != "plain" else float("nan")
            predicted = (math.sqrt((2.0 - slope**2) / (width * (1.0 - slope**2)))
                         if name != "plain" else float("nan"))
            rows.append({"width": width, "norm": name, "mean": float(last.mean()),
                         "std": float(last.std(ddof=1)), "std_sqrt_n": float(last.std(ddof=1) * math.sqrt(width)),
                         "predicted_std": predicted,
                         "fraction_in_0.2": float(np.mean(np.abs(last) <= 0.2)),
                         "min": float(last.min()), "max": float(last.max())})
            r = rows[-1]
            print(f"n={width:<5} {name:<12} mean {r['mean']:+.4f} std {r['std']:.4f} "
                  f"(pred {r['predicted_std']:.4f}) std*sqrt(n) {r['std_sqrt_n']:.3f} "
                  f"in[-.2,.2] {r['fraction_in_0.2']:.3f} range [{r['min']:+.3f}, {r['max']:+.3f}]",
                  flush=True)
    input_rho = inputs.correlations
    write_json(args.out, {"depth": args.depth, "seeds": args.seeds, "inputs": args.inputs,
                          "input_correlation_mean": float(input_rho.mean()),
                          "input_correlation_std": float(input_rho.std()), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--width": "--widths", "--data": "--inputs", "count": "--pairs"}))
