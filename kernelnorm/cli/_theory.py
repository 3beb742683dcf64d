"""Scalar theory commands: chi1, map, fixed-points, stable-init, critical-line, compare.

None of these import JAX; the target is <= 0.5 s wall per call (benchmarks/cli_latency.py).
"""

from __future__ import annotations

import math

from kernelnorm.cli._common import (
    add_batch_size_argument,
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

#: Conventions shown at the end of every theory command's --help (docs/theory.md, Conventions).
CONVENTIONS = """conventions: weights W ~ N(0, 1) scaled by sigma_w / sqrt(n_in), biases sigma_b b
(NTK parameterisation); kernels of a centred Gaussian pair with Var u = q1, Var v = q2,
Cov = c, rho = c / sqrt(q1 q2); erf means erf(x), not erf(x / sqrt 2); q0 = K_0(x, x) =
x.x / d is the input length and the first pre-activation length is K_1 = sigma_w2 q0 +
sigma_b2 (q* is the fixed point the length flows to from there); kernels are accurate to
1e-10 relative (1e-14 of their scale near zero) for q in [1e-6, 1e4] (docs/theory.md)."""


def _minibatch(scheme):
    """The finite-batch BN theory of ``scheme``, or ``None`` (kernelnorm._minibatch)."""
    from kernelnorm._minibatch import block_theory, finite_batch

    return block_theory(scheme) if finite_batch(scheme) else None


def _growth_line(theory) -> str:
    from kernelnorm._minibatch import minibatch_theory

    limit = minibatch_theory(theory.activation, math.inf).chi_1
    note = {2: "B = 2: BN outputs +-1 whatever its input, the Jacobian vanishes",
            3: "B = 3: E[1/chi^2_2] diverges, the mean growth is infinite"}
    note = note.get(theory.batch_size, f"chi_1 and lambda -> {limit:.15g} as B -> inf")
    return (f"lambda = {theory.gradient_growth:.15g}   (per-layer growth of a back-propagated "
            f"gradient; {note})")


def _add_q0(parser) -> None:
    parser.add_argument("--q0", type=variance, default=None,
                        help="input length K_0(x, x) = x.x / d the length flows from "
                             "(default: 1, normalised inputs)")


def _theory_scheme(args):
    """:func:`scheme_from_args`, plus the bias check it leaves to the commands: a batch
    normaliser that only centres (mean-only BN) removes the bias too."""
    from kernelnorm._errors import KernelnormInputError

    scheme = scheme_from_args(args)
    if scheme.scheme.batch_coupled and getattr(args, "sigma_b2", None) is not None:
        raise KernelnormInputError(
            "--sigma-b2", f"does not apply to {scheme.name}: the batch mean removes the bias")
    return scheme


def _q0(args, scheme) -> float:
    """``--q0`` (default 1); an error naming it where the normaliser fixes the length."""
    from kernelnorm._errors import KernelnormInputError

    q0 = getattr(args, "q0", None)
    if q0 is None:
        return 1.0
    if scheme.fixes_length:
        raise KernelnormInputError(
            "--q0", f"does not apply to {scheme.name}: its normaliser fixes the length q = 1 "
            "whatever the input length")
    return q0


def _chi1(args):
    from kernelnorm._transition import chi_1, length_fixed_point, phase

    scheme = _theory_scheme(args)
    q0 = _q0(args, scheme)
    value = chi_1(scheme, q0=q0)
    theory = _minibatch(scheme)
    q_star = theory.q_star if theory is not None else length_fixed_point(scheme, q0=q0).q
    payload = {"chi_1": value, "phase": phase(value), "q_star": q_star, "q0": q0,
               "scheme": describe_scheme(scheme)}
    text = f"chi_1 = {value:.15g}   ({phase(value)}; {describe_scheme(scheme)})"
    if theory is not None:
        payload.update(batch_size=theory.batch_size, gradient_growth=theory.gradient_growth,
                       c_star=theory.c_star)
        text += "\n" + _growth_line(theory)
    emit(args, payload, text)


def _map(args):
    import numpy as np

    from kernelnorm._transition import correlation_map, correlation_map_slope

    scheme = _theory_scheme(args)
    q0 = _q0(args, scheme)
    rhos = np.asarray(args.rho, dtype=np.float64)
    values = correlation_map(scheme, rhos, q0=q0)
    slopes = correlation_map_slope(scheme, rhos, q0=q0)
    rows = [{"rho": float(r), "T(rho)": float(t), "T'(rho)": float(s)}
            for r, t, s in zip(rhos, values, slopes)]
    emit(args, {"scheme": describe_scheme(scheme), "map": rows},
         f"correlation map of {describe_scheme(scheme)}\n"
         + format_table(rows, ["rho", "T(rho)", "T'(rho)"], digits=12))


def _stability(stable: bool, marginal: bool = False) -> str:
    return ("stable" if stable else "unstable") + (" (marginal)" if marginal else "")


def _fixed_points(args):
    from kernelnorm._transition import summarise

    scheme = _theory_scheme(args)
    summary = summarise(scheme, q0=_q0(args, scheme))
    theory = _minibatch(scheme)
    rows = [{"rho*": p.rho, "slope": p.slope, "stability": _stability(p.stable, p.marginal)}
            for p in summary.fixed_points]
    text = (f"{describe_scheme(scheme)}\n"
            f"q* = {format_number(summary.q_star, 12)}, chi_1 = {summary.chi_1:.12g} ({summary.phase}), "
            f"xi_c = {format_number(summary.xi_c)}, xi_q = {format_number(summary.xi_q)}\n"
            + format_table(rows, ["rho*", "slope", "stability"], digits=12))
    payload = summary.as_dict()
    if theory is not None:
        payload["minibatch"] = theory.as_dict()
        text += (f"\nsymmetric fixed point of the B x B Gram: q* = 1, c* = -1/(B-1); forward "
                 f"eigenvalues: lengths {format_number(theory.rate_lengths, 12)}, correlations "
                 f"{format_number(theory.rate_correlations, 12)}\n" + _growth_line(theory))
    if len(summary.lengths) > 1 or (summary.lengths and summary.lengths[0].q != summary.q_star):
        lengths = [{"q*": p.q, "slope": p.slope, "stability": _stability(p.stable),
                    "basin": f"[{format_number(p.basin[0])}, {format_number(p.basin[1])})"
                    if p.stable else "-"} for p in summary.lengths]
        text += (f"\nlength fixed points (inputs of length q0 = {format_number(summary.q0)} "
                 f"flow to q* = {format_number(summary.q_star, 12)}):\n"
                 + format_table(lengths, ["q*", "slope", "stability", "basin"], digits=12))
    emit(args, payload, text)


def _stable_init(args):
    from kernelnorm._transition import stable_init

    scheme = _theory_scheme(args)
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
    if scheme.batch_coupled and any(b != 0 for b in args.sigma_b2):
        raise KernelnormInputError(
            "--sigma-b2", f"does not apply to {scheme.name}: the batch mean removes the bias")
    if args.width is not None and scheme.weights != "mean":
        raise KernelnormInputError("--width", f"is the input width of weight-mean layers; "
                                              f"{scheme.name} has none")
    rows, reasons = [], []
    for sigma_b2 in args.sigma_b2:  # the solver varies sigma_w2 itself
        block = DenseBlock(scheme, args.activation, sigma_w2=1.0, sigma_b2=sigma_b2,
                           width=math.inf if args.width is None else args.width)
        try:
            rows.append({"sigma_b2": sigma_b2,
                         "sigma_w2": critical_line(block, q0=_q0(args, block)), "note": None})
        except KernelnormInputError as err:
            if len(args.sigma_b2) == 1 or err.argument != "--sigma-b2":
                raise
            reason = str(err).split(": ", 1)[1]
            rows.append({"sigma_b2": sigma_b2, "sigma_w2": None, "note": reason})
            reasons.append(f"sigma_b2 = {sigma_b2:g}: {reason}")
    if all(row["sigma_w2"] is None for row in rows):
        raise KernelnormInputError("--sigma-b2", "no critical point at any of them; "
                                   + " | ".join(reasons))
    notes = "".join(f"\n{reason}" for reason in reasons)
    emit(args, rows, f"critical line (chi_1 = 1) of {args.norm}, {args.activation}\n"
                     + format_table(rows, ["sigma_b2", "sigma_w2"], digits=12) + notes)


def _compare(args):
    from kernelnorm._compare import COMPARE_COLUMNS, compare
    from kernelnorm._errors import renamed_arguments

    with renamed_arguments({"--sigma-b2": "--activation"}):  # the rows' fixed biases
        rows = compare(args.activation, width=args.width, batch_size=args.batch_size)
    columns = COMPARE_COLUMNS + (["lambda"] if args.batch_size is not None else [])
    if args.power:  # random conv nets (JAX): collapse share mu_c^2 at --power-depth
        from kernelnorm.power import add_collapse_column, collapse_shares

        column = f"mu_c^2@{args.power_depth}"
        with renamed_arguments({f"--{k}": f"--power-{k}" for k in ("depth", "width", "realisations")}):
            shares = collapse_shares(depth=args.power_depth, width=args.power_width,
                                     realisations=args.power_realisations, activation=args.activation,
                                     progress=lambda v: progress(v, total=len(v), desc="random conv nets"))
        rows, columns = add_collapse_column(rows, shares, column), columns + [column]
    notes = "".join(f"\n{row['scheme']}: {row['note']}" for row in rows if row.get("note"))
    emit(args, rows, format_table(rows, columns) + notes)


def register(subparsers) -> None:
    p = subparsers.add_parser("chi1", help="chi_1 = T'(1) and the phase of a scheme",
                              epilog=CONVENTIONS)
    add_scheme_arguments(p)
    add_batch_size_argument(p)
    _add_q0(p)
    add_json(p)
    p.set_defaults(run=_chi1)

    p = subparsers.add_parser("map", help="correlation map T(rho) and its slope",
                              epilog=CONVENTIONS)
    add_scheme_arguments(p)
    p.add_argument("--rho", type=correlation, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    add_batch_size_argument(p)
    _add_q0(p)
    add_json(p)
    p.set_defaults(run=_map)

    p = subparsers.add_parser("fixed-points", epilog=CONVENTIONS,
                              help="all fixed points in [-1, 1], slopes, stability; the length "
                                   "fixed points and their basins")
    add_scheme_arguments(p)
    add_batch_size_argument(p)
    _add_q0(p)
    add_json(p)
    p.set_defaults(run=_fixed_points)

    p = subparsers.add_parser("stable-init", epilog=CONVENTIONS,
                              help="sigma_w giving q* = 1 for sigma_b and the architecture")
    add_scheme_arguments(p)
    add_json(p)
    p.set_defaults(run=_stable_init)

    p = subparsers.add_parser("critical-line", epilog=CONVENTIONS,
                              help="sigma_w^2 with chi_1 = 1 for given sigma_b^2")
    add_norm_argument(p, engine="dense")
    p.add_argument("--activation", default="relu")
    p.add_argument("--sigma-b2", type=variance, nargs="+", default=[0.0])
    p.add_argument("--width", type=width, default=None,
                   help="input width n of weight-mean layers, or inf (default: inf)")
    _add_q0(p)
    add_json(p)
    p.set_defaults(run=_critical_line)

    p = subparsers.add_parser("compare", epilog=CONVENTIONS,
                              help="one table, a row per normalisation scheme")
    p.add_argument("--activation", default="relu")
    p.add_argument("--width", type=width, default=math.inf,
                   help="input width n of weight-mean layers, or inf (default: inf)")
    p.add_argument("--batch-size", type=width, default=None,
                   help="add a row of bn over mini-batches of B inputs, with its gradient growth")
    p.add_argument("--power", action="store_true",
                   help="add the channel-mean share mu_c^2 of random conv nets (JAX, ~1 min)")
    p.add_argument("--power-depth", type=positive_int, default=50)
    p.add_argument("--power-width", type=positive_int, default=32)
    p.add_argument("--power-realisations", type=positive_int, default=2)
    add_json(p)
    p.set_defaults(run=_compare)
