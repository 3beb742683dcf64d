"""Optimisers: optax SGD with momentum plus the schemes' transforms (CZMG, weight-mean projection)
and the LUMA loss. Each paper equation lives in one function here or in :mod:`kernelnorm._ops`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from kernelnorm._ops import spatial_mean, weight_mean, zero_mean_gradient

#: Parameter leaves that are PN's extra per-channel parameters (weight-decayed, PN §A.1).
PROXY_EXTRA_LEAVES = ("proxy_shift", "proxy_scale")


def _masked_map(function, tree, mask, *rest):
    return jax.tree_util.tree_map(lambda m, x, *r: function(x, *r) if m else x, mask, tree, *rest)


def authors_zero_mean_gradient(gradient, mean_mult: float):
    """CZMG as the Mean Shift Rejection reference code writes it ("efficiently rearranged"):
    ``grad (1 + M) - M mean_spatial(grad)``, ``M`` the code's ``MeanMult`` (its ``-zmg``).

    Equivalence with the paper's form ``grad - z mean`` (:func:`kernelnorm.zero_mean_gradient`):
    ``grad (1 + M) - M mean = (1 + M) (grad - z mean)`` with ``z = M / (1 + M)``, i.e. the
    paper's projection with ``z = M/(1+M)`` and every kernel gradient scaled by ``1 + M`` (an
    SGD learning rate ``1 + M`` times larger on those kernels). The component normal to the
    zero-mean isocline keeps its size, the rest grows ``1 + M``-fold: ``M = z/(1-z)``; the
    paper's ``z = 0.85`` is ``M = 5.67``.
    """
    return gradient * (1.0 + mean_mult) - mean_mult * spatial_mean(gradient)


def zero_mean_gradient_transform(mask, zmg: float, *, form: str = "paper") -> optax.GradientTransformation:
    """CZMG as an optax transform on the kernels where ``mask`` is True (Mean Shift Rejection
    §3.3; outside the computation graph): ``form="paper"``: ``grad_V' = grad_V - z
    mean_spatial(grad_V)`` with ``z = zmg``; ``form="authors"``: the reference code's
    ``grad (1 + M) - M mean`` with ``M = zmg`` (:func:`authors_zero_mean_gradient`).

    Example: with ``zmg = 1`` an SGD step keeps a CZMI filter's spatial means at zero exactly.
    """
    project = (lambda g: zero_mean_gradient(g, zmg)) if form == "paper" else \
        (lambda g: authors_zero_mean_gradient(g, zmg))

    def update(updates, state, params=None):
        return _masked_map(project, updates, mask), state

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


def decay_mask(network, params) -> dict:
    """Leaves under L2 decay: every kernel and, with PN's extra parameters, ``beta~, gamma~``
    (PN §A.1: "nonzero but still subject to weight decay")."""
    mask = network.kernel_mask(params, lambda i: True)
    for layer, leaves in params.items():
        for leaf in leaves:
            mask[layer][leaf] = mask[layer][leaf] or leaf in PROXY_EXTRA_LEAVES
    return mask


def make_optimizer(network, params, schedule, *, momentum: float = 0.9,
                   weight_decay: float = 5e-4, scalar_lr_factor: float = 1.0
                   ) -> optax.GradientTransformation:
    """SGD with momentum for ``network``'s scheme.

    Chain: [CZMG on CZM filters when the scheme has ``zmg``, in its ``zmg_form``] -> L2 decay
    on kernels (not when the scheme has LUMA: that is in the loss) -> [``scalar_lr_factor`` on
    every non-kernel parameter: biases, scalars, affine parameters; Fixup's reference code
    trains its scalar multipliers and biases at a tenth of the rate] -> SGD(momentum) ->
    [weight-mean projection when ``weight_mean_mode == "project"``].
    """
    scheme = network.scheme
    parts = []
    if scheme.zmg is not None:
        parts.append(zero_mean_gradient_transform(network.kernel_mask(params, lambda i: i.czm_filter),
                                                  scheme.zmg, form=scheme.zmg_form))
    if scheme.luma is None and weight_decay > 0:
        parts.append(optax.add_decayed_weights(weight_decay, decay_mask(network, params)))
    if scalar_lr_factor != 1.0:
        kernels = network.kernel_mask(params, lambda i: True)
        others = jax.tree_util.tree_map(lambda k: not k, kernels)
        parts.append(optax.masked(optax.scale(scalar_lr_factor), others))
    parts.append(optax.sgd(schedule, momentum=momentum if momentum > 0 else None))
    if scheme.weights == "mean" and scheme.weight_mean_mode == "project":
        parts.append(project_weight_mean(network.kernel_mask(params, lambda i: i.weight_mean)))
    return optax.chain(*parts)
