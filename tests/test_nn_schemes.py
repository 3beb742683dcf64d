"""Every normalisation scheme is a trainable network; the schemes' defining properties hold."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernelnorm import SCHEMES, get_scheme, init_sigma_w2, spatial_mean, weight_mean
from kernelnorm.data import load_digits
from kernelnorm.nn import build_network, residual_scalar_init
from kernelnorm.train import TrainConfig, images, luma_loss, make_optimizer, make_train_step, train

DIGITS = images(load_digits())


def _chance_threshold(n_test: int, n_classes: int = 10, sigmas: float = 6.0) -> float:
    """Chance accuracy plus ``sigmas`` binomial standard deviations of a guesser on ``n_test``."""
    p = 1.0 / n_classes
    return p + sigmas * math.sqrt(p * (1 - p) / n_test)


# NoNorm and weight mean without the last BN only train at a small learning rate (MimicNorm §4:
# "straight networks are only trainable with smaller learning rates"); CZMIG uses its own scale.
LEARNING_RATES = {"plain": 0.02, "weight-mean": 0.02, "ws": 0.02, "mean-bn": 0.02, "czmig": 0.1}


def theorem3_sigma_w2(n, activation="relu"):
    return init_sigma_w2(get_scheme("weight-mean"), activation, fan_in=n, first=False)


@pytest.mark.slow
@pytest.mark.parametrize("norm", tuple(SCHEMES))
def test_every_scheme_learns_digits_above_chance(norm):
    """Small VGG (3 convs of 8/16/32 channels), 2 epochs on digits, float32."""
    _assert_learns("vgg-small", norm)


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["mimicnorm"])
def test_residual_schemes_learn_digits_above_chance_in_a_resnet(norm):
    """MimicNorm with its residual-branch scalars in ResNet-8 (the scalar and the noise of the
    other residual schemes are checked directly below)."""
    _assert_learns("resnet8", norm)


def _assert_learns(model, norm):
    net = build_network(model, norm, input_shape=(8, 8, 1), width_factor=0.25, groups=2)
    config = TrainConfig(epochs=2, batch_size=64, lr=LEARNING_RATES.get(norm, 0.1), schedule="constant")
    result = train(net, DIGITS, config)
    assert not result.diverged
    threshold = _chance_threshold(len(DIGITS[3]))  # 359 test digits: 0.1 + 6 * 0.0158 = 0.195
    assert result.final["test_accuracy"] > threshold


def _step_fn(net, params, lr=0.05, weight_decay=5e-4):
    opt = make_optimizer(net, params, lr, momentum=0.9, weight_decay=weight_decay)
    return opt, jax.jit(make_train_step(net, opt, params))


def _batches(n_steps, batch=32, seed=0):
    x, y = DIGITS[0], DIGITS[1]
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        index = rng.choice(len(x), batch, replace=False)
        yield jnp.asarray(x[index]), jnp.asarray(y[index])


def _run(net, n_steps, *, dtype=jnp.float64, **kw):
    params, state = net.init(jax.random.PRNGKey(0), dtype=dtype)
    opt, step = _step_fn(net, params, **kw)
    opt_state = opt.init(params)
    for k, (x, y) in enumerate(_batches(n_steps)):
        params, state, opt_state, _, _ = step(params, state, opt_state, x, y, jax.random.PRNGKey(k))
    return params, state


def _czm_filters(net, params):
    return [params[name]["v"] for name, info in net.layers.items() if info.czm_filter]


@pytest.mark.parametrize("zmg", [1.0, 0.0])
def test_czmg_with_zmg_one_keeps_filters_on_the_zero_mean_isocline(zmg):
    """CZMG with z = 1 removes the spatial mean of every gradient, and LUMA's gradient of a
    zero-mean filter is zero-mean, so SGD keeps spatial means at 0 up to float64 round-off
    (~1e-16 per step, 10 steps). With z = 0 the means drift (the check can fail)."""
    net = build_network("vgg-small", "czmig", input_shape=(8, 8, 1), width_factor=0.25, zmg=zmg)
    params, _ = _run(net, 10, lr=0.1)
    worst = max(float(jnp.abs(spatial_mean(v)).max()) for v in _czm_filters(net, params))
    if zmg == 1.0:
        assert worst < 1e-12
    else:
        assert worst > 1e-6


def test_czmi_filters_start_zero_mean_unit_norm_with_exp_scale_point_eight():
    net = build_network("vgg-small", "czmig", input_shape=(8, 8, 1), width_factor=0.25)
    params, _ = net.init(jax.random.PRNGKey(1), dtype=jnp.float64)
    filters = _czm_filters(net, params)
    assert filters, "resnet8 has spatial filters beyond the first layer"
    for v in filters:
        np.testing.assert_allclose(np.linalg.norm(np.asarray(v).reshape(-1, v.shape[-1]), axis=0), 1.0, rtol=1e-12)
        assert float(jnp.abs(spatial_mean(v)).max()) < 1e-14
    np.testing.assert_allclose(np.exp(np.asarray(params["conv0"]["g"])), 0.8, rtol=1e-12)


def test_luma_gradient_descent_contracts_filter_norms_to_one_at_rate_one_minus_two_lambda_eta():
    """For L = lam (r - 1)^2 with r = ||V||, a gradient step moves V radially:
    r' - 1 = (1 - 2 lam eta)(r - 1) exactly. Measure the contraction factor by regression."""
    lam, eta = 0.05, 0.5
    v = {"layer": {"v": jnp.stack([jnp.full((9,), 2.0 / 3.0), jnp.full((9,), 0.5 / 3.0)], axis=-1)}}
    mask = {"layer": {"v": True}}
    gaps = []
    for _ in range(30):
        norms = jnp.sqrt((v["layer"]["v"] ** 2).sum(axis=0))
        gaps.append(np.asarray(norms - 1.0))
        grad = jax.grad(luma_loss)(v, mask, lam)
        v = jax.tree_util.tree_map(lambda p, g: p - eta * g, v, grad)
    gaps = np.abs(np.array(gaps))
    slopes = np.polyfit(np.arange(len(gaps)), np.log(gaps), 1)[0]
    np.testing.assert_allclose(np.exp(slopes), 1 - 2 * lam * eta, rtol=1e-10)


def test_luma_anchors_filter_norms_in_training_where_plain_sgd_lets_them_drift():
    """Same 30 SGD steps (lr 0.1) with and without LUMA, lambda = 0.5 so that the anchor's time
    scale 1/(2 lambda eta) = 10 steps is shorter than the run (the paper's 5e-4 acts over 1e4
    steps, see the rate test above): LUMA keeps every CZM filter within 5% of norm 1 and closer
    to 1 on average than without it."""
    gaps = {}
    for weight in (0.5, 0.0):
        net = build_network("vgg-small", "czmig", input_shape=(8, 8, 1), width_factor=0.25, luma=weight)
        params, _ = _run(net, 30, lr=0.1)
        gaps[weight] = np.concatenate([np.abs(np.linalg.norm(np.asarray(v).reshape(-1, v.shape[-1]), axis=0) - 1)
                                       for v in _czm_filters(net, params)])
    assert gaps[0.5].max() < 0.05
    assert gaps[0.5].mean() < gaps[0.0].mean()


def test_weight_mean_projection_after_the_step_equals_centring_in_the_graph():
    """MimicNorm Appendix C: the mean is a linear projection P, dL/dW = P dL/dW_bar, so SGD on
    centred W followed by P equals SGD through W_bar = P W. float64 round-off only."""
    nets = {mode: build_network("fcnn", "mimicnorm", input_shape=(8, 8, 1), depth=2, width=32,
                                weight_mean_mode=mode) for mode in ("project", "graph")}
    finals = {mode: _run(net, 15, lr=0.1)[0] for mode, net in nets.items()}
    for name, info in nets["graph"].layers.items():
        if info.weight_mean:
            projected = np.asarray(finals["project"][name]["w"])
            np.testing.assert_allclose(projected, np.asarray(weight_mean(finals["graph"][name]["w"])), atol=1e-12)
            assert float(np.abs(projected.mean(axis=0)).max()) < 1e-14


def test_theorem3_init_scale_is_two_n_over_n_minus_one_times_one_minus_one_over_pi():
    for n in (16, 72, 4608):
        assert theorem3_sigma_w2(n) == pytest.approx(2 * n / ((n - 1) * (1 - 1 / math.pi)), rel=1e-12)


def test_weight_mean_layers_are_drawn_at_the_theorem3_scale_and_centred():
    """Entry variance of a centred N(0, s/n) kernel is s/n (n-1)/n; 576 x 64 entries give a
    relative standard error of sqrt(2/36864) = 0.74%: 5 sigma = 3.7%."""
    from kernelnorm.nn._layers import Context, kernel

    ctx = Context(get_scheme("mimicnorm"), mode="init", key=jax.random.PRNGKey(2), dtype=jnp.float64)
    w = np.asarray(kernel(ctx, "conv", (3, 3, 64, 64)))
    n = 576
    assert ctx.info["conv"].weight_mean and ctx.info["conv"].fan_in == n
    assert np.abs(w.reshape(n, -1).mean(axis=0)).max() < 1e-14
    expected = theorem3_sigma_w2(n) / n * (n - 1) / n
    assert w.var() == pytest.approx(expected, rel=0.037)


def test_residual_scalar_inits_follow_paper_and_code():
    assert residual_scalar_init("paper", 4) == pytest.approx(0.5)
    assert residual_scalar_init("code", 3) == pytest.approx(1.44 / 3)
    assert residual_scalar_init("zero", 5) == 0.0
    net = build_network("resnet8", "mimicnorm", input_shape=(4, 4, 1), width_factor=0.25)
    params, _ = net.init(jax.random.PRNGKey(0))
    alphas = [float(params[name]["alpha"]) for name in params if "alpha" in params[name]]
    np.testing.assert_allclose(alphas, [1.0, 2**-0.5, 3**-0.5], rtol=1e-6)  # block l = 1, 2, 3


def test_bn_eval_uses_running_statistics_and_training_uses_batch_statistics():
    """Set running statistics far from the batch's; eval logits must equal the network computed
    by hand with the running ones, training-mode hidden units have batch mean 0."""
    net = build_network("fcnn", "bn", input_shape=(4,), depth=1, width=6, n_classes=3)
    params, state = net.init(jax.random.PRNGKey(0), dtype=jnp.float64)
    state = {"dense0/norm": {"mean": jnp.full(6, 3.0), "var": jnp.full(6, 4.0)}}
    params["dense0/norm"]["scale"] = jnp.linspace(0.5, 1.5, 6)
    params["dense0/norm"]["shift"] = jnp.linspace(-0.2, 0.3, 6)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
    h = x @ params["dense0"]["w"]
    gamma, beta = params["dense0/norm"]["scale"], params["dense0/norm"]["shift"]
    hidden = jnp.maximum(gamma[None, :] * (h - 3.0) / jnp.sqrt(4.0 + 1e-5) + beta[None, :], 0.0)
    expected = hidden @ params["classifier"]["w"]
    logits, same_state = net.apply(params, state, x, train=False)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(expected), rtol=1e-12)
    assert same_state["dense0/norm"] is state["dense0/norm"]
    train_logits, new_state = net.apply(params, state, x, train=True)
    assert not np.allclose(np.asarray(train_logits), np.asarray(expected))
    np.testing.assert_allclose(np.asarray(new_state["dense0/norm"]["mean"]),
                               np.asarray(0.9 * 3.0 + 0.1 * h.mean(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(new_state["dense0/norm"]["var"]),
                               np.asarray(0.9 * 4.0 + 0.1 * h.var(axis=0)), rtol=1e-12)


def test_last_bn_standardises_logits_over_the_batch_in_training():
    net = build_network("fcnn", "last-bn", input_shape=(8, 8, 1), depth=2, width=16)
    params, state = net.init(jax.random.PRNGKey(0), dtype=jnp.float64)
    logits, _ = net.apply(params, state, jnp.asarray(DIGITS[0][:64]), train=True)
    np.testing.assert_allclose(np.asarray(logits.mean(axis=0)), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(logits.var(axis=0)), 1.0, rtol=1e-3)  # eps 1e-5 / var


def test_multiplicative_noise_is_uniform_with_mean_one_and_variance_a_squared_over_three_in_training_only():
    """u ~ U(1 - a, 1 + a): mean 1, variance a^2/3; 10^5 draws, tolerances 5 standard errors."""
    from kernelnorm.nn._layers import Context, multiplicative_noise

    x = jnp.ones((100, 10, 10, 10))
    train_ctx = Context(get_scheme("czmig"), mode="apply", key=jax.random.PRNGKey(0), train=True)
    u = np.asarray(multiplicative_noise(train_ctx, x)).ravel()
    a, n = 0.1, u.size
    assert u.min() >= 1 - a and u.max() <= 1 + a
    assert abs(u.mean() - 1) < 5 * a / math.sqrt(3 * n)
    assert u.var() == pytest.approx(a**2 / 3, rel=5 * math.sqrt(0.8 / n))  # Var(u^2)/var^2 = 4/5
    eval_ctx = Context(get_scheme("czmig"), mode="apply", key=jax.random.PRNGKey(0), train=False)
    assert multiplicative_noise(eval_ctx, x) is x


def test_divergence_is_recorded_at_its_step_and_a_sweep_continues(tmp_path):
    metrics = tmp_path / "sweep.jsonl"
    results = []
    for lr in (1e8, 0.05):
        net = build_network("fcnn", "plain", input_shape=(8, 8, 1), depth=2, width=32)
        results.append(train(net, DIGITS, TrainConfig(epochs=1, batch_size=128, lr=lr, schedule="constant",
                                                       momentum=0.0), metrics_path=str(metrics), run_info={"lr": lr}))
    diverged, fine = results
    assert diverged.diverged and 1 <= diverged.diverged_step <= len(DIGITS[0]) // 128
    assert not fine.diverged and fine.final["epoch"] == 1
    from kernelnorm.train import read_jsonl

    records = read_jsonl(str(metrics))
    assert records[0]["diverged"] is True and records[0]["diverged_step"] == diverged.diverged_step
    assert records[1]["epoch"] == 1 and "test_accuracy" in records[1]


def test_in_on_a_dense_network_is_a_clear_error():
    from kernelnorm import KernelnormInputError

    net = build_network("fcnn", "in", input_shape=(8, 8, 1))
    with pytest.raises(KernelnormInputError, match="instance norm"):
        net.init(jax.random.PRNGKey(0))
