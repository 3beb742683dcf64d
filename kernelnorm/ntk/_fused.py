"""Fused exact path for ReLU blocks: the pair recursion as one jitted loop over layers.

For a plain or weight-mean ReLU block (any ``sigma_w2``, ``sigma_b2``, width) the recursion of
:func:`kernelnorm.ntk.layer_kernels` splits in two:

* the diagonal ``q_i^l = K_l(x_i, x_i)`` is a scalar recursion per input: it is run once, on the
  ``m`` variances, by :func:`kernelnorm.ntk.layer_kernels` itself (with its error tracker), giving
  every layer's ``sqrt(q_i)``, the Dekker split of ``q_i`` and the relative length error;
* the off-diagonal pairs then need only element-wise work per layer, with
  ``A = sigma_w2 (n-1)/n / (2 pi)``, ``s = sqrt(q_i q_j)``, ``theta = atan2(sqrt(det), c)``,
  ``det = q_i q_j - c^2`` (compensated, :func:`kernelnorm._activations.covariance_determinant`)::

      c'      = A s (J(theta) - z) + sigma_b2,   J(theta) = sin theta + (pi - theta) cos theta
      T_dot   = 2 pi A (pi - theta) / (2 pi)
      Theta'  = c' + T_dot Theta

  (``z = 1`` for weight mean, which centres by ``E[relu]^2 = s / (2 pi)``; MimicNorm Eq. 3-7).

Error bound (the same first-order analysis as the tracker of :func:`layer_kernels`, with the
derivatives written out instead of re-evaluating the map): the correlation error ``d rho =
E_c / s + |rho| (e_i + e_j)`` (``e`` the relative length errors) is an angle error
``E_theta = min(d rho / sin theta, sqrt(2 d rho))``; ``|J'| = (pi - theta) sin theta`` and
``|J''| <= pi`` give ``|dc'| <= A s (|J'| E_theta + pi E_theta^2 / 2) + |c' - b| (e_i + e_j)``
plus the evaluation error (the dual's 8 ulps, the means' 2 ulps, ``8`` ulps of the block);
``T_dot`` is linear in ``theta``: ``A E_theta`` plus 8 ulps; ``Theta`` as in
:func:`layer_kernels`. The first layer's step (where ``c`` may be near ``-sqrt(q_i q_j)`` and
``sqrt(det) + c (pi - theta)`` cancels) is done by the general tracked step on the block.

The loop is ``jax.lax.fori_loop`` over layers under ``jax.jit``, on one block of rows at a time
(all layers of a block before the next block, so the state, four ``(rows, cols)`` float64
arrays, and XLA's intermediates stay in cache).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from kernelnorm._resources import report_progress

_EPS = float(np.finfo(np.float64).eps)
_BLOCK_ULPS = 8
#: Evaluation error of a variance ``q' = A q (pi - z) + b`` in ulps (the block's 8, the dual's
#: 8 and the centring means' relative to the centred dual, ``< 14``, rounded up).
_Q_ULPS = 24


def fused_supported(scheme) -> bool:
    """The block is plain or weight-mean ReLU without normaliser or proxy step."""
    parts = scheme.scheme
    return (scheme.activation_step.name == "relu" and scheme.activation_step.closed_form
            and not parts.proxy and parts.normaliser is None and not parts.batch_coupled
            and parts.weights in ("plain", "mean"))


def _constants(scheme) -> tuple[float, float, float]:
    """``(A, z, sigma_b2)`` of the module docstring."""
    centre = 1.0 if scheme.scheme.weights == "mean" else 0.0
    return scheme.sigma_w2 * scheme.finite_width_factor / (2 * math.pi), centre, scheme.sigma_b2


def diagonal_trajectory(scheme, q0, depth: int, q0_error=None):
    """Per layer ``l = 1..depth``: the variances ``q^l`` of ``m`` inputs, their error bounds,
    and the diagonal NTK with its bound, from the tracked recursion on ``m`` values
    (``q0_error``: bound on the rounding of ``q0``; default 4 ulps)."""
    from kernelnorm.ntk._recursion import layer_kernels

    q0 = np.asarray(q0, dtype=np.float64)
    error = None if q0_error is None else (q0_error,) * 3
    rows = {"q": [], "q_error": [], "ntk": [], "ntk_error": []}
    for layer in layer_kernels(scheme, q0, q0, q0, depth, track_error=True, input_error=error,
                               same_input=np.ones(q0.shape, dtype=bool)):
        rows["q"].append(layer.nngp)
        rows["q_error"].append(layer.nngp_error)
        rows["ntk"].append(layer.ntk)
        rows["ntk_error"].append(layer.ntk_error)
    out = {key: np.stack(value) for key, value in rows.items()}
    out["q0"] = q0
    return out


def _split(a):
    t = 134217729.0 * a  # Dekker's splitter, as kernelnorm._activations
    high = t - (t - a)
    return high, a - high


#: Cephes ``atan.c`` (S. Moshier): ``atan(x) = x + x z P(z)/Q(z)``, ``z = x^2``, on
#: ``|x| <= 0.66``; tested against libm's ``arctan2`` to 2 ulps (tests/test_ntk_fused.py).
_ATAN_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
           -1.228866684490136173410e2, -6.485021904942025371773e1)
_ATAN_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
           4.853903996359136964868e2, 1.945506571482613964425e2)
_PI_2_TAIL = 6.123233995736765886130e-17  # pi/2 - float(pi/2)


def _atan_unit(t, jnp):
    """``arctan t`` for ``|t| <= 1`` by Cephes' rational approximation (vectorises under XLA,
    where ``arctan2`` is a scalar libm call per element)."""
    size = jnp.abs(t)
    big = size > 0.66
    x = jnp.where(big, (size - 1.0) / (size + 1.0), size)
    z = x * x
    p = (((_ATAN_P[0] * z + _ATAN_P[1]) * z + _ATAN_P[2]) * z + _ATAN_P[3]) * z + _ATAN_P[4]
    q = ((((z + _ATAN_Q[0]) * z + _ATAN_Q[1]) * z + _ATAN_Q[2]) * z + _ATAN_Q[3]) * z + _ATAN_Q[4]
    tail = x * (z * p / q)
    value = jnp.where(big, math.pi / 4 + (x + (tail + 0.5 * _PI_2_TAIL)), x + tail)
    return jnp.where(t < 0, -value, value)


def atan2_upper(y, x, jnp=np):
    """``arctan2(y, x)`` for ``y >= 0``, in ``[0, pi]``, to 2 ulps (``0`` at the origin)."""
    steep = y > jnp.abs(x)
    numerator, denominator = jnp.where(steep, x, y), jnp.where(steep, y, x)
    a = _atan_unit(numerator / jnp.where(denominator != 0, denominator, 1.0), jnp)
    flat = jnp.where(x > 0, a, (math.pi + a) + 2 * _PI_2_TAIL)
    out = jnp.where(steep, (math.pi / 2 - a) + _PI_2_TAIL, flat)
    return jnp.where((y == 0) & (x == 0), 0.0, out)


def _x_minus_arctan(r, jnp):
    """``r - arctan r`` for ``0 <= r < 1/2`` by its series (as kernelnorm._activations)."""
    r2 = r * r
    series = jnp.zeros_like(r)
    for k in range(39, -1, -1):
        series = (-1.0) ** k / (2 * k + 3) + series * r2
    return r * r2 * series


def _vectors(trajectory):
    """Per-layer per-input vectors the loop reads: ``sqrt q``, ``q``, Dekker halves of ``q``,
    the relative length error ``e = E_q / (2 q)``, ``1 / sqrt q`` and ``1 / q``."""
    q = trajectory["q"]
    high, low = _split(q)
    relative = trajectory["q_error"] / (2 * q)
    root = np.sqrt(q)
    return np.stack([root, q, high, low, relative, 1.0 / root, 1.0 / q])


def _step(layer, state, rows, cols, constants, track, first, jnp):
    """One layer of the pair recursion (module docstring) on a block."""
    a, centre, bias = constants[0], constants[1], constants[2]
    c, ntk, d_rho, e_ntk = state
    rows_a, rows_b, mask = rows

    def row(k, index):  # the block's two row sets, chosen per column (see _fold)
        return jnp.where(mask, rows_a[k, index][:, None], rows_b[k, index][:, None])

    r_i, q_i, hi_i, lo_i, rel_i, inv_r_i = (row(k, layer) for k in range(6))
    r_j, q_j, hi_j, lo_j, rel_j, inv_r_j = (cols[k, layer][None, :] for k in range(6))
    scale = r_i * r_j
    c = jnp.clip(c, -scale, scale)
    p = q_i * q_j
    p_error = ((hi_i * hi_j - p) + hi_i * lo_j + lo_i * hi_j) + lo_i * lo_j
    c_hi, c_lo = _split(c)
    s = c * c
    s_error = ((c_hi * c_hi - s) + 2.0 * c_hi * c_lo) + c_lo * c_lo
    root = jnp.sqrt(jnp.maximum((p - s) + (p_error - s_error), 0.0))
    complement = atan2_upper(root, -c, jnp)  # pi - theta
    dual = root + c * complement  # 2 pi E[relu relu]
    if first:  # c near -sqrt(q q'): the two terms cancel (kernelnorm._activations._relu_dual)
        r = root / jnp.where(c < 0, -c, 1.0)
        small = (c < 0) & (r < 0.5)
        dual = jnp.where(small, -c * _x_minus_arctan(jnp.where(small, r, 0.0), jnp), dual)
    new_c = a * (dual - centre * scale) + bias
    t_dot = a * complement
    new_ntk = new_c + t_dot * ntk
    if not track:
        return new_c, new_ntk, d_rho, e_ntk
    # angle error from the correlation error: d rho / sin theta, at most sqrt(2 d rho)
    e_theta = jnp.minimum(d_rho * scale / jnp.where(root > 0, root, 0.0), jnp.sqrt(2.0 * d_rho))
    angle_part = a * (complement * root * e_theta + 0.5 * math.pi * scale * e_theta * e_theta)
    inv_i, inv_j = row(5, layer + 1), cols[5, layer + 1][None, :]
    new_scale, inv_new_scale = row(0, layer + 1) * cols[0, layer + 1][None, :], inv_i * inv_j
    evaluation = (a * (8 * _EPS * jnp.abs(dual) + centre * 4 * _EPS * scale)
                  + _BLOCK_ULPS * _EPS * (jnp.abs(new_c) + new_scale))
    new_e_c = angle_part + evaluation + jnp.abs(new_c - bias) * (rel_i + rel_j)
    new_rho = new_c * inv_new_scale
    inv_q_i, inv_q_j = row(6, layer + 1), cols[6, layer + 1][None, :]
    new_d_rho = ((angle_part + evaluation) * inv_new_scale + _Q_ULPS * _EPS * jnp.abs(new_rho)
                 + bias * (jnp.abs(new_rho * inv_q_i - inv_new_scale) * rel_i
                           + jnp.abs(new_rho * inv_q_j - inv_new_scale) * rel_j))
    e_t = a * e_theta + (4 + _BLOCK_ULPS) * _EPS * t_dot
    new_e_ntk = (new_e_c + t_dot * e_ntk + jnp.abs(ntk) * e_t
                 + 2 * _EPS * (jnp.abs(new_c) + jnp.abs(t_dot * ntk)))
    return new_c, new_ntk, new_d_rho, new_e_ntk


@lru_cache(maxsize=None)
def _compiled(track: bool, depths: tuple):
    """Jitted: all layers ``2..max(depths)`` of one row block, the state at each depth."""
    import jax
    import jax.numpy as jnp

    def run(state, rows, cols, constants):
        def body(layer, s):
            return _step(layer, s, rows, cols, constants, track, False, jnp)

        state = _step(0, state, rows, cols, constants, track, True, jnp)  # layer 1 -> 2
        layer, out = 2, []
        for depth in depths:
            state = jax.lax.fori_loop(layer - 1, depth - 1, body, state)
            layer = depth
            out.append(state)
        return out

    return jax.jit(run)


def _row_values(rows, key, layer):
    """``(b, W)``-broadcastable values of the block's rows: ``rows = (A, B, mask)`` of two
    trajectories and the columns where ``A`` applies."""
    a, b, mask = rows
    return np.where(mask, a[key][layer][:, None], b[key][layer][:, None])


def _relative_lengths(rows, cols, layer):
    """``e_i + e_j`` with ``e = E_q / (2 q)``."""
    return (_row_values(rows, "q_error", layer) / (2 * _row_values(rows, "q", layer))
            + (cols["q_error"][layer] / (2 * cols["q"][layer]))[None, :])


def _first_layer_state(scheme, k0, rows, cols, k0_error):
    """``(K_1, Theta_1 = K_1, d rho_1, E_Theta_1)`` with ``K_1 = sigma_w2 K_0 + sigma_b2``."""
    k1 = scheme.input_kernel(k0)
    if k0_error is None:
        return k1, k1, np.zeros_like(k1), np.zeros_like(k1)
    scale = np.sqrt(_row_values(rows, "q", 0) * cols["q"][0][None, :])
    return (k1, k1) + first_layer_errors(k1, k0_error, scheme.sigma_w2, scale,
                                         _relative_lengths(rows, cols, 0), np)


def first_layer_errors(k1, k0_error, sigma_w2, scale, relative, xp):
    """``(d rho_1, E_c1)``: ``E_c1 = sigma_w2 E_K0 + 2 eps |K_1|`` and the correlation error
    ``E_c1 / s + min(|K_1| / s, 1) (e_i + e_j)`` (``s = sqrt(q_i q_j)``, ``relative = e_i + e_j``)
    in the array module ``xp``."""
    e_c = sigma_w2 * k0_error + 2 * _EPS * xp.abs(k1)
    return e_c / scale + xp.minimum(xp.abs(k1 / scale), 1.0) * relative, e_c


def _outputs(state, rows, cols, depth, track):
    values = [np.asarray(s) for s in state]
    if not track:
        return values[0], values[1], None, None
    scale = np.sqrt(_row_values(rows, "q", depth - 1) * cols["q"][depth - 1][None, :])
    # |dc| <= s d rho + |c| (e_i + e_j)
    nngp_error = scale * values[2] + np.abs(values[0]) * _relative_lengths(rows, cols, depth - 1)
    return values[0], values[1], nngp_error, values[3]


def _block_rows(columns: int) -> int:
    """Rows per block: the loop's arrays (about 16 of ``rows x columns`` float64) stay in a
    megabyte-sized cache."""
    return int(max(8, min(256, 2**15 // max(columns, 1))))


def _slice(trajectory, rows):
    return {key: value[..., rows] for key, value in trajectory.items()}


def _run_block(scheme, k0, rows, cols, depths, k0_error, track):
    """Per depth, ``(nngp, ntk, nngp_error, ntk_error)`` of one ``(b, W)`` block, in float64
    whatever the caller's JAX setting (without ``jax_enable_x64`` the loop would run in
    float32 and lose 9 digits)."""
    import jax

    with jax.enable_x64(True):
        return _run_block_x64(scheme, k0, rows, cols, depths, k0_error, track)


def _run_block_x64(scheme, k0, rows, cols, depths, k0_error, track):
    import jax.numpy as jnp

    state = _first_layer_state(scheme, k0, rows, cols, k0_error if track else None)
    out = {}
    if 1 in depths:
        e_c = state[3] if track else None
        out[1] = (state[0], state[1], e_c, e_c)
    deep = tuple(d for d in depths if d >= 2)
    if deep:
        a, b, mask = rows
        states = _compiled(track, deep)(
            tuple(jnp.asarray(s) for s in state),
            (jnp.asarray(_vectors(a)), jnp.asarray(_vectors(b)), jnp.asarray(mask)),
            jnp.asarray(_vectors(cols)), jnp.asarray(_constants(scheme)))
        for depth, values in zip(deep, states):
            out[depth] = _outputs(values, rows, cols, depth, track)
    return out


def pair_kernels(scheme, k0, rows, cols, depths, *, k0_error=None, track: bool = True):
    """``{L: (nngp, ntk, nngp_error, ntk_error)}`` on a rectangular block of pairs.

    ``k0``: the ``(b, c)`` block of ``K_0``; ``rows``/``cols``: :func:`diagonal_trajectory` of
    the block's row and column inputs (to the deepest depth); ``k0_error``: bound on the
    rounding of ``k0`` (needed when ``track``). Errors are ``None`` unless ``track``. The caller
    fixes the diagonal. Row blocks run all layers in turn, so the loop's arrays stay in cache
    (the recursion is element-wise: the layers of one pair need no other pair).
    """
    depths = sorted(depths)
    k0 = np.asarray(k0, dtype=np.float64)
    count, columns = k0.shape
    out = {d: [np.empty_like(k0) if track or i < 2 else None for i in range(4)] for d in depths}
    step = _block_rows(columns)
    everywhere = np.ones((1, columns), dtype=bool)
    for start in range(0, count, step):
        index = np.arange(start, start + step).clip(max=count - 1)  # the last block padded
        block = _slice(rows, index)
        kept = min(step, count - start)
        results = _run_block(scheme, k0[index], (block, block, everywhere), cols, depths,
                             None if k0_error is None else k0_error[index], track)
        for depth, values in results.items():
            for i, value in enumerate(values):
                if value is not None:
                    out[depth][i][start:start + kept] = value[:kept]
        report_progress(start + kept, count)
    return {d: tuple(v) for d, v in out.items()}


def symmetric_kernels(scheme, k0, trajectory, depths, *, k0_error=None, track: bool = True):
    """:func:`pair_kernels` on a symmetric ``(m, m)`` ``K_0``, computing the upper triangle only.

    Row blocks ``i`` and ``n - 1 - i`` (of ``n`` blocks of ``b`` rows, ``m`` padded to ``n b``,
    ``n`` even) are folded into one ``(b, m + b)`` rectangle: block ``i``'s columns ``i b..``
    then block ``n - 1 - i``'s columns ``(n - 1 - i) b..``, so every fold has the same shape
    (one compilation) and the work is half of the full matrix.
    """
    depths = sorted(depths)
    k0 = np.asarray(k0, dtype=np.float64)
    m = k0.shape[0]
    step = _block_rows(m)
    blocks = 2 * -(-m // (2 * step))
    size = blocks * step
    pad = np.arange(size).clip(max=m - 1)
    k0 = k0[np.ix_(pad, pad)]
    k0_error = None if k0_error is None else k0_error[np.ix_(pad, pad)]
    trajectory = _slice(trajectory, pad)
    out = {d: [np.zeros((size, size)) if track or i < 2 else None for i in range(4)]
           for d in depths}
    for i in range(blocks // 2):
        j = blocks - 1 - i
        first, second = np.arange(i * step, size), np.arange(j * step, size)
        columns = np.concatenate([first, second])
        rows_a, rows_b = np.arange(i * step, (i + 1) * step), np.arange(j * step, (j + 1) * step)
        mask = (np.arange(columns.size) < first.size)[None, :]

        def gather(matrix):
            return np.where(mask, matrix[np.ix_(rows_a, columns)], matrix[np.ix_(rows_b, columns)])

        rows = (_slice(trajectory, rows_a), _slice(trajectory, rows_b), mask)
        results = _run_block(scheme, gather(k0), rows, _slice(trajectory, columns), depths,
                             None if k0_error is None else gather(k0_error), track)
        for depth, values in results.items():
            for target, value in zip(out[depth], values):
                if value is not None:
                    target[i * step:(i + 1) * step, i * step:] = value[:, :first.size]
                    target[j * step:(j + 1) * step, j * step:] = value[:, first.size:]
        report_progress(2 * (i + 1) * step, size)
    full = {}
    for depth, values in out.items():
        full[depth] = tuple(None if v is None else _mirror(v)[:m, :m] for v in values)
    return full


def _mirror(upper):
    """The symmetric matrix from its upper triangle (diagonal included)."""
    lower = np.tril(upper.T, -1)
    return np.triu(upper) + lower


def fused_gram_kernels(scheme, x, depths, *, track_error: bool = True) -> dict:
    """:func:`kernelnorm.ntk.exact_gram_kernels` on the fused path: ``{L: LayerKernels}``."""
    from kernelnorm.ntk._recursion import LayerKernels, input_gram, input_gram_error

    k0 = input_gram(x)
    q0 = np.diag(k0).copy()
    errors = None
    if track_error:
        full = input_gram_error(x)
        diagonal = np.diag(full).copy()
        errors = (diagonal[:, None], diagonal[None, :], full)
    trajectory = diagonal_trajectory(scheme, q0, max(depths),
                                     None if errors is None else errors[0][:, 0])
    blocks = symmetric_kernels(scheme, k0, trajectory, depths,
                               k0_error=None if errors is None else errors[2], track=track_error)
    out = {}
    index = np.arange(len(q0))
    for depth, (nngp, ntk, nngp_error, ntk_error) in blocks.items():
        q = trajectory["q"][depth - 1]
        nngp[index, index] = q
        ntk[index, index] = trajectory["ntk"][depth - 1]
        if track_error:
            nngp_error[index, index] = trajectory["q_error"][depth - 1]
            ntk_error[index, index] = trajectory["ntk_error"][depth - 1]
        out[depth] = LayerKernels(depth, q[:, None], q[None, :], nngp, ntk, nngp_error, ntk_error)
    return out
