"""NTK commands: ``ntk`` (kappa of one network on a data set) and ``kappa-depth``.

JAX, scipy and the data loaders are imported inside the handlers.
"""

from __future__ import annotations

import copy

from kernelnorm._registry import norm_help
from kernelnorm.cli._common import (
    add_json,
    norm_type,
    add_scheme_arguments,
    describe_scheme,
    emit,
    format_number,
    format_table,
    int_list,
    layer_progress,
    level,
    output_file,
    positive_int,
    progress,
    scheme_from_args,
    seed,
)

DEFAULT_NORMS = ("plain", "weight-mean", "bn")

#: Conventions at the end of --help (docs/theory.md, Conventions; docs/ntk.md).
CONVENTIONS = """conventions: NTK parameterisation (W ~ N(0, 1) scaled by sigma_w / sqrt(n_in), bias
sigma_b b); in the standard parameterisation the NNGP is the same but each layer's weight term
of the NTK is n_in / sigma_w2 times larger (the bias term 1 / sigma_b2), so kappa can differ.
Depth counts weight layers (L layers, L - 1 nonlinearities). --data centres every feature over
the data set and scales rows to K_0(x, x) = 1 unless --raw (sphere:M points already are).
The stated error bound covers kernel error, rounding and interpolation (docs/ntk.md)."""


def _add_data_arguments(parser) -> None:
    from kernelnorm.data import DATASET_SPECS

    parser.add_argument("--data", default="digits", help=f"{DATASET_SPECS} (default: %(default)s)")
    parser.add_argument("--max-points", type=positive_int, default=None,
                        help="use the first M training inputs only (default: all)")
    parser.add_argument("--raw", action="store_true",
                        help="skip the feature centring and the row normalisation K0(x, x) = 1 "
                             "(unequal norms -> exact path)")
    parser.add_argument("--seed", type=seed, default=0, help="data seed (default: %(default)s)")
    parser.add_argument("--method", default="auto", choices=("auto", "grid", "exact"),
                        help="grid (equal norms, fast), exact (m x m recursion) or auto")


def _inputs(args):
    """Training inputs of ``--data``: first ``--max-points`` rows, normalised to
    ``K0(x, x) = x.x/d = 1`` like the paper (sphere points already are)."""
    from kernelnorm.data import load_dataset, normalise_rows
    from kernelnorm.ntk import check_inputs

    dataset = load_dataset(args.data, seed=args.seed)
    x = check_inputs(dataset.x)[: args.max_points]
    if not args.raw and not args.data.startswith("sphere:"):
        x = normalise_rows(x)
    return dataset.name, x


def _ntk(args):
    from kernelnorm.ntk import ntk_condition

    scheme = scheme_from_args(args)
    name, x = _inputs(args)
    with layer_progress("NTK layers"):
        report = ntk_condition(scheme, x, args.depth, method=args.method, eigen=args.eigen,
                               tol=args.tol)
    payload = report.as_dict() | {"data": name, "description": describe_scheme(scheme)}
    bound = (f"|Theta - Theta_exact| <= {report.error_bound:.2g} "
             f"({report.relative_error_bound:.2g} max|Theta|)" if not report.bound_note
             else f"error not bounded: {report.bound_note}")
    text = (f"NTK of {describe_scheme(scheme)} at depth {report.depth} on {name} (m = {report.m}; "
            f"{report.method} path; {bound})\n"
            f"kappa      = {format_number(report.kappa, 12)}"
            + (f"   (kappa - 1 = {report.kappa - 1:.3g})" if report.kappa < 1.01 else "") + "\n"
            f"lambda_min = {report.lambda_min:.12g}\n"
            f"lambda_max = {report.lambda_max:.12g}\n"
            f"chi_1      = {report.chi_1:.10g} ({report.phase})")
    emit(args, payload, text)


def _kappa_depth(args):
    from kernelnorm._costs import check_ntk_request
    from kernelnorm.io import write_json, write_text
    from kernelnorm.ntk import kappa_vs_depth

    name, x = _inputs(args)
    depths = sorted(set(args.depths))
    schemes = []
    for norm in args.norms:
        scheme_args = copy.copy(args)
        scheme_args.norm = norm
        schemes.append(scheme_from_args(scheme_args))
        check_ntk_request(schemes[-1], x.shape[0], depths, grid=args.method != "exact",
                          depth_argument="--depths")
    rows = []
    for scheme in progress(schemes, total=len(schemes), desc="schemes"):
        bar = lambda ds, s=scheme: progress(ds, total=len(ds), desc=f"{s.name} eigen-solves")  # noqa: E731
        with layer_progress(f"{scheme.name} NTK layers"):
            reports = kappa_vs_depth(scheme, x, depths, method=args.method, progress=bar)
        rows.extend(report.as_dict() | {"data": name} for report in reports)
    table_rows = [{"depth": d, **{r["scheme"]: r["kappa"] for r in rows if r["depth"] == d}}
                  for d in depths]
    columns = ["depth", *dict.fromkeys(r["scheme"] for r in rows)]
    text = (f"kappa of the NTK on {name} (m = {x.shape[0]})\n"
            + format_table(table_rows, columns, digits=10))
    if args.output:
        if args.output.endswith(".csv"):
            keys = list(rows[0])
            lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]
            write_text(args.output, "\n".join(lines) + "\n")
        else:
            write_json(args.output, {"data": name, "m": int(x.shape[0]), "rows": rows})
        text += f"\nsaved {args.output}"
    emit(args, rows, text)


def register(subparsers) -> None:
    p = subparsers.add_parser("ntk", help="condition number kappa of the infinite-width NTK on data",
                              epilog=CONVENTIONS)
    add_scheme_arguments(p)
    p.add_argument("--depth", type=positive_int, required=True, help="number of weight layers L")
    _add_data_arguments(p)
    p.add_argument("--eigen", default="auto", choices=("auto", "dense", "matrix_free"),
                   help="dense (form the m x m NTK), matrix_free (blockwise products + Lanczos, "
                        "O(m) memory; plain/weight-mean ReLU) or auto: dense up to m = 4000 "
                        "(default: %(default)s)")
    p.add_argument("--tol", type=level, default=1e-8,
                   help="relative accuracy of the matrix-free eigenvalues (default: %(default)s)")
    add_json(p)
    p.set_defaults(run=_ntk)

    p = subparsers.add_parser("kappa-depth", help="kappa of the NTK vs depth for several schemes",
                              epilog=CONVENTIONS)
    add_scheme_arguments(p)
    p.add_argument("--norms", nargs="+", type=norm_type("dense"), default=list(DEFAULT_NORMS),
                   metavar="NORM", help=f"schemes to compare, {norm_help(engine='dense')} "
                                        "(default: %(default)s)")
    p.add_argument("--depths", type=int_list(max_count=1000), default=[1, 2, 5, 10, 20, 50, 100],
                   help="10,20,50 or start:stop:step, at most 1000 depths "
                        "(default: 1,2,5,10,20,50,100)")
    _add_data_arguments(p)
    p.add_argument("--output", type=output_file(), default=None,
                   help="save rows atomically (.csv, else JSON)")
    add_json(p)
    p.set_defaults(run=_kappa_depth)
