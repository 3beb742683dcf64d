"""``Theta_L V`` in one jitted pass over a circulant band of the Gram matrix, split over devices.

A symmetric ``(M, M)`` matrix is determined by the pairs ``(r, c)`` whose offset
``delta = (c - r) mod M`` lies in ``[0, M/2]``: for ``M`` even, every unordered pair
``{r, c}``, ``r != c``, has exactly one orientation with ``0 < delta < M/2``, or both with
``delta = M/2``. So row block ``i`` (rows ``i b .. i b + b``) needs only the columns
``(i b + t) mod M``, ``t < W = M/2 + b``: a ``(b, W)`` rectangle of the same shape for every
block (one compilation, half the pairs of the full matrix; the fold of
:func:`kernelnorm.ntk._fused.symmetric_kernels` without its two row sets). With the weight
``w = 1`` for ``0 < delta < M/2``, ``1/2`` at ``delta = M/2`` and ``0`` otherwise,

    (Theta V)[r] += sum_t w Theta[r, c] V[c],    (Theta V)[c] += w Theta[r, c] V[r],

plus the exact diagonal ``Theta[r, r] V[r]``. The wrapped columns are contiguous slices of the
inputs, the trajectory and ``V`` stored twice (``[a, a]``), and the column updates go to a
doubled accumulator folded at the end, so the pass is dynamic slices and matrix products only.

The kernel values are those of the fused loop (:func:`kernelnorm.ntk._fused._step`, ``K_0``
from the inputs, ``K_1 = sigma_w2 K_0 + sigma_b2``); ``M`` pads ``m`` with copies of the first
input whose rows of ``V`` are zero, so they add nothing.

Devices: the row blocks are cut into :data:`SHARDS` contiguous shards of equal work, each
accumulated on its own and summed in shard order on the host; ``D`` devices (``D`` a divisor of
:data:`SHARDS`) each run ``SHARDS / D`` shards one after another (``shard_map`` over the 1-D mesh
of :mod:`kernelnorm._sharding`, ``lax.map`` inside). The additions are the same whatever ``D``,
so the product is the same to the bit on 1, 2, 4 or 8 devices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Independent accumulators of one pass (the device counts that reproduce one device: its divisors).
SHARDS = 8
#: Rows per block: the loop's ``(b, W)`` arrays of one layer are ``8 b W`` bytes each.
DEFAULT_STEP = 8


def product_devices(shards: int = SHARDS) -> int:
    """Devices a pass uses: the largest divisor of ``shards`` not above :func:`device_count`."""
    from kernelnorm._sharding import device_count

    available = device_count()
    return max(d for d in range(1, shards + 1) if shards % d == 0 and d <= available)


def layout(m: int, step: int = DEFAULT_STEP, shards: int = SHARDS) -> tuple[int, int, int]:
    """``(b, M, W)``: rows per block, padded size (a multiple of ``shards b``), band width."""
    step = int(max(1, min(step, -(-m // shards))))
    size = shards * step * -(-m // (shards * step))
    return step, size, size // 2 + step


def layout_bytes(m: int, d: int, depth: int, vectors: int, step: int = DEFAULT_STEP,
                 shards: int = SHARDS) -> int:
    """Peak bytes of one pass (per device): the doubled inputs, trajectory and ``V``, the
    ``shards`` doubled accumulators and ~24 ``(b, W)`` working arrays, float64."""
    step, size, width = layout(m, step, shards)
    doubled = 2 * size * (d + 7 * max(depth, 1) + vectors)
    return 8 * (doubled + shards * 2 * size * vectors + 24 * step * width)


class CirculantPass:
    """Jitted products and error bound of ``Theta_L`` on inputs ``x`` (module docstring).

    ``scheme``: a fused-path block (:func:`kernelnorm.ntk._fused.fused_supported`);
    ``trajectory``: its :func:`kernelnorm.ntk._fused.diagonal_trajectory` on ``x``.
    """

    def __init__(self, scheme, x, trajectory, depth: int, *, step: int = DEFAULT_STEP,
                 shards: int = SHARDS):
        from kernelnorm.ntk._fused import _constants, _vectors

        self.m = x.shape[0]
        self.depth, self.shards = depth, shards
        self.step, self.size, self.width = layout(self.m, step, shards)
        pad = np.arange(self.size).clip(max=self.m - 1)
        pad[self.m:] = 0  # copies of the first input
        twice = np.concatenate([pad, pad])
        self.x2 = np.ascontiguousarray(x[twice])
        self.vectors2 = np.ascontiguousarray(_vectors(trajectory)[:, :depth][..., twice])
        self.diagonal = np.asarray(trajectory["ntk"][depth - 1])[pad]
        self.constants = np.array(_constants(scheme) + (scheme.sigma_w2,))
        self.devices = product_devices(shards)
        self._placed = None

    def _run(self, track: bool, *arrays):
        """The pass over every shard: the inputs and trajectory (placed on the devices once),
        then ``arrays``."""
        import jax

        from kernelnorm._sharding import _mesh, place

        with jax.enable_x64(True):
            function = _compiled_pass(self.m, self.size, self.step, self.width, self.depth,
                                      self.shards, self.devices, track)
            if self._placed is None:
                mesh = _mesh(self.devices)
                self._placed = tuple(place(a, split=False, mesh=mesh)
                                     for a in (self.x2, self.vectors2, self.constants))
            return function(np.arange(self.shards), *self._placed, *arrays)

    def matmat(self, v) -> np.ndarray:
        """``Theta_L v`` for ``v`` of shape ``(m, k)``."""
        v = np.asarray(v, dtype=np.float64)
        padded = np.zeros((self.size, v.shape[1]))
        padded[:self.m] = v
        partial = self._run(False, self.diagonal, np.concatenate([padded, padded]))
        total = partial.sum(axis=0)  # in shard order: the same sums on any number of devices
        return (total[:self.size] + total[self.size:])[:self.m]

    def error_bound(self) -> tuple[float, float]:
        """``(max E_Theta, max |Theta|)`` over the off-diagonal pairs of the inputs (the fused
        loop's first-order bound, the input Gram matrix's rounding included)."""
        bound, scale = self._run(True)
        return float(np.max(bound)), float(np.max(scale))


def _block_state(x_rows, x_cols, row_vectors, col_vectors, constants, track, jnp):
    """``(K_1, Theta_1 = K_1, d rho_1, E_Theta_1)`` of a block from the inputs (as
    :func:`kernelnorm.ntk._fused._first_layer_state`, with ``K_0``'s rounding from
    :func:`kernelnorm.ntk.input_gram_error`)."""
    from kernelnorm.ntk._fused import first_layer_errors
    from kernelnorm.ntk._recursion import input_gram, input_gram_error

    k1 = constants[3] * input_gram(x_rows, x_cols, xp=jnp) + constants[2]
    if not track:
        zero = jnp.zeros_like(k1)
        return k1, k1, zero, zero
    scale = row_vectors[0, 0][:, None] * col_vectors[0, 0][None, :]
    relative = row_vectors[4, 0][:, None] + col_vectors[4, 0][None, :]
    return (k1, k1) + first_layer_errors(k1, input_gram_error(x_rows, x_cols, xp=jnp),
                                         constants[3], scale, relative, jnp)


@lru_cache(maxsize=8)
def _compiled_pass(m, size, step, width, depth, shards, devices, track):
    """One pass as ``mapped(shard ids, x2, vectors2, constants[, diagonal, v2])``
    (:func:`kernelnorm._sharding.device_mapped`): per shard, the doubled ``(2M, k)`` product
    accumulator, or (``track``) the maxima of the bound and of ``|Theta|``."""
    import jax
    import jax.numpy as jnp

    from kernelnorm._sharding import device_mapped
    from kernelnorm.ntk._fused import _step

    blocks_per_shard = size // (step * shards)
    half = size // 2
    offset = jnp.arange(width)[None, :] - jnp.arange(step)[:, None]  # delta = t - a
    weight = jnp.where((offset > 0) & (offset < half), 1.0,
                       jnp.where(offset == half, 0.5, 0.0))
    on_diagonal = offset == 0

    def kernel_block(start, x2, vectors2, constants):
        x_rows = jax.lax.dynamic_slice_in_dim(x2, start, step)
        x_cols = jax.lax.dynamic_slice_in_dim(x2, start, width)
        rows = jax.lax.dynamic_slice_in_dim(vectors2, start, step, axis=2)
        cols = jax.lax.dynamic_slice_in_dim(vectors2, start, width, axis=2)
        state = _block_state(x_rows, x_cols, rows, cols, constants, track, jnp)
        if depth >= 2:
            mask = jnp.ones((1, 1), dtype=bool)
            state = _step(0, state, (rows, rows, mask), cols, constants, track, True, jnp)
            state = jax.lax.fori_loop(
                1, depth - 1,
                lambda layer, s: _step(layer, s, (rows, rows, mask), cols, constants, track,
                                       False, jnp), state)
        return state

    def product_shard(shard, x2, vectors2, constants, diagonal, v2):
        def body(block, acc):
            start = (shard * blocks_per_shard + block) * step
            ntk = kernel_block(start, x2, vectors2, constants)[1]
            v_rows = jax.lax.dynamic_slice_in_dim(v2, start, step)
            v_cols = jax.lax.dynamic_slice_in_dim(v2, start, width)
            exact = jax.lax.dynamic_slice_in_dim(diagonal, start, step)[:, None]
            forward = jnp.where(on_diagonal, exact, ntk * weight) @ v_cols
            backward = (ntk * weight).T @ v_rows
            acc = jax.lax.dynamic_update_slice_in_dim(
                acc, jax.lax.dynamic_slice_in_dim(acc, start, step) + forward, start, 0)
            return jax.lax.dynamic_update_slice_in_dim(
                acc, jax.lax.dynamic_slice_in_dim(acc, start, width) + backward, start, 0)

        return jax.lax.fori_loop(0, blocks_per_shard, body, jnp.zeros((2 * size, v2.shape[1])))

    def bound_shard(shard, x2, vectors2, constants):
        def body(block, maxima):
            start = (shard * blocks_per_shard + block) * step
            _, ntk, _, error = kernel_block(start, x2, vectors2, constants)
            real = ((start + jnp.arange(step)[:, None] < m)
                    & ((start + jnp.arange(width)[None, :]) % size < m))
            counted = (weight > 0) & real  # not the padding's copies of the first input
            return (jnp.maximum(maxima[0], jnp.max(jnp.where(counted, error, 0.0))),
                    jnp.maximum(maxima[1], jnp.max(jnp.where(counted, jnp.abs(ntk), 0.0))))

        return jax.lax.fori_loop(0, blocks_per_shard, body, (jnp.zeros(()), jnp.zeros(())))

    if track:
        return device_mapped(bound_shard, replicated=3, devices=devices)
    return device_mapped(product_shard, replicated=5, devices=devices)
