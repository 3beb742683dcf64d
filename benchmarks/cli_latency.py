"""Wall time of ``kernelnorm chi1 --norm weight-mean`` against ``python -c pass``, same run.

Target (issue 2): <= 0.5 s wall. Prints medians over repeats and their ratio.
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
    }
    print(f"python -c pass                 {baseline * 1e3:7.1f} ms  (1.00x)")
    for label, extra in commands.items():
        t = wall(cli + extra, args.repeats)
        flag = "ok" if t <= 0.5 else "OVER 0.5 s TARGET"
        print(f"kernelnorm {label:<20}{t * 1e3:7.1f} ms  ({t / baseline:.2f}x python startup)  {flag}")


if __name__ == "__main__":
    main()
