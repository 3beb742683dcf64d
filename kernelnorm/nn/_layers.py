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
    """Parameter store of one forward pass (``mode`` is ``"init"`` or ``"apply"``)."""

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
        return self.mode == "init"

    def next_key(self):
        """A fresh JAX key (apply mode: noise) or numpy generator (init mode: parameters)."""
        self._count += 1
        if self.init:
            return np.random.default_rng([*np.asarray(self.key).ravel().tolist(), self._count])
        return jax.random.fold_in(self.key, self._count)

    def get(self, layer: str, name: str, make):
        """Parameter ``name`` of ``layer``: created by ``make(rng)`` (numpy, seeded from the init
        key and the parameter's position) at init, read otherwise."""
        if self.init:
            self.params.setdefault(layer, {})[name] = np.asarray(make(self.next_key()), self.dtype)
        return self.params[layer][name]


def kernel(ctx: Context, name: str, shape: tuple[int, ...], *, first: bool = False,
           classifier: bool = False, depthwise: bool = False):
    """The effective kernel ``W`` (dense ``(in, out)`` or conv HWIO) of layer ``name``: the
    scheme's weight transform where the registry's rule applies it (``e^g V`` with CZMI
    filters, scaled WS, weight mean projected or in the graph), drawn at the shared stable
    init gain for the network's activation."""
    from kernelnorm._schemes import init_sigma_w2

    s = ctx.scheme
    fan_in, spatial = math.prod(shape[:-1]), math.prod(shape[:-2]) if len(shape) == 4 else 1
    transformed = s.transforms_layer(fan_in=fan_in, first=first, classifier=classifier,
                                     depthwise=depthwise)
    czm = s.weights == "czm"
    use_wm = transformed and s.weights == "mean"
    if ctx.init:
        ctx.info[name] = LayerInfo(name, tuple(shape), fan_in, spatial, first, use_wm,
                                   czm and transformed and spatial > 1, czm, transformed)
    if czm:
        v = ctx.get(name, "v", lambda k: _czm_init(k, shape, ctx.info[name].czm_filter))
        g = ctx.get(name, "g", lambda k: np.full((shape[-1],), math.log(s.g_init)))
        return _channel_row(jnp.exp(g), v.ndim) * v
    sigma_w2 = init_sigma_w2(s, ctx.activation, fan_in=fan_in, first=first,
                             transformed=transformed)
    scale = math.sqrt(sigma_w2 / fan_in)
    if transformed and s.weights == "standardise":
        v = ctx.get(name, "w", lambda k: k.standard_normal(shape))
        return scale * transform_weights(v, "standardise", eps=1e-8)

    def make(k):
        w0 = k.standard_normal(shape) * scale
        return weight_mean(w0) if use_wm and s.weight_mean_mode == "project" else w0

    w = ctx.get(name, "w", make)
    return weight_mean(w) if use_wm and s.weight_mean_mode == "graph" else w


def _czm_init(rng, shape, czm_filter: bool):
    """CZMI for spatial filters (Mean Shift Rejection §3.2), otherwise a Gaussian kernel; both
    with unit-norm filters so that ``W = e^g V`` starts at ``||W_f|| = e^g``."""
    if czm_filter:
        return zero_mean_filters(rng.uniform(-1.0, 1.0, shape))
    return unit_filters(rng.standard_normal(shape))


def bias(ctx: Context, name: str, h):
    if not ctx.scheme.has_bias:
        return h
    return h + _channel_row(ctx.get(name, "b", lambda k: np.zeros((h.shape[-1],))), h.ndim)


def conv(ctx: Context, name: str, x, out: int, size: int = 3, stride: int = 1, *,
         first: bool = False, scale=None):
    """``size x size`` convolution, SAME padding, NHWC/HWIO, then ``* scale`` (a residual-branch
    scalar, if given) and the bias when the scheme has one."""
    w = kernel(ctx, name, (size, size, x.shape[-1], out), first=first)
    y = jax.lax.conv_general_dilated(x, w.astype(x.dtype), (stride, stride), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return bias(ctx, name, y if scale is None else scale * y)


def dense(ctx: Context, name: str, x, out: int, *, first: bool = False, classifier: bool = False):
    w = kernel(ctx, name, (x.shape[-1], out), first=first, classifier=classifier)
    return bias(ctx, name, x @ w.astype(x.dtype))


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
    if kind == "group" and h.shape[-1] % ctx.scheme.groups:
        raise KernelnormInputError("--groups", f"must divide the width {h.shape[-1]}, got {ctx.scheme.groups}")
    return normalise_channels(h, kind, groups=ctx.scheme.groups, eps=NORM_EPS)


def norm_act(ctx: Context, name: str, h, *, activate: bool = True):
    """Normalisation step + per-channel affine + activation (or Proxy Norm in place of the
    activation step: ``proxy_normalise(y, gamma, beta, phi)``, Labatie et al. Eq. 7)."""
    s = ctx.scheme
    if s.normaliser is not None:
        y = _normalise(ctx, name + "/norm", h)
        gamma = ctx.get(name + "/norm", "scale", lambda k: np.ones((h.shape[-1],)))
        beta = ctx.get(name + "/norm", "shift", lambda k: np.zeros((h.shape[-1],)))
        if s.proxy and activate:
            from kernelnorm._proxy import proxy_normalise

            return proxy_normalise(y, gamma, beta, ctx.activation, eps=s.proxy_eps,
                                   n_quantiles=s.proxy_quantiles)
        h = _channel_row(gamma, h.ndim) * y + _channel_row(beta, h.ndim)
    return ctx.activation.function(h) if activate else h


def residual_scalar(ctx: Context, name: str, scalar_init: float | None):
    """The trainable residual-branch scalar ``alpha`` of MimicNorm / SkipInit (``None``: none).

    Where no normalisation follows the branch's last convolution, ``alpha`` multiplies the raw
    convolution output before the bias, ``alpha conv(x, W) + b``, which XLA fuses with the
    bias and residual addition. Folding it into the kernel, ``conv(x, alpha W)`` (MimicNorm
    Appendix C) or scaling after the bias measured more memory (docs/training.md)."""
    if scalar_init is None:
        return None
    return ctx.get(name, "alpha", lambda k: np.asarray(scalar_init))


def multiplicative_noise(ctx: Context, x):
    """``x * u``, ``u ~ U(1 - a, 1 + a)`` elementwise, training only (Mean Shift Rejection §4.4)."""
    a = ctx.scheme.noise
    if not (ctx.train and a > 0):
        return x
    return x * jax.random.uniform(ctx.next_key(), x.shape, x.dtype, 1.0 - a, 1.0 + a)


def last_batch_norm(ctx: Context, logits):
    """MimicNorm's last BN: BN without affine on the ``(B, C)`` logits."""
    return batch_norm(ctx, "last_bn", logits) if ctx.scheme.last_bn else logits


def max_pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
