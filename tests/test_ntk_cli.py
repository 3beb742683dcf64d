"""``kernelnorm ntk`` and ``kernelnorm kappa-depth``: values, JSON, atomic output, errors."""

import json
import math
import re

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


def test_ntk_text_output_prints_the_derived_spectrum_of_orthogonal_inputs(capsys):
    """sphere:8 is 8 exactly orthogonal unit-length inputs. Under BN, T_BN(0) = T_bar(0) = 0, so
    every layer keeps them orthogonal and Theta is diagonal: kappa = 1, and with q = 1 in every
    layer the diagonal is Theta_L = sum_{k<L} chi_1^k = (chi_1^L - 1)/(chi_1 - 1), chi_1 =
    pi/(pi - 1) (MimicNorm Theorem 2 and Eq. 6). The text must print these numbers."""
    assert main(["ntk", "--norm", "bn", "--depth", "5", "--data", "sphere:8"]) == 0
    out = capsys.readouterr().out
    values = dict(re.findall(r"^(kappa|lambda_min|lambda_max|chi_1)\s+=\s+(\S+)", out, re.M))
    chi = math.pi / (math.pi - 1)
    assert float(values["kappa"]) == pytest.approx(1.0, abs=1e-10)
    for key in ("lambda_min", "lambda_max"):
        assert float(values[key]) == pytest.approx((chi**5 - 1) / (chi - 1), rel=1e-10)
    assert float(values["chi_1"]) == pytest.approx(chi, rel=1e-9) and "(chaotic)" in out


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
    (["ntk", "--depth", "3", "--norm", "xnorm"], "argument --norm"),
    (["ntk", "--depth", "3", "--norm", "mimicnorm"], "use --norm weight-mean"),
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
