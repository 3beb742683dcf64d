"""How a kernelnorm process ends: the one place the CLI's ``main`` and every ``analysis/`` and
``figures/`` script (through :func:`kernelnorm.io.run_script`) turn failures into exit codes.

* Bad input (:class:`~kernelnorm.KernelnormInputError`): one line ``PROG: error: argument X:
  ...`` on stderr, exit 2.
* An internal numerical failure (a NaN result, overflow, a failed factorisation) or any other
  unexpected exception: one line, exit 1; the traceback only with ``--debug`` or
  ``KERNELNORM_DEBUG=1``.
* Ctrl-C (SIGINT): ``PROG: interrupted``, exit 130; SIGTERM: ``PROG: terminated``, exit 143. The
  interpreter runs Python signal handlers only between bytecodes, so a long XLA or LAPACK call
  would delay them; a watcher thread woken by :func:`signal.set_wakeup_fd` (written by the C
  handler at once) removes unfinished output files, flushes, and leaves through ``os._exit``:
  no ``KeyboardInterrupt`` unwinding, no JAX runtime teardown (which can segfault mid-compile).
* Warnings never reach stderr: numerical trouble is caught by the checks of the results instead.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager

EXIT_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143
_SIGNALS = {signal.SIGINT: ("interrupted", EXIT_INTERRUPTED),
            signal.SIGTERM: ("terminated", EXIT_TERMINATED)}
_NUMERICAL = ("LinAlgError", "FloatingPointError", "OverflowError", "ZeroDivisionError",
              "KernelnormNumericalError")

_installed: dict | None = None
_exiting = threading.Lock()
#: Called (without arguments) just before a signal ends the process: unfinished outputs go.
cleanups: list = []


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (whitespace runs collapsed), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def debug_requested() -> bool:
    return os.environ.get("KERNELNORM_DEBUG", "") not in ("", "0")


def _end_process(signum: int) -> None:
    if not _exiting.acquire(blocking=False):
        return  # the other path (handler or watcher) is already ending the process
    what, code = _SIGNALS.get(signum, ("interrupted", EXIT_INTERRUPTED))
    for cleanup in list(cleanups):
        try:
            cleanup()
        except Exception:  # noqa: BLE001 (exiting anyway)
            pass
    prog = (_installed or {}).get("prog", "kernelnorm")
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    erase = "\r\x1b[K" if os.isatty(2) else ""  # a progress bar may own the terminal line
    try:
        os.write(2, f"{erase}{prog}: {what}\n".encode())
    except OSError:
        pass
    os._exit(code)


def _handler(signum, frame) -> None:
    _end_process(signum)


def _watch(fd: int, stopped: threading.Event) -> None:
    while not stopped.is_set():
        try:
            data = os.read(fd, 1)
        except OSError:
            return
        if not data or stopped.is_set():
            return
        if data[0] in _SIGNALS:  # the C handler writes every handled signal's number
            _end_process(data[0])


def install_signal_handlers(prog: str) -> bool:
    """From now on SIGINT/SIGTERM end the process at once (see the module docstring).
    Returns False (and does nothing) off the main thread or when already installed."""
    global _installed
    if _installed is not None or threading.current_thread() is not threading.main_thread():
        return False
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        old = {s: signal.signal(s, _handler) for s in _SIGNALS}
    except (ValueError, OSError):
        os.close(read_fd)
        os.close(write_fd)
        return False
    stopped = threading.Event()
    watcher = threading.Thread(target=_watch, args=(read_fd, stopped), name="kernelnorm-signals",
                               daemon=True)
    watcher.start()
    _installed = {"prog": prog, "old": old, "old_fd": old_fd, "fds": (read_fd, write_fd),
                  "watcher": watcher, "stopped": stopped}
    return True


def remove_signal_handlers() -> None:
    """Restore the handlers that were there before :func:`install_signal_handlers`."""
    global _installed
    if _installed is None:
        return
    state, _installed = _installed, None
    for signum, old in state["old"].items():
        signal.signal(signum, old)
    signal.set_wakeup_fd(state["old_fd"])
    read_fd, write_fd = state["fds"]
    state["stopped"].set()
    os.close(write_fd)  # the watcher's read returns b"" and it ends
    state["watcher"].join(timeout=1.0)
    os.close(read_fd)


@contextmanager
def signals_end_process(prog: str):
    """:func:`install_signal_handlers` for the duration of the block (nesting is harmless)."""
    installed = install_signal_handlers(prog)
    try:
        yield
    finally:
        if installed:
            remove_signal_handlers()


def report(prog: str, err: BaseException) -> int:
    """Print the one line for ``err`` and return its exit code."""
    from kernelnorm._errors import KernelnormInputError

    if isinstance(err, KernelnormInputError):
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return EXIT_INPUT
    name = type(err).__name__
    detail = one_line(err) or name
    if isinstance(err, MemoryError):
        line = f"out of memory ({detail})"
    elif name in _NUMERICAL or isinstance(err, ArithmeticError):
        line = f"numerical failure: {detail}"
    elif "RESOURCE_EXHAUSTED" in detail:
        line = f"out of memory: {detail}"
    else:
        line = f"internal error: {name}: {detail} (rerun with KERNELNORM_DEBUG=1 for the traceback)"
    print(f"{prog}: error: {line}", file=sys.stderr)
    return EXIT_FAILURE


def run_guarded(function, *, prog: str, debug: bool = False, rename: dict | None = None) -> int:
    """``function()``'s exit code under the contract of the module docstring. ``rename`` maps
    library argument names to the flags a script's user typed (``{"--width": "--widths"}``)."""
    from kernelnorm._errors import KernelnormInputError, renamed_arguments

    with signals_end_process(prog), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with renamed_arguments(rename or {}):
                return int(function() or 0)
        except SystemExit as exit_:  # argparse: --help, or a parse error already printed
            return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except KeyboardInterrupt:  # SIGINT raised before the handlers were installed
            print(f"{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # the reader went away (`kernelnorm compare | head -1`)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_FAILURE
        except KernelnormInputError as err:
            return report(prog, err)
        except Exception as err:  # noqa: BLE001 (the one place that reports every failure)
            if debug or debug_requested():
                raise
            return report(prog, err)
