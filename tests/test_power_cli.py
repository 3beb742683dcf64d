"""``kernelnorm power``: table, JSON, plot, and one-line errors."""

import json
import subprocess
import sys

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
    shares = [payload["layers"][t]["mean"] for t in payload["terms"]]
    for layer in range(3):  # Proposition 1 through the CLI: shares sum to 1
        assert abs(sum(s[layer] for s in shares) - 1.0) < 1e-5
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("argv, message", [
    (["--norm", "gn", "--width", "12", "--groups", "5"],
     "argument --groups: must divide --width 12"),
    (["--norm", "batchy"], "argument --norm: unknown norm 'batchy'"),
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
    from kernelnorm._compare import compare
    from kernelnorm.power import add_collapse_column

    rows = compare("relu")
    out = add_collapse_column(rows, {"BN": 0.0, "weight mean": 0.1, "LN": 0.9}, "mu_c^2@50")
    by_name = {row["scheme"]: row for row in out}
    assert by_name["batch norm"]["mu_c^2@50"] == 0.0
    assert by_name["weight mean"]["mu_c^2@50"] == 0.1
    assert by_name["plain (ordered)"]["mu_c^2@50"] == "-"
    assert by_name["LN"]["chi_1"] == "-" and by_name["LN"]["mu_c^2@50"] == 0.9
    assert len(out) == len(rows) + 1 and "mu_c^2@50" not in rows[0]
