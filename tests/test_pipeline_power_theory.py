"""analysis/power_theory.py -> figures/power_theory.py on ``--profile tiny``, end to end: the data
agree with the theory they claim (sums, band, Theorem 1, refusals) and the figure is drawn."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figure_protocol_metadata():
    analysis = _module(ROOT / "analysis/power_theory.py")
    figure = _module(ROOT / "figures/power_theory.py")
    assert analysis.FIGURE["name"] == "power_theory" and callable(figure.main)
    assert set(analysis.FIGURE) >= {"name", "paper", "claim", "estimate_s", "estimate_full_s"}
    assert set(analysis.PROFILES) == {"tiny", "default", "full"}


def test_tiny_profile_data_agree_with_the_theory_and_the_figure_is_drawn(tmp_path):
    from kernelnorm.io import read_json
    from kernelnorm.power import theorem1_rate

    data, png = tmp_path / "power_theory.json", tmp_path / "power_theory.png"
    subprocess.run([sys.executable, ROOT / "analysis/power_theory.py", "--profile", "tiny",
                    "--seed", "0", "--out", data], check=True, capture_output=True, timeout=900)
    payload = read_json(str(data))
    for norm, result in payload["schemes"].items():
        shares = np.asarray(result["theory"]["shares"])
        np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)
        assert result["fraction_inside"] >= 0.9, norm
        assert result["mu2_last"]["theory"] == pytest.approx(shares[-1, 0])
    identity = payload["theorem1_identity"]
    np.testing.assert_allclose(identity["ratios"], theorem1_rate(), rtol=1e-12)
    ln = payload["theorem1_ln"]
    assert ln["bound_holds"] and ln["fitted_log_rate"] < ln["log_rate"]
    assert "batch statistics" in payload["refused"]["bn"]
    subprocess.run([sys.executable, ROOT / "figures/power_theory.py", "--data", data, "--out", png],
                   check=True, capture_output=True, timeout=300)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.with_suffix(".pdf").read_bytes()[:4] == b"%PDF"


def test_analysis_refuses_schemes_without_a_limit(tmp_path):
    result = subprocess.run([sys.executable, ROOT / "analysis/power_theory.py", "--profile", "tiny",
                             "--norms", "bn", "--out", tmp_path / "x.json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "batch statistics" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.json").exists()
