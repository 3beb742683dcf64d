"""Benchmark: kappa of the NTK Gram matrix at data-set sizes, without the m x m matrix.

FC ReLU, sigma_w2 = 2, sigma_b2 = 0.1, inputs of unequal norm (Gaussian rows scaled by
U(0.5, 2)), float64. Prints the matrix-free (circulant-band products + block Lanczos)
eigenvalues, kappa, wall time, number of Theta passes, devices and the process's peak resident
memory next to what one dense float64 Gram matrix would need; ``--check-dense`` also runs the
dense solver in the same run (only where it fits) and prints the relative differences;
``--compare-rows`` times one product both ways in the same run: the circulant pass against
row blocks of the full matrix (``BlockwiseNTK.rows``, the earlier product), and their ratio.

    .venv/bin/python benchmarks/ntk_kappa_large_m.py --m 20000 --depth 3 --tol 1e-6
    .venv/bin/python benchmarks/ntk_kappa_large_m.py --m 2000 --depth 10 --check-dense
    XLA_FLAGS=--xla_force_host_platform_device_count=2 .venv/bin/python \
        benchmarks/ntk_kappa_large_m.py --m 5000 --depth 3 --compare-rows
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=20000)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--block", type=int, default=None)
    parser.add_argument("--check-dense", action="store_true")
    parser.add_argument("--compare-rows", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from kernelnorm import Plain
    from kernelnorm.ntk import BlockwiseNTK, lanczos_extremes

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.m, args.dim)) * rng.uniform(0.5, 2.0, (args.m, 1))
    scheme = Plain(sigma_w2=2.0, sigma_b2=0.1)
    start = time.perf_counter()
    operator = BlockwiseNTK(scheme, x, args.depth, block=args.block)
    free = lanczos_extremes(operator, tol=args.tol)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    numbers = {"m": args.m, "depth": args.depth, "tol": args.tol, "block_rows": operator.block,
               "devices": operator.devices,
               "theta_products": operator.products,
               "lambda_max": free.lambda_max, "lambda_min": free.lambda_min,
               "kappa": free.kappa, "matrix_free_s": seconds,
               "seconds_per_product": seconds / max(operator.products, 1),
               "peak_rss_GiB": peak / 2**30, "dense_gram_GiB": 8.0 * args.m**2 / 2**30}
    if args.check_dense:
        from kernelnorm.ntk import ntk_gram, spectrum

        start = time.perf_counter()
        dense = spectrum(ntk_gram(scheme, x, args.depth, method="exact").ntk)
        numbers.update({"dense_s": time.perf_counter() - start,
                        "rel_diff_lambda_max": abs(free.lambda_max / dense.lambda_max - 1),
                        "rel_diff_lambda_min": abs(free.lambda_min / dense.lambda_min - 1),
                        "rel_diff_kappa": abs(free.kappa / dense.kappa - 1)})
    if args.compare_rows:
        numbers.update(_compare_rows(operator, rng))
    from kernelnorm.io import print_numbers

    print_numbers(f"NTK kappa without the Gram matrix: FC ReLU sigma_w2 = 2, sigma_b2 = 0.1, "
                  f"unequal norms, depth {args.depth}, m = {args.m}, float64", numbers, args.json)
    return 0


def _compare_rows(operator, rng) -> dict:
    """Seconds of one 32-column product by the circulant pass and by row blocks of the full
    matrix (256 rows at a time), each after a warm-up call, and their ratio."""
    v = rng.standard_normal((operator.m, 32))

    def by_rows():
        return np.concatenate([operator.rows(s, min(operator.m, s + 256)) @ v
                               for s in range(0, operator.m, 256)])

    times = {}
    for name, product in (("circulant", lambda: operator.matmat(v)), ("row_blocks", by_rows)):
        product()
        start = time.perf_counter()
        product()
        times[name] = time.perf_counter() - start
    return {"product_circulant_s": times["circulant"], "product_row_blocks_s": times["row_blocks"],
            "product_speedup": times["row_blocks"] / times["circulant"]}


if __name__ == "__main__":
    raise SystemExit(main())
