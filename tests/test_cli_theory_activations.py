"""Theory commands for every activation (issue 10): compare has every row or says why, no
warning leaks, flags that do not apply are errors naming them, --q0, partial critical lines."""

import json
import subprocess
import sys

import pytest

from kernelnorm import ACTIVATIONS
from kernelnorm.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-W", "error", "-m", "kernelnorm", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_compare_works_for_every_activation(activation):
    result = run("compare", "--activation", activation, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing leaks (warnings are errors here)
    rows = {row["scheme"]: row for row in json.loads(result.stdout)}
    assert rows["plain (critical)"]["phase"] == "critical"
    assert rows["plain (ordered)"]["phase"] == "ordered"
    for row in rows.values():
        assert (row["rho*"] is None) == (row["note"] is not None), row


def test_compare_prints_why_a_row_is_missing(capsys):
    """SiLU weight mean at its stable init: q = 1 is an unstable length fixed point."""
    assert main(["compare", "--activation", "silu"]) == 0
    out = capsys.readouterr().out
    assert "weight mean: weight-mean, silu" in out and "diverges" in out


@pytest.mark.parametrize("args,argument", [
    (["chi1", "--norm", "bn", "--width", "64"], "--width"),
    (["map", "--norm", "bn", "--q0", "2"], "--q0"),
    (["fixed-points", "--norm", "ln", "--q0", "2"], "--q0"),
    (["chi1", "--norm", "mean-bn", "--sigma-b2", "0.1"], "--sigma-b2"),
    (["critical-line", "--norm", "mean-bn", "--sigma-b2", "0.1"], "--sigma-b2"),
    (["critical-line", "--norm", "plain", "--width", "8"], "--width"),
    (["stable-init", "--norm", "bn", "--sigma-w2", "2"], "--sigma-w2"),
    (["fixed-points", "--activation", "gelu", "--sigma-w2", "3"], "--sigma-w2"),
    (["chi1", "--q0", "-1"], "--q0"),
])
def test_flags_that_do_not_apply_are_errors_naming_them(args, argument):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and argument in lines[0], result.stderr


def test_q0_changes_where_the_length_flows(capsys):
    assert main(["fixed-points", "--activation", "gelu", "--sigma-w2", "3", "--q0", "0.05"]) == 2
    err = capsys.readouterr().err
    assert "none is isolated" in err  # q* = 0: phi is linear there, T(rho) = rho
    assert main(["chi1", "--activation", "gelu", "--sigma-w2", "3", "--q0", "0.05",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["q_star"] == 0.0 and payload["chi_1"] == pytest.approx(0.75, rel=1e-6)


def test_critical_line_keeps_the_rows_that_exist(capsys):
    assert main(["critical-line", "--activation", "gelu", "--sigma-b2", "0.05", "1",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["sigma_w2"] is None and "flows to q = inf" in rows[0]["note"]
    assert rows[1]["sigma_w2"] == pytest.approx(1.97668, rel=1e-5)


def test_fixed_points_lists_length_fixed_points_and_basins(capsys):
    assert main(["fixed-points", "--activation", "silu", "--sigma-w2", "2.07871",
                 "--sigma-b2", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "length fixed points" in out and "unstable" in out and "[0, 5.6619" in out
