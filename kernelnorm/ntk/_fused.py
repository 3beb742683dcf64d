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
    r_i, q_i, hi_i, lo_i, rel_i, inv_r_i, _ = (rows[k, layer][:, None] for k in range(7))
    r_j, q_j, hi_j, lo_j, rel_j, inv_r_j, _ = (cols[k, layer][None, :] for k in range(7))
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
    inv_i, inv_j = rows[5, layer + 1][:, None], cols[5, layer + 1][None, :]
    new_scale, inv_new_scale = rows[0, layer + 1][:, None] * cols[0, layer + 1][None, :], inv_i * inv_j
    evaluation = (a * (8 * _EPS * jnp.abs(dual) + centre * 4 * _EPS * scale)
                  + _BLOCK_ULPS * _EPS * (jnp.abs(new_c) + new_scale))
    new_e_c = angle_part + evaluation + jnp.abs(new_c - bias) * (rel_i + rel_j)
    new_rho = new_c * inv_new_scale
    inv_q_i, inv_q_j = rows[6, layer + 1][:, None], cols[6, layer + 1][None, :]
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


def _first_layer_state(scheme, k0, rows, cols, errors):
    """``(K_1, Theta_1 = K_1, d rho_1, E_Theta_1)`` with ``K_1 = sigma_w2 K_0 + sigma_b2``."""
    k1 = scheme.input_kernel(k0)
    if errors is None:
        return k1, k1, np.zeros_like(k1), np.zeros_like(k1)
    e_c = scheme.sigma_w2 * errors[2] + 2 * _EPS * np.abs(k1)
    r_i, r_j = np.sqrt(rows["q"][0])[:, None], np.sqrt(cols["q"][0])[None, :]
    relative = (rows["q_error"][0] / (2 * rows["q"][0]))[:, None] + (
        cols["q_error"][0] / (2 * cols["q"][0]))[None, :]
    scale = r_i * r_j
    return k1, k1, e_c / scale + np.minimum(np.abs(k1 / scale), 1.0) * relative, e_c


def _block_rows(columns: int) -> int:
    """Rows per block: the loop's arrays (about 16 of ``rows x columns`` float64) stay in a
    megabyte-sized cache."""
    return int(max(8, min(256, 2**15 // max(columns, 1))))


def _slice(trajectory, rows):
    return {key: value[..., rows] for key, value in trajectory.items()}


def pair_kernels(scheme, k0, rows, cols, depths, *, errors=None, track: bool = True):
    """``{L: (nngp, ntk, nngp_error, ntk_error)}`` on a block of pairs.

    ``k0``: the ``(b, c)`` block of ``K_0``; ``rows``/``cols``: :func:`diagonal_trajectory` of
    the block's row and column inputs (to the deepest depth); ``errors``: bounds on the rounding
    of ``(q0 rows, q0 cols, k0)`` (needed when ``track``). Errors are ``None`` unless
    ``track``. The caller fixes the diagonal. Row blocks run all layers in turn, so the loop's
    arrays stay in cache (the recursion is element-wise: layers of one pair need no other).
    """
    import jax.numpy as jnp

    depths = sorted(depths)
    k0 = np.asarray(k0, dtype=np.float64)
    count, columns = k0.shape
    out = {d: tuple(np.empty_like(k0) if track or i < 2 else None for i in range(4))
           for d in depths}
    deep = tuple(d for d in depths if d >= 2)
    col_vectors = jnp.asarray(_vectors(cols))
    constants = jnp.asarray(_constants(scheme))
    step = _block_rows(columns)
    for start in range(0, count, step):
        index = np.arange(start, start + step).clip(max=count - 1)  # the last block padded
        block_rows = _slice(rows, index)
        block_errors = None
        if track:
            block_errors = (errors[0][index], errors[1], errors[2][index])
        state = _first_layer_state(scheme, k0[index], block_rows, cols, block_errors)
        kept = slice(0, min(step, count - start))
        target = slice(start, start + kept.stop)
        if 1 in out:
            for i in range(4):
                if out[1][i] is not None:
                    out[1][i][target] = (state[0] if i < 2 else state[3])[kept]
        if deep:
            states = _compiled(track, deep)(tuple(jnp.asarray(s) for s in state),
                                            jnp.asarray(_vectors(block_rows)), col_vectors,
                                            constants)
            for depth, values in zip(deep, states):
                for i, value in enumerate(_outputs(values, block_rows, cols, depth, track)):
                    if value is not None:
                        out[depth][i][target] = value[kept]
        report_progress(start + kept.stop, count)
    return out


def _outputs(state, rows, cols, depth, track):
    values = [np.array(s) for s in state]  # copies: the state is donated
    if not track:
        return values[0], values[1], None, None
    q_i, q_j = rows["q"][depth - 1][:, None], cols["q"][depth - 1][None, :]
    relative = (rows["q_error"][depth - 1][:, None] / (2 * q_i)
                + cols["q_error"][depth - 1][None, :] / (2 * q_j))
    # |dc| <= s d rho + |c| (e_i + e_j)
    return values[0], values[1], np.sqrt(q_i * q_j) * values[2] + np.abs(values[0]) * relative, values[3]


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
    blocks = pair_kernels(scheme, k0, trajectory, trajectory, depths, errors=errors,
                          track=track_error)
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
