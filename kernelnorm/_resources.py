"""The memory and time a request implies, checked before the work starts.

Every engine states its cost as simple formulas next to its entry point (bytes of its largest
arrays, operation counts) and calls :func:`require` with one term per argument that drives it.
A request is refused, with its estimate and the argument of the largest term, when

* memory: the summed bytes exceed what the machine has free now (:func:`available_memory`:
  ``MemAvailable`` of ``/proc/meminfo``, capped by a cgroup limit; the accelerator's free memory
  when JAX runs on one), or ``KERNELNORM_MAX_MEMORY`` (bytes, ``K``/``M``/``G``/``T`` suffixes)
  when that is smaller;
* time: the summed lower-bound seconds exceed :func:`time_limit` (``KERNELNORM_MAX_HOURS``,
  default :data:`DEFAULT_MAX_HOURS`). Seconds are operation counts over the fast-machine rates
  below, so an estimate is optimistic: a refused request would surely take longer.

Work that passes but is estimated at more than :data:`LONG_SECONDS` is long: the CLI shows progress
for it (every long loop has a bar; see :func:`is_long`).
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar

from kernelnorm._errors import KernelnormInputError

#: Optimistic throughputs (a fast multi-core CPU): time estimates are lower bounds.
FLOPS_PER_SECOND = 1e11
#: Element-wise kernel evaluations (arccos kernels, normalisers) per second.
ELEMENTS_PER_SECOND = 1e9
#: Seconds of interpreter overhead per step of a Python-level loop (one NTK layer, one draw).
PYTHON_STEP_SECONDS = 1e-5
DEFAULT_MAX_HOURS = 1.0
LONG_SECONDS = 10.0
FLOAT64 = 8
FLOAT32 = 4


def format_bytes(count: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError  # pragma: no cover


def format_seconds(seconds: float) -> str:
    """``5400 -> '1.5 h'``."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.3g} h"
    if seconds < 365 * 86400:
        return f"{seconds / 86400:.3g} days"
    return f"{seconds / (365 * 86400):.3g} years"


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_free() -> int | None:
    """Free bytes under a cgroup memory limit (v2, then v1), or ``None`` without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_file)
        if limit is not None and limit < 2**60:
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def host_memory() -> int:
    """Bytes of host memory free now (``MemAvailable``, capped by a cgroup limit)."""
    candidates = [v for v in (_meminfo_available(), _cgroup_free()) if v is not None]
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 2**62  # unknown: do not refuse on memory
    return min(candidates)


def device_memory() -> int | None:
    """Free bytes of JAX's default accelerator, or ``None`` when JAX is not loaded or runs on
    the CPU (then host memory is what counts)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        device = jax.devices()[0]
        if device.platform == "cpu":
            return None
        stats = device.memory_stats() or {}
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    except Exception:  # noqa: BLE001 (no statistics on this backend)
        return None


def memory_cap() -> float:
    """``KERNELNORM_MAX_MEMORY`` in bytes (``"8G"``, ``"512M"``, ``"1e9"``), or ``inf``."""
    text = os.environ.get("KERNELNORM_MAX_MEMORY", "").strip().upper().removesuffix("B")
    scale = 1
    if text[-1:] in "KMGT" and text:
        scale, text = 1024 ** ("KMGT".index(text[-1]) + 1), text[:-1]
    try:
        value = float(text) * scale
    except ValueError:
        return math.inf
    return value if value > 0 else math.inf


def available_memory(*, device: bool = False) -> int:
    """Bytes free for a request: host memory, or the accelerator's when ``device`` and JAX runs
    on one; at most :func:`memory_cap`."""
    free = device_memory() if device else None
    free = host_memory() if free is None else free
    return int(min(free, memory_cap()))


def time_limit() -> float:
    """Seconds of work a single request may take: ``KERNELNORM_MAX_HOURS`` (default 1 h;
    ``0`` or ``inf``: no limit)."""
    text = os.environ.get("KERNELNORM_MAX_HOURS", "")
    try:
        hours = float(text) if text else DEFAULT_MAX_HOURS
    except ValueError:
        hours = DEFAULT_MAX_HOURS
    return hours * 3600.0 if hours > 0 and math.isfinite(hours) else math.inf


def _largest(terms) -> tuple[float, str]:
    total = 0.0
    worst = (-1.0, "")
    for amount, argument in terms:
        amount = float(amount)
        total += amount
        if amount > worst[0]:
            worst = (amount, argument)
    return total, worst[1]


def require(what: str, *, memory=(), seconds=(), device: bool = False) -> float:
    """Refuse ``what`` unless its memory and time fit; return the estimated seconds.

    ``memory`` and ``seconds`` are ``(amount, argument)`` terms (bytes, lower-bound seconds);
    the refusal names the argument of the largest term. ``device``: the arrays live on JAX's
    default device.
    """
    need, argument = _largest(memory)
    if memory:
        free = available_memory(device=device)
        if need > free:
            raise KernelnormInputError(
                argument, f"{what} needs about {format_bytes(need)} of memory, more than the "
                          f"{format_bytes(free)} free on this machine")
    total, argument = _largest(seconds)
    limit = time_limit()
    if seconds and total > limit:
        raise KernelnormInputError(
            argument, f"{what} would take at least {format_seconds(total)}, more than the "
                      f"{format_seconds(limit)} limit (raise KERNELNORM_MAX_HOURS to allow it)")
    return total


def is_long(seconds: float) -> bool:
    """Whether estimated work is long enough to deserve a progress bar."""
    return seconds > LONG_SECONDS


_progress: ContextVar = ContextVar("kernelnorm_progress", default=None)


@contextmanager
def reporting_progress(callback):
    """Within the block, deep loops that call :func:`report_progress` (the NTK recursion's
    layers) pass ``(done, total)`` to ``callback``: how the CLI draws a bar for work that has
    no loop of its own to wrap."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def report_progress(done: int, total: int) -> None:
    """Tell the active :func:`reporting_progress` callback (if any) that ``done`` of ``total``
    steps are finished."""
    callback = _progress.get()
    if callback is not None:
        callback(done, total)
