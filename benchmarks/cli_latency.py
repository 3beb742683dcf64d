"""Wall time of the scalar theory commands against ``python -c pass``, same run.

Target (issues 2, 10): <= 0.5 s wall, for every activation (the quadrature ones, tanh and
SiLU, included; ``compare`` with them runs eleven analyses and is reported, not targeted).
Prints medians over repeats and their ratio.
Run: .venv/bin/python benchmarks/cli_latency.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    script = shutil.which("kernelnorm", path=os.path.dirname(sys.executable)) or shutil.which("kernelnorm")
    cli = [script] if script else [sys.executable, "-m", "kernelnorm"]
    baseline = wall([sys.executable, "-c", "pass"], args.repeats)
    commands = {
        "chi1 --norm weight-mean": ["chi1", "--norm", "weight-mean"],
        "compare": ["compare"],
        "fixed-points --norm bn": ["fixed-points", "--norm", "bn"],
        "chi1 bn --batch-size 8": ["chi1", "--norm", "bn", "--batch-size", "8"],
        "chi1 bn -B 128 tanh": ["chi1", "--norm", "bn", "--batch-size", "128", "--activation", "tanh"],
        "chi1 tanh (20, 0.05)": ["chi1", "--activation", "tanh", "--sigma-w2", "20",
                                 "--sigma-b2", "0.05"],
        "fixed-points tanh": ["fixed-points", "--activation", "tanh", "--sigma-w2", "1.5",
                              "--sigma-b2", "0.05"],
        "critical-line gelu": ["critical-line", "--activation", "gelu", "--sigma-b2", "1", "2",
                               "5"],
        "critical-line silu": ["critical-line", "--activation", "silu", "--sigma-b2", "1"],
        "compare gelu": ["compare", "--activation", "gelu"],
        "compare tanh": ["compare", "--activation", "tanh"],
    }
    print(f"python -c pass                 {baseline * 1e3:7.1f} ms  (1.00x)")
    for label, extra in commands.items():
        t = wall(cli + extra, args.repeats)
        flag = "ok" if t <= 0.5 else "OVER 0.5 s TARGET"
        print(f"kernelnorm {label:<24}{t * 1e3:7.1f} ms  ({t / baseline:.2f}x python startup)  {flag}")


if __name__ == "__main__":
    main()
