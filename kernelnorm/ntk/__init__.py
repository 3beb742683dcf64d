"""Infinite-width NNGP/NTK kernels on data sets, condition numbers and phases (docs/theory.md §3, §5).

The recursion (MimicNorm Eq. 5-7) reads only the scheme objects of :mod:`kernelnorm._schemes`,
so plain, weight-mean and batch-norm networks share it. Two paths: the exact recursion on the
``m x m`` Gram matrix (any input norms) and a fast angle-grid recursion with a stated, tested
interpolation error bound (inputs of equal norm). JAX is used for the ``m^2`` array work only.
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
from kernelnorm.ntk._grid import DEFAULT_RTOL, AngleSpline, GridKernels, grid_kernels
from kernelnorm.ntk._recursion import LayerKernels, exact_gram_kernels, input_gram, layer_kernels

__all__ = [
    "AngleSpline", "ConditionReport", "DEFAULT_RTOL", "GridKernels", "LayerKernels", "METHODS",
    "NTKGram", "Spectrum", "check_inputs", "exact_gram_kernels", "grid_kernels", "input_gram",
    "kappa_vs_depth", "kappa_vs_size", "layer_kernels", "ntk_condition", "ntk_gram", "ntk_grams",
    "scheme_phase", "spectrum",
]
