"""Finite-width gradients: per-layer Jacobian norms (empirical chi_1), back-propagated gradient
growth, and the empirical NTK. Literal weights only (a Jacobian needs the real ``W``).

Batch-coupled layers (batch norm, mini-batch norm) are differentiated as maps of the whole
``(m, n)`` batch, so gradients through the batch statistics are included.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from kernelnorm.montecarlo._network import check_gradients, first_layer, seed_keys


class GradientStatistics(NamedTuple):
    """Per-layer gradient statistics of one network (leading axes: seeds, then layers).

    Attributes:
        chi: ``||J_l^T u||^2 / ||u||^2`` for a fresh Gaussian probe ``u`` at every layer
            ``l = 2..L``: an unbiased estimate of ``||J_l||_F^2 / (m n)``, the empirical
            ``chi_1`` of layer ``l`` (``J_l = d h_l / d h_{l-1}`` on the whole batch).
        backprop: ``||g_l||^2`` for ``l = L..1`` of one random cotangent ``g_L`` pushed down
            the network, normalised by ``||g_L||^2`` (the gradient growth of real training).
    """

    chi: object
    backprop: object


def _forward(scheme, keys, x, width):
    import jax

    block = first_layer(scheme)
    h1 = block.apply(block.init(keys[0], x.shape[1], width), x, activate=False)

    def step(h, layer_keys):
        init_key, probe_key = layer_keys
        params = scheme.init(init_key, width, width)
        h_next, pullback = jax.vjp(lambda a: scheme.apply(params, a), h)
        probe = jax.random.normal(probe_key, h_next.shape, h_next.dtype)
        pulled = pullback(probe)[0]
        return h_next, (h, (pulled * pulled).sum() / (probe * probe).sum())

    return h1, step


def gradient_statistics(scheme, x, *, key, width: int, depth: int) -> GradientStatistics:
    """:class:`GradientStatistics` of one random network (``depth >= 2``), JAX-traceable."""
    import jax
    import jax.numpy as jnp

    init_keys = jax.random.split(key, depth + 2)
    probe_keys = jax.random.split(init_keys[-1], depth - 1)
    h1, step = _forward(scheme, init_keys, x, width)
    h_last, (inputs, chi) = jax.lax.scan(step, h1, (init_keys[1:depth], probe_keys))
    top = jax.random.normal(init_keys[depth], h_last.shape, h_last.dtype)

    def back(g, layer):
        h_below, init_key = layer
        params = scheme.init(init_key, width, width)
        _, pullback = jax.vjp(lambda a: scheme.apply(params, a), h_below)
        g_below = pullback(g)[0]
        return g_below, (g_below * g_below).sum()

    _, norms = jax.lax.scan(back, top, (inputs, init_keys[1:depth]), reverse=True)
    top_norm = (top * top).sum()
    backprop = jnp.concatenate([jnp.ones((1,), top.dtype), norms[::-1] / top_norm])
    return GradientStatistics(chi, backprop)


@functools.lru_cache(maxsize=32)
def _compiled(scheme, width: int, depth: int):
    import jax

    def run(keys, x):
        return jax.vmap(lambda k: gradient_statistics(scheme, x, key=k, width=width, depth=depth))(keys)

    return jax.jit(run)


def sample_gradient_statistics(scheme, x, *, seed: int, seeds: int, width: int, depth: int):
    """:func:`gradient_statistics` over ``seeds`` networks (``vmap``), as numpy arrays."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    check_gradients(scheme, x, seed=seed, seeds=seeds, width=width, depth=depth)
    result = jax.device_get(_compiled(scheme, int(width), int(depth))(seed_keys(seed, seeds), jnp.asarray(x)))
    return GradientStatistics(np.asarray(result.chi), np.asarray(result.backprop))


def empirical_ntk(scheme, x, *, key, width: int, depth: int):
    """Empirical NTK ``Theta_ab = sum_theta df_a/dtheta df_b/dtheta`` of one random network,
    ``f(x) = h_L(x)_0`` (first unit of the last layer), ``(m, m)``.

    The Jacobian is taken of the whole batch output ``f: theta -> R^m``, so batch-coupled layers
    are handled (row ``a`` of the Jacobian includes the statistics' dependence on ``theta``).
    In the NTK parametrisation of the schemes (``W ~ N(0, 1)``, scale outside) it converges to
    the infinite-width ``Theta_L`` of MimicNorm Eq. 5-7 for plain and weight-mean networks.
    """
    import jax
    import jax.numpy as jnp

    check_gradients(scheme, x, seed=0, seeds=1, width=width, depth=depth, jacobian=True)
    keys = jax.random.split(key, depth)
    block = first_layer(scheme)
    params = [block.init(keys[0], x.shape[1], width)]
    params += [scheme.init(k, width, width) for k in keys[1:]]

    def output(all_params):
        h = block.apply(all_params[0], x, activate=False)
        for p in all_params[1:]:
            h = scheme.apply(p, h)
        return h[:, 0]

    jacobian = jax.jacrev(output)(params)
    leaves = [j.reshape(j.shape[0], -1) for j in jax.tree_util.tree_leaves(jacobian)]
    return sum(leaf @ leaf.T for leaf in leaves) + jnp.zeros((x.shape[0], x.shape[0]))
