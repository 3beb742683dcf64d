"""Four-term power decomposition and the channel estimators (Proxy Norm §3, Eq. 5; docs/theory.md §6).

Array-agnostic (numpy or JAX). Activations are channel last: ``(N, *spatial, C)`` with ``N``
inputs ``x`` and spatial positions ``alpha``; every statistic is a population statistic
(``1/N``, ``1/|alpha|``).
"""

from __future__ import annotations

#: Names of the four power terms, in the order of Eq. 5.
TERMS = ("mu_c^2", "sigma_c(mu_xc)^2", "mu_c(sigma_xc)^2", "sigma_c(sigma_xc)^2")


def _spatial_axes(y) -> tuple[int, ...]:
    return tuple(range(1, y.ndim - 1))


def power_terms(y):
    """Per-channel power decomposition (Proxy Norm Eq. 5), an exact identity::

        P_c = mu_c^2 + sigma_c(mu_{x,c})^2 + mu_c(sigma_{x,c})^2 + sigma_c(sigma_{x,c})^2

    ``mu_{x,c}``, ``sigma_{x,c}``: mean and std over spatial positions of input ``x`` in channel
    ``c``; ``mu_c(.)``, ``sigma_c(.)``: mean and std over inputs; ``P_c = E_{x,alpha}[y^2]``.

    Args:
        y: ``(N, *spatial, C)`` activations (at least one spatial axis).

    Returns:
        ``(terms, power)``: ``terms`` of shape ``(4, C)`` in the order of :data:`TERMS`, and
        ``power`` of shape ``(C,)``. ``terms.sum(0) == power`` up to rounding.

    Example: ``y = ones((2, 3, 1))`` gives terms ``[[1], [0], [0], [0]]``, power ``[1]``.
    """
    axes = _spatial_axes(y)
    instance_mean = y.mean(axis=axes)  # (N, C)
    centred = y - instance_mean.reshape(instance_mean.shape[:1] + (1,) * len(axes) + (-1,))
    instance_std = ((centred * centred).mean(axis=axes)) ** 0.5  # (N, C)
    mu_c = instance_mean.mean(axis=0)
    mean_spread = instance_mean - mu_c[None, :]
    std_mean = instance_std.mean(axis=0)
    std_spread = instance_std - std_mean[None, :]
    terms = [mu_c * mu_c, (mean_spread * mean_spread).mean(axis=0), std_mean * std_mean,
             (std_spread * std_spread).mean(axis=0)]
    power = (y * y).mean(axis=(0,) + axes)
    stack = _stack(y)
    return stack(terms), power


def _stack(like):
    if type(like).__module__.startswith("jax"):
        import jax.numpy as jnp

        return jnp.stack
    import numpy as np

    return np.stack


def layer_shares(terms, power):
    """Layer-level proportions: channel averages of the terms over the channel-averaged power.

    ``share_k = mean_c term_{k,c} / mean_c P_c``. After BN/LN/IN/GN (no ``eps``)
    ``mean_c P_c = 1`` (Proxy Norm Proposition 1), so the shares are the averaged terms themselves;
    for un-normalised nets (none, weight mean, CZM) the division makes them proportions too.
    ``terms``: ``(..., 4, C)``, ``power``: ``(..., C)``; returns ``(..., 4)``.
    """
    return terms.mean(axis=-1) / power.mean(axis=-1)[..., None]


def channel_imbalance(power):
    """Spread of the channel powers: ``std_c(P_c) / mean_c(P_c)`` (0 = balanced, as under BN).

    A single dominant channel among ``C`` gives ``sqrt(C - 1)``. ``power``: ``(..., C)``.
    """
    mean = power.mean(axis=-1)
    spread = power - mean[..., None]
    return (spread * spread).mean(axis=-1) ** 0.5 / mean


def channel_linearity(y, post):
    """Channel-wise linearity of the activation step (Proxy Norm §C.2, Eq. 8–9).

    The channel-wise linear best fit of the post-activation on the pre-activation,
    ``post_lin_c = a_c y_c + b_c`` (least squares over inputs and positions), explains the share
    ``R^2 = 1 - mean_c Var_c(post - post_lin) / mean_c Var_c(post)`` of the post-activation's
    channel-wise variance; 1 means the layer acts linearly on every channel's distribution
    (a collapsed channel makes ReLU linear). ``y``, ``post``: ``(N, *spatial, C)``.
    """
    axes = (0,) + _spatial_axes(y)
    y_c = y - y.mean(axis=axes, keepdims=True)
    post_c = post - post.mean(axis=axes, keepdims=True)
    var_y = (y_c * y_c).mean(axis=axes)
    cov = (y_c * post_c).mean(axis=axes)
    var_post = (post_c * post_c).mean(axis=axes)
    explained = cov * cov / (var_y + (var_y == 0))  # a constant channel has cov = 0 too
    return 1.0 - (var_post - explained).mean(axis=-1) / var_post.mean(axis=-1)
