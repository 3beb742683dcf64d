"""Every figure pipeline end to end on ``--profile tiny``, and the data behind each figure
checked against the theory it illustrates (not only that files exist).

The pipelines run in-process (imported by path, as ``kernelnorm figures`` draws them), once per
module; tolerances are derived in each test's docstring.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from kernelnorm import correlation_map_slope, dense, relu_dual
from kernelnorm.io import read_json

ROOT = Path(__file__).resolve().parents[1]
PI_RATIO = math.pi / (math.pi - 1.0)


def _module(folder: str, name: str):
    spec = importlib.util.spec_from_file_location(f"_test_{folder}_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``run(name)``: the tiny profile's data (pipeline once per name) after drawing PNG + PDF."""
    cache = {}
    folder = tmp_path_factory.mktemp("figures")

    def run(name: str) -> dict:
        if name not in cache:
            data, png = folder / f"{name}.json", folder / f"{name}.png"
            assert _module("analysis", name).main(["--profile", "tiny", "--out", str(data)]) == 0
            assert _module("figures", name).main(["--data", str(data), "--out", str(png)]) == 0
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
            cache[name] = read_json(str(data))
            assert cache[name]["figure"] == name and cache[name]["profile"] == "tiny"
        return cache[name]

    return run


def test_fig4_transition_maps_match_the_closed_forms(tiny):
    """Theorem 3: plain ``T = 2 phi_hat``; weight mean and BN ``T_bar = (phi_hat - phi_hat(0)) /
    (phi_hat(1) - phi_hat(0))``, stable at 0 with slope ``1/(2(1 - 1/pi))``, unstable at 1 with
    ``chi_1 = pi/(pi-1)``; phi_hat from the Cho-Saul formula written out here."""
    data = tiny("mimicnorm_fig4_transition_maps")
    rho = np.array(data["rho"])
    phi_hat = (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)
    h0, h1 = 1 / (2 * np.pi), 0.5
    schemes = data["schemes"]
    np.testing.assert_allclose(schemes["plain (critical)"]["T"], 2 * phi_hat, atol=1e-12)
    for label in ("weight mean", "BN"):
        s = schemes[label]
        np.testing.assert_allclose(s["T"], (phi_hat - h0) / (h1 - h0), atol=1e-12)
        assert s["chi_1"] == pytest.approx(PI_RATIO, rel=1e-12)
        stable = [p for p in s["fixed_points"] if p["stable"]]
        assert [p["rho"] for p in stable] == [pytest.approx(0.0, abs=1e-10)]
        assert stable[0]["slope"] == pytest.approx(1 / (2 * (1 - 1 / np.pi)), rel=1e-10)
        assert [p["stable"] for p in s["fixed_points"] if abs(p["rho"] - 1) < 1e-9] == [False]
    ordered = schemes["plain (ordered)"]
    assert ordered["chi_1"] == pytest.approx(0.9) and ordered["phase"] == "ordered"
    assert [(p["rho"], p["stable"]) for p in ordered["fixed_points"]] == [(pytest.approx(1.0), True)]


def test_fig2_3_channel_distributions_follow_the_kernel(tiny):
    """BN standardises every channel over the batch (mean 0, std 1 up to float error). Plain:
    the infinite-width between-channel share ``B_l = mean(K_l)/mean(diag K_l)`` grows with depth
    towards 1; one net's B is ``1/B + (1 - 1/B)`` times its mean pair correlation, which moves
    with the net at most like one pair's correlation: within 3 predicted finite-width sds
    (``correlation_spread``, largest over input correlations). Weight mean: B stays at a floor
    set by the batch and the width, ``(1/B + 1/n)/(1 - s)`` with ``s = T_bar'(0)``."""
    from kernelnorm.montecarlo import correlation_spread

    data = tiny("mimicnorm_fig2_3_channel_distributions")
    config = data["config"]
    first, last = (str(layer) for layer in config["layers"])
    for stats in data["panels"]["bn"]["layers"].values():
        np.testing.assert_allclose(stats["mean"], 0.0, atol=1e-10)
        np.testing.assert_allclose(stats["std"], 1.0, rtol=1e-8)
    plain = data["panels"]["plain"]["layers"]
    assert plain[last]["between_share_theory"] > plain[first]["between_share_theory"] > 0.5
    _, std = correlation_spread(dense("plain"), np.linspace(-0.5, 0.95, 30),
                                width=config["width"], depth=config["depth"])
    for layer, stats in plain.items():
        assert abs(stats["between_share"] - stats["between_share_theory"]) <= \
            3 * std[int(layer) - 1].max()
    s = float(correlation_map_slope(dense("weight-mean"), 0.0))
    floor = (1 / config["batch"] + 1 / config["width"]) / (1 - s)
    for stats in data["panels"]["weight mean"]["layers"].values():
        assert stats["between_share"] < floor < plain[first]["between_share"]


def test_fig8_9_plain_rises_to_one_and_weight_mean_sits_at_the_finite_width_floor(tiny):
    """Plain correlations rise towards 1 (the infinite-width mean is increasing and the measured
    mean follows it within the spread of the per-net means); weight mean and BN concentrate at
    rho* = 0 with the finite-width spread: the share of correlations inside their pair's 95%
    band is 0.95 up to binomial noise with one effective sample per net (3 sd), and the
    measured std matches the linearised prediction to the chi^2 error of a std over the nets'
    (>= 1 per net) independent samples plus the O(1/n) of the linearisation."""
    data = tiny("mimicnorm_fig8_9_pair_correlations")
    config = data["config"]
    seeds, width = config["seeds"], config["width"]
    plain = data["panels"]["plain"]
    assert np.all(np.diff(plain["infinite_width_mean"]) > 0)
    assert plain["measured_mean"][-1] > plain["measured_mean"][0]
    spread = np.std(plain["net_means_last"], ddof=1) if seeds > 1 else 0.1
    assert abs(plain["measured_mean"][-1] - plain["predicted_mean"][-1]) <= 4 * spread / math.sqrt(seeds)
    for label in ("weight mean", "BN"):
        panel = data["panels"][label]
        assert abs(panel["infinite_width_mean"][-1]) < 0.02
        assert abs(panel["coverage_95"][-1] - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / seeds)
        tolerance = 3 / math.sqrt(2 * seeds) + config["depth"] / width
        assert panel["std_last"] == pytest.approx(panel["predicted_std_last"], rel=tolerance)


def test_correlation_spread_predicts_monte_carlo_mean_and_std():
    """The linearised finite-width spread (kernelnorm.montecarlo.correlation_spread) against 400
    independent nets per case: means within 4 standard errors plus the O(1/n^2) dropped terms
    (``(L/n)^2``), stds within the chi^2 error of 400 samples (3 sd of ``1/sqrt(2 * 400)``)
    plus the first-order truncation ``L/n``."""
    from kernelnorm.montecarlo import correlation_spread, independent_pairs, sample_statistics

    width, depth, seeds = 128, 10, 400
    inputs = independent_pairs(np.array([0.0, 0.5, 0.9]), 64, seed=0)
    for norm in ("plain", "weight-mean"):
        block = dense(norm, width=width) if norm == "weight-mean" else dense(norm)
        measured = sample_statistics(block, inputs.x, inputs.pairs, seed=1, seeds=seeds,
                                     width=width, depth=depth).correlations[:, -1]
        mean, std = correlation_spread(block, inputs.correlations, width=width, depth=depth)
        se = measured.std(axis=0, ddof=1) / math.sqrt(seeds)
        assert np.all(np.abs(measured.mean(axis=0) - mean[-1]) <= 4 * se + (depth / width) ** 2)
        np.testing.assert_allclose(measured.std(axis=0, ddof=1), std[-1],
                                   rtol=3 / math.sqrt(2 * seeds) + depth / width)


def test_correlation_spread_stationary_floor_of_weight_mean():
    """At rho* = 0 the recursion's fixed point is ``(2 - s^2) / (n (1 - s^2))`` (g(0) = 1:
    the sample correlation of independent centred units has variance 1/n)."""
    from kernelnorm.montecarlo import activation_noise, correlation_spread

    block = dense("weight-mean", width=256)
    s = float(correlation_map_slope(block, 0.0))
    _, std = correlation_spread(block, 0.0, width=256, depth=200, second_order=False)
    assert std[-1] == pytest.approx(math.sqrt((2 - s * s) / (256 * (1 - s * s))), rel=1e-6)
    assert np.interp(0.0, np.linspace(-1, 1, 401), activation_noise(block)) == pytest.approx(1.0, abs=1e-8)


def test_ntk_kappa_phases_follow_xiao_et_al(tiny):
    """Ordered: log kappa grows at ``-log(chi_1)/2`` per layer (next-order terms relative
    ``chi_1^(L/2)`` at the first fitted depth); critical: kappa linear in m with slope 1/3 up to
    ``2 log L / L`` (real inputs, docs/ntk.md); chaotic: kappa -> 1, here within 1e-6."""
    data = tiny("ntk_kappa_phases")
    phases = {s["phase"] for s in data["kappa_vs_depth"].values()}
    assert phases == {"ordered", "critical", "chaotic"}
    for label, series in data["kappa_vs_depth"].items():
        depth, kappa = np.array(series["depth"]), np.array(series["kappa"])
        if series["phase"] == "ordered":
            fit = depth >= 20
            rate = np.polyfit(depth[fit], np.log(kappa[fit]), 1)[0]
            expected = -0.5 * math.log(series["chi_1"])
            assert rate == pytest.approx(expected, rel=2 * series["chi_1"] ** (depth[fit][0] / 2) + 0.05)
        elif series["phase"] == "chaotic":
            assert series["chi_1"] == pytest.approx(PI_RATIO, rel=1e-6)
            assert kappa[-1] - 1 < 1e-6
        else:
            assert series["chi_1"] == pytest.approx(1.0, abs=1e-9)
    for row in data["kappa_vs_size"]:
        assert abs(row["slope"] - 1 / 3) <= 2 * math.log(row["depth"]) / row["depth"]


def test_power_plots_obey_proposition_1_and_theorems_1_2(tiny):
    """Proposition 1: channel-averaged power 1 after BN/LN/IN (float32 nets: rtol 1e-5).
    BN: mu_c^2 = 0. Theorem 2 (IN): shares (0, 0, 1, 0). Theorem 1 direction: LN's mu_c^2 share
    grows with depth, LN+PN's ends far below it. CZM filters: no channel or instance mean."""
    data = tiny("proxynorm_fig2_power_plots")
    profiles = {p["norm"]: p["layers"] for p in data["profiles"]}
    for norm in ("bn", "ln", "in", "ln+pn"):
        np.testing.assert_allclose(profiles[norm]["power"]["mean"], 1.0, rtol=1e-5)
    np.testing.assert_allclose(profiles["bn"]["mu_c^2"]["mean"], 0.0, atol=1e-6)
    for term, value in zip(("mu_c^2", "sigma_c(mu_xc)^2", "mu_c(sigma_xc)^2",
                            "sigma_c(sigma_xc)^2"), (0, 0, 1, 0)):
        np.testing.assert_allclose(profiles["in"][term]["mean"], value, atol=1e-5)
    ln = profiles["ln"]["mu_c^2"]["mean"]
    assert ln[-1] > ln[0] and profiles["ln+pn"]["mu_c^2"]["mean"][-1] < ln[-1] / 3
    # Mean Shift Rejection: zero-mean filters (periodic convs, float64) map every channel's
    # spatial mean to zero from the first transformed layer on, for every input
    for term in ("mu_c^2", "sigma_c(mu_xc)^2"):
        np.testing.assert_allclose(profiles["czmig"][term]["mean"][1:], 0.0, atol=1e-12)


def test_fig5_theorem1_bound_and_identity_equality(tiny):
    """ReLU: rho <= 1.5 x the bound (random-walk slack, tests/test_power_theorems.py) and a
    fitted decay at least as fast as log r. Identity: the fitted log rate equals the finite-width
    mean-field one (wide limit: log r) within 3 sd of the least-squares slope of a random walk
    with step sd sqrt(2/C) over L layers and R nets, ``sqrt(2/C) sqrt(1.2/L) / sqrt(R)``. Collapse makes LN more channel-wise linear than BN."""
    data = tiny("proxynorm_fig5_theorem1")
    config = data["config"]
    relu = data["relu"]
    assert np.all(np.array(relu["rho"]["mean"]) <= 1.5 * np.array(relu["bound"]) + 1e-12)
    assert relu["fitted_log_rate"] < data["log_rate"]
    sd = math.sqrt(2 / config["width"]) * math.sqrt(1.2 / config["depth"]) / math.sqrt(config["realisations"])
    identity = data["identity"]
    assert abs(identity["fitted_log_rate"] - identity["finite_width_log_rate"]) <= 3 * sd
    # the finite-width mean field tends to Theorem 1's equality as C -> infinity
    wide = _module("analysis", "proxynorm_fig5_theorem1").finite_width_rho(
        0.6, depth=30, width=10**12, rate=data["rate"])
    np.testing.assert_allclose(wide, 0.6 * data["rate"] ** np.arange(30), rtol=1e-9)
    assert data["linearity"]["LN"]["mean"][-1] > data["linearity"]["BN"]["mean"][-1]


def test_ln_collapse_rises_with_depth_at_every_width(tiny):
    data = tiny("proxynorm_ln_collapse_depth")
    ln = [s for s in data["series"] if s["norm"] == "ln"]
    assert len(ln) == len(data["config"]["ln_widths"])
    for s in ln:
        assert s["share"]["mean"][-1] > s["share"]["mean"][0]
    pn = [s for s in data["series"] if s["norm"] == "ln+pn"][0]
    assert pn["share"]["mean"][-1] < min(s["share"]["mean"][-1] for s in ln)


def test_lemma1_factor_is_the_input_width_one(tiny):
    """Main text (n_i - 1)/n_i within 4 standard errors; the supplement's (n_o - 1)/n_o is
    rejected (> 4 standard errors) in every case with n_i != n_o."""
    for case in tiny("mimicnorm_lemma1_erratum")["cases"]:
        assert abs(case["z_main_text"]) < 4
        assert abs(case["z_supplement"]) > 4


@pytest.mark.slow
def test_theorem2_rates_are_n_to_the_minus_half(tiny):
    """CLT slope and the spread of BN's chi_1 fall like n^-1/2 (3 standard errors of the
    weighted log-log fit, plus the second-order 1/n curvature at the smallest width)."""
    data = tiny("mimicnorm_theorem2_finite_width")
    for row in data["clt"].values():
        assert abs(row["slope"] + 0.5) <= 3 * row["slope_se"] + 1 / row["widths"][0]
    t2 = data["theorem2"]
    assert abs(t2["slope"] + 0.5) <= 3 * t2["slope_se"] + 1 / t2["widths"][0] ** 0.5
    assert abs(t2["chi_mean"][-1] - PI_RATIO) <= 4 * t2["chi_ci"][-1] / 1.96 + 0.1


@pytest.mark.slow
def test_fig10_records_the_last_bn_running_variance_every_step(tiny):
    """The running variance follows the EMA ``v_t = 0.9 v_(t-1) + 0.1 s_t`` from ``v_0 = 1``:
    every implied batch variance ``s_t`` is positive, so every step was recorded, in order."""
    data = tiny("mimicnorm_fig10_last_bn_variance")
    for run in data["runs"]:
        assert run["step"] == list(range(1, len(run["step"]) + 1))
        if run["norm"] == "mimicnorm":
            v = np.vstack([np.ones(len(run["running_var"][0])), run["running_var"]])
            batch_variance = (v[1:] - 0.9 * v[:-1]) / 0.1
            assert np.all(batch_variance > 0)
        else:
            assert run["running_var"] == []


@pytest.mark.slow
def test_table2_last_bn_keeps_large_learning_rates_trainable(tiny):
    """At lr 1.0 the net without normalisation stays near chance; MimicNorm learns (the paper's
    Table 2 claim, one seed of the tiny profile)."""
    data = tiny("mimicnorm_table2_lr_sweep")
    cells = {(c["norm"], c["lr"]): c for c in data["cells"]}
    chance = 1 / data["n_classes"]
    assert len(cells) == len(data["config"]["norms"]) * len(data["config"]["lrs"])
    assert all(chance * 0.5 <= c["mean"] <= 1 for c in cells.values())
    assert cells[("mimicnorm", 1.0)]["mean"] > 2 * cells[("plain", 1.0)]["mean"]


@pytest.mark.slow
def test_fig6_curves_have_every_step_and_epoch(tiny):
    data = tiny("mimicnorm_fig6_training_curves")
    config = data["config"]
    for s in data["series"]:
        for run in s["runs"]:
            assert len(run["loss"]) == config["epochs"] * data["steps_per_epoch"]
            assert np.all(np.isfinite(run["loss"]))
        assert len(s["accuracy_mean"]) == config["epochs"]


@pytest.mark.slow
def test_table1_memory_mimicnorm_below_bn(tiny):
    """Removing the hidden BN layers frees their activations: MimicNorm and plain need less
    memory than BN (the paper's memory column); ratios are relative to BN."""
    for table in tiny("mimicnorm_table1_memory")["tables"].values():
        rows = {r["scheme"]: r for r in table["rows"]}
        assert rows["bn"]["/bn"] == 1.0
        assert rows["mimicnorm"]["peak"] < rows["bn"]["peak"]
        # "about as much as NoNorm": equal up to XLA's buffer alignment (hundreds of bytes)
        assert rows["plain"]["peak"] <= rows["mimicnorm"]["peak"] * (1 + 1e-3)


def test_relu_dual_reference():
    """The closed form used above agrees with the library's (guards the test's own formula)."""
    assert relu_dual(0.3) == pytest.approx((math.sqrt(1 - 0.09) + (math.pi - math.acos(0.3)) * 0.3) / (2 * math.pi))
