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
        nngp_error, ntk_error: bounds on ``|K_l - K_l exact|`` and ``|Theta_l - Theta_l exact|``
            (``track_error=True`` only; see :func:`layer_kernels`), else ``None``.
    """

    depth: int
    q1: np.ndarray
    q2: np.ndarray
    nngp: np.ndarray
    ntk: np.ndarray
    nngp_error: np.ndarray | None = None
    ntk_error: np.ndarray | None = None


def check_depth(depth) -> int:
    """A network depth: an integer ``L >= 1`` (number of weight layers)."""
    return check_int("--depth", depth)


_EPS = float(np.finfo(np.float64).eps)
#: Rounding of one block evaluation beyond its activation kernels' own stated errors (a few
#: additions, products, a square root and a division), in ulps of the value plus its scale.
_BLOCK_ULPS = 8


def layer_kernels(scheme, q0_1, q0_2, k0, depth: int, *, track_error: bool = False,
                  input_error=None, same_input=None) -> Iterator[LayerKernels]:
    """Yield ``(K_l, Theta_l)`` for ``l = 1..depth`` (MimicNorm Eq. 5-7, docs/theory.md §4).

    ``K_1 = sigma_w2 K_0 + sigma_b2`` (:meth:`kernelnorm.DenseBlock.input_kernel`), ``Theta_1 = K_1``, and

        K_{l+1}     = kernel_map(K_l)                         (Eq. 5, scheme-specific)
        Theta_{l+1} = K_{l+1} + T_dot(K_l) * Theta_l          (Eq. 6-7)

    so ``Theta_L = sum_l K_l prod_{r=l+1..L} T_dot(K_r)``. ``T_dot`` is the scheme's
    ``derivative_kernel`` (plain: ``sigma_w2 E[phi'(u)phi'(v)]``; weight mean: times
    ``(n-1)/n``; idealised batch norm: divided by ``sqrt(V(q1)V(q2))``).

    ``track_error=True`` adds a running forward error bound (first order in the errors; see
    :class:`_ErrorTracker`): each layer's evaluation error (the activation kernels' own error
    bounds, through the block, plus rounding) and the propagation of the errors already in
    ``(q1, q2, c)`` through ``kernel_map`` and ``T_dot`` (evaluated at the perturbed inputs, so
    the ``sqrt(1 - rho)`` sensitivity of arc-cosine kernels near ``rho = 1`` is captured), and
    of ``Theta``'s through the recursion. ``input_error`` bounds the error of ``k0`` (default: 4
    ulps; :func:`exact_gram_kernels` passes the matrix product's ``d`` ulps); ``same_input``
    marks the pairs of an input with itself (their correlation is exactly 1 at every layer).

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
    if not track_error:
        yield LayerKernels(1, q1, q2, k, ntk)
        for layer in range(2, depth + 1):
            t_dot = scheme.derivative_kernel(q1, q2, k)
            q1, q2, k = scheme.kernel_map(q1, q2, k)
            ntk = k + t_dot * ntk
            report_progress(layer, depth)
            yield LayerKernels(layer, q1, q2, k, ntk)
        return
    tracker = _ErrorTracker(scheme, same_input)
    errors = tracker.first_layer(q0_1, q0_2, k0, (q1, q2, k), input_error)
    ntk_error = errors[3]
    yield LayerKernels(1, q1, q2, k, ntk, errors[3], ntk_error)
    for layer in range(2, depth + 1):
        (q1, q2, k), t_dot, errors, t_dot_error = tracker.advance(q1, q2, k, errors)
        new_ntk = k + t_dot * ntk
        ntk_error = (errors[3] + np.abs(t_dot) * ntk_error + np.abs(ntk) * t_dot_error
                     + 2 * _EPS * (np.abs(k) + np.abs(t_dot * ntk)))
        ntk = new_ntk
        report_progress(layer, depth)
        yield LayerKernels(layer, q1, q2, k, ntk, errors[3], ntk_error)


class _Perturbed:
    """The block's activation step with its kernels shifted by their own error bounds.

    Kernel values and error bounds are computed once per argument set (cached); ``shift``
    selects which kernel (``dual``, ``mean``, ``derivative_dual``) is shifted by ``+error``, so
    the block's outputs evaluated with each shift give, by linearity, the first-order effect of
    each kernel's error on them, without repeating any quadrature.
    """

    def __init__(self, step):
        self.step = step
        self.shift = None
        self._cache = {}
        self.homogeneous = step.homogeneous
        self.closed_form = step.closed_form
        self.name = step.name

    def _kernel(self, kind, *args):
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
        key = (kind,) + tuple((a.shape, a.tobytes()) for a in arrays)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = getattr(self.step, kind + "_with_error")(*args)
        value, error = self._cache[key]
        return value + error if self.shift == kind else value

    def dual(self, q1, q2, c):
        return self._kernel("dual", q1, q2, c)

    def derivative_dual(self, q1, q2, c):
        return self._kernel("derivative_dual", q1, q2, c)

    def mean(self, q):
        return self._kernel("mean", q)


class _ErrorTracker:
    """First-order running error analysis of the kernel recursion (see :func:`layer_kernels`).

    The state ``(q1, q2, c)`` carries bounds on the errors of the lengths and of the angle
    ``theta = arccos(c / sqrt(q1 q2))``: arc-cosine kernels are smooth in ``theta`` but have a
    ``sqrt(1 - rho)`` singularity in ``rho``, and a correlation rounded by one ulp near 1 is an
    angle error ``eps / sin(theta)`` (at most ``sqrt(2 eps)``). Each layer, with ``F =
    kernel_map`` and ``D = derivative_kernel``:

    * evaluation error: ``_BLOCK_ULPS`` ulps of each output (plus ``sqrt(q1' q2')`` for ``c'``)
      and ``sum_k |F(kernel k + its error) - F|`` over the activation kernels ``k`` (their own
      error bounds: rounding of a closed form, the quadrature estimate; through the block);
    * propagated error: ``F`` and ``D`` re-evaluated at ``theta +- E_theta`` and at
      ``(q1 + E1, q2 +- E2)`` (correlation fixed), the largest change kept;
    * the new angle error from the new correlation's error, ``min(d rho / sin theta,
      sqrt(2 d rho))``; the pair of an input with itself keeps ``rho = 1`` exactly (the block
      computes ``c'`` and ``q'`` by the same operations) and has no angle error.
    """

    def __init__(self, scheme, same_input=None):
        import copy

        self.scheme = scheme
        self.same_input = same_input
        self.perturbed = _Perturbed(scheme.activation_step)
        self.block = copy.copy(scheme)
        object.__setattr__(self.block, "activation_step", self.perturbed)

    def _evaluation_error(self, q1, q2, c, values, t_dot):
        """Errors of ``(q1', q2', c')`` and ``T_dot`` from the activation kernels' own bounds."""
        outputs = list(values) + [t_dot]
        error = [_BLOCK_ULPS * _EPS * np.abs(v) for v in outputs]
        error[2] = error[2] + _BLOCK_ULPS * _EPS * np.sqrt(np.abs(values[0] * values[1]))
        for kind in ("dual", "mean", "derivative_dual"):
            self.perturbed.shift = kind
            shifted = list(self.block.kernel_map(q1, q2, c)) + [
                self.block.derivative_kernel(q1, q2, c)]
            error = [e + np.abs(s - v) for e, s, v in zip(error, shifted, outputs)]
        self.perturbed.shift = None
        return error

    def first_layer(self, q0_1, q0_2, k0, kernels, input_error):
        """Errors ``(E1, E2, E_theta, E_c)`` of ``K_1 = sigma_w2 K_0 + sigma_b2``;
        ``input_error``: ``None`` (4 ulps), one bound for ``k0`` (the lengths then 4 ulps) or
        a triple for ``(q0_1, q0_2, k0)``."""
        inputs = (q0_1, q0_2, k0)
        if input_error is None:
            input_error = tuple(4 * _EPS * np.abs(np.asarray(a, dtype=np.float64))
                                for a in inputs)
        elif not isinstance(input_error, tuple):
            input_error = (4 * _EPS * np.abs(np.asarray(q0_1, dtype=np.float64)),
                           4 * _EPS * np.abs(np.asarray(q0_2, dtype=np.float64)), input_error)
        sigma_w2 = self.scheme.sigma_w2
        e1, e2, ec = (sigma_w2 * e + 2 * _EPS * np.abs(k) for e, k in zip(input_error, kernels))
        return e1, e2, self._angle_error(kernels, e1, e2, ec), ec

    def _angle_error(self, kernels, e1, e2, ec, drho=None):
        q1, q2, c = kernels
        scale = np.sqrt(np.abs(q1 * q2))
        rho = np.clip(np.divide(c, scale, out=np.zeros(np.shape(c * scale)), where=scale > 0),
                      -1.0, 1.0)
        if drho is None:
            drho = (ec / np.maximum(scale, 1e-300)
                    + np.abs(rho) * (e1 / (2 * np.maximum(np.abs(q1), 1e-300))
                                     + e2 / (2 * np.maximum(np.abs(q2), 1e-300))))
        sine = np.sqrt(np.maximum(1.0 - rho * rho, 0.0))
        angle = np.minimum(np.divide(drho, sine, out=np.full(np.shape(drho), np.inf),
                                     where=sine > 0), np.sqrt(2.0 * drho))
        if self.same_input is not None:
            angle = np.where(self.same_input, 0.0, angle)
        return angle

    def advance(self, q1, q2, c, errors):
        """One layer: new kernels, ``T_dot``, new errors ``(E1, E2, E_theta, E_c)`` and
        ``T_dot``'s error."""
        from kernelnorm._activations import covariance_determinant

        e1, e2, e_angle, _ = errors
        block = self.scheme
        q1, q2, c = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q1, q2, c)))
        values = block.kernel_map(q1, q2, c)
        t_dot = block.derivative_kernel(q1, q2, c)
        evaluation = self._evaluation_error(q1, q2, c, values, t_dot)
        scale = np.sqrt(q1 * q2)
        det = covariance_determinant(q1, q2, c)
        angle = np.arctan2(np.sqrt(det), c)
        unit = (det == 0) & (c > 0)  # rho = 1 to the last bit
        perturbed = []
        for step in (1.0, -1.0):  # the angle, lengths fixed
            moved = np.clip(angle + step * e_angle, 0.0, np.pi)
            perturbed.append((q1, q2, np.where(e_angle > 0, scale * np.cos(moved), c)))
        # an input with itself: one length, one error (q1 = q2 = c stays exactly so)
        same = unit & (q1 == q2)
        for sign in (1.0, -1.0):  # the lengths, correlation fixed: (+, +), (+, -)
            p1 = q1 + np.where(same, np.maximum(e1, e2), e1)
            p2 = np.where(same, p1, np.maximum(q2 + sign * e2, 0.0))
            root = np.where(same, p1, np.sqrt(p1 * p2))
            perturbed.append((p1, p2, np.where(unit, root,
                                               c * root / np.maximum(scale, 1e-300))))
        change = [np.zeros_like(q1) for _ in range(5)]  # q1', q2', c', T_dot, rho'
        rho = values[2] / np.sqrt(values[0] * values[1])
        for args in perturbed:
            out = block.kernel_map(*args)
            moved = list(out) + [block.derivative_kernel(*args), out[2] / np.sqrt(out[0] * out[1])]
            change = [np.maximum(ch, np.abs(m - v))
                      for ch, m, v in zip(change, moved, list(values) + [t_dot, rho])]
        new_e1 = evaluation[0] + change[0]
        new_e2 = evaluation[1] + change[1]
        new_ec = evaluation[2] + change[2]
        drho = (evaluation[2] / np.sqrt(values[0] * values[1])
                + np.abs(rho) * (evaluation[0] / (2 * values[0]) + evaluation[1] / (2 * values[1]))
                + change[4])
        new_angle = self._angle_error(values, new_e1, new_e2, new_ec, drho)
        return values, t_dot, (new_e1, new_e2, new_angle, new_ec), evaluation[3] + change[3]


def input_gram(x, y=None, *, xp=np):
    """``K_0 = X Y^T / d`` for inputs ``X`` of shape ``(m, d)`` (``Y = X`` by default;
    docs/theory.md conventions). ``xp``: the array module (``jax.numpy`` inside a jitted loop)."""
    x = xp.asarray(x, dtype=xp.float64)
    y = x if y is None else xp.asarray(y, dtype=xp.float64)
    return x @ y.T / x.shape[1]


def input_gram_error(x, y=None, *, xp=np):
    """Bound on the rounding of :func:`input_gram`: ``d eps |x_i||y_j| / d`` per entry (a dot
    product of length ``d`` errs by at most ``d`` ulps of ``sum |x_k y_k|``), plus the division."""
    x = xp.asarray(x, dtype=xp.float64)
    norms = xp.sqrt(xp.sum(x * x, axis=1))
    other = norms if y is None else xp.sqrt(xp.sum(xp.asarray(y, dtype=xp.float64) ** 2, axis=1))
    return (x.shape[1] + 2) * _EPS * xp.outer(norms, other) / x.shape[1]


def exact_gram_kernels(scheme, x, depth: int, *, depths=None,
                       track_error: bool = False) -> dict[int, LayerKernels]:
    """The exact path: the recursion on the full ``m x m`` Gram matrix, ``O(L m^2)``.

    Plain and weight-mean ReLU blocks take the fused jitted loop of :mod:`kernelnorm.ntk._fused`
    (same values, the same first-order error analysis); other blocks the general recursion.

    Inputs of unequal norm are allowed. Returns ``{l: LayerKernels}`` for ``l`` in ``depths``
    (default: only ``depth``); each ``nngp``/``ntk`` is an ``(m, m)`` array, with error bounds
    when ``track_error`` (:func:`layer_kernels`; the input Gram's own rounding included).
    """
    wanted = {check_depth(depth)} if depths is None else {check_depth(d) for d in depths}
    from kernelnorm.ntk._fused import fused_gram_kernels, fused_supported

    if fused_supported(scheme):
        return fused_gram_kernels(scheme, np.asarray(x, dtype=np.float64), sorted(wanted),
                                  track_error=track_error)
    k0 = input_gram(x)
    diag = np.diag(k0)
    out = {}
    error = None
    if track_error:
        full = input_gram_error(x)
        error = (np.diag(full)[:, None], np.diag(full)[None, :], full)
    for layer in layer_kernels(scheme, diag[:, None], diag[None, :], k0, max(wanted),
                               track_error=track_error, input_error=error,
                               same_input=np.eye(len(diag), dtype=bool)):
        if layer.depth in wanted:
            out[layer.depth] = layer
    return out
