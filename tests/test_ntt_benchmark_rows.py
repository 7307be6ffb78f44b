"""The NTT experiment scripts' results tables (``benchmarks/ntt_lif.py``, ``ntt_egru.py``, ``ntt_ann_digits.py``,
``bench_gru_ntk.py``): one row per training, written as soon as it ends, keyed by its configuration, and the
summary (mean ± sample std over seeds) printed from the rows; and the scripts' checks of their options
before any work.

The tables in the docs are these summaries, so the tests hold them to a hand computation, hold the rows
to being written after every training (an interrupted run keeps what it finished), and a configuration
run again to replacing its rows instead of adding new ones."""
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _load(name: str):
    for p in (str(BENCH), str(ROOT)):
        if p not in sys.path:
            sys.path.insert(0, p)
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(folder: Path, study: str) -> list:
    path = folder / f"{study}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _fail_on_call(n: int, fn):
    """``fn`` that raises RuntimeError on its n-th call (a run interrupted mid-way)."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise RuntimeError("interrupted")
        return fn(*args, **kwargs)

    return wrapped


# ------------------------------------------------------------------------------------------- summaries

def test_summary_is_the_mean_and_sample_std_over_seeds_per_configuration():
    common = _load("ntt_common")
    key = ("method", "density", "seed", "revive")
    rows = [{"method": "ntt", "density": 0.05, "seed": 0, "revive": 0.0, "test_acc": 0.90},
            {"method": "ntt", "density": 0.05, "seed": 1, "revive": 0.0, "test_acc": 0.94},
            {"method": "ntt", "density": 0.05, "seed": 2, "revive": 0.0, "test_acc": 0.95},
            {"method": "ntt", "density": 0.05, "seed": 0, "revive": 0.01, "test_acc": 0.50},  # another configuration
            {"method": "random", "density": 0.05, "seed": 0, "revive": 0.0, "test_acc": 0.80, "test_acc_short": None}]
    s = common.summarize(rows, key, figures=("test_acc", "test_acc_short"))
    assert [(e["method"], e["revive"], e["n"]) for e in s] == [("ntt", 0.0, 3), ("ntt", 0.01, 1), ("random", 0.0, 1)]
    ntt = s[0]
    # by hand: mean 0.93; deviations -0.03, 0.01, 0.02; sum of squares 0.0014; / 2; sqrt
    assert ntt["test_acc_mean"] == pytest.approx(0.93, abs=1e-15)
    assert ntt["test_acc_std"] == pytest.approx(math.sqrt(0.0014 / 2), rel=1e-12)
    assert ntt["seeds"] == [0, 1, 2]
    assert s[1]["test_acc_std"] is None  # one seed: no spread
    assert s[2]["test_acc_short_mean"] is None and s[2]["test_acc_short_n"] == 0  # a missing figure is not a zero
    table = common.format_pivot(s, key, "test_acc", "t")
    assert "| ntt | 0 | 93.00 ± 2.65 | 0,1,2 |" in table
    assert "| ntt | 0.01 | 50.00 | 0 |" in table


def _lif_row(ntt_lif, argv, method, density, seed, acc, short=0.5):
    args = ntt_lif.build_parser().parse_args(argv)
    return {**ntt_lif.row_config(args, ntt_lif.resolve(args), method, density, seed), "test_acc": acc,
            "test_acc_short": short}


def test_ntt_lif_summary_takes_exactly_the_rows_its_command_would_write(tmp_path, capsys):
    """``--summary`` with a run's options: the dense network (trained without NTT's options), the baselines
    (to which ``--ntt-freeze`` does not apply) and NTT with the frozen input, at the command's seeds; not NTT
    without the freeze, not another seed, not the same method with another option."""
    ntt_lif = _load("ntt_lif")
    results_table = _load("results_table")
    run = ["--task", "yinyang", "--silent", "phantom", "--hidden", "1000", "--densities", "0.05", "--methods",
           "ntt,random", "--seeds", "0,1"]
    frozen = run + ["--ntt-freeze", "in->hidden"]
    rows = [_lif_row(ntt_lif, frozen, "dense", 1.0, 0, 0.98), _lif_row(ntt_lif, frozen, "dense", 1.0, 1, 0.96),
            _lif_row(ntt_lif, frozen, "ntt", 0.05, 0, 0.95), _lif_row(ntt_lif, frozen, "ntt", 0.05, 1, 0.91),
            _lif_row(ntt_lif, run, "ntt", 0.05, 0, 0.10),                         # NTT without the freeze
            _lif_row(ntt_lif, frozen, "ntt", 0.05, 2, 0.10),                      # a seed not asked for
            _lif_row(ntt_lif, run + ["--revive", "0.01"], "random", 0.05, 0, 0.10),  # another option
            _lif_row(ntt_lif, run, "random", 0.05, 0, 0.90), _lif_row(ntt_lif, run, "random", 0.05, 1, 0.86)]
    assert rows[-1]["ntt_freeze"] is None and rows[0]["bias_synapses"] is None  # options that do not apply
    results_table.append_rows("ntt_lif", rows, key=ntt_lif.ROW_KEY, folder=tmp_path)
    assert ntt_lif.main(frozen + ["--summary", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| dense |  | 97.00 ± 1.41 | 0,1 |" in out
    assert "| ntt | 93.00 ± 2.83 |  | 0,1 |" in out
    assert "| random | 88.00 ± 2.83 |  | 0,1 |" in out
    assert "10.00" not in out
    assert "ntt_freeze = in->hidden" in out


# ------------------------------------------------------------------------ rows written, kept, replaced

TINY_YY = ["--task", "yinyang", "--hidden", "12", "--epochs", "1", "--short", "1", "--densities", "0.3", "--seeds", "0"]


def test_ntt_lif_writes_a_row_after_every_training_and_an_interrupted_run_keeps_its_rows(tmp_path, monkeypatch):
    """Tiny Yin-Yang run (12 hidden, 1 epoch): dense trains, the random network's training is interrupted; the
    table holds the dense row. The whole run then adds the random row and replaces the dense row with its
    rerun (same configuration, same result), and a third run changes nothing but the rows' values."""
    import eventsim.train

    ntt_lif = _load("ntt_lif")
    argv = TINY_YY + ["--methods", "random", "--results", str(tmp_path)]
    fit = eventsim.train.fit
    monkeypatch.setattr(eventsim.train, "fit", _fail_on_call(2, fit))
    with pytest.raises(RuntimeError, match="interrupted"):
        ntt_lif.main(argv)
    (dense,) = _rows(tmp_path, "ntt_lif")
    assert (dense["method"], dense["seed"], dense["hidden"], dense["epochs"]) == ("dense", 0, 12, 1)
    assert 0.0 <= dense["test_acc"] <= 1.0 and dense["commit"] and dense["study"] == "ntt_lif"
    monkeypatch.setattr(eventsim.train, "fit", fit)
    assert ntt_lif.main(argv) == 0
    rows = _rows(tmp_path, "ntt_lif")
    assert [(r["method"], r["density"]) for r in rows] == [("dense", 1.0), ("random", 0.3)]
    assert rows[0]["test_acc"] == dense["test_acc"]  # the same training again, replacing its row
    assert rows[1]["keep_dense"] == ["in->hidden"] and rows[1]["ntt_freeze"] is None
    assert ntt_lif.main(argv) == 0
    assert len(_rows(tmp_path, "ntt_lif")) == 2


def test_ntt_lif_rows_hold_the_ntt_provenance(tmp_path):
    """Tiny Yin-Yang run (12 hidden, 1 epoch, 4 NTT steps): each NTT row keeps its run's kernel variant, λ_K,
    λ_2, step and evaluation distances, taken from the NTTResult (the script runs NTT with run_ntt's defaults;
    the two kernels' initial distances differ); a baseline's row has none of them."""
    import inspect

    from eventsim.ntt import run_ntt

    cols = list(_load("ntt_common").NTT_PROVENANCE_COLUMNS.values())
    assert _load("ntt_lif").main(TINY_YY + ["--methods", "ntt,ntt_active,random", "--ntt-steps", "4", "--no-dense",
                                            "--results", str(tmp_path)]) == 0
    rows = {r["method"]: r for r in _rows(tmp_path, "ntt_lif")}
    assert set(rows) == {"ntt", "ntt_active", "random"}
    assert (rows["ntt"]["variant"], rows["ntt_active"]["variant"]) == ("all", "active")
    defaults = inspect.signature(run_ntt).parameters
    for m in ("ntt", "ntt_active"):
        assert rows[m]["lambda_k"] == defaults["lambda_k"].default and rows[m]["lambda_2"] == defaults["lambda_2"].default
        assert rows[m]["ntt_lr"] == defaults["lr"].default and rows[m]["ntt_steps"] == 4
        assert rows[m]["eval_ntk_final"] != rows[m]["eval_ntk_initial"]  # four steps moved the student
    assert rows["ntt"]["eval_ntk_initial"] != pytest.approx(rows["ntt_active"]["eval_ntk_initial"], rel=1e-3)
    assert set(cols) <= set(rows["ntt"]) and not set(cols) & set(rows["random"])
    assert rows["random"]["ntt_steps"] is None


TINY_EGRU = ["--hidden", "16", "--ntt-steps", "4", "--mask-every", "2", "--no-dense", "--seeds", "0"]


def test_ntt_egru_writes_a_row_after_every_training_and_an_interrupted_run_keeps_its_rows(tmp_path, monkeypatch):
    """Tiny EGRU run (16 units) at two densities, interrupted in its second training: the table holds the first
    training's row, equal to the one a finished run writes; a finished run and a rerun leave two rows."""
    ntt_egru = _load("ntt_egru")
    argv = TINY_EGRU + ["--methods", "random", "--densities", "0.1,0.2", "--results", str(tmp_path)]
    from eventsim.models import egru_digits

    train = egru_digits.train
    monkeypatch.setattr(egru_digits, "train", _fail_on_call(2, train))
    with pytest.raises(RuntimeError, match="interrupted"):
        ntt_egru.main(argv)
    (first,) = _rows(tmp_path, "ntt_egru")
    assert (first["method"], first["density"], first["ntt_lr"], first["lambda_2_option"]) == ("random", 0.1, None, None)
    monkeypatch.setattr(egru_digits, "train", train)
    assert ntt_egru.main(argv) == 0
    rows = _rows(tmp_path, "ntt_egru")
    assert [(r["method"], r["density"]) for r in rows] == [("random", 0.1), ("random", 0.2)]
    assert rows[0]["test_acc"] == first["test_acc"]  # same training, same seed
    assert ntt_egru.main(argv) == 0
    assert len(_rows(tmp_path, "ntt_egru")) == 2


def test_ntt_egru_freezes_the_read_out_through_the_script(tmp_path):
    """With ``--ntt-freeze W_out,b_out`` the read-out leaves NTT as it entered (norm ratio 1 up to float32
    rounding) while W and R moved; without it it moves too. The two are different configurations: two rows."""
    ntt_egru = _load("ntt_egru")
    for freeze in (["--ntt-freeze", "W_out,b_out"], []):
        assert ntt_egru.main(TINY_EGRU + ["--methods", "ntt", "--densities", "0.1", "--results", str(tmp_path),
                                          *freeze]) == 0
    rows = {tuple(r["ntt_freeze"]): r for r in _rows(tmp_path, "ntt_egru")}
    assert set(rows) == {("W_out", "b_out"), ()}
    frozen, free = rows[("W_out", "b_out")], rows[()]
    assert frozen["norm_ratio_W_out"] == pytest.approx(1.0, abs=1e-6)
    assert abs(free["norm_ratio_W_out"] - 1.0) > 1e-3
    for k in ("W", "R"):
        assert abs(frozen[f"norm_ratio_{k}"] - 1.0) > 1e-3
    assert frozen["ntt_frozen"] == ["W_out", "b_out"]


def test_ntt_egru_runs_both_ntk_variants_each_balanced_for_its_own_kernel(tmp_path):
    """Method ntt_active runs NTT with the 'active' student NTK, and its lambda_K is balanced against that
    kernel's initial distance (lambda_K * NTK = 2 * output term on the balancing batch, which is also the
    evaluation batch), not against the 'all' kernel's."""
    from eventsim.ntt.core import BALANCE_NTK_RATIO

    assert _load("ntt_egru").main(TINY_EGRU + ["--methods", "ntt,ntt_active", "--densities", "0.1", "--lambda-2", "0",
                                               "--results", str(tmp_path)]) == 0
    rows = {r["method"]: r for r in _rows(tmp_path, "ntt_egru")}
    assert (rows["ntt"]["variant"], rows["ntt_active"]["variant"]) == ("all", "active")
    assert rows["ntt_active"]["eval_ntk_initial"] != pytest.approx(rows["ntt"]["eval_ntk_initial"], rel=1e-3)
    for r in rows.values():
        assert r["lambda_k"] * r["eval_ntk_initial"] == pytest.approx(BALANCE_NTK_RATIO * r["eval_out_initial"], rel=1e-4)
        assert r["lambda_2"] == 0.0 and r["lambda_2_option"] == 0.0


def test_ntt_ann_digits_writes_a_row_after_every_training(tmp_path, monkeypatch):
    """Tiny ANN run (64-16-10, 1 epoch, 2 NTT steps): dense, NTT and random each give a row; interrupted in the
    NTT training, the table holds the dense row; a rerun replaces rows instead of adding them."""
    import eventsim.ntt.train

    ann = _load("ntt_ann_digits")
    argv = ["--sizes", "64,16,10", "--densities", "0.1", "--seeds", "0", "--methods", "ntt_all,random", "--readout",
            "pruned", "--ntt-steps", "2", "--epochs", "1", "--results", str(tmp_path)]
    train = eventsim.ntt.train.train_sparse
    monkeypatch.setattr(eventsim.ntt.train, "train_sparse", _fail_on_call(2, train))
    with pytest.raises(RuntimeError, match="interrupted"):
        ann.main(argv)
    assert [r["method"] for r in _rows(tmp_path, "ntt_ann_digits")] == ["dense"]
    monkeypatch.setattr(eventsim.ntt.train, "train_sparse", train)
    assert ann.main(argv) == 0
    assert ann.main(argv) == 0
    rows = _rows(tmp_path, "ntt_ann_digits")
    assert [r["method"] for r in rows] == ["dense", "ntt_all", "random"]
    assert rows[0]["readout"] is None and rows[0]["ntt_steps"] is None and rows[2]["variant"] is None
    assert (rows[1]["readout"], rows[1]["variant"], rows[1]["ntt_steps"], rows[1]["sizes"]) == ("pruned", "all", 2,
                                                                                                [64, 16, 10])
    assert all(r["max_abs_pruned"] == 0.0 and 0.0 <= r["test_acc"] <= 1.0 for r in rows)


def test_bench_gru_ntk_writes_one_row_per_timed_configuration(tmp_path, capsys):
    bench = _load("bench_gru_ntk")
    argv = ["--hidden", "8", "--batch", "4", "--reps", "1", "--func-max-hidden", "8", "--results", str(tmp_path)]
    assert bench.main(argv) == 0
    assert bench.main(argv) == 0
    (row,) = _rows(tmp_path, "gru_ntk")
    assert (row["variant"], row["hidden"], row["batch"], row["torch_func"]) == ("all", 8, 4, True)
    assert row["max_rel_diff"] < 1e-5 and row["speedup"] == pytest.approx(row["torch_func_s"] / row["closed_form_s"])
    capsys.readouterr()
    assert bench.main(argv + ["--summary"]) == 0
    assert "| all | 8 | 4 |" in capsys.readouterr().out


def test_the_recorded_tables_have_every_key_column_and_each_key_once():
    """The committed tables: a row per configuration, so a summary never counts a training twice."""
    common = _load("ntt_common")
    for study, script in (("ntt_lif", "ntt_lif"), ("ntt_egru", "ntt_egru"), ("ntt_ann_digits", "ntt_ann_digits"),
                          ("gru_ntk", "bench_gru_ntk")):
        key = _load(script).ROW_KEY
        rows = _rows(BENCH / "results", study)
        assert rows, study
        assert all(set(key) <= set(r) for r in rows), study
        keys = [common.key_of(r, key) for r in rows]
        assert len(set(keys)) == len(keys), study


# ------------------------------------------------------------------------- options refused before work

@pytest.mark.parametrize("option, value", [("--ntt-freeze", "in->out"), ("--keep-dense", "hidden")])
def test_ntt_lif_refuses_an_unknown_projection_before_any_work(tmp_path, option, value):
    with pytest.raises(ValueError, match=rf"{option}: unknown names \['{value}'\] \(have \['in->hidden', 'hidden->out'\]\)"):
        _load("ntt_lif").main(["--task", "yinyang", option, value, "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_ntt_egru_refuses_an_unknown_frozen_parameter_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"--ntt-freeze: .*'W_out'.*got \['W_readout'\]"):
        _load("ntt_egru").main(["--ntt-freeze", "W_readout", "--seeds", "0", "--densities", "0.05", "--methods", "ntt",
                                "--no-dense", "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("script, argv", [("ntt_egru", []), ("ntt_lif", ["--task", "yinyang"]), ("ntt_ann_digits", [])])
@pytest.mark.parametrize("summary", [[], ["--summary"]])
def test_the_ntt_scripts_refuse_an_unknown_method_before_any_work(tmp_path, script, argv, summary):
    with pytest.raises(ValueError, match=r"--methods: unknown \['ntt_kept'\]"):
        _load(script).main([*argv, "--methods", "ntt,ntt_kept", "--seeds", "0", "--results", str(tmp_path), *summary])
    assert not list(tmp_path.iterdir())


def test_ntt_egru_refuses_dense_as_a_pruning_method(tmp_path):
    with pytest.raises(ValueError, match=r"'dense' is not a pruning method here.*--no-dense"):
        _load("ntt_egru").main(["--methods", "ntt,dense", "--seeds", "0", "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["0", "-0.001", "nan"])
def test_ntt_egru_refuses_a_bad_ntt_learning_rate_before_any_work(tmp_path, value):
    with pytest.raises(ValueError, match=r"--ntt-lr must be a positive number"):
        _load("ntt_egru").main(["--ntt-lr", value, "--seeds", "0", "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--task", "digits", "--silent", "phantom"], r"--silent applies to first-spike losses"),
    (["--task", "yinyang", "--epochs", "2", "--short", "3"], r"--short must be in \[1, --epochs = 2\]"),
    (["--task", "yinyang", "--methods", "dense", "--no-dense"], r"--methods lists dense but --no-dense is set"),
    (["--task", "yinyang", "--revive-epochs", "5"], r"--revive-epochs needs --revive"),
    (["--task", "yinyang", "--densities", "0.05,1.5"], r"--densities must lie in \(0, 1\]"),
])
def test_ntt_lif_refuses_bad_options_before_any_work(tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        _load("ntt_lif").main([*argv, "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())
