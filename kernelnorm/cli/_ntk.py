"""NTK commands: ``ntk`` (kappa of one network on a data set) and ``kappa-depth``.

JAX, scipy and the data loaders are imported inside the handlers.
"""

from __future__ import annotations

import copy
import math

from kernelnorm._registry import norm_help
from kernelnorm.cli._common import (
    add_json,
    positive_float,
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

    if args.arch == "conv":
        return _ntk_conv(args)

    scheme = scheme_from_args(args)
    name, x = _inputs(args)
    with layer_progress("NTK layers"):
        report = ntk_condition(scheme, x, args.depth, method=args.method, eigen=args.eigen,
                               tol=args.tol)
    payload = report.as_dict() | {"data": name, "description": describe_scheme(scheme)}
    bound = (f"|Theta - Theta_exact| <= {report.error_bound:.2g} "
             f"({report.relative_error_bound:.2g} max|Theta|)" if not report.bound_note
             else f"error not bounded: {report.bound_note}")
    digits, kappa_digits = 12, 12
    if report.method == "matrix_free":  # Lanczos: each eigenvalue to relative tol, kappa 2 tol
        payload["eigen_tol"] = args.tol
        digits = max(1, min(12, math.floor(-math.log10(args.tol))))
        kappa_digits = max(1, min(12, math.floor(-math.log10(2 * args.tol))))
        bound += f"; eigenvalues to relative {args.tol:g}"
    text = (f"NTK of {describe_scheme(scheme)} at depth {report.depth} on {name} (m = {report.m}; "
            f"{report.method} path; {bound})\n"
            f"kappa      = {format_number(report.kappa, kappa_digits)}"
            + (f"   (kappa - 1 = {report.kappa - 1:.3g})" if report.kappa < 1.01 else "") + "\n"
            f"lambda_min = {report.lambda_min:.{digits}g}\n"
            f"lambda_max = {report.lambda_max:.{digits}g}\n"
            f"chi_1      = {report.chi_1:.10g} ({report.phase})")
    emit(args, payload, text)


# -- --arch conv: the CNN-GP / CNTK of kernelnorm.conv on image data ------------------------------


def _conv_images(args):
    """Images ``(m, H, W, C)`` of ``--data``: digits (8x8, nearest-upsampled to ``--resolution``)
    or a user's MNIST / CIFAR files; features centred and each image scaled to ``K0(x, x) = 1``
    (the dense command's convention, ``normalise_rows``)."""
    from kernelnorm._errors import KernelnormInputError
    from kernelnorm.data import load_image_dataset, normalise_rows
    from kernelnorm.ntk import check_inputs

    dataset = load_image_dataset(args.data, seed=args.seed)
    shape = dataset.image_shape or ((8, 8, 1) if dataset.name == "digits" else None)
    if shape is None:
        raise KernelnormInputError("--data", f"{dataset.name} is not an image data set (use "
                                   "digits, mnist:DIR, cifar10:DIR or cifar100:DIR)")
    x = check_inputs(dataset.x)[: args.max_points].reshape((-1, *shape))
    if args.resolution is not None and args.resolution != shape[0]:
        import numpy as np

        if args.resolution % shape[0]:
            raise KernelnormInputError("--resolution", f"must be a multiple of {shape[0]}, got "
                                       f"{args.resolution}")
        factor = args.resolution // shape[0]
        x = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
    flat = x.reshape(len(x), -1)
    if not args.raw:
        flat = normalise_rows(flat)
    return dataset.name, flat.reshape(x.shape)


def _conv_layout(text: str):
    """``3,3,A,3``: conv sizes and ``A`` (2x2 average pooling)."""
    items = []
    for item in text.split(","):
        item = item.strip()
        items.append(item.upper() if item.upper() in ("A", "M") else int(item))
    return tuple(items)


def _ntk_conv(args):
    import sys

    from kernelnorm.cli._common import format_number
    from kernelnorm.conv import conv_net
    from kernelnorm.ntk import spectrum

    if args.eigen != "auto":
        from kernelnorm._errors import KernelnormInputError

        raise KernelnormInputError("--eigen", "the conv kernel's spectrum is always dense (its "
                                   "blockwise operator is dense-network only); drop --eigen")
    if args.width is not None:
        from kernelnorm._errors import KernelnormInputError

        raise KernelnormInputError("--width", "the conv kernel is the infinite-width limit (no "
                                   "Lemma 1 width); drop --width with --arch conv")
    sigma_w2 = args.sigma_w**2 if args.sigma_w is not None else args.sigma_w2
    net = conv_net(args.norm, args.depth, layout=args.layout, kernel_size=args.kernel_size,
                   padding=args.padding, readout=args.readout, activation=args.activation,
                   sigma_w2=sigma_w2, sigma_b2=args.sigma_b2 or 0.0)
    name, x = _conv_images(args)
    estimate = net.estimate(len(x), x.shape[1:-1])
    limit = None if args.max_memory is None else args.max_memory * 2**30
    net.check_memory(estimate, limit=limit)
    print(f"kernelnorm ntk --arch conv: {estimate.describe()}", file=sys.stderr, flush=True)
    bar = lambda chunks: progress(chunks, total=len(chunks), desc="pair chunks")  # noqa: E731
    kernels = net.kernels(x, progress=bar, max_memory=limit)
    spec = spectrum(kernels.ntk)
    layers = ",".join(str(layer) for layer in (args.layout or (args.kernel_size,) * args.depth))
    payload = {"arch": "conv", "scheme": net.scheme.name, "activation": net.activation.name,
               "layout": layers, "depth": net.depth, "padding": args.padding,
               "readout": args.readout, "data": name, "m": int(len(x)),
               "image_shape": list(x.shape[1:]), "kappa": spec.kappa,
               "lambda_min": spec.lambda_min, "lambda_max": spec.lambda_max,
               "kernel_seconds": kernels.seconds, "eigen_seconds": spec.seconds,
               "mode": kernels.mode, "estimate": estimate.describe()}
    text = (f"CNTK of {net.scheme.name}, {net.activation.name}, {net.depth} conv layers "
            f"({layers}; {args.padding} padding, {args.readout} readout) on {name} "
            f"(m = {len(x)}, images {'x'.join(map(str, x.shape[1:]))}; {kernels.seconds:.1f} s)\n"
            f"kappa      = {format_number(spec.kappa, 12)}\n"
            f"lambda_min = {spec.lambda_min:.12g}\n"
            f"lambda_max = {spec.lambda_max:.12g}")
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


def _add_conv_arguments(parser) -> None:
    """``--arch conv`` and its options; ``--norm`` then takes every scheme with a conv kernel
    (checked when the command runs: CZM filters have no dense kernel, BN no conv kernel)."""
    from kernelnorm.conv import PADDINGS, READOUTS
    from kernelnorm.data import IMAGE_DATASET_SPECS

    for action in parser._actions:
        if action.dest == "norm":
            action.type = norm_type(None)
            action.help += "; with --arch conv: " + ", ".join(_conv_names())
    group = parser.add_argument_group("--arch conv (CNN-GP / CNTK, kernelnorm.conv)")
    group.add_argument("--arch", default="fc", choices=("fc", "conv"),
                       help="fc (dense, default) or conv (image data: digits or "
                            f"{IMAGE_DATASET_SPECS})")
    group.add_argument("--kernel-size", type=positive_int, default=3, help="conv filter size (odd)")
    group.add_argument("--layout", type=_conv_layout, default=None,
                       help="explicit layers, e.g. 3,3,A,3 (A: 2x2 average pooling); overrides --depth")
    group.add_argument("--padding", default="same", choices=PADDINGS)
    group.add_argument("--readout", default="gap", choices=READOUTS,
                       help="global average pooling or flatten, then one dense unit")
    group.add_argument("--resolution", type=positive_int, default=None,
                       help="upsample digits (8x8) to R x R, R a multiple of 8")
    group.add_argument("--max-memory", type=positive_float, default=None, metavar="GIB",
                       help="refuse runs whose stated memory exceeds this (default: 80%% of "
                            "the available memory)")


def _conv_names():
    from kernelnorm.conv import kernel_scheme_names

    return kernel_scheme_names()


def register(subparsers) -> None:
    p = subparsers.add_parser("ntk", help="condition number kappa of the infinite-width NTK on data",
                              epilog=CONVENTIONS)
    add_scheme_arguments(p)
    p.add_argument("--depth", type=positive_int, required=True, help="number of weight layers L")
    _add_data_arguments(p)
    _add_conv_arguments(p)
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
