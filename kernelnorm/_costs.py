"""Cost formulas of the engines' requests, checked before any work (``kernelnorm._resources``).

Each ``check_*`` validates the arguments of one engine entry point, estimates its memory
(bytes of the largest arrays) and time (operation counts at the optimistic rates of
``kernelnorm._resources``), and refuses the request naming the argument that drives the cost.
The engines call them first thing; the CLI may call them earlier with its own flag names.
"""

from __future__ import annotations

import math

from kernelnorm._errors import KernelnormInputError, check_block, check_int, check_seed
from kernelnorm._resources import (
    ELEMENTS_PER_SECOND,
    FLOAT32,
    FLOAT64,
    FLOPS_PER_SECOND,
    PYTHON_STEP_SECONDS,
    require,
)

#: The NTK stays below this (float64 overflows at 1.8e308; the eigen-solver squares entries).
MAX_NTK = 1e150
#: Angle-grid points of the NTK fast path before refinement (``kernelnorm.ntk._grid.MIN_GRID``).
NTK_MIN_GRID = 65


def _kernel_seconds_per_point(scheme) -> float:
    """Seconds to evaluate one layer's kernel map and derivative kernel at one point: a few
    element-wise operations in closed form, two 2-D Gauss-Hermite rules otherwise."""
    activation = scheme.activation_step
    if activation.closed_form:
        return 20.0 / ELEMENTS_PER_SECOND
    return 2.0 * activation.quadrature_order**2 / ELEMENTS_PER_SECOND


def check_ntk_request(scheme, m: int, depths, *, grid: bool, depth_argument: str = "--depth",
                      points_argument: str = "--max-points") -> float:
    """Refuse an NTK recursion that does not fit; returns its estimated seconds.

    ``m`` inputs, requested depths ``L_1 < ... < L_K`` (``D = L_K``), grid path or exact path:

    * memory: the ``(m, m)`` float64 Gram matrices, ``8 m^2 (8 + 4K)`` bytes on the exact path
      (working arrays + two kept per requested depth), ``8 m^2 (2 + 2K)`` on the grid path,
      plus the grid nodes ``2 x 8 G K``;
    * time: ``D`` layers of ``P`` points (``m^2`` exact, ``G`` grid) at the kernel's cost per
      point plus a Python step per layer, and ``K`` eigen-solves of ``10 m^3`` flops;
    * range: the NTK grows like ``chi_1^L`` in the chaotic phase; a depth where it would pass
      ``1e150`` (float64 and the eigen-solver) is refused with the largest usable depth.
    """
    from kernelnorm._transition import chi_1

    check_block("scheme", scheme)
    depths = sorted({check_int(depth_argument, d) for d in depths})
    m = check_int(points_argument, m)
    deepest, count = depths[-1], len(depths)
    points = NTK_MIN_GRID if grid else m * m
    gram = FLOAT64 * m * m
    what = f"the NTK of {m} inputs to depth {deepest}"
    require(what, memory=[(gram * ((2 + 2 * count) if grid else (8 + 4 * count)), points_argument),
                          (2 * FLOAT64 * NTK_MIN_GRID * count if grid else 0, depth_argument)])
    chi = chi_1(scheme)
    if chi > 1.0 and deepest * math.log(chi) > math.log(MAX_NTK):
        usable = int(math.log(MAX_NTK) / math.log(chi))
        raise KernelnormInputError(
            depth_argument, f"the NTK grows like chi_1^L = {chi:.6g}^{deepest} and leaves the "
                            f"float64 range beyond depth {usable} ({scheme.name} is chaotic)")
    layer = PYTHON_STEP_SECONDS + points * _kernel_seconds_per_point(scheme)
    return require(what, seconds=[(deepest * layer, depth_argument),
                                  (count * 10.0 * m**3 / FLOPS_PER_SECOND, points_argument)])


def check_matrix_free_request(scheme, m: int, depth: int, dim: int, *, block: int | None = None,
                              points_argument: str = "--max-points") -> float:
    """Refuse a matrix-free eigen-solve (:mod:`kernelnorm.ntk._matrix_free`) that does not fit.

    Memory: one pass of :mod:`kernelnorm.ntk._blockwise` (the doubled inputs, trajectory and
    block of Lanczos vectors, the shards' accumulators, the ``(b, W)`` working arrays) plus the
    Lanczos basis after ``40`` passes (``8 m x 32 x 40`` bytes). Time: at least ``40`` products
    (block Lanczos on 32 vectors; measured 50-70 for ``tol = 1e-6 .. 1e-8``), each ``L m^2 / 2``
    pair-layers at the kernel's cost per point, and one tracked pass for the error bound; the
    chaotic-range check of :func:`check_ntk_request`.
    """
    from kernelnorm._transition import chi_1
    from kernelnorm.ntk._blockwise import DEFAULT_STEP, layout_bytes

    check_block("scheme", scheme)
    m = check_int(points_argument, m)
    depth = check_int("--depth", depth)
    what = f"the matrix-free NTK eigenvalues of {m} inputs at depth {depth}"
    step = DEFAULT_STEP if block is None else check_int("block", block)
    require(what, memory=[(layout_bytes(m, dim, depth, 32, step), points_argument),
                          (40 * 32 * FLOAT64 * m, points_argument)])
    chi = chi_1(scheme)
    if chi > 1.0 and depth * math.log(chi) > math.log(MAX_NTK):
        raise KernelnormInputError(
            "--depth", f"the NTK grows like chi_1^L = {chi:.6g}^{depth} and leaves the float64 "
                       f"range beyond depth {int(math.log(MAX_NTK) / math.log(chi))}")
    pair_layers = depth * m * m / 2.0
    return require(what, seconds=[(41 * pair_layers * _kernel_seconds_per_point(scheme),
                                   points_argument)])


def check_power_request(*, depth: int, width: int, realisations: int, n_inputs: int,
                        resolution: int, spatial: int = 2, in_channels: int = 3,
                        kernel_size: int = 3, dtype: str = "float32") -> float:
    """Refuse a random conv net power profile that does not fit; returns its seconds.

    ``N`` inputs of ``R^s`` positions, ``C`` channels, ``k^s`` kernels, depth ``L``, ``R_n``
    realisations, item size ``b``: device memory ``6 b N R^s C`` (activations, normalised and
    activated copies) plus the weights ``b k^s C^2`` and the inputs ``b N R^s C_in``; time
    ``2 N R^s k^s C^2 L R_n`` flops.
    """
    for name, value in (("--depth", depth), ("--width", width), ("--realisations", realisations),
                        ("--inputs", n_inputs), ("--resolution", resolution)):
        check_int(name, value)
    item = FLOAT64 if dtype == "float64" else FLOAT32
    positions = resolution**spatial
    taps = kernel_size**spatial
    what = f"{realisations} random conv nets of width {width} and depth {depth}"
    activations = 6 * item * n_inputs * positions * width
    driver = "--inputs" if n_inputs * positions >= width else "--width"
    if positions > n_inputs and positions > width:
        driver = "--resolution"
    return require(what, device=True, memory=[
        (activations, driver),
        (item * taps * width * width, "--width"),
        (item * n_inputs * positions * in_channels, "--inputs"),
    ], seconds=[(2.0 * n_inputs * positions * taps * width * width * depth * realisations
                 / FLOPS_PER_SECOND, max((depth, "--depth"), (realisations, "--realisations"),
                                         (width, "--width"), (n_inputs, "--inputs"))[1])])


def check_power_inputs(n_inputs: int, resolution: int, *, spatial: int = 2, channels: int = 3) -> None:
    """Inputs of the random conv nets: ``N`` images of ``R^s`` positions, built in float64
    with two temporaries: ``3 x 8 N R^s C`` bytes."""
    n_inputs = check_int("--inputs", n_inputs)
    resolution = check_int("--resolution", resolution)
    size = 3 * FLOAT64 * n_inputs * resolution**spatial * channels
    driver = "--inputs" if n_inputs >= resolution**spatial else "--resolution"
    require(f"{n_inputs} inputs at resolution {resolution}", memory=[(size, driver)])


def check_lemma1_request(n_in: int, n_out: int, draws: int, seed: int, *, chunk: int) -> float:
    """Lemma 1's Monte-Carlo: ``D`` draws of an ``(n_i, n_o)`` weight matrix, ``C`` vmapped at
    a time: memory ``3 x 8 C n_i n_o`` (draws, centred copy, outputs) plus the samples
    ``2 x 8 D``; time ``4 D n_i n_o`` flops."""
    n_in = check_int("--n-in", n_in, low=2)
    n_out = check_int("--n-out", n_out, low=2)
    draws = check_int("--draws", draws, low=2)
    check_seed("--seed", seed)
    driver = max((("--draws", draws), ("--n-in", n_in), ("--n-out", n_out)), key=lambda t: t[1])[0]
    return require(f"{draws} draws of a {n_in} x {n_out} weight matrix", device=True,
                   memory=[(3 * FLOAT64 * min(chunk, draws) * n_in * n_out,
                            "--n-in" if n_in > n_out else "--n-out"),
                           (2 * FLOAT64 * draws, "--draws")],
                   seconds=[(4.0 * draws * n_in * n_out / FLOPS_PER_SECOND, driver)])


def check_network_request(model: str, *, input_shape, n_classes: int, batch: int,
                          depth: int = 3, width: int = 128, width_factor: float = 1.0,
                          batch_argument: str = "--batch-size",
                          classes_argument: str = "--classes") -> None:
    """Refuse a trainable network that cannot fit, before its parameters are drawn.

    A lower bound: weights drawn in float64 and kept in float32 with a gradient and a momentum
    buffer, ``(8 + 3 x 4)`` bytes per weight (FCNN: all ``(d + (L - 1) W) W`` of ``L`` layers
    of width ``W`` on ``d`` inputs; CNNs: one ``3 x 3`` convolution between the widest stage's
    channels times ``--width-factor``), the first layer's activations ``2 x 4 B H W C_1`` for
    a batch of ``B`` images, and the classifier.
    """
    from kernelnorm.nn._models import RESNET_LAYOUTS, VGG_LAYOUTS

    pixels = math.prod(int(d) for d in input_shape)
    if model == "fcnn":
        weights, first = (pixels + (depth - 1) * width) * width, width
        argument = "--depth" if depth > max(width, pixels) else "--width"
    elif model in VGG_LAYOUTS or model in RESNET_LAYOUTS:
        if model in VGG_LAYOUTS:
            channels = [c for c in VGG_LAYOUTS[model] if c != "M"]
        else:
            channels = list(RESNET_LAYOUTS[model][0])
        widest = max(1, int(max(channels) * width_factor))
        first = max(1, int(channels[0] * width_factor))
        weights, argument = 9 * widest * widest, "--width-factor"
        first *= math.prod(int(d) for d in input_shape[:-1]) if len(input_shape) == 3 else 1
    else:
        return  # unknown models are refused by build_network
    require(f"the {model} network", memory=[
        ((FLOAT64 + 3 * FLOAT32) * weights, argument),
        (2 * FLOAT32 * batch * first, batch_argument),
        (3 * FLOAT32 * n_classes * max(width, 1), classes_argument),
    ])
