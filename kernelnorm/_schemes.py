"""Network descriptions: each scheme is defined once and used three ways.

A scheme describes one fully connected block acting on the pre-activations ``h`` of the
previous layer::

    h_next = normalise( sqrt(sigma_w2 / n) * phi(h) @ W_scheme + sqrt(sigma_b2) * b )

and knows how to

* ``init(key, n_in, n_out)``  sample ``W ~ N(0, 1)``, ``b ~ N(0, 1)`` (JAX, explicit key),
* ``apply(params, h)``        run the finite block (JAX or numpy arrays; batch axis 0),
* ``kernel_map(q1, q2, c)``   propagate the infinite-width pre-activation kernel,
* ``derivative_kernel(...)``  give ``T_dot = d c' / d c``, the factor of the NTK recursion.

The Monte-Carlo checks read ``init``/``apply``, the analytic core reads ``kernel_map``; both come
from the same object, so they cannot drift apart. The first layer of a network is always a plain
dense map of the (pre-normalised) inputs; :func:`input_kernel` gives its kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernelnorm._activations import RELU, Activation, get_activation
from kernelnorm._errors import (
    KernelnormInputError,
    check_nonnegative,
    check_positive,
    check_width,
)
from kernelnorm._ops import standardise, weight_mean


def input_kernel(scheme, k0):
    """First layer, plain dense on inputs with ``K0 = x.x'/n0``: ``K1 = sigma_w2 K0 + sigma_b2``.

    (MimicNorm Eq. 2 with ``l = 0``.) Batch norm has no scale: it returns ``K0`` itself.
    """
    return scheme.sigma_w2 * np.asarray(k0, dtype=np.float64) + scheme.sigma_b2


def _dense_params(key, n_in: int, n_out: int):
    import jax

    key_w, key_b = jax.random.split(key)
    return {
        "w": jax.random.normal(key_w, (n_in, n_out)),
        "b": jax.random.normal(key_b, (n_out,)),
    }


@dataclass(frozen=True)
class Plain:
    """Plain dense block (MimicNorm Eq. 2): ``T(c) = sigma_w2 E[phi(u)phi(v)] + sigma_b2``.

    Attributes:
        activation: the nonlinearity (name or :class:`Activation`).
        sigma_w2: weight variance ``sigma_w^2`` (weights scaled by ``sigma_w / sqrt(n_in)``).
        sigma_b2: bias variance ``sigma_b^2``.
    """

    activation: Activation = RELU
    sigma_w2: float = 2.0
    sigma_b2: float = 0.0
    name = "plain"

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))
        check_positive("--sigma-w2", self.sigma_w2)
        check_nonnegative("--sigma-b2", self.sigma_b2)

    # -- infinite width --
    def layer_input_kernel(self, q1, q2, c):
        """Kernel of the layer input ``phi(h)`` as seen by the weights."""
        return self.activation.dual(q1, q2, c)

    def layer_input_derivative_kernel(self, q1, q2, c):
        return self.activation.derivative_dual(q1, q2, c)

    def kernel_map(self, q1, q2, c):
        """``(q1, q2, c) -> (q1', q2', c')`` for the next pre-activations."""
        affine = lambda k: self.sigma_w2 * k + self.sigma_b2  # noqa: E731
        return (
            affine(self.layer_input_kernel(q1, q1, q1)),
            affine(self.layer_input_kernel(q2, q2, q2)),
            affine(self.layer_input_kernel(q1, q2, c)),
        )

    def derivative_kernel(self, q1, q2, c):
        """``T_dot = d c'/d c = sigma_w2 E[phi'(u) phi'(v)]`` (MimicNorm Eq. 7)."""
        return self.sigma_w2 * self.layer_input_derivative_kernel(q1, q2, c)

    # -- finite width --
    def init(self, key, n_in: int, n_out: int):
        return _dense_params(key, n_in, n_out)

    def effective_weights(self, w):
        return w

    def apply(self, params, h, *, first: bool = False):
        """One block on a batch ``h`` of shape ``(batch, n_in)``; ``first`` skips ``phi``."""
        x = h if first else self.activation(h)
        n_in = x.shape[-1]
        w = self.effective_weights(params["w"])
        bias = params["b"].reshape((1,) * (x.ndim - 1) + (-1,))  # same rank: no rank promotion
        return math.sqrt(self.sigma_w2 / n_in) * (x @ w) + math.sqrt(self.sigma_b2) * bias


@dataclass(frozen=True)
class WeightMean(Plain):
    """Weight-mean dense block (MimicNorm §3, Lemma 1, Theorem 3).

    The weights are centred over their fan-in, ``W_bar = W - w 1^T``, which equals centring the
    layer input across units. Its kernel (Lemma 1, main-text Eq. 11, with the input width
    ``n_i``; THEORY §8 erratum 1) is ``(n_i - 1)/n_i * (E[phi(u)phi(v)] - E[phi(u)]E[phi(v)])``.

    Attributes:
        width: input width ``n_i`` of the layer, or ``math.inf`` for the wide limit.
    """

    width: float = math.inf
    name = "weight-mean"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "width", check_width("--width", self.width))

    @property
    def finite_width_factor(self) -> float:
        """``(n_i - 1) / n_i`` of Lemma 1 (1 in the wide limit)."""
        return 1.0 if math.isinf(self.width) else (self.width - 1.0) / self.width

    def layer_input_kernel(self, q1, q2, c):
        return self.finite_width_factor * self.activation.centred_dual(q1, q2, c)

    def layer_input_derivative_kernel(self, q1, q2, c):
        return self.finite_width_factor * self.activation.derivative_dual(q1, q2, c)

    def effective_weights(self, w):
        return weight_mean(w)


def _divide_by_scale(kernel, q1, q2):
    """``kernel / sqrt(q1 q2)``, 0 where a length vanishes."""
    kernel = np.asarray(kernel, dtype=np.float64)
    scale = np.sqrt(np.asarray(q1, dtype=np.float64) * q2)
    shape = np.broadcast(kernel, scale).shape
    return np.divide(kernel, scale, out=np.zeros(shape), where=scale > 0)


@dataclass(frozen=True)
class BatchNorm:
    """Dense block followed by full-batch batch norm, idealised (MimicNorm Eq. 9, Theorem 2).

    The batch mean is treated as the expectation over an independent input (THEORY §4), so

        c' = (E[phi(u)phi(v)] - E[phi(u)]E[phi(v)]) / sqrt(V(q1) V(q2)),  q' = 1,

    with ``V(q) = Var phi(u)``: the same correlation map as weight mean, ``T_BN = T_bar``.
    The scale of ``W`` drops out, so there is no ``sigma_w``; the affine parameters are
    ``gamma = 1, beta = 0``. ``apply`` standardises over the batch axis (the exact full-batch
    map, whose kernel acts on the whole Gram matrix, is the Monte-Carlo side's business).
    """

    activation: Activation = RELU
    eps: float = 0.0
    name = "bn"
    sigma_w2 = 1.0
    sigma_b2 = 0.0

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))

    def _variance(self, q):
        return self.activation.centred_dual(q, q, q)

    def _normalised(self, kernel, q1, q2):
        return _divide_by_scale(kernel, self._variance(q1), self._variance(q2))

    def kernel_map(self, q1, q2, c):
        c_next = self._normalised(self.activation.centred_dual(q1, q2, c), q1, q2)
        ones = np.ones_like(c_next)
        return ones, ones, c_next

    def derivative_kernel(self, q1, q2, c):
        """``d c'/d c = E[phi'(u)phi'(v)] / sqrt(V(q1) V(q2))``."""
        return self._normalised(self.activation.derivative_dual(q1, q2, c), q1, q2)

    def init(self, key, n_in: int, n_out: int):
        return _dense_params(key, n_in, n_out)

    def apply(self, params, h, *, first: bool = False):
        x = h if first else self.activation(h)
        return standardise(x @ params["w"], axis=0, eps=self.eps)


@dataclass(frozen=True)
class LayerNorm(Plain):
    """Dense block followed by layer norm: standardise every example across its units.

    The block is ``h' = standardise(sqrt(sigma_w2/n) phi(h) @ W + sqrt(sigma_b2) b, axis=-1)``.
    At infinite width the across-unit mean and variance of ``h'`` tend to ``0`` and to the
    plain length ``q'``, so the kernel is the plain kernel normalised to unit length::

        (q1', q2', c') = (1, 1, c_plain / sqrt(q1_plain q2_plain))

    where ``(q_plain, c_plain)`` is :meth:`Plain.kernel_map`. The correlation map therefore
    equals the plain one; only lengths differ. ``T_dot = T_dot_plain / sqrt(q1_plain q2_plain)``.

    Example: ``LayerNorm("relu").kernel_map(1.0, 1.0, 0.0)`` gives ``(1, 1, 1/pi)``.
    """

    name = "ln"

    def kernel_map(self, q1, q2, c):
        q1_plain, q2_plain, c_plain = super().kernel_map(q1, q2, c)
        ones = np.ones_like(np.asarray(c_plain, dtype=np.float64))
        return ones, ones, _divide_by_scale(c_plain, q1_plain, q2_plain)

    def derivative_kernel(self, q1, q2, c):
        """``d c'/d c = sigma_w2 E[phi'(u) phi'(v)] / sqrt(q1_plain q2_plain)``."""
        q1_plain, q2_plain, _ = super().kernel_map(q1, q2, c)
        return _divide_by_scale(super().derivative_kernel(q1, q2, c), q1_plain, q2_plain)

    def apply(self, params, h, *, first: bool = False):
        return standardise(super().apply(params, h, first=first), axis=-1)


@dataclass(frozen=True)
class MiniBatchNorm(BatchNorm):
    """Batch norm over mini-batches of ``batch_size`` consecutive examples (Ioffe & Szegedy).

    ``apply`` splits the batch axis into groups of ``batch_size`` and standardises each group
    separately (the batch length must be a multiple of ``batch_size``). The analytic maps are
    :class:`BatchNorm`'s, i.e. the ``batch_size -> infinity`` idealisation (THEORY §4); the
    finite-batch correction (gradient growth, Gram fixed point, Yang et al. 2019) is measured
    by :mod:`kernelnorm.montecarlo`, not predicted here.

    Example: ``MiniBatchNorm("relu", batch_size=8).apply(params, h)`` with ``h`` of shape
    ``(32, n)`` normalises 4 groups of 8 examples.
    """

    batch_size: int = 32
    name = "bn-batch"

    def __post_init__(self):
        super().__post_init__()
        check_width("--batch-size", self.batch_size)

    def apply(self, params, h, *, first: bool = False):
        x = h if first else self.activation(h)
        z = x @ params["w"]
        total, units = z.shape
        if total % self.batch_size:
            raise KernelnormInputError(
                "--batch-size", f"must divide the number of inputs {total}, got {self.batch_size}"
            )
        groups = z.reshape(total // self.batch_size, self.batch_size, units)
        return standardise(groups, axis=1, eps=self.eps).reshape(total, units)


SCHEMES = {"plain": Plain, "weight-mean": WeightMean, "bn": BatchNorm, "ln": LayerNorm}


def resolve_norm(norm: str) -> type:
    """Scheme class for a CLI name (``plain``, ``weight-mean``/``wm``, ``bn``, ``ln``)."""
    aliases = {"wm": "weight-mean", "weight_mean": "weight-mean", "batch-norm": "bn", "none": "plain"}
    key = aliases.get(norm.lower(), norm.lower())
    try:
        return SCHEMES[key]
    except KeyError:
        raise KernelnormInputError(
            "--norm", f"unknown norm {norm!r} (choose from {', '.join(SCHEMES)})"
        ) from None
