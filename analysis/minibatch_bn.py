"""Mini-batch BN: per-layer gradient growth and the correlation fixed point vs batch size B.

The idealised operator (B -> infinity) predicts chi_1 = pi/(pi-1) = 1.4669 per layer for ReLU and
a fixed point rho* = 0 of the map T_bar; a batch of B centres every unit, so within-batch correlations average
-1/(B-1) (Yang et al. 2019). Measures, at width n and depth L, the per-layer Jacobian growth
(``chi``, fresh probes), the growth of one back-propagated gradient (geometric mean over layers)
the mean within-batch pair correlation at the last layer, and the one-layer correlation map
at input correlations -0.5, 0, 0.5, 0.9 (pairs inside a mini-batch) against T_bar.

Writes ``results/minibatch_bn.json``.
Run: .venv/bin/python analysis/minibatch_bn.py [--batches 4 8 16 32 64 128] [--width 256]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import math  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

from kernelnorm.io import ArgumentParser, integer, output_file, run_script, write_json  # noqa: E402
from kernelnorm import BatchNorm, KernelnormInputError, MiniBatchNorm  # noqa: E402
from kernelnorm import correlation_map  # noqa: E402
from kernelnorm.montecarlo import (  # noqa: E402
    independent_pairs,
    mean_ci,
    sample_gradient_statistics,
    sample_statistics,
)

LIMIT = math.pi / (math.pi - 1.0)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=integer(2), nargs="+", default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--inputs", type=integer(2, 65536), default=128)
    parser.add_argument("--width", type=integer(2), default=256)
    parser.add_argument("--depth", type=integer(4), default=12)
    parser.add_argument("--seeds", type=integer(2), default=8)
    parser.add_argument("--out", type=output_file(), default="results/minibatch_bn.json")
    args = parser.parse_args(argv)
    for batch in args.batches:
        if args.inputs % batch:
            raise KernelnormInputError("--batches", f"each must divide --inputs {args.inputs}, got {batch}")
    map_rhos = np.array([-0.5, 0.0, 0.5, 0.9])
    pair_rhos = np.tile(map_rhos, args.inputs // 2 // len(map_rhos) + 1)[: args.inputs // 2]
    inputs = independent_pairs(pair_rhos, args.inputs, seed=0)
    predicted_map = correlation_map(BatchNorm("relu"), map_rhos)
    rows = []
    for batch in args.batches:
        scheme = MiniBatchNorm("relu", batch_size=batch)
        grads = sample_gradient_statistics(scheme, inputs.x, seed=batch, seeds=args.seeds,
                                           width=args.width, depth=args.depth)
        chi = mean_ci(grads.chi[:, 2:].ravel())
        steps = np.log(grads.backprop[:, 1:] / grads.backprop[:, :-1])[:, 2:]
        growth = math.exp(float(steps.mean()))
        stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=batch, seeds=args.seeds,
                                  width=args.width, depth=args.depth)
        rho = mean_ci(stats.correlations[:, -1].ravel())
        # one BN layer (layer 1 -> 2): the map at the measured input correlations, per rho
        one_layer = [mean_ci(stats.correlations[:, 1][:, pair_rhos == r].ravel()) for r in map_rhos]
        rows.append({"batch": batch, "chi": float(chi.mean), "chi_ci": float(chi.half_width),
                     "backprop_growth": growth, "limit": LIMIT,
                     "rho_last": float(rho.mean), "rho_ci": float(rho.half_width),
                     "centring_rho": -1.0 / (batch - 1),
                     "map_rho_in": map_rhos, "map_measured": [float(e.mean) for e in one_layer],
                     "map_ci": [float(e.half_width) for e in one_layer],
                     "map_b_infinity": predicted_map})
        r = rows[-1]
        print(f"B={batch:<4} chi {r['chi']:.4f} +- {r['chi_ci']:.4f}  backprop growth/layer "
              f"{growth:.4f}  (B->inf: {LIMIT:.4f})  rho_L {r['rho_last']:+.4f} +- {r['rho_ci']:.4f} "
              f"(-1/(B-1) = {r['centring_rho']:+.4f})\n      one-layer map T(rho) at rho = "
              f"{map_rhos.tolist()}: {np.round(r['map_measured'], 4).tolist()} +- "
              f"{np.round(r['map_ci'], 4).tolist()} (B->inf {np.round(predicted_map, 4).tolist()})",
              flush=True)
    write_json(args.out, {"width": args.width, "depth": args.depth, "seeds": args.seeds, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--batch-size": "--batches", "--input-dim": "--inputs"}))
