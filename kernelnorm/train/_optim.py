"""Optimisers: optax SGD with momentum plus the schemes' transforms (CZMG, weight-mean projection)
and the LUMA loss. Each paper equation lives in one function here or in :mod:`kernelnorm._ops`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from kernelnorm._ops import weight_mean, zero_mean_gradient


def _masked_map(function, tree, mask, *rest):
    return jax.tree_util.tree_map(lambda m, x, *r: function(x, *r) if m else x, mask, tree, *rest)


def zero_mean_gradient_transform(mask, zmg: float) -> optax.GradientTransformation:
    """CZMG as an optax transform: ``grad_V' = grad_V - z mean_spatial(grad_V)`` on the kernels
    where ``mask`` is True (Mean Shift Rejection §3.3; outside the computation graph).

    Example: with ``zmg = 1`` an SGD step keeps a CZMI filter's spatial means at zero exactly.
    """

    def update(updates, state, params=None):
        return _masked_map(lambda g: zero_mean_gradient(g, zmg), updates, mask), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def project_weight_mean(mask) -> optax.GradientTransformation:
    """Keep weight-mean kernels centred after the optimiser step (MimicNorm Appendix C).

    ``u' = weight_mean(W + u) - W``, so ``W + u' = weight_mean(W + u)``: the mean needs no
    backprop. With centred ``W`` and linear optimiser states this equals centring inside the
    forward pass (``W_bar = W - w 1^T``, Eq. 10), because the mean is an orthogonal projection
    ``P`` and ``dL/dW = P dL/dW_bar``.
    """

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("project_weight_mean needs params")
        return _masked_map(lambda u, p: weight_mean(p + u) - p, updates, mask, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def luma_loss(params, mask, weight: float):
    """L2 unity magnitude anchoring ``lambda * sum_f (||V_f|| - 1)^2`` over the filters ``f``
    (one per output channel, all axes but the last) of the masked kernels (Mean Shift Rejection
    §3.4, in place of L2 decay; ``g`` is not decayed)."""
    total = jnp.zeros(())
    for m, v in zip(jax.tree_util.tree_leaves(mask), jax.tree_util.tree_leaves(params)):
        if m:
            norms = jnp.sqrt((v * v).sum(axis=tuple(range(v.ndim - 1))))
            total = total + ((norms - 1.0) ** 2).sum()
    return weight * total


def make_optimizer(network, params, schedule, *, momentum: float = 0.9,
                   weight_decay: float = 5e-4) -> optax.GradientTransformation:
    """SGD with momentum for ``network``'s scheme.

    Chain: [CZMG on CZM filters when the scheme has ``zmg``] -> L2 decay on kernels (not when
    the scheme has LUMA: that is in the loss) -> SGD(momentum) -> [weight-mean projection when
    ``weight_mean_mode == "project"``].
    """
    scheme = network.scheme
    parts = []
    if scheme.zmg is not None:
        parts.append(zero_mean_gradient_transform(network.kernel_mask(params, lambda i: i.czm_filter), scheme.zmg))
    if scheme.luma is None and weight_decay > 0:
        parts.append(optax.add_decayed_weights(weight_decay, network.kernel_mask(params, lambda i: True)))
    parts.append(optax.sgd(schedule, momentum=momentum if momentum > 0 else None))
    if scheme.weights == "mean" and scheme.weight_mean_mode == "project":
        parts.append(project_weight_mean(network.kernel_mask(params, lambda i: i.weight_mean)))
    return optax.chain(*parts)
