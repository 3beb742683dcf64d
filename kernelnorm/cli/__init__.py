"""``kernelnorm`` command line. Each ``_*.py`` module here registers its own subcommands.

Scalar commands import numpy/scipy only; commands that need JAX import it inside their handler.
Every failure is one line on stderr (``kernelnorm._guard``): bad input ``kernelnorm: error:
argument X: ...`` and exit 2, an internal numerical failure exit 1, Ctrl-C exit 130.
"""

from __future__ import annotations

import importlib
import sys

from kernelnorm._guard import run_guarded, signals_end_process
from kernelnorm.io import ArgumentParser

#: Modules that contribute subcommands via ``register(subparsers)``; importing them is cheap.
COMMAND_MODULES = (
    "kernelnorm.cli._theory",
    "kernelnorm.cli._power",
    "kernelnorm.cli._mc",
    "kernelnorm.cli._train",
    "kernelnorm.cli._ntk",
    "kernelnorm.cli._figures",
)


class _Parser(ArgumentParser):
    """One-line errors (exit 2, no usage dump); long options are never prefix-matched."""

    def error(self, message):
        self.exit(2, f"kernelnorm: error: {' '.join(message.split())}\n")


def build_parser() -> ArgumentParser:
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
    with signals_end_process("kernelnorm"):
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help, or a parse error already printed on one line
            return int(exit_.code or 0)
        return run_guarded(lambda: args.run(args), prog="kernelnorm", debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
