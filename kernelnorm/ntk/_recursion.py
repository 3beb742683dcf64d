"""NNGP and NTK recursions (MimicNorm Eq. 5-7), read off the scheme objects.

One recursion serves plain, weight-mean and batch-norm networks and every activation: it only
calls ``input_kernel``, ``scheme.kernel_map`` and ``scheme.derivative_kernel``. It acts on any
broadcastable ``(q1, q2, c)`` triple, so the same code runs on a full ``m x m`` Gram matrix (the
exact path) and on a 1-D grid of correlations (the fast path of :mod:`kernelnorm.ntk._grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from kernelnorm._errors import check_block, check_int
from kernelnorm._resources import report_progress


@dataclass(frozen=True)
class LayerKernels:
    """Kernels of the pre-activations ``h_l`` of layer ``l`` (1-based).

    Attributes:
        depth: ``l``, the number of weight layers below ``h_l``.
        q1, q2: variances ``K_l(x, x)``, ``K_l(x', x')`` (broadcastable against ``nngp``).
        nngp: ``K_l(x, x')``.
        ntk: ``Theta_l(x, x')``.
    """

    depth: int
    q1: np.ndarray
    q2: np.ndarray
    nngp: np.ndarray
    ntk: np.ndarray


def check_depth(depth) -> int:
    """A network depth: an integer ``L >= 1`` (number of weight layers)."""
    return check_int("--depth", depth)


def layer_kernels(scheme, q0_1, q0_2, k0, depth: int) -> Iterator[LayerKernels]:
    """Yield ``(K_l, Theta_l)`` for ``l = 1..depth`` (MimicNorm Eq. 5-7, docs/theory.md §4).

    ``K_1 = sigma_w2 K_0 + sigma_b2`` (:meth:`kernelnorm.DenseBlock.input_kernel`), ``Theta_1 = K_1``, and

        K_{l+1}     = kernel_map(K_l)                         (Eq. 5, scheme-specific)
        Theta_{l+1} = K_{l+1} + T_dot(K_l) * Theta_l          (Eq. 6-7)

    so ``Theta_L = sum_l K_l prod_{r=l+1..L} T_dot(K_r)``. ``T_dot`` is the scheme's
    ``derivative_kernel`` (plain: ``sigma_w2 E[phi'(u)phi'(v)]``; weight mean: times
    ``(n-1)/n``; idealised batch norm: divided by ``sqrt(V(q1)V(q2))``).

    Args:
        scheme: a :class:`kernelnorm.DenseBlock`.
        q0_1, q0_2: input variances ``K_0(x, x)``, ``K_0(x', x')``, broadcastable with ``k0``.
        k0: input covariances ``K_0(x, x') = x.x'/d``: an ``(m, m)`` Gram or a 1-D grid.
        depth: ``L >= 1``.

    Example: plain ReLU at ``sigma_w2 = 2`` on orthogonal unit inputs gives
    ``Theta_2 = K_2 + T_dot K_1 = 2/pi + (1/2) * 0 = 0.6366``.
    """
    depth = check_depth(depth)
    check_block("scheme", scheme)
    q1, q2, k = (scheme.input_kernel(a) for a in (q0_1, q0_2, k0))
    ntk = k
    yield LayerKernels(1, q1, q2, k, ntk)
    for layer in range(2, depth + 1):
        t_dot = scheme.derivative_kernel(q1, q2, k)
        q1, q2, k = scheme.kernel_map(q1, q2, k)
        ntk = k + t_dot * ntk
        report_progress(layer, depth)
        yield LayerKernels(layer, q1, q2, k, ntk)


def input_gram(x) -> np.ndarray:
    """``K_0 = X X^T / d`` for inputs ``X`` of shape ``(m, d)`` (docs/theory.md conventions)."""
    x = np.asarray(x, dtype=np.float64)
    return x @ x.T / x.shape[1]


def exact_gram_kernels(scheme, x, depth: int, *, depths=None) -> dict[int, LayerKernels]:
    """The exact path: the recursion on the full ``m x m`` Gram matrix, ``O(L m^2)``.

    Inputs of unequal norm are allowed. Returns ``{l: LayerKernels}`` for ``l`` in ``depths``
    (default: only ``depth``); each ``nngp``/``ntk`` is an ``(m, m)`` array.
    """
    k0 = input_gram(x)
    diag = np.diag(k0)
    wanted = {check_depth(depth)} if depths is None else {check_depth(d) for d in depths}
    out = {}
    for layer in layer_kernels(scheme, diag[:, None], diag[None, :], k0, max(wanted)):
        if layer.depth in wanted:
            out[layer.depth] = layer
    return out
