"""Readable summaries of the files eventsim writes (``eventsim info FILE``).

- HDF5 files: the ``format`` attribute picks the registered ``FileFormat`` (``eventsim.formats``),
  whose ``describe`` gives the lines: networks, spike data, results, connectomes, checkpoints, EGRU
  models and, where those parts are installed, Loihi networks and NTT results.
- ``.jsonl`` results tables (one JSON object per line, one line per run): row count, studies and
  columns.
- ``.json`` metrics (a recipe's ``*_metrics.json``): its scalar entries; lists by length.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Union

from .formats import lookup
from .files import file_format, require_regular_file

PathLike = Union[str, os.PathLike]


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return f"list of {len(v)}"
    if isinstance(v, dict):
        return f"{len(v)} entries"
    return str(v)[:100]


def describe_table(path: PathLike) -> List[str]:
    """Lines about a results table: rows, studies and columns (ValueError naming a bad line)."""
    rows = []
    for n, line in enumerate(require_regular_file(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"path: {str(path)!r} line {n} is not JSON ({e})") from None
        if not isinstance(row, dict):
            raise ValueError(f"path: {str(path)!r} line {n} is not a JSON object")
        rows.append(row)
    columns: List[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    studies = sorted({str(r.get("study", "?")) for r in rows})
    return [f"{path}: results table, {len(rows)} rows; study {', '.join(studies) or '-'}",
            f"  columns: {', '.join(columns)}"]


def describe_json(path: PathLike) -> List[str]:
    """Lines about a JSON file (metrics): its entries, scalars shown, containers by size."""
    try:
        data = json.loads(require_regular_file(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"path: {str(path)!r} is not JSON ({e})") from None
    if not isinstance(data, dict):
        return [f"{path}: JSON {type(data).__name__}"]
    what = f"metrics of recipe {data['recipe']}" if "recipe" in data else "JSON object"
    return [f"{path}: {what}"] + [f"  {k}: {_short(v)}" for k, v in data.items()]


def describe_file(path: PathLike) -> List[str]:
    """Readable lines about any file eventsim writes; ValueError for other files."""
    p = require_regular_file(path)
    if p.suffix == ".jsonl":
        return describe_table(p)
    if p.suffix == ".json":
        return describe_json(p)
    fmt = lookup(file_format(p))
    lines = fmt.describe(fmt.load(p))
    return [f"{path}: {fmt.what} ({fmt.name})"] + [line if line.startswith(" ") else "  " + line for line in lines]
