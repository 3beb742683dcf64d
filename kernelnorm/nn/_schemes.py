"""Normalisation schemes of the trainable networks: one frozen description per ``norm=`` name.

A scheme is a bundle of switches that the layers, the initialisers and the optimiser read; the
networks themselves are written once (``_models.py``) and never branch on the scheme's name.

========== ================================================================================
name       what it is
========== ================================================================================
none       plain network, He init, biases (NoNorm of MimicNorm Table 1)
bn         batch norm after every conv/linear: batch statistics in training, running ones at eval
weight-mean  weight mean on every conv/linear with fan-in > threshold, Theorem 3 init scale
last-bn    plain network + one BN without affine on the (B, C) logits (MimicNorm §4)
mimicnorm  weight mean + Theorem 3 scale + last BN + residual-branch scalar (MimicNorm §4)
czmig      W = e^g V, CZMI, CZMG, LUMA, multiplicative noise (Mean Shift Rejection §3)
ln gn in   layer / group / instance norm with per-channel affine
ln+pn      LN / GN followed by Proxy Norm on the activation (Labatie et al. 2021, Eq. 7)
gn+pn
ws         scaled weight standardisation, ``W = sqrt(2/n) WS(V)`` (Qiao et al. 2019), no BN
skipinit   plain network with a residual-branch scalar initialised to 0 (De & Smith 2020)
========== ================================================================================
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from kernelnorm._errors import KernelnormInputError


@dataclass(frozen=True)
class NormScheme:
    """Switches read by the layers, initialisers and optimiser.

    Attributes:
        name: the ``norm=`` name.
        activation_norm: ``None``, ``"bn"``, ``"ln"``, ``"gn"`` or ``"in"`` after every conv/linear.
        proxy: apply Proxy Norm (``kernelnorm._proxy.proxy_normalise``) as the activation step.
        groups: number of groups of GN (and of GN+PN).
        weight_mean: centre every kernel with fan-in ``> fan_in_threshold`` (MimicNorm Eq. 10).
        weight_mean_mode: ``"project"`` keeps the parameters centred by a projection after the
            optimiser step (MimicNorm Appendix C, no backprop through the mean) or ``"graph"``
            centres the kernel inside the forward pass; both give the same trajectory.
        fan_in_threshold: kernels with ``kh*kw*in <= threshold`` (depthwise 3x3: 9) are skipped.
        init_scale: ``"he"`` (``sigma_w^2 = 2``) or ``"theorem3"`` (``2n/((n-1)(1-1/pi))``).
        last_bn: one BN without affine on the logits.
        residual_scalar: ``None`` (or ``"none"``), ``"paper"`` (``1/sqrt(l)``), ``"code"`` (``1.2^k/l``) or
            ``"zero"`` (SkipInit): a trainable scalar multiplying each residual branch's output.
        czm: Mean Shift Rejection: ``W = e^g V``, CZMI init, CZMG gradients, LUMA loss, noise.
        zmg: the CZMG factor ``z`` (1: stay exactly on the zero-mean isocline).
        g_init: initial ``e^g`` (0.8 in the paper).
        luma: LUMA loss weight ``lambda`` (replaces L2 decay for ``czm``).
        noise: amplitude ``a`` of the multiplicative ``U(1-a, 1+a)`` noise at residual inputs.
        weight_standardise: scaled weight standardisation of every kernel.
    """

    name: str
    activation_norm: str | None = None
    proxy: bool = False
    groups: int = 8
    weight_mean: bool = False
    weight_mean_mode: str = "project"
    fan_in_threshold: int = 9
    init_scale: str = "he"
    last_bn: bool = False
    residual_scalar: str | None = None
    czm: bool = False
    zmg: float = 0.85
    g_init: float = 0.8
    luma: float = 5e-4
    noise: float = 0.1
    weight_standardise: bool = False

    def __post_init__(self):
        if self.residual_scalar == "none":  # explicit "no scalar" (``None`` overrides are ignored)
            object.__setattr__(self, "residual_scalar", None)
        if self.weight_mean_mode not in ("project", "graph"):
            raise KernelnormInputError("--weight-mean-mode", f"must be project or graph, got {self.weight_mean_mode!r}")
        if self.init_scale not in ("he", "theorem3"):
            raise KernelnormInputError("--init", f"must be he or theorem3, got {self.init_scale!r}")
        if self.residual_scalar not in (None, "paper", "code", "zero"):
            raise KernelnormInputError("--residual-scalar", f"must be paper, code or zero, got {self.residual_scalar!r}")
        if not 0.0 <= self.zmg <= 1.0:
            raise KernelnormInputError("--zmg", f"must lie in [0, 1], got {self.zmg}")
        if not 0.0 <= self.noise < 1.0:
            raise KernelnormInputError("--noise", f"must lie in [0, 1), got {self.noise}")
        if not (self.g_init > 0 and math.isfinite(self.g_init)):
            raise KernelnormInputError("--g-init", f"must be > 0, got {self.g_init}")
        if self.groups < 1:
            raise KernelnormInputError("--groups", f"must be >= 1, got {self.groups}")

    @property
    def has_bias(self) -> bool:
        """Layers carry a bias unless a normalisation with its own shift follows them."""
        return self.activation_norm is None

    def replace(self, **changes) -> "NormScheme":
        return dataclasses.replace(self, **changes)


SCHEMES: dict[str, NormScheme] = {
    "none": NormScheme("none"),
    "bn": NormScheme("bn", activation_norm="bn"),
    "weight-mean": NormScheme("weight-mean", weight_mean=True, init_scale="theorem3"),
    "last-bn": NormScheme("last-bn", last_bn=True),
    "mimicnorm": NormScheme("mimicnorm", weight_mean=True, init_scale="theorem3", last_bn=True,
                            residual_scalar="paper"),
    "czmig": NormScheme("czmig", czm=True),
    "ln": NormScheme("ln", activation_norm="ln"),
    "gn": NormScheme("gn", activation_norm="gn"),
    "in": NormScheme("in", activation_norm="in"),
    "ln+pn": NormScheme("ln+pn", activation_norm="ln", proxy=True),
    "gn+pn": NormScheme("gn+pn", activation_norm="gn", proxy=True),
    "ws": NormScheme("ws", weight_standardise=True),
    "skipinit": NormScheme("skipinit", residual_scalar="zero"),
}

SCHEME_NAMES = tuple(SCHEMES)


def get_scheme(norm: "str | NormScheme", **overrides) -> NormScheme:
    """The scheme called ``norm`` (see the module table), with fields replaced by ``overrides``
    (``None`` values are ignored, so CLI defaults pass through)."""
    if isinstance(norm, NormScheme):
        scheme = norm
    else:
        if norm not in SCHEMES:
            raise KernelnormInputError("--norm", f"unknown scheme {norm!r} (use {', '.join(SCHEME_NAMES)})")
        scheme = SCHEMES[norm]
    changes = {k: v for k, v in overrides.items() if v is not None}
    return scheme.replace(**changes) if changes else scheme
