"""The scheme comparison behind ``kernelnorm compare``: one row per scheme, same analysis."""

from __future__ import annotations

import math

from kernelnorm._schemes import BatchNorm, Plain, WeightMean
from kernelnorm._transition import summarise, with_stable_init

#: sigma_b^2 of the "plain, ordered" row: stable init gives sigma_w^2 = 2 (1 - 0.1) for ReLU.
ORDERED_SIGMA_B2 = 0.1


def comparison_schemes(activation="relu", *, width=math.inf):
    """``(label, scheme)`` pairs: plain at criticality, plain ordered, weight mean, batch norm."""
    critical = Plain(activation, sigma_w2=1.0, sigma_b2=0.0)
    from kernelnorm._transition import critical_line

    critical = Plain(activation, sigma_w2=critical_line(critical), sigma_b2=0.0)
    return [
        ("plain (critical)", critical),
        ("plain (ordered)", with_stable_init(Plain(activation, sigma_b2=ORDERED_SIGMA_B2))),
        ("weight mean", with_stable_init(WeightMean(activation, width=width))),
        ("batch norm", BatchNorm(activation)),
    ]


def compare(activation="relu", *, width=math.inf) -> list[dict]:
    """Rows with ``chi_1``, the stable fixed point ``rho*``, its slope, ``xi_c`` and the phase."""
    rows = []
    for label, scheme in comparison_schemes(activation, width=width):
        s = summarise(scheme)
        rows.append({
            "scheme": label,
            "sigma_w2": s.sigma_w2 if scheme.name != "bn" else None,
            "sigma_b2": s.sigma_b2 if scheme.name != "bn" else None,
            "chi_1": s.chi_1,
            "rho*": s.rho_star,
            "slope": s.slope_star,
            "xi_c": s.xi_c,
            "phase": s.phase,
        })
    return rows


COMPARE_COLUMNS = ["scheme", "sigma_w2", "sigma_b2", "chi_1", "rho*", "slope", "xi_c", "phase"]
