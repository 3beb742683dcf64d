"""Peak memory of one jitted SGD training step per scheme on every model of MimicNorm's memory
columns (Table 1: CIFAR-100, 32x32; Table 3: ImageNet, 224x224), at the paper's batch sizes,
with MimicNorm's ratios to BN printed beside ours, measured side by side in one run.

XLA's compiled memory analysis (float32, nothing executed, CPU is enough). The models are the
authors' (``--preset mimicnorm-authors`` for the 32 px rows, ``mimicnorm-authors-imagenet``
for the 224 px rows: VGG's 4096-4096 head and stems for every row; their weight-mean rule,
branch and shortcut scalars for MimicNorm); BN, NoNorm and Fixup rows use the same architecture
with their own scheme. Paper numbers are PyTorch GPU
memory from ``nvidia-smi`` (CUDA context, cuDNN workspace and allocator cache included): only
the ratios are comparable, and ours count the step's buffers alone.

    .venv/bin/python benchmarks/memory_table.py [--rows resnet50@224,squeezenet@32 --norms plain,bn,mimicnorm,fixup]
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> None:
    from kernelnorm.io import format_table
    from kernelnorm.train import PAPER_MEMORY, memory_settings, memory_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="all",
                        help="comma-separated MODEL@SIDE rows of MimicNorm's tables (default: all)")
    parser.add_argument("--norms", default="plain,bn,mimicnorm,fixup")
    parser.add_argument("--batch", type=int, default=None, help="default: the paper's batch per row")
    args = parser.parse_args()
    keys = list(PAPER_MEMORY) if args.rows == "all" else \
        [(r.split("@")[0], int(r.split("@")[1])) for r in args.rows.split(",")]
    norms = args.norms.split(",")
    summary = []
    for model, side in keys:
        paper = PAPER_MEMORY[(model, side)]
        preset = "mimicnorm-authors" if side == 32 else "mimicnorm-authors-imagenet"
        model, shared, per_scheme = memory_settings(preset, model)
        batch = args.batch or paper.batch
        started = time.perf_counter()
        rows = memory_table(model, norms, batch=batch, n_classes=paper.n_classes,
                            input_shape=(side, side, 3), per_scheme=per_scheme, **shared)
        seconds = time.perf_counter() - started
        print(f"\n{model}, {side}x{side}x3, batch {batch}, {paper.n_classes} classes, preset "
              f"{preset} ({paper.source}); compiled {len(rows)} steps in {seconds:.0f} s", flush=True)
        for row in rows:
            row["paper/bn"] = paper.ratio(row["scheme"])
        print(format_table(rows, ["scheme", "peak_MiB", "temp_MiB", "params", "/plain", "/bn",
                                  "paper/bn"], digits=5), flush=True)
        ours = {r["scheme"]: r for r in rows}
        for name in ("mimicnorm", "fixup", "plain"):
            if name in ours and "bn" in ours and paper.ratio(name) is not None:
                summary.append({"model": model, "side": side, "batch": batch, "scheme": name,
                                "ours/bn": ours[name]["/bn"], "paper/bn": paper.ratio(name),
                                "seconds": seconds})
    print("\nMimicNorm's memory ratios to BN, ours beside the paper's")
    print(format_table(summary, ["model", "side", "batch", "scheme", "ours/bn", "paper/bn",
                                 "seconds"], digits=4))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
