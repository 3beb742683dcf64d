"""Benchmark: infinite-width NTK Gram matrix, kernelnorm vs neural-tangents, side by side.

FC ReLU network at the critical init (sigma_w2 = 2, sigma_b2 = 0), depth 100, m = 2000 inputs of
dimension 64 on the sphere (||x||^2 = d), float64; ``--unequal`` (issue 15): Gaussian inputs with
row norms spread over ``[0.5, 2] sqrt(d)`` and ``--sigma-b2 0.1``, which takes the exact
(Gram-matrix) path. Both compute the NNGP and NTK Gram matrices
from the raw inputs. Ours runs in this interpreter; neural-tangents 0.6.5 (jax 0.4.38) runs in the
pinned ``.venv-nt`` interpreter as a subprocess of this same run (the two jax versions cannot
share a process), with its ``kernel_fn`` under ``jax.jit``.

Printed: first call (compile + run) of each, steady state (best of ``--repeats`` calls) and their
ratio, the max relative difference (off the diagonal; on the diagonal both are compared with
the closed form ``Theta_L(x, x) = 2 L``), and kappa with its eigen-solver time.
On the exact path it also prints where the time goes (the diagonal recursion, the fused pair
loop) and the memory-bandwidth floor of one read and one write of an ``m x m`` float64 array
per layer, measured in the same run by a copy of that size.
Targets (issue 3): steady-state ratio >= 10, our first call <= 3 s, difference <= 1e-9;
(issue 15, ``--unequal``): ratio >= 10, difference off the diagonal <= 1e-12.

    .venv/bin/python benchmarks/ntk_vs_neural_tangents.py [--m 2000 --depth 100 --dim 64]
    .venv/bin/python benchmarks/ntk_vs_neural_tangents.py --unequal --sigma-b2 0.1
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _ours(scheme, x, depth, repeats):
    from kernelnorm.ntk import ntk_gram

    start = time.perf_counter()
    gram = ntk_gram(scheme, x, depth)
    first = time.perf_counter() - start
    steady = []
    for _ in range(repeats):
        start = time.perf_counter()
        ntk_gram(scheme, x, depth)
        steady.append(time.perf_counter() - start)
    return gram, first, min(steady)


def _copy_seconds(m, repeats=5):
    """Seconds of one read + one write of an ``m x m`` float64 array (the bandwidth floor of
    one layer), best of ``repeats``."""
    source = np.random.default_rng(0).random((m, m))
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return best


def _breakdown(scheme, x, depth):
    """Seconds of the diagonal recursion (``m`` values) and of the whole ``ntk_gram``."""
    from kernelnorm.ntk import diagonal_trajectory

    q0 = np.einsum("ij,ij->i", x, x) / x.shape[1]
    start = time.perf_counter()
    diagonal_trajectory(scheme, q0, depth)
    return time.perf_counter() - start


def _worst_and_random_pairs(ours, theirs, *, count: int) -> np.ndarray:
    """Off-diagonal pairs ``(i, j)``: the ``count`` where the two Gram matrices differ most
    (relatively) and ``count`` drawn at random."""
    m = len(ours)
    rows, cols = np.triu_indices(m, 1)
    gap = np.abs(ours[rows, cols] - theirs[rows, cols]) / np.abs(theirs[rows, cols])
    worst = np.argsort(gap)[-count:]
    chosen = np.random.default_rng(1).choice(len(rows), size=min(count, len(rows)), replace=False)
    picked = np.unique(np.concatenate([worst, chosen]))
    return np.stack([rows[picked], cols[picked]], axis=1)


def _reference_ntk(x, pairs, depth: int, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """The ReLU NTK of the chosen pairs in 40-digit arithmetic (mpmath), from the float inputs
    taken as exact: ``K^1 = sigma_w2 x.x'/d + sigma_b2``, then per layer (MimicNorm Eq. 3-4)
    ``K' = sigma_w2 sqrt(q q') (sin t + (pi - t) cos t)/(2 pi) + sigma_b2`` and
    ``Theta' = K' + sigma_w2 (pi - t)/(2 pi) Theta``, ``t = arccos(K/sqrt(q q'))``. An
    independent referee for both implementations."""
    import mpmath as mp

    mp.mp.dps = 40
    d = x.shape[1]

    def first(i, j):
        return sigma_w2 * mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x[i], x[j])) / d + sigma_b2

    out = []
    for i, j in pairs:
        q1, q2, c = first(i, i), first(j, j), first(i, j)
        theta_ntk = c
        for _ in range(depth - 1):
            t = mp.acos(c / mp.sqrt(q1 * q2))
            slope = (mp.pi - t) / (2 * mp.pi)
            c = sigma_w2 * mp.sqrt(q1 * q2) * (mp.sin(t) + (mp.pi - t) * mp.cos(t)) / (2 * mp.pi) + sigma_b2
            theta_ntk = c + sigma_w2 * slope * theta_ntk
            q1, q2 = sigma_w2 * q1 / 2 + sigma_b2, sigma_w2 * q2 / 2 + sigma_b2
        out.append(float(theta_ntk))
    return np.array(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unequal", action="store_true",
                        help="inputs of unequal norm (the exact path)")
    parser.add_argument("--sigma-b2", type=float, default=0.0)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    from kernelnorm import Plain
    from kernelnorm.data import sphere_points

    x = sphere_points(args.m, args.dim, seed=0).x
    if args.unequal:
        rng = np.random.default_rng(0)
        x = x * rng.uniform(0.5, 2.0, (args.m, 1))
    scheme = Plain(sigma_w2=2.0, sigma_b2=args.sigma_b2)
    start = time.perf_counter()
    import jax  # noqa: F401  (import cost reported separately from the first call)

    import_s = time.perf_counter() - start
    gram, first, steady = _ours(scheme, x, args.depth, args.repeats)

    from kernelnorm.ntk import spectrum

    spec = spectrum(gram.ntk)

    from kernelnorm.nt import run_oracle

    case = dict(name="fc", norm="plain", activation="relu", sigma_w2=2.0, sigma_b2=args.sigma_b2,
                width=None, depth=args.depth, x="x", jit=True, repeats=args.repeats)
    results, meta = run_oracle([case], {"x": x}, timeout=1800)
    nt_nngp, nt_ntk = results["fc"]
    nt_first = meta["timings"]["fc"]["first_call_s"]
    nt_steady = meta["timings"]["fc"]["steady_s"]

    off = ~np.eye(args.m, dtype=bool)
    # Theta_L(x, x) = sum_l q_l prod T_dot = sum_l q_l (T_dot(x, x) = 1 at sigma_w2 = 2)
    q = 2.0 * np.einsum("ij,ij->i", x, x) / args.dim + args.sigma_b2
    closed_form = sum(q + l * args.sigma_b2 for l in range(args.depth))
    numbers = {
        "m": args.m, "depth": args.depth, "dim": args.dim, "method": gram.method,
        "grid_size": gram.grid_size, "stated_error_bound": gram.error_bound,
        "jax_import_s": import_s,
        "ours_first_call_s": first, "ours_steady_s": steady,
        "nt_first_call_s": nt_first, "nt_steady_s": nt_steady,
        "steady_ratio": nt_steady / steady, "first_call_ratio": nt_first / first,
        "max_rel_diff_ntk_offdiag": float(np.max(np.abs(gram.ntk - nt_ntk)[off] / np.abs(nt_ntk)[off])),
        "max_rel_diff_nngp": float(np.max(np.abs(gram.nngp - nt_nngp) / np.abs(nt_nngp))),
        "ours_diag_rel_err": float(np.max(np.abs(np.diag(gram.ntk) - closed_form) / closed_form)),
        "nt_diag_rel_err": float(np.max(np.abs(np.diag(nt_ntk) - closed_form) / closed_form)),
        "kappa": spec.kappa, "lambda_min": spec.lambda_min, "lambda_max": spec.lambda_max,
        "eigen_s": spec.seconds, "versions": {"nt": meta["neural_tangents"], "nt_jax": meta["jax"]},
    }
    pairs = _worst_and_random_pairs(gram.ntk, nt_ntk, count=60)
    reference = _reference_ntk(x, pairs, args.depth, 2.0, args.sigma_b2)
    ours_err = np.abs(gram.ntk[pairs[:, 0], pairs[:, 1]] - reference) / np.abs(reference)
    nt_err = np.abs(nt_ntk[pairs[:, 0], pairs[:, 1]] - reference) / np.abs(reference)
    numbers.update({"reference_pairs": len(pairs), "ours_max_rel_err_vs_mpmath": float(ours_err.max()),
                    "nt_max_rel_err_vs_mpmath": float(nt_err.max())})
    if gram.method == "exact":
        diagonal = _breakdown(scheme, x, args.depth)
        floor = _copy_seconds(args.m) * (args.depth - 1)
        numbers.update({
            "diagonal_recursion_s": diagonal, "pair_loop_and_rest_s": steady - diagonal,
            "bandwidth_floor_s": floor, "floor_GB_per_s": 16.0 * args.m**2 / (floor / (args.depth - 1)) / 1e9,
            "steady_over_floor": steady / floor,
        })
    from kernelnorm.io import print_numbers

    norms = "unequal norms" if args.unequal else "the sphere"
    print_numbers(f"NTK Gram, FC ReLU sigma_w2 = 2, sigma_b2 = {args.sigma_b2}, inputs on {norms}, "
                  f"depth {args.depth}, m = {args.m}, dim {args.dim}, float64", numbers, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
