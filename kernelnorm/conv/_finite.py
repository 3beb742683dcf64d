"""Finite random conv nets with the layers of a :class:`ConvNet`: the Monte-Carlo counterpart.

The same layer description runs at finite width ``n``: Gaussian ``N(0, gain/fan_in)`` kernels,
the registry's weight transform on the layers the kernel treats as transformed
(:func:`kernelnorm.transform_weights`; CZM layers ``e^g V`` with ``V`` from
:func:`kernelnorm.zero_mean_filters` on ``U(-1, 1)`` draws), the scheme's normaliser
(:func:`kernelnorm.normalise_channels`) and the activation step with one ``(gamma, beta)`` per
channel (or :func:`kernelnorm.proxy_normalise`). Layers the kernel treats as plain use Gaussian
weights (the infinite-width limit assumes them; the random nets of :mod:`kernelnorm.power` draw
truncated normals, the trainable CZMIG nets unit-norm filters, whose first layer -- fan-in 9 on
one-channel images -- is not Gaussian at any width).

:func:`empirical_kernels` returns the channel-averaged kernel ``(1/n) sum_d y_d y'_d`` of the
normalised pre-activations of every conv layer, which tends to :meth:`ConvNet.layer_kernels`
as ``n -> inf`` (error ``O(n^-1/2)`` per net, bias ``O(1/n)``).
"""

from __future__ import annotations

import math

import numpy as np

from kernelnorm.conv._arch import Conv, Pool
from kernelnorm.conv._duals import ProxyStep


def _conv(x, w, padding: str):
    import jax

    from kernelnorm.power import conv_periodic

    if padding == "circular":
        return conv_periodic(x, w)
    s = x.ndim - 2
    spatial = "HWD"[:s]
    numbers = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    return jax.lax.conv_general_dilated(x, w, (1,) * s, "SAME", dimension_numbers=numbers)


def _kernel(key, layer: Conv, scheme, shape):
    import jax
    import jax.numpy as jnp

    from kernelnorm._ops import transform_weights, zero_mean_filters

    fan_in = math.prod(shape[:-1])
    if layer.kind == "czm":
        v = zero_mean_filters(jax.random.uniform(key, shape, jnp.float64, -1.0, 1.0))
        return math.sqrt(layer.gain) * v
    w = jax.random.normal(key, shape, jnp.float64)
    if layer.kind == "mean":
        w = transform_weights(w, scheme.weights)
    return math.sqrt(layer.gain / fan_in) * w


def _pool(x, window: int):
    s = x.ndim - 2
    for d in range(s):
        axis = 1 + d
        size = x.shape[axis] // window * window
        x = x.take(np.arange(size), axis=axis)
        x = x.reshape(x.shape[:axis] + (size // window, window) + x.shape[axis + 1:]).mean(axis + 1)
    return x


def _activate(y, key, net):
    import jax
    import jax.numpy as jnp

    from kernelnorm._proxy import proxy_normalise

    step, width = net.step, y.shape[-1]
    k_g, k_b = jax.random.split(key)
    gamma = step.gamma_mean + step.gamma_std * jax.random.normal(k_g, (width,), jnp.float64)
    beta = step.beta_std * jax.random.normal(k_b, (width,), jnp.float64)
    if isinstance(step, ProxyStep):
        return proxy_normalise(y, gamma, beta, step.activation, eps=step.eps,
                               n_quantiles=step.n_quantiles)
    row = (1,) * (y.ndim - 1) + (-1,)
    return step.activation.function(gamma.reshape(row) * y + beta.reshape(row))


def finite_features(net, x, *, width: int, key):
    """Normalised pre-activations ``y`` ``(N, *S, width)`` of every conv layer of one random
    finite net (a list, one array per conv layer)."""
    import jax
    import jax.numpy as jnp

    from kernelnorm._ops import normalise_channels

    h = jnp.asarray(x, dtype=jnp.float64)
    outputs, post = [], h
    keys = jax.random.split(key, 3 * len(net.layers))
    for index, layer in enumerate(net.layers):
        if isinstance(layer, Pool):
            post = _pool(post, layer.window)
            outputs[-1] = _pool(outputs[-1], layer.window)
            continue
        shape = (layer.size,) * (post.ndim - 2) + (post.shape[-1], width)
        w = _kernel(keys[3 * index], layer, net.scheme, shape)
        h = _conv(post, w, layer.padding)
        if layer.bias > 0:
            bias = jax.random.normal(keys[3 * index + 1], (width,), jnp.float64)
            h = h + math.sqrt(layer.bias) * bias.reshape((1,) * (h.ndim - 1) + (-1,))
        y = normalise_channels(h, "layer") if net.normalise else h
        outputs.append(y)
        post = _activate(y, keys[3 * index + 2], net)
    return outputs


def empirical_kernels(net, x, *, width: int, key, layers=None):
    """``{layer: (N, *S, N, *S)}`` channel-averaged kernels ``(1/n) sum_d y_d(x, a) y_d(x', a')``
    of one random net of width ``n``, for the conv layers in ``layers`` (indices into the conv
    layers; default: all)."""
    import jax.numpy as jnp

    features = finite_features(net, x, width=width, key=key)
    wanted = range(len(features)) if layers is None else layers
    out = {}
    for layer in wanted:
        y = features[layer]
        flat = y.reshape(-1, y.shape[-1])
        out[layer] = np.asarray((flat @ flat.T / y.shape[-1]).reshape(y.shape[:-1] * 2))
    return out


def blocks_to_full(blocks, pairs, n_inputs: int):
    """Assemble ``(P, *S, *S)`` blocks of pairs ``i <= j`` into the full ``(N, *S, N, *S)``."""
    rows, cols = pairs
    s = (blocks.ndim - 1) // 2
    spatial = blocks.shape[1:1 + s]
    full = np.zeros((n_inputs,) + spatial + (n_inputs,) + spatial)
    axes = tuple(range(1, 1 + s)), tuple(range(1 + s, 1 + 2 * s))
    transposed = np.transpose(blocks, (0,) + axes[1] + axes[0])
    for b, (i, j) in enumerate(zip(rows, cols)):
        full[(i,) + (slice(None),) * s + (j,)] = blocks[b]
        full[(j,) + (slice(None),) * s + (i,)] = transposed[b]
    return full
