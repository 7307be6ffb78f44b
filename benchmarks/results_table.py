"""One results table per study: ``benchmarks/results/<study>.jsonl``, one JSON object per line, one
line per run (a training, a timed configuration, an agreement measurement). The columns are the run's
configuration (``study``, the method, sizes, seed, options) and its figures (accuracy, seconds, ...);
every row carries ``commit`` (the git revision it was measured at, or ``"unknown"``) and ``date``.

``append_rows(study, rows, key=...)`` writes atomically (temporary file and rename, through
``eventsim.files.atomic_write_text``): a run whose key columns equal an existing row's replaces that row,
so re-running a configuration updates the table instead of adding a duplicate. ``read_rows(study)``
returns the rows; ``select(rows, **where)`` filters them. The file is strict JSON: a NaN figure is
written as ``null`` and an infinite one as the string ``"inf"`` or ``"-inf"``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from eventsim.files import atomic_write_text, require_regular_file

RESULTS = Path(__file__).resolve().parent / "results"


def table_path(study: str, folder: Optional[Path] = None) -> Path:
    """The table file of ``study`` (a name such as ``"cuba"``) in ``folder`` (default benchmarks/results)."""
    if not study or "/" in study or study.startswith("."):
        raise ValueError(f"study must be a plain name, got {study!r}")
    return Path(folder or RESULTS) / f"{study}.jsonl"


def git_commit() -> str:
    """The repository's current commit (short hash), or ``"unknown"`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def read_rows(study: str, folder: Optional[Path] = None) -> List[Dict]:
    """Every row of the study's table, in file order (an empty list when the table does not exist;
    ValueError when it is not a regular file: a folder, a FIFO, a device)."""
    path = table_path(study, folder)
    if not path.exists():
        return []
    require_regular_file(path)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n} is not JSON ({e})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}: line {n} is not a JSON object")
        rows.append(row)
    return rows


def _strict(v):
    """``v`` with NaN -> None and +-inf -> "inf"/"-inf", recursively (strict JSON has neither)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, Mapping):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_strict(x) for x in v]
    return v


def append_rows(study: str, rows: Iterable[Mapping], key: Sequence[str] = (), folder: Optional[Path] = None,
                key_defaults: Optional[Mapping] = None) -> Path:
    """Add ``rows`` to the study's table and rewrite it atomically; return its path.

    Each row gets ``study``, ``commit`` and ``date`` unless it has them. When ``key`` names columns, an
    existing row whose values in all of them equal a new row's is replaced by the new row (same
    position), so a configuration measured again is updated, not duplicated; of several new rows
    with the same key, the last is kept. ``key_defaults`` ({column: value}) is the value a key
    column has in a row without it (rows written before the column was added); the rows themselves
    are written as they are.
    """
    new = []
    stamp = {"study": study, "commit": git_commit(), "date": datetime.date.today().isoformat()}
    for r in rows:
        if not isinstance(r, Mapping):
            raise ValueError(f"rows: each row must be a mapping, got {type(r).__name__}")
        new.append(_strict({**stamp, **dict(r)}))
    old = read_rows(study, folder)
    key = tuple(key)

    defaults = dict(key_defaults or {})

    def k(r: Mapping):
        return tuple(json.dumps(r.get(c, defaults.get(c)), sort_keys=True) for c in key)

    if key:
        incoming = {k(r): r for r in new}
        merged = []
        for r in old:
            if k(r) in incoming:
                merged.append(incoming.pop(k(r)))
            else:
                merged.append(r)
        merged.extend(incoming.values())
    else:
        merged = old + new
    path = table_path(study, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(_strict(r), sort_keys=False, allow_nan=False) + "\n" for r in merged))
    return path


def select(rows: Iterable[Mapping], **where) -> List[Dict]:
    """The rows whose columns equal every ``column=value`` given (a missing column never matches)."""
    return [dict(r) for r in rows if all(c in r and r[c] == v for c, v in where.items())]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The benchmark scripts' help: the module docstring as written, and every option's default."""


def add_table_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every study script has: ``--results DIR`` (where its table is) and ``--show``
    (print the table from the file and exit)."""
    ap.add_argument("--results", default=str(RESULTS), help="folder of the results tables")
    ap.add_argument("--show", action="store_true", help="print the table from the results file and exit")
