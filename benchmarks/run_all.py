"""Run every benchmark side by side with its peers: ``make bench`` (or ``python benchmarks/run_all.py``).

Each benchmark script prints a table and writes JSON under ``benchmarks/results/``; a script that
does not exist yet is reported and skipped. Peer virtualenvs are made by
``benchmarks/peers/setup_envs.sh`` (called by ``make bench`` first).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["cuba.py", "bench_train_yinyang.py", "bench_egru.py", "bench_loihi_emulator.py", "ntt_ann_digits.py",
           "bench_gru_ntk.py"]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        path = HERE / name
        if not path.exists():
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}", flush=True)
        rc = subprocess.call([sys.executable, str(path)], cwd=HERE.parent)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
