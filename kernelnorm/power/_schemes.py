"""How the random conv nets read a registered scheme (docs/theory.md §2, §6, §7).

A random net of Proxy Norm Definition 1 runs every scheme of :mod:`kernelnorm._registry` that
has no network-level extras: its weight transform (WS, weight mean, CZM filters) on the layers
the registry's rule selects, its normaliser (``kernelnorm._ops.normalise_channels``) and its
activation step (``phi`` or PN Eq. 7). Nothing here names a scheme.
"""

from __future__ import annotations

from kernelnorm._errors import KernelnormInputError
from kernelnorm._registry import Scheme, get_scheme, require_engine

#: GN group count of the paper's random nets (their §A.1), the registry's default.
DEFAULT_GROUPS = 8


def power_scheme(norm, **overrides) -> Scheme:
    """The registered scheme ``norm`` (any alias) with ``overrides`` (e.g. ``groups``,
    ``proxy_eps``), refused in one line when the random conv nets cannot run it."""
    return require_engine(get_scheme(norm, **overrides), "conv")


def check_groups(scheme: Scheme, width: int) -> int:
    """GN needs ``scheme.groups`` to divide ``width``; other schemes ignore ``groups``."""
    if scheme.normaliser == "group" and width % scheme.groups:
        raise KernelnormInputError("--groups", f"must divide --width {width}, got {scheme.groups}")
    return scheme.groups


def normalise(h, scheme: Scheme, *, eps: float = 0.0):
    """The normalisation step of Proxy Norm Eq. 3 on channel-last ``h`` of shape ``(N, *S, C)``
    (:func:`kernelnorm.normalise_channels` with the scheme's normaliser; none: ``h`` itself)."""
    from kernelnorm._ops import normalise_channels

    if scheme.normaliser is None:
        return h
    return normalise_channels(h, scheme.normaliser, groups=scheme.groups, eps=eps)


def label(scheme: Scheme) -> str:
    """Display label, with the group count for GN (``GN(8)``)."""
    return f"{scheme.label}({scheme.groups})" if scheme.normaliser == "group" else scheme.label
