"""The one scheme registry: names, the engines each scheme reaches, and the bugs its
unification fixed (layer norm's stable init and critical line, activation-dependent init
gains, one weight-mean rule). Expected numbers are derived here independently (scipy
quadrature), not read from the library."""

import math
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate

import kernelnorm as kn
from kernelnorm.cli import main


def gaussian_mean(f):
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature (independent of the library's rules)."""
    value, _ = integrate.quad(lambda z: f(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                              -40, 40, epsabs=1e-14, epsrel=1e-13, limit=200)
    return value


TANH_SQUARE = gaussian_mean(lambda z: math.tanh(z) ** 2)           # E[tanh^2] = Var tanh
TANH_DERIVATIVE_SQUARE = gaussian_mean(lambda z: (1 - math.tanh(z) ** 2) ** 2)


def test_every_name_and_alias_resolves_to_one_scheme():
    seen = {}
    for scheme in kn.SCHEMES.values():
        for name in (scheme.name, *scheme.aliases):
            assert name not in seen, f"{name} names {seen.get(name)} and {scheme.name}"
            seen[name] = scheme.name
            assert kn.get_scheme(name.upper()).name == scheme.name
    with pytest.raises(kn.KernelnormInputError, match="--norm.*unknown scheme"):
        kn.get_scheme("xnorm")


@pytest.mark.parametrize("command, engine", [
    (["chi1"], "dense"), (["fixed-points"], "dense"), (["mc"], "dense"), (["ntk"], "dense"),
    (["critical-line"], "dense"), (["power"], "conv"), (["train"], None),
])
def test_every_norm_help_lists_the_registry_names_of_its_engine(command, engine, capsys):
    assert main([*command, "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    listed = re.search(r"normalisation scheme, one of (.*?) \(default", help_text).group(1)
    assert listed.split(", ") == list(kn.scheme_names(engine=engine))


def test_same_norm_names_mean_the_same_scheme_everywhere():
    """``mimicnorm`` was weight mean alone in ``power`` and weight mean + last BN + residual
    scalar in ``train``: now it is one description, refused by engines that cannot run its
    network-level parts, with the name of the scheme of its layers."""
    for engine in ("dense", "conv"):
        with pytest.raises(kn.KernelnormInputError, match="use --norm weight-mean"):
            kn.require_engine(kn.get_scheme("mimicnorm"), engine)
    from kernelnorm.nn import build_network

    net = build_network("resnet8", "mimicnorm", input_shape=(8, 8, 1), width_factor=0.25)
    assert net.scheme == kn.SCHEMES["mimicnorm"]
    assert kn.get_scheme("czm") is kn.SCHEMES["czmig"] and kn.get_scheme("none").name == "plain"


# -- layer norm: no sigma_w2 to solve, chi_1 = 1 at every sigma_w2 (ReLU, no bias) ----------------


def _run(*args):
    return subprocess.run([sys.executable, "-m", "kernelnorm", *args], capture_output=True,
                          text=True, timeout=120)


def test_stable_init_of_layer_norm_is_a_clear_refusal():
    """LN fixes q = 1 at every sigma_w2: the old code printed sigma_w2 = 2."""
    result = _run("stable-init", "--norm", "ln")
    assert result.returncode == 2 and "sigma_w2 = " not in result.stdout
    assert "fixes the length q = 1 at every sigma_w2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sigma_w2", [0.5, 2.0, 7.0])
def test_layer_norm_relu_is_critical_at_every_sigma_w2(sigma_w2):
    """chi_1 = sigma_w2 E[step^2] / (sigma_w2 E[relu^2]) = 1 for ReLU without bias."""
    assert kn.chi_1(kn.LayerNorm("relu", sigma_w2=sigma_w2)) == pytest.approx(1.0, rel=1e-14)


def test_critical_line_of_layer_norm_says_the_whole_line_is_critical():
    """The old code printed sigma_w2 = 1 (duck-typed dispatch let LN through)."""
    result = _run("critical-line", "--norm", "ln")
    assert result.returncode == 2 and "every sigma_w2" in result.stderr
    result = _run("critical-line", "--norm", "ln", "--sigma-b2", "0.1")
    assert result.returncode == 2 and "ordered" in result.stderr


@pytest.mark.parametrize("sigma_b2", [0.05, 0.3])
def test_critical_line_of_layer_norm_with_tanh_is_closed_form(sigma_b2, capsys):
    """At q = 1, chi_1 = sigma_w2 D / (sigma_w2 K + sigma_b2) with D = E[tanh'^2] and K =
    E[tanh^2]; chi_1 = 1 at sigma_w2 = sigma_b2 / (D - K)."""
    assert main(["critical-line", "--norm", "ln", "--activation", "tanh", "--sigma-b2",
                 str(sigma_b2), "--json"]) == 0
    import json

    (row,) = json.loads(capsys.readouterr().out)
    assert row["sigma_w2"] == pytest.approx(sigma_b2 / (TANH_DERIVATIVE_SQUARE - TANH_SQUARE),
                                            rel=1e-8)


# -- init gains come from the activation ----------------------------------------------------------


@pytest.mark.parametrize("n", [64, 576])
def test_trainable_weight_mean_layers_use_the_activations_theorem3_scale(n):
    """Theorem 3 for tanh: q* = 1 needs sigma_w2 (n-1)/n Var tanh(z) = 1, i.e. sigma_w2 =
    n / ((n - 1) E[tanh^2]) (~2.58), not ReLU's 2n/((n-1)(1-1/pi)) (~2.95) that the trainable
    nets used whatever the activation. 5 sigma of the entry-variance estimate."""
    import jax
    import jax.numpy as jnp

    from kernelnorm.nn._layers import Context, kernel

    ctx = Context(kn.get_scheme("weight-mean"), mode="init", key=jax.random.PRNGKey(3),
                  dtype=jnp.float64, activation="tanh")
    w = np.asarray(kernel(ctx, "conv", (3, 3, n // 9, 256)))
    expected_sigma_w2 = n / ((n - 1) * TANH_SQUARE)
    entries = w.size
    measured = w.var() * n * n / (n - 1)  # centred N(0, s/n) entries have variance s/n (n-1)/n
    assert measured == pytest.approx(expected_sigma_w2, rel=5 * math.sqrt(2 / entries))
    assert abs(measured - 2 * n / ((n - 1) * (1 - 1 / math.pi))) > 10 * math.sqrt(2 / entries) * measured


def test_every_engine_draws_the_same_tanh_gain():
    """Plain layers at q* = 1 for tanh need sigma_w2 = 1 / E[tanh^2] in the dense theory, the
    power nets and the trainable nets alike (the trainable nets used He's 2)."""
    expected = 1.0 / TANH_SQUARE
    plain = kn.get_scheme("plain")
    assert kn.Plain("tanh").sigma_w2 == pytest.approx(expected, rel=1e-9)
    assert kn.init_sigma_w2(plain, "tanh", fan_in=100, first=False) == pytest.approx(expected, rel=1e-9)
    import jax

    from kernelnorm.power import NetConfig, init_layer

    config = NetConfig(plain, depth=2, width=512, activation="tanh", dtype="float64")
    w, _, _ = init_layer(jax.random.PRNGKey(0), config, 512, 1, first=False)
    fan_in = 3 * 512
    assert float(np.var(w)) * fan_in == pytest.approx(expected, rel=5 * math.sqrt(2 / w.size))


# -- one weight-mean rule -------------------------------------------------------------------------


def test_weight_mean_rule_skips_the_first_layer_in_every_engine():
    """The trainable nets centred the first layer of RGB inputs (fan-in 27 > 9; the dense and
    power nets did not)."""
    from kernelnorm.nn import build_network

    net = build_network("vgg-small", "weight-mean", input_shape=(8, 8, 3), width_factor=0.25)
    info = net.layers
    assert not info["conv0"].weight_mean and info["conv1"].weight_mean
    assert info["classifier"].weight_mean  # MimicNorm as written: every hidden layer
    assert kn.get_scheme("weight-mean").transforms_layer(fan_in=100, first=True) is False


def test_authors_code_rule_skips_small_fan_ins_and_the_classifier():
    from kernelnorm.nn import build_network

    net = build_network("vgg-small", "weight-mean", input_shape=(8, 8, 1), width_factor=0.125,
                        weight_mean_rule="authors-code")
    info = net.layers  # channels 4, 8, 16: fan-ins 9 (first), 36, 72; classifier 16
    assert [info[name].fan_in for name in ("conv0", "conv1", "conv2")] == [9, 36, 72]
    assert [info[name].weight_mean for name in ("conv0", "conv1", "conv2", "classifier")] == \
        [False, False, True, False]
