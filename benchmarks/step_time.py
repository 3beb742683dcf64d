"""Train-step wall time of MimicNorm against BN, NoNorm and Fixup on CPU, measured in the same run.

Median over repeats of one jitted SGD step (compiled beforehand, ``block_until_ready``), float32,
the variants timed round-robin.
Prints the ratios MimicNorm/BN and MimicNorm/NoNorm. Timings on a shared machine are noisy.

    .venv/bin/python benchmarks/step_time.py [--model resnet20 --batch 128 --repeats 20]
    (any model of kernelnorm.nn.MODEL_NAMES: squeezenet, shufflenetv2, resnet50, ...)
"""

from __future__ import annotations

import argparse
import statistics
import time


def compiled_step(model: str, norm: str, *, batch: int, side: int, **overrides):
    """A zero-argument function running one jitted SGD step (compiled and warmed up)."""
    import jax
    import jax.numpy as jnp

    from kernelnorm.nn import build_network
    from kernelnorm.train import make_optimizer, make_train_step

    net = build_network(model, norm, input_shape=(side, side, 3), n_classes=10, **overrides)
    params, state = net.init(jax.random.PRNGKey(0))
    optimizer = make_optimizer(net, params, 0.01, momentum=0.9, weight_decay=5e-4)
    opt_state = optimizer.init(params)
    step = jax.jit(make_train_step(net, optimizer, params))
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, side, side, 3))
    y = jnp.arange(batch) % 10
    key = jax.random.PRNGKey(2)
    carry = [step(params, state, opt_state, x, y, key)]
    jax.block_until_ready(carry[0])

    def run():
        carry[0] = step(*carry[0][:3], x, y, key)
        jax.block_until_ready(carry[0])

    return run


def interleaved_medians(steps: dict, repeats: int) -> dict:
    """Median seconds per step, timing the variants round-robin so that machine load drifts
    hit all of them alike."""
    times = {label: [] for label in steps}
    for _ in range(repeats):
        for label, run in steps.items():
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    variants = {"none": ("none", {}), "bn": ("bn", {}), "mimicnorm": ("mimicnorm", {}),
                "mimicnorm[graph-wm]": ("mimicnorm", {"weight_mean_mode": "graph"}),
                "fixup": ("fixup", {})}
    steps = {label: compiled_step(args.model, norm, batch=args.batch, side=args.side, **kw)
             for label, (norm, kw) in variants.items()}
    seconds = interleaved_medians(steps, args.repeats)
    print(f"{args.model}, batch {args.batch}, {args.side}x{args.side}x3, median of {args.repeats} steps (CPU)")
    for label, value in seconds.items():
        print(f"  {label:22s} {value * 1e3:8.1f} ms/step")
    print(f"MimicNorm/BN     = {seconds['mimicnorm'] / seconds['bn']:.3f}")
    print(f"MimicNorm/NoNorm = {seconds['mimicnorm'] / seconds['none']:.3f}")
    print(f"Fixup/BN         = {seconds['fixup'] / seconds['bn']:.3f}")


if __name__ == "__main__":
    main()
