"""Run every benchmark side by side with its peers: ``make bench`` (or ``python benchmarks/run_all.py``).

Each benchmark script appends its rows to its study's table under ``benchmarks/results/``
(``<study>.jsonl``, through ``benchmarks/results_table.py``) and prints the table; a script that does
not exist is reported and skipped. Peer virtualenvs are made by ``benchmarks/peers/setup_envs.sh``
(called by ``make bench`` first). ``--results DIR`` sends every table elsewhere.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import results_table  # benchmarks/ is this script's folder, first on sys.path

HERE = Path(__file__).resolve().parent
# (script, its arguments); each takes --results DIR
SCRIPTS = [
    ("cuba.py", []),
    ("nest_agreement.py", []),
    ("brunel.py", []),
    ("bench_train_yinyang.py", []),
    ("bench_egru.py", []),
    ("bench_loihi_emulator.py", []),
    ("loihi_agreement.py", ["--trained"]),
    ("ntt_ann_digits.py", []),
    ("bench_gru_ntk.py", []),
    ("randman_norse.py", []),
    ("bench_distributed.py", []),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--only", nargs="+", default=None, metavar="SCRIPT",
                    help="run only these scripts (file names, e.g. cuba.py; None: all of them)")
    ap.add_argument("--results", default=None, help="folder of the results tables (None: benchmarks/results)")
    args = ap.parse_args(argv)
    names = [s[0] for s in SCRIPTS]
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            ap.error(f"unknown scripts {unknown}; choose from {names}")
    failed = []
    for name, extra in SCRIPTS:
        if args.only and name not in args.only:
            continue
        path = HERE / name
        if not path.exists():
            print(f"== {name}: not present, skipped")
            continue
        cmd = [sys.executable, str(path), *extra]
        if args.results:
            cmd += ["--results", args.results]
        print(f"== {' '.join([name, *cmd[2:]])}", flush=True)
        if subprocess.call(cmd, cwd=HERE.parent) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
