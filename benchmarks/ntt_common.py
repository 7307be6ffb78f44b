"""What the NTT experiment scripts (``ntt_lif.py``, ``ntt_egru.py``, ``ntt_ann_digits.py``) share: option
parsing, the rows they write to their results tables (``benchmarks/results_table.py``) and the summary
of a table (mean ± sample std over seeds per configuration).

A script writes one row per training, as soon as the training ends (``write_row``: atomic; a row whose
key columns equal an existing row's replaces it), so an interrupted run keeps every training it finished
and running a configuration again updates its rows instead of adding duplicates. The key columns of a
study are its configuration: the options of the run that shape the training, resolved to the values
used, with ``None`` where an option does not apply to the row's method (e.g. NTT's options on a
baseline's row), so that a training is keyed the same whichever command ran it.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import results_table  # noqa: E402


def parse_list(text: str, name: str, kind: Callable = float) -> list:
    """Comma-separated values of type ``kind`` from option ``name``; ValueError naming it if bad or empty."""
    try:
        values = [kind(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated {kind.__name__} values, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    return values


#: NTT methods of the experiment scripts and their student-NTK variants ('active': only the kept weights)
NTT_VARIANTS = {"ntt": "all", "ntt_active": "active"}


def parse_methods(text: str) -> list:
    """Methods from ``--methods``: the NTT methods (``NTT_VARIANTS``) and the baselines of
    ``eventsim.ntt.baselines`` (dense included); ValueError naming the unknown ones."""
    from eventsim.ntt.baselines import BASELINES

    methods = parse_list(text, "--methods", str)
    allowed = list(NTT_VARIANTS) + list(BASELINES)
    unknown = [m for m in methods if m not in allowed]
    if unknown:
        raise ValueError(f"--methods: unknown {unknown!r}; expected one of {allowed}")
    return methods


def parse_names(text: str, name: str, allowed: Sequence[str] | None = None) -> Tuple[str, ...]:
    """Comma-separated names from option ``name`` (none if ``text`` is empty); ValueError naming the
    option and the unknown names if ``allowed`` is given and some are not in it."""
    names = tuple(t for t in str(text).replace(" ", "").split(",") if t)
    bad = [k for k in names if allowed is not None and k not in allowed]
    if bad:
        raise ValueError(f"{name}: unknown names {bad} (have {list(allowed)})")
    return names


#: what a row keeps of an NTT run's provenance (``NTTResult.provenance``), under these column names
NTT_PROVENANCE_COLUMNS = {"variant": "variant", "lambda_k": "lambda_k", "lambda_2": "lambda_2", "lr": "ntt_lr",
                          "frozen": "ntt_frozen", "eval_ntk_initial": "eval_ntk_initial",
                          "eval_ntk_final": "eval_ntk_final", "eval_out_initial": "eval_out_initial",
                          "eval_out_final": "eval_out_final"}


def ntt_record(provenance: Mapping) -> Dict:
    """The columns a row keeps of an NTT run's provenance: the student-kernel variant, λ_K, λ_2, Adam's step
    (``ntt_lr``), the frozen parameters (``ntt_frozen``) and the evaluation distances (NTK, outputs) before
    and after the transfer."""
    out = {}
    for k, col in NTT_PROVENANCE_COLUMNS.items():
        v = provenance[k]
        out[col] = list(v) if isinstance(v, (tuple, list)) else v
    return out


def write_row(study: str, row: Mapping, key: Sequence[str], folder: Optional[Path] = None) -> Path:
    """Append one training's row to the study's table (atomically; replaces a row with the same key)."""
    missing = [c for c in key if c not in row]
    if missing:
        raise ValueError(f"row of {study} lacks key columns {missing}")
    return results_table.append_rows(study, [row], key=key, folder=folder)


def key_of(row: Mapping, key: Sequence[str]) -> tuple:
    """The row's values in the key columns (lists as tuples, so the result is hashable)."""
    return tuple(tuple(row.get(c)) if isinstance(row.get(c), list) else row.get(c) for c in key)


def select_configs(rows: Iterable[Mapping], configs: Iterable[Mapping], key: Sequence[str]) -> List[Dict]:
    """The rows whose key columns equal those of one of ``configs`` (the key columns of the rows a run would
    write): the rows of the trainings a command runs."""
    wanted = {key_of(c, key) for c in configs}
    return [dict(r) for r in rows if key_of(r, key) in wanted]


def _mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def summarize(rows: Sequence[Mapping], key: Sequence[str], figures: Sequence[str] = ("test_acc", "test_acc_short"),
              ) -> List[Dict]:
    """One entry per configuration (the key columns without ``seed``), in the order of first appearance: its
    key values, ``n`` (rows), ``seeds`` (sorted) and for every figure ``<figure>_mean`` and ``<figure>_std``
    (sample standard deviation, ddof = 1; None for one row) over the rows that have the figure (None-valued
    entries left out; ``<figure>_n`` counts them)."""
    config = [c for c in key if c != "seed"]
    groups: Dict[tuple, List[Mapping]] = {}
    for r in rows:
        groups.setdefault(key_of(r, config), []).append(r)
    out = []
    for rs in groups.values():
        entry = {c: rs[0].get(c) for c in config}
        entry["n"] = len(rs)
        entry["seeds"] = sorted(r.get("seed") for r in rs)
        for f in figures:
            vals = [float(r[f]) for r in rs if r.get(f) is not None]
            m, s = _mean_std(vals) if vals else (None, None)
            entry[f"{f}_mean"], entry[f"{f}_std"], entry[f"{f}_n"] = m, s, len(vals)
        out.append(entry)
    return out


def _fmt_value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v) or "none"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def format_pivot(summary: Sequence[Mapping], key: Sequence[str], figure: str, title: str,
                 order: Mapping[str, int] | None = None, scale: float = 100.0) -> str:
    """A Markdown table of ``summary`` (``summarize``): one line per configuration without its density, one
    column per density, cells ``mean ± std`` of ``figure`` times ``scale`` (a cell over fewer rows than the
    line's seeds says ``(n = k)``). Columns of the key with one value on every line where they apply (None:
    not applicable) are left out and listed under the table."""
    order = dict(order or {})
    rest = [c for c in key if c not in ("seed", "density")]
    densities = sorted({s.get("density") for s in summary if s.get("density") is not None})
    lines_by: Dict[tuple, Dict] = {}
    for s in summary:
        k = key_of(s, rest)
        line = lines_by.setdefault(k, {"config": {c: s.get(c) for c in rest}, "cells": {}, "seeds": set()})
        line["cells"][s.get("density")] = s
        line["seeds"].update(s["seeds"])
    def values(c):  # the distinct values of column c on the lines, None (not applicable) left out
        return {key_of(ln["config"], [c]) for ln in lines_by.values() if ln["config"].get(c) is not None}

    varying = [c for c in rest if len(values(c)) > 1 or c == "method"]
    fixed = {c: next(iter(values(c)))[0] for c in rest if c not in varying and values(c)}

    def rank(item):
        cfg = item[1]["config"]
        m = cfg.get("method")
        return (order.get(m, len(order)), str(m), tuple(_fmt_value(cfg.get(c)) for c in varying))

    head = "| " + " | ".join(varying) + " | " + " | ".join(f"{100 * d:g} %" for d in densities) + " | seeds |"
    out = [f"**{title}**", "", head, "|---" * (len(varying) + len(densities) + 1) + "|"]
    for _, line in sorted(lines_by.items(), key=rank):
        cells = []
        for d in densities:
            s = line["cells"].get(d)
            if s is None or s.get(f"{figure}_mean") is None:
                cells.append("")
                continue
            txt = f"{scale * s[f'{figure}_mean']:.2f}"
            if s.get(f"{figure}_std") is not None:
                txt += f" ± {scale * s[f'{figure}_std']:.2f}"
            if s[f"{figure}_n"] != len(line["seeds"]):
                txt += f" (n = {s[f'{figure}_n']})"
            cells.append(txt)
        seeds = ",".join(str(x) for x in sorted(line["seeds"]))
        out.append("| " + " | ".join(_fmt_value(line["config"][c]) for c in varying) + " | " + " | ".join(cells)
                   + f" | {seeds} |")
    if fixed:
        out += ["", "on every line where it applies: " + ", ".join(f"{c} = {_fmt_value(v)}" for c, v in fixed.items())]
    return "\n".join(out)


def print_summary(rows: Sequence[Mapping], key: Sequence[str], tables: Sequence[Tuple[str, str]],
                  order: Mapping[str, int] | None = None, study: str = "") -> List[Dict]:
    """Print one pivot table (``format_pivot``) per (figure, title) in ``tables`` and return the summary."""
    figures = [f for f, _ in tables]
    summary = summarize(rows, key, figures)
    if not summary:
        print(f"no rows of {study or 'the table'} match this command's configurations")
        return summary
    for f, title in tables:
        print(format_pivot(summary, key, f, title, order))
        print()
    return summary
