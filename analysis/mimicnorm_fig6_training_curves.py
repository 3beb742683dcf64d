"""MimicNorm Figure 6 analogue (ablation): early training curves of no normalisation, weight
mean, last BN, MimicNorm (both) and BN on a VGG of the trainable core.

The paper (VGG16, CIFAR-100): "weight mean enables faster training [in the beginning], in
accordance with the theoretical prediction. The last BN layer also accelerates training and
improves accuracy, while our method combining weight mean and the last BN layer achieves the best
accuracy." Here: training loss per SGD step and test accuracy per epoch (mean and std over
seeds), digits 8x8 in place of CIFAR-100 (``--data cifar100:DIR`` for the paper's data).
Run: python analysis/mimicnorm_fig6_training_curves.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm import get_scheme  # noqa: E402
from kernelnorm.data import load_image_dataset  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.nn import build_network  # noqa: E402
from kernelnorm.train import TrainConfig, images, train  # noqa: E402

FIGURE = {
    "name": "mimicnorm_fig6_training_curves",
    "paper": "MimicNorm Fig. 6 (ablation on VGG16)",
    "claim": "weight mean trains faster at the start, the last BN improves accuracy, MimicNorm "
             "(both) is best, on par with or above BN in the first epochs",
    "estimate_s": 40,
    "estimate_full_s": 1800,
    "data": "digits",
}
PROFILES = {
    "tiny": {"model": "vgg-small", "width_factor": 0.25, "epochs": 2, "batch": 128, "lr": 0.1,
             "seeds": 1, "norms": ["plain", "mimicnorm"]},
    "default": {"model": "vgg11", "width_factor": 0.25, "epochs": 8, "batch": 128, "lr": 0.1,
                "seeds": 2, "norms": ["plain", "weight-mean", "last-bn", "mimicnorm", "bn"]},
    "full": {"model": "vgg16", "width_factor": 1.0, "epochs": 30, "batch": 128, "lr": 0.1,
             "seeds": 3, "norms": ["plain", "weight-mean", "last-bn", "mimicnorm", "bn"]},
}


def curves(network, data, config: dict, *, seed: int) -> dict:
    losses = []
    result = train(network, data, TrainConfig(epochs=config["epochs"], batch_size=config["batch"],
                                              lr=config["lr"], seed=seed),
                   on_step=lambda step, state, loss: losses.append(loss))
    return {"loss": losses, "test_accuracy": [r["test_accuracy"] for r in result.history
                                              if "test_accuracy" in r],
            "diverged": result.diverged}


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    arrays = images(dataset)
    n_classes = int(max(arrays[1].max(), arrays[3].max())) + 1
    series = []
    for norm in config["norms"]:
        network = build_network(config["model"], norm, input_shape=arrays[0].shape[1:],
                                n_classes=n_classes, width_factor=config["width_factor"])
        runs = [curves(network, arrays, config, seed=seed + s) for s in range(config["seeds"])]
        accuracy = np.array([r["test_accuracy"] + [np.nan] * (config["epochs"] - len(
            r["test_accuracy"])) for r in runs])
        series.append({"norm": norm, "label": get_scheme(norm).label, "runs": runs,
                       "accuracy_mean": np.nanmean(accuracy, axis=0),
                       "accuracy_std": np.nanstd(accuracy, axis=0)})
        print(f"{norm:<12} test accuracy per epoch "
              f"{np.round(100 * series[-1]['accuracy_mean'], 1).tolist()}", flush=True)
    return {"data_name": dataset.name, "steps_per_epoch": len(arrays[0]) // config["batch"],
            "series": series}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
