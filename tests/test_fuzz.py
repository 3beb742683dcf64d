"""Fuzz table: bad and extreme input to every command and script keeps the contract.

The contract (``kernelnorm._guard``): a failure is exactly one line on stderr, ``PROG: error:
...`` naming the argument the user typed, exit code 2 for bad input (1 for an internal
numerical failure), nothing on stdout, no traceback, and an existing output file untouched
with no temporary file left beside it. A request that cannot fit (memory, time) is refused
before any work. Successful extreme cases print finite numbers only.

Most cases run in-process (``kernelnorm.cli.main``, and the scripts through ``runpy`` exactly as
``python script.py`` runs them); :func:`test_subprocess_contract` runs a few as real processes.
To cover a new command or script, add its flags to ``COMMANDS`` or ``SCRIPTS`` with a kind from
``BAD`` (every bad value of that kind becomes a case), and one-off cases to ``SPECIAL``.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
HUGE = "2000000000"  # a valid integer whose arrays cannot fit on any machine
OLD = '{"old": "output"}\n'  # what an existing output file holds before a failed run
NOT_ROOT = os.geteuid() != 0  # root writes into read-only folders: that case needs a user

#: Bad values of each kind of argument: every one must be refused (exit 2, the flag named).
COUNT = ["0", "-1", "x", "1.5", "nan", "", "3000000000"]
BAD = {
    "count": COUNT,
    "size": COUNT + [HUGE],  # huge: refused for the memory or time it implies
    "count2": COUNT + ["1"],
    "size2": COUNT + ["1", HUGE],
    "positive": ["0", "-1", "nan", "inf", "x", ""],
    "nonnegative": ["-1", "nan", "inf", "x"],
    "variance": ["-1", "nan", "inf", "x", "1e300"],
    "positive_variance": ["0", "-1", "nan", "inf", "x", "1e300"],
    "scale": ["0", "-1", "nan", "1e200"],
    "level": ["0", "1", "1.5", "-0.5", "nan", "x"],
    "momentum": ["1", "-0.1", "nan", "x"],
    "seed": ["-1", "4294967296", "18446744073709551616", "x", "1.5"],
    "correlation": ["1.5", "-2", "nan", "x"],
    "width": ["1", "0", "-5", "x", "infinite", "nan", "3000000000"],
    "name": ["bogus"],
    "depths": ["0", "x", "1:0:1", "1:10:0", "1,,x", "1:2000000000:1", HUGE],
    "norm_list": ["", "bogus", "plain,bogus"],
    "data": ["bogus", "sphere:0", "sphere:x", "{zero}", "{trunc}", "{object}", "{complex}",
             "{zerod}", "{huge}", "{big}", "{nan}", "{strings}", "{vector}", "{missing}",
             "{labels_float}", "{labels_negative}", "{labels_length}"],
    "folder": ["", "{afile}", "{fifo}", "{afile}/x"],
    "dataset": ["bogus", "mnist:{missing}", "cifar10:{dir}"],
    "json": ["{missing}", "{notjson}", "{wrongjson}", "{dir}", "{typed}"],
    "output": ["", "{dir}", "{fifo}", "{afile}/x.json", "{ro}/x.json"],
    "image": ["", "{dir}", "{fifo}", "{afile}/x.png", "{ro}/x.png", "{dir}/x.xyz"],
}
SCHEME = {"--norm": "name", "--activation": "name", "--sigma-w2": "positive_variance",
          "--sigma-w": "scale", "--sigma-b2": "variance", "--width": "width"}

#: command -> (base argv (cheap, valid), {flag: kind}). A case appends ``flag value`` last.
COMMANDS = {
    "chi1": ([], SCHEME),
    "map": ([], {**SCHEME, "--rho": "correlation"}),
    "fixed-points": ([], SCHEME),
    "stable-init": ([], SCHEME),
    "critical-line": ([], {"--norm": "name", "--activation": "name", "--sigma-b2": "variance",
                           "--width": "width"}),
    "compare": (["--power"], {"--activation": "name", "--width": "width", "--power-depth": "size",
                              "--power-width": "size", "--power-realisations": "size"}),
    "mc": (["--width", "8", "--seeds", "2", "--depth", "2", "--rho", "0.5"],
           {"--norm": "name", "--activation": "name", "--sigma-w2": "positive_variance",
            "--sigma-b2": "variance", "--batch-size": "count", "--groups": "count",
            "--width": "size", "--depth": "size", "--seeds": "size", "--seed": "seed",
            "--rho": "correlation", "--pairs": "name", "--input-dim": "size", "--engine": "name",
            "--chunk": "count", "--every": "count", "--level": "level"}),
    "mc-lemma1": (["--draws", "100", "--rho", "0.5"],
                  {"--n-in": "size2", "--n-out": "size2", "--rho": "correlation",
                   "--draws": "size2", "--seed": "seed", "--level": "level"}),
    "ntk": (["--depth", "2", "--data", "sphere:8"],
            {**SCHEME, "--depth": "size", "--data": "data", "--max-points": "count",
             "--seed": "seed", "--method": "name", "--eigen": "name", "--tol": "level"}),
    "kappa-depth": (["--data", "sphere:8", "--depths", "1,2", "--output", "{out}"],
                    {"--depths": "depths", "--norms": "name", "--output": "output",
                     "--data": "data", "--seed": "seed", "--method": "name"}),
    "power": (["--depth", "2", "--width", "4", "--realisations", "1", "--inputs", "4",
               "--resolution", "8", "--plot", "{out_png}"],
              {"--norm": "name", "--depth": "size", "--width": "size", "--realisations": "size",
               "--resolution": "size", "--inputs": "size", "--inputs-from": "name",
               "--groups": "count", "--activation": "name", "--proxy-eps": "nonnegative",
               "--dtype": "name", "--seed": "seed", "--plot": "image"}),
    "train": (["--model", "fcnn", "--epochs", "1", "--width", "8", "--depth", "1",
               "--metrics", "{out}"],
              {"--model": "name", "--norm": "name", "--activation": "name",
               "--width-factor": "positive", "--depth": "size", "--width": "size2",
               "--residual-scalar": "name", "--weight-mean-mode": "name", "--zmg": "nonnegative",
               "--init": "name", "--wm-rule": "name", "--groups": "count", "--data": "data",
               "--epochs": "count", "--lr": "positive", "--batch-size": "count",
               "--schedule": "name", "--momentum": "momentum", "--weight-decay": "nonnegative",
               "--seed": "seed", "--metrics": "output"}),
    "figures": (["ntk_kappa_phases", "--profile", "tiny", "--out", "{dir}/figures-out",
                 "--cache", "{dir}/figures-cache"],
                {"--seed": "seed", "--profile": "name", "--data": "dataset", "--out": "folder", "--jobs": "count",
                 "--cache": "folder"}),
    "memory": (["--model", "fcnn", "--norms", "plain", "--batch", "2"],
               {"--model": "name", "--norms": "norm_list", "--activation": "name",
                "--width-factor": "positive", "--depth": "size", "--width": "size2",
                "--batch": "size", "--classes": "size2", "--groups": "count"}),
}

#: script -> (base argv, {flag: kind}); ``{out}``/``{out_png}`` keep outputs in a test folder.
#: Every figure pair (analysis/NAME.py + figures/NAME.py) and whether its pipeline reads --data.
PIPELINES = [
    ("kappa_vs_early_loss", True), ("mimicnorm_fig10_last_bn_variance", True),
    ("mimicnorm_fig2_3_channel_distributions", True), ("mimicnorm_fig4_transition_maps", False),
    ("mimicnorm_fig6_training_curves", True), ("mimicnorm_fig8_9_pair_correlations", True),
    ("mimicnorm_lemma1_erratum", False), ("mimicnorm_table1_memory", False),
    ("mimicnorm_table2_lr_sweep", True), ("mimicnorm_theorem2_finite_width", False),
    ("minibatch_bn", False), ("msr_mean_shift", True), ("msr_table1", True),
    ("ntk_kappa_phases", True), ("ntk_linearised_dynamics", True), ("power_theory", False),
    ("proxynorm_fig2_power_plots", True), ("proxynorm_fig5_theorem1", True),
    ("proxynorm_ln_collapse_depth", True)]
SCRIPTS = {
    **{f"analysis/{name}.py": (["--out", "{out}", "--profile", "tiny"], {
        "--out": "output", "--profile": "name", "--seed": "seed",
        **({"--data": "dataset"} if takes_data else {})}) for name, takes_data in PIPELINES},
    **{f"figures/{name}.py": (["--out", "{out_png}"], {"--data": "json", "--out": "image"})
       for name, _ in PIPELINES},
}
SCRIPTS["analysis/minibatch_bn.py"][1]["--activation"] = "name"
SCRIPTS["analysis/power_theory.py"][1].update({"--norms": "name", "--cross": "name"})

#: Arguments whose kind is bounded above by what the script can use (not by resources).
BOUNDED = {("train", "--epochs"): "100001"}


@dataclass(frozen=True)
class Case:
    """``target`` (a CLI command name or a script path) run with ``argv``; expected exit
    ``code``, the argument the error must name (``None``: no check), a category, and whether
    the case needs a non-root user."""

    target: str
    argv: tuple
    code: int = 2
    names: str | None = None
    category: str = ""
    needs_user: bool = False

    @property
    def id(self) -> str:
        text = " ".join(a if a else "''" for a in self.argv)
        return f"{self.category}:{self.target}:{text}"[:150]


#: One-off cases: every representative example of issue 11, then other corners.
SPECIAL = [
    # sizes with no upper bound
    Case("mc", ("--width", "8", "--seeds", "2", "--rho", "0.5", "--depth", "1000000000"), 2, "--depth", "issue"),
    Case("ntk", ("--data", "sphere:8", "--depth", "1000000000"), 2, "--depth", "issue"),
    Case("power", ("--depth", "2", "--width", "4", "--realisations", "1", "--inputs", "1000000000"), 2, "--inputs", "issue"),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1:1000000000:1"), 2, "--depths", "issue"),
    Case("mc", ("--width", "1000000000", "--seeds", "2", "--depth", "2"), 2, "--width", "issue"),
    Case("ntk", ("--data", "sphere:8", "--depth", "2", "--norm", "weight-mean", "--width", "1000000000"), 0, None, "issue"),
    Case("memory", ("--model", "fcnn", "--width", "1000000000", "--norms", "plain"), 2, "--width", "issue"),
    Case("memory", ("--model", "fcnn", "--depth", "1000000000", "--norms", "plain"), 2, "--depth", "issue"),
    Case("memory", ("--model", "resnet8", "--width", "16", "--norms", "plain"), 2, "--width", "issue"),
    # data files
    *(Case("ntk", ("--depth", "2", "--data", f"{{{name}}}"), 2, "--data", "issue")
      for name in ("zero", "trunc", "object", "complex", "zerod", "huge", "big")),
    # numbers
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "2", "--seed", "-1"), 2, "--seed", "issue"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "2", "--seed", str(2**64)), 2, "--seed", "issue"),
    Case("chi1", ("--sigma-w", "1e200"), 2, "--sigma-w", "issue"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "2", "--sigma-w", "2"), 2, "--sigma-w", "issue"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "2", "--level", "1.5"), 2, "--level", "issue"),
    Case("critical-line", ("--sigma-b2", "1e300"), 2, "--sigma-b2", "issue"),
    Case("mc", ("--width", "8", "--seeds", "2", "--sigma-w2", "1e20"), 2, "--sigma-w2", "issue"),
    Case("power", ("--norm", "ln+pn", "--proxy-eps", "1e308", "--depth", "2", "--width", "4",
                   "--realisations", "1", "--inputs", "4", "--resolution", "8"), 2, "--proxy-eps", "issue"),
    Case("mc-lemma1", ("--rho", "0", "--draws", "100"), 2, "--rho", "issue"),
    # outputs
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output", "{ro}/x.json"), 2, "--output", "issue", True),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output", "{dir}"), 2, "--output", "issue"),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output", "{afile}/x.json"), 2, "--output", "issue"),
    Case("power", ("--depth", "2", "--width", "4", "--realisations", "1", "--inputs", "4",
                   "--resolution", "8", "--plot", "{dir}/p.xyz"), 2, "--plot", "issue"),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output="), 2, "--output", "issue"),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output", "{fifo}"), 2, "--output", "issue"),
    # training
    Case("train", ("--model", "fcnn", "--epochs", "1", "--width", "8", "--depth", "1", "--lr", "1e30",
                   "--batch-size", "512"), 0, None, "issue"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--width", "8", "--depth", "1",
                   "--data", "{nan}"), 2, "--data", "issue"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--width", "8", "--depth", "1",
                   "--data", "{notest}"), 0, None, "issue"),
    # names and wrong files
    Case("critical-line", ("--norm", "bn"), 2, "--norm", "issue"),
    Case("memory", ("--norms", ""), 2, "--norms", "issue"),
    Case("figures/proxynorm_fig2_power_plots.py", ("--data", "{wrongjson}", "--out", "{out_png}"), 2, "--data", "issue"),
    Case("figures/proxynorm_fig2_power_plots.py", ("--data", "{typed}", "--out", "{out_png}"), 2, "--data", "issue"),
    Case("figures/ntk_kappa_phases.py", ("--data", "{typed}", "--out", "{out_png}"), 2, "--data", "issue"),
    # other corners
    Case("chi1", ("--sigma-w2", "2", "--sigma-w", "2"), 2, "--sigma-w", "names"),
    Case("mc", ("--dep", "3"), 2, "--dep", "names"),
    Case("chi1", ("--sigma-w2", "2", "--sigma-b", "0.1"), 2, "--sigma-b", "names"),
    Case("chi1", ("--norm", "bn", "--sigma-w2", "2"), 2, "--sigma-w2", "names"),
    Case("train", ("--model", "resnet8", "--width", "64", "--epochs", "1"), 2, "--width", "names"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--data", "mnist:{dir}"), 2, "--data", "data"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--data", "cifar10:{cifar}"), 2, "--data", "data"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--data", "mnist:{idx}"), 2, "--data", "data"),
    Case("train", ("--model", "fcnn", "--epochs", "1", "--width", "8", "--data", "{labels_mismatch}"), 2, "--data", "data"),
    Case("memory", ("--model", "resnet8", "--width-factor", "100000", "--norms", "plain"), 2, "--width-factor", "sizes"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "50", "--sigma-w2", "1e-20"), 2, "--sigma-w2", "numbers"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "40", "--sigma-w2", "1e5", "--float32"), 2, "--sigma-w2", "numbers"),
    Case("mc", ("--width", "8", "--seeds", "2", "--depth", "2", "--norm", "bn", "--batch-size", "3"), 2, "--batch-size", "numbers"),
    Case("ntk", ("--data", "sphere:8", "--depth", "5000", "--norm", "weight-mean"), 2, "--depth", "numbers"),
    Case("ntk", ("--data", "sphere:2000000000", "--depth", "2"), 2, "--data", "sizes"),
    Case("kappa-depth", ("--data", "sphere:8", "--depths", "1", "--output", "{out}", "--norms", "bogus"), 2, "--norms", "outputs"),
    Case("analysis/ntk_kappa_phases.py", ("--out", "{out}", "--data", "sphere:0"), 2, "--data", "data"),
    Case("compare", ("--activation", "softplus"), 2, "--activation", "names"),
    Case("analysis/minibatch_bn.py", ("--out", "{out}", "--activation", "swish"), 2, "--activation", "names"),
    # extreme but valid: finite answers, exit 0
    Case("critical-line", ("--sigma-b2", "1e150", "0", "1e-300"), 0, None, "numbers"),
    Case("chi1", ("--sigma-w2", "1e150"), 0, None, "numbers"),
    Case("map", ("--sigma-w", "1e-70", "--rho", "-1", "1"), 0, None, "numbers"),
    Case("fixed-points", ("--norm", "weight-mean", "--width", "2"), 0, None, "numbers"),
    Case("stable-init", ("--norm", "weight-mean", "--width", "2147483647"), 0, None, "numbers"),
]


def _generated() -> list[Case]:
    cases = []
    for target, (base, flags) in [*COMMANDS.items(), *SCRIPTS.items()]:
        for flag, kind in flags.items():
            values = list(BAD[kind])
            if (target, flag) in BOUNDED:
                values.append(BOUNDED[target, flag])
            for value in values:
                category = {"size": "sizes", "size2": "sizes", "data": "data", "dataset": "data", "json": "data",
                            "output": "outputs", "image": "outputs", "folder": "outputs", "name": "names",
                            "norm_list": "names", "depths": "sizes"}.get(kind, "numbers")
                if value == HUGE:
                    category = "sizes"
                cases.append(Case(target, (*base, flag, value), 2, flag, category,
                                  needs_user="{ro}" in value))
    return cases


CASES = _generated() + SPECIAL


# -- fixtures: bad files -----------------------------------------------------------------------


def _fake_npy_header(path: Path, shape) -> None:
    """A valid ``.npy`` of a small array whose header claims ``shape``."""
    np.save(path, np.zeros((10, 4)))
    raw = path.read_bytes()
    length = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + length].decode("latin1")
    new = header.replace("(10, 4)", str(tuple(shape))).rstrip().ljust(length - 1) + "\n"
    path.write_bytes(raw[:10] + new.encode("latin1") + raw[10 + length:])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-files")
    rng = np.random.default_rng(0)
    f = {"dir": str(root), "missing": str(root / "missing.npy")}

    def path(name):
        f[name.split(".")[0]] = str(root / name)
        return root / name

    path("zero.npy").write_bytes(b"")
    np.savez(path("good.npz"), x=rng.standard_normal((12, 4)))
    path("trunc.npz").write_bytes((root / "good.npz").read_bytes()[:200])
    np.save(path("object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(path("complex.npy"), rng.standard_normal((6, 4)) * (1 + 1j))
    np.save(path("zerod.npy"), np.array(3.0))
    _fake_npy_header(path("huge.npy"), (100_000_000, 200))
    np.save(path("big.npy"), rng.standard_normal((6, 4)) * 1e300)
    np.save(path("strings.npy"), np.array([["a", "b"], ["c", "d"]]))
    np.save(path("vector.npy"), np.arange(5.0))
    x = rng.random((60, 64))
    x[3, 3] = np.nan
    np.savez(path("nan.npz"), x=x, y=np.arange(60) % 3)
    np.savez(path("notest.npz"), x=rng.random((60, 64)), y=np.arange(60) % 3)
    np.savez(path("labels_float.npz"), x=rng.random((6, 4)), y=np.array([0, 1, 0.5, 1, 0, 1]))
    np.savez(path("labels_negative.npz"), x=rng.random((6, 4)), y=np.array([0, 1, -3, 1, 0, 1]))
    np.savez(path("labels_length.npz"), x=rng.random((6, 4)), y=np.array([0, 1]))
    np.savez(path("labels_mismatch.npz"), x=rng.random((6, 4)), y=np.arange(6) % 2,
             x_test=rng.random((3, 5)), y_test=np.arange(3) % 2)
    path("notjson.json").write_text("not json {")
    path("wrongjson.json").write_text(json.dumps({"something": 1}))
    keys = ("rho", "schemes", "activation", "data", "m", "kappa_vs_depth", "kappa_vs_size",
            "config", "profiles", "clt", "depth", "rows", "width")
    path("typed.json").write_text(json.dumps({k: 1 for k in keys}))
    path("rates.json").write_text(json.dumps({"clt": {}}))
    path("decorrelation.json").write_text(json.dumps({"depth": 1, "rows": []}))
    path("minibatch.json").write_text(json.dumps({"width": 1, "rows": []}))
    path("afile.txt").write_text("a file, not a folder")
    os.mkfifo(path("fifo"))
    (root / "ro").mkdir()
    f["ro"] = str(root / "ro")
    os.chmod(root / "ro", 0o555)
    idx = root / "idx"
    idx.mkdir()
    f["idx"] = str(idx)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (idx / name).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")  # truncated header
    cifar = root / "cifar"
    cifar.mkdir()
    f["cifar"] = str(cifar)
    for i in range(1, 6):
        (cifar / f"data_batch_{i}.bin").write_bytes(bytes(3073 * 2 - 7))  # truncated records
    (cifar / "test_batch.bin").write_bytes(bytes(3073))
    yield f
    os.chmod(root / "ro", 0o755)


# -- running a case ----------------------------------------------------------------------------


def run_target(target: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the CLI or of a script run as ``python script.py``."""
    from kernelnorm._guard import remove_signal_handlers
    from kernelnorm.cli import main

    capsys.readouterr()
    if not target.endswith(".py"):
        code = main([target, *argv])
    else:
        script = str(REPO / target)
        saved = sys.argv
        sys.argv = [script, *argv]
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        finally:
            sys.argv = saved
            remove_signal_handlers()  # installed by the script's handle_interrupts()
    out, err = capsys.readouterr()
    return code, out, err


_FLAGS: dict[str, set[str]] = {}


def known_flags(target: str) -> set[str]:
    """The options ``target`` accepts (a CLI command's parser, or a script's ``--help``)."""
    if target not in _FLAGS:
        if target.endswith(".py"):
            import contextlib
            import io

            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                saved = sys.argv
                sys.argv = [target, "--help"]
                try:
                    runpy.run_path(str(REPO / target), run_name="__main__")
                except SystemExit:
                    pass
                finally:
                    sys.argv = saved
                    from kernelnorm._guard import remove_signal_handlers

                    remove_signal_handlers()
            _FLAGS[target] = set(re.findall(r"(--[\w-]+)", text.getvalue()))
        else:
            from kernelnorm.cli import build_parser

            parser = build_parser()._subparsers._group_actions[0].choices[target]  # noqa: SLF001
            _FLAGS[target] = set(parser._option_string_actions)  # noqa: SLF001
    return _FLAGS[target]


def check_contract(case: Case, code: int, out: str, err: str) -> None:
    prog = "kernelnorm" if not case.target.endswith(".py") else os.path.basename(case.target)
    assert "Traceback" not in err + out
    assert code == case.code, err or out[-300:]
    if case.code == 0:
        assert err == ""
        assert not re.search(r"\bnan\b", out.lower()), out
        return
    lines = err.split("\n")
    assert len(lines) == 2 and lines[1] == "", err  # exactly one line
    assert lines[0].startswith(f"{prog}: error: "), err
    named = re.match(rf"{re.escape(prog)}: error: argument (\S+?): ", lines[0])
    if named and (case.target in COMMANDS or case.target in SCRIPTS):  # a flag it really has
        unknown = set(named.group(1).split("/")) - known_flags(case.target)
        assert not unknown, f"names {unknown}, which {case.target} does not have: {err}"
    if case.names is not None:
        flag = re.escape(case.names)
        assert re.search(rf"argument {flag}:|unrecognized arguments: .*{flag}|"
                         rf"argument [-\w/ ]*{flag}", lines[0]), err
    assert out == ""


@pytest.fixture
def outputs(tmp_path):
    """Existing outputs with old content, in a folder of their own."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    old = {"out": folder / "old.json", "out_png": folder / "old.png"}
    for target in old.values():
        target.write_text(OLD)
    return folder, {k: str(v) for k, v in old.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_case_keeps_the_contract(case, files, outputs, capsys, monkeypatch, tmp_path):
    if case.needs_user and not NOT_ROOT:
        pytest.skip("root can write into a read-only folder")
    folder, old = outputs
    monkeypatch.chdir(tmp_path)  # default outputs (results/...) never land in the repository
    monkeypatch.setenv("KERNELNORM_MAX_HOURS", "0.01")  # a missed check cannot run for long
    monkeypatch.setenv("KERNELNORM_MAX_MEMORY", "4G")  # the same refusals on every machine
    argv = [a.format(**files, **old) for a in case.argv]
    code, out, err = run_target(case.target, argv, capsys)
    check_contract(case, code, out, err)
    if case.code != 0:  # the old outputs are intact and nothing was left beside them
        assert all(Path(p).read_text() == OLD for p in old.values())
        assert sorted(os.listdir(folder)) == ["old.json", "old.png"]


def test_the_table_covers_every_command_and_script():
    from kernelnorm.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert commands <= set(COMMANDS), commands - set(COMMANDS)
    scripts = {str(p.relative_to(REPO)) for d in ("analysis", "figures") for p in (REPO / d).glob("*.py")}
    assert scripts <= set(SCRIPTS), scripts - set(SCRIPTS)
    categories = {c.category for c in CASES}
    assert {"sizes", "data", "numbers", "outputs", "names", "issue"} <= categories


# -- internal failures and write errors --------------------------------------------------------


def test_a_nan_result_is_a_numerical_failure_exit_1(monkeypatch, capsys):
    import kernelnorm._transition as transition

    monkeypatch.setattr(transition, "chi_1", lambda scheme, **_: float("nan"))
    monkeypatch.setattr(transition, "phase", lambda chi: "?")
    code, out, err = run_target("chi1", [], capsys)
    check_contract(Case("chi1", (), 1), code, out, err)
    assert "numerical failure" in err and "chi_1" in err


def test_an_unexpected_exception_is_one_line_exit_1(monkeypatch, capsys):
    import kernelnorm._transition as transition

    def broken(scheme, **_):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(transition, "chi_1", broken)
    code, out, err = run_target("chi1", [], capsys)
    check_contract(Case("chi1", (), 1), code, out, err)
    assert "RuntimeError: something went wrong" in err


def test_a_full_disk_keeps_the_old_output_and_names_the_flag(monkeypatch, capsys, outputs):
    import errno

    folder, old = outputs

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    code, out, err = run_target("kappa-depth", ["--data", "sphere:8", "--depths", "1",
                                                "--output", old["out"]], capsys)
    check_contract(Case("kappa-depth", (), 2, "--output"), code, out, err)
    assert "No space left on device" in err
    assert Path(old["out"]).read_text() == OLD
    assert sorted(os.listdir(folder)) == ["old.json", "old.png"]


def test_output_checks_refuse_special_files_without_touching_them():
    from kernelnorm import KernelnormInputError
    from kernelnorm.io import check_output_path

    for path in ("/dev/null", "/dev/full", "/", ""):
        with pytest.raises(KernelnormInputError, match="argument --out"):
            check_output_path(path)


def test_a_killed_writer_leaves_no_temporary_file_after_the_next_write(tmp_path):
    from kernelnorm.io import TEMPORARY, write_text

    target = tmp_path / "out.json"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that is gone: its temporary file is stale
    stale = tmp_path / f".out.json{TEMPORARY}{dead.pid}-abc.json"
    stale.write_text("half")
    write_text(str(target), "new")
    assert sorted(os.listdir(tmp_path)) == ["out.json"] and target.read_text() == "new"


# -- a few cases as real processes -------------------------------------------------------------

SUBPROCESS = [
    (["-m", "kernelnorm", "mc", "--width", "8", "--seeds", "2", "--depth", "1000000000"], 2, "--depth"),
    (["-m", "kernelnorm", "chi1", "--sigma-w", "1e200"], 2, "--sigma-w"),
    (["-m", "kernelnorm", "critical-line", "--sigma-b2", "1e150"], 0, None),
    (["analysis/mimicnorm_lemma1_erratum.py", "--profile", "huge", "--out", "{out}"], 2, "--profile"),
    (["figures/ntk_kappa_phases.py", "--data", "absent.json"], 2, "--data"),
]


@pytest.mark.parametrize("argv, code, flag", SUBPROCESS, ids=[" ".join(a[:4]) for a, _, _ in SUBPROCESS])
def test_subprocess_contract(argv, code, flag, tmp_path):
    """The real process: exit status, one line, and no warning text (no ``-W error`` here)."""
    argv = [a.format(out=str(tmp_path / "out.json")) for a in argv]
    if argv[0].endswith(".py"):
        argv[0] = str(REPO / argv[0])
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "default",
           "KERNELNORM_MAX_MEMORY": "4G"}
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    prog = "kernelnorm" if argv[0] == "-m" else os.path.basename(argv[0])
    check_contract(Case(prog, (), code, flag), done.returncode, done.stdout, done.stderr)
    if code == 0:
        assert done.stdout.strip().splitlines()[-1].split()[-1] == "2"
