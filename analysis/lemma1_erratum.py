"""Evidence for docs/errata.md, erratum 1: Lemma 1's factor is (n_i-1)/n_i, not (n_o-1)/n_o.

Writes ``results/lemma1_erratum.json`` and prints, for several ``n_i != n_o`` and correlations,
the Monte-Carlo width factor with its 95% CI and the z-scores of both published forms.
Run: .venv/bin/python analysis/lemma1_erratum.py [--draws 20000] [--out results/lemma1_erratum.json]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import os  # noqa: E402

os.environ.setdefault("JAX_ENABLE_X64", "1")

from kernelnorm.io import ArgumentParser, integer, output_file, run_script, write_json  # noqa: E402
from kernelnorm.montecarlo import lemma1_check  # noqa: E402

CASES = [(4, 256, 0.5), (256, 4, 0.5), (8, 64, 0.3), (64, 8, 0.9), (6, 48, -0.7)]


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=integer(2), default=20000)
    parser.add_argument("--out", type=output_file(), default="results/lemma1_erratum.json")
    args = parser.parse_args(argv)
    rows = [lemma1_check(n_in, n_out, rho, draws=args.draws, seed=i).as_dict()
            for i, (n_in, n_out, rho) in enumerate(CASES)]
    print("n_i  n_o  rho   factor (95% CI)     (n_i-1)/n_i  (n_o-1)/n_o  z_main  z_suppl")
    for r in rows:
        print(f"{r['n_in']:<4} {r['n_out']:<4} {r['rho']:<5} {r['factor']['mean']:.4f} +- "
              f"{r['factor']['ci_half_width']:.4f}    {r['main_text_factor']:.4f}       "
              f"{r['supplement_factor']:.4f}       {r['z_main_text']:6.2f}  {r['z_supplement']:7.2f}")
    write_json(args.out, {"draws": args.draws, "cases": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
