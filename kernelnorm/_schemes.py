"""Dense blocks of a registered scheme: the one description, used three ways.

A :class:`DenseBlock` is one fully connected block of a scheme of :mod:`kernelnorm._registry`,
acting on the pre-activations ``h`` of the layer below::

    x      = a(h)                                     activation step (phi, or proxy-normalised)
    z      = sqrt(sigma_w2 / n) x @ T(W) + sqrt(sigma_b2) b      weight transform T
    h_next = N(z)                                     normaliser N

and knows how to

* ``init(key, n_in, n_out)``       sample ``W ~ N(0, 1)``, ``b ~ N(0, 1)`` (JAX, explicit key),
* ``apply(params, h)``             run the finite block (JAX or numpy; batch axis 0),
* ``kernel_map(q1, q2, c)``        propagate the infinite-width pre-activation kernel,
* ``derivative_kernel(q1, q2, c)`` give ``T_dot = d c'/d c``, the factor of the NTK recursion.

Both sides are composed from the scheme's parts, so the Monte-Carlo checks (``init``/``apply``)
and the analytic core (``kernel_map``) cannot drift apart. The infinite-width rules, one per part
(derivations in ``docs/theory.md``):

* activation step: the dual ``E[a(u)a(v)]``, mean ``E[a(u)]`` and derivative dual of ``a``
  (:mod:`kernelnorm._activations`; the proxy step is :func:`kernelnorm._proxy.proxy_activation`);
* weight transform: ``mean`` centres the layer input across its ``n`` units, giving Lemma 1's
  ``(n - 1)/n (E[a a] - E[a] E[a])`` (MimicNorm Eq. 11, input width: erratum 1);
  ``standardise`` gives ``E[a a] - E[a] E[a]`` at every width (the centred sphere's
  ``n/(n - 1)`` cancels the sample-covariance bias);
* normaliser: ``batch``/``batch-centre`` subtract the batch mean, ``E[a]E[a]`` in the idealised
  full-batch limit (MimicNorm Theorem 2) and the bias with it; ``batch``, ``layer`` and
  ``group`` then divide by the standard deviation, ``c' = z_12 / sqrt(z_11 z_22)`` (the
  across-unit mean of ``z`` vanishes at infinite width, so LN/GN only rescale).

The first layer of a network reads data: it is a plain dense map, ``K1 = sigma_w2 K0 +
sigma_b2`` (:meth:`DenseBlock.input_kernel`); weight transforms skip it (the registry's rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from kernelnorm._activations import RELU, Activation, get_activation
from kernelnorm._errors import KernelnormInputError, check_nonnegative, check_positive, check_width
from kernelnorm._registry import Scheme, get_scheme, require_engine


def _dense_params(key, n_in: int, n_out: int):
    import jax

    key_w, key_b = jax.random.split(key)
    return {
        "w": jax.random.normal(key_w, (n_in, n_out)),
        "b": jax.random.normal(key_b, (n_out,)),
    }


def _divide_by_scale(kernel, q1, q2):
    """``kernel / sqrt(q1 q2)``, 0 where a length vanishes."""
    kernel = np.asarray(kernel, dtype=np.float64)
    scale = np.sqrt(np.asarray(q1, dtype=np.float64) * q2)
    shape = np.broadcast(kernel, scale).shape
    return np.divide(kernel, scale, out=np.zeros(shape), where=scale > 0)


@dataclass(frozen=True)
class DenseBlock:
    """A fully connected block of ``scheme`` with its scales (see the module docstring).

    Attributes:
        scheme: the registered :class:`kernelnorm.Scheme` (``get_scheme`` name or object).
        activation: ``phi`` (name, :class:`Activation` or callable).
        sigma_w2: weight variance ``sigma_w^2`` (weights scaled by ``sigma_w / sqrt(n_in)``);
            ``None`` (default) takes the stable init ``q* = 1`` for this activation, width and
            ``sigma_b2`` (:func:`kernelnorm.stable_init`). Batch norm has no ``sigma_w``: the
            scale drops out, and it is fixed to 1.
        sigma_b2: bias variance (batch normalisers remove the bias: fixed to 0).
        width: input width ``n`` of the hidden layers, or ``math.inf`` (Lemma 1's factor).
        batch_size: mini-batch size of a batch normaliser (``None``: the whole batch). ``apply``
            normalises consecutive mini-batches; ``kernel_map``/``derivative_kernel`` stay the
            full-batch maps, and the transition API (``chi_1``, ``fixed_points``,
            ``summarise``) answers with the finite-batch theory of :mod:`kernelnorm._minibatch`.

    Example: ``DenseBlock("weight-mean", "relu", width=256).sigma_w2`` is MimicNorm Theorem 3's
    ``2n/((n-1)(1-1/pi))`` at ``n = 256``.
    """

    scheme: Scheme
    activation: Activation = RELU
    sigma_w2: float | None = None
    sigma_b2: float = 0.0
    width: float = math.inf
    batch_size: int | None = None
    activation_step: Activation = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        scheme = require_engine(get_scheme(self.scheme), "dense")
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "activation", get_activation(self.activation))
        object.__setattr__(self, "width", check_width("--width", self.width))
        step = self.activation
        if scheme.proxy:
            from kernelnorm._proxy import proxy_activation

            step = proxy_activation(self.activation, eps=scheme.proxy_eps,
                                    n_quantiles=scheme.proxy_quantiles)
        object.__setattr__(self, "activation_step", step)
        if self.batch_size is not None:
            if not scheme.batch_coupled:
                raise KernelnormInputError("--batch-size", f"only applies to batch norms, not "
                                           f"{scheme.name}")
            check_width("--batch-size", self.batch_size)
        if not self.has_sigma_w:
            object.__setattr__(self, "sigma_w2", 1.0)
            object.__setattr__(self, "sigma_b2", 0.0)
            return
        check_nonnegative("--sigma-b2", self.sigma_b2)
        if self.sigma_w2 is None:
            from kernelnorm._transition import stable_init

            # a length-fixing normaliser (LN, GN) takes the stable init of its block without
            # the normaliser: q = 1 before normalising, the bias ratio of the plain block
            unnormalised = replace(scheme, normaliser=None) if self.fixes_length else scheme
            object.__setattr__(self, "sigma_w2", stable_init(
                replace(self, scheme=unnormalised, sigma_w2=1.0, batch_size=None)))
        check_positive("--sigma-w2", self.sigma_w2)

    # -- what the analysis needs to know --
    @property
    def name(self) -> str:
        return self.scheme.name

    @property
    def has_sigma_w(self) -> bool:
        """Batch norm (a scaling batch normaliser) makes the block independent of ``sigma_w``
        and of the bias; every other block depends on them (layer norm through the ratio
        ``sigma_b2 / sigma_w2``)."""
        return self.scheme.normaliser != "batch"

    @property
    def fixes_length(self) -> bool:
        """The normaliser fixes ``q' = 1`` whatever ``sigma_w2`` is (BN, LN, GN)."""
        return self.scheme.scales

    @property
    def finite_width_factor(self) -> float:
        """``(n - 1)/n`` of Lemma 1 for weight mean (1 in the wide limit and otherwise)."""
        if self.scheme.weights != "mean" or math.isinf(self.width):
            return 1.0
        return (self.width - 1.0) / self.width

    @property
    def reducible(self) -> bool:
        """The layer is linear in ``W`` (plain or weight mean), so the Monte-Carlo ``reduced``
        engine's rotation of ``W`` applies; weight standardisation divides by ``||W||``."""
        return self.scheme.weights in ("plain", "mean")

    def first_layer(self) -> "DenseBlock":
        """The plain dense map on the inputs (``K1 = sigma_w2 K0 + sigma_b2``)."""
        return DenseBlock("plain", self.activation, sigma_w2=self.sigma_w2,
                          sigma_b2=self.sigma_b2)

    def input_kernel(self, k0):
        """First layer, plain dense on inputs with ``K0 = x.x'/n0``: ``K1 = sigma_w2 K0 +
        sigma_b2`` (MimicNorm Eq. 2 with ``l = 0``; batch norm: ``K0`` itself)."""
        return self.sigma_w2 * np.asarray(k0, dtype=np.float64) + self.sigma_b2

    # -- infinite width --
    def _centres(self) -> bool:
        return self.scheme.weights in ("mean", "standardise") or self.scheme.batch_coupled

    def layer_input_kernel(self, q1, q2, c):
        """Kernel of the transformed layer input ``x`` as the weights see it (before
        ``sigma_w2``): the activation step's dual, centred by weight mean / WS / a batch
        normaliser, times Lemma 1's factor for weight mean."""
        step = self.activation_step
        kernel = step.dual(q1, q2, c)
        if self._centres():
            kernel = kernel - step.mean(q1) * step.mean(q2)
        return self.finite_width_factor * kernel

    def _affine(self, kernel):
        bias = 0.0 if self.scheme.batch_coupled else self.sigma_b2
        return self.sigma_w2 * kernel + bias

    def _lengths(self, q1, q2):
        return (self._affine(self.layer_input_kernel(q1, q1, q1)),
                self._affine(self.layer_input_kernel(q2, q2, q2)))

    def kernel_map(self, q1, q2, c):
        """``(q1, q2, c) -> (q1', q2', c')`` for the next pre-activations."""
        z1, z2 = self._lengths(q1, q2)
        z12 = self._affine(self.layer_input_kernel(q1, q2, c))
        if not self.fixes_length:
            return z1, z2, z12
        ones = np.ones(np.broadcast(z1, z2, z12).shape)
        return ones, ones, _divide_by_scale(z12, z1, z2)

    def derivative_kernel(self, q1, q2, c):
        """``T_dot = d c'/d c = sigma_w2 E[a'(u) a'(v)]`` (MimicNorm Eq. 7), times Lemma 1's
        factor for weight mean, divided by ``sqrt(z_11 z_22)`` after a scaling normaliser."""
        slope = (self.sigma_w2 * self.finite_width_factor
                 * self.activation_step.derivative_dual(q1, q2, c))
        if not self.fixes_length:
            return slope
        return _divide_by_scale(slope, *self._lengths(q1, q2))

    # -- finite width --
    def init(self, key, n_in: int, n_out: int):
        return _dense_params(key, n_in, n_out)

    def effective_weights(self, w):
        from kernelnorm._ops import transform_weights

        return transform_weights(w, self.scheme.weights)

    def apply(self, params, h, *, activate: bool = True):
        """One block on a batch ``h`` of shape ``(batch, n_in)``; ``activate=False`` when ``h``
        is already the layer input (the first layer, or the Monte-Carlo reduced input)."""
        from kernelnorm._ops import normalise_channels

        x = self.activation_step(h) if activate else h
        n_in = x.shape[-1]
        w = self.effective_weights(params["w"])
        bias = params["b"].reshape((1,) * (x.ndim - 1) + (-1,))  # same rank: no rank promotion
        z = math.sqrt(self.sigma_w2 / n_in) * (x @ w) + math.sqrt(self.sigma_b2) * bias
        kind = self.scheme.normaliser
        if kind is None:
            return z
        if self.batch_size is not None and z.shape[0] % self.batch_size:
            raise KernelnormInputError(
                "--batch-size", f"must divide the number of inputs {z.shape[0]}, got "
                f"{self.batch_size}")
        if kind == "group" and z.shape[-1] % self.scheme.groups:
            raise KernelnormInputError(
                "--groups", f"must divide the width {z.shape[-1]}, got {self.scheme.groups}")
        return normalise_channels(z, kind, groups=self.scheme.groups, batch_size=self.batch_size)


def dense(norm, activation="relu", *, sigma_w2=None, sigma_b2=0.0, width=math.inf,
          batch_size=None, **overrides) -> DenseBlock:
    """The dense block of the registered scheme ``norm`` (any alias), ``overrides`` replacing
    scheme fields (e.g. ``groups``, ``proxy_eps``). See :class:`DenseBlock`."""
    scheme = get_scheme(norm, **overrides)
    return DenseBlock(scheme, activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2, width=width,
                      batch_size=batch_size)


# -- named constructors (stax style) --------------------------------------------------------------


def Plain(activation="relu", sigma_w2=None, sigma_b2=0.0) -> DenseBlock:  # noqa: N802
    """Plain dense block (MimicNorm Eq. 2): ``T(c) = sigma_w2 E[phi(u)phi(v)] + sigma_b2``."""
    return dense("plain", activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)


def WeightMean(activation="relu", sigma_w2=None, sigma_b2=0.0, width=math.inf) -> DenseBlock:  # noqa: N802
    """Weight-mean dense block (MimicNorm §3, Lemma 1, Theorem 3): layer-input kernel
    ``(n - 1)/n (E[phi phi] - E[phi] E[phi])`` with ``n = width``."""
    return dense("weight-mean", activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2, width=width)


def BatchNorm(activation="relu", batch_size=None) -> DenseBlock:  # noqa: N802
    """Dense block + batch norm, idealised full batch (MimicNorm Eq. 9, Theorem 2):
    ``c' = (E[phi phi] - E[phi]E[phi]) / sqrt(V(q1) V(q2))``, ``q' = 1``: ``T_BN = T_bar``.
    ``batch_size`` makes ``apply`` normalise consecutive mini-batches of that size."""
    return dense("bn", activation, batch_size=batch_size)


def MiniBatchNorm(activation="relu", batch_size=32) -> DenseBlock:  # noqa: N802
    """:func:`BatchNorm` over mini-batches of ``batch_size`` consecutive examples; its theory
    (symmetric fixed point ``c* = -1/(B - 1)``, ``chi_1(B)``, gradient growth ``lambda(B)``) is
    :func:`kernelnorm.minibatch_theory`.

    Example: ``kernelnorm.chi_1(MiniBatchNorm("relu", 8))`` is 1.6003 (``pi/(pi - 1)`` as
    ``B -> inf``)."""
    return BatchNorm(activation, batch_size=batch_size)


def LayerNorm(activation="relu", sigma_w2=None, sigma_b2=0.0) -> DenseBlock:  # noqa: N802
    """Dense block + layer norm: the plain kernel normalised to unit length,
    ``(1, 1, c_plain / sqrt(q1_plain q2_plain))``.

    Example: ``LayerNorm("relu").kernel_map(1.0, 1.0, 0.0)`` gives ``(1, 1, 1/pi)``."""
    return dense("ln", activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)


def input_kernel(block: DenseBlock, k0):
    """``K1 = sigma_w2 K0 + sigma_b2`` of ``block``'s first layer (:meth:`DenseBlock.input_kernel`)."""
    return block.input_kernel(k0)


def init_sigma_w2(scheme: Scheme, activation, *, fan_in: int, first: bool,
                  transformed: bool | None = None) -> float:
    """``sigma_w^2`` of a layer's ``N(0, sigma_w^2 / fan_in)`` weights, for every engine (the
    random conv nets, the trainable nets): the stable init ``q* = 1`` (:func:`stable_init`) of
    the layer's dense block, for the network's activation.

    * the first layer (it reads data), layers followed by a scale-fixing normaliser (the scale
      drops out) and ``init="he"``: the plain block's value (ReLU: He's 2; tanh:
      ``1 / E[tanh(z)^2]``);
    * other layers: their own block, with the weight transform where the registry's rule
      applies it (weight mean: MimicNorm Theorem 3 at this fan-in, ReLU ``2n/((n-1)(1-1/pi))``;
      WS: ``1 / Var phi(z)``, ReLU ``2/(1 - 1/pi)``, the gain of Brock et al. 2021) and its
      centring normaliser (mean-only BN: ``1 / Var phi(z)``). CZM layers set their own scale
      through ``e^g`` and take the plain value here.

    ``transformed`` overrides the registry rule's verdict for the layer (default: apply it).
    """
    from kernelnorm._transition import stable_init

    plain = stable_init(DenseBlock("plain", activation, sigma_w2=1.0))
    if scheme.init == "he" or scheme.scales or first:
        return plain
    if transformed is None:
        transformed = scheme.transforms_layer(fan_in=fan_in, first=first)
    weights = scheme.weights if transformed and scheme.weights != "czm" else "plain"
    layer = replace(scheme, weights=weights, proxy=False, last_bn=False, residual_scalar=None,
                    fixup=False)
    width = fan_in if weights == "mean" else math.inf
    return stable_init(DenseBlock(layer, activation, sigma_w2=1.0, width=width))
