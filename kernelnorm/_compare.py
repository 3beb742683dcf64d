"""The scheme comparison behind ``kernelnorm compare``: one row per scheme, same analysis."""

from __future__ import annotations

import math
from dataclasses import replace

from kernelnorm._activations import get_activation
from kernelnorm._minibatch import minibatch_theory
from kernelnorm._registry import SCHEMES, scheme_names
from kernelnorm._schemes import Plain, dense
from kernelnorm._transition import critical_line, summarise

ORDERED_SIGMA_B2 = 0.1
CRITICAL_SIGMA_B2 = 0.05


def comparison_schemes(activation="relu", *, width=math.inf, batch_size=None):
    """``(label, block)`` pairs: plain at criticality, plain ordered, then every registered
    scheme with a dense kernel at its default (stable) init, and with ``batch_size`` a last row
    of BN over mini-batches of that size (``BN (B=8)``, :mod:`kernelnorm._minibatch`).

    The critical row has ``chi_1 = 1`` (ReLU: ``(sqrt 2, 0)``; smooth activations need a bias,
    ``sigma_b2 = 0.05``, for a non-degenerate ``q*``); the ordered row sits at 0.9 times the
    critical ``sigma_w2`` for ``sigma_b2 = 0.1`` (ReLU: exactly the stable init ``(1.8, 0.1)``).
    ``width`` is the input width of weight-mean layers (Lemma 1).
    """
    activation = get_activation(activation)
    critical_b2 = 0.0 if activation.homogeneous else CRITICAL_SIGMA_B2
    critical = Plain(activation, sigma_w2=1.0, sigma_b2=critical_b2)
    ordered = Plain(activation, sigma_w2=1.0, sigma_b2=ORDERED_SIGMA_B2)
    rows = [
        ("plain (critical)", replace(critical, sigma_w2=critical_line(critical))),
        ("plain (ordered)", replace(ordered, sigma_w2=0.9 * critical_line(ordered))),
    ]
    for name in scheme_names(engine="dense"):
        if name != "plain":
            rows.append((SCHEMES[name].label, dense(name, activation, width=width)))
    if batch_size is not None:
        block = dense("bn", activation, batch_size=batch_size)
        rows.append((f"{SCHEMES['bn'].label} (B={block.batch_size:g})", block))
    return rows


def compare(activation="relu", *, width=math.inf, batch_size=None) -> list[dict]:
    """Rows with ``chi_1``, the stable fixed point ``rho*``, its slope, ``xi_c`` and the phase;
    the mini-batch BN row (``batch_size``) adds ``lambda``, its per-layer gradient growth."""
    rows = []
    for label, block in comparison_schemes(activation, width=width, batch_size=batch_size):
        s = summarise(block)
        rows.append({
            "scheme": label,
            "norm": block.name,
            "sigma_w2": s.sigma_w2 if block.has_sigma_w else None,
            "sigma_b2": s.sigma_b2 if block.has_sigma_w else None,
            "chi_1": s.chi_1,
            "rho*": s.rho_star,
            "slope": s.slope_star,
            "xi_c": s.xi_c,
            "phase": s.phase,
        })
        if block.batch_size is not None and not math.isinf(block.batch_size):
            theory = minibatch_theory(block.activation, block.batch_size)
            rows[-1]["lambda"] = theory.gradient_growth
    return rows


COMPARE_COLUMNS = ["scheme", "sigma_w2", "sigma_b2", "chi_1", "rho*", "slope", "xi_c", "phase"]
