"""Parameter sweeps on a Dask cluster: the cartesian product of a recipe's settings, one training per task.

A sweep configuration (TOML, ``load_sweep_config``)::

    name = "yinyang-lr"          # the table's "study" column (default: the file name without .toml)
    recipe = "yinyang"           # a registered recipe (eventsim.distributed.recipes) or "module:function"
    table = "yinyang-lr.jsonl"   # results table, relative to the configuration file
    retries = 1                  # re-runs of a run that raised (a lost worker is re-run by Dask anyway)
    numba_threads = 1            # Numba threads per run

    [fixed]                      # settings shared by every run
    epochs = 20
    hidden = 100

    [vary]                       # each a list: every combination is one run
    seed = [0, 1, 2]
    lr = [0.005, 0.01]

gives 6 runs. Each run is identified by ``run_id``, a hash of the recipe name and its settings.
As runs finish (``as_completed``), one row per run is appended to the table (``table.append_row``:
atomic): the columns ``study``, ``run_id``, ``recipe``, every setting, the recipe's figures,
``seconds`` and ``cpu_s`` (the run's wall and CPU time on its worker, s), ``worker`` and ``date``. A sweep started again
skips every run already in the table, so an interrupted sweep resumes where it stopped. A run that
raises is reported and written nowhere (it is tried again on the next start). Only one sweep
should write a given table at a time.
"""
from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from ..checks import nonnegative_int, positive_int
from .recipes import Recipe, recipe_name, resolve
from .table import append_row, read_table

PathLike = Union[str, Path]
_KEYS = ("name", "recipe", "table", "retries", "numba_threads", "fixed", "vary")


@dataclass
class SweepConfig:
    """A sweep: ``recipe`` run on every combination of ``vary`` (name -> list of values) together with
    ``fixed`` (name -> value). ``table``: the JSONL results table; ``retries``: re-runs of a run that
    raised; ``numba_threads``: Numba threads per run."""

    recipe: Recipe
    fixed: Dict[str, Any] = field(default_factory=dict)
    vary: Dict[str, List[Any]] = field(default_factory=dict)
    name: str = "sweep"
    table: Optional[Path] = None
    retries: int = 0
    numba_threads: int = 1

    def __post_init__(self):
        recipe_name(self.recipe)  # ValueError on an unknown name
        if not isinstance(self.fixed, Mapping):
            raise ValueError(f"fixed must be a table of settings, got {self.fixed!r}")
        if not isinstance(self.vary, Mapping):
            raise ValueError(f"vary must be a table of lists, got {self.vary!r}")
        self.fixed, self.vary = dict(self.fixed), {k: v for k, v in self.vary.items()}
        for k, v in self.vary.items():
            if not isinstance(v, (list, tuple)) or not v:
                raise ValueError(f"vary.{k} must be a non-empty list of values, got {v!r}")
            self.vary[k] = list(v)
        both = sorted(set(self.fixed) & set(self.vary))
        if both:
            raise ValueError(f"settings {both} are both fixed and varied")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        self.retries = nonnegative_int("retries", self.retries)
        self.numba_threads = positive_int("numba_threads", self.numba_threads)
        if self.table is not None:
            self.table = Path(self.table)


def _toml(path: Path) -> Dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - depends on the Python version
        from ..extras import require

        tomllib = require("tomli", "sweep configuration files")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config: {str(path)!r} is not valid TOML ({e})") from None


def load_sweep_config(path: PathLike) -> SweepConfig:
    """Read a sweep configuration (TOML; see the module docstring). A relative ``table`` is taken
    relative to the configuration file; without ``table``, ``<name>.jsonl`` next to it."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config: {str(p)!r} is not a file")
    d = _toml(p)
    unknown = sorted(set(d) - set(_KEYS))
    if unknown:
        raise ValueError(f"config {str(p)!r}: unknown keys {unknown} (known: {', '.join(_KEYS)})")
    if "recipe" not in d:
        raise ValueError(f"config {str(p)!r}: 'recipe' is missing")
    name = d.get("name", p.stem)
    table = Path(d["table"]) if "table" in d else Path(f"{name}.jsonl")
    if not table.is_absolute():
        table = p.parent / table
    return SweepConfig(recipe=d["recipe"], fixed=d.get("fixed", {}), vary=d.get("vary", {}), name=name,
                       table=table, retries=d.get("retries", 0), numba_threads=d.get("numba_threads", 1))


class Run(NamedTuple):
    """One run of a sweep: its identifier and its settings."""

    run_id: str
    settings: Dict[str, Any]


def run_id(recipe: Recipe, settings: Mapping) -> str:
    """A run's identifier: the first 16 hex digits of the SHA-256 of its recipe name and settings."""
    text = json.dumps({"recipe": recipe_name(recipe), "settings": dict(settings)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sweep_runs(config: SweepConfig) -> List[Run]:
    """Every run of the sweep: the cartesian product of ``vary`` (in its order, the last name varying
    fastest), each with the ``fixed`` settings."""
    names = list(config.vary)
    out = []
    for combo in itertools.product(*(config.vary[k] for k in names)):
        settings = {**config.fixed, **dict(zip(names, combo))}
        out.append(Run(run_id(config.recipe, settings), settings))
    return out


def run_one(recipe: Recipe, settings: Mapping, numba_threads: int = 1) -> Dict[str, Any]:
    """Worker side: one run. Returns ``{"figures": ..., "seconds": ..., "cpu_s": ..., "worker": ...}``."""
    import os
    import socket

    from .cluster import limit_numba_threads

    limit_numba_threads(numba_threads)
    fn = resolve(recipe)
    t0, c0 = time.perf_counter(), time.process_time()
    figures = fn(**settings)
    if not isinstance(figures, Mapping):
        raise ValueError(f"recipe {recipe_name(recipe)} must return a dict of figures, got {type(figures).__name__}")
    return {"figures": dict(figures), "seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


class SweepSummary(NamedTuple):
    """What a sweep did: the table, the runs written now, those skipped (already in the table) and
    those that failed (``(run_id, error message)``)."""

    table: Path
    written: List[str]
    skipped: List[str]
    failed: List[Tuple[str, str]]


def _row(config: SweepConfig, run: Run, out: Mapping) -> Dict[str, Any]:
    row: Dict[str, Any] = {"study": config.name, "run_id": run.run_id, "recipe": recipe_name(config.recipe)}
    row.update(run.settings)
    for k, v in out["figures"].items():
        if k not in row:  # a figure never overwrites a setting
            row[k] = v
    row.update(seconds=out["seconds"], cpu_s=out["cpu_s"], worker=out["worker"],
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    return row


def run_sweep(config: Union[SweepConfig, PathLike], *, client=None, table: Optional[PathLike] = None,
              progress: bool = True, log: Optional[Callable[[str], None]] = None) -> SweepSummary:
    """Run every run of ``config`` not yet in its table on the Dask cluster of ``client``.

    Args:
        config: a ``SweepConfig`` or the path of a TOML configuration.
        client: a ``dask.distributed.Client`` (required).
        table: the results table (default ``config.table``).
        progress: a tqdm bar over the runs as they finish.
        log: ``print``-like; called with a line for each failed run.

    Returns:
        a ``SweepSummary``.
    """
    from distributed import as_completed

    if not isinstance(config, SweepConfig):
        config = load_sweep_config(config)
    if client is None or not hasattr(client, "submit"):
        raise TypeError(f"client must be a dask.distributed Client, got {type(client).__name__}")
    path = Path(table) if table is not None else config.table
    if path is None:
        raise ValueError("table: no results table given (set table in the configuration or pass table=)")
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = sweep_runs(config)
    done = {r.get("run_id") for r in read_table(path)}
    todo = [r for r in runs if r.run_id not in done]
    skipped = [r.run_id for r in runs if r.run_id in done]
    by_key = {}
    futures = []
    for r in todo:
        f = client.submit(run_one, config.recipe, r.settings, config.numba_threads, key=f"eventsim-sweep-{r.run_id}",
                          retries=config.retries, pure=False)
        by_key[f.key] = r
        futures.append(f)
    bar = None
    if progress and futures:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc=f"sweep {config.name}", unit="run", dynamic_ncols=True)
    written: List[str] = []
    failed: List[Tuple[str, str]] = []
    try:
        for f in as_completed(futures):
            r = by_key[f.key]
            try:
                out = f.result()
            except Exception as e:  # the run failed: reported, not written
                failed.append((r.run_id, f"{type(e).__name__}: {e}"))
                if log is not None:
                    log(f"run {r.run_id} {r.settings} failed: {type(e).__name__}: {e}")
            else:
                append_row(path, _row(config, r, out))
                written.append(r.run_id)
            f.release()
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return SweepSummary(path, written, skipped, failed)
