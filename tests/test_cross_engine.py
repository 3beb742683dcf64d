"""One description, every engine: each registered scheme is run through every engine that
supports it, and the engines agree where they must.

* dense kernel vs dense Monte-Carlo: the measured one-block correlation map matches the
  analytic ``kernel_map`` within 5 standard errors over seeds, plus the declared finite-width
  bias 2/n and, for batch-coupled normalisers, the finite-batch bias 3/B (the kernel map is
  the full-batch idealisation of MimicNorm Theorem 2);
* dense block vs trainable block: the trainable net's layer at its own initial weights equals
  ``DenseBlock.apply`` at the same weights (same init gain, weight transform, normaliser and
  activation step) up to the trainable normalisers' eps;
* random conv nets: every scheme with a scale-fixing normaliser satisfies Proxy Norm
  Proposition 1 (channel-averaged power 1), every batch normaliser removes the channel mean
  exactly, and the four terms always sum to the power;
* trainable nets: every scheme builds, initialises and gives finite logits.

The parametrisation is the registry itself: a newly registered scheme is covered here
without editing this file.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kernelnorm as kn
from kernelnorm.montecarlo import independent_pairs, mean_ci, predicted_statistics, sample_statistics

DENSE = kn.scheme_names(engine="dense")
CONV = kn.scheme_names(engine="conv")
ALL = tuple(kn.SCHEMES)


@pytest.mark.parametrize("norm", DENSE)
def test_monte_carlo_correlation_map_matches_the_kernel_map(norm):
    """Width 512, 24 seeds, 32 orthogonal pairs (64 inputs = the batch of batch normalisers)
    at input correlations in [-0.9, 0.9]; layer 2 is one block of the scheme."""
    width, batch = 512, 64
    block = kn.dense(norm, "relu", width=width)
    inputs = independent_pairs(np.linspace(-0.9, 0.9, batch // 2), batch, seed=3)
    stats = sample_statistics(block, inputs.x, inputs.pairs, seed=1, seeds=24, width=width,
                              depth=2)
    predicted = predicted_statistics(block, inputs.x, inputs.pairs, 2)[2][1]
    measured = mean_ci(stats.correlations[:, 1])
    allowance = 5 * measured.standard_error + 2.0 / width
    if block.scheme.batch_coupled:
        allowance = allowance + 3.0 / batch
    assert np.all(np.abs(measured.mean - predicted) <= allowance)


def _trainable_block(block, x, width):
    """The trainable nets' hidden layer (dense -> normaliser -> affine -> activation step) at
    its own initial weights, on layer input ``x``: (normalised output, activated output,
    params)."""
    from kernelnorm.nn._layers import Context, dense, norm_act

    ctx = Context(block.scheme, mode="init", key=jax.random.PRNGKey(7), dtype=jnp.float64,
                  activation=block.activation, train=True)
    z = dense(ctx, "layer", x, width)
    normalised = norm_act(ctx, "layer", z, activate=False)
    activated = norm_act(ctx, "layer", z, activate=True)
    return normalised, activated, ctx.params["layer"]


@pytest.mark.parametrize("norm", DENSE)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_trainable_layer_equals_the_dense_block_at_the_same_weights(norm, activation):
    n, width, batch = 96, 64, 32
    block = kn.dense(norm, activation, width=n)
    h = jax.random.normal(jax.random.PRNGKey(0), (batch, n), jnp.float64) * 1.3
    x = block.activation_step(h)  # the trainable nets apply the step in the layer below
    normalised, activated, params = _trainable_block(block, x, width)
    scale = math.sqrt(block.sigma_w2 / n)
    w = params["w"] if block.scheme.weights == "standardise" else params["w"] / scale
    expected = block.apply({"w": w, "b": jnp.zeros(width)}, h)
    # the trainable normalisers' eps 1e-5 and weight standardisation's 1e-8, on unit variances
    rtol = 1e-4 if block.scheme.normaliser else 1e-7 if block.scheme.weights == "standardise" \
        else 1e-12
    np.testing.assert_allclose(np.asarray(normalised), np.asarray(expected), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(np.asarray(activated), np.asarray(block.activation_step(expected)),
                               rtol=rtol, atol=rtol)


@pytest.mark.parametrize("norm", CONV)
def test_random_conv_net_keeps_the_power_identities(norm):
    from kernelnorm.power import NetConfig, make_inputs, power_scheme, run_realisation

    scheme = power_scheme(norm, groups=4)
    config = NetConfig(scheme, depth=3, width=8, dtype="float64")
    inputs = make_inputs("digits", 8, 8, seed=0)
    with jax.disable_jit():
        terms, power, _ = run_realisation(config, inputs, jax.random.PRNGKey(2))
    np.testing.assert_allclose(terms.sum(axis=1), power, rtol=1e-10)
    if scheme.scales:
        np.testing.assert_allclose(power.mean(axis=-1), 1.0, rtol=1e-12)  # Proposition 1
    if scheme.batch_coupled:
        np.testing.assert_allclose(terms[:, 0], 0.0, atol=1e-12 * float(power.max()))


@pytest.mark.parametrize("norm", ALL)
def test_every_scheme_is_a_trainable_network(norm):
    from kernelnorm.nn import build_network

    net = build_network("resnet8", norm, input_shape=(8, 8, 1), width_factor=0.25, groups=2)
    params, state = net.init(jax.random.PRNGKey(0))
    logits, _ = net.apply(params, state, jnp.ones((4, 8, 8, 1)), train=True)
    assert logits.shape == (4, 10) and bool(jnp.all(jnp.isfinite(logits)))
    assert net.scheme is kn.get_scheme(norm) or net.scheme.name == norm
