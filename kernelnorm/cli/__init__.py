"""``kernelnorm`` command line. Each ``_*.py`` module here registers its own subcommands.

Scalar commands import numpy/scipy only; commands that need JAX import it inside their handler.
Bad input -> one line ``kernelnorm: error: argument X: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kernelnorm._errors import KernelnormInputError

#: Modules that contribute subcommands via ``register(subparsers)``; importing them is cheap.
COMMAND_MODULES = (
    "kernelnorm.cli._theory",
    "kernelnorm.cli._power",
    "kernelnorm.cli._mc",
    "kernelnorm.cli._train",
    "kernelnorm.cli._ntk",
    "kernelnorm.cli._figures",
)


class _Parser(argparse.ArgumentParser):
    """One-line errors (exit 2, no usage dump); long options are never prefix-matched."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"kernelnorm: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kernelnorm",
        description="Kernel theory of normalisation-free training (chi_1, fixed points, NTK, "
        "power decompositions), checked against finite networks.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a parse error already printed on one line
        return int(exit_.code or 0)
    try:
        return int(args.run(args) or 0)
    except KernelnormInputError as err:
        print(f"kernelnorm: error: {err}", file=sys.stderr)
        return 2
    except (ArithmeticError, RuntimeError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"kernelnorm: error: {type(err).__name__}: {err} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kernelnorm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
