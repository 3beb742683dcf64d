"""Normalisation steps of the random conv nets: one description per scheme (THEORY §3, §6, §7).

Each :class:`PowerScheme` says which normalisation follows the convolution (statistics over
which axes), which transform the kernel gets (weight standardisation, weight mean, CZM filters)
and whether the activation step is proxy-normalised. All normalisers are
``kernelnorm._ops.standardise`` over different axes; all kernel transforms are ``kernelnorm._ops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernelnorm._errors import KernelnormInputError

#: GN group count of the paper's random nets (their §A.1).
DEFAULT_GROUPS = 8


@dataclass(frozen=True)
class PowerScheme:
    """One normalisation scheme of a random conv net (Proxy Norm Definition 1 / Figure 2).

    Attributes:
        name: CLI name (``ln+pn``).
        label: display label (``LN+PN``).
        norm: statistics of the normalisation step: ``None``, ``"batch"`` (N and positions),
            ``"layer"`` (positions and channels), ``"instance"`` (positions), ``"group"``.
        weights: kernel transform: ``"plain"``, ``"standardise"`` (WS), ``"mean"`` (MimicNorm
            weight mean), ``"czm"`` (channel-wise zero-mean filters, CZMI).
        proxy: proxy-normalised activation step (PN Eq. 7) instead of ``phi(gamma y + beta)``.
    """

    name: str
    label: str
    norm: str | None
    weights: str = "plain"
    proxy: bool = False

    @property
    def normalised(self) -> bool:
        """Whether a BN/LN/IN/GN step makes the channel-averaged power 1 (Proposition 1)."""
        return self.norm is not None


SCHEMES = {
    "none": PowerScheme("none", "none", None),
    "bn": PowerScheme("bn", "BN", "batch"),
    "ln": PowerScheme("ln", "LN", "layer"),
    "in": PowerScheme("in", "IN", "instance"),
    "gn": PowerScheme("gn", "GN", "group"),
    "ln+pn": PowerScheme("ln+pn", "LN+PN", "layer", proxy=True),
    "gn+pn": PowerScheme("gn+pn", "GN+PN", "group", proxy=True),
    "ln+ws": PowerScheme("ln+ws", "LN+WS", "layer", weights="standardise"),
    "weight-mean": PowerScheme("weight-mean", "weight mean", None, weights="mean"),
    "czm": PowerScheme("czm", "CZM", None, weights="czm"),
}
ALIASES = {"wm": "weight-mean", "mimicnorm": "weight-mean", "czmi": "czm", "plain": "none"}


def resolve_power_scheme(name: str) -> PowerScheme:
    """The scheme for a CLI name (case-insensitive; aliases ``wm``, ``czmi``, ``plain``)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in SCHEMES:
        raise KernelnormInputError(
            "--norm", f"unknown norm {name!r}; choose from {', '.join(SCHEMES)}")
    return SCHEMES[key]


def check_groups(scheme: PowerScheme, groups: int, width: int) -> int:
    """GN needs ``groups`` to divide ``width``; other schemes ignore ``groups``."""
    if isinstance(groups, bool) or int(groups) != groups or groups < 1:
        raise KernelnormInputError("--groups", f"must be a positive integer, got {groups!r}")
    if scheme.norm == "group" and width % groups:
        raise KernelnormInputError("--groups", f"must divide --width {width}, got {groups}")
    return int(groups)


def normalise(h, scheme: PowerScheme, *, groups: int = DEFAULT_GROUPS, eps: float = 0.0):
    """The normalisation step of Proxy Norm Eq. 3 on channel-last ``h`` of shape ``(N, *S, C)``.

    BN: statistics over inputs and positions; LN: positions and channels; IN: positions;
    GN: positions and the channels of each of ``groups`` groups. ``None`` returns ``h``.
    """
    from kernelnorm._ops import normalise_channels

    if scheme.norm is None:
        return h
    return normalise_channels(h, scheme.norm, groups=groups, eps=eps)


def weight_gain2(scheme: PowerScheme, activation, fan_in: int, *, first: bool) -> float:
    """Squared gain of the ``1/sqrt(fan_in)`` kernel scale.

    Normalised schemes are scale invariant: gain 1. Un-normalised nets use the stable init of
    ``kernelnorm._transition`` (``q* = 1``): He (``sigma_w^2 = 2`` for ReLU) for ``none`` and the
    first layer, MimicNorm Theorem 3 (``2 n/((n-1)(1 - 1/pi))`` for ReLU, ``n`` = fan-in) for
    weight mean, and its wide limit for CZM filters (they too remove the channel means).
    """
    from kernelnorm._schemes import Plain, WeightMean
    from kernelnorm._transition import stable_init

    if scheme.normalised:
        return 1.0
    if first or scheme.weights == "plain":
        return stable_init(Plain(activation, sigma_w2=1.0, sigma_b2=0.0))
    width = fan_in if scheme.weights == "mean" else math.inf
    return stable_init(WeightMean(activation, sigma_w2=1.0, sigma_b2=0.0, width=width))
