"""The models of MimicNorm Table 1/3 and Proxy Norm: parameter counts against the published
ones or a closed-form count written here, every scheme on every model family, and the parts
specific to the lightweight nets (depthwise convolutions, channel shuffle, the weight-mean
rule). Counts use abstract initialisation (shapes only, nothing drawn)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kernelnorm as kn
from kernelnorm.nn import build_network


def count(model, norm, side, classes, **options):
    return build_network(model, norm, input_shape=(side, side, 3), n_classes=classes,
                         **options).parameter_count


# -- published counts (torchvision's ImageNet models; Iandola et al. 2016; Ma et al. 2018) -------
# BN layers carry 2 trainable values per channel, convolutions before BN no bias, classifiers a
# bias: the layouts of torchvision's resnet*/shufflenet_v2_*; SqueezeNet 1.0 has no BN.
PUBLISHED = [
    ("resnet18", "bn", {}, 11_689_512),
    ("resnet34", "bn", {}, 21_797_672),
    ("resnet50", "bn", {}, 25_557_032),
    ("resnet101", "bn", {}, 44_549_160),
    ("shufflenetv2-x0.5", "bn", {}, 1_366_792),
    ("shufflenetv2", "bn", {}, 2_278_604),
    ("squeezenet", "plain", {}, 1_248_424),
    ("vgg16", "plain", {"vgg_head": "authors"}, 138_357_544),
    ("vgg11", "plain", {"vgg_head": "authors"}, 132_863_336),
]


@pytest.mark.parametrize("model, norm, options, published", PUBLISHED)
def test_imagenet_models_have_the_published_parameter_counts(model, norm, options, published):
    assert count(model, norm, 224, 1000, **options) == published


def test_vgg16_bn_count_is_torchvisions_minus_the_conv_biases_bn_cancels():
    """torchvision's vgg16_bn (138,365,992) keeps a bias in every convolution before BN; BN's
    mean subtraction cancels it, so ours drops the 64*2+128*2+256*3+512*6 = 4224 of them."""
    assert count("vgg16", "bn", 224, 1000, vgg_head="authors") == 138_365_992 - 4224


def _bottleneck_conv_weights(stages=(64, 128, 256, 512), blocks=(3, 4, 6, 3)) -> int:
    total, c_in = 0, 64
    for width, n in zip(stages, blocks):
        for b in range(n):
            total += c_in * width + 9 * width * width + width * 4 * width
            if b == 0:
                total += c_in * 4 * width  # projection shortcut
            c_in = 4 * width
    return total


def test_resnet50_cifar_count_is_the_imagenet_count_with_a_3x3_stem_and_100_classes():
    """The authors' CIFAR ResNet-50: stem 7x7x3x64 -> 3x3x3x64, classifier 2048 x 1000 + 1000 ->
    2048 x 100 + 100 (23,705,252)."""
    expected = 25_557_032 - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 - 2048 * 900 - 900
    assert count("resnet50", "bn", 32, 100) == expected == 23_705_252
    # and independently, conv weights + 2 per BN channel + classifier
    bn_channels = 64 + sum(n * 6 * w + 4 * w for w, n in zip((64, 128, 256, 512), (3, 4, 6, 3)))
    assert expected == 27 * 64 + _bottleneck_conv_weights() + 2 * bn_channels + 2048 * 100 + 100


def test_fixup_resnet50_drops_bn_and_adds_seven_scalars_per_block():
    """Fixup: no BN (2 per channel), no per-channel biases, per bottleneck 6 scalar biases + 1
    multiplier, one bias after the stem and one before the classifier (Zhang et al. 2019 §3)."""
    bn_channels = 64 + sum(n * 6 * w + 4 * w for w, n in zip((64, 128, 256, 512), (3, 4, 6, 3)))
    assert count("resnet50", "fixup", 224, 1000) == 25_557_032 - 2 * bn_channels + 16 * 7 + 2


def _cifar_resnet_count(n, classes, *, preact=False, projection=True):
    """6n+2 ResNet with BN: 3x3 convs, 2 values per BN channel; v2 normalises each unit's input
    and the final features instead of each convolution's output."""
    total, c_in = 27 * 16 + (0 if preact else 2 * 16), 16
    for c in (16, 32, 64):
        for b in range(n):
            total += 9 * c_in * c + 9 * c * c + (2 * c_in + 2 * c if preact else 4 * c)
            if c_in != c and projection:
                total += c_in * c + (0 if preact else 2 * c)
            c_in = c
    return total + (2 * 64 if preact else 0) + 64 * classes + classes


def test_cifar_resnet20_is_he_et_al_0_27m_plus_two_projection_shortcuts():
    """He et al. (2016) Table 6: ResNet-20 has 0.27M parameters with parameter-free (option A)
    shortcuts; ours projects with 1x1 conv + BN where the shape changes (+2752)."""
    assert _cifar_resnet_count(3, 10, projection=False) == 269_722
    assert count("resnet20", "bn", 32, 10) == _cifar_resnet_count(3, 10) == 269_722 + 2752
    assert count("resnet110", "bn", 32, 10) == _cifar_resnet_count(18, 10)
    assert count("preresnet20", "bn", 32, 10) == _cifar_resnet_count(3, 10, preact=True)
    assert count("preresnet110", "gn", 32, 100) == _cifar_resnet_count(18, 100, preact=True)


def test_squeezenet_cifar_count_follows_the_fire_modules():
    """The authors' CIFAR SqueezeNet (plain: every convolution with a bias): 3x3 stem of 96,
    eight Fire modules (squeeze s, expand out/2 by 1x1 and 3x3), classifier 512 x 100."""
    total, c_in = 27 * 96 + 96, 96
    for out, s, _ in kn.nn.SQUEEZENET_FIRES:
        total += c_in * s + s + s * out // 2 + out // 2 + 9 * s * out // 2 + out // 2
        c_in = out
    total += 512 * 100 + 100
    assert count("squeezenet", "plain", 32, 100) == total == 775_204


def test_shufflenetv2_cifar_count_follows_the_authors_units():
    """The authors' CIFAR ShuffleNetV2 1.0x with BN: stem 3x3x3x24 + BN; a down-sampling unit
    maps c_in -> c_out with a right branch 1x1 (c_in), depthwise 3x3, 1x1 (c_out/2) and a left
    branch depthwise 3x3, 1x1 (c_out/2); a basic unit works on c/2 channels; conv5 to 1024."""
    def conv_bn(c_in, c_out, k=1, depthwise=False):
        return (k * k * c_out if depthwise else k * k * c_in * c_out) + 2 * c_out

    total, c_in = conv_bn(3, 24, 3), 24
    for c, units in zip((116, 232, 464), (4, 8, 4)):
        h = c // 2
        total += (conv_bn(c_in, c_in) + conv_bn(c_in, c_in, 3, True) + conv_bn(c_in, h)
                  + conv_bn(c_in, c_in, 3, True) + conv_bn(c_in, h))
        total += (units - 1) * (2 * conv_bn(h, h) + conv_bn(h, h, 3, True))
        c_in = c
    total += conv_bn(464, 1024) + 1024 * 100 + 100
    assert count("shufflenetv2", "bn", 32, 100) == total


# -- every scheme on every family ----------------------------------------------------------------

FAMILIES = ("resnet8", "preresnet8", "resnet50", "squeezenet", "shufflenetv2", "vgg-small")


@pytest.mark.parametrize("model", FAMILIES)
def test_every_scheme_builds_every_model_family(model):
    """Abstract forward (shapes only) of every registered scheme, training mode."""
    x = jax.ShapeDtypeStruct((4, 8, 8, 3), jnp.float32)
    for norm in kn.SCHEMES:
        net = build_network(model, norm, input_shape=(8, 8, 3), width_factor=0.125, groups=2)
        logits, state = jax.eval_shape(
            lambda p, s, x: net.apply(p, s, x, train=True, key=jax.random.PRNGKey(0)),
            net.parameter_shapes, net.state_shapes, x)
        assert logits.shape == (4, 10), norm


@pytest.mark.parametrize("model, norm", [("squeezenet", "mimicnorm"), ("shufflenetv2", "bn"),
                                         ("preresnet8", "gn+pn"), ("resnet50", "fixup")])
def test_new_models_give_finite_logits(model, norm):
    net = build_network(model, norm, input_shape=(8, 8, 3), width_factor=0.125, groups=2)
    params, state = net.init(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 3))
    logits, _ = jax.jit(lambda p, s, x: net.apply(p, s, x, train=True))(params, state, x)
    assert logits.shape == (4, 10) and bool(jnp.all(jnp.isfinite(logits)))


# -- lightweight-net parts ------------------------------------------------------------------------


def test_channel_shuffle_interleaves_the_two_halves():
    from kernelnorm.nn._layers import channel_shuffle

    x = jnp.arange(6.0).reshape(1, 1, 1, 6)  # halves (0, 1, 2) and (3, 4, 5)
    assert np.asarray(channel_shuffle(x)).ravel().tolist() == [0, 3, 1, 4, 2, 5]


def test_depthwise_convolution_filters_every_channel_alone():
    """A depthwise layer's channel c depends on input channel c only: perturbing one input
    channel changes one output channel."""
    from kernelnorm.nn._layers import Context, conv

    ctx = Context(kn.get_scheme("plain"), mode="init", key=np.zeros(2, np.uint32), dtype=jnp.float64)
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 5, 5, 4), jnp.float64)
    y = conv(ctx, "dw", x, 4, 3, depthwise=True)
    assert ctx.params["dw"]["w"].shape == (3, 3, 1, 4) and ctx.info["dw"].fan_in == 9
    y2 = conv(Context(kn.get_scheme("plain"), mode="apply", params=ctx.params), "dw",
              x.at[..., 2].add(1.0), 4, 3, depthwise=True)
    changed = np.abs(np.asarray(y2 - y)).reshape(-1, 4).max(axis=0) > 0
    assert changed.tolist() == [False, False, True, False]


def test_weight_mean_rules_on_shufflenet_skip_depthwise_and_the_authors_small_fan_ins():
    """Paper rule: every non-depthwise layer after the stem (classifier included); the authors'
    CIFAR rule: convolutions with fan-in > 50 only (the 24-channel 1x1 convolutions of stage 2's
    first unit and the classifier are not centred); depthwise never."""
    paper = build_network("shufflenetv2", "mimicnorm").layers
    authors = build_network("shufflenetv2", "mimicnorm", weight_mean_rule="authors-code").layers
    for name, info in paper.items():
        depthwise = name.endswith("/dw")
        assert depthwise == (len(info.shape) == 4 and info.shape[2] == 1 and info.fan_in == 9)
        assert info.weight_mean == (not depthwise and not info.first), name
        small = info.fan_in <= 50 or name == "classifier"
        assert authors[name].weight_mean == (not depthwise and not small), name
    assert not authors["stage2/unit0/right/pw1"].weight_mean and paper["stage2/unit0/right/pw1"].weight_mean


def test_authors_imagenet_rule_centres_the_stem_and_no_linear_layer():
    layers = build_network("vgg16", "mimicnorm", input_shape=(224, 224, 3), n_classes=1000,
                           vgg_head="authors", weight_mean_rule="authors-imagenet").layers
    assert layers["conv0"].weight_mean and all(layers[f"conv{i}"].weight_mean for i in range(13))
    assert not any(layers[name].weight_mean for name in ("fc0", "fc1", "classifier"))
    assert layers["fc0"].fan_in == 7 * 7 * 512


def test_imagenet_stem_is_chosen_from_128_pixels():
    small = build_network("resnet18", "bn", input_shape=(64, 64, 3)).layers["stem"]
    large = build_network("resnet18", "bn", input_shape=(224, 224, 3)).layers["stem"]
    assert small.shape[:2] == (3, 3) and large.shape[:2] == (7, 7)
    assert build_network("resnet18", "bn", input_shape=(64, 64, 3), stem="imagenet").layers["stem"].shape[0] == 7


def test_vgg_authors_head_drops_units_in_training_only():
    net = build_network("vgg-small", "plain", input_shape=(8, 8, 1), width_factor=0.25,
                        vgg_head="authors", dropout=0.5)
    params, state = net.init(jax.random.PRNGKey(0))
    x = jnp.ones((2, 8, 8, 1))
    eval_a, _ = net.apply(params, state, x, train=False, key=jax.random.PRNGKey(1))
    eval_b, _ = net.apply(params, state, x, train=False, key=jax.random.PRNGKey(2))
    train_a, _ = net.apply(params, state, x, train=True, key=jax.random.PRNGKey(1))
    train_b, _ = net.apply(params, state, x, train=True, key=jax.random.PRNGKey(2))
    np.testing.assert_array_equal(np.asarray(eval_a), np.asarray(eval_b))
    assert not np.allclose(np.asarray(train_a), np.asarray(train_b))


def test_shortcut_scalar_sits_on_projection_shortcuts_only():
    params, _ = build_network("resnet8", "mimicnorm", input_shape=(8, 8, 1), width_factor=0.25,
                              shortcut_scalar=1.2).init(jax.random.PRNGKey(0))
    scalars = {name: float(p["alpha"]) for name, p in params.items() if name.endswith("shortcut/scalar")}
    assert sorted(scalars) == ["stage1/block0/shortcut/scalar", "stage2/block0/shortcut/scalar"]
    assert all(math.isclose(v, 1.2, rel_tol=1e-6) for v in scalars.values())


def test_bottleneck_branch_scalars_follow_the_authors_code():
    """The authors' ResNet-50: 1.2^3 / l on the l-th bottleneck branch."""
    from kernelnorm.nn import residual_scalar_init

    params, _ = build_network("resnet50", "mimicnorm", input_shape=(8, 8, 3), width_factor=0.125,
                              residual_scalar="code").init(jax.random.PRNGKey(0))
    alphas = [float(params[f"stage{s}/block{b}/scalar"]["alpha"])
              for s, n in enumerate((3, 4, 6, 3)) for b in range(n)]
    np.testing.assert_allclose(alphas, [1.2**3 / l for l in range(1, 17)], rtol=1e-6)
    assert residual_scalar_init("code", 2, 3) == pytest.approx(1.728 / 2)
