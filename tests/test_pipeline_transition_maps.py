"""analysis/ -> figures/ pipeline for MimicNorm Figure 4, end to end on temporary paths."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_figure4_pipeline_writes_data_and_png(tmp_path):
    data, png = tmp_path / "maps.json", tmp_path / "fig4.png"
    subprocess.run([sys.executable, ROOT / "analysis/mimicnorm_fig4_transition_maps.py", "--out", data], check=True,
                   capture_output=True, timeout=300)
    payload = json.loads(data.read_text())
    wm = payload["schemes"]["weight mean"]
    assert wm["chi_1"] == pytest.approx(math.pi / (math.pi - 1), rel=1e-12)
    assert [p["rho"] for p in wm["fixed_points"] if p["stable"]] == [pytest.approx(0.0, abs=1e-12)]
    subprocess.run([sys.executable, ROOT / "figures/mimicnorm_fig4_transition_maps.py", "--data", data,
                    "--out", png], check=True, capture_output=True, timeout=300)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_figure_script_rejects_missing_data(tmp_path):
    result = subprocess.run([sys.executable, ROOT / "figures/mimicnorm_fig4_transition_maps.py", "--data",
                             tmp_path / "absent.json", "--out", tmp_path / "x.png"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--data" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()
