"""End to end: analysis/minibatch_bn.py --profile tiny, then figures/minibatch_bn.py; the data are
checked against the theory (tolerances as in tests/test_mc_minibatch.py, at the tiny sizes)."""

import importlib.util
import math
import os

import pytest

from kernelnorm import minibatch_theory
from kernelnorm.io import read_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIAS = 5.0  # relative finite-width bias allowance, times 1/width (tests/test_mc_minibatch.py)


def _load(path):
    name = os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("minibatch") / "minibatch_bn.json")
    analysis = _load("analysis/minibatch_bn.py")
    assert analysis.main(["--profile", "tiny", "--seed", "0", "--out", out]) == 0
    return out


def test_figure_protocol_fields():
    analysis = _load("analysis/minibatch_bn.py")
    figure = analysis.FIGURE
    assert figure["name"] == "minibatch_bn" and figure["paper"].startswith("MimicNorm Theorem 2")
    assert figure["claim"] and 0 < figure["estimate_s"] < figure["estimate_full_s"]
    assert set(analysis.PROFILES) == {"tiny", "default", "full"}


def test_tiny_data_agree_with_the_theory(tiny):
    data = read_json(tiny)
    width = data["config"]["width"]
    assert [row["batch"] for row in data["rows"]] == data["config"]["batches"]
    for row in data["rows"]:
        theory = minibatch_theory(data["activation"], row["batch"])
        assert row["chi_predicted"] == theory.chi_1 and row["c_star"] == -1 / (row["batch"] - 1)
        for key, value in (("chi", theory.chi_1), ("growth", theory.gradient_growth)):
            bias = BIAS * value / width
            if f"{key}_bounds" in row:  # B = 4: heavy-tail bounds (below, above)
                below, above = row[f"{key}_bounds"]
                assert value - below - bias <= row[key] <= value + above + bias
            else:
                assert abs(row[key] - value) <= 4 * row[f"{key}_se"] + bias
        # the measured pair correlation follows the exact Gram trajectory (4 SE + 2/n)
        gap = abs(row["rho_last"] - row["rho_last_predicted"])
        assert gap <= 4 * row["rho_last_se"] + 2 / width
    curves = data["theory"]
    assert abs(curves["gradient_growth"][-1] - math.pi / (math.pi - 1)) < 1e-3
    assert all(a > b for a, b in zip(curves["gradient_growth"], curves["gradient_growth"][1:]))
    gaps = data["mimicnorm"]
    assert gaps["c_star"]["0.01"] == 101  # |c*| = 1/(B - 1) <= 0.01 from B = 101 on
    growth = gaps["gradient_growth"]
    assert growth["0.01"] > growth["0.05"] > growth["0.1"]


def test_figure_writes_png_and_pdf(tiny, tmp_path):
    out = str(tmp_path / "minibatch_bn.png")
    assert _load("figures/minibatch_bn.py").main(["--data", tiny, "--out", out]) == 0
    for path in (out, out[:-4] + ".pdf"):
        assert os.path.getsize(path) > 10_000
