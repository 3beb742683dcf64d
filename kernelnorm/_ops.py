"""Finite-network normalisation operations, written once for numpy and JAX arrays alike.

They use only array methods and operators, so the same function serves the analytic tests
(numpy, float64), the Monte-Carlo networks and the trainable models (JAX, under ``jit``).
"""

from __future__ import annotations


def weight_mean(weights, fan_in_axes: tuple[int, ...] | None = None):
    """Weight mean ``W_bar = W - w 1^T``, ``w_i = mean_j W_ij`` (MimicNorm §3, Eq. 10).

    The mean is over the fan-in of every output unit. Layouts follow JAX: a dense kernel is
    ``(fan_in, fan_out)`` and a convolution kernel is ``(kh, kw, in, out)`` (HWIO), so by default
    every axis but the last is fan-in. Key identity (THEORY §3), tested on random matrices:
    ``x @ weight_mean(W) == centre_units(x) @ W``.
    """
    if fan_in_axes is None:
        fan_in_axes = tuple(range(weights.ndim - 1))
    return weights - weights.mean(axis=fan_in_axes, keepdims=True)


def centre_units(x, axis: int = -1):
    """Subtract the across-unit mean of every example: ``phi - mean_j(phi_j) 1``."""
    return x - x.mean(axis=axis, keepdims=True)


def standardise(x, axis, eps: float = 0.0):
    """``(x - mean) / sqrt(var + eps)`` with statistics over ``axis`` (population variance).

    Batch norm standardises over the batch (and spatial) axes, layer norm over the unit axes,
    instance norm over spatial axes; all are this one function.
    """
    centred = x - x.mean(axis=axis, keepdims=True)
    return centred * (((centred * centred).mean(axis=axis, keepdims=True) + eps) ** -0.5)
