"""MimicNorm supplement Fig. 10 (Appendix B.2): running variance of the last BN layer over the
first epochs at a large learning rate, for a VGG and a ResNet of the trainable core.

The paper (CIFAR-100, VGG11 and ResNet18, lr 0.1, BN momentum 0.1): "large learning rate
enlarges variance which causes the divergence of straight network, and last BN layer hinders
this trend by auto-tuning learning rate". Here the MimicNorm nets (weight mean + last BN) record
the running variance of every logit channel after every SGD step; the same nets without the last
BN (weight mean only) train side by side, and their loss per step shows what the last BN
prevents. Digits 8x8 stand in for CIFAR-100 (``--data cifar100:DIR`` runs the paper's data).
Run: python analysis/mimicnorm_fig10_last_bn_variance.py [--profile default] [--data digits]
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
    "name": "mimicnorm_fig10_last_bn_variance",
    "paper": "MimicNorm supplement Fig. 10 (Appendix B.2)",
    "claim": "at a large learning rate the running variance of the last BN surges within a few "
             "steps and then stabilises; without the last BN the same net fails to train",
    "estimate_s": 33,
    "estimate_full_s": 420,
    "data": "digits",
}
PROFILES = {
    "tiny": {"models": [["vgg-small", 0.25]], "lrs": [0.1], "epochs": 1, "batch": 64},
    "default": {"models": [["vgg11", 0.25], ["resnet20", 0.5]], "lrs": [0.1, 0.4],
                "epochs": 3, "batch": 32},
    "full": {"models": [["vgg11", 1.0], ["resnet18", 1.0]], "lrs": [0.1, 0.4], "epochs": 2,
             "batch": 128},
}
#: (scheme, what it is in the figure): MimicNorm and the same net without its last BN.
SCHEMES = (("mimicnorm", "weight mean + last BN (MimicNorm)"),
           ("weight-mean", "weight mean, no last BN"))


def run(model: str, factor: float, norm: str, lr: float, data, config: dict, seed: int) -> dict:
    n_classes = int(max(data[1].max(), data[3].max())) + 1
    network = build_network(model, norm, input_shape=data[0].shape[1:], n_classes=n_classes,
                            width_factor=factor)
    steps = {"step": [], "loss": [], "running_var": []}

    def record(step, state, loss):
        steps["step"].append(step)
        steps["loss"].append(loss)
        if "last_bn" in state:
            steps["running_var"].append(np.array(state["last_bn"]["var"], np.float64))

    result = train(network, data, TrainConfig(epochs=config["epochs"], batch_size=config["batch"],
                                              lr=lr, seed=seed), on_step=record)
    accuracy = [r["test_accuracy"] for r in result.history if "test_accuracy" in r]
    print(f"{model} x{factor} {norm:<12} lr {lr}: {len(steps['step'])} steps, diverged "
          f"{result.diverged}, test accuracy {accuracy}", flush=True)
    return {"model": model, "width_factor": factor, "norm": norm, "lr": lr,
            "diverged": result.diverged, "diverged_step": result.diverged_step,
            "test_accuracy": accuracy, **steps}


def compute(config: dict, *, seed: int, data: str) -> dict:
    dataset = load_image_dataset(data, seed=seed)
    arrays = images(dataset)
    runs = [run(model, factor, norm, lr, arrays, config, seed)
            for model, factor in config["models"] for lr in config["lrs"] for norm, _ in SCHEMES]
    return {"data_name": dataset.name, "bn_momentum": 0.1, "schemes": dict(SCHEMES),
            "steps_per_epoch": len(arrays[0]) // config["batch"], "runs": runs}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
