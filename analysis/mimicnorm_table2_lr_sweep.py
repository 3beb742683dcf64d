"""MimicNorm Table 2 analogue: best test accuracy within the first epochs against learning rate,
for no normalisation / weight mean / MimicNorm / BN, several seeds (mean and std).

The paper (VGG16, CIFAR-100, best accuracy of the first 10 epochs, lr 0.01 ... 1.0): without
normalisation and with weight mean alone the net fails from lr 0.1-0.2 on; the last BN of
MimicNorm keeps it trainable at every rate, BN degrades at large rates. Here a VGG of the
trainable core on digits 8x8 (``--data cifar100:DIR`` runs the paper's data), the paper's
warm-up schedule (2 epochs) and SGD momentum 0.9. A run whose loss turns non-finite counts with
the best accuracy it reached before (chance if none).
Run: python analysis/mimicnorm_table2_lr_sweep.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm.data import load_image_dataset  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.nn import build_network  # noqa: E402
from kernelnorm.train import TrainConfig, images, train  # noqa: E402

FIGURE = {
    "name": "mimicnorm_table2_lr_sweep",
    "paper": "MimicNorm Table 2 (learning-rate stability)",
    "claim": "the last BN makes the net trainable at large learning rates where no "
             "normalisation and weight mean alone fail; weight mean is fastest at small rates",
    "estimate_s": 132,
    "estimate_full_s": 3600,
    "data": "digits",
}
LRS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
NORMS = ["plain", "weight-mean", "mimicnorm", "bn"]
PROFILES = {
    "tiny": {"model": "vgg-small", "width_factor": 0.25, "epochs": 1, "batch": 128,
             "seeds": 1, "lrs": [0.05, 1.0], "norms": ["plain", "mimicnorm"]},
    "default": {"model": "vgg11", "width_factor": 0.25, "epochs": 3, "batch": 128, "seeds": 2,
                "lrs": LRS, "norms": NORMS},
    "full": {"model": "vgg16", "width_factor": 1.0, "epochs": 10, "batch": 128, "seeds": 3,
             "lrs": LRS, "norms": NORMS},
}
#: MimicNorm Table 2 (VGG16, CIFAR-100, best accuracy % of the first 10 epochs).
PAPER = {"columns": ["None", "Weight Mean", "MimicNorm", "Batch Norm"],
         "lrs": LRS,
         "accuracy": [[22.12, 34.81, 38.39, 37.82], [26.76, 43.07, 44.32, 40.49],
                      [25.63, 42.63, 49.53, 37.97], [1.24, 36.49, 46.92, 32.4],
                      [1.77, 1.00, 39.41, 25.5], [1.00, 1.00, 22.03, 8.26],
                      [1.00, 1.00, 9.83, 3.93]]}


def best_accuracy(network, data, config: dict, *, lr: float, seed: int) -> tuple[float, bool]:
    """Best test accuracy over the epochs and whether the run diverged (chance if it diverged
    before the first evaluation)."""
    result = train(network, data, TrainConfig(epochs=config["epochs"],
                                              batch_size=config["batch"], lr=lr, seed=seed))
    accuracies = [r["test_accuracy"] for r in result.history if "test_accuracy" in r]
    return (max(accuracies) if accuracies else 1.0 / network.n_classes), result.diverged


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    arrays = images(dataset)
    n_classes = int(max(arrays[1].max(), arrays[3].max())) + 1
    cells = []
    for norm in config["norms"]:
        network = build_network(config["model"], norm, input_shape=arrays[0].shape[1:],
                                n_classes=n_classes, width_factor=config["width_factor"])
        for lr in config["lrs"]:
            runs = [best_accuracy(network, arrays, config, lr=lr, seed=seed + s)
                    for s in range(config["seeds"])]
            best = np.array([accuracy for accuracy, _ in runs])
            cells.append({"norm": norm, "lr": lr, "best": best, "mean": best.mean(),
                          "std": best.std(ddof=1) if len(best) > 1 else 0.0,
                          "diverged": sum(diverged for _, diverged in runs)})
            print(f"{norm:<12} lr {lr:<5}: best accuracy {100 * best.mean():.2f} +- "
                  f"{100 * cells[-1]['std']:.2f} % ({cells[-1]['diverged']}/{len(runs)} "
                  "diverged)", flush=True)
    return {"data_name": dataset.name, "n_classes": n_classes, "cells": cells, "paper": PAPER}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
