"""Atomic output and script plumbing (public: analysis, figures and benchmarks use it).

A file is either its old content or its complete new content, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path: str, payload) -> None:
    write_text(path, dumps(payload) + "\n")


def to_jsonable(value):
    """Plain JSON data: numpy/JAX scalars and arrays become numbers and lists, and non-finite
    floats the strings ``"inf"``, ``"-inf"``, ``"nan"`` (JSON has no such numbers)."""
    import math

    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "ndim"):  # numpy/JAX scalar or array
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def dumps(payload) -> str:
    """Indented JSON text of :func:`to_jsonable` (payload)."""
    return json.dumps(to_jsonable(payload), indent=2)


def read_json(path: str, argument: str = "--data"):
    """Load a data file written by an ``analysis/`` pipeline; a missing or corrupt file is a
    :class:`KernelnormInputError` naming ``argument`` (and saying which pipeline to run)."""
    from kernelnorm._errors import KernelnormInputError

    try:
        with open(path, encoding="utf-8") as handle:
            return from_jsonable(json.load(handle))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KernelnormInputError(argument, f"cannot read {path}: {err}") from None


NON_FINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def from_jsonable(value):
    """The inverse of :func:`to_jsonable` for non-finite numbers: the strings ``"inf"``,
    ``"-inf"`` and ``"nan"`` become floats again, at any depth."""
    if isinstance(value, dict):
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    return value


def save_figure(fig, path: str, *, dpi: int = 150, pdf: bool = False) -> None:
    """Save a matplotlib figure atomically, in the format of the path's extension (PNG when it
    has none), and close it. ``pdf=True`` also writes a PDF beside it (same stem).

    The bytes depend on the figure only: PDFs carry no creation date."""
    import matplotlib.pyplot as plt

    paths = [path]
    if pdf and os.path.splitext(path)[1].lower() != ".pdf":
        paths.append(os.path.splitext(path)[0] + ".pdf")
    for target in paths:
        extension = os.path.splitext(target)[1].lstrip(".").lower() or "png"
        metadata = {"CreationDate": None} if extension == "pdf" else None
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, format=extension, metadata=metadata)
    plt.close(fig)


def run_script(main, argv=None) -> int:
    """Exit code of an ``analysis/`` or ``figures/`` script's ``main``: bad input is one line
    on stderr and exit 2, never a traceback."""
    import os
    import sys

    from kernelnorm._errors import KernelnormInputError

    try:
        return int(main(argv) or 0)
    except KernelnormInputError as err:
        print(f"{os.path.basename(sys.argv[0])}: error: {err}", file=sys.stderr)
        return 2


#: Sizes of a figure pipeline (``analysis/NAME.py --profile``): ``tiny`` runs in seconds (the
#: tests), ``default`` draws the gallery, ``full`` uses the paper's sizes.
PROFILES = ("tiny", "default", "full")


def pipeline_parser(description: str, *, name: str, data: str | None = None):
    """The argument parser every figure pipeline ``analysis/NAME.py`` starts from:
    ``--out PATH`` (default ``results/NAME.json``), ``--profile {tiny,default,full}``,
    ``--seed`` and, when the pipeline reads a data set, ``--data`` (default ``data``)."""
    import argparse

    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--out", default=f"results/{name}.json",
                        help="data file to write (default: %(default)s)")
    parser.add_argument("--profile", choices=PROFILES, default="default",
                        help="sizes: tiny (seconds), default (the gallery), full (the paper's)")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default: 0)")
    if data is not None:
        parser.add_argument("--data", default=data,
                            help="digits, mnist1d, mnist:DIR, cifar10:DIR, cifar100:DIR "
                                 "(default: %(default)s)")
    return parser


def pipeline_main(compute, description: str, *, figure: dict, profiles: dict, argv=None) -> int:
    """``main`` of a figure pipeline: parses :func:`pipeline_parser`'s arguments, runs
    ``compute(profiles[profile], seed=..., data=...)`` (``data`` only when ``figure`` names a
    default ``"data"`` set) and writes its dict, with the figure's metadata, profile, seed and
    sizes, to ``--out``."""
    import time

    default_data = figure.get("data")
    args = pipeline_parser(description, name=figure["name"], data=default_data).parse_args(argv)
    config = dict(profiles[args.profile])
    extra = {"data": args.data} if default_data is not None else {}
    started = time.perf_counter()
    result = compute(config, seed=args.seed, **extra)
    payload = {"figure": figure["name"], "paper": figure["paper"], "profile": args.profile,
               "seed": args.seed, **extra, "config": config,
               "seconds": time.perf_counter() - started, **result}
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.1f} s)")
    return 0


def figure_main(draw, description: str, *, data: str, out: str, argv=None) -> int:
    """``main`` of a figure script that draws one ``analysis/`` data file: parses ``--data`` and
    ``--out``, calls ``draw(payload, out)`` and reports the file written."""
    import argparse

    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--data", default=data, help="data file (default: %(default)s)")
    parser.add_argument("--out", default=out, help="PNG to write (default: %(default)s)")
    args = parser.parse_args(argv)
    draw(read_json(args.data), args.out)
    print(f"wrote {args.out}")
    return 0


def format_number(value, digits: int = 6) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    import math

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
