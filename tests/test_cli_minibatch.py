"""The scalar CLI with ``--batch-size``: finite-batch BN numbers, JSON, one-line errors."""

import json
import math
import subprocess
import sys

import pytest

from kernelnorm import minibatch_theory, relu_dual
from kernelnorm.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "kernelnorm", *args],
                          capture_output=True, text=True, timeout=120)


def test_chi1_batch_size_8_prints_the_finite_batch_growth():
    alpha = 0.5 - relu_dual(-1 / 7)
    result = run("chi1", "--norm", "bn", "--batch-size", "8")
    assert result.returncode == 0, result.stderr
    assert f"chi_1 = {6 / (2 * alpha * 5):.12f}"[:18] in result.stdout
    assert "lambda = 1.788" in result.stdout and "1.46694220692" in result.stdout


def test_chi1_json_and_full_batch_limit(capsys):
    args = ["chi1", "--norm", "bn", "--batch-size", "32", "--activation", "tanh", "--json"]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    theory = minibatch_theory("tanh", 32)
    assert payload["chi_1"] == theory.chi_1 and payload["gradient_growth"] == theory.gradient_growth
    assert payload["batch_size"] == 32 and payload["c_star"] == pytest.approx(-1 / 31)
    assert main(["chi1", "--norm", "bn", "--batch-size", "inf", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chi_1"] == pytest.approx(math.pi / (math.pi - 1))


def test_fixed_points_json_reports_the_symmetric_fixed_point(capsys):
    assert main(["fixed-points", "--norm", "bn", "--batch-size", "8", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rho_star"] == pytest.approx(-1 / 7) and payload["q_star"] == 1.0
    (point,) = payload["fixed_points"]
    assert point["stable"] and point["slope"] == payload["minibatch"]["forward_rate"]
    assert payload["minibatch"]["rate_correlations"] < payload["minibatch"]["rate_lengths"] < 1


def test_edge_batch_sizes_print_exact_values(capsys):
    assert main(["chi1", "--norm", "bn", "--batch-size", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gradient_growth"] == 0.0
    assert main(["chi1", "--norm", "bn", "--batch-size", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chi_1"] == "inf"


def test_compare_adds_a_mini_batch_row(capsys):
    assert main(["compare", "--batch-size", "8", "--json"]) == 0
    rows = {row["scheme"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["BN (B=8)"]
    assert row["rho*"] == pytest.approx(-1 / 7)
    assert row["lambda"] == minibatch_theory("relu", 8).gradient_growth
    assert rows["BN"]["chi_1"] == pytest.approx(math.pi / (math.pi - 1))


@pytest.mark.parametrize("args", [
    ["chi1", "--batch-size", "8"],                                 # plain has no batch
    ["chi1", "--norm", "ln", "--batch-size", "8"],
    ["chi1", "--norm", "bn", "--batch-size", "1"],
    ["chi1", "--norm", "bn", "--batch-size", "x"],
    ["chi1", "--norm", "mean-bn", "--batch-size", "8"],            # no finite-batch theory
    ["map", "--norm", "bn", "--batch-size", "8"],                  # no scalar map at finite B
    ["fixed-points", "--norm", "weight-mean", "--batch-size", "8"],
])
def test_bad_batch_size_is_one_line_naming_the_flag(args):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--batch-size" in lines[0], result.stderr


def test_batch_size_commands_do_not_import_jax():
    code = ("import sys; from kernelnorm.cli import main; "
            "main(['chi1', '--norm', 'bn', '--batch-size', '8', '--activation', 'tanh']); "
            "main(['compare', '--batch-size', '16']); "
            "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
