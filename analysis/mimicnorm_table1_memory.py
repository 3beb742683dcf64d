"""MimicNorm Table 1, memory column: peak memory of one training step per scheme, beside the
paper's numbers.

The paper (PyTorch 1.5, one RTX 2080 Ti, CIFAR-100, batch 256; 128 for ResNet50) reports the
total GPU memory of training; MimicNorm saves 4-10% on VGG and 7-27% on ResNets, SqueezeNet and
ShuffleNet against BN. Here: the peak of one jitted SGD-momentum step from XLA's compiled memory
analysis (``kernelnorm.train.memory_table``: arguments + outputs + temporaries - aliased,
CPU, float32; nothing runs), for every model of the paper's table that the trainable core has,
with the weight mean projected after the step (MimicNorm Appendix C) and, as
``mimicnorm[graph-wm]``, inside the graph. Compare ratios, not bytes: PyTorch's totals include
the CUDA context and allocator caches that XLA's buffer assignment does not have.
Run: python analysis/mimicnorm_table1_memory.py [--profile default]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

from kernelnorm import SCHEMES  # noqa: E402
from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.nn import MODEL_NAMES  # noqa: E402
from kernelnorm.train import memory_table  # noqa: E402

FIGURE = {
    "name": "mimicnorm_table1_memory",
    "paper": "MimicNorm Table 1 (memory column, CIFAR-100)",
    "claim": "MimicNorm needs less training memory than BN (about 4-10% on VGG, 7-27% on "
             "ResNets and lightweight nets), about as much as no normalisation",
    "estimate_s": 42,
    "estimate_full_s": 60,
}
#: MimicNorm Table 1, memory in MB (batch 256; ResNet50: 128).
PAPER = {
    "vgg11": {"batch": 256, "bn": 2971, "mimicnorm": 2851, "plain": 2831},
    "vgg16": {"batch": 256, "bn": 3745, "mimicnorm": 3489, "plain": 3469},
    "resnet18": {"batch": 256, "bn": 4447, "fixup": 4743, "mimicnorm": 4157},
    "resnet50": {"batch": 128, "bn": 8533, "fixup": 10283, "mimicnorm": 7533},
    "squeezenet": {"batch": 256, "bn": 3687, "mimicnorm": 2693},
    "shufflenetv2": {"batch": 256, "bn": 3915, "mimicnorm": 3141},
}
PROFILES = {
    "tiny": {"models": ["vgg-small"], "batch": 8},
    "default": {"models": ["vgg11", "vgg16", "resnet18"], "batch": None},
    "full": {"models": list(PAPER), "batch": None},
}


def compute(config: dict, *, seed: int) -> dict:
    del seed  # compilation only
    tables = {}
    for model in config["models"]:
        if model not in MODEL_NAMES:
            print(f"{model}: not in the trainable core (kernelnorm.nn.MODEL_NAMES), skipped",
                  flush=True)
            continue
        paper = PAPER.get(model, {})
        norms = [n for n in ("bn", "mimicnorm", "plain", "fixup")
                 if n in SCHEMES and (n in paper or not paper)]
        batch = config["batch"] or paper.get("batch", 256)
        rows = memory_table(model, norms, batch=batch, n_classes=100)
        tables[model] = {"batch": batch, "rows": rows, "paper": paper}
        print(f"{model} (batch {batch}): " + ", ".join(
            f"{r['scheme']} {r['peak_MiB']:.0f} MiB ({r['/bn']:.3f} of BN)" for r in rows),
            flush=True)
    return {"tables": tables}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
