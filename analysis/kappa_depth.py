"""Condition number of the infinite-width NTK vs depth and vs data-set size, on real data.

Xiao et al. (2019) Theorem 1 (MimicNorm Theorem 1) on digits / mnist1d: kappa vs depth for the
plain critical (sigma_w2 = 2) and ordered (sigma_b2 = 0.2 at stable init) ReLU nets, weight
mean and idealised BN; and kappa vs m on the critical line at several depths, with the slope
of the linear fit next to the orthogonal-input prediction 1/3 (docs/ntk.md).

Writes ``results/kappa_depth.json``.
Run: .venv/bin/python analysis/kappa_depth.py [--data digits] [--m 500] [--max-depth 200]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()


import numpy as np  # noqa: E402

from kernelnorm import BatchNorm, Plain, WeightMean, with_stable_init  # noqa: E402
from kernelnorm.io import ArgumentParser, integer, output_file, positive_int, run_script, write_json  # noqa: E402
from kernelnorm.data import load_dataset, normalise_rows  # noqa: E402
from kernelnorm.ntk import kappa_vs_depth, kappa_vs_size  # noqa: E402

SCHEMES = {
    "plain (critical)": Plain(),
    "plain (ordered)": with_stable_init(Plain(sigma_b2=0.2)),
    "weight mean": with_stable_init(WeightMean()),
    "BN": BatchNorm(),
}


def _depths(max_depth: int) -> list[int]:
    return sorted({int(d) for d in np.unique(np.geomspace(1, max_depth, 30).round())})


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--m", type=positive_int, default=500, help="inputs used for kappa vs depth")
    parser.add_argument("--max-depth", type=integer(1, 100_000), default=200)
    parser.add_argument("--size-depths", type=integer(1, 100_000), nargs="+", default=[10, 100, 1000])
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[25, 50, 100, 200, 400, 800])
    parser.add_argument("--out", type=output_file(), default="results/kappa_depth.json")
    args = parser.parse_args(argv)

    dataset = load_dataset(args.data)
    x = normalise_rows(dataset.x)
    depths = _depths(args.max_depth)
    by_depth = {}
    for label, scheme in SCHEMES.items():
        rows = kappa_vs_depth(scheme, x[: args.m], depths)
        by_depth[label] = {"chi_1": rows[0].chi_1, "phase": rows[0].phase,
                           "depth": depths, "kappa": [r.kappa for r in rows],
                           "error_bound": [r.error_bound for r in rows]}
        print(f"{label:18s} chi_1 = {rows[0].chi_1:.4f} ({rows[0].phase}): kappa(L=1) = "
              f"{rows[0].kappa:.4g}, kappa(L={depths[-1]}) = {rows[-1].kappa:.6g}")

    by_size = []
    sizes = [m for m in args.sizes if m <= len(x)]
    for depth in args.size_depths:
        rows = kappa_vs_size(Plain(), x, depth, sizes)
        kappas = np.array([r.kappa for r in rows])
        slope, intercept = np.polyfit(sizes, kappas, 1)
        by_size.append({"depth": depth, "m": sizes, "kappa": kappas.tolist(),
                        "slope": float(slope), "intercept": float(intercept),
                        "orthogonal_prediction": 1.0 / 3.0})
        print(f"critical, depth {depth:5d}: kappa ~ {slope:.4f} m + {intercept:.3g} "
              f"(orthogonal inputs, L -> inf: m/3 + 1)")

    write_json(args.out, {"data": dataset.name, "m": args.m, "kappa_vs_depth": by_depth,
                          "kappa_vs_size": by_size})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--depth": "--max-depth", "--max-points": "--m"}))
