"""Infinite-width NNGP/NTK kernels on data sets, condition numbers and phases (docs/theory.md §3, §5).

The recursion (MimicNorm Eq. 5-7) reads only the scheme objects of :mod:`kernelnorm._schemes`,
so plain, weight-mean and batch-norm networks share it. Two paths: the exact recursion on the
``m x m`` Gram matrix (any input norms) and a fast angle-grid recursion with a stated, tested
interpolation error bound (inputs of equal norm); plain and weight-mean ReLU blocks run the exact
path as one fused jitted loop (:mod:`kernelnorm.ntk._fused`). JAX is used for the ``m^2`` array work only.
"""

from kernelnorm.ntk._condition import (
    METHODS,
    ConditionReport,
    NTKGram,
    Spectrum,
    check_inputs,
    kappa_vs_depth,
    kappa_vs_size,
    ntk_condition,
    ntk_gram,
    ntk_grams,
    scheme_phase,
    spectrum,
)
from kernelnorm.ntk._fused import diagonal_trajectory, fused_supported
from kernelnorm.ntk._matrix_free import (
    DEFAULT_EIGEN_TOL,
    EIGEN_METHODS,
    BlockwiseNTK,
    lanczos_extremes,
    ntk_extreme_eigenvalues,
)
from kernelnorm.ntk._grid import DEFAULT_RTOL, AngleSpline, GridKernels, grid_kernels
from kernelnorm.ntk._recursion import LayerKernels, exact_gram_kernels, input_gram, layer_kernels

__all__ = [
    "AngleSpline", "BlockwiseNTK", "DEFAULT_EIGEN_TOL", "EIGEN_METHODS", "lanczos_extremes", "ntk_extreme_eigenvalues", "ConditionReport", "DEFAULT_RTOL", "GridKernels", "LayerKernels", "METHODS",
    "NTKGram", "Spectrum", "check_inputs", "diagonal_trajectory", "exact_gram_kernels", "fused_supported", "grid_kernels", "input_gram",
    "kappa_vs_depth", "kappa_vs_size", "layer_kernels", "ntk_condition", "ntk_gram", "ntk_grams",
    "scheme_phase", "spectrum",
]
