"""Fidelity options: PN's beta~/gamma~, CZMG in the authors' form, rotation, milestones, the
recipes (presets) and their precedence, memory rows beside MimicNorm's."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import kernelnorm as kn
from kernelnorm.nn import build_network
from kernelnorm.train import (
    RECIPES,
    authors_zero_mean_gradient,
    augment,
    decay_mask,
    make_optimizer,
    paper_memory,
    preset_schedule,
    resolve_run,
    rotate,
    zero_mean_gradient_transform,
)

# -- Proxy Norm's extra parameters ----------------------------------------------------------------


def _pn_net(extra, model="preresnet8"):
    return build_network(model, "gn+pn", input_shape=(8, 8, 3), width_factor=0.5, groups=2,
                         proxy_extra=extra)


def test_pn_with_zero_beta_tilde_and_gamma_tilde_is_todays_pn():
    """At their init beta~ = gamma~ = 0 the proxy is N(0, 1): the network with the extra
    parameters computes exactly the network without them (float64, same weights)."""
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 8, 8, 3), jnp.float64)
    with_extra, without = _pn_net(True), _pn_net(False)
    params, state = with_extra.init(jax.random.PRNGKey(0), dtype=jnp.float64)
    extra = [leaf for layer in params.values() for leaf in layer if leaf.startswith("proxy_")]
    assert extra and all(not np.asarray(params[l][k]).any() for l in params for k in params[l]
                         if k.startswith("proxy_"))
    plain_params = {l: {k: v for k, v in p.items() if not k.startswith("proxy_")} for l, p in params.items()}
    a, _ = with_extra.apply(params, state, x, train=True)
    b, _ = without.apply(plain_params, state, x, train=True)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13, atol=1e-13)


def test_pn_extra_parameters_set_the_proxy_distribution_of_eq7():
    """With beta~ = b, gamma~ = g the proxy is Y ~ N(b, (1+g)^2): for ReLU, gamma = 1,
    beta = 0, E relu(Y) = mu Phi(mu/s) + s phi(mu/s), E relu(Y)^2 = (mu^2 + s^2) Phi(mu/s)
    + mu s phi(mu/s). A constant input y = 0 is mapped to (0 - E)/sqrt(Var + eps); the
    quantile rule with 20000 points is exact to ~1e-4."""
    from kernelnorm.nn._layers import Context, norm_act

    scheme = kn.get_scheme("ln+pn", proxy_extra=True, proxy_quantiles=20000)
    ctx = Context(scheme, mode="init", key=np.zeros(2, np.uint32), dtype=jnp.float64)
    h = jnp.zeros((1, 2, 2, 2), jnp.float64).at[0, 0, 0, 0].set(1.0)
    norm_act(ctx, "layer", h)
    mu, s = np.array([0.3, -0.5]), np.array([1.4, 0.7])
    ctx.params["layer/norm"].update(proxy_shift=jnp.asarray(mu), proxy_scale=jnp.asarray(s - 1))
    apply = Context(scheme, mode="apply", params=ctx.params, dtype=jnp.float64)
    z = np.asarray(norm_act(apply, "layer", jnp.zeros((1, 1, 1, 2), jnp.float64) + h.mean()))
    a = mu / s
    mean = mu * stats.norm.cdf(a) + s * stats.norm.pdf(a)
    second = (mu**2 + s**2) * stats.norm.cdf(a) + mu * s * stats.norm.pdf(a)
    expected = (0.0 - mean) / np.sqrt(second - mean**2 + scheme.proxy_eps)
    np.testing.assert_allclose(z.ravel(), expected, rtol=2e-3)


def test_pn_extra_parameters_train_and_are_weight_decayed():
    net = _pn_net(True, model="vgg-small")
    params, state = net.init(jax.random.PRNGKey(0))
    mask = decay_mask(net, params)
    assert all(mask[l][k] for l in params for k in params[l] if k.startswith("proxy_"))
    assert not any(mask[l][k] for l in params for k in params[l] if k in ("scale", "shift"))
    from kernelnorm.train import make_train_step

    opt = make_optimizer(net, params, 0.1)
    step = jax.jit(make_train_step(net, opt, params))
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 8, 8, 3))
    new, *_ = step(params, state, opt.init(params), x, jnp.arange(8) % 10, jax.random.PRNGKey(2))
    moved = [float(jnp.abs(new[l][k]).max()) for l in params for k in params[l] if k.startswith("proxy_")]
    assert min(moved) > 0


# -- CZMG: the authors' form ----------------------------------------------------------------------


@pytest.mark.parametrize("mult", [0.85, 5.666666666666667, 10.0])
def test_authors_czmg_is_the_paper_form_at_z_m_over_1_plus_m_times_1_plus_m(mult):
    g = jax.random.normal(jax.random.PRNGKey(0), (3, 3, 4, 5), jnp.float64)
    z = mult / (1 + mult)
    np.testing.assert_allclose(np.asarray(authors_zero_mean_gradient(g, mult)),
                               np.asarray((1 + mult) * kn.zero_mean_gradient(g, z)), rtol=1e-13)
    # the isocline-normal component (spatial mean) keeps its size, the rest grows (1 + M)-fold
    new = authors_zero_mean_gradient(g, mult)
    np.testing.assert_allclose(np.asarray(kn.spatial_mean(new)), np.asarray(kn.spatial_mean(g)), rtol=1e-12)
    tree, mask = {"a": {"v": g, "g": g[0, 0, 0]}}, {"a": {"v": True, "g": False}}
    paper = zero_mean_gradient_transform(mask, z).update(tree, None)[0]
    authors = zero_mean_gradient_transform(mask, mult, form="authors").update(tree, None)[0]
    np.testing.assert_allclose(np.asarray(authors["a"]["v"]), (1 + mult) * np.asarray(paper["a"]["v"]), rtol=1e-13)
    assert authors["a"]["g"] is g[0, 0, 0] or np.array_equal(authors["a"]["g"], g[0, 0, 0])


def test_zmg_form_validates_its_factor():
    assert kn.get_scheme("czmig", zmg_form="authors", zmg=10.0).zmg == 10.0
    with pytest.raises(kn.KernelnormInputError, match="--zmg"):
        kn.get_scheme("czmig", zmg=1.5)
    with pytest.raises(kn.KernelnormInputError, match="--zmg-form"):
        kn.get_scheme("czmig", zmg_form="code")


# -- augmentation and schedules -------------------------------------------------------------------


def test_rotation_by_90_degrees_is_a_quarter_turn_and_by_0_the_identity():
    image = jnp.arange(5 * 5 * 2, dtype=jnp.float64).reshape(5, 5, 2)
    quarter = np.asarray(rotate(image, 90.0))
    assert any(np.array_equal(quarter, np.rot90(np.asarray(image), k, axes=(0, 1))) for k in (1, 3))
    np.testing.assert_array_equal(np.asarray(rotate(image, 0.0)), np.asarray(image))


def test_random_rotation_moves_pixels_without_inventing_values():
    """Nearest neighbour with zero fill: every output value is an input value or 0, the centre
    pixel of an odd image stays, and 15 degrees changes the images."""
    x = jax.random.uniform(jax.random.PRNGKey(0), (8, 9, 9, 1), jnp.float64, 1.0, 2.0)
    out = np.asarray(augment(jax.random.PRNGKey(1), x, padding=0, flip=False, rotation=15.0))
    values = set(np.asarray(x).ravel().tolist()) | {0.0}
    assert set(out.ravel().tolist()) <= values
    np.testing.assert_array_equal(out[:, 4, 4], np.asarray(x)[:, 4, 4])
    assert not np.array_equal(out, np.asarray(x))


def test_explicit_milestones_replace_the_preset_and_are_not_rescaled():
    schedule = preset_schedule("mimicnorm-cifar", 0.4, 1, 200, milestones=(100, 150), warmup_epochs=0)
    np.testing.assert_allclose([float(schedule(t)) for t in (0, 99, 100, 149, 150)],
                               [0.4, 0.4, 0.04, 0.04, 0.004], rtol=1e-6)
    with pytest.raises(kn.KernelnormInputError, match="--milestones"):
        preset_schedule("constant", 0.1, 1, 10, milestones=(20,))


# -- recipes ---------------------------------------------------------------------------------------


def test_explicit_settings_win_over_the_recipe_and_the_recipe_over_defaults():
    run = resolve_run("msr-resnet110", train={"epochs": 20})
    assert run["model"] == "resnet110" and run["norm"] == "czmig"
    assert run["train"]["lr"] == 0.4 and run["train"]["epochs"] == 20
    assert run["scheme"]["zmg"] == 0.85 and run["scheme"]["noise"] == 0.1
    run = resolve_run("msr-resnet110", norm="bn", train={"lr": 0.1})
    assert run["scheme"] == {} and run["train"]["schedule"] == "msr-resnet110"
    run = resolve_run(None, scheme={"wm_min_fan_in": 50, "wm_classifier": False})
    assert run["scheme"]["weight_mean_rule"] == kn.WeightMeanRule(min_fan_in=50, classifier=False)
    assert run["train"]["epochs"] == 5 and run["model"] == "resnet20"


def test_mimicnorm_authors_recipe_builds_the_authors_models():
    """VGG16: their 4096-4096 head, linear layers and the 27-fan-in stem not centred, ~2.8/n
    init (Theorem 3); ResNet-18: 1.2^2/l scalars and He init; ShuffleNetV2: 1.2 on the
    down-sampling branch; SqueezeNet: no scalars; 15 degree rotation, 150 epochs, batch 256."""
    def built(model):
        run = resolve_run("mimicnorm-authors", model=model)
        return run, build_network(model, run["norm"], input_shape=(32, 32, 3), n_classes=100,
                                  **run["model_options"], **run["scheme"])

    run, vgg = built("vgg16")
    assert run["train"]["rotation"] == 15.0 and run["train"]["epochs"] == 150
    assert run["train"]["batch_size"] == 256 and vgg.scheme.init == "stable"
    layers = vgg.layers
    assert {"fc0", "fc1"} <= set(layers) and not any(layers[n].weight_mean for n in ("fc0", "fc1", "classifier"))
    assert not layers["conv0"].weight_mean and layers["conv1"].weight_mean
    run, resnet = built("resnet18")
    assert resnet.scheme.init == "he" and resnet.scheme.residual_scalar == "code"
    assert resolve_run("mimicnorm-authors", model="resnet50")["train"]["batch_size"] == 128
    shapes = built("shufflenetv2")[1].parameter_shapes
    assert "stage2/unit0/left/scalar" in shapes
    assert not any(name.endswith("/scalar") for name in built("squeezenet")[1].parameter_shapes)


def test_every_recipe_resolves_and_builds_its_default_model():
    for name, recipe in RECIPES.items():
        run = resolve_run(name)
        side = 224 if run["model_options"].get("stem") == "imagenet" else 32
        net = build_network(run["model"], run["norm"], input_shape=(side, side, 3),
                            **run["model_options"], **run["scheme"])
        assert net.parameter_count > 0 and net.scheme.name == kn.get_scheme(recipe.norm).name


def test_train_preset_on_the_command_line_uses_the_recipe(tmp_path, capsys):
    from kernelnorm.cli import main

    assert main(["train", "--preset", "msr-resnet110", "--model", "resnet8", "--data", "digits",
                 "--epochs", "1", "--batch-size", "64", "--width-factor", "0.25", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    settings = payload["settings"]
    assert settings["lr"] == 0.4 and settings["norm"] == "czmig" and settings["epochs"] == 1
    # msr-resnet110's x0.1 at 100 and 150 of 200 epochs, rescaled to 1 epoch: both passed
    assert payload["history"][0]["lr"] == pytest.approx(0.4 * 0.01)


def test_memory_command_prints_mimicnorms_ratio_beside_ours(capsys):
    """SqueezeNet at a small width: the paper's Table 1 ratio (2693/3687) printed beside ours,
    and the batch the paper used when ours differs."""
    from kernelnorm.cli import main

    assert main(["memory", "--model", "squeezenet", "--norms", "bn,mimicnorm", "--width-factor",
                 "0.125", "--batch", "8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    row = next(line.split() for line in lines if line.startswith("mimicnorm "))
    assert float(row[-1]) == pytest.approx(2693 / 3687, rel=1e-4) and float(row[-2]) < 1
    assert f"mimicnorm/BN {float(row[-2]):.3f} (paper {2693 / 3687:.3f})" in lines[-1]
    assert "batch 256" in lines[-1]
    assert paper_memory("shufflenetv2", 32).ratio("mimicnorm") == pytest.approx(0.802, abs=5e-4)
    assert paper_memory("resnet50", 32).ratio("mimicnorm") == pytest.approx(0.883, abs=5e-4)
    assert paper_memory("resnet50", 224).batch == 256 and paper_memory("resnet50", 32).batch == 128


def test_memory_rows_share_the_recipes_architecture_and_only_its_scheme_gets_its_scalars():
    from kernelnorm.train import memory_settings

    model, shared, per_scheme = memory_settings("mimicnorm-authors-imagenet", "resnet50")
    assert model == "resnet50" and shared == {"stem": "imagenet", "vgg_head": "authors"}
    own = per_scheme["mimicnorm"]
    assert own["shortcut_scalar"] == 1.2 and own["weight_mean_rule"] == "authors-imagenet"
    _, shared, _ = memory_settings("mimicnorm-authors-imagenet", "resnet50",
                                   model_options={"shortcut_scalar": 1.5}, scheme={"groups": 4})
    assert shared["shortcut_scalar"] == 1.5 and shared["groups"] == 4
    assert memory_settings(None, "resnet18") == ("resnet18", {}, {})
