"""Power decomposition of random conv nets predicted at infinite width, against the measurement.

For every scheme with an infinite-width conv kernel (plain, weight mean, CZM filters, LN, LN+PN;
``--norms``), the four terms of Proxy Norm Eq. 5 at every layer of the random nets of their
Definition 1, predicted from the kernel alone (``kernelnorm.power.power_theory``) and measured
on finite nets (``kernelnorm.power.power_profile``) on the same inputs; whether each prediction
lies in the finite-width band; Proxy Norm Theorem 1 read off the predicted LN decomposition
(the bound ``rho^(l) <= rho^(1) r^(l-1)``, and equality ``rho^(l) = rho^(l-1) r`` for the
identity activation); weight mean's ``mu_c^2`` share at the last layer; and the schemes refused,
with the reason (BN's batch coupling, IN, GN).

Profiles: ``tiny`` (seconds-scale, for tests), ``default`` (~2-3 min on 2 shared cores),
``full`` (the power sweep's configuration: 64 digits at 16x16, depth 50, width 64, 5 nets;
hours on 2 cores). Writes JSON with ``kernelnorm.io.write_json``.
Run: .venv/bin/python analysis/power_theory.py --profile default --out results/power_theory.json
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm.io import pipeline_parser  # noqa: E402

import time  # noqa: E402

import numpy as np  # noqa: E402

from kernelnorm import SCHEMES, get_scheme  # noqa: E402
from kernelnorm.conv import kernel_scheme_names  # noqa: E402
from kernelnorm.io import run_script, write_json  # noqa: E402
from kernelnorm.power import (  # noqa: E402
    agreement,
    make_inputs,
    power_profile,
    power_theory,
    theorem1_from_kernel,
    theory_estimate,
    theory_gap,
)

PROFILES = {
    "tiny": dict(depth=3, inputs=3, resolution=8, width=128, realisations=8,
                 norms=("weight-mean", "ln"), identity_depth=3),
    "default": dict(depth=10, inputs=6, resolution=8, width=128, realisations=5,
                    norms=("plain", "weight-mean", "czmig", "ln", "ln+pn"), identity_depth=10),
    "full": dict(depth=50, inputs=64, resolution=16, width=64, realisations=5,
                 norms=kernel_scheme_names(), identity_depth=50),
}

FIGURE = {
    "name": "power_theory",
    "paper": "Proxy Norm Fig. 2 / Theorem 1 at infinite width",
    "claim": "every term of the power decomposition of Proxy Norm's random nets follows from the "
             "conv kernel: the prediction lies in the finite-width band, LN's collapse obeys "
             "Theorem 1's bound, and weight mean and CZM avoid collapse",
    "estimate_s": 72,
    "estimate_full_s": 4 * 3600,
}


def _scheme_result(norm, inputs, config, seed, cross):
    start = time.perf_counter()
    theory = power_theory(norm, depth=config["depth"], inputs=inputs, cross=cross)
    profile = power_profile(norm, depth=config["depth"], width=config["width"],
                            realisations=config["realisations"], inputs=inputs, seed=seed,
                            dtype="float64")
    check = agreement(profile, theory)
    measured = profile.as_dict()
    last = profile.shares[:, -1, 0]
    result = {
        "norm": theory.norm, "label": theory.label, "theory": theory.as_dict(),
        "measured": measured, "inside": check["inside"], "band_low": check["low"],
        "band_high": check["high"], "fraction_inside": check["fraction"],
        "mu2_last": {"theory": float(theory.shares[-1, 0]), "measured": float(last.mean()),
                     "low": float(np.quantile(last, 0.1)), "high": float(np.quantile(last, 0.9))},
        "seconds": time.perf_counter() - start,
    }
    print(f"{theory.label:<12} mu_c^2 share at depth {config['depth']}: kernel "
          f"{result['mu2_last']['theory']:.4f}, nets {result['mu2_last']['measured']:.4f} "
          f"[{result['mu2_last']['low']:.4f}, {result['mu2_last']['high']:.4f}]; in band: "
          f"{check['fraction']:.0%} ({result['seconds']:.0f} s)", flush=True)
    return result, theory


def _identity_check(inputs, depth):
    """Theorem 1's equality case: identity activation, LN: rho decays by exactly r per layer."""
    theory = power_theory("ln", depth=depth, inputs=inputs, activation="identity", cross="matched")
    verdict = theorem1_from_kernel(theory)
    rho = np.asarray(verdict["rho"])
    ratios = rho[1:] / rho[:-1]
    verdict["ratios"] = ratios.tolist()
    verdict["max_ratio_error"] = float(np.max(np.abs(ratios - verdict["rate"])))
    return verdict


def main(argv=None) -> int:
    parser = pipeline_parser(__doc__, name=FIGURE["name"])
    parser.add_argument("--norms", nargs="+", default=None,
                        help="schemes (default: the profile's)")
    parser.add_argument("--cross", default="sampled", choices=("sampled", "exact", "matched"))
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)  # the measured nets run in float64 too
    config = dict(PROFILES[args.profile])
    norms = tuple(get_scheme(n).name for n in (args.norms or config["norms"]))
    inputs = make_inputs("digits", config["inputs"], config["resolution"], seed=args.seed)
    for norm in norms:
        gap = theory_gap(norm)
        if gap is not None:
            from kernelnorm import KernelnormInputError

            raise KernelnormInputError("--norms", f"{norm} has no infinite-width prediction: {gap}")
    stated = sum(theory_estimate(n, depth=config["depth"], inputs=inputs).seconds for n in norms)
    print(f"profile {args.profile}: {config['inputs']} digits at {config['resolution']}x"
          f"{config['resolution']}, depth {config['depth']}, width {config['width']}, "
          f"{config['realisations']} nets; kernel recursions stated at ~{stated:.0f} s "
          f"(plus the cross-input covariances)", flush=True)
    start = time.perf_counter()
    schemes, theorem1 = {}, None
    for norm in norms:
        result, theory = _scheme_result(norm, inputs, config, args.seed, args.cross)
        schemes[norm] = result
        if norm == "ln":
            theorem1 = theorem1_from_kernel(theory)
            theorem1["measured_rho"] = (1.0 - np.asarray(result["measured"]["layers"]["mu_c^2"]["mean"])).tolist()
    identity = _identity_check(inputs, config["identity_depth"])
    refused = {name: theory_gap(name) for name in SCHEMES if name not in kernel_scheme_names()}
    payload = {
        "config": {**config, "profile": args.profile, "seed": args.seed, "cross": args.cross,
                   "norms": list(norms), "inputs_from": "digits"},
        "schemes": schemes, "theorem1_ln": theorem1, "theorem1_identity": identity,
        "refused": refused, "seconds": time.perf_counter() - start,
    }
    if theorem1 is not None:
        print(f"Theorem 1 from the kernel (LN, ReLU): bound holds at every layer: "
              f"{theorem1['bound_holds']}; fitted log-rate of rho {theorem1['fitted_log_rate']:.4f}"
              f" vs the bound's {theorem1['log_rate']:.4f}")
    print(f"Theorem 1, identity activation: rho ratio = r = {identity['rate']:.6f} to "
          f"{identity['max_ratio_error']:.1e} at every layer")
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--norm": "--norms"}))
