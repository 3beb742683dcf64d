"""``kernelnorm power``: power decomposition of random conv nets (Proxy Norm §3-5, docs/theory.md §6),
and with ``--theory`` its infinite-width prediction from the conv kernel beside the measurement.

JAX and matplotlib are imported inside the handler only.
"""

from __future__ import annotations

from kernelnorm.cli._common import (
    add_json,
    add_norm_argument,
    emit,
    format_table,
    image_file,
    number,
    positive_int,
    seed,
)

#: Proxy Norm's eps is 0.03; far above 1 it switches the activation step off.
proxy_eps = number(0.0, 1e6, name="proxy_eps", note=" (Proxy Norm uses 0.03)")

TABLE_COLUMNS = ["depth", "mu_c^2", "sigma_c(mu_xc)^2", "mu_c(sigma_xc)^2",
                 "sigma_c(sigma_xc)^2", "power", "imbalance", "linearity"]
#: ``--theory``: each measured column followed by its prediction (``~``), and the band check.
THEORY_COLUMNS = ["depth", "mu_c^2", "~", "sigma_c(mu_xc)^2", "~ ", "mu_c(sigma_xc)^2", "~  ",
                  "sigma_c(sigma_xc)^2", "~   ", "power", "~    ", "imbalance", "~     ",
                  "in band"]


def _check_theory(scheme) -> None:
    """Refuse ``--theory`` before any net runs when the scheme has no infinite-width limit."""
    from kernelnorm.power import theory_gap

    gap = theory_gap(scheme)
    if gap is not None:
        from kernelnorm._errors import KernelnormInputError

        raise KernelnormInputError("--theory", f"{scheme.name} has no infinite-width prediction: {gap}")


def _theory(args, scheme, inputs):
    """The infinite-width prediction for the measured nets (cost stated on stderr first)."""
    import sys

    from kernelnorm.cli._common import progress
    from kernelnorm.power import power_theory, theory_estimate

    options = dict(activation=args.activation, groups=args.groups, proxy_eps=args.proxy_eps)
    estimate = theory_estimate(scheme, depth=args.depth, inputs=inputs, off_pairs=args.off_pairs,
                               **options)
    print(f"kernelnorm power --theory: {estimate.describe()}, plus the cross-input covariances "
          f"({args.exact_pairs} exact pairs per layer)", file=sys.stderr, flush=True)

    def bar(iterable):
        return progress(iterable, total=args.depth, desc="kernel layers")

    return power_theory(scheme, depth=args.depth, inputs=inputs, cross=args.cross,
                        exact_pairs=args.exact_pairs, off_pairs=args.off_pairs, seed=args.seed,
                        progress=bar, **options)


def _theory_rows(rows, theory, inside):
    from kernelnorm.power import TERMS

    marks = THEORY_COLUMNS[2:9:2]
    out = []
    for row, predicted, ok in zip(rows, theory.rows(), inside):
        merged = {"depth": row["depth"]}
        for term, mark in zip(TERMS, marks):
            merged[term], merged[mark] = row[term], predicted[term]
        merged["power"], merged["~    "] = row["power"], predicted["power"]
        merged["imbalance"], merged["~     "] = row["imbalance"], predicted["imbalance"]
        merged["in band"] = f"{int(ok.sum())}/4"
        out.append(merged)
    return out


def _power(args):
    from kernelnorm.cli._common import progress
    from kernelnorm.power import draw_power_plot, label, make_inputs, power_profile, power_scheme

    scheme = power_scheme(args.norm, groups=args.groups, proxy_eps=args.proxy_eps)
    if args.theory:
        _check_theory(scheme)
    if args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    inputs = make_inputs(args.inputs_from, args.inputs, args.resolution, seed=args.seed)

    def bar(iterable):
        return progress(iterable, total=args.realisations, desc=f"{label(scheme)} nets")

    profile = power_profile(
        scheme, depth=args.depth, width=args.width, realisations=args.realisations,
        inputs=inputs, activation=args.activation, seed=args.seed, dtype=args.dtype, progress=bar)
    theory = _theory(args, scheme, inputs) if args.theory else None
    payload = profile.as_dict()
    payload.update(inputs=args.inputs_from, n_inputs=args.inputs, resolution=args.resolution,
                   seed=args.seed, dtype=args.dtype)
    rows, columns, footer = profile.rows(), TABLE_COLUMNS, ""
    if theory is not None:
        from kernelnorm.power import agreement

        check = agreement(profile, theory)
        payload["theory"] = theory.as_dict()
        payload["agreement"] = {"inside": check["inside"], "fraction": check["fraction"],
                                "low": check["low"], "high": check["high"]}
        rows, columns = _theory_rows(rows, theory, check["inside"]), THEORY_COLUMNS
        footer = (f"\n~: infinite-width prediction from the conv kernel ({theory.cross} cross-input "
                  f"covariances, {theory.seconds:.0f} s); inside the finite-width band (measured "
                  f"mean +- max(half its 10-90% interval, its 99% t-interval)): "
                  f"{check['fraction']:.0%} of "
                  f"{check['inside'].size} layer-terms")
    if args.plot:
        draw_power_plot([payload], args.plot, theory=None if theory is None else [payload["theory"]])
        payload["plot"] = args.plot
    header = (f"power decomposition of y (layer shares, mean over {args.realisations} nets): "
              f"{label(scheme)}, {args.activation}, width {args.width}, {args.inputs} "
              f"{args.inputs_from} inputs at {args.resolution}")
    if args.plot:
        header += f"; plot: {args.plot}"
    emit(args, payload, header + "\n" + format_table(rows, columns, digits=4) + footer)


def register(subparsers) -> None:
    from kernelnorm.power import DEFAULT_GROUPS, SOURCES

    p = subparsers.add_parser(
        "power", help="power decomposition of random conv nets per depth (Proxy Norm Fig. 2)")
    add_norm_argument(p, engine="conv", default="ln+pn")
    p.add_argument("--depth", type=positive_int, default=50)
    p.add_argument("--width", type=positive_int, default=64, help="channels (default: 64)")
    p.add_argument("--realisations", type=positive_int, default=5,
                   help="independent random nets (default: 5)")
    p.add_argument("--resolution", type=positive_int, default=16,
                   help="spatial size R (R x R images, length R for mnist1d; default: 16)")
    p.add_argument("--inputs", type=positive_int, default=64, help="number of inputs (default: 64)")
    p.add_argument("--inputs-from", default="digits", choices=SOURCES)
    p.add_argument("--groups", type=positive_int, default=None,
                   help=f"GN groups, must divide --width (default: {DEFAULT_GROUPS})")
    p.add_argument("--activation", default="relu")
    p.add_argument("--proxy-eps", type=proxy_eps, default=None,
                   help="eps of Proxy Norm (default: 0.03, the paper's)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--plot", type=image_file, default=None, metavar="OUT.png",
                   help="draw the stacked power plot")
    p.add_argument("--theory", action="store_true",
                   help="also predict every term at infinite width from the conv kernel "
                        "(kernelnorm.conv; float64; cost stated first) and overlay it")
    p.add_argument("--cross", default="sampled", choices=("sampled", "exact", "matched"),
                   help="--theory: cross-input covariances of the instance stds (default: sampled)")
    p.add_argument("--exact-pairs", type=positive_int, default=16,
                   help="--theory --cross sampled: input pairs per layer computed exactly (default: 16)")
    p.add_argument("--off-pairs", type=positive_int, default=None,
                   help="--theory: recurse every same-input pair and only this many other input "
                        "pairs, drawn uniformly (cost ~N instead of ~N^2; sampling errors "
                        "widen the band; default: all pairs)")
    add_json(p)
    p.set_defaults(run=_power)
