"""The CNN-GP / CNTK recursion of a :class:`ConvNet`, one input pair at a time (JAX, float64).

The state between layers is the kernel ``K`` (and NTK ``Theta``) of the normalised
pre-activations ``y`` of the layer below. A conv layer activates, convolves and normalises::

    Kx      = E[a(u) a(v)],  Tx = E[a'(u) a'(v)] Theta     activation step, (gamma, beta) integrated out
    K'      = gain * W[Kx] - gain * m(a) m'(a') + bias       conv map W, weight-mean patch means m
    Theta'  = K' + gain * W[Tx]                              NTK (Jacot et al. 2018; Arora et al. 2019)
    y'      = h' / sqrt(v_x)  for layer norm, v_x = mean_a K'(x, a; x, a)

with ``W`` = :func:`~kernelnorm.conv._spatial.diagonal_window_mean` (plain, weight mean) or
:func:`~kernelnorm.conv._spatial.zero_mean_window` (CZM), ``m`` the window mean of the mean field
``E[a(u)]``, and the first layer ``K_1 = gain W[K_0] + bias``, ``K_0(x, a; x', a') = mean_c
x_c(a) x'_c(a')``. Average pooling acts on the activated ``(Kx, Tx)`` (pooling follows the
activation, as in the trainable nets) and the next conv skips the activation. A readout
activates (unless pooled), averages (``gap``: all position pairs; ``flatten``: the diagonal)
and applies one dense unit.

A pair's block needs only per-input quantities of both inputs -- variances ``q(x, a)``, patch
means, layer-norm scales -- which a first pass over the ``N`` same-input blocks records for
every layer (:func:`diagonal_records`). The second pass runs any set of pairs through all layers
in chunks: memory is ``chunk x positions^2`` per array, never ``N^2 x positions^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernelnorm.conv import _spatial as sp
from kernelnorm.conv._arch import Conv, Pool

#: Bytes of one float64 entry.
ENTRY_BYTES = 8


@dataclass(frozen=True)
class LayerRecord:
    """Per-input quantities a layer needs for any pair (from the same-input pass).

    ``q``: variances ``(N, *S)`` of the layer's input ``y`` where the layer activates it;
    ``patch_mean``: window mean of the activated input's mean field (weight-mean convs) or the
    pooled mean field itself (pools; carried on); ``scale``: the layer-norm variance ``v_x`` of
    the layer's ``h`` ``(N,)``."""

    q: object = None
    patch_mean: object = None
    scale: object = None


def input_blocks(x, first, second, mode: str):
    """``K_0`` blocks of the pairs ``(first[b], second[b])``: ``mean_c x_c(a) x'_c(a')``."""
    import jax.numpy as jnp

    a, b = x[first], x[second]
    channels = x.shape[-1]
    s = x.ndim - 2
    if mode == "diag":
        return (a * b).sum(-1) / channels
    letters, other = "ghijkl"[:s], "mnopqr"[:s]
    return jnp.einsum(f"z{letters}c,z{other}c->z{letters}{other}", a, b) / channels


def _conv_map(block, layer: Conv, mode: str):
    if layer.kind == "czm":
        return sp.zero_mean_window(block, layer.size, layer.padding)
    return sp.diagonal_window_mean(block, layer.size, layer.padding, mode)


def activate(block, theta, q1, q2, step, mode: str):
    """``(E[a(u) a(v)], E[a'(u) a'(v)] Theta)`` of a block with input variances ``q1``, ``q2``."""
    a1, a2 = sp.expand_first(q1, mode), sp.expand_second(q2, mode)
    if theta is None:
        return step.dual(a1, a2, block), None
    kx, slope = step.dual_and_derivative(a1, a2, block)
    return kx, slope * theta


def needs_activation(layer, activated: bool) -> bool:
    return not activated and not (isinstance(layer, Conv) and layer.first)


@lru_cache(maxsize=128)
def _activation_function(step, mode: str, ntk: bool, same: bool):
    """``(K, Theta, q1, q2) -> (Kx, Kx + Tx)`` (the second only for the NTK): the activation
    step, compiled on its own (fused into the window's shifted copies, XLA would recompute its
    quadrature once per shift: measured 8x slower). For the NTK of a ReLU step the angles are
    computed by one compiled call and both kernels from them by another: XLA duplicates the
    angle into each output of a two-output fusion (measured 5x slower)."""
    import jax

    def inputs(block, q1, q2):
        if same:
            q1 = q2 = sp.diagonal(block, mode)
        return sp.expand_first(q1, mode), sp.expand_second(q2, mode)

    if not ntk:
        return jax.jit(lambda block, theta, q1, q2: (step.dual(*inputs(block, q1, q2), block), None))
    if not getattr(step, "splits", False):
        def joint(block, theta, q1, q2):
            kx, slope = step.dual_and_derivative(*inputs(block, q1, q2), block)
            return kx, kx + slope * theta

        return jax.jit(joint)

    angles = jax.jit(lambda block, q1, q2: step.angles(*inputs(block, q1, q2), block))

    @jax.jit
    def combine(block, theta, q1, q2, angle):
        a1, a2 = inputs(block, q1, q2)
        kx, slope = step.dual_and_derivative_from_angles(a1, a2, block, angle)
        return kx, kx + slope * theta

    return lambda block, theta, q1, q2: combine(block, theta, q1, q2, angles(block, q1, q2))


@lru_cache(maxsize=128)
def _window_function(layer, mode: str):
    """Jitted conv map ``W`` (or average pooling) of one array. One array per compiled call:
    XLA's multi-output fusions of two windows measured 10-25x slower than two calls."""
    import jax

    if isinstance(layer, Pool):
        return jax.jit(lambda block: sp.average_pool(block, layer.window))
    return jax.jit(lambda block: _conv_map(block, layer, mode))


@lru_cache(maxsize=128)
def _finish_function(layer, normalise: bool, mode: str, ntk: bool, same: bool):
    """Jitted ``(W[Kx], W[Kx + Tx], m1, m2, v1, v2) -> (K', Theta', v)``: gain, weight-mean
    patch means, bias and layer norm (``Theta' = K' + gain W[Tx]`` by linearity of ``W``)."""
    import jax
    import jax.numpy as jnp

    def run(window, window_sum, m1, m2, v1, v2):
        correction = 0.0
        if layer.kind == "mean":
            if same:
                m1 = m2 = sp.patch_mean(m1, layer.size, layer.padding)
            correction = layer.gain * sp.outer(m1, m2, mode)
        new = layer.gain * window - correction + layer.bias
        new_theta = None
        if ntk:
            new_theta = new if layer.first else layer.gain * window_sum - correction + layer.bias
        if normalise:
            if same:
                v1 = v2 = sp.diagonal(new, mode).reshape(new.shape[0], -1).mean(axis=1)
            scale = jnp.sqrt(v1 * v2)
            scale = sp.expand_batch(jnp.where(scale > 0, scale, 1.0), new)
            new = new / scale
            new_theta = None if new_theta is None else new_theta / scale
        return new, new_theta, v1

    return jax.jit(run)


def _layer_function(layer, step, normalise: bool, mode: str, ntk: bool, same: bool,
                    activated: bool):
    """``(K, Theta, q1, q2, m1, m2, v1, v2) -> (K', Theta', v)`` of one layer on a batch of
    blocks, as a few compiled calls; ``same``: same-input blocks (``q``, patch means and ``v``
    read off the blocks and the carried mean fields ``m1 = m2``); ``activated``: the blocks
    are already ``(Kx, Kx + Tx)`` (after a pool)."""
    activation = (_activation_function(step, mode, ntk, same)
                  if needs_activation(layer, activated) else None)
    window = _window_function(layer, mode)
    pool = isinstance(layer, Pool)
    finish = None if pool else _finish_function(layer, normalise, mode, ntk, same)

    def run(block, theta, q1, q2, m1, m2, v1, v2):
        if activation is not None:
            block, theta = activation(block, theta, q1, q2)
        new = window(block)
        first = not pool and layer.first
        new_sum = None if theta is None else (new if first else window(theta))
        if pool:
            return new, new_sum, v1
        return finish(new, new_sum, m1, m2, v1, v2)

    return run


@dataclass(frozen=True)
class Records:
    """The same-input pass: one :class:`LayerRecord` per layer, then the readout's input
    variances ``final_q`` (``None`` when pooled last) and mean field ``final_mean``."""

    layers: tuple
    final_q: object
    final_mean: object
    final_activated: bool


def diagonal_records(net, x, mode: str) -> Records:
    """Run every input's own block through every layer, recording what pairs need."""
    import jax.numpy as jnp

    n = x.shape[0]
    index = jnp.arange(n)
    block = input_blocks(x, index, index, mode)
    records, activated, mean_field = [], False, None
    for layer in net.layers:
        q = None
        if needs_activation(layer, activated):
            q = sp.diagonal(block, mode)
            mean_field = net.step.mean(q)
        conv = isinstance(layer, Conv)
        carried = mean_field if (isinstance(layer, Pool) or (conv and layer.kind == "mean")) else None
        run = _layer_function(layer, net.step, net.normalise and conv, mode, False, True, activated)
        block, _, scale = run(block, None, None, None, carried, carried, None, None)
        if isinstance(layer, Pool):
            mean_field = sp.average_pool_field(mean_field, layer.window)
            records.append(LayerRecord(q, mean_field, None))
            activated = True
        else:
            patch = None
            if layer.kind == "mean":
                patch = sp.patch_mean(mean_field, layer.size, layer.padding)
            records.append(LayerRecord(q, patch, scale if net.normalise else None))
            activated = False
    final_q = None
    if not activated:
        final_q = sp.diagonal(block, mode)
        mean_field = net.step.mean(final_q)
    return Records(tuple(records), final_q, mean_field, activated)


def pair_blocks(net, x, first, second, records: Records, mode: str, *, ntk: bool,
                upto: int | None = None):
    """``(K, Theta, activated)`` of the pairs ``(first[b], second[b])`` after ``upto`` layers
    (default: all), from the same-input ``records``."""
    import jax.numpy as jnp

    first, second = jnp.asarray(first), jnp.asarray(second)
    block = input_blocks(x, first, second, mode)
    theta = block if ntk else None
    activated = False
    layers = net.layers if upto is None else net.layers[:upto]

    def gather(values, index):
        return None if values is None else jnp.asarray(values)[index]

    for layer, record in zip(layers, records.layers):
        run = _layer_function(layer, net.step, net.normalise and isinstance(layer, Conv), mode,
                              ntk, False, activated)
        pooled = isinstance(layer, Pool)
        m = None if pooled else record.patch_mean
        block, theta, _ = run(block, theta, gather(record.q, first), gather(record.q, second),
                              gather(m, first), gather(m, second), gather(record.scale, first),
                              gather(record.scale, second))
        activated = pooled
    return block, theta, activated


def readout_values(block, theta, q1, q2, mean1, mean2, net, mode: str, activated: bool):
    """``(nngp, ntk)`` ``(B,)`` of the dense output unit on a batch of final blocks."""
    readout = net.readout
    if not activated:
        block, theta = activate(block, theta, q1, q2, net.step, mode)
        theta = None if theta is None else block + theta
    pool = sp.global_mean if readout.pooling == "gap" else sp.diagonal_mean
    features = pooled = pool(block, mode)
    if readout.kind == "mean":
        features = features - mean1.reshape(mean1.shape[0], -1).mean(axis=1) * \
            mean2.reshape(mean2.shape[0], -1).mean(axis=1)
    nngp = readout.gain * features + readout.bias
    if theta is None:
        return nngp, None
    return nngp, nngp + readout.gain * (pool(theta, mode) - pooled)


@lru_cache(maxsize=32)
def _readout_function(net, mode: str, ntk: bool, activated: bool):
    import jax

    def run(block, theta, q1, q2, mean1, mean2):
        return readout_values(block, theta if ntk else None, q1, q2, mean1, mean2, net, mode,
                              activated)

    return jax.jit(run)


def _barrier(flag, function):
    """``function()``, computed into its own buffers: a ``lax.cond`` on a runtime flag (always
    true) is a boundary XLA does not fuse across, so one compiled program can hold every layer
    without XLA recomputing an activation inside the window's shifted copies."""
    import jax
    import jax.numpy as jnp

    shapes = jax.eval_shape(function)
    zeros = lambda: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)  # noqa: E731
    return jax.lax.cond(flag, function, zeros)


def _activate_fused(flag, block, theta, q1, q2, step, mode):
    a1, a2 = sp.expand_first(q1, mode), sp.expand_second(q2, mode)
    if theta is None:
        return _barrier(flag, lambda: step.dual(a1, a2, block)), None
    if getattr(step, "splits", False):
        angle = _barrier(flag, lambda: step.angles(a1, a2, block))

        def joint():
            kx, slope = step.dual_and_derivative_from_angles(a1, a2, block, angle)
            return kx, kx + slope * theta
    else:
        def joint():
            kx, slope = step.dual_and_derivative(a1, a2, block)
            return kx, kx + slope * theta
    return _barrier(flag, joint)


@lru_cache(maxsize=32)
def _chunk_function(net, mode: str, ntk: bool):
    """One compiled program for a chunk of pairs through every layer and the readout:
    ``(x, first, second, records, flag) -> (nngp, ntk)`` of shape ``(chunk,)`` (the stages are
    those of :func:`_layer_function`, separated by :func:`_barrier`)."""
    import jax

    def run(x, first, second, records, final, flag):
        block = input_blocks(x, first, second, mode)
        theta = block if ntk else None
        activated = False
        for layer, (q, patch, scale) in zip(net.layers, records):
            pool = isinstance(layer, Pool)
            if needs_activation(layer, activated):
                block, theta = _activate_fused(flag, block, theta, q[first], q[second],
                                               net.step, mode)
            window = lambda a, layer=layer: _window_function.__wrapped__(layer, mode)(a)  # noqa: E731
            new = _barrier(flag, lambda b=block, w=window: w(b))
            if theta is None:
                new_sum = None
            elif not pool and layer.first:
                new_sum = new
            else:
                new_sum = _barrier(flag, lambda t=theta, w=window: w(t))
            if pool:
                block, theta, activated = new, new_sum, True
                continue
            finish = _finish_function.__wrapped__(layer, net.normalise, mode, ntk, False)
            take = lambda a, idx: None if a is None else a[idx]  # noqa: E731
            block, theta, _ = finish(new, new_sum, take(patch, first), take(patch, second),
                                     take(scale, first), take(scale, second))
            activated = False
        final_q, final_mean = final
        take = lambda a, idx: None if a is None else a[idx]  # noqa: E731
        return readout_values(block, theta, take(final_q, first), take(final_q, second),
                              final_mean[first], final_mean[second], net, mode, activated)

    return jax.jit(run)


def output_kernels(net, x, *, ntk: bool = True, mode: str, chunk: int, progress=None):
    """``(nngp, ntk)`` ``(N, N)`` of the readout unit for inputs ``x`` ``(N, *S, C)``."""
    import jax.numpy as jnp

    x = jnp.asarray(x, dtype=jnp.float64)
    n = x.shape[0]
    records = diagonal_records(net, x, mode)
    rows, cols = np.triu_indices(n)
    nngp = np.zeros((n, n))
    theta = np.zeros((n, n)) if ntk else None
    program = _chunk_function(net, mode, ntk)
    layer_records = tuple((r.q, None if isinstance(layer, Pool) else r.patch_mean, r.scale)
                          for layer, r in zip(net.layers, records.layers))
    final = (records.final_q, records.final_mean)
    flag = jnp.asarray(True)
    starts = range(0, len(rows), chunk)
    for start in (progress(starts) if progress else starts):
        i, j = rows[start:start + chunk], cols[start:start + chunk]
        count = len(i)
        if count < chunk:  # pad the last chunk: one compiled shape
            i = np.concatenate([i, np.zeros(chunk - count, int)])
            j = np.concatenate([j, np.zeros(chunk - count, int)])
        values, values_theta = program(x, jnp.asarray(i), jnp.asarray(j), layer_records, final,
                                       flag)
        nngp[i[:count], j[:count]] = np.asarray(values)[:count]
        if ntk:
            theta[i[:count], j[:count]] = np.asarray(values_theta)[:count]
    nngp = np.triu(nngp) + np.triu(nngp, 1).T
    if ntk:
        theta = np.triu(theta) + np.triu(theta, 1).T
    return nngp, theta


def _sizes(net, spatial_shape, mode: str):
    shape = list(spatial_shape)
    for layer in net.layers:
        count = math.prod(shape)
        yield count * count if mode == "full" else count
        if isinstance(layer, Pool):
            shape = [n // layer.window for n in shape]


def block_entries(net, spatial_shape, mode: str) -> int:
    """Entries of the largest block a pair holds while it runs through the net."""
    return max(_sizes(net, spatial_shape, mode))


def layer_entries(net, spatial_shape, mode: str) -> int:
    """Block entries summed over layers (the work per pair, in entry-updates)."""
    return sum(_sizes(net, spatial_shape, mode))


def layerwise_blocks(net, x, *, chunk: int, pairs=None):
    """Yield ``(layer index, (rows, cols), blocks)`` after every conv layer: the ``K_y`` blocks
    (numpy, ``(P, *S, *S)``) of the pairs ``(rows, cols)`` (default: all ``rows <= cols``),
    held together (depth outer)."""
    import jax.numpy as jnp

    x = jnp.asarray(x, dtype=jnp.float64)
    n = x.shape[0]
    records = diagonal_records(net, x, "full")
    rows, cols = np.triu_indices(n) if pairs is None else (np.asarray(p) for p in pairs)
    blocks, activated = None, False

    def gather(values, index):
        return None if values is None else jnp.asarray(values)[index]

    for index, (layer, record) in enumerate(zip(net.layers, records.layers)):
        conv = isinstance(layer, Conv)
        run = _layer_function(layer, net.step, net.normalise and conv, "full", False, False,
                              activated)
        m = record.patch_mean if conv else None
        parts = []
        for start in range(0, len(rows), chunk):
            i, j = rows[start:start + chunk], cols[start:start + chunk]
            if blocks is None:
                block = input_blocks(x, jnp.asarray(i), jnp.asarray(j), "full")
            else:
                block = jnp.asarray(blocks[start:start + len(i)])
            new, _, _ = run(block, None, gather(record.q, i), gather(record.q, j), gather(m, i),
                            gather(m, j), gather(record.scale, i), gather(record.scale, j))
            parts.append(np.asarray(new))
        blocks = np.concatenate(parts)
        activated = not conv
        if conv:
            yield index, (rows, cols), blocks
