"""``kernelnorm power``: power decomposition of random conv nets (Proxy Norm §3-5, docs/theory.md §6).

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


def _power(args):
    from kernelnorm.cli._common import progress
    from kernelnorm.power import draw_power_plot, label, make_inputs, power_profile, power_scheme

    scheme = power_scheme(args.norm, groups=args.groups, proxy_eps=args.proxy_eps)
    if args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    inputs = make_inputs(args.inputs_from, args.inputs, args.resolution, seed=args.seed)

    def bar(iterable):
        return progress(iterable, total=args.realisations, desc=f"{label(scheme)} nets")

    profile = power_profile(
        scheme, depth=args.depth, width=args.width, realisations=args.realisations,
        inputs=inputs, activation=args.activation, seed=args.seed, dtype=args.dtype, progress=bar)
    payload = profile.as_dict()
    payload.update(inputs=args.inputs_from, n_inputs=args.inputs, resolution=args.resolution,
                   seed=args.seed, dtype=args.dtype)
    if args.plot:
        draw_power_plot([payload], args.plot)
        payload["plot"] = args.plot
    header = (f"power decomposition of y (layer shares, mean over {args.realisations} nets): "
              f"{label(scheme)}, {args.activation}, width {args.width}, {args.inputs} "
              f"{args.inputs_from} inputs at {args.resolution}")
    if args.plot:
        header += f"; plot: {args.plot}"
    emit(args, payload, header + "\n" + format_table(profile.rows(), TABLE_COLUMNS, digits=4))


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
    add_json(p)
    p.set_defaults(run=_power)
