"""The benchmark results tables: ``benchmarks/results_table.py`` (append, replacement by key, atomic
writes, read errors, ``select``), the committed tables under ``benchmarks/results/*.jsonl``, the
scripts that write them, and ``benchmarks/loihi_agreement.py`` end to end on a tiny case."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"

#: the studies' key columns, as the scripts that write them declare (checked below)
KEYS = {
    "cuba": ("simulator", "mode", "model", "threads", "n_neurons", "t_bio_ms", "seed", "round"),
    "train_yinyang": ("simulator", "config", "hidden", "batch", "threads", "n_train", "round"),
    "egru": ("simulator", "hidden", "batch", "steps", "inputs", "threads", "target_activity", "round"),
    "loihi_emulator": ("workload", "backend", "batch", "readout", "timed_steps", "round"),
    "loihi_agreement": ("network", "dt", "backend", "split", "calibrated", "headroom", "precision", "readout",
                        "n_samples"),
    "nest_agreement": ("network", "reference", "neuron", "t_max_ms"),
    "brunel": ("simulator", "mode", "threads", "n_neurons", "n_synapses", "t_bio_ms", "seed"),
    "distributed": ("part", "method", "workers", "batch", "hidden", "n_train"),
    "randman_norse": ("simulator", "seed", "epochs", "samples_per_class", "hidden", "dt"),
}
#: key columns added to a study after rows were written: the value the older rows have (scripts read
#: a missing column as this)
KEY_DEFAULTS = {"cuba": {"model": "single"}}
SCRIPTS = {"cuba": "cuba", "train_yinyang": "bench_train_yinyang", "egru": "bench_egru",
           "loihi_emulator": "bench_loihi_emulator", "loihi_agreement": "loihi_agreement",
           "nest_agreement": "nest_agreement", "brunel": "brunel", "distributed": "bench_distributed",
           "randman_norse": "randman_norse"}


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def rt():
    return _load("results_table")


# ---- results_table ---------------------------------------------------------------------------------

def test_append_stamps_rows_and_keeps_their_order(rt, tmp_path):
    path = rt.append_rows("demo", [{"a": 1, "x": 0.5}, {"a": 2, "x": 0.25}], folder=tmp_path)
    assert path == tmp_path / "demo.jsonl"
    rt.append_rows("demo", [{"a": 3, "x": 0.125}], folder=tmp_path)
    rows = rt.read_rows("demo", tmp_path)
    assert [r["a"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert r["study"] == "demo" and r["commit"] and r["date"]
    # a row's own stamp is kept (converted results carry the revision they were measured at)
    rt.append_rows("demo", [{"a": 4, "commit": "abc1234", "date": "2026-01-02"}], folder=tmp_path)
    last = rt.read_rows("demo", tmp_path)[-1]
    assert (last["commit"], last["date"]) == ("abc1234", "2026-01-02")
    # one JSON object per line
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(isinstance(json.loads(line), dict) for line in lines)


def test_no_key_means_every_append_adds_rows(rt, tmp_path):
    rt.append_rows("demo", [{"a": 1}], folder=tmp_path)
    rt.append_rows("demo", [{"a": 1}], folder=tmp_path)
    assert len(rt.read_rows("demo", tmp_path)) == 2


def test_a_row_measured_again_replaces_its_row_in_place(rt, tmp_path):
    key = ("sim", "round")
    rt.append_rows("demo", [{"sim": s, "round": 1, "wall_s": w} for s, w in (("a", 1.0), ("b", 2.0), ("c", 3.0))],
                   key=key, folder=tmp_path)
    rt.append_rows("demo", [{"sim": "b", "round": 1, "wall_s": 2.5}, {"sim": "b", "round": 2, "wall_s": 2.7}],
                   key=key, folder=tmp_path)
    rows = rt.read_rows("demo", tmp_path)
    assert [(r["sim"], r["round"], r["wall_s"]) for r in rows] == [
        ("a", 1, 1.0), ("b", 1, 2.5), ("c", 1, 3.0), ("b", 2, 2.7)]
    # a missing key column counts as null: a row without it matches only rows without it
    rt.append_rows("demo", [{"sim": "a", "wall_s": 9.0}], key=key, folder=tmp_path)
    rt.append_rows("demo", [{"sim": "a", "round": None, "wall_s": 8.0}], key=key, folder=tmp_path)
    rows = rt.read_rows("demo", tmp_path)
    assert len(rows) == 5 and rows[-1]["wall_s"] == 8.0 and rows[0]["wall_s"] == 1.0


def test_a_row_that_is_not_json_leaves_the_table_intact(rt, tmp_path):
    rt.append_rows("demo", [{"a": 1}, {"a": 2}], key=("a",), folder=tmp_path)
    path = tmp_path / "demo.jsonl"
    before = path.read_bytes()
    with pytest.raises(TypeError):
        rt.append_rows("demo", [{"a": 1, "value": object()}], key=("a",), folder=tmp_path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.jsonl"]


def test_a_failed_write_leaves_the_old_table_and_no_temporary_file(rt, tmp_path, monkeypatch):
    import eventsim.files

    rt.append_rows("demo", [{"a": 1}], folder=tmp_path)
    path = tmp_path / "demo.jsonl"
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(eventsim.files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        rt.append_rows("demo", [{"a": 2}], folder=tmp_path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.jsonl"]


def test_a_non_mapping_row_is_refused_before_anything_is_written(rt, tmp_path):
    with pytest.raises(ValueError, match="mapping"):
        rt.append_rows("demo", [[1, 2]], folder=tmp_path)
    assert not (tmp_path / "demo.jsonl").exists()


def test_read_errors_name_the_file_and_line(rt, tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2, oops\n')
    with pytest.raises(ValueError, match=r"demo\.jsonl: line 3 is not JSON"):
        rt.read_rows("demo", tmp_path)
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2 is not a JSON object"):
        rt.read_rows("demo", tmp_path)
    assert rt.read_rows("absent", tmp_path) == []


def test_study_names_are_plain(rt, tmp_path):
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="plain name"):
            rt.table_path(bad, tmp_path)


def test_select_filters_on_every_column_given(rt):
    rows = [{"sim": "a", "threads": 1, "x": 1}, {"sim": "a", "threads": 2, "x": 2}, {"sim": "b", "threads": 1},
            {"threads": 1}]
    assert [r.get("x") for r in rt.select(rows, sim="a")] == [1, 2]
    assert rt.select(rows, sim="a", threads=2) == [{"sim": "a", "threads": 2, "x": 2}]
    assert rt.select(rows, sim=None) == []          # a missing column never matches, not even None
    assert len(rt.select(rows)) == 4
    out = rt.select(rows, sim="b")
    out[0]["threads"] = 99                           # copies: the input rows are not touched
    assert rows[2]["threads"] == 1


# ---- the committed tables ------------------------------------------------------------------------

TABLES = sorted(RESULTS.glob("*.jsonl"))


def test_the_studies_have_their_tables():
    assert {p.stem for p in TABLES} >= set(KEYS)


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_every_committed_table_parses_and_each_row_has_its_stamp_and_key(rt, path):
    rows = rt.read_rows(path.stem, path.parent)
    assert rows, f"{path.name} is empty"
    key = KEYS.get(path.stem, ())
    seen = set()
    for n, r in enumerate(rows, 1):
        r = {**KEY_DEFAULTS.get(path.stem, {}), **r}
        for c in ("study", "commit", "date"):
            assert r.get(c), f"{path.name} row {n}: no {c}"
        assert r["study"] == path.stem, f"{path.name} row {n}: study {r['study']!r}"
        missing = [c for c in key if c not in r]
        assert not missing, f"{path.name} row {n}: no key columns {missing}"
        k = tuple(json.dumps(r[c], sort_keys=True) for c in key)
        if key:
            assert k not in seen, f"{path.name} row {n}: the key {dict(zip(key, k))} is there twice"
            seen.add(k)


@pytest.mark.parametrize("study", sorted(SCRIPTS))
def test_the_scripts_write_with_the_keys_tested_here(study):
    module = _load(SCRIPTS[study])
    assert module.STUDY == study
    assert tuple(module.KEY) == KEYS[study]
    assert dict(getattr(module, "KEY_DEFAULTS", {})) == KEY_DEFAULTS.get(study, {})


def test_key_defaults_let_a_new_row_replace_an_old_row_without_the_column(rt, tmp_path):
    key = ("sim", "model")
    rt.append_rows("demo", [{"sim": "a", "wall_s": 1.0}, {"sim": "b", "wall_s": 2.0}], key=("sim",), folder=tmp_path)
    rt.append_rows("demo", [{"sim": "a", "model": "single", "wall_s": 1.5}, {"sim": "a", "model": "true", "wall_s": 3.0}],
                   key=key, folder=tmp_path, key_defaults={"model": "single"})
    rows = rt.read_rows("demo", tmp_path)
    assert [(r["sim"], r.get("model"), r["wall_s"]) for r in rows] == [
        ("a", "single", 1.5), ("b", None, 2.0), ("a", "true", 3.0)]


@pytest.mark.parametrize("script", ["cuba.py", "bench_train_yinyang.py", "bench_egru.py", "bench_loihi_emulator.py",
                                    "loihi_agreement.py", "nest_agreement.py", "brunel.py", "run_all.py",
                                    "bench_distributed.py", "randman_norse.py",
                                    "peers/cuba_nest.py", "peers/cuba_brian2.py", "peers/nest_network.py",
                                    "peers/brunel_nest.py", "peers/jaxsnn_yinyang.py"])
def test_every_script_shows_its_defaults(script):
    # the peer scripts print their help on stderr (their stdout carries only the JSON result)
    p = subprocess.run([sys.executable, str(BENCH / script), "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "(default:" in p.stdout + p.stderr


# ---- loihi_agreement.py end to end ----------------------------------------------------------------

def test_loihi_agreement_writes_its_rows_into_the_results_folder_given(tmp_path, capsys):
    pytest.importorskip("eventsim.hardware.loihi")
    repo_table = RESULTS / "loihi_agreement.jsonl"
    before = repo_table.read_bytes() if repo_table.exists() else None
    la = _load("loihi_agreement")
    args = ["--random", "1", "--task", "yinyang", "--dt", "0.5", "--samples", "6", "--results", str(tmp_path)]
    assert la.main(args) == 0
    rt = _load("results_table")
    rows = rt.read_rows("loihi_agreement", tmp_path)
    assert len(rows) == 1
    r = rows[0]
    assert r["study"] == "loihi_agreement" and r["commit"] and r["date"]
    assert all(c in r for c in KEYS["loihi_agreement"])
    assert (r["network"], r["dt"], r["backend"], r["split"], r["n_samples"]) == (
        "untrained yinyang seed 0", 0.5, "numba", "test", 6)
    assert r["calibrated"] is False and r["readout"] == "first_spike" and r["task"] == "yinyang"
    assert 0.0 <= r["agree"] <= 1.0 and r["n_disagree"] == round(6 * (1 - r["agree"]))
    assert r["n_steps"] == 201                      # t_max 100 ms at 0.5 ms
    assert "first_spike_hidden_within_2dt" in r and "predictions" not in r and "result" not in r
    json.dumps(r, allow_nan=True)                    # flat, plain values
    # measured again: the row is replaced, not duplicated; another dt adds a row
    assert la.main(args) == 0
    assert len(rt.read_rows("loihi_agreement", tmp_path)) == 1
    assert la.main(args[:5] + ["0.25"] + args[6:]) == 0
    assert [r["dt"] for r in rt.read_rows("loihi_agreement", tmp_path)] == [0.5, 0.25]
    assert "untrained yinyang seed 0" in capsys.readouterr().out
    # the repository's table was not touched
    assert (repo_table.read_bytes() if repo_table.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loihi_agreement.jsonl"]


def test_non_finite_figures_are_written_as_strict_json(rt, tmp_path):
    """NaN becomes null and infinities the strings "inf"/"-inf", so strict JSON readers accept the table."""
    path = rt.append_rows("strict", [{"k": 1, "agree_clear": float("nan"), "t": [1.0, float("inf")],
                                      "d": {"x": float("-inf")}}], key=["k"], folder=tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    row = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert row["agree_clear"] is None and row["t"] == [1.0, "inf"] and row["d"] == {"x": "-inf"}
