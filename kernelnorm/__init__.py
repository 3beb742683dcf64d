"""kernelnorm: kernel theory of normalisation-free training, checked against finite networks.

The analytic core (activations, schemes, transition operators) imports only numpy and, lazily,
scipy; JAX is imported by the finite-network, NTK, power and training subpackages only.
"""

from kernelnorm._activations import (
    ACTIVATIONS,
    Activation,
    get_activation,
    relu_derivative_dual,
    relu_dual,
)
from kernelnorm._errors import KernelnormInputError
from kernelnorm._ops import centre_units, standardise, weight_mean
from kernelnorm._schemes import SCHEMES, BatchNorm, Plain, WeightMean, input_kernel, resolve_norm
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
    length_map,
    phase,
    stable_fixed_point,
    stable_init,
    summarise,
    with_stable_init,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Activation", "BatchNorm", "FixedPoint", "KernelnormInputError",
    "LengthFixedPoint", "Plain", "SCHEMES", "TransitionSummary", "WeightMean",
    "centre_units", "chi_1", "correlation_depth_scale", "correlation_map",
    "correlation_map_slope", "critical_line", "depth_scales", "fixed_points", "get_activation",
    "input_kernel", "length_fixed_point", "length_map", "phase", "relu_derivative_dual",
    "relu_dual", "resolve_norm", "stable_fixed_point", "stable_init", "standardise", "summarise",
    "weight_mean", "with_stable_init",
]
