"""`kernelnorm mc` and `kernelnorm mc-lemma1`: JSON output, agreement, one-line errors."""

import json

from kernelnorm.cli import main


def test_mc_json_reports_measured_and_predicted_correlations(capsys):
    code = main(["mc", "--norm", "weight-mean", "--width", "128", "--depth", "3", "--seeds",
                 "8", "--rho", "0.0", "0.8", "--every", "1", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dtype"] == "float64" and payload["seeds"] == 8
    assert len(payload["correlations"]) == 3 * 2
    first = [r for r in payload["correlations"] if r["layer"] == 1]
    # layer 1 is a plain dense map of the inputs: its correlation is the input correlation
    assert all(abs(r["rho_predicted"] - r["rho_in"]) < 1e-12 for r in first)
    # 6 comparisons at 95%: |z| <= 4.5 has a false-alarm probability below 1e-4
    assert max(abs(r["z"]) for r in payload["correlations"]) <= 4.5


def test_mc_rejects_bad_batch_size_with_one_line(capsys):
    assert main(["mc", "--norm", "bn", "--batch-size", "3", "--seeds", "1", "--depth", "2",
                 "--width", "16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--batch-size" in err


def test_mc_lemma1_command_separates_the_two_factors(capsys):
    assert main(["mc-lemma1", "--n-in", "4", "--n-out", "128", "--draws", "20000", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert abs(row["z_main_text"]) <= 4.0 and abs(row["z_supplement"]) >= 8.0
