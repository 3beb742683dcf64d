"""Mean shift through depth: how much of each convolution's input mean shift its filters pass on,
at initialisation and after training, for CZMI / CZMIG (zmg 0, 0.85, 0.98, 1), BN and plain
ResNets -- the number behind Mean Shift Rejection's "z = 0.85 rejects most of the mean shift".

Per convolution (``kernelnorm.train.mean_shift_profile``): the mean-shift share (``mu_c^2`` term
of the power decomposition) of its input and output, the share of its output power that is the
input's mean shift passed on (interior positions and all positions), and the filters'
common-mode gain (1 for random filters, 0 on the CZM isocline). CZMG multiplies the update of a
filter's spatial-mean component by ``1 - z``; to first order the drift off the isocline shrinks
by ``1 - z`` and the common-mode gain by ``(1 - z)^2`` relative to CZMI (z = 0), the
prediction printed beside the measurement.

Substitution as in analysis/msr_table1.py: digits and a small ResNet instead of CIFAR-10 and
ResNet-110 (docs/mean-shift.md).

Run: python analysis/msr_mean_shift.py [--profile default] [--out results/msr_mean_shift.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm.io import pipeline_parser  # noqa: E402

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FIGURE = {
    "name": "msr_mean_shift",
    "paper": "Mean Shift Rejection §1, §3.3 (CZM filters reject mean shift; zmg 0.85)",
    "claim": "zero-mean filters pass no input mean shift; with zmg = 0.85 they stay close to "
             "the isocline after training (common-mode gain << 1)",
    "estimate_s": 30,
    "estimate_full_s": 500,
    "data": "digits",
}

PROFILES = {
    "tiny": {"model": "resnet8", "width_factor": 0.25, "upsample": 1, "epochs": 1, "batch": 128,
             "seeds": 1, "zmgs": [0.0, 1.0], "baselines": ["bn"], "train_size": 256, "lr": 0.1},
    "default": {"model": "resnet8", "width_factor": 0.5, "upsample": 1, "epochs": 6, "batch": 64,
                "seeds": 1, "zmgs": [0.0, 0.85, 0.98, 1.0], "baselines": ["bn", "plain"],
                "train_size": None, "lr": 0.1},
    "full": {"model": "resnet8", "width_factor": 0.5, "upsample": 2, "epochs": 12, "batch": 64,
             "seeds": 3, "zmgs": [0.0, 0.5, 0.85, 0.9, 0.98, 1.0], "baselines": ["bn", "plain"],
             "train_size": None, "lr": 0.1},
}

PROBE = 1000  # held-out images the measures are taken on (all of digits' 359)
MEASURES = ("input_share", "output_share", "transmitted", "transmitted_interior", "common_mode_gain")


def summarise(layers: list[dict], spatial_only: bool) -> dict:
    """Mean of every measure over the 3x3 convolutions after the stem (the CZM filters of a
    CZMIG net; the same layers of the others), or over all convolutions."""
    chosen = [r for r in layers if not spatial_only or (r["kernel_size"] > 1 and r["layer"] != "stem")]
    return {m: float(np.mean([r[m] for r in chosen])) for m in MEASURES}


def run(profile: dict, seed: int, data_spec: str = "digits", progress=None) -> dict:
    import jax
    import jax.numpy as jnp

    from kernelnorm.data import load_image_dataset
    from kernelnorm.nn import build_network
    from kernelnorm.train import images, mean_shift_profile, train_sweep

    upsample = profile["upsample"]
    x, y, x_test, y_test = (a.repeat(upsample, 1).repeat(upsample, 2) if a.ndim == 4 else a
                            for a in images(load_image_dataset(data_spec)))
    data = x[: profile["train_size"]], y[: profile["train_size"]], x_test, y_test
    classes = int(max(y.max(), y_test.max(initial=0))) + 1
    probe = jnp.asarray(data[2][:PROBE], jnp.float32)
    seeds = [seed + s for s in range(profile["seeds"])]
    configs = [("czmig", {"noise": 0.1}, [{"zmg": z} for z in profile["zmgs"]])]
    configs += [(name, {}, [{}]) for name in profile["baselines"]]
    results = []
    for norm, overrides, variants in configs:
        network = build_network(profile["model"], norm, input_shape=data[0].shape[1:], n_classes=classes,
                                width_factor=profile["width_factor"], **overrides)
        runs = [{"lr": profile["lr"], "seed": s, **v} for v in variants for s in seeds]
        records = train_sweep(network, data, runs, epochs=profile["epochs"], batch_size=profile["batch"],
                              schedule="msr-resnet110", momentum=0.9, weight_decay=5e-4,
                              keep_params=True)
        for record in records:
            params, state = network.init(jax.random.fold_in(jax.random.PRNGKey(record["seed"]), 0))
            initial = mean_shift_profile(network, params, state, probe)
            trained = mean_shift_profile(network, record["params"], record["state"], probe) \
                if not record["diverged"] else None
            label = {"bn": "BN", "plain": "plain"}.get(norm) or \
                ("CZMI (zmg 0)" if record["zmg"] == 0 else f"CZMIG (zmg {record['zmg']:g})")
            results.append({"label": label, "norm": norm, "zmg": record["zmg"], "seed": record["seed"],
                            "test_accuracy": record["test_accuracy"], "diverged": record["diverged"],
                            "initial": initial, "trained": trained,
                            "initial_summary": summarise(initial, True),
                            "trained_summary": summarise(trained, True) if trained else None})
            if progress:
                gain = results[-1]["trained_summary"]["common_mode_gain"] if trained else float("nan")
                progress(f"{label} seed {record['seed']}: test accuracy {record['test_accuracy']:.4f}, "
                         f"common-mode gain after training {gain:.4g}")
    return {"data": data_spec, "image_shape": list(data[0].shape[1:]), "probe": int(probe.shape[0]),
            "model": profile["model"], "width_factor": profile["width_factor"],
            "epochs": profile["epochs"], "lr": profile["lr"], "seeds": seeds, "runs": results,
            "zmg_prediction": zmg_prediction(results)}


def zmg_prediction(results: list[dict]) -> list[dict]:
    """Measured common-mode gain after training (mean over seeds) against ``(1 - z)^2`` times the
    CZMI (z = 0) gain, per zmg factor."""
    by_z: dict = {}
    for r in results:
        if r["norm"] == "czmig" and r["trained_summary"]:
            by_z.setdefault(r["zmg"], []).append(r["trained_summary"]["common_mode_gain"])
    if 0.0 not in by_z:
        return []
    base = float(np.mean(by_z[0.0]))
    return [{"zmg": z, "gain": float(np.mean(g)), "predicted": (1.0 - z) ** 2 * base,
             "rejected": 1.0 - float(np.mean(g))} for z, g in sorted(by_z.items())]


def main(argv=None) -> int:
    from kernelnorm.io import format_table, write_json

    parser = pipeline_parser(__doc__, name=FIGURE["name"], data="digits")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    payload = run(PROFILES[args.profile], args.seed, args.data,
                  progress=lambda line: print(line, file=sys.stderr, flush=True))
    payload.update(profile=args.profile, seconds=time.perf_counter() - started)
    rows = []
    for r in payload["runs"]:
        for when in ("initial", "trained"):
            summary = r[f"{when}_summary"]
            if summary:
                rows.append({"run": r["label"], "seed": r["seed"], "when": when, **summary})
    print(format_table(rows, ["run", "seed", "when", *MEASURES], digits=3))
    for p in payload["zmg_prediction"]:
        print(f"zmg {p['zmg']:<5g} common-mode gain {p['gain']:.4g} (first-order prediction "
              f"(1 - z)^2 x CZMI = {p['predicted']:.4g}); rejected {100 * p['rejected']:.1f}%")
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    from kernelnorm.io import run_script

    raise SystemExit(run_script(main))
