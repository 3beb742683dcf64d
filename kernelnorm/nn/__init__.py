"""Trainable JAX networks with every registered normalisation scheme behind one ``norm=`` switch.

Plain pytrees (dicts of arrays) + optax; schemes come from the one registry
(:func:`kernelnorm.get_scheme`), the finite-network operations are the shared ones of
:mod:`kernelnorm._ops` and init gains the shared stable init (:func:`kernelnorm.init_sigma_w2`).
"""

from kernelnorm.nn._layers import LayerInfo
from kernelnorm.nn._lightweight import SHUFFLENET_CHANNELS, SQUEEZENET_FIRES
from kernelnorm.nn._models import (
    MODEL_NAMES,
    RESNET_LAYOUTS,
    SHUFFLENETS,
    VGG_HEADS,
    VGG_LAYOUTS,
    Network,
    build_network,
)
from kernelnorm.nn._resnets import (
    RESNETS,
    ResNetLayout,
    fixup_branch_scale,
    residual_scalar_init,
)

__all__ = [
    "LayerInfo", "MODEL_NAMES", "Network", "RESNETS", "RESNET_LAYOUTS", "ResNetLayout",
    "SHUFFLENETS", "SHUFFLENET_CHANNELS", "SQUEEZENET_FIRES", "VGG_HEADS", "VGG_LAYOUTS",
    "build_network", "fixup_branch_scale", "residual_scalar_init",
]
