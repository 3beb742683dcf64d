"""Mean shift through conv nets (kernelnorm.train._mean_shift) and compiled-once sweeps
(kernelnorm.train._sweep).

Exact properties: a filter whose every spatial slice sums to zero (CZM) passes none of a spatially
constant input at interior positions; CZMG with z = 1 keeps it so through training, with z = 0
the filters leave the isocline; a 1x1 filter has common-mode gain 1; random i.i.d. filters have
gain 1 in expectation. A sweep run is the run ``train`` makes.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernelnorm.data import load_digits
from kernelnorm.nn import build_network
from kernelnorm.train import (
    TrainConfig,
    common_mode_gain,
    conv_inputs,
    images,
    mean_shift_profile,
    train,
    train_sweep,
)


@pytest.fixture(scope="module")
def digits():
    x, y, x_test, y_test = images(load_digits())
    return x[:256], y[:256], x_test[:64], y_test[:64]


def test_common_mode_gain_is_one_for_random_filters_zero_on_the_isocline_one_for_1x1():
    """(sum_i W)^2 / sum_i W^2 per (in, out) slice has expectation 1 for i.i.d. taps; over 64 x 64
    slices the ratio of sums has relative standard error about sqrt(2 / 4096) = 0.022."""
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3, 64, 64))
    assert common_mode_gain(kernel) == pytest.approx(1.0, abs=5 * 0.022)
    centred = kernel - kernel.mean(axis=(0, 1), keepdims=True)
    assert common_mode_gain(centred) < 1e-28
    assert common_mode_gain(rng.standard_normal((1, 1, 8, 8))) == pytest.approx(1.0, rel=1e-14)


def test_conv_inputs_are_the_networks_own_convolutions(digits):
    net = build_network("resnet8", "bn", input_shape=(8, 8, 1), width_factor=0.25)
    params, state = net.init(jax.random.PRNGKey(0))
    convs = conv_inputs(net, params, state, jnp.asarray(digits[2][:8], jnp.float32))
    assert [c["layer"] for c in convs] == [n for n, i in net.layers.items() if len(i.shape) == 4]
    stem = convs[0]
    np.testing.assert_allclose(stem["input"], digits[2][:8], rtol=1e-6)
    np.testing.assert_allclose(stem["kernel"], params["stem"]["w"], rtol=1e-6)
    again = jax.lax.conv_general_dilated(stem["input"], stem["kernel"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(stem["output"], np.asarray(again), rtol=1e-5, atol=1e-6)


def test_zero_mean_filters_pass_no_interior_mean_shift_at_init(digits):
    net = build_network("resnet8", "czmig", input_shape=(8, 8, 1), width_factor=0.25)
    params, state = net.init(jax.random.PRNGKey(1))
    rows = mean_shift_profile(net, params, state, jnp.asarray(digits[2], jnp.float32))
    czm = [r for r in rows if r["czm_filter"]]
    assert len(czm) == 6  # two 3x3 convolutions per block, stem and 1x1 shortcuts excluded
    for r in czm:
        assert r["common_mode_gain"] < 1e-12 and r["transmitted_interior"] < 1e-12
        assert r["input_share"] > 0.05  # the ReLU outputs they read do carry a mean shift
    for r in rows:
        if r["kernel_size"] == 1:
            assert r["common_mode_gain"] == pytest.approx(1.0, rel=1e-6)
            assert r["transmitted_interior"] == pytest.approx(r["transmitted"], rel=1e-6)


def test_czmg_one_keeps_zero_mean_shift_through_training_and_zero_lets_it_back(digits):
    net = build_network("vgg-small", "czmig", input_shape=(8, 8, 1), width_factor=0.25)
    records = train_sweep(net, digits, [{"lr": 0.1, "zmg": 1.0}, {"lr": 0.1, "zmg": 0.0}], epochs=1,
                          batch_size=64, keep_params=True)
    probe = jnp.asarray(digits[2], jnp.float32)
    on, off = (mean_shift_profile(net, r["params"], r["state"], probe) for r in records)
    assert max(r["common_mode_gain"] for r in on if r["czm_filter"]) < 1e-10
    assert max(r["transmitted_interior"] for r in on if r["czm_filter"]) < 1e-10
    assert min(r["common_mode_gain"] for r in off if r["czm_filter"]) > 1e-6


@pytest.mark.parametrize("norm, overrides", [("fcnn-bn", {}), ("vgg-small-czmig", {"zmg": 0.85})])
def test_a_sweep_run_is_the_run_train_makes(digits, norm, overrides):
    model, scheme = norm.rsplit("-", 1)
    net = build_network(model, scheme, input_shape=(8, 8, 1), width_factor=0.25, depth=2, width=32,
                        **overrides)
    config = TrainConfig(epochs=2, batch_size=64, lr=0.05, schedule="msr-resnet110", seed=4)
    reference = train(net, digits, config, progress=False)
    swept = train_sweep(net, digits, [{"lr": 0.05, "seed": 4}], epochs=2, batch_size=64,
                        schedule="msr-resnet110", keep_params=True)[0]
    for a, b in zip(jax.tree_util.tree_leaves(reference.params), jax.tree_util.tree_leaves(swept["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert swept["test_accuracy"] == pytest.approx(reference.final["test_accuracy"], abs=1 / 64 + 1e-9)


def test_batched_sweep_equals_the_sequential_one(digits):
    net = build_network("fcnn", "weight-mean", input_shape=(8, 8, 1), depth=2, width=16,
                        weight_mean_mode="graph")
    runs = [{"lr": lr, "seed": s} for lr in (0.01, 0.1) for s in (0, 1)]
    one, many = (train_sweep(net, digits, runs, epochs=1, batch_size=32, weight_decay=0.0, batched=b)
                 for b in (False, True))
    for a, b in zip(one, many):
        np.testing.assert_allclose(a["losses"], b["losses"], rtol=1e-4)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)
