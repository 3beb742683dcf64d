"""Finite-network normalisation operations, written once for numpy and JAX arrays alike.

They use only array methods and operators, so the same function serves the analytic tests
(numpy, float64), the Monte-Carlo networks and the trainable models (JAX, under ``jit``).
"""

from __future__ import annotations


def weight_mean(weights, fan_in_axes: tuple[int, ...] | None = None):
    """Weight mean ``W_bar = W - w 1^T``, ``w_i = mean_j W_ij`` (MimicNorm §3, Eq. 10).

    The mean is over the fan-in of every output unit. Layouts follow JAX: a dense kernel is
    ``(fan_in, fan_out)`` and a convolution kernel is ``(kh, kw, in, out)`` (HWIO), so by default
    every axis but the last is fan-in. Key identity (docs/theory.md §2), tested on random matrices:
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


def unit_filters(weights):
    """Every filter (one output unit: all axes but the last) divided by its Euclidean norm."""
    norms = ((weights * weights).sum(axis=tuple(range(weights.ndim - 1)), keepdims=True)) ** 0.5
    return weights / norms


def zero_mean_filters(raw):
    """Channel-wise zero-mean init, CZMI (Mean Shift Rejection §3, docs/theory.md §2).

    ``raw`` is an HWIO kernel drawn from ``U(-1, 1)``. The spatial mean of every ``(in, out)``
    slice is subtracted, then each filter (one output channel, over ``kh x kw x in``) is divided
    by its Euclidean norm (:func:`unit_filters`). Such a filter ignores a per-channel constant
    added to its input.
    """
    return unit_filters(raw - spatial_mean(raw))


def zero_mean_gradient(gradient, zmg: float = 1.0):
    """CZMG projection ``grad_V' = grad_V - z mean_spatial(grad_V)`` (Mean Shift Rejection §3).

    With ``zmg = 1`` a CZM filter stays exactly on the zero-mean isocline under SGD.
    """
    return gradient - zmg * spatial_mean(gradient)


def centre(x, axis):
    """``x - mean(x)`` over ``axis`` (mean-only batch norm, Salimans & Kingma 2016 §3.2)."""
    return x - x.mean(axis=axis, keepdims=True)


def normalise_channels(h, kind: str, *, groups: int = 1, eps: float = 0.0,
                       batch_size: int | None = None):
    """The normalisation step on a channel-last tensor ``(N, *spatial, C)`` (Proxy Norm Eq. 3).

    ``kind``: ``"batch"`` (statistics over inputs and positions), ``"batch-centre"`` (the same
    statistics, mean only), ``"layer"`` (positions and channels of each input), ``"instance"``
    (positions, per channel), ``"group"`` (positions and the ``C / groups`` channels of each
    group). All but ``batch-centre`` are :func:`standardise` over other axes. A dense layer is
    the case of no spatial axes. ``batch_size`` splits the inputs into consecutive mini-batches
    of that size, each with its own statistics (batch kinds only; ``N`` must be a multiple).
    """
    spatial = tuple(range(1, h.ndim - 1))
    if kind in ("batch", "batch-centre"):
        axes = (0,) + spatial
        if batch_size is not None and batch_size != h.shape[0]:
            grouped = h.reshape((h.shape[0] // batch_size, batch_size) + h.shape[1:])
            return _batch_normalise(grouped, kind, tuple(a + 1 for a in axes), eps).reshape(h.shape)
        return _batch_normalise(h, kind, axes, eps)
    if kind == "layer":
        return standardise(h, spatial + (h.ndim - 1,), eps)
    if kind == "instance":
        if not spatial:
            raise ValueError("instance norm needs spatial axes")
        return standardise(h, spatial, eps)
    if kind == "group":
        grouped = h.reshape(h.shape[:-1] + (groups, h.shape[-1] // groups))
        return standardise(grouped, spatial + (grouped.ndim - 1,), eps).reshape(h.shape)
    raise ValueError(f"unknown normalisation kind {kind!r}")


def _batch_normalise(h, kind: str, axes, eps: float = 0.0):
    """Batch statistics over ``axes``: standardise (``batch``) or centre (``batch-centre``)."""
    return standardise(h, axes, eps) if kind == "batch" else centre(h, axes)


def transform_weights(weights, kind: str, *, eps: float = 0.0):
    """A kernel's weight transform by name (the parts of ``kernelnorm._registry``): ``"plain"``
    (unchanged), ``"mean"`` (:func:`weight_mean`), ``"standardise"`` (:func:`weight_standardise`).
    ``"czm"`` filters are made at initialisation (:func:`zero_mean_filters`), not here."""
    if kind in ("plain", "czm"):
        return weights
    if kind == "mean":
        return weight_mean(weights)
    if kind == "standardise":
        return weight_standardise(weights, eps=eps)
    raise ValueError(f"unknown weight transform {kind!r}")
