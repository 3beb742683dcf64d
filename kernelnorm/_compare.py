"""The scheme comparison behind ``kernelnorm compare``: one row per scheme, same analysis."""

from __future__ import annotations

import math
from dataclasses import replace

from kernelnorm._activations import get_activation
from kernelnorm._errors import KernelnormInputError
from kernelnorm._minibatch import minibatch_theory
from kernelnorm._registry import SCHEMES, scheme_names
from kernelnorm._schemes import Plain, dense
from kernelnorm._transition import chi_1, critical_line, phase, summarise

#: Bias variances tried, in order, for the plain critical and ordered rows of an activation
#: that needs a bias (the first two with a critical point reached from normalised inputs).
SIGMA_B2_CANDIDATES = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)


def _plain_rows(activation):
    """``[(label, block or reason)]`` of the plain critical and ordered rows.

    ReLU-like (homogeneous) activations: ``(sigma_w2, 0)`` critical and ``0.9`` times the
    critical ``sigma_w2`` at ``sigma_b2 = 0.1`` ordered (ReLU: exactly the stable init
    ``(1.8, 0.1)``). Smooth activations need a bias for a non-degenerate ``q*``: the critical
    row takes the first of :data:`SIGMA_B2_CANDIDATES` at which a critical point exists and
    normalised inputs (``q0 = 1``) flow to it (tanh, erf: 0.05; GELU: 0.3; SiLU: 1), the
    ordered row the next one, at 0.9 times its critical ``sigma_w2``.
    """
    if activation.homogeneous:
        found = [(0.0, critical_line(Plain(activation, sigma_w2=1.0)))]
        ordered_b2 = 0.1
        found.append((ordered_b2, critical_line(Plain(activation, sigma_w2=1.0,
                                                      sigma_b2=ordered_b2))))
    else:
        found, reasons = [], []
        for sigma_b2 in SIGMA_B2_CANDIDATES:
            try:
                found.append((sigma_b2, critical_line(Plain(activation, sigma_w2=1.0,
                                                            sigma_b2=sigma_b2))))
            except KernelnormInputError as err:
                reasons.append(str(err).split(": ", 1)[1])
            if len(found) == 2:
                break
        if len(found) < 2:
            reason = (f"no critical point reached from q0 = 1 at sigma_b2 in "
                      f"{list(SIGMA_B2_CANDIDATES)}" + (f" ({reasons[-1]})" if reasons else ""))
            rows = [("plain (critical)", reason), ("plain (ordered)", reason)]
            if found:
                b2, s2 = found[0]
                rows[0] = ("plain (critical)", Plain(activation, sigma_w2=s2, sigma_b2=b2))
            return rows
    (critical_b2, critical_w2), (ordered_b2, ordered_w2) = found
    return [
        ("plain (critical)", Plain(activation, sigma_w2=critical_w2, sigma_b2=critical_b2)),
        ("plain (ordered)", Plain(activation, sigma_w2=0.9 * ordered_w2, sigma_b2=ordered_b2)),
    ]


def comparison_schemes(activation="relu", *, width=math.inf, batch_size=None):
    """``(label, block)`` pairs: plain at criticality, plain ordered (:func:`_plain_rows`),
    then every registered scheme with a dense kernel at its default (stable) init, and with
    ``batch_size`` a last row of BN over mini-batches of that size (``BN (B=8)``,
    :mod:`kernelnorm._minibatch`). A row that cannot be built carries the reason as a string
    instead of a block.

    ``width`` is the input width of weight-mean layers (Lemma 1).
    """
    activation = get_activation(activation)
    rows = _plain_rows(activation)
    for name in scheme_names(engine="dense"):
        if name == "plain":
            continue
        try:
            rows.append((SCHEMES[name].label, dense(name, activation, width=width)))
        except KernelnormInputError as err:
            rows.append((SCHEMES[name].label, str(err).split(": ", 1)[1]))
    if batch_size is not None:
        block = dense("bn", activation, batch_size=batch_size)
        rows.append((f"{SCHEMES['bn'].label} (B={block.batch_size:g})", block))
    return rows


def compare(activation="relu", *, width=math.inf, batch_size=None) -> list[dict]:
    """Rows with ``chi_1``, the stable fixed point ``rho*``, its slope, ``xi_c`` and the phase;
    the mini-batch BN row (``batch_size``) adds ``lambda``, its per-layer gradient growth. A
    row whose analysis does not exist (the length diverges from normalised inputs; no isolated
    correlation fixed point) keeps what exists (``chi_1`` and the phase where the length
    converges), ``None`` elsewhere, and the reason in ``note``."""
    rows = []
    for label, block in comparison_schemes(activation, width=width, batch_size=batch_size):
        if isinstance(block, str):
            rows.append({"scheme": label, "norm": None, "sigma_w2": None, "sigma_b2": None,
                         "chi_1": None, "rho*": None, "slope": None, "xi_c": None,
                         "phase": None, "note": block})
            continue
        row = {"scheme": label, "norm": block.name,
               "sigma_w2": block.sigma_w2 if block.has_sigma_w else None,
               "sigma_b2": block.sigma_b2 if block.has_sigma_w else None}
        try:
            s = summarise(block)
        except KernelnormInputError as err:
            try:  # chi_1 may exist where the correlation fixed points do not
                chi = chi_1(block)
            except KernelnormInputError:
                chi = None
            rows.append(row | {"chi_1": chi, "rho*": None, "slope": None, "xi_c": None,
                               "phase": None if chi is None else phase(chi),
                               "note": str(err).split(": ", 1)[1]})
            continue
        rows.append(row | {"chi_1": s.chi_1, "rho*": s.rho_star, "slope": s.slope_star,
                           "xi_c": s.xi_c, "phase": s.phase, "note": None})
        if block.batch_size is not None and not math.isinf(block.batch_size):
            rows[-1]["lambda"] = minibatch_theory(block.activation, block.batch_size).gradient_growth
    return rows


COMPARE_COLUMNS = ["scheme", "sigma_w2", "sigma_b2", "chi_1", "rho*", "slope", "xi_c", "phase"]
