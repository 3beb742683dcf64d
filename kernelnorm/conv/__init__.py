"""CNN-GP / CNTK kernels of conv nets on current JAX, for every scheme of the registry that has
one (docs/conv.md).

Infinite-width kernels of the random conv nets of Proxy Norm Definition 1 (periodic ``3 x 3``
convs, random per-channel affine ``(gamma, beta)`` integrated out) and of conv/pool stacks with
a global-average-pooling or flatten readout: plain, weight mean (exact for every filter size:
the patch mean couples the positions of a window), weight standardisation, CZM filters, layer
norm (a per-input rescaling) and LN + proxy norm. Schemes without a conv kernel (BN, IN, GN,
network-level extras) are refused in one line saying why (:func:`conv_kernel_gap`).

float64, one jitted function per layer, input pairs in chunks of bounded memory; the cost is
stated before a run (:meth:`ConvNet.estimate`).
"""

from kernelnorm.conv._arch import (
    PAPER_AFFINE_STD,
    READOUTS,
    Conv,
    Pool,
    Readout,
    conv_kernel_gap,
    conv_scheme,
    kernel_scheme_names,
)
from kernelnorm.conv._bivariate import bivariate_normal_cdf, relu_shifted_mean, relu_shifted_moments
from kernelnorm.conv._duals import AffineStep, ProxyStep, jax_kernels, proxy_nodes
from kernelnorm.conv._network import (
    ENTRY_RATE,
    ConvKernels,
    ConvNet,
    Estimate,
    available_memory,
    check_images,
    conv_net,
    random_net,
)
from kernelnorm.conv._spatial import PADDINGS

__all__ = [
    "AffineStep", "Conv", "ConvKernels", "ConvNet", "ENTRY_RATE", "Estimate", "PADDINGS",
    "PAPER_AFFINE_STD", "Pool", "ProxyStep", "READOUTS", "Readout", "available_memory",
    "bivariate_normal_cdf", "check_images", "conv_kernel_gap", "conv_net", "conv_scheme",
    "jax_kernels", "kernel_scheme_names", "proxy_nodes", "random_net", "relu_shifted_mean",
    "relu_shifted_moments",
]
