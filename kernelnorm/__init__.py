"""kernelnorm: kernel theory of normalisation-free training, checked against finite networks.

The public API. One registry of normalisation schemes (:data:`SCHEMES`, :func:`get_scheme`)
is read by every engine: the analytic core here (dense blocks, transition operators),
:mod:`kernelnorm.ntk`, :mod:`kernelnorm.montecarlo`, :mod:`kernelnorm.power`,
:mod:`kernelnorm.nn` and :mod:`kernelnorm.train`; data loaders are in :mod:`kernelnorm.data`,
atomic output and script plumbing in :mod:`kernelnorm.io`.

The analytic core imports only numpy and, lazily, scipy; JAX is imported by the finite-network,
NTK, power and training subpackages only.
"""

import os as _os
import sys as _sys

if _sys.argv[:1] == ["-m"] or _os.path.basename(_sys.argv[0] if _sys.argv else "") == "kernelnorm":
    # ``python -m kernelnorm`` or the ``kernelnorm`` console script is starting: Ctrl-C during
    # the imports below is already one line and exit 130 (kernelnorm._guard), not a traceback
    from kernelnorm._guard import install_signal_handlers as _install_signal_handlers

    _install_signal_handlers("kernelnorm")

from kernelnorm._activations import (
    ACTIVATIONS,
    Activation,
    get_activation,
    relu_derivative_dual,
    relu_dual,
)
from kernelnorm._compare import COMPARE_COLUMNS, compare, comparison_schemes
from kernelnorm._errors import KernelnormInputError
from kernelnorm._minibatch import (
    MiniBatchTheory,
    SphereMoments,
    bn_output_gram,
    fixed_point_gram,
    minibatch_grams,
    minibatch_kernel_map,
    minibatch_theory,
    sphere_moments,
)
from kernelnorm._ops import (
    centre,
    centre_units,
    normalise_channels,
    spatial_mean,
    standardise,
    transform_weights,
    weight_mean,
    weight_standardise,
    zero_mean_filters,
    zero_mean_gradient,
)
from kernelnorm._proxy import gaussian_quantiles, proxy_activation, proxy_moments, proxy_normalise
from kernelnorm._registry import (
    AUTHORS_CODE_RULE,
    PAPER_RULE,
    SCHEMES,
    WEIGHT_MEAN_RULES,
    Scheme,
    WeightMeanRule,
    get_scheme,
    norm_help,
    require_engine,
    scheme_names,
)
from kernelnorm._schemes import (
    BatchNorm,
    DenseBlock,
    LayerNorm,
    MiniBatchNorm,
    Plain,
    WeightMean,
    dense,
    init_sigma_w2,
    input_kernel,
)
from kernelnorm._transition import (
    FixedPoint,
    LengthFixedPoint,
    TransitionSummary,
    chi_1,
    correlation_depth_scale,
    correlation_map,
    correlation_map_slope,
    critical_line,
    depth_scales,
    fixed_points,
    length_fixed_point,
    length_fixed_points,
    length_map,
    phase,
    stable_fixed_point,
    stable_init,
    summarise,
    with_stable_init,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "AUTHORS_CODE_RULE", "Activation", "BatchNorm", "COMPARE_COLUMNS",
    "DenseBlock", "FixedPoint", "KernelnormInputError", "LayerNorm", "LengthFixedPoint",
    "MiniBatchNorm", "PAPER_RULE", "Plain", "SCHEMES", "Scheme", "TransitionSummary",
    "WEIGHT_MEAN_RULES", "WeightMean", "WeightMeanRule", "centre", "centre_units", "chi_1",
    "compare", "comparison_schemes", "correlation_depth_scale", "correlation_map",
    "correlation_map_slope", "critical_line", "dense", "depth_scales", "fixed_points",
    "gaussian_quantiles", "get_activation", "get_scheme", "init_sigma_w2", "input_kernel",
    "length_fixed_point", "length_fixed_points", "length_map", "normalise_channels", "norm_help", "phase",
    "proxy_activation", "proxy_moments", "proxy_normalise", "relu_derivative_dual", "relu_dual",
    "require_engine", "scheme_names", "spatial_mean", "stable_fixed_point", "stable_init",
    "standardise", "summarise", "transform_weights", "weight_mean", "weight_standardise",
    "with_stable_init", "zero_mean_filters", "zero_mean_gradient",
    # mini-batch batch norm (kernelnorm._minibatch)
    "MiniBatchTheory", "SphereMoments", "bn_output_gram", "fixed_point_gram", "minibatch_grams",
    "minibatch_kernel_map", "minibatch_theory", "sphere_moments",
]
