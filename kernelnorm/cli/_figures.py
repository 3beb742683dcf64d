"""``kernelnorm figures``: regenerate the papers' figures, one pipeline + one drawing per figure.

The figure protocol (docs/gallery.md): a figure ``NAME`` is the pair ``analysis/NAME.py`` (a
pipeline that computes a JSON data file) and ``figures/NAME.py`` (a script that draws it).

* ``analysis/NAME.py`` defines a module-level dict ``FIGURE = {"name", "paper", "claim",
  "estimate_s", "estimate_full_s"}`` (optionally ``"data"``: the default data set, when the
  pipeline takes ``--data``) and ``main(argv)`` accepting ``--out PATH``, ``--profile
  {tiny,default,full}`` and ``--seed`` (:func:`kernelnorm.io.pipeline_parser`).
* ``figures/NAME.py`` has ``main(argv)`` accepting ``--data PATH --out PATH.png`` and writes the
  PNG and a PDF beside it.

Discovery reads ``FIGURE`` without running the module (its literal value; a computed one is
read by importing the module). Pipelines run in a child process each (JAX settings and failures
stay inside one figure); their data files are cached under ``results/figures/NAME/`` by
profile, seed, data set and the SHA-256 of the pipeline's source. Drawing runs in-process.
The CLI sits above ``analysis/`` and ``figures/``: this module imports them by path, never the
other way round.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import functools
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from kernelnorm import _guard
from kernelnorm._errors import KernelnormInputError
from kernelnorm.cli._common import add_json, emit, format_table, integer, seed
from kernelnorm.io import PROFILES

META_KEYS = ("name", "paper", "claim", "estimate_s", "estimate_full_s")
#: Lines of a failing pipeline's stderr kept for its one-line report.
TAIL = 20


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    """One discovered figure: its two scripts and its ``FIGURE`` metadata (``problem`` says why
    the metadata is unusable, ``None`` when it is fine)."""

    name: str
    analysis: Path
    drawing: Path
    meta: dict
    problem: str | None = None

    def estimate(self, profile: str) -> float | None:
        key = "estimate_full_s" if profile == "full" else "estimate_s"
        value = self.meta.get(key)
        if profile == "tiny" or not isinstance(value, (int, float)):
            return None
        return float(value)

    @property
    def takes_data(self) -> bool:
        return isinstance(self.meta.get("data"), str)

    def source_hash(self) -> str:
        """SHA-256 of the pipeline's source, with its time estimates left out (editing an
        estimate does not invalidate the cached data; any other edit does)."""
        return hashlib.sha256(_without_estimates(self.analysis).encode()).hexdigest()


# -- discovery ----------------------------------------------------------------------------------


def find_root(root: str | None = None) -> Path:
    """The repository whose ``analysis/`` and ``figures/`` folders hold the figures: ``root`` if
    given, else the folder above the imported ``kernelnorm`` package (an editable install or a
    clone), else the current directory."""
    import kernelnorm

    if root is not None:
        candidates = [Path(root)]
    else:
        candidates = [Path(kernelnorm.__file__).resolve().parents[1], Path.cwd()]
    for candidate in candidates:
        if (candidate / "analysis").is_dir() and (candidate / "figures").is_dir():
            return candidate.resolve()
    where = str(candidates[0]) if root is not None else \
        f"{candidates[0]} (next to the kernelnorm package) or {candidates[1]}"
    raise KernelnormInputError(
        "--root", f"no analysis/ and figures/ folders in {where}: the figures need a clone of "
        "the repository (pip install -e . there, or run from it)")


def _literal_figure(path: Path):
    """``FIGURE`` as a literal, ``None`` if absent, or ``...`` if it is computed."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        if any(isinstance(t, ast.Name) and t.id == "FIGURE" for t in targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return ...
    return None


def _without_estimates(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for key in ("estimate_s", "estimate_full_s"):
        text = re.sub(r'(["\']%s["\']\s*:\s*)[0-9.eE+_]+' % key, r"\g<1>0", text)
    return text


def _import_by_path(path: Path, tag: str):
    spec = importlib.util.spec_from_file_location(f"_kernelnorm_{tag}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_meta(name: str, meta) -> str | None:
    if not isinstance(meta, dict):
        return "analysis script has no FIGURE dict"
    missing = [key for key in META_KEYS if key not in meta]
    if missing:
        return f"FIGURE lacks {', '.join(missing)}"
    if meta["name"] != name:
        return f"FIGURE name {meta['name']!r} differs from the file name {name!r}"
    for key in ("estimate_s", "estimate_full_s"):
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return f"FIGURE {key} must be a number of seconds, got {value!r}"
    return None


def read_meta(path: Path, name: str) -> tuple[dict, str | None]:
    """``FIGURE`` of ``analysis/NAME.py`` and the problem with it (``None`` when usable)."""
    try:
        meta = _literal_figure(path)
        if meta is ...:
            meta = getattr(_import_by_path(path, "meta"), "FIGURE", None)
    except Exception as err:  # a broken script is reported, not raised: the others still run
        return {}, f"cannot read FIGURE: {type(err).__name__}: {err}"
    problem = _check_meta(name, meta)
    return (meta if isinstance(meta, dict) else {}), problem


def _natural(path: Path):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def discover(root: Path) -> list[FigureSpec]:
    """Every figure of the repository: names with both ``analysis/NAME.py`` and
    ``figures/NAME.py``, in natural order (``fig2`` before ``fig10``)."""
    specs = []
    for analysis in sorted((root / "analysis").glob("*.py"), key=_natural):
        drawing = root / "figures" / analysis.name
        if analysis.stem.startswith("_") or not drawing.is_file():
            continue
        meta, problem = read_meta(analysis, analysis.stem)
        specs.append(FigureSpec(analysis.stem, analysis, drawing, meta, problem))
    return specs


def select(specs: list[FigureSpec], names: list[str], *, everything: bool) -> list[FigureSpec]:
    """The figures named (exact names or shell patterns such as ``mimicnorm_*``), in discovery
    order; unknown names are one error naming the closest figures."""
    import difflib

    if everything:
        return list(specs)
    known = [s.name for s in specs]
    chosen = set()
    for pattern in names:
        hits = fnmatch.filter(known, pattern)
        if not hits:
            close = difflib.get_close_matches(pattern, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else " (see --list)"
            raise KernelnormInputError("NAME", f"no figure {pattern!r}{hint}")
        chosen.update(hits)
    return [s for s in specs if s.name in chosen]


# -- caching ------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:24] + "-" + digest


def cache_path(cache: Path, spec: FigureSpec, *, profile: str, seed: int,
               data: str | None) -> Path:
    """``CACHE/NAME/<profile>-seed<seed>[-<data>]-<source hash>.json``."""
    parts = [profile, f"seed{seed}"]
    if data is not None:
        parts.append(_slug(data))
    parts.append(spec.source_hash()[:16])
    return cache / spec.name / ("-".join(parts) + ".json")


def _drop_stale(path: Path) -> None:
    """Remove the other versions (older sources) of the same profile/seed/data file."""
    stem = path.name.rsplit("-", 1)[0]
    version = re.compile(re.escape(stem) + r"-[0-9a-f]{16}\.json")
    for other in path.parent.iterdir():
        if other != path and version.fullmatch(other.name):
            other.unlink(missing_ok=True)


# -- running ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """What happened to one figure. ``data_cpu_s`` is the pipeline process's CPU time: on a
    busy machine the wall time ``data_s`` exceeds it, on an idle one it is at most about it."""

    name: str
    status: str = "pending"  # ok | failed
    data: str = ""  # computed | cached
    data_s: float = 0.0
    data_cpu_s: float = 0.0
    draw_s: float = 0.0
    message: str = ""
    png: str = ""

    @property
    def total_s(self) -> float:
        return self.data_s + self.draw_s


def _echo(stream, sink, prefix: str, tail: list[str]) -> None:
    for line in iter(stream.readline, ""):
        tail.append(line.rstrip("\n"))
        del tail[:-TAIL]
        sink.write(prefix + line)
        sink.flush()


def _child_env(root: Path, cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    # XLA executables cached on disk: repeated seeds/schemes of one network compile once
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache / ".jax-cache"))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    return env


def _last_error(tail: list[str]) -> str:
    lines = [line.strip() for line in tail if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b", line) or ": error:" in line:
            return line
    return lines[-1] if lines else "no output"


def _stop_process_group(pid: int, *, grace: float = 5.0) -> None:
    """SIGTERM to the child's process group, SIGKILL after ``grace`` seconds, and reap it.
    Runs inside the signal path, possibly while the main thread waits on the same child:
    ``os.waitpid`` directly (``Popen.wait`` would contend for its lock); whoever reaps first
    wins, the other sees ``ChildProcessError``."""
    import signal

    def reaped() -> bool:
        try:
            return os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            return True

    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if reaped():
                return
            time.sleep(0.02)


def run_pipeline(spec: FigureSpec, out: Path, *, root: Path, cache: Path, profile: str,
                 seed: int, data: str | None, quiet: bool, label: str = "") -> tuple[bool, str, float]:
    """Run ``analysis/NAME.py`` in a child process; ``(ok, one-line message, CPU seconds)``.
    ``label`` prefixes the child's echoed lines (several pipelines may run at once)."""
    command = [sys.executable, str(spec.analysis), "--out", str(out), "--profile", profile,
               "--seed", str(seed)]
    if data is not None:
        command += ["--data", data]
    child = subprocess.Popen(command, cwd=root, env=_child_env(root, cache), text=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=1, start_new_session=True)
    tail: list[str] = []
    sinks = (open(os.devnull, "w") if quiet else sys.stdout,
             open(os.devnull, "w") if quiet else sys.stderr)
    readers = [threading.Thread(target=_echo, args=(child.stdout, sinks[0], f"    {label}| ", []),
                                daemon=True),
               threading.Thread(target=_echo, args=(child.stderr, sinks[1], f"    {label}! ", tail),
                                daemon=True)]
    for reader in readers:
        reader.start()

    # a signal ends this process at once (kernelnorm._guard): the child's group goes too
    stop_child = functools.partial(_stop_process_group, child.pid)
    _guard.cleanups.append(stop_child)
    cpu = 0.0
    try:
        try:  # wait4: this child's own CPU seconds (other pipelines may run beside it)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
        except ChildProcessError:  # reaped by the signal path
            child.returncode = -15
        code = child.returncode
    finally:
        _guard.cleanups.remove(stop_child)
        if child.returncode is None:  # an exception left the wait: stop the child the same way
            stop_child()
        for reader in readers:
            reader.join(timeout=5)
        child.stdout.close()
        child.stderr.close()
        if quiet:
            for sink in sinks:
                sink.close()
    if code != 0:
        return False, f"pipeline exit {code}: {_last_error(tail)}", cpu
    if not out.is_file():
        return False, f"pipeline exited 0 but wrote no data file {out}", cpu
    return True, "", cpu


def draw(spec: FigureSpec, data_file: Path, png: Path) -> tuple[bool, str]:
    """Run ``figures/NAME.py`` in-process; ``(ok, one-line message)``."""
    import contextlib
    import io

    captured = io.StringIO()
    try:
        module = _import_by_path(spec.drawing, "figure")
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            code = module.main(["--data", str(data_file), "--out", str(png)])
    except KernelnormInputError as err:
        return False, f"drawing: {err}"
    except SystemExit as exit_:
        code = exit_.code
    except Exception as err:  # one figure's bug must not stop the others
        return False, f"drawing: {type(err).__name__}: {err}"
    if code not in (0, None):
        text = captured.getvalue().strip().splitlines()
        return False, f"drawing exit {code}: {text[-1] if text else 'no output'}"
    missing = [p.name for p in (png, png.with_suffix(".pdf")) if not p.is_file()]
    if missing:
        return False, f"drawing wrote no {' or '.join(missing)}"
    return True, ""


#: Drawing runs in this process (stdout redirected, pyplot state): one figure at a time.
_DRAWING = threading.Lock()


def run_figure(spec: FigureSpec, *, root: Path, cache: Path, out_dir: Path, profile: str,
               seed: int, data: str | None, force: bool, quiet: bool, label: str = "") -> Outcome:
    outcome = Outcome(spec.name)
    if spec.problem:
        outcome.status, outcome.message = "failed", spec.problem
        return outcome
    data_file = cache_path(cache, spec, profile=profile, seed=seed, data=data)
    started = time.perf_counter()
    if data_file.is_file() and not force:
        outcome.data = "cached"
    else:
        outcome.data = "computed"
        data_file.parent.mkdir(parents=True, exist_ok=True)
        ok, message, outcome.data_cpu_s = run_pipeline(
            spec, data_file, root=root, cache=cache, profile=profile, seed=seed, data=data,
            quiet=quiet, label=label)
        outcome.data_s = time.perf_counter() - started
        if not ok:
            outcome.status, outcome.message = "failed", message
            return outcome
        _drop_stale(data_file)
    png = out_dir / f"{spec.name}.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    with _DRAWING:
        started = time.perf_counter()
        ok, message = draw(spec, data_file, png)
        outcome.draw_s = time.perf_counter() - started
    outcome.status = "ok" if ok else "failed"
    outcome.message, outcome.png = message, str(png) if ok else ""
    return outcome


# -- the command --------------------------------------------------------------------------------


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _data_argument(spec: FigureSpec, args) -> str | None:
    return args.data if args.data is not None and spec.takes_data else None


def _list(args, specs, cache: Path) -> int:
    rows = []
    for spec in specs:
        data = _data_argument(spec, args)
        cached = (not spec.problem and
                  cache_path(cache, spec, profile=args.profile, seed=args.seed, data=data).is_file())
        rows.append({"name": spec.name, "paper": spec.meta.get("paper", "-"),
                     "estimate": _format_seconds(spec.estimate(args.profile)),
                     "cached": "yes" if cached else "no",
                     "status": spec.problem or "ok",
                     "claim": spec.meta.get("claim", ""),
                     "estimate_s": spec.estimate(args.profile)})
    total = sum(r["estimate_s"] or 0.0 for r in rows)
    text = format_table(rows, ["name", "paper", "estimate", "cached"])
    broken = [f"{r['name']}: {r['status']}" for r in rows if r["status"] != "ok"]
    longest = max((r["estimate_s"] or 0.0 for r in rows), default=0.0)
    text += (f"\n{len(rows)} figures; estimated {_format_seconds(total)} of pipeline time for the "
             f"{args.profile} profile on 2 CPU cores, about "
             f"{_format_seconds(max(total / args.jobs, longest))} with --jobs {args.jobs} "
             f"(cached figures only redraw)")
    if broken:
        text += "\nunusable: " + "; ".join(broken)
    emit(args, {"profile": args.profile, "figures": rows, "estimate_s": total}, text)
    return 0


def _timings_record(path: Path, outcomes, profile: str, seed: int) -> None:
    import platform

    from kernelnorm.io import write_json

    write_json(str(path), {
        "profile": profile, "seed": seed, "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "python": platform.python_version(),
        "figures": [dataclasses.asdict(o) for o in outcomes]})


def _run(args, specs, root: Path, cache: Path) -> int:
    out_dir = Path(args.out) if args.out else root / "figures" / "out"
    count, started = len(specs), time.perf_counter()
    jobs = min(args.jobs, count)
    report = threading.Lock()
    # bound now: a drawing redirects sys.stdout while it runs, and with --jobs > 1 another
    # figure's progress line would otherwise land in that drawing's captured output
    stdout = sys.stdout

    def make(index: int, spec: FigureSpec) -> Outcome:
        estimate = spec.estimate(args.profile)
        note = f" (estimate {_format_seconds(estimate)})" if estimate is not None else ""
        if not args.json:
            with report:
                print(f"[{index}/{count}] {spec.name}{note}", file=stdout, flush=True)
        outcome = run_figure(spec, root=root, cache=cache, out_dir=out_dir,
                             profile=args.profile, seed=args.seed,
                             data=_data_argument(spec, args), force=args.force, quiet=args.json,
                             label=f"{spec.name} " if jobs > 1 else "")
        if not args.json:
            with report:
                if outcome.status == "ok":
                    print(f"[{index}/{count}] {spec.name}: ok in {_format_seconds(outcome.total_s)} "
                          f"(data {outcome.data} {_format_seconds(outcome.data_s)}, draw "
                          f"{_format_seconds(outcome.draw_s)}) -> {outcome.png}", file=stdout, flush=True)
                else:
                    print(f"[{index}/{count}] {spec.name}: FAILED: {outcome.message}", file=stdout, flush=True)
        return outcome

    if jobs == 1:
        outcomes = [make(index, spec) for index, spec in enumerate(specs, 1)]
    else:  # pipelines are child processes: threads only wait on them
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(make, range(1, count + 1), specs))
    total = time.perf_counter() - started
    failed = [o.name for o in outcomes if o.status != "ok"]
    if any(o.data == "computed" and o.status == "ok" for o in outcomes):
        _timings_record(cache / f"timings-{args.profile}.json", outcomes, args.profile, args.seed)
    rows = [{"figure": o.name, "status": o.status, "data": o.data or "-",
             "data_s": round(o.data_s, 1), "data_cpu_s": round(o.data_cpu_s, 1),
             "draw_s": round(o.draw_s, 1), "total_s": round(o.total_s, 1)} for o in outcomes]
    text = ("\n" + format_table(rows, ["figure", "status", "data", "data_s", "data_cpu_s",
                                        "draw_s", "total_s"])
            + f"\n{count - len(failed)}/{count} figures ok in {_format_seconds(total)} "
            f"({args.profile} profile, seed {args.seed}); images in {out_dir}/")
    if failed:
        text += "\nfailed: " + ", ".join(failed)
    emit(args, {"profile": args.profile, "seed": args.seed, "seconds": total,
                "figures": [dataclasses.asdict(o) for o in outcomes]}, text)
    return 1 if failed else 0


def _check_data_spec(spec: str) -> None:
    """Refuse a bad ``--data`` before any pipeline runs (a user's folder is read once here)."""
    from kernelnorm.data import IMAGE_DATASET_SPECS, load_image_dataset

    if spec in ("digits", "mnist1d"):
        return
    if spec.partition(":")[0] not in ("mnist", "cifar10", "cifar100") or not spec.partition(":")[2]:
        raise KernelnormInputError("--data", f"unknown data set {spec!r} (choose from digits, "
                                   f"mnist1d, {IMAGE_DATASET_SPECS})")
    load_image_dataset(spec)


def _check_folder(path: str | None, argument: str) -> None:
    """``--out``/``--cache``: a folder that exists or can be made (made now)."""
    if path is None:
        return
    if not path.strip():
        raise KernelnormInputError(argument, "must name a folder, got an empty string")
    if os.path.exists(path) and not os.path.isdir(path):
        raise KernelnormInputError(argument, f"{path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise KernelnormInputError(argument, f"cannot make the folder {path}: "
                                   f"{err.strerror or err}") from None
    if not os.access(path, os.W_OK):
        raise KernelnormInputError(argument, f"cannot write into {path}")


#: Concurrent pipelines by default: most keep about one core busy (small JAX programs), so two
#: on a 2-core machine halve the wall time of ``--all``; more would only contend.
DEFAULT_JOBS = max(1, min(2, os.cpu_count() or 1))


def _figures(args):
    if args.full:
        args.profile = "full"
    root = find_root(args.root)
    if not args.list:
        if args.data is not None:
            _check_data_spec(args.data)
        _check_folder(args.out, "--out")
        _check_folder(args.cache, "--cache")
    cache = Path(args.cache) if args.cache else root / "results" / "figures"
    specs = discover(root)
    if args.list:
        chosen = select(specs, args.names, everything=not args.names)
        return _list(args, chosen, cache)
    if not args.names and not args.all:
        raise KernelnormInputError("NAME", "name one or more figures, or pass --all "
                                   "(kernelnorm figures --list shows them)")
    if args.names and args.all:
        raise KernelnormInputError("--all", "takes no figure names")
    chosen = select(specs, args.names, everything=args.all)
    if args.data is not None and args.names:
        refuse = [s.name for s in chosen if not s.takes_data]
        if refuse:
            raise KernelnormInputError("--data", f"{', '.join(refuse)} take(s) no data set")
    if not chosen:
        raise KernelnormInputError("--all", f"no figures found in {root}/analysis")
    return _run(args, chosen, root, cache)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "figures", help="regenerate the papers' figures (analysis/ pipelines + figures/ drawings)",
        description="Regenerate the papers' figures: every figure is a pipeline analysis/NAME.py "
        "(data, cached under results/figures/) and a drawing figures/NAME.py (PNG + PDF).")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="figures to make (names or patterns like 'mimicnorm_*'; see --list)")
    p.add_argument("--all", action="store_true", help="make every figure")
    p.add_argument("--list", action="store_true",
                   help="list the figures with the paper item and estimated time")
    sizes = p.add_mutually_exclusive_group()
    sizes.add_argument("--full", action="store_true",
                       help="the paper's sizes (same as --profile full; slow: see --list --full)")
    sizes.add_argument("--profile", choices=PROFILES, default="default",
                       help="tiny (seconds, for tests), default (the gallery), full (the "
                            "paper's sizes) (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="recompute cached data files")
    p.add_argument("--jobs", type=integer(1, 64, name="jobs"), default=DEFAULT_JOBS,
                   help="pipelines run at once (each a process; most use about one core; "
                        "default: %(default)s, from the CPU count)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder of the PNG and PDF images (default: ROOT/figures/out)")
    p.add_argument("--seed", type=seed, default=0, help="base seed of every pipeline (default: 0)")
    p.add_argument("--data", default=None, metavar="SPEC",
                   help="data set for the figures that read one: digits, mnist1d, mnist:DIR, "
                        "cifar10:DIR, cifar100:DIR (default: each figure's own)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="folder of the cached data files (default: ROOT/results/figures)")
    p.add_argument("--root", default=None, metavar="DIR",
                   help="repository with analysis/ and figures/ (default: the one this "
                        "kernelnorm package sits in)")
    add_json(p)
    p.set_defaults(run=_figures)
