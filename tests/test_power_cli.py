"""``kernelnorm power``: table, JSON, plot, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from kernelnorm.cli import main

SMALL = ["--depth", "3", "--width", "8", "--realisations", "2", "--resolution", "8",
         "--inputs", "8", "--groups", "4"]


def test_power_prints_a_per_depth_table_and_json_and_draws_a_png(capsys, tmp_path):
    assert main(["power", "--norm", "gn+pn", *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["depth", "mu_c^2"]
    assert [line.split()[0] for line in lines[3:]] == ["1", "2", "3"]

    plot = tmp_path / "power.png"
    assert main(["power", "--norm", "gn+pn", *SMALL, "--json", "--plot", str(plot)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["norm"], payload["label"], payload["depth"], payload["width"]) == \
        ("gn+pn", "GN+PN(4)", 3, 8)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("norm, expected", [
    ("in", [0.0, 0.0, 1.0, 0.0]),  # Proxy Norm Theorem 2: no instance variability at all
    ("bn", [0.0, None, None, None]),  # full-batch BN: mu_c = 0 exactly, so no collapse
])
def test_power_cli_reports_the_derived_shares(capsys, norm, expected):
    """The numbers the command prints are the theorems' numbers, not just a table that sums to
    one: IN forces mu_xc = 0, sigma_xc = 1 for every input (shares (0, 0, 1, 0) at every layer);
    BN over the whole input set makes the channel mean, hence the mu_c^2 share, exactly 0.
    Read from both the JSON and the printed table (4 decimals)."""
    assert main(["power", "--norm", norm, *SMALL, "--dtype", "float64", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert main(["power", "--norm", norm, *SMALL, "--dtype", "float64"]) == 0
    table = [line.split() for line in capsys.readouterr().out.splitlines()[3:]]
    for k, term in enumerate(payload["terms"]):
        if expected[k] is None:
            continue
        np.testing.assert_allclose(payload["layers"][term]["mean"], expected[k], atol=1e-10)
        assert all(abs(float(row[1 + k]) - expected[k]) < 5e-5 for row in table)


@pytest.mark.parametrize("argv, message", [
    (["--norm", "gn", "--width", "12", "--groups", "5"],
     "argument --groups: must divide --width 12"),
    (["--norm", "batchy"], "argument --norm: unknown scheme 'batchy'"),
    (["--norm", "mimicnorm"], "use --norm weight-mean"),
    (["--resolution", "12"], "argument --resolution: digits upsampling needs a multiple of 8"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(["power", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_importing_the_power_package_and_cli_does_not_import_jax():
    code = ("import sys, kernelnorm.power, kernelnorm.cli._power, kernelnorm.cli; "
            "kernelnorm.cli.build_parser(); print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_collapse_column_fills_kernel_rows_and_appends_the_others():
    from kernelnorm import compare
    from kernelnorm.power import add_collapse_column

    rows = compare("relu")
    out = add_collapse_column(rows, {"bn": 0.0, "weight-mean": 0.1, "plain": 0.8, "czmig": 0.0},
                              "mu_c^2@50")
    by_name = {row["scheme"]: row for row in out}
    assert by_name["BN"]["mu_c^2@50"] == 0.0
    assert by_name["weight mean"]["mu_c^2@50"] == 0.1
    assert by_name["plain (critical)"]["mu_c^2@50"] == 0.8  # the random nets' He init
    assert by_name["plain (ordered)"]["mu_c^2@50"] == "-"
    assert by_name["CZMIG"]["chi_1"] == "-" and by_name["CZMIG"]["mu_c^2@50"] == 0.0
    assert len(out) == len(rows) + 1 and "mu_c^2@50" not in rows[0]
