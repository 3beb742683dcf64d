"""analysis/ -> figures/ pipelines of the theory -> training results and of Mean Shift Rejection,
end to end on ``--profile tiny``, with their data checked against theory.

* ntk_linearised_dynamics: the centred model starts at L_0 = ||y||^2 / (2m) = 1/2 (one-hot), the
  gap to the NTK prediction is within the Hanin-Nica scale sqrt(5 L / n) and shrinks at least
  like n^-1/2 from n = 16 to 64;
* kappa_vs_early_loss: kappa is the NTK's (chaotic schemes better conditioned than the critical
  plain net, and increasingly so with depth), the Spearman estimate lies in its interval;
* msr_table1: the paper's rows with their numbers, one accuracy per seed, BN's effective
  learning rate = lr / (filter magnitude)^2 (the paper's recipe);
* msr_mean_shift: CZMG with z = 1 leaves exactly no interior mean shift in the CZM filters'
  outputs after training, z = 0 does not.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pipeline(name: str, tmp_path) -> dict:
    data, png = tmp_path / f"{name}.json", tmp_path / f"{name}.png"
    subprocess.run([sys.executable, ROOT / "analysis" / f"{name}.py", "--profile", "tiny", "--out", data],
                   check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, ROOT / "figures" / f"{name}.py", "--data", data, "--out", png],
                   check=True, capture_output=True, timeout=300)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    return json.loads(data.read_text())


def _figure_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_{name}", ROOT / "analysis" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["ntk_linearised_dynamics", "kappa_vs_early_loss", "msr_table1",
                                  "msr_mean_shift"])
def test_pipelines_declare_the_figure_protocol(name):
    figure = _figure_module(name).FIGURE
    assert figure["name"] == name and figure["paper"] and figure["claim"]
    assert 0 < figure["estimate_s"] <= figure["estimate_full_s"]


@pytest.mark.slow
def test_ntk_dynamics_pipeline_gap_within_the_finite_width_scale_and_shrinking(tmp_path):
    payload = _pipeline("ntk_linearised_dynamics", tmp_path)
    assert set(payload["schemes"]) == {"plain (critical)", "plain (ordered)", "weight mean", "BN"}
    for result in payload["schemes"].values():
        assert result["predicted"][0] == pytest.approx(0.5, rel=1e-12)
        assert result["curves"][0]["mean"][0] == pytest.approx(0.5, rel=1e-5)
        rows = result["rows"]
        for row in rows:
            assert row["gap"] <= math.sqrt(5 * payload["depth"] / row["width"])
        small, large = rows[0], rows[-1]
        assert large["gap"] / small["gap"] <= math.sqrt(small["width"] / large["width"])
    assert payload["schemes"]["weight mean"]["phase"] == "chaotic"
    assert payload["schemes"]["plain (ordered)"]["phase"] == "ordered"


@pytest.mark.slow
def test_kappa_pipeline_conditions_follow_the_phases_and_the_interval_holds_rho(tmp_path):
    payload = _pipeline("kappa_vs_early_loss", tmp_path)
    kappa = {(p["scheme"], p["depth"]): p["kappa"] for p in payload["points"]}
    shallow, deep = payload["depths"]
    for scheme in ("bn", "weight-mean"):
        assert kappa[(scheme, shallow)] < kappa[("plain", shallow)]
        assert kappa[(scheme, deep)] / kappa[("plain", deep)] < kappa[(scheme, shallow)] / kappa[("plain", shallow)]
    s = payload["spearman"]
    assert -1 <= s["ci_low"] <= s["rho"] <= s["ci_high"] <= 1 and s["points"] == len(payload["points"])
    assert all(p["loss"] < payload["chance_loss"] for p in payload["points"])  # every net learnt


@pytest.mark.slow
def test_msr_table_pipeline_rows_seeds_and_effective_learning_rate(tmp_path):
    payload = _pipeline("msr_table1", tmp_path)
    rows = payload["rows"]
    assert [(r["method"], r["lr"], r["zmg"], r["noise"], r["paper_accuracy"]) for r in rows] == [
        ("CZMIG", 0.4, 0.85, 0.1, 94.03), ("BatchNorm", 0.1, 0.0, 0.0, 93.70)]
    for row in rows:
        assert len(row["accuracies"]) == len(payload["seeds"])
        assert all(0 <= a <= 100 for a in row["accuracies"] if math.isfinite(a))
    assert payload["bn_effective_lr"] == pytest.approx(0.1 / payload["bn_filter_magnitude"] ** 2, rel=1e-12)


@pytest.mark.slow
def test_mean_shift_pipeline_zmg_one_leaves_no_interior_mean_shift(tmp_path):
    payload = _pipeline("msr_mean_shift", tmp_path)
    runs = {r["label"]: r for r in payload["runs"]}
    on, off = runs["CZMIG (zmg 1)"], runs["CZMI (zmg 0)"]
    for run in (on, off):
        assert all(q["common_mode_gain"] < 1e-12 for q in run["initial"] if q["czm_filter"])
    assert all(q["common_mode_gain"] < 1e-10 and q["transmitted_interior"] < 1e-10
               for q in on["trained"] if q["czm_filter"])
    assert off["trained_summary"]["common_mode_gain"] > 1e-8
    assert 0.3 < runs["BN"]["trained_summary"]["common_mode_gain"] < 3.0


def test_figure_is_deterministic(tmp_path):
    payload = {"data": "digits", "image_shape": [8, 8, 1], "probe": 4, "model": "resnet8",
               "width_factor": 0.5, "epochs": 1, "lr": 0.1, "seeds": [0], "zmg_prediction": [],
               "runs": [{"label": "BN", "test_accuracy": 0.5, "initial": [], "trained": []}]}
    layer = {"layer": "stem", "output_share": 0.1, "transmitted": 0.2, "transmitted_interior": 0.1,
             "common_mode_gain": 1.0}
    payload["runs"][0]["initial"] = payload["runs"][0]["trained"] = [layer]
    data = tmp_path / "d.json"
    data.write_text(json.dumps(payload))
    outputs = []
    for k in range(2):
        png = tmp_path / f"f{k}.png"
        subprocess.run([sys.executable, ROOT / "figures/msr_mean_shift.py", "--data", data, "--out", png],
                       check=True, capture_output=True, timeout=300)
        outputs.append((png.read_bytes(), png.with_suffix(".pdf").read_bytes()))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("name", ["ntk_linearised_dynamics", "kappa_vs_early_loss", "msr_table1",
                                  "msr_mean_shift"])
def test_pipeline_bad_input_is_one_line_and_exit_two(tmp_path, name):
    out = tmp_path / "x.json"
    result = subprocess.run([sys.executable, ROOT / "analysis" / f"{name}.py", "--data", "nosuch", "--out", out],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--data" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
