"""``kernelnorm ntk`` and ``kernelnorm kappa-depth``: values, JSON, atomic output, errors."""

import json

import numpy as np
import pytest

from kernelnorm.cli import main


def _json(capsys, *args):
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ntk_on_digits_depth_50_weight_mean_is_near_one_plain_is_large(capsys):
    common = ["ntk", "--depth", "50", "--data", "digits", "--max-points", "300"]
    wm = _json(capsys, *common, "--norm", "weight-mean")
    plain = _json(capsys, *common, "--norm", "plain")
    assert wm["phase"] == "chaotic" and wm["kappa"] < 1 + 1e-6
    assert plain["phase"] == "critical" and plain["kappa"] > 50  # ~ 1 + m/3 (docs/ntk.md)
    assert wm["m"] == plain["m"] == 300
    assert wm["lambda_max"] / wm["lambda_min"] == pytest.approx(wm["kappa"], rel=1e-12)


def test_ntk_text_output_names_kappa_lambdas_and_phase(capsys):
    assert main(["ntk", "--norm", "bn", "--depth", "5", "--data", "sphere:8"]) == 0
    out = capsys.readouterr().out
    for word in ("kappa", "lambda_min", "lambda_max", "chaotic", "grid path"):
        assert word in out


def test_ntk_raw_inputs_of_unequal_norm_take_the_exact_path(tmp_path, capsys):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((10, 4)) * np.arange(1, 11)[:, None])
    payload = _json(capsys, "ntk", "--depth", "3", "--data", str(path), "--raw")
    assert payload["method"] == "exact" and payload["m"] == 10


def test_kappa_depth_saves_rows_atomically(tmp_path, capsys):
    out = tmp_path / "kappa.json"
    assert main(["kappa-depth", "--data", "sphere:12", "--depths", "1:21:10",
                 "--output", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert {(r["scheme"], r["depth"]) for r in saved["rows"]} == {
        (s, d) for s in ("plain", "weight-mean", "bn") for d in (1, 11, 21)}
    assert [p.name for p in tmp_path.iterdir()] == ["kappa.json"]  # no temporary left behind
    assert "saved" in capsys.readouterr().out


def _exit_code(args):
    """``main``'s return code, or argparse's exit code for errors found while parsing."""
    try:
        return main(args)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("args, message", [
    (["ntk", "--depth", "0"], "argument --depth: must be >= 1"),
    (["ntk", "--depth", "3", "--data", "sphere:0"], "argument --data"),
    (["ntk", "--depth", "3", "--data", "nope"], "unknown data"),
    (["kappa-depth", "--depths", "0,3"], "argument --depths"),
    (["ntk", "--depth", "3", "--norm", "layer"], "argument --norm"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert _exit_code(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("content, message", [
    (np.array([[1.0, np.nan], [1.0, 2.0]]), "NaN"),
    (np.zeros((0, 3)), "non-empty"),
])
def test_bad_data_files_are_one_line_errors(tmp_path, content, message, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    assert main(["ntk", "--depth", "3", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
