"""Merging per-seed runs of the NTT experiment scripts (``benchmarks/ntt_lif.py --merge``), and their
checks of protocol options before any work.

The merged table is only a mean over seeds of one protocol if every merged run used that protocol
and no training is counted twice; these tests hold the merge to both."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def _run(path: Path, seeds: str, records, **config) -> str:
    cfg = dict(task="yinyang", densities="0.05", seeds=seeds, methods="ntt,random", epochs=30, short=3,
               hidden=1000, silent="phantom", revive=0.0, no_dense=False, out=str(path), merge=None)
    cfg.update(config)
    path.write_text(json.dumps({"config": cfg, "machine": {"cpus": 2}, "records": records}))
    return str(path)


def _rec(method: str, seed: int, acc: float, short: float = 0.5, density: float = 0.05) -> dict:
    return {"method": method, "density": density, "overall_density": 0.64, "seed": seed, "test_acc": acc,
            "test_acc_short": short}


def test_merge_of_one_protocol_takes_the_union_and_the_mean_over_seeds(tmp_path):
    ntt_lif = _load("ntt_lif")
    a = _run(tmp_path / "a.json", "0", [_rec("ntt", 0, 0.90), _rec("dense", 0, 0.97, density=1.0)])
    b = _run(tmp_path / "b.json", "1,2", [_rec("ntt", 1, 0.94), _rec("ntt", 2, 0.95)], no_dense=True,
             densities="0.05,0.1")
    out = tmp_path / "merged.json"
    assert ntt_lif.main(["--task", "yinyang", "--merge", a, b, "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert merged["config"]["seeds"] == "0,1,2"
    assert merged["config"]["densities"] == "0.05,0.1"
    assert merged["config"]["out"] == str(out)
    assert merged["config"]["merged"] == [a, b]
    row = next(r for r in merged["summary"] if r["method"] == "ntt")
    assert row["n"] == 3
    assert row["test_acc_mean"] == pytest.approx(100 * (0.90 + 0.94 + 0.95) / 3)  # the summary is in %
    assert row["test_acc_std"] == pytest.approx(2.6457513, rel=1e-6)  # sample std of 0.90, 0.94, 0.95


def test_merge_refuses_runs_of_different_protocols_and_names_the_options(tmp_path):
    common = _load("ntt_common")
    a = _run(tmp_path / "a.json", "0", [_rec("ntt", 0, 0.9)])
    b = _run(tmp_path / "b.json", "1", [_rec("ntt", 1, 0.9)], hidden=200, revive=0.01)
    runs, _ = common.load_runs([a, b])
    with pytest.raises(ValueError, match=r"b\.json.*hidden=200 \(vs 1000\).*revive=0\.01 \(vs 0\.0\)"):
        common.merged_config(runs, [a, b])


def test_merge_refuses_a_training_counted_twice(tmp_path):
    common = _load("ntt_common")
    a = _run(tmp_path / "a.json", "0,1", [_rec("ntt", 0, 0.9), _rec("ntt", 1, 0.8)])
    b = _run(tmp_path / "b.json", "1", [_rec("ntt", 1, 0.85), _rec("random", 1, 0.7)])
    with pytest.raises(ValueError, match=r"b\.json and .*a\.json both hold ntt at density 0\.05, seed 1"):
        common.load_runs([a, b])


def test_merge_takes_an_option_a_run_predates_as_its_default(tmp_path):
    """A run made before ``--ntt-freeze`` existed has no key for it: it merges with a newer run that used
    the default (nothing frozen) and is refused beside one that froze a projection."""
    ntt_lif = _load("ntt_lif")
    a = _run(tmp_path / "a.json", "0", [_rec("random", 0, 0.95)])
    assert "ntt_freeze" not in json.loads(Path(a).read_text())["config"]
    b = _run(tmp_path / "b.json", "1", [_rec("random", 1, 0.93)], ntt_freeze="")
    c = _run(tmp_path / "c.json", "2", [_rec("ntt", 2, 0.96)], ntt_freeze="in->hidden")
    out = tmp_path / "merged.json"
    assert ntt_lif.main(["--task", "yinyang", "--merge", a, b, "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert merged["config"]["ntt_freeze"] == "" and merged["config"]["seeds"] == "0,1"
    with pytest.raises(ValueError, match=r"c\.json.*ntt_freeze='in->hidden' \(vs ''\)"):
        ntt_lif.main(["--task", "yinyang", "--merge", a, c, "--out", str(out)])


def test_ntt_egru_refuses_an_unknown_frozen_parameter_before_any_work(tmp_path):
    ntt_egru = _load("ntt_egru")
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=r"--ntt-freeze: .*'W_out'.*got \['W_readout'\]"):
        ntt_egru.main(["--ntt-freeze", "W_readout", "--seeds", "0", "--densities", "0.05", "--methods", "ntt",
                       "--no-dense", "--out", str(out)])
    assert not out.exists()


def test_a_merged_file_merges_again_and_keeps_its_sources(tmp_path):
    """New seeds are added to an earlier merge; the provenance lists the per-run files, not the merge."""
    ntt_lif = _load("ntt_lif")
    a = _run(tmp_path / "a.json", "0", [_rec("ntt", 0, 0.90)])
    b = _run(tmp_path / "b.json", "1", [_rec("ntt", 1, 0.94)])
    c = _run(tmp_path / "c.json", "2", [_rec("ntt", 2, 0.95)])
    ab = tmp_path / "ab.json"
    assert ntt_lif.main(["--task", "yinyang", "--merge", a, b, "--out", str(ab)]) == 0
    abc = tmp_path / "abc.json"
    assert ntt_lif.main(["--task", "yinyang", "--merge", str(ab), c, "--out", str(abc)]) == 0
    merged = json.loads(abc.read_text())
    assert merged["config"]["merged"] == [a, b, c]
    assert merged["config"]["seeds"] == "0,1,2"
    row = next(r for r in merged["summary"] if r["method"] == "ntt")
    assert row["n"] == 3 and row["test_acc_mean"] == pytest.approx(100 * (0.90 + 0.94 + 0.95) / 3)


def test_ntt_egru_freezes_the_read_out_through_the_script(tmp_path):
    """A tiny run end to end (16 units, 4 NTT steps): with ``--ntt-freeze W_out,b_out`` the read-out leaves
    NTT as it entered (norm ratio 1 up to float32 rounding) while W and R moved; without it it moves too."""
    ntt_egru = _load("ntt_egru")
    ratios = {}
    for tag, freeze in (("frozen", ["--ntt-freeze", "W_out,b_out"]), ("free", [])):
        out = tmp_path / f"{tag}.json"
        assert ntt_egru.main(["--hidden", "16", "--ntt-steps", "4", "--mask-every", "2", "--methods", "ntt",
                              "--no-dense", "--densities", "0.1", "--seeds", "0", "--out", str(out), *freeze]) == 0
        (rec,) = json.loads(out.read_text())["records"]
        ratios[tag] = {k: rec[f"norm_ratio_{k}"] for k in ("W", "R", "W_out")}
    assert ratios["frozen"]["W_out"] == pytest.approx(1.0, abs=1e-6)
    assert abs(ratios["free"]["W_out"] - 1.0) > 1e-3
    for k in ("W", "R"):
        assert abs(ratios["frozen"][k] - 1.0) > 1e-3


@pytest.mark.parametrize("option, value", [("--ntt-freeze", "in->out"), ("--keep-dense", "hidden")])
def test_ntt_lif_refuses_an_unknown_projection_before_any_work(tmp_path, option, value):
    ntt_lif = _load("ntt_lif")
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=rf"{option}: unknown names \['{value}'\] \(have \['in->hidden', 'hidden->out'\]\)"):
        ntt_lif.main(["--task", "yinyang", option, value, "--out", str(out)])
    assert not out.exists()


def test_merge_refuses_an_unfinished_run_unless_allowed_and_then_counts_what_it_holds(tmp_path):
    ntt_lif = _load("ntt_lif")
    a = _run(tmp_path / "a.json", "0", [_rec("ntt", 0, 0.90), _rec("dense", 0, 0.97, density=1.0)])
    # a run of seeds 1-2 at two densities, stopped after its first sparse training
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"config": json.loads(Path(a).read_text())["config"] | {"seeds": "1,2",
                                                                                   "densities": "0.05,0.1"},
                             "machine": {"cpus": 2}, "records": [_rec("ntt", 1, 0.94)], "complete": False}))
    out = tmp_path / "merged.json"
    with pytest.raises(ValueError, match=r"b\.json is the checkpoint of a run that did not finish \(1 trainings\)"):
        ntt_lif.main(["--task", "yinyang", "--merge", a, str(b), "--out", str(out)])
    assert not out.exists()
    assert ntt_lif.main(["--task", "yinyang", "--merge", a, str(b), "--out", str(out), "--allow-partial"]) == 0
    merged = json.loads(out.read_text())
    assert merged["complete"] is True
    assert merged["config"]["seeds"] == "0,1"  # seed 2 was never trained, so it is not claimed
    assert merged["config"]["densities"] == "0.05"
    assert merged["config"]["merged_partial"] == [str(b)]
    row = next(r for r in merged["summary"] if r["method"] == "ntt")
    assert row["n"] == 2 and row["test_acc_mean"] == pytest.approx(100 * (0.90 + 0.94) / 2)


def _fail_on_call(n: int, fn):
    """``fn`` that raises RuntimeError on its n-th call (a run interrupted mid-way)."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise RuntimeError("interrupted")
        return fn(*args, **kwargs)

    return wrapped


def test_an_interrupted_ntt_lif_run_leaves_its_finished_trainings(tmp_path, monkeypatch):
    """Tiny Yin-Yang run (12 hidden, 1 epoch): dense trains, the random network's training is interrupted.
    The file on disk is the checkpoint after the dense training: valid JSON, marked unfinished."""
    import eventsim.train

    ntt_lif = _load("ntt_lif")
    monkeypatch.setattr(eventsim.train, "fit", _fail_on_call(2, eventsim.train.fit))
    out = tmp_path / "run.json"
    with pytest.raises(RuntimeError, match="interrupted"):
        ntt_lif.main(["--task", "yinyang", "--hidden", "12", "--epochs", "1", "--short", "1", "--densities", "0.3",
                      "--methods", "random", "--seeds", "0", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["complete"] is False
    assert [(r["method"], r["seed"]) for r in saved["records"]] == [("dense", 0)]
    assert 0.0 <= saved["records"][0]["test_acc"] <= 1.0


def test_an_interrupted_ntt_egru_run_leaves_its_finished_trainings(tmp_path, monkeypatch):
    """Tiny EGRU run (16 units, 4 NTT steps) at two densities, interrupted in its second training; a run
    that finishes replaces the checkpoint with the complete file."""
    ntt_egru = _load("ntt_egru")
    args = ["--hidden", "16", "--ntt-steps", "4", "--mask-every", "2", "--methods", "random", "--no-dense",
            "--densities", "0.1,0.2", "--seeds", "0"]
    done = tmp_path / "done.json"
    assert ntt_egru.main([*args, "--out", str(done)]) == 0
    complete = json.loads(done.read_text())
    assert complete["complete"] is True and len(complete["records"]) == 2
    from eventsim.models import egru_digits  # importable once the script is loaded (it puts the repository on the path)

    monkeypatch.setattr(egru_digits, "train", _fail_on_call(2, egru_digits.train))
    out = tmp_path / "run.json"
    with pytest.raises(RuntimeError, match="interrupted"):
        ntt_egru.main([*args, "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["complete"] is False
    assert [(r["method"], r["density"]) for r in saved["records"]] == [("random", 0.1)]
    assert saved["records"][0]["test_acc"] == complete["records"][0]["test_acc"]  # same training, same seed


def test_ntt_egru_runs_both_ntk_variants_each_balanced_for_its_own_kernel(tmp_path):
    """Method ntt_active (session 12) runs NTT with the 'active' student NTK, and its lambda_K is balanced
    against that kernel's initial distance (lambda_K * NTK = 2 * output term on the balancing batch, which
    is also the evaluation batch), not against the 'all' kernel's."""
    from eventsim.ntt.core import BALANCE_NTK_RATIO

    ntt_egru = _load("ntt_egru")
    out = tmp_path / "variants.json"
    assert ntt_egru.main(["--hidden", "16", "--ntt-steps", "4", "--mask-every", "2", "--methods", "ntt,ntt_active",
                          "--no-dense", "--densities", "0.1", "--seeds", "0", "--lambda-2", "0", "--out", str(out)]) == 0
    recs = {r["method"]: r for r in json.loads(out.read_text())["records"]}
    assert (recs["ntt"]["variant"], recs["ntt_active"]["variant"]) == ("all", "active")
    assert recs["ntt_active"]["eval_ntk_initial"] != pytest.approx(recs["ntt"]["eval_ntk_initial"], rel=1e-3)
    for r in recs.values():
        assert r["lambda_k"] * r["eval_ntk_initial"] == pytest.approx(BALANCE_NTK_RATIO * r["eval_out_initial"], rel=1e-4)
        assert r["lambda_2"] == 0.0


@pytest.mark.parametrize("script, argv", [("ntt_egru", []), ("ntt_lif", ["--task", "yinyang"])])
def test_the_ntt_scripts_refuse_an_unknown_method_before_any_work(tmp_path, script, argv):
    module = _load(script)
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=r"--methods: unknown \['ntt_kept'\]"):
        module.main([*argv, "--methods", "ntt,ntt_kept", "--seeds", "0", "--out", str(out)])
    assert not out.exists()


def test_ntt_egru_refuses_dense_as_a_pruning_method(tmp_path):
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=r"'dense' is not a pruning method here.*--no-dense"):
        _load("ntt_egru").main(["--methods", "ntt,dense", "--seeds", "0", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-0.001", "nan"])
def test_ntt_egru_refuses_a_bad_ntt_learning_rate_before_any_work(tmp_path, value):
    ntt_egru = _load("ntt_egru")
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=r"--ntt-lr must be a positive number"):
        ntt_egru.main(["--ntt-lr", value, "--seeds", "0", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("script, argv", [("ntt_egru", []), ("ntt_lif", ["--task", "yinyang"])])
def test_the_ntt_scripts_refuse_allow_partial_without_merge(tmp_path, script, argv):
    """``--allow-partial`` only changes what a merge accepts; a run given it used to ignore it silently."""
    out = tmp_path / "never.json"
    with pytest.raises(ValueError, match=r"--allow-partial only applies with --merge"):
        _load(script).main([*argv, "--allow-partial", "--seeds", "0", "--out", str(out)])
    assert not out.exists()


def test_ntt_lif_records_hold_the_ntt_provenance(tmp_path):
    """Tiny Yin-Yang run (12 hidden, 1 epoch, 4 NTT steps): each NTT record keeps its run's kernel variant,
    λ_K, λ_2, step and the evaluation distances, taken from the NTTResult (the script runs NTT with run_ntt's
    defaults; the two kernels' initial distances differ); a baseline's record has none of them."""
    import inspect

    from eventsim.ntt import run_ntt

    keys = _load("ntt_common").NTT_RECORD_KEYS
    out = tmp_path / "run.json"
    assert _load("ntt_lif").main(["--task", "yinyang", "--hidden", "12", "--epochs", "1", "--short", "1",
                                  "--densities", "0.3", "--methods", "ntt,ntt_active,random", "--ntt-steps", "4",
                                  "--no-dense", "--seeds", "0", "--out", str(out)]) == 0
    recs = {r["method"]: r for r in json.loads(out.read_text())["records"]}
    assert (recs["ntt"]["variant"], recs["ntt_active"]["variant"]) == ("all", "active")
    for m in ("ntt", "ntt_active"):
        assert all(recs[m][k] == inspect.signature(run_ntt).parameters[k].default for k in ("lambda_k", "lambda_2", "lr"))
        assert recs[m]["eval_ntk_final"] != recs[m]["eval_ntk_initial"]  # four steps moved the student
    assert recs["ntt"]["eval_ntk_initial"] != pytest.approx(recs["ntt_active"]["eval_ntk_initial"], rel=1e-3)
    assert set(keys) <= set(recs["ntt"]) and not set(keys) & set(recs["random"])
