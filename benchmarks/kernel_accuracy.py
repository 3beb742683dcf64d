"""Worst error of every activation kernel against an independent high-precision reference.

Grid: q1, q2 in {1e-6, 1e-4, 1e-2, 1, 1e2, 1e4} (both orders), rho in {-1, -1 + 1e-12,
-0.999, -0.9, -0.5, 0, 0.3, 0.7, 0.99, 1 - 1e-12, 1}. References (tests/mp_reference.py):

* ReLU, erf, GELU (closed forms): the same formulas in 60-digit mpmath at the same float
  inputs; GELU's formula itself against the library's independent quadrature and against
  mpmath integrals at rho = +-1 (tests/test_kernel_accuracy.py);
* tanh, SiLU: the extended-precision (x86 long double) composite Gauss-Legendre rule for the
  two-dimensional kernels, mpmath tanh-sinh quadrature for the means.

Prints, per activation and kernel, the worst relative error ``|K - K_exact| / |K_exact|`` (over
values with ``|K_exact| >= 1e-4 S``), the worst ``|K - K_exact| / S`` (``S`` the kernel's
Cauchy-Schwarz scale) and where they occur. Stated accuracy: 1e-10 relative, 1e-14 S.
Run: PYTHONPATH=. .venv/bin/python benchmarks/kernel_accuracy.py [--quick] [--activations ...]
(the two-dimensional tanh/SiLU references take a few minutes).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import mpmath as mp

import kernelnorm as kn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import mp_reference as reference  # noqa: E402

Q = [1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4]
RHO = [-1.0, -1 + 1e-12, -0.999, -0.9, -0.5, 0.0, 0.3, 0.7, 0.99, 1 - 1e-12, 1.0]


def exact_and_scale(name, kind, q1, q2, c):
    if name in ("relu", "erf", "gelu"):
        with mp.workdps(60):
            exact = reference.mp_closed_form(name, kind, q1, q2, c)
            scale = mp.sqrt(reference.mp_closed_form(name, kind, q1, q1, q1)
                            * reference.mp_closed_form(name, kind, q2, q2, q2))
        return float(exact), float(scale)
    return reference.reference(name, kind, q1, q2, c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="q in {1e-6, 1, 1e4} only")
    parser.add_argument("--activations", nargs="+", default=["relu", "erf", "gelu", "tanh", "silu"])
    args = parser.parse_args()
    qs = [1e-6, 1.0, 1e4] if args.quick else Q
    pairs = [(a, b) for a in qs for b in qs]
    print(f"{'activation':<10} {'kernel':<16} {'max rel. error':>15} {'at (q1, q2, rho)':<28} "
          f"{'max error / S':>14}")
    for name in args.activations:
        activation = kn.get_activation(name)
        for kind in ("dual", "derivative_dual", "mean"):
            if kind == "mean" and name in ("relu", "erf", "tanh"):
                continue  # closed forms sqrt(q / 2 pi), 0, 0 (odd)
            worst_rel, worst_abs, where = 0.0, 0.0, None
            points = ([(q, None, None) for q in qs] if kind == "mean"
                      else [(a, b, r) for a, b in pairs for r in RHO])
            for q1, q2, rho in points:
                if kind == "mean":
                    exact = float(reference.mp_line(name, "mean", q1))
                    scale = math.sqrt(float(reference.mp_line(name, "dual", q1)))
                    value = float(activation.mean(q1))
                else:
                    c = rho * math.sqrt(q1 * q2)
                    exact, scale = exact_and_scale(name, kind, q1, q2, c)
                    value = float(getattr(activation, kind)(q1, q2, c))
                error = abs(value - exact)
                worst_abs = max(worst_abs, error / scale)
                if abs(exact) >= 1e-4 * scale and error / abs(exact) > worst_rel:
                    worst_rel, where = error / abs(exact), (q1, q2, rho)
            shown = "-" if where is None else ", ".join(format(v, "g") for v in where
                                                         if v is not None)
            print(f"{name:<10} {kind:<16} {worst_rel:>15.3g} ({shown:<26}) {worst_abs:>14.3g}",
                  flush=True)


if __name__ == "__main__":
    main()
