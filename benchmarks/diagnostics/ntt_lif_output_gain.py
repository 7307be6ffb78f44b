"""Diagnosis (session 10): do Yin-Yang LIF networks fail when their output-gain calibration ends high?

``ntt_lif.py`` scales each method's sparse output projection by the gain at which the outputs answer on
as many calibration samples as the dense network's (``calibrate``; the gain is recorded per training as
``gain_out``; with ``--out-gain neuron``, session 11, the median of the per-neuron gains). This reads
the recorded trainings of the given result files (default: every
``benchmarks/results/ntt_lif_yinyang_phantom_h1000*.json``) and prints, per band of ``gain_out``, how
many trainings there are, their mean and median test accuracy and how many ended below ``--fail``
percent, then every training below it. Nothing is simulated; it runs in a second.

Run from the repository root: ``python benchmarks/diagnostics/ntt_lif_output_gain.py [FILES ...] [--fail 80]``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BANDS = ((0.0, 10.0), (10.0, 30.0), (30.0, 100.0), (100.0, np.inf))


def load(files) -> list:
    """(file name, method, density, seed, gain_out, test accuracy in %) of every record with a gain_out."""
    rows = []
    for f in files:
        for r in json.loads(Path(f).read_text())["records"]:
            if "gain_out" in r:
                rows.append((Path(f).name, r["method"], float(r["density"]), int(r["seed"]), float(r["gain_out"]),
                             100.0 * float(r["test_acc"])))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="result JSON files of ntt_lif.py (default: the Yin-Yang 1000-hidden ones)")
    ap.add_argument("--fail", type=float, default=80.0, help="test accuracy (%%) below which a training counts as failed")
    args = ap.parse_args(argv)
    files = args.files or sorted(str(p) for p in (ROOT / "benchmarks" / "results").glob("ntt_lif_yinyang_phantom_h1000*.json"))
    rows = load(files)
    if not rows:
        raise SystemExit(f"no record with a gain_out in {files}")
    gain = np.array([r[4] for r in rows])
    acc = np.array([r[5] for r in rows])
    print(f"{len(rows)} trainings from {len(files)} files\n")
    print(f"| gain_out | trainings | mean test accuracy (%) | median | below {args.fail:g} % |")
    print("|---|---|---|---|---|")
    for lo, hi in BANDS:
        sel = (gain >= lo) & (gain < hi)
        if sel.any():
            print(f"| [{lo:g}, {hi:g}) | {sel.sum()} | {acc[sel].mean():.1f} | {np.median(acc[sel]):.1f} "
                  f"| {(acc[sel] < args.fail).sum()} |")
    print(f"\ntrainings below {args.fail:g} %:")
    for r in sorted(rows, key=lambda r: -r[4]):
        if r[5] < args.fail:
            print(f"  {r[0]}: {r[1]} d={r[2]:g} seed {r[3]}: gain_out {r[4]:.3g}, test {r[5]:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
