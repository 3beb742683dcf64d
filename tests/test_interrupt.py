"""Ctrl-C under a pseudo-terminal: ``memory``, ``train`` and every analysis script end within
a second or two of the keystroke, with exit code 130, one visible line ``PROG: interrupted``,
no traceback, and no output file or temporary file left behind.

The child runs as a session leader on a fresh pty (``pty.fork``); writing ``^C`` to the master
makes the terminal send SIGINT to the child's process group, exactly as a user's keystroke does.
It is sent once the command is busy (imports done, JAX compiling or computing).
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from pathlib import Path

import pytest

pty = pytest.importorskip("pty")

REPO = Path(__file__).resolve().parents[1]
STARTUP = 2.0  # seconds before ^C: past the imports, while the command works
ALLOWED = 2.0  # seconds from ^C to exit

COMMANDS = {
    "memory": ["-m", "kernelnorm", "memory", "--model", "resnet18"],
    "train": ["-m", "kernelnorm", "train", "--model", "fcnn", "--epochs", "500"],
    "decorrelation_depth": ["analysis/decorrelation_depth.py", "--out", "{out}"],
    "kappa_depth": ["analysis/kappa_depth.py", "--out", "{out}"],
    "lemma1_erratum": ["analysis/lemma1_erratum.py", "--draws", "2000000", "--out", "{out}"],
    "mc_rates": ["analysis/mc_rates.py", "--out", "{out}"],
    "minibatch_bn": ["analysis/minibatch_bn.py", "--out", "{out}"],
    "power_sweep": ["analysis/power_sweep.py", "--out", "{out}"],
    "transition_maps": ["analysis/transition_maps.py", "--activation", "tanh", "--out", "{out}"],
}


def test_every_analysis_script_is_covered():
    scripts = {p.stem for p in (REPO / "analysis").glob("*.py")}
    assert scripts <= set(COMMANDS), scripts - set(COMMANDS)


def _read_all(fd: int, until: float) -> bytes:
    data = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return data


def interrupt(argv: list[str], cwd: Path) -> tuple[int | None, float, str]:
    """Run ``python argv`` on a pty, press ^C after :data:`STARTUP` seconds; return the exit
    code (``None`` if it had already ended), the seconds from ^C to exit, and the text seen."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERNELNORM_MAX_HOURS": "100"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, *argv], env)
    seen = _read_all(fd, time.monotonic() + STARTUP)
    if os.waitpid(pid, os.WNOHANG)[0]:
        os.close(fd)
        return None, 0.0, seen.decode(errors="replace")
    os.write(fd, b"\x03")
    pressed = time.monotonic()
    deadline = pressed + 30
    status = None
    while time.monotonic() < deadline:
        seen += _read_all(fd, time.monotonic() + 0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - pressed
    seen += _read_all(fd, time.monotonic() + 0.2)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), elapsed, seen.decode(errors="replace")


def visible_lines(text: str) -> list[str]:
    """What the terminal shows: each line after its last carriage return, ANSI codes and the
    terminal's own ``^C`` echo removed, blank lines dropped."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("^C", "")
    lines = (line.split("\r")[-1] if line.split("\r")[-1].strip() else
             next((p for p in reversed(line.split("\r")) if p.strip()), "")
             for line in text.split("\n"))
    return [line.strip() for line in lines if line.strip()]



@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_ctrl_c_ends_the_command_at_once_with_one_line(name, tmp_path):
    out = tmp_path / "out" / "result.json"
    argv = [a.format(out=out) for a in COMMANDS[name]]
    if argv[0].endswith(".py"):
        argv[0] = str(REPO / argv[0])
    code, elapsed, seen = interrupt(argv, tmp_path)
    assert code is not None, f"{name} ended before ^C: {seen[-500:]}"
    prog = "kernelnorm" if argv[0] == "-m" else os.path.basename(argv[0])
    assert "Traceback" not in seen and "Segmentation" not in seen, seen[-2000:]
    assert code == 130, seen[-2000:]
    assert elapsed < ALLOWED, elapsed
    assert visible_lines(seen) == [f"{prog}: interrupted"], seen[-2000:]
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == [], leftovers
