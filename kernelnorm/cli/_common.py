"""Shared CLI pieces: typed arguments, scheme construction, table/JSON output, progress bars."""

from __future__ import annotations

import argparse
import math
import sys

from kernelnorm._io import dumps


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def correlation(text: str) -> float:
    value = finite_float(text)
    if abs(value) > 1:
        raise argparse.ArgumentTypeError(f"must lie in [-1, 1], got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def width(text: str) -> float:
    """An integer layer width >= 2, or ``inf`` for the wide limit."""
    if text.lower() in ("inf", "infinity"):
        return math.inf
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 or 'inf', got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {text!r}")
    return value


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_scheme_arguments(parser: argparse.ArgumentParser, *, default_norm: str = "plain") -> None:
    """``--norm --activation --sigma-w2/--sigma-w --sigma-b2 --width`` (stable init by default)."""
    parser.add_argument("--norm", default=default_norm,
                        help="plain, weight-mean or bn (default: %(default)s)")
    parser.add_argument("--activation", default="relu",
                        help="relu, erf, tanh, gelu, silu, identity (default: %(default)s)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--sigma-w2", type=positive_float, default=None,
                       help="weight variance sigma_w^2 (default: the stable init, q* = 1)")
    scale.add_argument("--sigma-w", type=positive_float, default=None,
                       help="weight scale sigma_w (alternative to --sigma-w2)")
    parser.add_argument("--sigma-b2", type=nonnegative_float, default=0.0,
                        help="bias variance sigma_b^2 (default: %(default)s)")
    parser.add_argument("--width", type=width, default=math.inf,
                        help="input width n of weight-mean layers, or inf (default: inf)")


def scheme_from_args(args):
    """Build the scheme the arguments describe; ``sigma_w2`` defaults to the stable init."""
    from kernelnorm._schemes import BatchNorm, WeightMean, resolve_norm
    from kernelnorm._transition import stable_init

    cls = resolve_norm(args.norm)
    if cls is BatchNorm:
        return BatchNorm(args.activation)
    kwargs = {"width": args.width} if cls is WeightMean else {}
    scheme = cls(args.activation, sigma_w2=1.0, sigma_b2=args.sigma_b2, **kwargs)
    sigma_w = getattr(args, "sigma_w", None)
    sigma_w2 = args.sigma_w2 if sigma_w is None else sigma_w**2
    if sigma_w2 is None:
        sigma_w2 = stable_init(scheme)
    return cls(args.activation, sigma_w2=sigma_w2, sigma_b2=args.sigma_b2, **kwargs)


def describe_scheme(scheme) -> str:
    """One line naming the scheme and its parameters, for command output."""
    if scheme.name == "bn":
        return f"bn, {scheme.activation.name}"
    extra = f", width={format_number(scheme.width)}" if scheme.name == "weight-mean" else ""
    return (f"{scheme.name}, {scheme.activation.name}, sigma_w2={scheme.sigma_w2:.6g}, "
            f"sigma_b2={scheme.sigma_b2:.6g}{extra}")


def format_number(value, digits: int = 6) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}g}"


def format_table(rows: list[dict], columns: list[str], *, digits: int = 6) -> str:
    """Left-aligned text table; numbers with ``digits`` significant digits."""
    cells = [[format_number(row.get(col), digits) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def emit(args, payload, text: str) -> None:
    """Print JSON when ``--json`` was given, else the human-readable text."""
    print(dumps(payload) if getattr(args, "json", False) else text)


def progress(iterable=None, *, total=None, desc: str = "", disable: bool | None = None):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless forced)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, file=sys.stderr, leave=False)
