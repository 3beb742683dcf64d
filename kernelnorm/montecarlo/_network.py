"""Finite random networks built from the analytic core's scheme objects.

A network of depth ``L`` is ``h_1 = first_layer(scheme)`` applied to the inputs (a plain dense
map, whose kernel is :func:`kernelnorm.input_kernel`), then ``h_{l+1} = scheme.apply(params_l,
h_l)`` with ``params_l = scheme.init(key_l, n, n)``: exactly the objects whose ``kernel_map``
the analytic core iterates. Seeds are batched with ``jax.vmap``, depth runs in ``lax.scan``,
and weights are drawn inside the scan from explicit keys (never stored).

Two engines give the same law of the pre-activations:

* ``"weights"``: the literal network, ``n x n`` Gaussian weights per layer.
* ``"reduced"``: :func:`reduce_layer_input` replaces the ``(B, n)`` layer input by a
  ``(B, B + 1)`` matrix ``R`` with ``x @ W = R @ W'`` for ``W' = (QH)^T W``, which again has iid
  ``N(0, 1)`` entries; the scheme's own ``init``/``apply`` then run at fan-in ``B + 1``. It draws
  ``(B + 1) n`` instead of ``n^2`` normals per layer and is used whenever ``B + 1 < n`` and the
  block is linear in ``W`` (``DenseBlock.reducible``).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from kernelnorm._errors import (
    KernelnormInputError,
    check_block,
    check_choice,
    check_index_pairs,
    check_int,
    check_seed,
)
from kernelnorm._resources import FLOAT64, FLOPS_PER_SECOND, PYTHON_STEP_SECONDS, require

ENGINES = ("reduced", "weights")

#: Relative diagonal jitter of the Gram factorisation (makes duplicated inputs factorisable);
#: the sampled law differs from the exact one by an independent perturbation of this
#: relative variance.
JITTER = {"float64": 1e-12, "float32": 1e-6}


class LayerStatistics(NamedTuple):
    """Per-layer kernels of one network (leading axes: seeds if batched, then depth).

    Attributes:
        lengths: ``q_a = mean_j h_aj^2`` for every input, ``(..., depth, m)``.
        covariances: ``c_p = mean_j h_aj h_bj`` for every tracked pair, ``(..., depth, P)``.
        correlations: ``c_p / sqrt(q_a q_b)``, ``(..., depth, P)``.
    """

    lengths: object
    covariances: object
    correlations: object


def first_layer(scheme):
    """The plain dense map on the inputs (``K1 = sigma_w2 K0 + sigma_b2``, ``input_kernel``)."""
    return scheme.first_layer()


def reduce_layer_input(x, *, jitter: float | None = None):
    """Exact reduction of a dense layer input ``x`` ``(B, n)`` to ``R`` ``(B, B + 1)``.

    With ``X = [1/sqrt(n); x]`` (``k = B + 1`` rows) and the Cholesky factor ``X X^T = L L^T``,
    ``X = L Q^T`` with orthonormal rows ``Q^T`` whose first row is ``1/sqrt(n)``. A Householder
    reflection ``H`` maps ``e_1`` to ``1_k/sqrt(k)``; then, for any ``W`` ``(n, n_out)``,

        x @ W = R0 @ W',   x @ W_bar = R0 @ W'_bar,   R0 = L[1:] H,  W' = H Q^T W,

    where ``W_bar`` is the fan-in-centred weight (MimicNorm Eq. 10) on both sides. ``W'`` has
    iid ``N(0, 1)`` entries when ``W`` does. The returned ``R = sqrt(k/n) R0`` absorbs the
    change of the ``sqrt(sigma_w2 / fan_in)`` scale, so ``scheme.apply(init(key, k, m), R,
    activate=False)`` has the law of ``scheme.apply(init(key, n, m), x, activate=False)``
    for blocks linear in ``W`` (``DenseBlock.reducible``: plain and weight mean; weight
    standardisation divides by ``||W||`` and runs on literal weights).

    Args:
        x: layer input (after the activation), ``(B, n)`` with ``B + 1 <= n``.
        jitter: relative diagonal jitter of ``X X^T`` (default :data:`JITTER` for the dtype).
    """
    import jax.numpy as jnp

    batch, n = x.shape
    k = batch + 1
    if jitter is None:
        jitter = JITTER.get(str(x.dtype), 1e-6)
    ones = jnp.full((1, n), 1.0 / math.sqrt(n), dtype=x.dtype)
    augmented = jnp.concatenate([ones, x], axis=0)
    gram = augmented @ augmented.T
    gram = gram + (jitter * jnp.trace(gram) / k) * jnp.eye(k, dtype=x.dtype)
    lower = jnp.linalg.cholesky(gram)[1:]
    v = -jnp.full((k,), 1.0 / math.sqrt(k), dtype=x.dtype)
    v = v.at[0].add(1.0)
    reflected = lower - (2.0 / (v @ v)) * jnp.outer(lower @ v, v)
    return math.sqrt(k / n) * reflected


def _layer(scheme, key, h, width: int, *, first: bool, engine: str):
    block = first_layer(scheme) if first else scheme
    x = h if first else scheme.activation_step(h)
    if engine == "reduced" and block.reducible and x.shape[0] + 1 < x.shape[1]:
        x = reduce_layer_input(x)
    params = block.init(key, x.shape[1], width)
    return block.apply(params, x, activate=False)


def _statistics(h, pairs) -> LayerStatistics:
    import jax.numpy as jnp

    lengths = jnp.mean(h * h, axis=-1)
    covariances = jnp.mean(h[pairs[:, 0]] * h[pairs[:, 1]], axis=-1)
    correlations = covariances / jnp.sqrt(lengths[pairs[:, 0]] * lengths[pairs[:, 1]])
    return LayerStatistics(lengths, covariances, correlations)


def check_network(width: int, depth: int, engine: str) -> None:
    check_int("--width", width, low=2)
    check_int("--depth", depth)
    check_choice("--engine", engine, ENGINES)


def _driver(**values) -> str:
    """The flag of the largest of several factors of one cost (``depth=10**9`` -> ``--depth``)."""
    name = max(values, key=lambda k: values[k])
    return "--" + name.replace("_", "-")


def check_sampling(scheme, x, pairs, *, seed: int, seeds: int, width: int, depth: int,
                   engine: str = "reduced", chunk: int | None = None) -> float:
    """Validate a :func:`sample_statistics` request and refuse it, before any work, if its
    memory or time does not fit (``kernelnorm._resources``); returns the estimated seconds.

    With ``m`` inputs of dimension ``n0``, ``P`` pairs, ``S`` seeds, ``C`` networks per chunk,
    width ``n``, depth ``L`` and the layer fan-in ``k`` (``m + 1`` on the reduced engine when
    ``m + 1 < n``, else ``n``), in float64:

    * host memory: the returned statistics ``8 S L (m + 2P)`` bytes;
    * device memory: per chunk the stacked statistics ``8 C L (m + 2P)``, the layer's
      activations ``4 x 8 C m n``, its weights ``2 x 8 C k n`` and the first layer's input
      ``8 C (m + 1) n0``;
    * time: ``2 S L m k n`` flops plus ``L`` Python steps of the prediction.
    """
    check_block("scheme", scheme)
    check_network(width, depth, engine)
    check_seed("--seed", seed)
    seeds = check_int("--seeds", seeds)
    if chunk is not None:
        check_int("--chunk", chunk)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise KernelnormInputError("x", f"expected a non-empty (m, d) array of inputs, got shape {x.shape}")
    m, n0 = x.shape
    pair_count = len(check_index_pairs("pairs", pairs, m))
    per_chunk = min(chunk or seeds, seeds)
    fan_in = m + 1 if engine == "reduced" and scheme.reducible and m + 1 < width else width
    stats = m + 2 * pair_count
    what = f"sampling {seeds} networks of width {width} and depth {depth}"
    require(what, memory=[(FLOAT64 * seeds * depth * stats, _driver(depth=depth, seeds=seeds))])
    return require(what, device=True, memory=[
        (FLOAT64 * per_chunk * depth * stats, "--depth"),
        (FLOAT64 * per_chunk * (4 * m + 2 * fan_in) * width, "--width"),
        (FLOAT64 * per_chunk * (m + 1) * n0, "--input-dim"),
    ], seconds=[(2.0 * seeds * depth * m * fan_in * width / FLOPS_PER_SECOND
                 + depth * PYTHON_STEP_SECONDS, _driver(depth=depth, width=width, seeds=seeds))])


def check_gradients(scheme, x, *, seed: int, seeds: int, width: int, depth: int,
                    jacobian: bool = False) -> float:
    """Validate a gradient request (:func:`sample_gradient_statistics`, or one network's
    :func:`empirical_ntk` when ``jacobian``) and refuse it if it does not fit.

    Literal weights, ``S`` seeds at once: memory ``8 S (2 n^2 + 3 L m n)`` (two layers'
    weights, the layer inputs kept for the backward scan), time ``6 S L m n^2`` flops. The
    empirical NTK keeps the ``m x (L n^2)`` Jacobian: ``2 x 8 m L n^2`` bytes, ``2 m^2 L n^2``
    flops.
    """
    check_block("scheme", scheme)
    check_network(width, depth, "weights")
    check_seed("--seed", seed)
    seeds = check_int("--seeds", seeds)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise KernelnormInputError("x", f"expected a non-empty (m, d) array of inputs, got shape {x.shape}")
    m = x.shape[0]
    what = f"gradients of {seeds} networks of width {width} and depth {depth}"
    if jacobian:
        return require(what, device=True, memory=[(2 * FLOAT64 * m * depth * width * width, "--width")],
                       seconds=[(2.0 * m * m * depth * width * width / FLOPS_PER_SECOND, "--width")])
    return require(what, device=True, memory=[
        (FLOAT64 * seeds * 2 * width * width, "--width"),
        (FLOAT64 * seeds * 3 * depth * m * width, _driver(depth=depth, seeds=seeds)),
    ], seconds=[(6.0 * seeds * depth * m * width * width / FLOPS_PER_SECOND,
                 _driver(depth=depth, width=width, seeds=seeds))])


def network_statistics(scheme, x, pairs, *, key, width: int, depth: int, engine: str = "reduced"):
    """Per-layer :class:`LayerStatistics` of one random network (JAX-traceable in ``key``).

    Args:
        scheme: a :class:`kernelnorm.DenseBlock`.
        x: inputs ``(m, n0)``; ``pairs``: int ``(P, 2)`` rows of ``x`` to track.
        key: the network's PRNG key; ``width``, ``depth``: hidden width and number of layers.
        engine: ``"reduced"`` (same law, fewer random numbers) or ``"weights"`` (literal).
    """
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(key, depth)
    h = _layer(scheme, keys[0], x, width, first=True, engine=engine)
    first_stats = _statistics(h, pairs)
    if depth == 1:
        return jax.tree_util.tree_map(lambda a: a[None], first_stats)

    def step(h, layer_key):
        h = _layer(scheme, layer_key, h, width, first=False, engine=engine)
        return h, _statistics(h, pairs)

    _, rest = jax.lax.scan(step, h, keys[1:])
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first_stats, rest)


@functools.lru_cache(maxsize=32)
def _compiled(scheme, width: int, depth: int, engine: str):
    import jax

    def run(key_data, x, pairs):
        one = lambda k: network_statistics(  # noqa: E731
            scheme, x, pairs, key=jax.random.wrap_key_data(k), width=width, depth=depth,
            engine=engine)
        return jax.vmap(one)(key_data)

    return jax.jit(run)


def _fetch(count, result, progress):
    import jax

    from kernelnorm._sharding import fetch

    result = jax.tree_util.tree_map(lambda a: a[:count], fetch(result))
    if progress is not None:
        progress(count)
    return result


def seed_keys(seed: int, seeds: int):
    """``seeds`` independent keys derived from the integer ``seed`` (same seed, same keys)."""
    import jax

    seeds = check_int("--seeds", seeds)
    require(f"{seeds} seed keys", memory=[(2 * FLOAT64 * seeds, "--seeds")])
    return jax.random.split(jax.random.key(check_seed("--seed", seed)), seeds)


def sample_statistics(scheme, x, pairs, *, seed: int, seeds: int, width: int, depth: int,
                      engine: str = "reduced", chunk: int | None = None, progress=None):
    """:func:`network_statistics` for ``seeds`` networks, ``vmap``-ed in chunks of ``chunk``.

    Returns numpy :class:`LayerStatistics` with leading axes ``(seeds, depth)``. ``progress``,
    if given, is called with the number of networks finished after every chunk. The result
    does not depend on ``chunk`` (keys are split once from ``seed``). On CPU, ``chunk=1``
    (unbatched GEMMs) was ~1.7x faster than one ``vmap`` over 8 seeds for width 2048
    (``benchmarks/mc_throughput.py``); batching pays off for narrow nets and accelerators.

    With several devices (``jax.device_count() > 1``: several GPUs, or hosts joined by
    ``jax.distributed.initialize()``) each chunk, rounded up to a multiple of the device count,
    is split over them (:mod:`kernelnorm._sharding`): the same numbers, each device its share.
    """
    import jax

    from kernelnorm._sharding import device_count, place

    check_sampling(scheme, x, pairs, seed=seed, seeds=seeds, width=width, depth=depth,
                   engine=engine, chunk=chunk)
    chunk = seeds if chunk is None else max(1, min(chunk, seeds))
    devices = device_count()
    chunk = -(-chunk // devices) * devices
    run = _compiled(scheme, int(width), int(depth), engine)
    keys = np.asarray(jax.random.key_data(seed_keys(seed, seeds)))
    x, pairs = place(x, split=False), place(pairs, split=False)
    parts = []
    for start in range(0, seeds, chunk):
        block = keys[start:start + chunk]
        if len(block) < chunk:  # keep one compiled shape: pad, then drop the padding
            block = np.concatenate([block, np.resize(keys, (chunk - len(block),) + keys.shape[1:])])
        parts.append(_fetch(min(chunk, seeds - start), run(place(block, split=True), x, pairs),
                            progress))
    return LayerStatistics(*(np.concatenate([getattr(p, f) for p in parts]) for f in LayerStatistics._fields))


def layer_activations(scheme, x, *, key, width: int, depth: int, layers, units: int | None = None,
                      engine: str = "weights"):
    """Pre-activations ``h_l`` of one random network at the 1-based ``layers``, ``(len(layers),
    m, units)`` numpy: the first ``units`` units (default all) of every input of ``x`` (MimicNorm
    Figs. 2-3 show 30 channels of a 51-layer net). Same law as :func:`network_statistics`."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    check_network(width, depth, engine)
    layers = sorted({int(layer) for layer in layers})
    if not layers or layers[0] < 1 or layers[-1] > depth:
        raise KernelnormInputError("--layers", f"must lie in [1, {depth}], got {layers}")
    units = width if units is None else min(int(units), width)
    keep = jnp.asarray([layer - 1 for layer in layers])

    @jax.jit
    def run(key, x):
        keys = jax.random.split(key, depth)
        h = _layer(scheme, keys[0], x, width, first=True, engine=engine)

        def step(h, layer_key):
            h = _layer(scheme, layer_key, h, width, first=False, engine=engine)
            return h, h[:, :units]

        _, rest = jax.lax.scan(step, h, keys[1:])
        return jnp.concatenate([h[None, :, :units], rest])[keep]

    return np.asarray(run(key, jnp.asarray(x)))
