"""Benchmark: CNTK with global average pooling, kernelnorm.conv vs neural-tangents, side by side.

The issue-14 configuration: a depth-10 ReLU conv net of 3x3 filters (plain weights, the
critical init sigma_w2 = 2, no bias), global average pooling and one dense unit, on 32 inputs
of 8x8 (sklearn digits, centred and normalised), float64, NNGP and NTK. neural-tangents 0.6.5
(jax 0.4.38) runs its ``kernel_fn`` under ``jax.jit`` in the pinned ``.venv-nt`` interpreter;
ours runs ``kernelnorm.conv.conv_net(...).kernels``. Each side runs in its own fresh process
(so that peak memory is its own), and the two alternate for ``--rounds`` rounds (the machine's
load then hits both alike); a side's time per round is the best of ``--repeats`` steady calls.

Printed: the first call (compile + run) and the steady time of each side per round, the ratio
of the medians over rounds (target >= 5), the peak resident memory each process added while
computing (``ru_maxrss`` after minus before the first call; target: ours <= theirs), the load
average, and the max relative differences of the two results (NNGP everywhere; NTK off the
diagonal, where neural-tangents' ReLU angle ``arctan2(sqrt(q1 q2 - c^2), c)`` cancels).

    .venv/bin/python benchmarks/cntk_vs_neural_tangents.py [--padding same --rounds 3 --json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def _inputs(count: int):
    from kernelnorm.data import load_digits, normalise_rows

    return normalise_rows(load_digits().x[:count]).reshape(count, 8, 8, 1)


def _worker(path: str, depth: int, padding: str, repeats: int) -> int:
    """Our side, in a fresh process: timings and peak memory as one JSON line on stdout."""
    x = np.load(path)
    from kernelnorm.conv import conv_net

    net = conv_net("plain", depth, padding=padding, readout="gap", sigma_w2=2.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    kernels = net.kernels(x)
    first = time.perf_counter() - start
    steady = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.kernels(x)
        steady.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.savez(path + ".out.npz", nngp=kernels.nngp, ntk=kernels.ntk)
    print(json.dumps({"first_call_s": first, "steady_s": min(steady), "steady_all_s": steady,
                      "peak_rss_before_kib": before, "peak_rss_after_kib": after,
                      "estimate": net.estimate(x.shape[0], x.shape[1:3]).describe()}))
    return 0


def _ours(path, args):
    done = subprocess.run(
        [sys.executable, __file__, "--worker", path, "--depth", str(args.depth), "--padding",
         args.padding, "--repeats", str(args.repeats)],
        capture_output=True, text=True, timeout=3600, env=dict(os.environ, JAX_ENABLE_X64="1"))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(path + ".out.npz") as out:
        return timing, out["nngp"], out["ntk"]


def _theirs(x, args):
    from kernelnorm.nt import run_oracle

    case = dict(name="cntk", norm="plain", activation="relu", sigma_w2=2.0, sigma_b2=0.0,
                width=None, depth=args.depth, x="x", architecture="conv", filter_shape=[3, 3],
                readout="gap", padding=args.padding.upper(), jit=True, repeats=args.repeats)
    results, meta = run_oracle([case], {"x": x}, timeout=3600)
    return meta["timings"]["cntk"], *results["cntk"]


def _memory_mib(timing) -> float:
    return (timing["peak_rss_after_kib"] - timing["peak_rss_before_kib"]) / 1024.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--padding", default="same", choices=("same", "circular"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.depth, args.padding, args.repeats)

    x = _inputs(args.inputs)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="cntk-bench-") as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        for index in range(args.rounds):
            load = os.getloadavg()[0]
            ours, nngp, ntk = _ours(path, args)
            theirs, nt_nngp, nt_ntk = _theirs(x, args)
            rounds.append({"load_average": load, "ours": ours, "neural_tangents": theirs})
            print(f"round {index + 1}: ours {ours['steady_s']:.3f} s (first {ours['first_call_s']:.2f} s,"
                  f" +{_memory_mib(ours):.0f} MiB)   neural-tangents {theirs['steady_s']:.3f} s "
                  f"(first {theirs['first_call_s']:.2f} s, +{_memory_mib(theirs):.0f} MiB)   "
                  f"load {load:.1f}", flush=True)
    off = ~np.eye(len(x), dtype=bool)
    ours_steady = float(np.median([r["ours"]["steady_s"] for r in rounds]))
    nt_steady = float(np.median([r["neural_tangents"]["steady_s"] for r in rounds]))
    ours_mem = float(np.median([_memory_mib(r["ours"]) for r in rounds]))
    nt_mem = float(np.median([_memory_mib(r["neural_tangents"]) for r in rounds]))
    numbers = {
        "inputs": args.inputs, "resolution": 8, "depth": args.depth, "padding": args.padding,
        "readout": "gap", "cpu_count": os.cpu_count(), "rounds": rounds,
        "ours_steady_s": ours_steady, "nt_steady_s": nt_steady,
        "steady_ratio": nt_steady / ours_steady,
        "first_call_ratio": float(np.median([r["neural_tangents"]["first_call_s"] / r["ours"]["first_call_s"]
                                             for r in rounds])),
        "ours_peak_mib": ours_mem, "nt_peak_mib": nt_mem, "memory_ratio": ours_mem / nt_mem,
        "max_rel_diff_nngp": float(np.max(np.abs(nngp - nt_nngp) / np.abs(nt_nngp))),
        "max_rel_diff_ntk_offdiag": float(np.max((np.abs(ntk - nt_ntk) / np.abs(nt_ntk))[off])),
        "estimate": rounds[0]["ours"]["estimate"],
    }
    print(f"steady-state speed-up (neural-tangents / ours, median of {args.rounds} rounds): "
          f"{numbers['steady_ratio']:.2f}x   (target >= 5)")
    print(f"first-call ratio: {numbers['first_call_ratio']:.2f}x")
    print(f"peak memory added: ours {ours_mem:.0f} MiB, neural-tangents {nt_mem:.0f} MiB, "
          f"ratio {numbers['memory_ratio']:.2f}   (target <= 1)")
    print(f"max relative difference: NNGP {numbers['max_rel_diff_nngp']:.2e}, NTK off the "
          f"diagonal {numbers['max_rel_diff_ntk_offdiag']:.2e}")
    print(f"stated before the run: {numbers['estimate']}")
    if args.json:
        from kernelnorm.io import write_json

        write_json(args.json, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
