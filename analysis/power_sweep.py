"""Power decomposition of random conv nets for every normalisation scheme (Proxy Norm Fig. 2).

New schemes next to the paper's: MimicNorm's weight mean and CZM filters (mean-shift rejection).
For each scheme: mean and interval over realisations of the four term shares, channel power,
channel imbalance and channel-wise linearity at every depth; the mu_c^2 (collapse) share at the
last layer; for LN, Theorem 1's bound ``rho^(l) <~ rho^(1) r^(l-1)`` next to the measured rho.

Writes ``results/power_sweep.json`` (read by ``figures/power_plot.py``).
Run: .venv/bin/python analysis/power_sweep.py [--width 64 --realisations 5 ...]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import time  # noqa: E402

import numpy as np  # noqa: E402

from kernelnorm import scheme_names  # noqa: E402
from kernelnorm.io import ArgumentParser, output_file, positive_int, run_script, seed, write_json  # noqa: E402
from kernelnorm.power import (  # noqa: E402
    log_rate,
    make_inputs,
    power_profile,
    theorem1_rate,
)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norms", nargs="+", default=list(scheme_names(engine="conv")))
    parser.add_argument("--depth", type=positive_int, default=50)
    parser.add_argument("--width", type=positive_int, default=64)
    parser.add_argument("--realisations", type=positive_int, default=5)
    parser.add_argument("--resolution", type=positive_int, default=16)
    parser.add_argument("--inputs", type=positive_int, default=64)
    parser.add_argument("--inputs-from", default="digits")
    parser.add_argument("--groups", type=positive_int, default=8)
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--out", type=output_file(), default="results/power_sweep.json")
    args = parser.parse_args(argv)

    inputs = make_inputs(args.inputs_from, args.inputs, args.resolution, seed=args.seed)
    profiles, collapse, theorem1 = [], {}, None
    for norm in args.norms:
        start = time.perf_counter()
        profile = power_profile(norm, depth=args.depth, width=args.width,
                                realisations=args.realisations, inputs=inputs,
                                groups=args.groups, seed=args.seed)
        payload = profile.as_dict()
        profiles.append(payload)
        last = profile.shares[:, -1, 0]
        low, high = np.quantile(last, [0.1, 0.9])
        collapse[payload["label"]] = {"mean": float(last.mean()), "low": float(low),
                                      "high": float(high)}
        if norm == "ln":
            rho = (1.0 - profile.shares[..., 0]).mean(axis=0)
            rate = theorem1_rate()
            theorem1 = {"rate": rate, "log_rate": float(np.log(rate)),
                        "rho": rho.tolist(),
                        "bound": (rho[0] * rate ** np.arange(args.depth)).tolist(),
                        "fitted_log_rate": log_rate(rho)}
        print(f"{payload['label']:<12} mu_c^2 share at depth {args.depth}: "
              f"{last.mean():.4f} [{low:.4f}, {high:.4f}]   linearity "
              f"{profile.linearity[:, -1].mean():.3f}   ({time.perf_counter() - start:.0f} s)",
              flush=True)
    write_json(args.out, {"config": vars(args), "profiles": profiles,
                          "collapse_share_at_depth": collapse, "theorem1_ln": theorem1})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main, rename={"--norm": "--norms"}))
