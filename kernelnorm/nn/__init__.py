"""Trainable JAX networks with every registered normalisation scheme behind one ``norm=`` switch.

Plain pytrees (dicts of arrays) + optax; schemes come from the one registry
(:func:`kernelnorm.get_scheme`), the finite-network operations are the shared ones of
:mod:`kernelnorm._ops` and init gains the shared stable init (:func:`kernelnorm.init_sigma_w2`).
"""

from kernelnorm.nn._layers import LayerInfo
from kernelnorm.nn._models import (
    MODEL_NAMES,
    RESNET_LAYOUTS,
    VGG_LAYOUTS,
    Network,
    build_network,
    residual_scalar_init,
)

__all__ = [
    "LayerInfo", "MODEL_NAMES", "Network", "RESNET_LAYOUTS", "VGG_LAYOUTS", "build_network",
    "residual_scalar_init",
]
