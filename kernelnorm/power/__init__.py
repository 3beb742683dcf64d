"""Power decomposition of random conv nets (Proxy Norm §3–5, docs/theory.md §6).

Which normalisations avoid channel-wise collapse? Random conv nets of Proxy Norm Definition 1
with every scheme of the registry that a random net can run (all but those with network-level
extras: last BN, residual scalars), the four-term power decomposition of the normalised
pre-activations, channel imbalance and channel-wise linearity, over independent realisations.
The same decomposition is predicted at infinite width from the conv kernel alone
(:func:`power_theory`, ``kernelnorm.conv``; ``docs/power.md``, theory section). JAX is imported
only when a net or a kernel is run.
"""

from kernelnorm.power._decomposition import (
    TERMS,
    channel_imbalance,
    channel_linearity,
    layer_shares,
    power_terms,
)
from kernelnorm.power._inputs import SOURCES, make_inputs
from kernelnorm.power._plot import draw_power_plot
from kernelnorm.power._nets import NetConfig, apply_layer, conv_periodic, init_layer, run_realisation
from kernelnorm.power._profile import (
    COMPARE_NORMS,
    PowerProfile,
    add_collapse_column,
    collapse_shares,
    log_rate,
    power_profile,
    theorem1_rate,
)
from kernelnorm.power._quadratic import sqrt_covariance, sqrt_mean
from kernelnorm.power._schemes import DEFAULT_GROUPS, check_groups, label, normalise, power_scheme
from kernelnorm.power._theory import (
    CROSS_METHODS,
    EXACT_PAIRS,
    PowerTheory,
    agreement,
    layer_terms,
    power_theory,
    theorem1_from_kernel,
    theory_estimate,
    theory_gap,
)

__all__ = [
    "CROSS_METHODS",
    "EXACT_PAIRS",
    "PowerTheory",
    "add_collapse_column",
    "agreement",
    "layer_terms",
    "power_theory",
    "sqrt_covariance",
    "sqrt_mean",
    "theorem1_from_kernel",
    "theory_estimate",
    "theory_gap",
    "COMPARE_NORMS",
    "DEFAULT_GROUPS",
    "NetConfig",
    "PowerProfile",
    "SOURCES",
    "TERMS",
    "apply_layer",
    "channel_imbalance",
    "channel_linearity",
    "check_groups",
    "collapse_shares",
    "conv_periodic",
    "draw_power_plot",
    "init_layer",
    "label",
    "layer_shares",
    "log_rate",
    "make_inputs",
    "normalise",
    "power_profile",
    "power_terms",
    "power_scheme",
    "run_realisation",
    "theorem1_rate",
]
