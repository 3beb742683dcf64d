"""``kernelnorm figures``: discovery, --list, caching, --force, failure isolation, exit codes.

Most tests run the command on a throw-away repository (``--root``) whose pipelines are tiny
Python scripts that count their runs, so every behaviour is checked without JAX work; one test
regenerates a real figure end to end.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kernelnorm.cli import main
from kernelnorm.cli._figures import discover

ROOT = Path(__file__).resolve().parents[1]

PIPELINE = '''
import argparse, json, os, sys, time
FIGURE = {{"name": "{name}", "paper": "Paper Fig. {index}", "claim": "a claim",
          "estimate_s": {estimate}, "estimate_full_s": 100{extra}}}

def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out"); p.add_argument("--profile"); p.add_argument("--seed", type=int)
    p.add_argument("--data", default=None)
    a = p.parse_args(argv)
    with open(os.path.join(os.path.dirname(a.out), "..", "runs.log"), "a") as log:
        log.write("{name} " + a.profile + " " + str(a.data) + "\\n")
    {body}
    with open(a.out, "w") as f:
        json.dump({{"value": {index}, "profile": a.profile, "seed": a.seed, "data": a.data}}, f)
    print("computed {name}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
'''

DRAWING = '''
import argparse, json, os
def main(argv=None):
    p = argparse.ArgumentParser(); p.add_argument("--data"); p.add_argument("--out")
    a = p.parse_args(argv)
    with open(a.data) as f:
        value = json.load(f)["value"]
    {body}
    for path in (a.out, os.path.splitext(a.out)[0] + ".pdf"):
        with open(path, "w") as f:
            f.write(str(value))
    return 0
'''


def _write_pair(root: Path, name: str, index: int, *, body: str = "pass", draw: str = "pass",
                estimate: float = 1, data: bool = False) -> None:
    extra = ', "data": "digits"' if data else ""
    (root / "analysis" / f"{name}.py").write_text(
        PIPELINE.format(name=name, index=index, body=body, estimate=estimate, extra=extra))
    (root / "figures" / f"{name}.py").write_text(DRAWING.format(body=draw))


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "analysis").mkdir(parents=True)
    (root / "figures").mkdir()
    _write_pair(root, "alpha_fig2", 2)
    _write_pair(root, "alpha_fig10", 10, data=True)
    _write_pair(root, "beta_table", 3)
    (root / "analysis" / "helper_only.py").write_text("x = 1\n")  # no drawing: not a figure
    return root


def _run(repo, *args, capsys=None):
    code = main(["figures", "--root", str(repo), "--cache", str(repo / "cache"),
                 "--out", str(repo / "out"), *args])
    return code


def _runs(repo) -> list[str]:
    log = repo / "cache" / "runs.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def test_discovery_pairs_scripts_in_natural_order(repo):
    specs = discover(repo)
    assert [s.name for s in specs] == ["alpha_fig2", "alpha_fig10", "beta_table"]
    assert all(s.problem is None for s in specs)
    assert specs[1].takes_data and not specs[0].takes_data


def test_discovery_reports_bad_metadata_without_importing_literals(repo):
    (repo / "analysis" / "gamma.py").write_text("FIGURE = {'name': 'other'}\n")
    (repo / "figures" / "gamma.py").write_text("")
    (repo / "analysis" / "delta.py").write_text(
        "import sys\nFIGURE = dict(name='delta', paper='p', claim='c', estimate_s=1 + 1, "
        "estimate_full_s=3)\n")
    (repo / "figures" / "delta.py").write_text("")
    specs = {s.name: s for s in discover(repo)}
    assert "lacks" in specs["gamma"].problem
    assert specs["delta"].problem is None and specs["delta"].meta["estimate_s"] == 2  # imported


def test_real_repository_figures_have_valid_metadata():
    specs = discover(ROOT)
    assert len(specs) >= 13
    for spec in specs:
        assert spec.problem is None, (spec.name, spec.problem)
        assert spec.meta["estimate_s"] <= spec.meta["estimate_full_s"]


def test_list_shows_paper_item_estimate_and_cache_state(repo, capsys):
    assert _run(repo, "--list") == 0
    out = capsys.readouterr().out
    assert "alpha_fig2" in out and "Paper Fig. 10" in out and "helper_only" not in out
    assert "3 figures; estimated 3.0 s" in out
    assert _run(repo, "--list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)["figures"]
    assert [r["cached"] for r in rows] == ["no", "no", "no"]
    assert _run(repo, "alpha_fig2") == 0
    capsys.readouterr()
    _run(repo, "--list", "--json")
    assert [r["cached"] for r in json.loads(capsys.readouterr().out)["figures"]] == ["yes", "no", "no"]
    _run(repo, "--list", "--full", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["profile"] == "full" and payload["estimate_s"] == 300


def test_run_caches_by_profile_seed_data_and_source(repo, capsys):
    assert _run(repo, "--all") == 0
    assert sorted(_runs(repo)) == ["alpha_fig10 default None", "alpha_fig2 default None",
                                   "beta_table default None"]
    for name in ("alpha_fig2", "alpha_fig10", "beta_table"):
        assert (repo / "out" / f"{name}.png").is_file() and (repo / "out" / f"{name}.pdf").is_file()
    out = capsys.readouterr().out
    assert "3/3 figures ok" in out and "data computed" in out
    assert _run(repo, "--all") == 0  # everything cached: nothing recomputed, images redrawn
    assert len(_runs(repo)) == 3 and "data cached" in capsys.readouterr().out
    assert _run(repo, "alpha_fig2", "--force") == 0
    assert _runs(repo)[-1] == "alpha_fig2 default None"
    _run(repo, "alpha_fig2", "--seed", "1")
    _run(repo, "alpha_fig2", "--profile", "tiny")
    _run(repo, "alpha_fig10", "--data", "mnist1d")
    assert _runs(repo)[-3:] == ["alpha_fig2 default None", "alpha_fig2 tiny None",
                                "alpha_fig10 default mnist1d"]
    count = len(_runs(repo))
    _write_pair(repo, "alpha_fig2", 2, body="x = 2")  # the pipeline's source changed
    _run(repo, "alpha_fig2")
    assert len(_runs(repo)) == count + 1
    versions = list((repo / "cache" / "alpha_fig2").glob("default-seed0-*.json"))
    assert len(versions) == 1  # the stale version is dropped


def test_one_failing_figure_is_one_line_and_the_others_still_run(repo, capsys):
    _write_pair(repo, "alpha_fig10", 10, body='raise ValueError("boom in the pipeline")')
    _write_pair(repo, "beta_table", 3, draw='raise RuntimeError("boom in the drawing")')
    code = _run(repo, "--all")
    out = capsys.readouterr().out
    assert code == 1
    assert "alpha_fig10: FAILED: pipeline exit 1: ValueError: boom in the pipeline" in out
    assert "beta_table: FAILED: drawing: RuntimeError: boom in the drawing" in out
    assert "1/3 figures ok" in out and (repo / "out" / "alpha_fig2.png").is_file()
    assert not list((repo / "cache").glob("alpha_fig10/*.json"))  # no half-written data


def test_pipeline_that_writes_nothing_fails(repo, capsys):
    _write_pair(repo, "beta_table", 3, body="return 0")
    assert _run(repo, "beta_table") == 1
    assert "wrote no data file" in capsys.readouterr().out


def test_bad_requests_are_one_line_errors(repo, tmp_path, capsys):
    assert _run(repo, "alpha_fig3") == 2
    err = capsys.readouterr().err
    assert err.startswith("kernelnorm: error: argument NAME: no figure 'alpha_fig3'")
    assert "did you mean" in err and err.count("\n") == 1
    assert _run(repo) == 2 and "--all" in capsys.readouterr().err
    assert _run(repo, "alpha_fig2", "--all") == 2
    capsys.readouterr()
    assert _run(repo, "beta_table", "--data", "mnist1d") == 2
    assert "beta_table take(s) no data set" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["figures", "--root", str(empty), "--all"]) == 2
    assert "no analysis/ and figures/ folders" in capsys.readouterr().err


def test_patterns_select_figures(repo, capsys):
    assert _run(repo, "alpha_*") == 0
    assert sorted(line.split()[0] for line in _runs(repo)) == ["alpha_fig10", "alpha_fig2"]


def test_ctrl_c_stops_the_pipeline_and_exits_130(repo, tmp_path):
    marker = tmp_path / "child.pid"
    _write_pair(repo, "beta_table", 3,
                body=f'open({str(marker)!r}, "w").write(str(os.getpid())); time.sleep(60)')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "kernelnorm", "figures", "beta_table", "--root", str(repo),
         "--cache", str(repo / "cache"), "--out", str(repo / "out")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    child = int(marker.read_text())
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the pipeline was stopped too
    assert not list((repo / "cache").glob("beta_table/*.json"))


def test_real_figure_end_to_end_through_the_command(tmp_path, capsys):
    args = ["figures", "mimicnorm_fig4_transition_maps", "--profile", "tiny",
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    assert main(args) == 0
    png = tmp_path / "out" / "mimicnorm_fig4_transition_maps.png"
    first = png.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = (tmp_path / "out" / "mimicnorm_fig4_transition_maps.pdf").read_bytes()
    assert pdf[:5] == b"%PDF-"
    assert main(args + ["--force"]) == 0  # recomputed: the same bytes (deterministic)
    assert png.read_bytes() == first
    assert (tmp_path / "out" / "mimicnorm_fig4_transition_maps.pdf").read_bytes() == pdf
    timings = json.loads((tmp_path / "cache" / "timings-tiny.json").read_text())
    assert timings["figures"][0]["status"] == "ok"


def test_editing_an_estimate_keeps_the_cache(repo):
    _run(repo, "beta_table")
    _write_pair(repo, "beta_table", 3, estimate=42)
    _run(repo, "beta_table")
    assert len(_runs(repo)) == 1


def _mnist_files(directory: Path, n_train: int = 80, n_test: int = 10) -> None:
    rng = np.random.default_rng(0)
    for name, array in (("train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28))),
                        ("train-labels-idx1-ubyte", rng.integers(0, 10, n_train)),
                        ("t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28))),
                        ("t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test))):
        header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
        (directory / name).write_bytes(header + array.astype(np.uint8).tobytes())


def _cifar10_files(directory: Path, per_file: int = 8) -> None:
    rng = np.random.default_rng(1)
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        labels = np.arange(per_file, dtype=np.uint8)[:, None] % 10
        pixels = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
        (directory / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())


@pytest.mark.slow
def test_user_image_files_run_through_the_same_command(tmp_path, capsys):
    """``--data mnist:DIR`` / ``cifar10:DIR`` reach the pipelines that read a data set; a size
    the data cannot give is one failure line naming the argument."""
    from kernelnorm.io import read_json

    mnist, cifar = tmp_path / "mnist", tmp_path / "cifar"
    mnist.mkdir()
    cifar.mkdir()
    _mnist_files(mnist)
    _cifar10_files(cifar)
    common = ["--profile", "tiny", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    assert main(["figures", "ntk_kappa_phases", "--data", f"mnist:{mnist}", *common]) == 0
    data = read_json(str(next((tmp_path / "cache" / "ntk_kappa_phases").glob("tiny-*.json"))))
    assert data["data_name"] == "mnist" and data["data"] == f"mnist:{mnist}"
    assert main(["figures", "proxynorm_ln_collapse_depth", "--data", f"cifar10:{cifar}", *common]) == 0
    capsys.readouterr()
    # 28 x 28 MNIST images cannot be pooled to the tiny profile's 8 x 8
    assert main(["figures", "proxynorm_ln_collapse_depth", "--data", f"mnist:{mnist}", *common]) == 1
    assert "argument --resolution: must divide the image side 28" in capsys.readouterr().out


def test_concurrent_pipelines_give_the_same_figures_as_one_at_a_time(tmp_path):
    """``--jobs 2`` runs two pipelines at once: same data and image bytes as ``--jobs 1``, and
    each pipeline's CPU seconds are its own (wait4), not the sum of both."""
    names = ["mimicnorm_fig4_transition_maps", "mimicnorm_lemma1_erratum"]
    results = {}
    for jobs in (1, 2):
        out, cache = tmp_path / f"out{jobs}", tmp_path / f"cache{jobs}"
        assert main(["figures", *names, "--profile", "tiny", "--jobs", str(jobs),
                     "--cache", str(cache), "--out", str(out)]) == 0
        results[jobs] = {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))}
        timings = json.loads((cache / "timings-tiny.json").read_text())["figures"]
        assert [t["name"] for t in timings] == names  # reported in the order asked
        assert all(0 < t["data_cpu_s"] for t in timings)
    assert results[1] == results[2] and len(results[1]) == 2
