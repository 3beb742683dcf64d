"""Random conv nets of Proxy Norm Definition 1 / Figure 2 in JAX (jit, ``lax.scan`` over depth).

Every layer is ``h = conv(x, W)`` (``k x k`` kernel, periodic boundaries, stride 1),
``y = norm(h)`` and the activation step ``x' = phi(gamma y + beta)`` (or its proxy-normalised
version, PN Eq. 7). Parameters are drawn once per realisation: ``W`` truncated normal (at
``+-2`` std, rescaled to unit variance) times ``gain / sqrt(fan_in)``, ``gamma ~ N(1, 0.2^2)``,
``beta ~ N(0, 0.2^2)`` (their §A.1). Only the per-layer, per-channel power terms of ``y`` and the
layer's channel-wise linearity leave the compiled loop, so memory does not grow with depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernelnorm._registry import Scheme

#: Std of the standard normal truncated to [-2, 2]; dividing by it gives unit variance.
TRUNCATED_NORMAL_STD = math.sqrt(
    1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(2.0 / math.sqrt(2.0)))


@dataclass(frozen=True)
class NetConfig:
    """Static description of a random conv net (hashable: it keys the jit cache).

    Attributes:
        scheme: the registered scheme (its normaliser, groups, weight transform, PN ``eps``
            and quantiles are read from it).
        depth, width: number of conv layers and channels per layer.
        activation: name or callable of ``phi``.
        kernel_size: spatial size ``k`` of the ``k x k`` (or ``k``) kernels.
        norm_eps: ``eps`` of the normalisation step (0: Proposition 1 holds exactly).
        gamma_std, beta_std: ``gamma ~ N(1, gamma_std^2)``, ``beta ~ N(0, beta_std^2)``.
        dtype: ``"float32"`` or ``"float64"`` (needs ``JAX_ENABLE_X64``).
    """

    scheme: Scheme
    depth: int
    width: int
    activation: object = "relu"
    kernel_size: int = 3
    norm_eps: float = 0.0
    gamma_std: float = 0.2
    beta_std: float = 0.2
    dtype: str = "float32"


def conv_periodic(x, w):
    """Stride-1 convolution with periodic (circular) boundaries, channel last, any spatial rank.

    ``out[n, h, d] = sum_{i, c} x[n, (h + i - k//2) mod R, c] w[i, c, d]`` (cross-correlation,
    as ``lax.conv_general_dilated`` with wrap padding), computed as ``k^s`` shifted matrix
    products: on CPU this runs 2-3x faster than XLA's convolution for 256 channels
    (``benchmarks/power_throughput.py``).
    """
    import itertools

    import jax.numpy as jnp

    spatial_axes = tuple(range(1, x.ndim - 1))
    pad = w.shape[0] // 2
    out = None
    for offset in itertools.product(range(w.shape[0]), repeat=len(spatial_axes)):
        shifted = jnp.roll(x, tuple(pad - i for i in offset), axis=spatial_axes)
        term = jnp.tensordot(shifted, w[offset], axes=1)
        out = term if out is None else out + term
    return out


def init_layer(key, config: NetConfig, in_channels: int, spatial: int, *, first: bool):
    """``(W, gamma, beta)`` of one layer; ``W`` has shape ``(k,)*spatial + (in, width)``.

    The registry's rule picks the layers that get the weight transform (never the first: it
    reads data); the gain is the shared stable init (:func:`kernelnorm.init_sigma_w2`). CZM
    layers are ``e^g V`` with unit-norm filters ``V``, zero-mean over space where transformed.
    """
    import jax
    import jax.numpy as jnp

    from kernelnorm._ops import transform_weights, unit_filters, zero_mean_filters
    from kernelnorm._schemes import init_sigma_w2

    scheme, dtype = config.scheme, jnp.dtype(config.dtype)
    k_w, k_g, k_b = jax.random.split(key, 3)
    shape = (config.kernel_size,) * spatial + (in_channels, config.width)
    fan_in = math.prod(shape[:-1])
    transformed = scheme.transforms_layer(fan_in=fan_in, first=first)
    raw = jax.random.truncated_normal(k_w, -2.0, 2.0, shape, dtype) / TRUNCATED_NORMAL_STD
    if scheme.weights == "czm":
        czm = transformed and spatial > 0 and config.kernel_size > 1
        v = zero_mean_filters(jax.random.uniform(k_w, shape, dtype, -1.0, 1.0)) if czm \
            else unit_filters(raw)
        w = scheme.g_init * v
    else:
        sigma_w2 = init_sigma_w2(scheme, config.activation, fan_in=fan_in, first=first,
                                 transformed=transformed)
        w = transform_weights(raw, scheme.weights) if transformed else raw
        w = w * math.sqrt(sigma_w2 / fan_in)
    gamma = 1.0 + config.gamma_std * jax.random.normal(k_g, (config.width,), dtype)
    beta = config.beta_std * jax.random.normal(k_b, (config.width,), dtype)
    return w, gamma, beta


def apply_layer(x, params, config: NetConfig):
    """One layer; returns the next input and ``(terms (4, C), power (C,), linearity ())`` of
    the normalised pre-activations ``y``."""
    from kernelnorm._activations import get_activation
    from kernelnorm._proxy import proxy_normalise
    from kernelnorm.power._decomposition import channel_linearity, power_terms
    from kernelnorm.power._schemes import normalise

    w, gamma, beta = params
    phi = get_activation(config.activation).function
    y = normalise(conv_periodic(x, w), config.scheme, eps=config.norm_eps)
    row = (1,) * (y.ndim - 1) + (-1,)
    post = phi(gamma.reshape(row) * y + beta.reshape(row))
    stats = (*power_terms(y), channel_linearity(y, post))
    if config.scheme.proxy:
        post = proxy_normalise(y, gamma, beta, config.activation, eps=config.scheme.proxy_eps,
                               n_quantiles=config.scheme.proxy_quantiles)
    return post, stats


@lru_cache(maxsize=32)
def _compiled(config: NetConfig):
    import jax

    def forward(key, x):
        spatial = x.ndim - 2
        keys = jax.random.split(key, config.depth)
        first = init_layer(keys[0], config, x.shape[-1], spatial, first=True)
        x, stats0 = apply_layer(x, first, config)

        def body(carry, layer_key):
            params = init_layer(layer_key, config, config.width, spatial, first=False)
            return apply_layer(carry, params, config)

        _, stats = jax.lax.scan(body, x, keys[1:])
        return tuple(jax.numpy.concatenate([s0[None], s]) for s0, s in zip(stats0, stats))

    return jax.jit(forward)


def run_realisation(config: NetConfig, inputs, key):
    """Statistics of one random net on ``inputs`` (``(N, *spatial, C_in)``), as numpy arrays:
    ``terms (depth, 4, width)``, ``power (depth, width)``, ``linearity (depth,)``."""
    import jax.numpy as jnp

    x = jnp.asarray(inputs, dtype=config.dtype)
    terms, power, linearity = _compiled(config)(key, x)
    return np.asarray(terms), np.asarray(power), np.asarray(linearity)
