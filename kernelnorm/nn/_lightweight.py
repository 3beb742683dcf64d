"""Lightweight networks of MimicNorm Table 1/3: SqueezeNet with simple bypasses and ShuffleNetV2.

CIFAR stems follow the models of the MimicNorm authors' CIFAR-100 code (3x3 stride-1 stem, no
stem pooling; ShuffleNetV2's stem without activation and down-sampling units whose first 1x1
convolution keeps the input width); ImageNet stems follow Iandola et al. (2016) (7x7/2 + max
pool) and Ma et al. (2018) as torchvision builds them (3x3/2 + max pool, down-sampling branch
of width ``out/2``).
"""

from __future__ import annotations

import jax.numpy as jnp

from kernelnorm.nn import _layers as L
from kernelnorm.nn._resnets import branch_scalar_init, fixup_branch_scale

#: SqueezeNet's Fire modules ``(output channels, squeeze channels, bypass)`` after the stem and
#: where the 2x max-pools sit (after these modules).
SQUEEZENET_FIRES = ((128, 16, False), (128, 16, True), (256, 32, False), (256, 32, True),
                    (384, 48, False), (384, 48, True), (512, 64, False), (512, 64, False))
SQUEEZENET_POOL_AFTER = (2, 6)
#: ShuffleNetV2 output channels of stages 2-4 and conv5 per width multiplier (Ma et al. 2018,
#: Table 5), and units per stage (the first one down-samples).
SHUFFLENET_CHANNELS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024),
                       1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}
SHUFFLENET_UNITS = (4, 8, 4)


def _fire(ctx, name, x, out: int, squeeze: int, *, alpha=None, fixup_scale: float = 1.0,
          bypass: bool = False):
    """Fire module: 1x1 squeeze, then 1x1 and 3x3 expand convolutions concatenated. On a
    bypassed module (a residual branch of 2 layers) the expand convolutions carry the branch
    scalar and start at 0 under Fixup."""
    s = ctx.scheme
    scaled = bypass and s.fixup
    h = L.norm_act(ctx, name + "/squeeze", L.conv(ctx, name + "/squeeze", x, squeeze, 1,
                                                   init_scale=fixup_scale if scaled else 1.0))
    before_norm = s.normaliser is None
    outs = []
    for size in (1, 3):
        conv = f"{name}/expand{size}"
        e = L.conv(ctx, conv, h, out // 2, size, zero=scaled,
                   scale=alpha if before_norm else None)
        outs.append(L.norm_act(ctx, conv, e))
    h = jnp.concatenate(outs, axis=-1)
    return h if before_norm or alpha is None else alpha * h


def squeezenet(ctx, x, *, n_classes: int, width_factor: float, imagenet_stem: bool, **_):
    """SqueezeNet v1.0 with simple bypasses (Iandola et al. 2016 §6) as in the MimicNorm
    authors' CIFAR code: bypasses around Fire 3, 5, 7; the classifier (a 1x1 convolution
    followed by global average pooling in the papers) is applied after the pooling, which is
    the same linear map. Each bypass is a residual branch whose input is the output of an
    un-bypassed module, so its scalar is that of block ``l = 1``."""
    from kernelnorm.nn._models import channels

    s = ctx.scheme
    stem = channels(96, width_factor)
    if imagenet_stem:
        h = L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, stem, 7, 2, first=True))
        h = L.max_pool(h, 3, 2, "SAME")
    else:
        h = L.max_pool(L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, stem, 3, first=True)))
    n_bypass = sum(bypass for *_, bypass in SQUEEZENET_FIRES)
    fixup_scale = fixup_branch_scale(n_bypass, 2)
    for i, (out, squeeze, bypass) in enumerate(SQUEEZENET_FIRES):
        name = f"fire{i + 2}"
        out, squeeze = channels(out, width_factor), channels(squeeze, width_factor)
        if bypass:
            inp = L.multiplicative_noise(ctx, h)
            alpha = L.residual_scalar(ctx, name + "/scalar", branch_scalar_init(s, 1, 2))
            h = inp + _fire(ctx, name, inp, out, squeeze, alpha=alpha, fixup_scale=fixup_scale,
                            bypass=True)
        else:
            h = _fire(ctx, name, h, out, squeeze)
        if i in SQUEEZENET_POOL_AFTER and h.shape[1] > 1:
            h = L.max_pool(h, 3, 2, "SAME") if imagenet_stem else L.max_pool(h)
    h = h.mean(axis=(1, 2))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def _pointwise_then_depthwise(ctx, name, x, mid: int, stride: int):
    h = L.norm_act(ctx, name + "/pw1", L.conv(ctx, name + "/pw1", x, mid, 1))
    h = L.conv(ctx, name + "/dw", h, mid, 3, stride, depthwise=True)
    return L.norm_act(ctx, name + "/dw", h, activate=False)


def _scaled_pointwise(ctx, name, x, out: int, alpha):
    """1x1 convolution + norm-act, times ``alpha`` (a trainable scalar or ``None``)."""
    before_norm = ctx.scheme.normaliser is None
    h = L.conv(ctx, name, x, out, 1, scale=alpha if before_norm else None)
    h = L.norm_act(ctx, name, h)
    return h if before_norm or alpha is None else alpha * h


def _shuffle_unit(ctx, name, x, out: int, stride: int, *, down: bool, mid: int,
                  shortcut_scalar):
    """ShuffleNetV2 unit. Basic: split the channels, transform the second half (1x1, 3x3
    depthwise, 1x1), concatenate, shuffle. Down-sampling (``down``, stride 2 while the map is
    larger than 1x1): both halves read the whole input; the left one is 3x3 depthwise + 1x1
    (times the authors' shortcut scalar, if any). The right branch's last convolution carries
    the scheme's branch scalar (MimicNorm: ``l = 1``, the concatenation does not accumulate
    variance)."""
    x = L.multiplicative_noise(ctx, x)
    half = out // 2
    alpha = L.residual_scalar(ctx, name + "/scalar", branch_scalar_init(ctx.scheme, 1, 2))
    if not down:
        left, right = jnp.split(x, 2, axis=-1)
    else:
        left = L.conv(ctx, name + "/left/dw", x, x.shape[-1], 3, stride, depthwise=True)
        left = L.norm_act(ctx, name + "/left/dw", left, activate=False)
        beta = L.scalar(ctx, name + "/left/scalar", shortcut_scalar)
        left, right = _scaled_pointwise(ctx, name + "/left/pw", left, half, beta), x
    right = _pointwise_then_depthwise(ctx, name + "/right", right, mid if down else half, stride)
    right = _scaled_pointwise(ctx, name + "/right/pw2", right, half, alpha)
    return L.channel_shuffle(jnp.concatenate([left, right], axis=-1))


def shufflenetv2(ctx, x, *, ratio: float, n_classes: int, width_factor: float,
                 imagenet_stem: bool, shortcut_scalar: float | None = None, **_):
    """ShuffleNetV2 (Ma et al. 2018) at width multiplier ``ratio``: stem, stages of 4, 8, 4
    units, 1x1 conv5, global average pool, classifier."""
    from kernelnorm.nn._models import channels

    stem = channels(24, width_factor)
    if imagenet_stem:
        h = L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, stem, 3, 2, first=True))
        h = L.max_pool(h, 3, 2, "SAME")
    else:  # the authors' CIFAR model: no activation after the stem
        h = L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, stem, 3, first=True), activate=False)
    *stages, last = (channels(c, width_factor) for c in SHUFFLENET_CHANNELS[ratio])
    for s, (out, units) in enumerate(zip(stages, SHUFFLENET_UNITS)):
        out += out % 2
        for u in range(units):
            down = u == 0
            stride = 2 if down and h.shape[1] > 1 else 1
            mid = out // 2 if imagenet_stem or not down else h.shape[-1]
            h = _shuffle_unit(ctx, f"stage{s + 2}/unit{u}", h, out, stride, down=down, mid=mid,
                              shortcut_scalar=shortcut_scalar if down else None)
    h = L.norm_act(ctx, "conv5", L.conv(ctx, "conv5", h, last, 1))
    h = h.mean(axis=(1, 2))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))
