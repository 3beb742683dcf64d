"""Weight mean as neural-tangents stax layers (pinned: neural-tangents 0.6.5, jax 0.4.38).

Weight mean centres each output unit's weights over its fan-in, ``W_bar = W - w 1^T``, which
equals centring the layer input across units, ``W_bar phi = W (phi - mean_j phi_j 1)``
(MimicNorm §3, docs/theory.md §2). In the wide limit the across-unit mean is ``E[phi(u)]``, so the
layer input's kernel becomes ``E[phi(u)phi(v)] - E[phi(u)]E[phi(v)]`` while
``E[phi'(u)phi'(v)]`` (hence the NTK factor) is unchanged. :func:`Centred` expresses exactly
that as a stax layer around any neural-tangents activation layer, so dense *and* convolutional
networks (NNGP/CNN-GP, NTK/CNTK) with weight mean get infinite-width kernels.

Independence for the oracle: ``E[phi(u)phi(v)]`` and the NTK algebra are neural-tangents' own;
kernelnorm supplies only the mean ``E[phi(u)]`` (for homogeneous activations the single
constant ``E[phi(z)]``, ``z ~ N(0, 1)``; otherwise Gauss-Hermite quadrature in JAX of the
activation's own ``function``) and the scheme's ``sigma_w2``/``sigma_b2``/width.

neural_tangents is imported inside the functions: the main package never needs it.

Convolutions: the finite ``apply_fn`` subtracts the mean over channels at each position; the
kernel subtracts ``E[phi(u_p)]E[phi(v_p')]`` per position pair. For dense layers and ``1x1``
filters this is weight mean exactly; for ``k x k`` filters weight mean centres over the whole
patch, which agrees when the input variance is constant across the patch.
"""

from __future__ import annotations

import math

from kernelnorm._activations import gauss_hermite, get_activation
from kernelnorm._errors import KernelnormInputError

#: Gauss-Hermite order of ``E[phi(u)]`` for activations that are not positively homogeneous.
MEAN_QUADRATURE_ORDER = 96


def activation_mean_fn(activation):
    """JAX-traceable ``q -> E[phi(u)]``, ``u ~ N(0, q)``.

    Homogeneous ``phi`` (ReLU, identity): ``sqrt(q) * E[phi(z)]`` with the constant taken from
    :meth:`kernelnorm.Activation.mean` (ReLU: ``sqrt(q / (2 pi))``). Others: Gauss-Hermite
    quadrature of ``activation.function`` (which accepts JAX arrays).
    """
    import jax.numpy as jnp

    activation = get_activation(activation)
    if activation.homogeneous:
        unit_mean = float(activation.mean(1.0))
        return lambda q: unit_mean * jnp.sqrt(q)
    nodes, weights = gauss_hermite(MEAN_QUADRATURE_ORDER)

    def mean(q):
        return jnp.sum(jnp.asarray(weights) * activation.function(jnp.sqrt(q) * jnp.asarray(nodes)))

    return mean


def nt_activation(activation):
    """The neural-tangents layer of a kernelnorm activation name (its own closed forms)."""
    from neural_tangents import stax

    name = get_activation(activation).name
    layers = {"relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu, "identity": stax.Identity}
    if name not in layers:
        raise KernelnormInputError(
            "--activation", f"neural-tangents adapter supports {', '.join(layers)}, got {name!r}")
    return layers[name]()


def Centred(activation_layer, mean_fn, *, channel_axis: int = -1):  # noqa: N802 (stax style)
    """Wrap a stax activation layer so that its output is centred: weight mean of the next layer.

    Kernel (docs/theory.md §2, MimicNorm Lemma 1 at infinite width):
    ``nngp' = E[phi(u)phi(v)] - mean_fn(q_u) mean_fn(q_v)``, ``cov1/cov2`` likewise, ``ntk``
    unchanged from the wrapped layer (the derivative kernel does not see the shift).

    Args:
        activation_layer: ``(init_fn, apply_fn, kernel_fn)`` of a neural-tangents activation.
        mean_fn: JAX-traceable ``q -> E[phi(u)]`` (:func:`activation_mean_fn`).
        channel_axis: the unit axis the finite ``apply_fn`` centres over.
    """
    from neural_tangents._src.stax.elementwise import _vmap_2d
    from neural_tangents._src.stax.requirements import (
        Diagonal,
        get_diagonal,
        layer,
        requires,
        supports_masking,
    )

    inner_init, inner_apply, inner_kernel = activation_layer

    def shift(cov, var1, var2, diagonal_batch, diagonal_spatial):
        product = lambda c, v1, v2: mean_fn(v1) * mean_fn(v2) + 0.0 * c  # noqa: E731
        return cov - _vmap_2d(product, cov, var1, var2, diagonal_batch, diagonal_spatial)

    @layer
    @supports_masking(remask_kernel=True)
    def _centred():
        def apply_fn(params, inputs, mask=None, **kwargs):
            out = inner_apply(params, inputs, **kwargs)  # masking is handled by our wrapper
            return out - out.mean(axis=channel_axis, keepdims=True)

        @requires(diagonal_spatial=Diagonal())
        def kernel_fn(k, **kwargs):
            var1 = get_diagonal(k.cov1, k.diagonal_batch, k.diagonal_spatial)
            var2 = get_diagonal(k.cov2, k.diagonal_batch, k.diagonal_spatial)
            out = inner_kernel(k, **kwargs)
            nngp = shift(out.nngp, var1, var2, False, k.diagonal_spatial)
            cov1 = shift(out.cov1, var1, None, k.diagonal_batch, k.diagonal_spatial)
            cov2 = (None if out.cov2 is None
                    else shift(out.cov2, var2, None, k.diagonal_batch, k.diagonal_spatial))
            return out.replace(nngp=nngp, cov1=cov1, cov2=cov2)

        return inner_init, apply_fn, kernel_fn

    return _centred()


def _block_layers(scheme):
    """``(activation layer, W_std of the dense/conv layers after the first)`` for a scheme."""
    parts = getattr(scheme, "scheme", None)
    if parts is None or parts.weights not in ("plain", "mean") or parts.normaliser is not None \
            or parts.proxy:
        raise KernelnormInputError("--norm", "the neural-tangents adapter covers blocks with "
                                   "plain or weight-mean weights and no normaliser, got "
                                   f"{getattr(scheme, 'name', scheme)!r}")
    activation = nt_activation(scheme.activation)
    if parts.weights == "plain":
        return activation, math.sqrt(scheme.sigma_w2)
    centred = Centred(activation, activation_mean_fn(scheme.activation))
    # Lemma 1's (n_i - 1)/n_i multiplies the layer-input kernel: fold it into W_std^2.
    return centred, math.sqrt(scheme.sigma_w2 * scheme.finite_width_factor)


def _bias_std(scheme):
    return math.sqrt(scheme.sigma_b2) if scheme.sigma_b2 > 0 else None


def fc_network(scheme, depth: int, *, width: int = 512):
    """A depth-``L`` dense network of the scheme as ``stax.serial`` (NTK parameterisation).

    Layer 1 is a plain dense map of the inputs (``K_1 = sigma_w2 x.x'/d + sigma_b2``); each
    further layer is activation (centred for weight mean) then dense, matching
    :func:`kernelnorm.ntk.layer_kernels`. The output is ``h_L`` (``width`` units for
    ``apply_fn``; kernels do not depend on it).
    """
    from neural_tangents import stax

    activation, w_std = _block_layers(scheme)
    b_std = _bias_std(scheme)
    layers = [stax.Dense(width, W_std=math.sqrt(scheme.sigma_w2), b_std=b_std)]
    for _ in range(int(depth) - 1):
        layers += [activation, stax.Dense(width, W_std=w_std, b_std=b_std)]
    return stax.serial(*layers)


def conv_network(scheme, depth: int, *, channels: int = 128, filter_shape=(3, 3),
                 padding: str = "CIRCULAR", readout: str = "flatten", layer_norm: bool = False):
    """CNN-GP / CNTK of a depth-``L`` convolutional network of the scheme (NHWC inputs).

    Conv layers as in :func:`fc_network` (weight mean through :func:`Centred`), each followed by
    neural-tangents' ``LayerNorm`` over positions and channels when ``layer_norm``, then
    ``readout`` (``flatten`` or ``gap``, global average pooling) and a dense output unit.
    """
    from neural_tangents import stax

    activation, w_std = _block_layers(scheme)
    b_std = _bias_std(scheme)
    norm = [stax.LayerNorm(axis=(1, 2, 3))] if layer_norm else []
    conv = lambda s: [stax.Conv(channels, filter_shape, padding=padding, W_std=s, b_std=b_std),  # noqa: E731
                      *norm]
    layers = conv(math.sqrt(scheme.sigma_w2))
    for _ in range(int(depth) - 1):
        layers += [activation, *conv(w_std)]
    pool = {"flatten": stax.Flatten, "gap": stax.GlobalAvgPool}
    if readout not in pool:
        raise KernelnormInputError("--readout", f"choose from {', '.join(pool)}, got {readout!r}")
    layers += [activation, pool[readout](), stax.Dense(1, W_std=w_std, b_std=b_std)]
    return stax.serial(*layers)
