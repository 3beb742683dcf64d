"""Trainable JAX networks with every normalisation scheme behind one ``norm=`` switch.

Plain pytrees (dicts of arrays) + optax; the finite-network operations are the shared ones of
:mod:`kernelnorm._ops`, the Theorem 3 scale comes from the analytic solver.
"""

from kernelnorm.nn._layers import LayerInfo, theorem3_sigma_w2
from kernelnorm.nn._models import (
    MODEL_NAMES,
    RESNET_LAYOUTS,
    VGG_LAYOUTS,
    Network,
    build_network,
    residual_scalar_init,
)
from kernelnorm.nn._schemes import SCHEME_NAMES, SCHEMES, NormScheme, get_scheme

__all__ = [
    "LayerInfo", "MODEL_NAMES", "Network", "NormScheme", "RESNET_LAYOUTS", "SCHEMES",
    "SCHEME_NAMES", "VGG_LAYOUTS", "build_network", "get_scheme", "residual_scalar_init",
    "theorem3_sigma_w2",
]
