"""Atomic output: a file is either its old content or its complete new content, never half."""

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
    write_text(path, json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    import math

    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload) -> str:
    """JSON text; infinities become the strings ``"inf"``/``"-inf"`` (JSON has none)."""
    return json.dumps(_finite(payload), indent=2, default=_jsonable)


def _finite(value):
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def read_json(path: str, argument: str = "--data"):
    """Load a data file written by an ``analysis/`` pipeline; a missing or corrupt file is a
    :class:`KernelnormInputError` naming ``argument`` (and saying which pipeline to run)."""
    from kernelnorm._errors import KernelnormInputError

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise KernelnormInputError(argument, f"cannot read {path}: {err}") from None


def save_figure(fig, path: str, *, dpi: int = 150) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
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
