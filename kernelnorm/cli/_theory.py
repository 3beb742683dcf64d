"""Scalar theory commands: chi1, map, fixed-points, stable-init, critical-line, compare.

None of these import JAX; the target is <= 0.5 s wall per call (benchmarks/cli_latency.py).
"""

from __future__ import annotations

import math

from kernelnorm.cli._common import (
    add_json,
    add_norm_argument,
    describe_scheme,
    add_scheme_arguments,
    correlation,
    emit,
    format_number,
    format_table,
    positive_int,
    progress,
    scheme_from_args,
    variance,
    width,
)


def _chi1(args):
    from kernelnorm._transition import chi_1, phase

    scheme = scheme_from_args(args)
    value = chi_1(scheme)
    emit(args, {"chi_1": value, "phase": phase(value), "scheme": describe_scheme(scheme)},
         f"chi_1 = {value:.15g}   ({phase(value)}; {describe_scheme(scheme)})")


def _map(args):
    import numpy as np

    from kernelnorm._transition import correlation_map, correlation_map_slope

    scheme = scheme_from_args(args)
    rhos = np.asarray(args.rho, dtype=np.float64)
    values, slopes = correlation_map(scheme, rhos), correlation_map_slope(scheme, rhos)
    rows = [{"rho": float(r), "T(rho)": float(t), "T'(rho)": float(s)}
            for r, t, s in zip(rhos, values, slopes)]
    emit(args, {"scheme": describe_scheme(scheme), "map": rows},
         f"correlation map of {describe_scheme(scheme)}\n"
         + format_table(rows, ["rho", "T(rho)", "T'(rho)"], digits=12))


def _fixed_points(args):
    from kernelnorm._transition import summarise

    scheme = scheme_from_args(args)
    summary = summarise(scheme)
    rows = [{"rho*": p.rho, "slope": p.slope,
             "stability": ("stable" if p.stable else "unstable") + (" (marginal)" if p.marginal else "")}
            for p in summary.fixed_points]
    text = (f"{describe_scheme(scheme)}\n"
            f"q* = {format_number(summary.q_star, 12)}, chi_1 = {summary.chi_1:.12g} ({summary.phase}), "
            f"xi_c = {format_number(summary.xi_c)}, xi_q = {format_number(summary.xi_q)}\n"
            + format_table(rows, ["rho*", "slope", "stability"], digits=12))
    emit(args, summary.as_dict(), text)


def _stable_init(args):
    from kernelnorm._transition import stable_init

    scheme = scheme_from_args(args)
    sigma_w2 = stable_init(scheme)
    width_note = f", width = {format_number(scheme.width)}" if scheme.scheme.weights == "mean" else ""
    payload = {"sigma_w2": sigma_w2, "sigma_w": math.sqrt(sigma_w2), "sigma_b2": scheme.sigma_b2,
               "norm": scheme.name, "activation": scheme.activation.name,
               "width": scheme.width if scheme.scheme.weights == "mean" else None}
    emit(args, payload, f"sigma_w2 = {sigma_w2:.15g}   sigma_w = {math.sqrt(sigma_w2):.15g}   "
                        f"(q* = 1; {scheme.name}, {scheme.activation.name}, "
                        f"sigma_b2 = {scheme.sigma_b2:g}{width_note})")


def _critical_line(args):
    from kernelnorm._errors import KernelnormInputError
    from kernelnorm._registry import get_scheme
    from kernelnorm._schemes import DenseBlock
    from kernelnorm._transition import critical_line

    scheme = get_scheme(args.norm)
    if args.width is not None and scheme.weights != "mean":
        raise KernelnormInputError("--width", f"is the input width of weight-mean layers; "
                                              f"{scheme.name} has none")
    rows = []
    for sigma_b2 in args.sigma_b2:  # the solver varies sigma_w2 itself
        block = DenseBlock(scheme, args.activation, sigma_w2=1.0, sigma_b2=sigma_b2,
                           width=math.inf if args.width is None else args.width)
        rows.append({"sigma_b2": sigma_b2, "sigma_w2": critical_line(block)})
    emit(args, rows, f"critical line (chi_1 = 1) of {args.norm}, {args.activation}\n"
                     + format_table(rows, ["sigma_b2", "sigma_w2"], digits=12))


def _compare(args):
    from kernelnorm._compare import COMPARE_COLUMNS, compare
    from kernelnorm._errors import renamed_arguments

    with renamed_arguments({"--sigma-b2": "--activation"}):  # the rows' fixed biases
        rows = compare(args.activation, width=args.width)
    columns = COMPARE_COLUMNS
    if args.power:  # random conv nets (JAX): collapse share mu_c^2 at --power-depth
        from kernelnorm.power import add_collapse_column, collapse_shares

        column = f"mu_c^2@{args.power_depth}"
        with renamed_arguments({f"--{k}": f"--power-{k}" for k in ("depth", "width", "realisations")}):
            shares = collapse_shares(depth=args.power_depth, width=args.power_width,
                                     realisations=args.power_realisations, activation=args.activation,
                                     progress=lambda v: progress(v, total=len(v), desc="random conv nets"))
        rows, columns = add_collapse_column(rows, shares, column), COMPARE_COLUMNS + [column]
    emit(args, rows, format_table(rows, columns))


def register(subparsers) -> None:
    p = subparsers.add_parser("chi1", help="chi_1 = T'(1) and the phase of a scheme")
    add_scheme_arguments(p)
    add_json(p)
    p.set_defaults(run=_chi1)

    p = subparsers.add_parser("map", help="correlation map T(rho) and its slope")
    add_scheme_arguments(p)
    p.add_argument("--rho", type=correlation, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    add_json(p)
    p.set_defaults(run=_map)

    p = subparsers.add_parser("fixed-points", help="all fixed points in [-1, 1], slopes, stability")
    add_scheme_arguments(p)
    add_json(p)
    p.set_defaults(run=_fixed_points)

    p = subparsers.add_parser("stable-init", help="sigma_w giving q* = 1 for sigma_b and the architecture")
    add_scheme_arguments(p)
    add_json(p)
    p.set_defaults(run=_stable_init)

    p = subparsers.add_parser("critical-line", help="sigma_w^2 with chi_1 = 1 for given sigma_b^2")
    add_norm_argument(p, engine="dense")
    p.add_argument("--activation", default="relu")
    p.add_argument("--sigma-b2", type=variance, nargs="+", default=[0.0])
    p.add_argument("--width", type=width, default=None,
                   help="input width n of weight-mean layers, or inf (default: inf)")
    add_json(p)
    p.set_defaults(run=_critical_line)

    p = subparsers.add_parser("compare", help="one table, a row per normalisation scheme")
    p.add_argument("--activation", default="relu")
    p.add_argument("--width", type=width, default=math.inf,
                   help="input width n of weight-mean layers, or inf (default: inf)")
    p.add_argument("--power", action="store_true",
                   help="add the channel-mean share mu_c^2 of random conv nets (JAX, ~1 min)")
    p.add_argument("--power-depth", type=positive_int, default=50)
    p.add_argument("--power-width", type=positive_int, default=32)
    p.add_argument("--power-realisations", type=positive_int, default=2)
    add_json(p)
    p.set_defaults(run=_compare)
