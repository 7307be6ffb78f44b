"""The sweep's results table: JSONL, one JSON object per line, one line per run, written atomically.

The format is that of the benchmark tables (``eventsim info TABLE.jsonl`` describes it): strict
JSON, a NaN figure written as ``null`` and an infinite one as ``"inf"`` / ``"-inf"``. A row is added
by rewriting the file through a temporary file and a rename (``eventsim.files.atomic_write_text``),
so a reader, or a crash, never sees half a row.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Mapping, Union

import numpy as np

from ..files import atomic_write_text, require_regular_file

PathLike = Union[str, Path]


def strict(v):
    """``v`` as strict JSON values: NaN -> None, +-inf -> "inf"/"-inf", NumPy scalars and arrays as
    Python numbers and lists, recursively."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, Mapping):
        return {str(k): strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict(x) for x in v]
    return v


def read_table(path: PathLike) -> List[Dict]:
    """The rows of a table, in file order ([] if the file does not exist; ValueError naming the line
    that is not a JSON object)."""
    p = Path(path)
    if not p.exists():
        return []
    require_regular_file(p)
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"table {str(p)!r}: line {n} is not JSON ({e})") from None
        if not isinstance(row, dict):
            raise ValueError(f"table {str(p)!r}: line {n} is not a JSON object")
        rows.append(row)
    return rows


def append_row(path: PathLike, row: Mapping) -> None:
    """Add one row at the end of the table, atomically (the file is rewritten and renamed)."""
    p = Path(path)
    old = p.read_text(encoding="utf-8") if p.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    atomic_write_text(p, old + json.dumps(strict(dict(row)), allow_nan=False) + "\n")
