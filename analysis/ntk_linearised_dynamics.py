"""Theory -> training: the infinite-width NTK at initialisation predicts the loss curve of real
full-batch gradient descent, with a gap that shrinks as the width grows.

Wide dense networks in the NTK parameterisation (the blocks of ``kernelnorm.dense``: plain
critical and ordered, weight mean, full-batch BN; readout without normaliser) are trained by
full-batch gradient descent on the MSE to one-hot targets of sklearn digits. The prediction is
the linearised dynamics ``r_t = (I - eta Theta / m)^t r_0`` with ``Theta`` the infinite-width NTK
(``kernelnorm.train.DenseNetwork.kernels``) and ``eta = m / lambda_max(Theta)``; the model is
centred (``f - f_0``), so ``r_0 = -y`` for every seed. Per width: the worst relative deviation of
one run (declared ``O(n^-1/2)``), its mean over seeds (bias, declared ``O(1/n)``) and its spread
(fluctuation, declared ``O(n^-1/2)``), with rates fitted by weighted least squares on log-log
scales (docs/theory-to-training.md).

Run: python analysis/ntk_linearised_dynamics.py [--profile default] [--out results/ntk_linearised_dynamics.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm.io import pipeline_parser  # noqa: E402

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FIGURE = {
    "name": "ntk_linearised_dynamics",
    "paper": "theory -> training (MimicNorm §2, Eq. 5-7; Jacot et al. 2018, Lee et al. 2019)",
    "claim": "the NTK at initialisation predicts the MSE loss curve of wide nets; the gap "
             "shrinks with width (bias ~ 1/n, fluctuation ~ n^-1/2)",
    "estimate_s": 37,
    "estimate_full_s": 300,
    "data": "digits",
}

PROFILES = {
    "tiny": {"m": 32, "depth": 2, "widths": [16, 64], "seeds": 3, "steps": 20, "lr_fraction": 0.5},
    "default": {"m": 128, "depth": 3, "widths": [64, 128, 256, 512], "seeds": 8, "steps": 150,
                "lr_fraction": 0.5},
    "full": {"m": 128, "depth": 3, "widths": [64, 128, 256, 512, 1024, 2048], "seeds": 12,
             "steps": 150, "lr_fraction": 0.5},
}

#: Declared rates of the deviations from the infinite-width prediction (module docstring).
DECLARED = {"gap": -0.5, "bias": -1.0, "fluctuation": -0.5}


def schemes():
    """label -> (block factory of the width, description)."""
    from kernelnorm import BatchNorm, Plain, WeightMean, with_stable_init

    return {
        "plain (critical)": (lambda n: Plain(), "ReLU, sigma_w2 = 2, sigma_b2 = 0"),
        "plain (ordered)": (lambda n: with_stable_init(Plain(sigma_b2=0.2)),
                            "ReLU, sigma_b2 = 0.2, stable sigma_w2 = 1.6"),
        "weight mean": (lambda n: with_stable_init(WeightMean(width=n)),
                        "Theorem 3 init at the layer width"),
        "BN": (lambda n: BatchNorm(), "full-batch BN over the m training inputs"),
    }


def fit_rates(rows: list[dict]) -> dict:
    """Log-log slopes of gap, bias and fluctuation against the width, with standard errors."""
    from kernelnorm.montecarlo import loglog_slope

    widths = [r["width"] for r in rows]
    fits = {}
    for name in DECLARED:
        values = [r[name] for r in rows]
        errors = [max(r[f"{name}_log_se"], 1e-3) for r in rows]
        slope = loglog_slope(widths, values, errors)
        fits[name] = {"slope": slope.slope, "se": slope.standard_error,
                      "intercept": slope.intercept, "declared": DECLARED[name]}
    return fits


def pooled(fits: dict) -> dict:
    """Inverse-variance weighted mean of the per-scheme slopes (standard error ``1/sqrt(sum w)``)."""
    out = {}
    for name in DECLARED:
        slopes = np.array([f[name]["slope"] for f in fits.values()])
        weights = 1.0 / np.array([f[name]["se"] for f in fits.values()]) ** 2
        out[name] = {"slope": float(weights @ slopes / weights.sum()),
                     "se": float(weights.sum() ** -0.5), "declared": DECLARED[name]}
    return out


def run(profile: dict, seed: int, data: str = "digits", only=None, progress=None) -> dict:
    from kernelnorm import chi_1, phase
    from kernelnorm.data import load_dataset, normalise_rows
    from kernelnorm.montecarlo import seed_keys
    from kernelnorm.ntk import spectrum
    from kernelnorm.train import (
        DenseNetwork,
        gap_statistics,
        hanin_nica_scale,
        linearised_loss,
        stable_learning_rate,
        train_full_batch,
    )

    dataset = load_dataset(data)
    m = profile["m"]
    x = normalise_rows(dataset.x[:m])
    classes = int(dataset.y.max()) + 1
    y = np.eye(classes)[dataset.y[:m]]
    depth, steps = profile["depth"], profile["steps"]
    keys = seed_keys(seed, profile["seeds"])
    results = {}
    for label, (factory, description) in schemes().items():
        if only and label not in only:
            continue
        rows, curves = [], []
        for width in profile["widths"]:
            block = factory(width)
            network = DenseNetwork(block, depth, width, classes)
            nngp, ntk = network.kernels(x)
            lr = stable_learning_rate(ntk, profile["lr_fraction"])
            predicted = linearised_loss(ntk, y, lr=lr, steps=steps)
            started = time.perf_counter()
            measured = train_full_batch(network, x, y, keys=keys, lr=lr, steps=steps)
            stats = gap_statistics(measured, predicted)
            rows.append({"width": width, **stats.as_dict(), "lr": lr,
                         "scale": hanin_nica_scale(depth, width),
                         "seconds": time.perf_counter() - started})
            curves.append({"width": width, "mean": measured.mean(axis=0),
                           "std": measured.std(axis=0, ddof=1), "min": measured.min(axis=0),
                           "max": measured.max(axis=0)})
            if progress:
                progress(f"{label} n={width}: gap {stats.gap:.4f} (bias {stats.bias:.4f}, "
                         f"fluctuation {stats.fluctuation:.4f})")
        spec = spectrum(ntk)
        chi = chi_1(block)
        results[label] = {
            "description": description, "chi_1": chi, "phase": phase(chi), "kappa": spec.kappa,
            "lambda_max_over_m": spec.lambda_max / m, "lr": lr, "predicted": predicted,
            "curves": curves, "rows": rows,
            "rates": fit_rates(rows) if len(rows) >= 2 else {},
        }
    rated = {k: v["rates"] for k, v in results.items() if v["rates"]}
    return {"data": dataset.name, "m": m, "depth": depth, "steps": steps, "outputs": classes,
            "lr_fraction": profile["lr_fraction"],
            "seeds": profile["seeds"], "seed": seed, "widths": profile["widths"],
            "schemes": results, "pooled_rates": pooled(rated) if rated else {},
            "declared_rates": DECLARED}


def main(argv=None) -> int:
    from kernelnorm.io import write_json

    parser = pipeline_parser(__doc__, name=FIGURE["name"], data="digits")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    payload = run(PROFILES[args.profile], args.seed, args.data,
                  progress=lambda line: print(line, file=sys.stderr, flush=True))
    payload.update(profile=args.profile, seconds=time.perf_counter() - started)
    for label, result in payload["schemes"].items():
        rates = result["rates"]
        if rates:
            print(f"{label:17s} chi_1 = {result['chi_1']:.3f} ({result['phase']}), kappa = "
                  f"{result['kappa']:.3g}: bias slope {rates['bias']['slope']:+.2f} +- "
                  f"{rates['bias']['se']:.2f}, fluctuation slope "
                  f"{rates['fluctuation']['slope']:+.2f} +- {rates['fluctuation']['se']:.2f}, "
                  f"gap slope {rates['gap']['slope']:+.2f} +- {rates['gap']['se']:.2f}")
    for name, fit in payload["pooled_rates"].items():
        print(f"pooled {name:11s} slope {fit['slope']:+.3f} +- {fit['se']:.3f} "
              f"(declared {fit['declared']:+.1f})")
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    from kernelnorm.io import run_script

    raise SystemExit(run_script(main))
