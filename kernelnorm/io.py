"""Atomic output and script plumbing (public: analysis, figures and benchmarks use it).

A file is either its old content or its complete new content, never half.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
from contextlib import contextmanager

from kernelnorm._argtypes import (  # noqa: F401 (re-exported: the scripts' argparse types)
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
    seed,
)
from kernelnorm._errors import KernelnormInputError, renamed_arguments  # noqa: F401 (re-exported)

#: Marks the temporary file of an unfinished atomic write: ``.NAME.kntmpPID-XXXX``.
TEMPORARY = ".kntmp"
#: Temporary files of this process's unfinished writes (removed if a signal ends it).
_temporaries: set[str] = set()
#: The flag that named each output path (``--out``, ``--plot``): write errors name it.
_output_arguments: dict[str, str] = {}


class ArgumentParser(argparse.ArgumentParser):
    """argparse for kernelnorm's CLI and scripts: errors are one line ``PROG: error: ...``
    (exit 2, no usage dump), long options are never prefix-matched (``--sigma-w`` is not
    ``--sigma-w2``), and output-path arguments remember their flag for write errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(namespace, action.dest, None)
            if getattr(action.type, "output", False) and isinstance(value, str) and action.option_strings:
                _output_arguments[os.path.abspath(value)] = action.option_strings[0]
        return namespace, extras


def output_argument(path: str, default: str = "--out") -> str:
    """The flag that named ``path`` on the command line (``default`` if none did)."""
    return _output_arguments.get(os.path.abspath(path), default)


def image_suffixes() -> tuple[str, ...]:
    """Extensions matplotlib can write (``.png``, ``.pdf``, ``.svg``, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple("." + ext for ext in FigureCanvasBase.get_supported_filetypes())


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(path, argument: str = "--out", *, suffixes=None) -> str:
    """``path`` if a command may write it, checked before any work starts: a non-empty path
    that is an existing writable regular file, or a new name whose nearest existing folder is
    a writable directory (missing folders are created at write time). Directories, devices,
    pipes, a file used as a folder, read-only files and folders are refused; ``suffixes``
    (extensions, or ``"image"`` for what matplotlib writes) restricts the extension."""
    if not isinstance(path, (str, os.PathLike)):
        raise KernelnormInputError(argument, f"expected a file path, got {path!r}")
    path = os.fspath(path)
    if not path.strip():
        raise KernelnormInputError(argument, "the output path is empty")
    if "\0" in path:
        raise KernelnormInputError(argument, "the output path contains a NUL character")
    if suffixes is not None:
        allowed = image_suffixes() if suffixes == "image" else tuple(suffixes)
        extension = os.path.splitext(path)[1].lower()
        if extension and extension not in allowed:
            raise KernelnormInputError(argument, f"cannot write {extension} files (use one of "
                                                 f"{', '.join(allowed)})")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as err:  # ENOTDIR: a file where a folder should be; ELOOP; EACCES
        raise KernelnormInputError(argument, f"cannot write {path}: {err.strerror}") from None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            raise KernelnormInputError(argument, f"{path} is {_kind(info.st_mode)}, not a regular file")
        if not os.access(path, os.W_OK):
            raise KernelnormInputError(argument, f"{path} is read-only")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise KernelnormInputError(argument, f"cannot write {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KernelnormInputError(argument, f"cannot write {path}: the folder {folder} is read-only")
    return path


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep_stale_temporaries(directory: str, prefix: str) -> None:
    """Remove temporary files of writes to the same name whose process is gone (``kill -9``)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def _remove_temporaries() -> None:
    for tmp in list(_temporaries):
        try:
            os.remove(tmp)
        except OSError:
            pass


@contextmanager
def atomic_path(path: str, argument: str | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    ``path`` is checked first (:func:`check_output_path`). The temporary file is hidden
    (``.NAME.kntmpPID-XXXX``), removed on failure and when a signal ends the process
    (``kernelnorm._guard``), and swept by the next write to ``path`` if the writer was
    killed outright. A write that fails (full disk, ...) leaves the old file untouched and
    raises :class:`KernelnormInputError` naming ``argument`` (default: the flag that named
    the path, else ``--out``).
    """
    from kernelnorm import _guard

    argument = argument or output_argument(path)
    check_output_path(path, argument)
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the file the link points to, keep the link
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    prefix = f".{name[:100]}{TEMPORARY}"
    if _remove_temporaries not in _guard.cleanups:
        _guard.cleanups.append(_remove_temporaries)
    try:
        os.makedirs(directory, exist_ok=True)
        _sweep_stale_temporaries(directory, prefix)
        fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=os.path.splitext(path)[1],
                                   dir=directory)
    except OSError as err:
        raise KernelnormInputError(argument, f"cannot write {path}: {err.strerror or err}") from None
    _temporaries.add(tmp)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except OSError as err:
        raise KernelnormInputError(argument, f"cannot write {path}: {err.strerror or err}") from None
    finally:
        _temporaries.discard(tmp)
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str, *, argument: str | None = None) -> None:
    with atomic_path(path, argument) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path: str, payload, *, argument: str | None = None) -> None:
    write_text(path, dumps(payload) + "\n", argument=argument)


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


def read_json(path: str, argument: str = "--data", *, required=()):
    """Load a data file written by an ``analysis/`` pipeline; a missing, corrupt or wrong file
    (one without the ``required`` top-level keys) is a :class:`KernelnormInputError` naming
    ``argument``."""
    try:
        if not os.path.isfile(path):
            raise OSError("no such file" if not os.path.exists(path) else "not a regular file")
        with open(path, encoding="utf-8") as handle:
            payload = from_jsonable(json.load(handle))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
        raise KernelnormInputError(argument, f"cannot read {path}: {err}") from None
    missing = [key for key in required if not isinstance(payload, dict) or key not in payload]
    if missing:
        raise KernelnormInputError(argument, f"{path} is not the right data file: it has no "
                                             f"{', '.join(map(repr, missing))}")
    return payload


@contextmanager
def data_file_errors(argument: str, path: str):
    """Turn a data file of the wrong shape (a ``KeyError``/``TypeError``/... while drawing it)
    into a :class:`KernelnormInputError` naming ``argument``."""
    try:
        yield
    except KernelnormInputError:
        raise
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as err:
        raise KernelnormInputError(
            argument, f"{path} does not hold what this figure draws ({type(err).__name__}: "
                      f"{' '.join(str(err).split())[:120]}); regenerate it with its analysis script"
        ) from None


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


def save_figure(fig, path: str, *, dpi: int = 150, pdf: bool = False,
                argument: str | None = None) -> None:
    """Save a matplotlib figure atomically, in the format of the path's extension (PNG when it
    has none), and close it. ``pdf=True`` also writes a PDF beside it (same stem).

    The bytes depend on the figure only: PDFs carry no creation date."""
    import matplotlib.pyplot as plt

    argument = argument or output_argument(path)
    check_output_path(path, argument, suffixes="image")
    paths = [path]
    if pdf and os.path.splitext(path)[1].lower() != ".pdf":
        paths.append(os.path.splitext(path)[0] + ".pdf")
    try:
        for target in paths:
            extension = os.path.splitext(target)[1].lstrip(".").lower() or "png"
            metadata = {"CreationDate": None} if extension == "pdf" else None
            with atomic_path(target, argument) as tmp:
                fig.savefig(tmp, dpi=dpi, format=extension, metadata=metadata)
    finally:
        plt.close(fig)


def handle_interrupts() -> None:
    """Call first thing in a script (before importing JAX): from then on Ctrl-C ends it within
    a second with one line ``SCRIPT: interrupted`` and exit code 130 (SIGTERM: 143), unfinished
    outputs removed, never a traceback."""
    from kernelnorm._guard import install_signal_handlers

    install_signal_handlers(os.path.basename(sys.argv[0]) or "python")


def run_script(main, argv=None, *, rename: dict | None = None) -> int:
    """Exit code of an ``analysis/`` or ``figures/`` script's ``main(argv)``, under the
    contract of the CLI (``kernelnorm._guard``): bad input is one line on stderr and exit 2,
    an internal failure one line and exit 1, Ctrl-C one line and exit 130; never a traceback.
    ``rename`` maps the library's argument names to the script's flags
    (``{"--width": "--widths"}``)."""
    from kernelnorm._guard import run_guarded

    prog = os.path.basename(sys.argv[0]) or "script"
    return run_guarded(lambda: main(argv), prog=prog, rename=rename)


#: Sizes of a figure pipeline (``analysis/NAME.py --profile``): ``tiny`` runs in seconds (the
#: tests), ``default`` draws the gallery, ``full`` uses the paper's sizes.
PROFILES = ("tiny", "default", "full")


def pipeline_parser(description: str, *, name: str, data: str | None = None):
    """The argument parser every figure pipeline ``analysis/NAME.py`` starts from:
    ``--out PATH`` (default ``results/NAME.json``), ``--profile {tiny,default,full}``,
    ``--seed`` and, when the pipeline reads a data set, ``--data`` (default ``data``)."""
    parser = ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--out", type=output_file(), default=f"results/{name}.json",
                        help="data file to write (default: %(default)s)")
    parser.add_argument("--profile", choices=PROFILES, default="default",
                        help="sizes: tiny (seconds), default (the gallery), full (the paper's)")
    parser.add_argument("--seed", type=seed, default=0, help="base random seed (default: 0)")
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
    with renamed_arguments({"--inputs-from": "--data"} if extra else {}):  # the library's names
        result = compute(config, seed=args.seed, **extra)
    payload = {"figure": figure["name"], "paper": figure["paper"], "profile": args.profile,
               "seed": args.seed, **extra, "config": config,
               "seconds": time.perf_counter() - started, **result}
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.1f} s)")
    return 0


def figure_main(draw, description: str, *, data: str, out: str, argv=None, required=()) -> int:
    """``main`` of a figure script that draws one ``analysis/`` data file: parses ``--data`` and
    ``--out`` (checked before drawing), calls ``draw(payload, out)`` and reports the file
    written. ``required``: top-level keys the data file must have."""
    parser = ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--data", default=data, help="data file (default: %(default)s)")
    parser.add_argument("--out", type=image_file, default=out,
                        help="figure to write, format from the extension (default: %(default)s)")
    args = parser.parse_args(argv)
    payload = read_json(args.data, required=required)
    with data_file_errors("--data", args.data):
        draw(payload, args.out)
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
    widths = [max([len(col), *(len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def print_numbers(title: str, numbers: dict, json_path: str | None = None) -> None:
    """Print ``title`` and one aligned ``key  value`` line per entry (floats to 4 significant
    digits), and write ``numbers`` to ``json_path`` atomically if given (the benchmarks' output)."""
    width = max(map(len, numbers))
    print(title)
    for key, value in numbers.items():
        print(f"{key.ljust(width)}  {value:.4g}" if isinstance(value, float) else
              f"{key.ljust(width)}  {value}")
    if json_path:
        write_json(json_path, numbers)
