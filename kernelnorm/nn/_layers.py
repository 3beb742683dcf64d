"""Layers of the trainable networks as plain functions of a :class:`Context`.

A network is one Python function ``forward(ctx, x)``. Run under an *init* context it creates the
parameters and records what every kernel is (:class:`LayerInfo`); run under an *apply* context
it reads them. The scheme (a registered :class:`kernelnorm.Scheme`) is read here and only here:
which layers get the weight transform is the registry's rule, the init gain is the shared
stable init (:func:`kernelnorm.init_sigma_w2`, for the network's activation), and the finite
operations are the shared ones of :mod:`kernelnorm._ops`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from kernelnorm._activations import get_activation
from kernelnorm._errors import KernelnormInputError
from kernelnorm._ops import (
    normalise_channels,
    transform_weights,
    unit_filters,
    weight_mean,
    zero_mean_filters,
)

BN_MOMENTUM = 0.1  # running <- (1 - m) running + m batch (PyTorch convention)
NORM_EPS = 1e-5


@dataclass(frozen=True)
class LayerInfo:
    """What a kernel is: read by the optimiser masks (weight mean, CZMG, LUMA, decay).

    ``weight_mean``: the layer's weight transform is ``mean`` (projected after the step);
    ``transformed``: the registry's rule applies the scheme's weight transform to the layer.
    """

    name: str
    shape: tuple[int, ...]
    fan_in: int
    spatial: int
    first: bool
    weight_mean: bool
    czm_filter: bool
    reparam: bool
    transformed: bool = False


def _channel_row(vector, ndim: int):
    """A per-channel ``(C,)`` vector shaped to broadcast against ``(..., C)`` (explicit ranks)."""
    return vector.reshape((1,) * (ndim - 1) + (-1,))


class Context:
    """Parameter store of one forward pass. ``mode``: ``"init"`` (parameters drawn),
    ``"shapes"`` (only their shapes recorded, nothing drawn: parameter counts, layer
    information), or ``"apply"``."""

    def __init__(self, scheme, *, mode, params=None, state=None, key=None, train=False,
                 dtype=jnp.float32, activation="relu"):
        self.scheme = scheme
        self.mode = mode
        self.params = {} if params is None else params
        self.state = {} if state is None else state
        self.new_state: dict = {}
        self.info: dict[str, LayerInfo] = {}
        self.key = key
        self.train = train
        self.dtype = dtype
        self.activation = get_activation(activation)
        self._count = 0

    @property
    def init(self) -> bool:
        """The forward pass creates the parameters (``"init"`` or ``"shapes"`` mode)."""
        return self.mode in ("init", "shapes")

    def next_key(self):
        """A fresh JAX key (apply mode: noise) or numpy generator (init mode: parameters)."""
        self._count += 1
        if self.init:
            return np.random.default_rng([*np.asarray(self.key).ravel().tolist(), self._count])
        return jax.random.fold_in(self.key, self._count)

    def get(self, layer: str, name: str, shape: tuple[int, ...], make):
        """Parameter ``name`` of ``layer``, of ``shape``: created by ``make(rng)`` (numpy,
        seeded from the init key and the parameter's position) at init, a zero placeholder
        with its shape recorded in ``"shapes"`` mode, read otherwise."""
        if self.mode == "shapes":
            self.params.setdefault(layer, {})[name] = jax.ShapeDtypeStruct(tuple(shape), self.dtype)
            return jnp.zeros(shape, self.dtype)
        if self.init:
            self.params.setdefault(layer, {})[name] = np.asarray(make(self.next_key()), self.dtype)
        return self.params[layer][name]


def kernel(ctx: Context, name: str, shape: tuple[int, ...], *, first: bool = False,
           classifier: bool = False, depthwise: bool = False, dense: bool = False,
           init_scale: float = 1.0, zero: bool = False):
    """The effective kernel ``W`` (dense ``(in, out)`` or conv HWIO) of layer ``name``: the
    scheme's weight transform where the registry's rule applies it (``e^g V`` with CZMI
    filters, scaled WS, weight mean projected or in the graph), drawn at the shared stable
    init gain for the network's activation.

    ``depthwise``: a depthwise kernel ``(k, k, 1, C)`` (the rule skips it); ``dense``: a hidden
    dense layer (the authors' rules skip those). ``init_scale`` multiplies the initial
    standard deviation and ``zero`` starts the kernel at 0 (Fixup, Zhang et al. 2019 §3)."""
    from kernelnorm._schemes import init_sigma_w2

    s = ctx.scheme
    fan_in, spatial = math.prod(shape[:-1]), math.prod(shape[:-2]) if len(shape) == 4 else 1
    transformed = s.transforms_layer(fan_in=fan_in, first=first, classifier=classifier,
                                     depthwise=depthwise, dense=dense)
    czm = s.weights == "czm"
    use_wm = transformed and s.weights == "mean"
    if ctx.init:
        ctx.info[name] = LayerInfo(name, tuple(shape), fan_in, spatial, first, use_wm,
                                   czm and transformed and spatial > 1, czm, transformed)
    if czm:
        v = ctx.get(name, "v", shape, lambda k: _czm_init(k, shape, ctx.info[name].czm_filter))
        g = ctx.get(name, "g", shape[-1:], lambda k: np.full((shape[-1],), math.log(s.g_init)))
        return _channel_row(jnp.exp(g), v.ndim) * v
    sigma_w2 = init_sigma_w2(s, ctx.activation, fan_in=fan_in, first=first,
                             transformed=transformed)
    scale = 0.0 if zero else init_scale * math.sqrt(sigma_w2 / fan_in)
    if transformed and s.weights == "standardise":
        v = ctx.get(name, "w", shape, lambda k: k.standard_normal(shape))
        return scale * transform_weights(v, "standardise", eps=1e-8)

    def make(k):
        w0 = k.standard_normal(shape) * scale
        return weight_mean(w0) if use_wm and s.weight_mean_mode == "project" else w0

    w = ctx.get(name, "w", shape, make)
    return weight_mean(w) if use_wm and s.weight_mean_mode == "graph" else w


def _czm_init(rng, shape, czm_filter: bool):
    """CZMI for spatial filters (Mean Shift Rejection §3.2), otherwise a Gaussian kernel; both
    with unit-norm filters so that ``W = e^g V`` starts at ``||W_f|| = e^g``."""
    if czm_filter:
        return zero_mean_filters(rng.uniform(-1.0, 1.0, shape))
    return unit_filters(rng.standard_normal(shape))


def bias(ctx: Context, name: str, h, *, classifier: bool = False, normalised: bool | None = None):
    """The per-channel bias of layer ``name`` unless a normaliser follows the layer
    (``normalised``; default: the scheme has one, :attr:`Scheme.has_bias`). Fixup replaces
    them by scalar biases (:func:`fixup_shift`) except the classifier's."""
    s = ctx.scheme
    normalised = not s.has_bias if normalised is None else normalised
    if normalised or (s.fixup and not classifier):
        return h
    return h + _channel_row(ctx.get(name, "b", h.shape[-1:], lambda k: np.zeros((h.shape[-1],))), h.ndim)


def fixup_shift(ctx: Context, name: str, h):
    """``h + b`` with one trainable scalar ``b`` initialised to 0: Fixup's scalar bias before a
    convolution, the classifier or an activation (Zhang et al. 2019 §3, rule 3); ``h`` for
    every other scheme."""
    if not ctx.scheme.fixup:
        return h
    return h + ctx.get(name, "shift", (), lambda k: np.zeros(())).astype(h.dtype)


def conv(ctx: Context, name: str, x, out: int, size: int = 3, stride: int = 1, *,
         first: bool = False, scale=None, depthwise: bool = False,
         shift_in: bool | None = None, shift_out: bool = True, init_scale: float = 1.0,
         zero: bool = False):
    """``size x size`` convolution, SAME padding, NHWC/HWIO, then ``* scale`` (a residual-branch
    scalar, if given) and the bias when the scheme has one.

    ``depthwise``: one ``size x size`` filter per channel (``out`` must equal the input
    channels). Fixup's scalar biases: ``shift_in`` before the convolution (default: unless
    ``first``), ``shift_out`` after it (before the activation)."""
    channels = x.shape[-1]
    if depthwise and out != channels:
        raise ValueError("a depthwise convolution keeps the channel count")
    if shift_in if shift_in is not None else not first:
        x = fixup_shift(ctx, name + "/in", x)
    shape = (size, size, 1 if depthwise else channels, out)
    w = kernel(ctx, name, shape, first=first, depthwise=depthwise, init_scale=init_scale,
               zero=zero)
    y = jax.lax.conv_general_dilated(x, w.astype(x.dtype), (stride, stride), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     feature_group_count=channels if depthwise else 1)
    y = bias(ctx, name, y if scale is None else scale * y)
    return fixup_shift(ctx, name + "/out", y) if shift_out else y


def dense(ctx: Context, name: str, x, out: int, *, first: bool = False, classifier: bool = False,
          shift_out: bool | None = None, normalised: bool | None = None):
    """Dense layer ``x W + b``; a hidden layer unless ``classifier``. The bias is there unless a
    normaliser follows (``normalised``; default: the scheme's normaliser for hidden layers, the
    last BN for the classifier). Fixup: scalar bias before the layer (not the first), after it
    (hidden layers), the classifier starts at 0."""
    if normalised is None and classifier:
        normalised = ctx.scheme.last_bn
    if not first:
        x = fixup_shift(ctx, name + "/in", x)
    zero = classifier and ctx.scheme.fixup
    w = kernel(ctx, name, (x.shape[-1], out), first=first, classifier=classifier,
               dense=not classifier, zero=zero)
    y = bias(ctx, name, x @ w.astype(x.dtype), classifier=classifier, normalised=normalised)
    return fixup_shift(ctx, name + "/out", y) if (shift_out if shift_out is not None
                                                  else not classifier) else y


def _stat_axes(h):
    return tuple(range(h.ndim - 1))


def batch_norm(ctx: Context, name: str, h, *, kind: str = "batch"):
    """A batch normaliser without affine (``kind``: ``batch``, or ``batch-centre`` for mean-only
    BN): batch statistics in training (``normalise_channels``, running averages updated),
    running statistics at evaluation."""
    axes = _stat_axes(h)
    if ctx.init:
        ctx.state[name] = {"mean": np.zeros(h.shape[-1], ctx.dtype), "var": np.ones(h.shape[-1], ctx.dtype)}
    running = ctx.state[name]
    if ctx.train or ctx.init:
        mean = jax.lax.stop_gradient(h.mean(axis=axes, keepdims=True))
        var = jax.lax.stop_gradient(((h - mean) ** 2).mean(axis=axes)).reshape(-1)
        mean = mean.reshape(-1)
        ctx.new_state[name] = {"mean": (1 - BN_MOMENTUM) * running["mean"] + BN_MOMENTUM * mean,
                               "var": (1 - BN_MOMENTUM) * running["var"] + BN_MOMENTUM * var}
        return normalise_channels(h, kind, eps=NORM_EPS)
    ctx.new_state[name] = running
    mean, var = (_channel_row(running[k], h.ndim) for k in ("mean", "var"))
    return (h - mean) * jax.lax.rsqrt(var + NORM_EPS) if kind == "batch" else h - mean


def _normalise(ctx: Context, name: str, h):
    """The scheme's normaliser: BN / mean-only BN (batch statistics, running ones at eval),
    LN (all but batch), IN (spatial), GN (spatial x group)."""
    kind = ctx.scheme.normaliser
    if kind in ("batch", "batch-centre"):
        return batch_norm(ctx, name, h, kind=kind)
    if kind == "instance" and h.ndim != 4:
        raise KernelnormInputError("--norm", "instance norm needs convolutional feature maps, not a dense layer")
    return normalise_channels(h, kind, groups=group_count(ctx.scheme.groups, h.shape[-1]), eps=NORM_EPS)


def group_count(groups: int, channels: int) -> int:
    """GN's groups on a layer of ``channels``: ``groups``, or where that does not divide the
    channel count (ShuffleNetV2's 58, 116, 232 channels and 8 groups) the largest common
    divisor ``gcd(groups, channels)``. Example: ``group_count(8, 58) == 2``."""
    return math.gcd(int(groups), int(channels))


def norm_act(ctx: Context, name: str, h, *, activate: bool = True, proxy_scaling: bool = True):
    """Normalisation step + per-channel affine + activation (or Proxy Norm in place of the
    activation step: ``proxy_normalise(y, gamma, beta, phi)``, Labatie et al. Eq. 7, with the
    trainable ``beta~, gamma~`` when the scheme has ``proxy_extra``).

    ``proxy_scaling=False`` keeps PN's centring but not its division (PN Appendix A.1: the
    step before the final mean pooling, so as not to alter the effective learning rate)."""
    s = ctx.scheme
    if s.normaliser is not None:
        norm = name + "/norm"
        y = _normalise(ctx, norm, h)
        gamma = ctx.get(norm, "scale", h.shape[-1:], lambda k: np.ones((h.shape[-1],)))
        beta = ctx.get(norm, "shift", h.shape[-1:], lambda k: np.zeros((h.shape[-1],)))
        if s.proxy and activate:
            return _proxy_step(ctx, norm, y, gamma, beta, scaling=proxy_scaling)
        h = _channel_row(gamma, h.ndim) * y + _channel_row(beta, h.ndim)
    return ctx.activation.function(h) if activate else h


def _proxy_step(ctx: Context, norm: str, y, gamma, beta, *, scaling: bool):
    from kernelnorm._proxy import proxy_moments, proxy_normalise

    s, channels = ctx.scheme, y.shape[-1]
    extra = {}
    if s.proxy_extra:
        extra = {"beta_tilde": ctx.get(norm, "proxy_shift", (channels,), lambda k: np.zeros((channels,))),
                 "gamma_tilde": ctx.get(norm, "proxy_scale", (channels,), lambda k: np.zeros((channels,)))}
    if scaling:
        return proxy_normalise(y, gamma, beta, ctx.activation, eps=s.proxy_eps,
                               n_quantiles=s.proxy_quantiles, **extra)
    mean, _ = proxy_moments(gamma, beta, ctx.activation, n_quantiles=s.proxy_quantiles, **extra)
    post = ctx.activation.function(_channel_row(gamma, y.ndim) * y + _channel_row(beta, y.ndim))
    return post - _channel_row(mean, y.ndim)


def scalar(ctx: Context, name: str, value: float | None):
    """A trainable scalar multiplier initialised to ``value`` (``None``: none), e.g. the 1.2 the
    authors' ImageNet ResNets and CIFAR ShuffleNetV2 put on projection shortcuts."""
    if value is None:
        return None
    return ctx.get(name, "alpha", (), lambda k: np.asarray(value))


def residual_scalar(ctx: Context, name: str, scalar_init: float | None):
    """The trainable residual-branch scalar ``alpha`` of MimicNorm / SkipInit / Fixup
    (``None``: none), a :func:`scalar`.

    Where no normalisation follows the branch's last convolution, ``alpha`` multiplies the raw
    convolution output before the bias, ``alpha conv(x, W) + b``, which XLA fuses with the
    bias and residual addition. Folding it into the kernel, ``conv(x, alpha W)`` (MimicNorm
    Appendix C) or scaling after the bias measured more memory (docs/training.md)."""
    return scalar(ctx, name, scalar_init)


def multiplicative_noise(ctx: Context, x):
    """``x * u``, ``u ~ U(1 - a, 1 + a)`` elementwise, training only (Mean Shift Rejection §4.4)."""
    a = ctx.scheme.noise
    if not (ctx.train and a > 0):
        return x
    return x * jax.random.uniform(ctx.next_key(), x.shape, x.dtype, 1.0 - a, 1.0 + a)


def last_batch_norm(ctx: Context, logits):
    """MimicNorm's last BN: BN without affine on the ``(B, C)`` logits."""
    return batch_norm(ctx, "last_bn", logits) if ctx.scheme.last_bn else logits


def dropout(ctx: Context, x, rate: float):
    """Inverted dropout (training only): keep with probability ``1 - rate``, scale by its
    inverse, as ``torch.nn.Dropout``."""
    if not (ctx.train and rate > 0):
        return x
    keep = jax.random.bernoulli(ctx.next_key(), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype))


def max_pool(x, window: int = 2, stride: int | None = None, padding: str = "VALID"):
    stride = window if stride is None else stride
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, window, window, 1),
                                 (1, stride, stride, 1), padding)


def channel_shuffle(x, groups: int = 2):
    """ShuffleNet's channel shuffle on NHWC: channel ``g * k + i`` moves to ``i * groups + g``."""
    *lead, channels = x.shape
    return x.reshape(*lead, groups, channels // groups).swapaxes(-1, -2).reshape(*lead, channels)
