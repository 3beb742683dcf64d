"""Fixup (Zhang, Dauphin, Ma 2019, §3) against its paper's rules and claims at initialisation.

Rule 1: the classifier and the last layer of every residual branch start at 0, so every
residual unit starts as its shortcut and the output does not depend on depth (the exploding
output variance of a standard-initialised ResNet, their §2, is gone). Rule 2: the other branch
layers are the standard (He) init times ``L^(-1/(2m-2))``. Rule 3: a scalar multiplier (1) per
branch and scalar biases (0) before each convolution, linear layer and activation.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernelnorm.data import load_digits
from kernelnorm.nn import build_network, fixup_branch_scale
from kernelnorm.train import images

DIGITS = images(load_digits())


def _net(model, norm="fixup", **kw):
    return build_network(model, norm, input_shape=(8, 8, 1), width_factor=0.5, **kw)


def test_fixup_output_is_zero_and_independent_of_depth_at_init():
    """Same stem, projection shortcuts and (non-zero) classifier: Fixup ResNet-8, -20 and -56
    compute the same function at init (float64, round-off only), because every unit is its
    shortcut. A plain (He) ResNet's output second moment grows with depth instead: Var(x + F(x))
    = Var x + Var F(x) at every unit (their §2); ResNet-56 vs ResNet-8 here: > 10^3."""
    x = jnp.asarray(DIGITS[0][:32], jnp.float64)
    nets = {m: _net(m) for m in ("resnet8", "resnet20", "resnet56")}
    params = {m: net.init(jax.random.PRNGKey(i), dtype=jnp.float64)[0] for i, (m, net) in enumerate(nets.items())}
    for m, net in nets.items():
        logits, _ = net.apply(params[m], {}, x, train=False)
        assert float(jnp.abs(logits).max()) == 0.0  # rule 1: zero classifier
    shared = {k: v for k, v in params["resnet56"].items() if k == "stem" or "shortcut" in k
              or k.startswith("stem/")}
    w = jax.random.normal(jax.random.PRNGKey(9), params["resnet8"]["classifier"]["w"].shape, jnp.float64)
    outputs = []
    for m, net in nets.items():
        p = {**params[m], **shared, "classifier": {"w": w, "b": jnp.zeros(w.shape[1])}}
        outputs.append(np.asarray(net.apply(p, {}, x, train=False)[0]))
    assert np.abs(outputs[0]).max() > 0.1
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outputs[2], outputs[0], rtol=1e-12, atol=1e-12)
    plain = {}
    for m in ("resnet8", "resnet56"):
        net = _net(m, "plain")
        p, s = net.init(jax.random.PRNGKey(0), dtype=jnp.float64)
        plain[m] = float(jnp.mean(net.apply(p, s, x, train=False)[0] ** 2))
    assert plain["resnet56"] / plain["resnet8"] > 1e3


@pytest.mark.parametrize("model, branches, depth", [("resnet56", 27, 2), ("resnet50", 16, 3)])
def test_fixup_branch_layers_are_he_times_l_to_minus_one_over_2m_minus_2(model, branches, depth):
    """Rule 2, pooled over every non-final branch kernel: sum(w^2) / sum(expected variance)
    has relative standard error sqrt(2/N) for N Gaussian entries; 5 standard errors. The last
    kernel of every branch is exactly 0, projections keep the plain He variance, multipliers
    start at 1 and scalar biases at 0 (rule 3)."""
    net = build_network(model, "fixup", input_shape=(8, 8, 3), width_factor=0.25)
    params, _ = net.init(jax.random.PRNGKey(3), dtype=jnp.float64)
    c2 = fixup_branch_scale(branches, depth) ** 2
    assert c2 == pytest.approx(branches ** (-1 / (depth - 1)))
    ratios = {"branch": [0.0, 0.0, 0], "shortcut": [0.0, 0.0, 0]}
    for name, info in net.layers.items():
        w = np.asarray(params[name]["w"])
        if "/conv" in name and name.endswith(f"conv{depth}"):
            assert not w.any(), name  # the branch's last layer
            continue
        kind = "branch" if "/conv" in name else "shortcut" if "shortcut" in name else None
        if kind is None:
            continue
        expected = 2.0 / info.fan_in * (c2 if kind == "branch" else 1.0)
        ratios[kind][0] += float((w ** 2).sum())
        ratios[kind][1] += expected * w.size
        ratios[kind][2] += w.size
    for kind, (observed, expected, n) in ratios.items():
        assert abs(observed / expected - 1) < 5 * math.sqrt(2 / n), kind
    scalars = [p for name, p in params.items() if name.endswith("/scalar")]
    assert len(scalars) == branches and all(float(p["alpha"]) == 1.0 for p in scalars)
    shifts = [p["shift"] for name, p in params.items() if "shift" in p]
    assert len(shifts) == 2 * depth * branches + 2 and not any(np.asarray(s).any() for s in shifts)
    assert not any("b" in p for name, p in params.items() if name != "classifier")


def test_fixup_trains_on_the_command_line_of_every_scheme(capsys):
    """The same command line as every other scheme; digits, ResNet-8, 3 epochs at LR 0.1."""
    import json

    from kernelnorm.cli import main

    assert main(["train", "--model", "resnet8", "--norm", "fixup", "--data", "digits",
                 "--epochs", "3", "--batch-size", "64", "--width-factor", "0.5", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["diverged"] is False
    assert payload["history"][-1]["test_accuracy"] > 0.1 + 6 * (0.09 / 359) ** 0.5  # chance + 6 sd
