"""The scalar CLI: values, JSON, one-line errors with exit code 2, and no JAX import."""

import json
import math
import subprocess
import sys

import pytest

from kernelnorm.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "kernelnorm", *args],
                           capture_output=True, text=True, timeout=120)


def test_chi1_weight_mean_prints_pi_over_pi_minus_one():
    result = run("chi1", "--norm", "weight-mean")
    assert result.returncode == 0, result.stderr
    assert "1.466942" in result.stdout


def test_chi1_json(capsys):
    assert main(["chi1", "--norm", "bn", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["chi_1"] == pytest.approx(math.pi / (math.pi - 1), rel=1e-14)
    assert payload["phase"] == "chaotic"


def test_compare_rows_and_phases(capsys):
    assert main(["compare", "--json"]) == 0
    rows = {row["scheme"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["plain (critical)"]["phase"] == "critical"
    assert rows["plain (ordered)"]["phase"] == "ordered"
    assert rows["weight mean"]["phase"] == rows["BN"]["phase"] == "chaotic"
    assert rows["weight mean"]["rho*"] == pytest.approx(0.0, abs=1e-12)


def test_stable_init_weight_mean_matches_theorem3(capsys):
    assert main(["stable-init", "--norm", "weight-mean", "--width", "10", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["sigma_w2"] == pytest.approx(20 / (9 * (1 - 1 / math.pi)), rel=1e-14)


@pytest.mark.parametrize("args,argument", [
    (["map", "--rho", "1.5"], "--rho"),
    (["map", "--rho", "nan"], "--rho"),
    (["chi1", "--sigma-w2", "0"], "--sigma-w2"),
    (["chi1", "--sigma-w", "-1"], "--sigma-w"),
    (["chi1", "--sigma-w2", "nan"], "--sigma-w2"),
    (["chi1", "--norm", "weight-mean", "--width", "1"], "--width"),
    (["chi1", "--norm", "xnorm"], "--norm"),
    (["chi1", "--norm", "in"], "--norm"),
    (["chi1", "--norm", "bn", "--sigma-w2", "2"], "--sigma-w2"),
    (["chi1", "--norm", "ln", "--width", "64"], "--width"),
    (["chi1", "--activation", "swishy"], "--activation"),
    (["stable-init", "--sigma-b2", "1.5"], "--sigma-b2"),
    (["stable-init", "--norm", "bn"], "--norm"),
])
def test_bad_input_one_line_error_exit_2(args, argument):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and argument in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_scalar_commands_do_not_import_jax():
    code = ("import sys; from kernelnorm.cli import main; "
            "main(['chi1', '--norm', 'weight-mean']); main(['compare']); "
            "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules), 'jax imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
