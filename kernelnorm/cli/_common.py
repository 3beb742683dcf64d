"""Shared CLI pieces: typed arguments, scheme construction, table/JSON output, progress bars."""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager

from kernelnorm._argtypes import (  # noqa: F401 (re-exported: the commands' argparse types)
    MAX_COUNT,
    MAX_VARIANCE,
    correlation,
    finite_float,
    image_file,
    int_list,
    integer,
    level,
    nonnegative_float,
    number,
    output_file,
    positive_float,
    positive_int,
    positive_scale,
    positive_variance,
    seed,
    variance,
    width,
)
from kernelnorm._errors import check_finite_result
from kernelnorm._resources import reporting_progress, require  # noqa: F401 (re-exported)
from kernelnorm.io import dumps, format_number, format_table  # noqa: F401 (re-exported)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def norm_type(engine: str | None = None):
    """argparse type of ``--norm``: a registered scheme name or alias (canonical name returned),
    refused at parse time when ``engine`` (``"dense"``, ``"conv"``) cannot run it."""
    def parse(text: str) -> str:
        from kernelnorm._errors import KernelnormInputError
        from kernelnorm._registry import get_scheme, require_engine

        try:
            scheme = get_scheme(text)
            if engine is not None:
                require_engine(scheme, engine)
        except KernelnormInputError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[1]) from None
        return scheme.name

    parse.__name__ = "scheme"
    return parse


def add_norm_argument(parser: argparse.ArgumentParser, *, engine: str | None = None,
                      default: str = "plain", flag: str = "--norm") -> None:
    """``--norm`` with the registry's names for ``engine`` in its help (aliases accepted)."""
    from kernelnorm._registry import norm_help

    parser.add_argument(flag, type=norm_type(engine), default=default, metavar="NORM",
                        help=f"normalisation scheme, {norm_help(engine=engine)} "
                             f"(default: %(default)s)")


def add_scheme_arguments(parser: argparse.ArgumentParser, *, default_norm: str = "plain") -> None:
    """``--norm --activation --sigma-w2/--sigma-w --sigma-b2 --width`` of a dense block
    (stable init by default)."""
    add_norm_argument(parser, engine="dense", default=default_norm)
    parser.add_argument("--activation", default="relu",
                        help="relu, erf, tanh, gelu, silu, identity (default: %(default)s)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--sigma-w2", type=positive_variance, default=None,
                       help="weight variance sigma_w^2 (default: the stable init, q* = 1)")
    scale.add_argument("--sigma-w", type=positive_scale, default=None,
                       help="weight scale sigma_w (alternative to --sigma-w2)")
    parser.add_argument("--sigma-b2", type=variance, default=None,
                        help="bias variance sigma_b^2 (default: 0)")
    parser.add_argument("--width", type=width, default=None,
                        help="input width n of weight-mean layers, or inf (default: inf)")


def add_batch_size_argument(parser: argparse.ArgumentParser) -> None:
    """``--batch-size B`` of batch norm's mini-batches (the finite-batch theory)."""
    parser.add_argument("--batch-size", type=width, default=None,
                        help="mini-batch size B >= 2 of bn, or inf (default: the full-batch "
                             "limit of MimicNorm Theorem 2)")


def _check_applicable(args, scheme, *, network_width: bool = False) -> None:
    """Flags that do not apply to the scheme are errors naming the flag, never ignored."""
    from kernelnorm._errors import KernelnormInputError

    if scheme.normaliser == "batch":
        for flag in ("sigma_w2", "sigma_w", "sigma_b2"):
            if getattr(args, flag, None) is not None:
                raise KernelnormInputError(
                    "--" + flag.replace("_", "-"),
                    f"does not apply to {scheme.name}: batch norm removes the weight scale "
                    "and the bias")
    if not network_width and getattr(args, "width", None) is not None and scheme.weights != "mean":
        raise KernelnormInputError(
            "--width", f"is the input width of weight-mean layers (Lemma 1); {scheme.name} "
            "has none: its kernel does not depend on the width")


def scheme_from_args(args, *, sigma_b2=None, network_width: bool = False):
    """The :class:`kernelnorm.DenseBlock` the arguments describe; ``sigma_w2`` defaults to the
    stable init. ``sigma_b2`` overrides ``args.sigma_b2``; ``network_width``: ``--width`` is
    the finite network's width (Monte-Carlo), Lemma 1's width for weight mean only."""
    from kernelnorm._registry import get_scheme
    from kernelnorm._schemes import DenseBlock

    scheme = get_scheme(args.norm, groups=getattr(args, "groups", None))
    _check_applicable(args, scheme, network_width=network_width)
    sigma_w = getattr(args, "sigma_w", None)
    sigma_w2 = getattr(args, "sigma_w2", None) if sigma_w is None else sigma_w**2
    if sigma_b2 is None:
        sigma_b2 = getattr(args, "sigma_b2", None)
    width = getattr(args, "width", None)
    if network_width and scheme.weights != "mean":
        width = None
    return DenseBlock(scheme, args.activation, sigma_w2=sigma_w2,
                      sigma_b2=0.0 if sigma_b2 is None else sigma_b2,
                      width=math.inf if width is None else width,
                      batch_size=getattr(args, "batch_size", None))


def describe_scheme(block) -> str:
    """One line naming the dense block and its parameters, for command output."""
    if not block.has_sigma_w:
        batch = f", batch size {block.batch_size}" if block.batch_size else ""
        return f"{block.name}, {block.activation.name}{batch}"
    extra = f", width={format_number(block.width)}" if block.scheme.weights == "mean" else ""
    return (f"{block.name}, {block.activation.name}, sigma_w2={block.sigma_w2:.6g}, "
            f"sigma_b2={block.sigma_b2:.6g}{extra}")


def emit(args, payload, text: str, *, allow_nan: bool = False) -> None:
    """Print JSON when ``--json`` was given, else the human-readable text. A NaN anywhere in
    ``payload`` is an internal numerical failure (exit 1), never a printed number, unless
    ``allow_nan`` (a result that reports its own NaN, e.g. a diverged training loss)."""
    if not allow_nan:
        check_finite_result("", payload)
    print(dumps(payload) if getattr(args, "json", False) else text)


def progress(iterable=None, *, total=None, desc: str = "", disable: bool | None = None):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless forced)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, file=sys.stderr, leave=False)


@contextmanager
def layer_progress(desc: str):
    """A bar for work without a loop to wrap: fed ``(done, total)`` by the library's
    ``report_progress`` calls (the NTK recursion's layers); a new pass restarts it."""
    bar = progress(total=1, desc=desc)
    if bar.disable:
        with bar:
            yield
        return

    def update(done: int, total: int) -> None:
        if total != bar.total or done < bar.n:
            bar.reset(total=total)
        bar.update(done - bar.n)

    with bar, reporting_progress(update):
        yield
