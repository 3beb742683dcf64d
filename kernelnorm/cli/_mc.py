"""``kernelnorm mc``: finite random networks against the infinite-width prediction."""

from __future__ import annotations

from kernelnorm.cli._common import (
    add_json,
    add_norm_argument,
    correlation,
    emit,
    format_table,
    level,
    positive_int,
    positive_variance,
    progress,
    scheme_from_args,
    seed,
    variance,
)


def _inputs(args):
    import numpy as np

    from kernelnorm.montecarlo import anchored_pairs, independent_pairs

    rhos = np.asarray(args.rho, np.float64)
    if args.pairs == "anchored":
        return anchored_pairs(rhos, max(args.input_dim, len(rhos) + 1), seed=args.seed)
    return independent_pairs(rhos, max(args.input_dim, 2 * len(rhos)), seed=args.seed)


def _precision(args) -> None:
    import jax

    jax.config.update("jax_enable_x64", not getattr(args, "float32", False))


def _check_lengths(args, lengths) -> None:
    """The finite network squares its pre-activations: predicted lengths ``q_l`` outside
    ``[1/Q, Q]`` (``Q = 1e150`` in float64, ``1e18`` in float32) overflow or vanish."""
    import numpy as np

    from kernelnorm._errors import KernelnormInputError

    limit = 1e18 if args.float32 else 1e150
    top, bottom = float(np.max(lengths)), float(np.min(lengths))
    if np.isfinite(top) and 1.0 / limit <= bottom and top <= limit:
        return
    layer = int(np.argmax(np.any((lengths > limit) | (lengths < 1.0 / limit) | ~np.isfinite(lengths), axis=1))) + 1
    flag = next((f for f, v in (("--sigma-w2", args.sigma_w2), ("--sigma-b2", args.sigma_b2))
                 if v is not None), "--depth")
    what = "overflow" if not np.isfinite(top) or top > limit else "vanish"
    raise KernelnormInputError(flag, f"the pre-activation lengths q {what} at layer {layer} "
                                     f"(the network leaves the {'float32' if args.float32 else 'float64'} "
                                     "range); lower the depth or bring sigma_w2 nearer the stable init")


def _run(args):
    _precision(args)
    from kernelnorm._transition import chi_1
    from kernelnorm.montecarlo import (
        check_sampling,
        mean_ci,
        predicted_statistics,
        sample_statistics,
    )

    scheme = scheme_from_args(args, network_width=True)
    inputs = _inputs(args)
    request = dict(seed=args.seed, seeds=args.seeds, width=args.width, depth=args.depth,
                   engine=args.engine, chunk=args.chunk)
    check_sampling(scheme, inputs.x, inputs.pairs, **request)
    lengths, _, correlations = predicted_statistics(scheme, inputs.x, inputs.pairs, args.depth)
    _check_lengths(args, lengths)
    with progress(total=args.seeds, desc="mc networks") as bar:
        stats = sample_statistics(scheme, inputs.x, inputs.pairs, progress=bar.update, **request)
    layers = sorted({1, *range(args.every, args.depth + 1, args.every), args.depth})
    rows, records = [], []
    rho_ci = mean_ci(stats.correlations, level=args.level)
    q_ci = mean_ci(stats.lengths.mean(axis=-1), level=args.level)
    for layer in layers:
        i = layer - 1
        for p, rho0 in enumerate(inputs.correlations):
            record = {"layer": layer, "rho_in": float(rho0),
                      "rho_measured": float(rho_ci.mean[i, p]),
                      "rho_ci": float(rho_ci.half_width[i, p]),
                      "rho_predicted": float(correlations[i, p]),
                      "z": float(rho_ci.z_score(correlations[i, p])[i, p])}
            records.append(record)
            rows.append({**record, "rho_measured": f"{record['rho_measured']:.4f} +- {record['rho_ci']:.4f}"})
    length_rows = [{"layer": layer, "q_measured": float(q_ci.mean[layer - 1]),
                    "q_ci": float(q_ci.half_width[layer - 1]),
                    "q_predicted": float(lengths[layer - 1].mean())} for layer in layers]
    payload = {"scheme": scheme.name, "activation": scheme.activation.name,
               "sigma_w2": float(scheme.sigma_w2), "sigma_b2": float(scheme.sigma_b2),
               "width": args.width, "depth": args.depth, "seeds": args.seeds,
               "engine": args.engine, "dtype": "float32" if args.float32 else "float64",
               "level": args.level, "chi_1_predicted": chi_1(scheme),
               "correlations": records, "lengths": length_rows}
    text = (f"{scheme.name}, {scheme.activation.name}, sigma_w2={scheme.sigma_w2:.6g}, "
            f"sigma_b2={scheme.sigma_b2:.6g}: width {args.width}, depth {args.depth}, "
            f"{args.seeds} seeds, {args.level:.0%} CIs\n"
            + format_table(rows, ["layer", "rho_in", "rho_measured", "rho_predicted", "z"], digits=4)
            + "\n\n" + format_table(
                [{**r, "q_measured": f"{r['q_measured']:.4f} +- {r['q_ci']:.4f}"} for r in length_rows],
                ["layer", "q_measured", "q_predicted"], digits=4))
    worst = max(abs(r["z"]) for r in records)
    text += f"\nlargest |z| = {worst:.2f} over {len(records)} comparisons"
    emit(args, payload, text)


def _lemma1(args):
    _precision(args)
    from kernelnorm.montecarlo import lemma1_check

    with progress(total=args.draws * len(args.rho), desc="Lemma 1 draws") as bar:
        rows = [lemma1_check(args.n_in, args.n_out, rho, draws=args.draws, seed=args.seed,
                             level=args.level, progress=bar.update).as_dict() for rho in args.rho]
    table = [{"rho": r["rho"], "factor": f"{r['factor']['mean']:.4f} +- {r['factor']['ci_half_width']:.4f}",
              "(n_i-1)/n_i": r["main_text_factor"], "(n_o-1)/n_o": r["supplement_factor"],
              "z main": r["z_main_text"], "z suppl.": r["z_supplement"]} for r in rows]
    emit(args, rows, f"Lemma 1, n_i = {args.n_in}, n_o = {args.n_out}, {args.draws} draws\n"
         + format_table(table, list(table[0]), digits=4))


def register(subparsers) -> None:
    p = subparsers.add_parser("mc", help="Monte-Carlo: finite random nets vs the kernel maps")
    add_norm_argument(p, engine="dense")
    p.add_argument("--activation", default="relu")
    p.add_argument("--sigma-w2", type=positive_variance, default=None,
                   help="weight variance (default: the stable init at this width)")
    p.add_argument("--sigma-b2", type=variance, default=None, help="bias variance (default: 0)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="mini-batch size of a batch norm (default: the whole input set)")
    p.add_argument("--groups", type=positive_int, default=None, help="groups of gn (default: 8)")
    p.add_argument("--width", type=positive_int, default=512)
    p.add_argument("--depth", type=positive_int, default=10)
    p.add_argument("--seeds", type=positive_int, default=32)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--rho", type=correlation, nargs="+", default=[-0.5, 0.0, 0.5, 0.9],
                   help="input correlations of the tracked pairs")
    p.add_argument("--pairs", choices=("independent", "anchored"), default="independent",
                   help="pairs orthogonal to each other, or all sharing one anchor input")
    p.add_argument("--input-dim", type=positive_int, default=64)
    p.add_argument("--engine", choices=("reduced", "weights"), default="reduced")
    p.add_argument("--chunk", type=positive_int, default=8, help="networks per vmap call")
    p.add_argument("--every", type=positive_int, default=5, help="report every k-th layer")
    p.add_argument("--level", type=level, default=0.95, help="confidence level in (0, 1)")
    p.add_argument("--float32", action="store_true", help="float32 instead of float64")
    add_json(p)
    p.set_defaults(run=_run)

    p = subparsers.add_parser("mc-lemma1", help="Monte-Carlo check of MimicNorm Lemma 1")
    p.add_argument("--n-in", type=positive_int, default=4)
    p.add_argument("--n-out", type=positive_int, default=256)
    p.add_argument("--rho", type=correlation, nargs="+", default=[0.5])
    p.add_argument("--draws", type=positive_int, default=20000)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--level", type=level, default=0.95, help="confidence level in (0, 1)")
    add_json(p)
    p.set_defaults(run=_lemma1)
