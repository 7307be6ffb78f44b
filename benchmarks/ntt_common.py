"""What the NTT experiment scripts (``ntt_lif.py``, ``ntt_egru.py``) share: argument lists, the
results table (mean ± sample std over seeds), merging per-seed runs and writing the JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np


def parse_list(text: str, name: str, kind: Callable = float) -> list:
    """Comma-separated values of type ``kind`` from option ``name``; ValueError naming it if bad or empty."""
    try:
        values = [kind(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated {kind.__name__} values, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    return values


#: NTT methods of the experiment scripts and their student-NTK variants ('active': only the kept weights, session 12)
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


def summarize(records: Sequence[Mapping], epochs: int, short: int, density_label: str,
              order: Mapping[str, int], extra: Sequence[Tuple[str, str]] = ()) -> List[Dict]:
    """Print the table (one row per method and density; mean ± sample std over seeds) and return its rows.

    ``order``: rank of methods listed first within a density (others follow alphabetically);
    ``extra``: (column title, record key) of further columns, printed as means in percent.
    """
    groups: Dict[Tuple[str, float], list] = {}
    for r in records:
        groups.setdefault((r["method"], r["density"]), []).append(r)
    titles = "".join(f" {t} |" for t, _ in extra)
    print()
    print(f"| method | density ({density_label}) | overall density | test accuracy (%) after {epochs} epochs "
          f"| after {short} epochs |{titles} seeds |")
    print("|---" * (6 + len(extra)) + "|")
    rows = []
    for (m, d), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], len(order)), kv[0][0])):
        a = np.array([r["test_acc"] for r in rs]) * 100
        b = np.array([r["test_acc_short"] for r in rs]) * 100
        sd = lambda v: f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else ""  # noqa: E731
        od = 100 * float(np.mean([r.get("overall_density", d) for r in rs]))
        means = {key: float(np.mean([r[key] for r in rs])) for _, key in extra}
        cells = "".join(f" {100 * means[key]:.1f} |" for _, key in extra)
        print(f"| {m} | {100 * d:g} % | {od:.3g} % | {a.mean():.2f}{sd(a)} | {b.mean():.2f}{sd(b)} |{cells} {len(rs)} |")
        row = {"method": m, "density": d, "overall_density": od / 100, "test_acc_mean": float(a.mean()),
               "test_acc_std": float(a.std(ddof=1)) if len(a) > 1 else None,
               "test_acc_short_mean": float(b.mean()), "n": len(rs)}
        row.update({f"{key}_mean": v for key, v in means.items()})
        rows.append(row)
    return rows


NTT_RECORD_KEYS = ("variant", "lambda_k", "lambda_2", "lr", "frozen", "eval_ntk_initial", "eval_ntk_final",
                   "eval_out_initial", "eval_out_final")


def ntt_record(provenance: Mapping) -> Dict:
    """What a result record keeps of an NTT run's provenance (``NTTResult.provenance``): the student-kernel
    variant, λ_K, λ_2, Adam's step, the frozen parameters, and the evaluation distances (NTK, outputs) before
    and after the transfer."""
    return {k: provenance[k] for k in NTT_RECORD_KEYS}


def check_merge_options(merge: Sequence[str] | None, allow_partial: bool) -> None:
    """ValueError if ``--allow-partial`` is given without ``--merge`` (it only applies to merging; a run
    would silently ignore it)."""
    if allow_partial and not merge:
        raise ValueError("--allow-partial only applies with --merge (it lets a merge take files of runs that did "
                         "not finish); drop it or pass --merge FILE ...")


def load_runs(files: Sequence[str], allow_partial: bool = False) -> Tuple[List[dict], List[Dict]]:
    """(runs, all their records) of the JSON files written by earlier runs (``--merge``).

    ValueError if two files hold a record of the same (method, density, seed): merging them would
    count that training twice in the mean and the standard deviation. A file written by a run that did
    not finish (``"complete": false``, see ``checkpoint``) is refused unless ``allow_partial``; then its
    config's seeds, densities, methods and ``no_dense`` are narrowed to the trainings it holds."""
    runs = [json.loads(Path(f).read_text()) for f in files]
    for i, (f, run) in enumerate(zip(files, runs)):
        if run.get("complete", True) is False:
            if not allow_partial:
                raise ValueError(f"--merge: {f} is the checkpoint of a run that did not finish ({len(run['records'])} "
                                 f"trainings); rerun it, or pass --allow-partial to merge the trainings it holds")
            runs[i] = as_recorded(run)
    seen: Dict[Tuple, str] = {}
    for f, run in zip(files, runs):
        for r in run["records"]:
            key = (r["method"], float(r["density"]), int(r["seed"]))
            if key in seen:
                raise ValueError(f"--merge: {f} and {seen[key]} both hold {key[0]} at density {key[1]:g}, "
                                 f"seed {key[2]}")
            seen[key] = f
    return runs, [r for run in runs for r in run["records"]]


def as_recorded(run: Mapping) -> Dict:
    """``run`` with its config's seeds, densities, methods and ``no_dense`` narrowed to the trainings its
    records hold (dense methods are those whose name starts with 'dense'), marked ``"partial": true``."""
    recs = run["records"]
    sparse = [r for r in recs if not str(r["method"]).startswith("dense")]
    cfg = dict(run["config"],
               seeds=",".join(str(s) for s in sorted({int(r["seed"]) for r in recs})),
               densities=",".join(f"{d:g}" for d in sorted({float(r["density"]) for r in sparse})),
               methods=",".join(sorted({str(r["method"]) for r in sparse})),
               no_dense=not any(str(r["method"]).startswith("dense") for r in recs), partial=True)
    return {**run, "config": cfg}


# Options that may differ between runs merged into one table: what was run, not how.
PER_RUN_OPTIONS = frozenset({"seeds", "densities", "methods", "no_dense", "out", "merge", "merged", "allow_partial",
                             "partial", "merged_partial"})


def merged_config(runs: Sequence[Mapping], files: Sequence[str], out: Path | None = None,
                  defaults: Mapping | None = None) -> Dict:
    """The first run's config with the seeds, densities and methods of all runs (each once, sorted), the
    merged file names (for a file that is itself a merge, the files it was merged from) and ``out``
    (the merged file). The runs must share one protocol: ValueError naming the file and the options if
    any option outside ``PER_RUN_OPTIONS`` differs from the first run's.

    ``defaults``: the script's option defaults. A run made before an option existed has no key for it;
    it is compared (and merged) as if run with the default, which is the behaviour the script had before
    the option was added (every option added so far defaults to the old behaviour)."""
    defaults = dict(defaults or {})
    configs = [{**{k: v for k, v in defaults.items() if k not in PER_RUN_OPTIONS}, **run["config"]} for run in runs]
    first = configs[0]
    for f, cfg in zip(files[1:], configs[1:]):
        differ = sorted(k for k in set(first) | set(cfg) if k not in PER_RUN_OPTIONS and first.get(k) != cfg.get(k))
        if differ:
            what = ", ".join(f"{k}={cfg.get(k)!r} (vs {first.get(k)!r})" for k in differ)
            raise ValueError(f"--merge: {f} was run with other protocol options than {files[0]}: {what}")

    def union(key, kind):
        vals = {kind(v) for run in runs for v in str(run["config"].get(key, "")).split(",") if v}
        return ",".join(f"{v:g}" if kind is float else str(v) for v in sorted(vals))

    # a file that is itself a merge contributes the files it was merged from
    merged = [m for f, run in zip(files, runs) for m in (run["config"].get("merged") or [str(f)])]
    partial = [m for f, run in zip(files, runs)
               for m in (run["config"].get("merged_partial") or ([str(f)] if run["config"].get("partial") else []))]
    cfg = dict(first, seeds=union("seeds", int), merged=merged)
    cfg.pop("partial", None)
    if partial:
        cfg["merged_partial"] = partial  # the files that held only part of their run's trainings
    if out is not None:
        cfg["out"] = str(out)
    if "densities" in cfg:
        cfg["densities"] = union("densities", float)
    if "methods" in cfg:
        cfg["methods"] = union("methods", str)
    return cfg


def write_json(out: Path, payload: Mapping, quiet: bool = False) -> None:
    """Write ``payload`` to ``out`` atomically (folder created if needed) and, unless ``quiet``, say so."""
    from eventsim.io import atomic_write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(payload, indent=1, default=float))
    if not quiet:
        print(f"wrote {out}")


def checkpoint(out: Path, payload: Mapping) -> None:
    """Write the trainings done so far to ``out`` (atomically, marked ``"complete": false``) after each
    training, so a run that stops early keeps them; the run's last ``write_json`` replaces the file with
    the complete one. ``--merge`` refuses such a file unless ``--allow-partial`` (``load_runs``)."""
    write_json(out, {**payload, "complete": False}, quiet=True)
