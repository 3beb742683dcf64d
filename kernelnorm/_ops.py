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


def weight_standardise(weights, fan_in_axes: tuple[int, ...] | None = None, eps: float = 0.0):
    """Weight standardisation: every output unit's fan-in centred and scaled to unit variance
    (Qiao et al. 2019). ``standardise`` over the fan-in axes of the kernel."""
    if fan_in_axes is None:
        fan_in_axes = tuple(range(weights.ndim - 1))
    return standardise(weights, axis=fan_in_axes, eps=eps)


def spatial_mean(filters):
    """Mean over the spatial axes of an HWIO kernel, one value per ``(in, out)`` slice."""
    spatial = tuple(range(filters.ndim - 2))
    return filters.mean(axis=spatial, keepdims=True)


def zero_mean_filters(raw):
    """Channel-wise zero-mean init, CZMI (Mean Shift Rejection §3, THEORY §6).

    ``raw`` is an HWIO kernel drawn from ``U(-1, 1)``. The spatial mean of every ``(in, out)``
    slice is subtracted, then each filter (one output channel, over ``kh x kw x in``) is divided
    by its Euclidean norm. Such a filter ignores a per-channel constant added to its input.
    """
    centred = raw - spatial_mean(raw)
    norms = ((centred * centred).sum(axis=tuple(range(raw.ndim - 1)), keepdims=True)) ** 0.5
    return centred / norms


def zero_mean_gradient(gradient, zmg: float = 1.0):
    """CZMG projection ``grad_V' = grad_V - z mean_spatial(grad_V)`` (Mean Shift Rejection §3).

    With ``zmg = 1`` a CZM filter stays exactly on the zero-mean isocline under SGD.
    """
    return gradient - zmg * spatial_mean(gradient)


def normalise_channels(h, kind: str, *, groups: int = 1, eps: float = 0.0):
    """The normalisation step on a channel-last tensor ``(N, *spatial, C)`` (Proxy Norm Eq. 3).

    ``kind``: ``"batch"`` (statistics over inputs and positions), ``"layer"`` (positions and
    channels of each input), ``"instance"`` (positions, per channel), ``"group"`` (positions and
    the ``C / groups`` channels of each group). All are :func:`standardise` over other axes.
    """
    spatial = tuple(range(1, h.ndim - 1))
    if kind == "batch":
        return standardise(h, (0,) + spatial, eps)
    if kind == "layer":
        return standardise(h, spatial + (h.ndim - 1,), eps)
    if kind == "instance":
        return standardise(h, spatial, eps)
    if kind == "group":
        grouped = h.reshape(h.shape[:-1] + (groups, h.shape[-1] // groups))
        return standardise(grouped, spatial + (grouped.ndim - 1,), eps).reshape(h.shape)
    raise ValueError(f"unknown normalisation kind {kind!r}")
