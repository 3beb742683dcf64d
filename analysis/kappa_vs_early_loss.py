"""Theory -> training, qualitatively: does a well-conditioned NTK (kappa near 1) at initialisation
mean faster early training? (MimicNorm §2-3: "only in the chaotic phase can the network achieve
a linear convergence rate".)

For every registered scheme with a dense kernel (``kernelnorm.scheme_names(engine="dense")``)
and several depths: ``kappa`` of the infinite-width NTK (``kernelnorm.ntk``) on the training
inputs, against the training cross-entropy reached after ``N`` steps of real minibatch SGD
(momentum 0.9) of the trainable FCNN of ``kernelnorm.nn`` with the same scheme, at the best
learning rate of a log grid (so that the comparison is about conditioning, not about the
scale of the NTK). Spearman rank correlation over all (scheme, depth) points with a bootstrap
confidence interval; the prediction is a positive correlation (larger kappa, higher loss).

Run: python analysis/kappa_vs_early_loss.py [--profile default] [--out results/kappa_vs_early_loss.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm.io import pipeline_parser  # noqa: E402

import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FIGURE = {
    "name": "kappa_vs_early_loss",
    "paper": "MimicNorm §2-3 (Theorem 1 / Xiao et al. 2019: chaotic, well-conditioned NTK trains faster)",
    "claim": "NTK condition number at init vs training loss after N SGD steps: Spearman "
             "rank correlation with bootstrap CI",
    "estimate_s": 108,
    "estimate_full_s": 3300,
    "data": "mnist1d",
}

def _log_grid(low: int, high: int, count: int) -> list[float]:
    return [float(f"{v:.3g}") for v in np.logspace(low, high, count)]


PROFILES = {
    "tiny": {"m": 128, "depths": [1, 3], "width": 32, "steps": 10, "batch": 32, "seeds": 1,
             "lrs": _log_grid(-2, 0, 3), "schemes": ["plain", "bn", "weight-mean"],
             "bootstrap": 200},
    "default": {"m": 1000, "depths": [2, 5, 14], "width": 128, "steps": 50, "batch": 100,
                "seeds": 1, "lrs": _log_grid(-4, 1, 9), "schemes": None, "bootstrap": 2000},
    "full": {"m": 2000, "depths": [2, 4, 8, 16, 32], "width": 256, "steps": 100, "batch": 100,
             "seeds": 2, "lrs": _log_grid(-5, 1, 13), "schemes": None, "bootstrap": 10000},
}


def train_grid(network, x, y, *, lrs, seeds: int, steps: int, batch: int, seed: int):
    """Training cross-entropy on all of ``x`` (evaluation mode) after ``steps`` SGD steps
    (momentum 0.9, no weight decay, constant learning rate) for every learning rate x seed,
    ``(len(lrs), seeds)``, NaN where a run diverged; one compiled, batched sweep."""
    from kernelnorm.train import train_sweep

    runs = [{"lr": lr, "seed": seed + s} for lr in lrs for s in range(seeds)]
    epochs = -(-steps * batch // len(x))
    records = train_sweep(network, (x, y, x, y), runs, epochs=epochs, batch_size=batch,
                          steps=steps, momentum=0.9, weight_decay=0.0, batched=True)
    losses = np.array([r["test_loss"] for r in records], dtype=np.float64).reshape(len(lrs), seeds)
    return np.where(np.isfinite(losses), losses, np.nan)


def best_loss(losses, lrs) -> tuple[float, float]:
    """``(loss, lr)``: the learning rate whose mean loss over seeds is lowest (diverged: +inf)."""
    means = np.array([np.mean(row) if np.all(np.isfinite(row)) else np.inf for row in losses])
    k = int(np.argmin(means))
    return float(means[k]), float(lrs[k])


def spearman_ci(kappa, loss, *, resamples: int, seed: int, level: float = 0.95) -> dict:
    """Spearman ``rho`` of ``(kappa, loss)`` with a percentile bootstrap interval over points."""
    from scipy.stats import spearmanr

    kappa, loss = np.asarray(kappa, np.float64), np.asarray(loss, np.float64)
    rho = float(spearmanr(kappa, loss).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, len(kappa), len(kappa))
        if np.ptp(kappa[pick]) > 0 and np.ptp(loss[pick]) > 0:
            draws.append(spearmanr(kappa[pick], loss[pick]).statistic)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {"rho": rho, "ci_low": float(low), "ci_high": float(high), "level": level,
            "points": int(len(kappa)), "resamples": len(draws)}


def grouped_spearman(points, key) -> dict:
    """Spearman ``rho`` within each group of points (``key(point)``), where it is defined."""
    from scipy.stats import spearmanr

    groups: dict = {}
    for p in points:
        groups.setdefault(key(p), []).append(p)
    out = {}
    for name, members in groups.items():
        kappa = [p["kappa"] for p in members]
        loss = [p["loss"] for p in members]
        if len(members) >= 3 and np.ptp(kappa) > 0 and np.ptp(loss) > 0:
            out[str(name)] = float(spearmanr(kappa, loss).statistic)
    return out


def run(profile: dict, seed: int, data: str = "mnist1d", progress=None) -> dict:
    from kernelnorm import chi_1, dense, phase, scheme_names
    from kernelnorm.data import load_dataset, normalise_rows
    from kernelnorm.nn import build_network
    from kernelnorm.ntk import kappa_vs_depth

    dataset = load_dataset(data)
    x = normalise_rows(dataset.x[: profile["m"]])
    y = np.asarray(dataset.y[: profile["m"]])
    classes = int(dataset.y.max()) + 1
    names = profile["schemes"] or list(scheme_names(engine="dense"))
    lrs = profile["lrs"]
    points = []
    for name in names:
        block = dense(name)
        chi = chi_1(block)
        # the trainable FCNN of depth D has D hidden layers + the classifier: an NTK of depth D + 1
        reports = kappa_vs_depth(block, x, [d + 1 for d in profile["depths"]])
        for depth, report in zip(profile["depths"], reports):
            started = time.perf_counter()
            network = build_network("fcnn", name, input_shape=(x.shape[1],), n_classes=classes,
                                    depth=depth, width=profile["width"], weight_mean_mode="graph")
            losses = train_grid(network, x, y, lrs=lrs, seeds=profile["seeds"],
                                steps=profile["steps"], batch=profile["batch"], seed=seed)
            loss, lr = best_loss(losses, lrs)
            point = {"scheme": name, "depth": depth, "ntk_depth": depth + 1, "kappa": report.kappa,
                     "lambda_max_over_m": report.lambda_max / report.m,
                     "chi_1": chi, "phase": phase(chi), "loss": loss, "best_lr": lr,
                     "losses": losses, "seconds": time.perf_counter() - started}
            points.append(point)
            if progress:
                progress(f"{name} depth {depth}: kappa {report.kappa:.4g}, loss {loss:.4f} at lr {lr}")
    finite = [p for p in points if math.isfinite(p["loss"]) and math.isfinite(p["kappa"])]
    overall = spearman_ci([p["kappa"] for p in finite], [p["loss"] for p in finite],
                          resamples=profile["bootstrap"], seed=seed)
    return {"data": dataset.name, "m": profile["m"], "width": profile["width"],
            "steps": profile["steps"], "batch": profile["batch"], "seeds": profile["seeds"],
            "lrs": lrs, "depths": profile["depths"], "chance_loss": math.log(classes),
            "points": points, "spearman": overall,
            "within_depth": grouped_spearman(finite, lambda p: p["depth"]),
            "within_scheme": grouped_spearman(finite, lambda p: p["scheme"]),
            "excluded": [(p["scheme"], p["depth"]) for p in points if p not in finite]}


def main(argv=None) -> int:
    from kernelnorm.io import write_json

    parser = pipeline_parser(__doc__, name=FIGURE["name"], data="mnist1d")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    payload = run(PROFILES[args.profile], args.seed, args.data,
                  progress=lambda line: print(line, file=sys.stderr, flush=True))
    payload.update(profile=args.profile, seconds=time.perf_counter() - started)
    s = payload["spearman"]
    print(f"Spearman rho(kappa, loss after {payload['steps']} steps) = {s['rho']:+.3f}, "
          f"{100 * s['level']:.0f}% bootstrap CI [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] "
          f"over {s['points']} (scheme, depth) points")
    print("within depth:", {k: round(v, 3) for k, v in payload["within_depth"].items()})
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    from kernelnorm.io import run_script

    raise SystemExit(run_script(main))
