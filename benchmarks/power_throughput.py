"""Throughput of the random conv nets behind ``kernelnorm power`` (float32, jit, lax.scan).

Target (issue 5): depth 50, width 256, 32x32, 128 inputs, 10 realisations in <= 60 s. One such
layer is 128 * 32*32 * 256*256 * 9 = 7.7e10 multiply-adds, the whole target 3.9e13 (7.7e13
FLOP): 60 s needs 1.3 TFLOP/s sustained. This script measures, side by side in one run:

1. one full-size layer with XLA's convolution vs the shifted-matmul periodic conv we use;
2. the per-layer cost of the full-size net (difference of a 2- and a 4-layer net, compile
   excluded) and the extrapolated time of the target;
3. an end-to-end ``power_profile`` run of a reduced configuration, timed.

Usage: ``.venv/bin/python benchmarks/power_throughput.py [--full] [--skip-conv]``
(``--full`` also runs the whole target end to end: about an hour on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TARGET = dict(depth=50, width=256, resolution=32, n_inputs=128, realisations=10)
REDUCED = dict(depth=50, width=64, resolution=16, n_inputs=64, realisations=10)


def _time(fn, *args, repeats: int = 1) -> float:
    import jax

    jax.block_until_ready(fn(*args))  # compile + warm up
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / repeats


def conv_side_by_side(width: int, resolution: int, n_inputs: int) -> None:
    import jax
    import jax.numpy as jnp

    from kernelnorm.power import conv_periodic

    x = jax.random.normal(jax.random.PRNGKey(0), (n_inputs, resolution, resolution, width))
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, width, width)) / np.sqrt(9 * width)

    def xla_conv(x, w):
        padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
        return jax.lax.conv_general_dilated(padded, w, (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    t_xla = _time(jax.jit(xla_conv), x, w)
    t_ours = _time(jax.jit(conv_periodic), x, w)
    macs = n_inputs * resolution**2 * width**2 * 9
    print(f"one periodic 3x3 conv, {n_inputs}x{resolution}x{resolution}x{width} -> {width}:")
    print(f"  XLA conv_general_dilated: {t_xla:8.3f} s  ({2 * macs / t_xla / 1e9:6.1f} GFLOP/s)")
    print(f"  shifted matmuls (ours):   {t_ours:8.3f} s  ({2 * macs / t_ours / 1e9:6.1f} GFLOP/s)"
          f"   speed-up x{t_xla / t_ours:.2f}")


def per_layer_cost(norm: str, width: int, resolution: int, n_inputs: int) -> float:
    import jax

    from kernelnorm.power import NetConfig, make_inputs, power_scheme, run_realisation

    inputs = make_inputs("digits", n_inputs, resolution)
    times = {}
    for depth in (2, 4):
        config = NetConfig(power_scheme(norm), depth=depth, width=width)
        run_realisation(config, inputs, jax.random.PRNGKey(0))  # compile
        start = time.perf_counter()
        run_realisation(config, inputs, jax.random.PRNGKey(1))
        times[depth] = time.perf_counter() - start
    return (times[4] - times[2]) / 2


def end_to_end(norm: str, depth, width, resolution, n_inputs, realisations) -> float:
    from kernelnorm.power import make_inputs, power_profile

    inputs = make_inputs("digits", n_inputs, resolution)
    start = time.perf_counter()
    power_profile(norm, depth=depth, width=width, realisations=realisations, inputs=inputs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norm", default="ln+pn")
    parser.add_argument("--full", action="store_true", help="run the whole target end to end")
    parser.add_argument("--skip-conv", action="store_true")
    args = parser.parse_args()
    t = TARGET
    if not args.skip_conv:
        conv_side_by_side(t["width"], t["resolution"], t["n_inputs"])
    layer = per_layer_cost(args.norm, t["width"], t["resolution"], t["n_inputs"])
    macs = t["n_inputs"] * t["resolution"] ** 2 * t["width"] ** 2 * 9
    layers = t["depth"] * t["realisations"]
    print(f"{args.norm} net, width {t['width']}, {t['resolution']}x{t['resolution']}, "
          f"{t['n_inputs']} inputs, float32: {layer:.3f} s per layer "
          f"({2 * macs / layer / 1e9:.1f} GFLOP/s)")
    print(f"  target {t['depth']} layers x {t['realisations']} realisations: extrapolated "
          f"{layer * layers:.0f} s (target 60 s: {'met' if layer * layers <= 60 else 'NOT met'};"
          f" it needs {2 * macs * layers / 60 / 1e12:.2f} TFLOP/s)")
    r = REDUCED
    seconds = end_to_end(args.norm, r["depth"], r["width"], r["resolution"], r["n_inputs"],
                         r["realisations"])
    print(f"end to end (compile included), depth {r['depth']}, width {r['width']}, "
          f"{r['resolution']}x{r['resolution']}, {r['n_inputs']} inputs, {r['realisations']} "
          f"realisations: {seconds:.1f} s ({seconds / (r['depth'] * r['realisations']) * 1e3:.1f}"
          f" ms per layer)")
    if args.full:
        seconds = end_to_end(args.norm, t["depth"], t["width"], t["resolution"],
                             t["n_inputs"], t["realisations"])
        print(f"end to end, full target: {seconds:.1f} s")


if __name__ == "__main__":
    main()
