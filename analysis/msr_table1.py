"""Mean Shift Rejection Table 1 at a size this machine runs: CZMI / CZMIG (zmg factor, noise
injection, learning rate) against batch norm, several seeds, test accuracy mean +- std.

Substitution (stated in docs/mean-shift.md): the paper trains ResNet-110 on CIFAR-10 for 200
epochs (batch 128, SGD momentum 0.9, x0.1 at epochs 100 and 150, LUMA 5e-4 for CZMIG, L2 5e-4
for BN). Here: a CIFAR ResNet of the trainable core (resnet8 at half width by default) on
sklearn digits (8x8, optionally upsampled), the same optimiser, the same schedule shape
(milestones at 50% and 75% of the run, ``msr-resnet110`` preset) and the same regularisers,
for a few epochs. ``zmg`` and the learning rate are traced arguments of one compiled training
function per network (``kernelnorm.train.train_sweep``).

Run: python analysis/msr_table1.py [--profile default] [--out results/msr_table1.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm.io import pipeline_parser  # noqa: E402

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FIGURE = {
    "name": "msr_table1",
    "paper": "Mean Shift Rejection (arXiv 1911.13173) Table 1",
    "claim": "CZMIG (zmg 0.85, lr 0.4, noise 0.1) matches or beats BN without minibatch "
             "statistics; zmg 1 and CZMI alone are worse",
    "estimate_s": 79,
    "estimate_full_s": 2100,
    "data": "digits",
}

#: The paper's Table 1: (method, lr, zmg, noise, test accuracy %, std) on CIFAR-10 / ResNet-110.
PAPER_ROWS = [
    ("CZMIG", 0.4, 0.85, 0.1, 94.03, 0.14),
    ("BatchNorm", 0.1, 0.0, 0.0, 93.70, 0.55),
    ("CZMIG", 0.4, 0.98, 0.1, 93.64, 0.11),
    ("CZMIG", 0.4, 0.85, 0.0, 93.57, 0.12),
    ("CZMIG", 0.2, 0.85, 0.0, 93.44, 0.18),
    ("CZMI", 0.4, 0.0, 0.1, 93.33, 0.11),
    ("CZMI", 0.1, 0.0, 0.0, 93.06, 0.22),
    ("CZMI", 0.2, 0.0, 0.0, 92.95, 0.23),
    ("CZMI", 0.4, 0.0, 0.0, 92.13, 0.26),
    ("CZMIG", 0.1, 0.85, 0.0, 92.95, 0.20),
    ("CZMI", 0.1, 1.0, 0.1, 91.03, 0.25),
]

PROFILES = {
    "tiny": {"model": "resnet8", "width_factor": 0.25, "upsample": 1, "epochs": 1, "batch": 128,
             "seeds": 2, "grid": "paper", "rows": [0, 1], "train_size": 256},
    "default": {"model": "resnet8", "width_factor": 0.5, "upsample": 1, "epochs": 6, "batch": 64,
                "seeds": 3, "grid": "paper", "rows": None, "train_size": None},
    "full": {"model": "resnet8", "width_factor": 0.5, "upsample": 2, "epochs": 12, "batch": 64,
             "seeds": 4, "grid": "factorial", "rows": None, "train_size": None},
}


def configurations(profile: dict) -> list[dict]:
    """The table's rows: the paper's 11 (``grid="paper"``) or zmg {0, 0.85, 0.98, 1} x noise
    {0, 0.1} x lr {0.1, 0.2, 0.4} plus BN at each lr (``"factorial"``)."""
    if profile["grid"] == "paper":
        rows = [{"method": m, "lr": lr, "zmg": z, "noise": a, "paper_accuracy": acc, "paper_std": sd}
                for m, lr, z, a, acc, sd in PAPER_ROWS]
        return [rows[i] for i in profile["rows"]] if profile["rows"] else rows
    paper = {(m if m == "BatchNorm" else "CZM", lr, z, a): (acc, sd) for m, lr, z, a, acc, sd in PAPER_ROWS}
    rows = []
    for lr in (0.1, 0.2, 0.4):
        acc, sd = paper.get(("BatchNorm", lr, 0.0, 0.0), (None, None))
        rows.append({"method": "BatchNorm", "lr": lr, "zmg": 0.0, "noise": 0.0,
                     "paper_accuracy": acc, "paper_std": sd})
        for z in (0.0, 0.85, 0.98, 1.0):
            for a in (0.0, 0.1):
                acc, sd = paper.get(("CZM", lr, z, a), (None, None))
                rows.append({"method": "CZMI" if z == 0 else "CZMIG", "lr": lr, "zmg": z, "noise": a,
                             "paper_accuracy": acc, "paper_std": sd})
    return rows


def load_images(spec: str, upsample: int, train_size: int | None):
    """Standardised NHWC images of ``spec`` (``digits``, or a user's ``mnist:DIR``,
    ``cifar10:DIR``, ``cifar100:DIR``), upsampled ``upsample`` x by nearest pixel, the first
    ``train_size`` training images (all when ``None``)."""
    from kernelnorm.data import load_image_dataset
    from kernelnorm.train import images

    x, y, x_test, y_test = (a.repeat(upsample, 1).repeat(upsample, 2) if a.ndim == 4 else a
                            for a in images(load_image_dataset(spec)))
    return x[:train_size], y[:train_size], x_test, y_test


def run(profile: dict, seed: int, data_spec: str = "digits", progress=None) -> dict:
    from kernelnorm.nn import build_network
    from kernelnorm.train import train_sweep

    data = load_images(data_spec, profile["upsample"], profile["train_size"])
    classes = int(max(data[1].max(), data[3].max(initial=0))) + 1
    rows = configurations(profile)
    seeds = [seed + s for s in range(profile["seeds"])]
    groups: dict = {}
    for i, row in enumerate(rows):
        key = ("bn", 0.0) if row["method"] == "BatchNorm" else ("czmig", row["noise"])
        groups.setdefault(key, []).append(i)
    results = [dict(row, accuracies=[], diverged=0) for row in rows]
    magnitudes = []
    for (norm, noise), members in groups.items():
        overrides = {} if norm == "bn" else {"noise": noise}
        network = build_network(profile["model"], norm, input_shape=data[0].shape[1:], n_classes=classes,
                                width_factor=profile["width_factor"], **overrides)
        runs = [{"lr": rows[i]["lr"], "seed": s, "row": i, **({} if norm == "bn" else {"zmg": rows[i]["zmg"]})}
                for i in members for s in seeds]

        def report(record, norm=norm, noise=noise):
            if progress:
                progress(f"{norm} noise {noise} lr {record['lr']} zmg {record['zmg']} seed "
                         f"{record['seed']}: test accuracy {record['test_accuracy']:.4f} "
                         f"({record['seconds']:.1f} s)")

        for record in train_sweep(network, data, runs, epochs=profile["epochs"],
                                  batch_size=profile["batch"], schedule="msr-resnet110",
                                  momentum=0.9, weight_decay=5e-4, keep_params=norm == "bn",
                                  progress=report):
            if norm == "bn" and not record["diverged"]:
                magnitudes.append(filter_magnitude(record["params"]))
            target = results[record["row"]]
            target["diverged"] += int(record["diverged"])
            target["accuracies"].append(100.0 * record["test_accuracy"])
    for row in results:
        finite = [a for a in row["accuracies"] if np.isfinite(a)]
        row["accuracy"] = float(np.mean(finite)) if finite else float("nan")
        row["std"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
    bn_lr = next((r["lr"] for r in rows if r["method"] == "BatchNorm"), None)
    magnitude = float(np.mean(magnitudes)) if magnitudes else float("nan")
    return {"bn_filter_magnitude": magnitude,
            "bn_effective_lr": bn_lr / magnitude ** 2 if bn_lr and magnitudes else float("nan"),
            "data": data_spec, "image_shape": list(data[0].shape[1:]), "train": len(data[0]),
            "test": len(data[2]), "model": profile["model"], "width_factor": profile["width_factor"],
            "epochs": profile["epochs"], "batch": profile["batch"], "seeds": seeds,
            "schedule": "msr-resnet110 (x0.1 at 50% and 75% of the epochs)",
            "regularisation": "CZMIG: LUMA 5e-4; BN: L2 5e-4", "momentum": 0.9, "rows": results}


def filter_magnitude(params) -> float:
    """Mean Euclidean norm of the convolution filters (one per output channel) of a trained
    network: the paper's recipe for BN's effective learning rate ``lr / magnitude^2`` (§4.3)."""
    norms = [np.sqrt((np.asarray(layer["w"], np.float64) ** 2).sum(axis=(0, 1, 2)))
             for layer in params.values() if "w" in layer and np.ndim(layer["w"]) == 4]
    return float(np.mean(np.concatenate(norms)))


def format_rows(rows: list[dict]) -> str:
    from kernelnorm.io import format_table

    table = [{"method": r["method"], "lr": r["lr"], "zmg": r["zmg"], "noise": r["noise"],
              "accuracy": f"{r['accuracy']:.2f} (+-{r['std']:.2f})",
              "diverged": r["diverged"],
              "paper": "-" if r["paper_accuracy"] is None else f"{r['paper_accuracy']:.2f} (+-{r['paper_std']:.2f})"}
             for r in sorted(rows, key=lambda r: -np.nan_to_num(r["accuracy"], nan=-1.0))]
    return format_table(table, ["method", "lr", "zmg", "noise", "accuracy", "diverged", "paper"])


def main(argv=None) -> int:
    from kernelnorm.io import write_json

    parser = pipeline_parser(__doc__, name=FIGURE["name"], data="digits")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    payload = run(PROFILES[args.profile], args.seed, args.data,
                  progress=lambda line: print(line, file=sys.stderr, flush=True))
    payload.update(profile=args.profile, seconds=time.perf_counter() - started)
    print(format_rows(payload["rows"]))
    print(f"BN filter magnitude after training {payload['bn_filter_magnitude']:.3f}: effective "
          f"learning rate {payload['bn_effective_lr']:.4f} (the paper: 0.1 / 0.5^2 = 0.4)")
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    from kernelnorm.io import run_script

    raise SystemExit(run_script(main))
