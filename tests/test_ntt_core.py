"""NTT loop: exact densities, mask schedule, determinism, distances reduced, boundary validation."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eventsim.ntt import GRUTwin, MLPTwin, n_keep, prune_baseline, random_mask, run_ntt, topk_mask  # noqa: E402

torch.set_num_threads(1)
X = np.random.default_rng(0).standard_normal((256, 8))
TW = MLPTwin([8, 32, 16, 4])
KW = dict(steps=200, mask_every=50, batch_size=32, lr=2e-3, lambda_k=1e-2, progress=False, seed=1)


@pytest.fixture(scope="module")
def runs():
    return {v: run_ntt(TW, X, 0.2, variant=v, **KW) for v in ("active", "all")}


def test_import_without_torch():
    code = "import sys, eventsim, eventsim.ntt as n; n.n_keep(10, 0.5); n.NTTResult; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_n_keep_and_topk_exact_count_and_ties():
    assert n_keep(1000, 0.03) == 30 and n_keep(1000, 0.0305) == 31 and n_keep(10, 0.01) == 1
    assert n_keep(200, 0.0125) == 3  # 2.5 rounds half up
    s = np.array([[3.0, 1.0, 3.0], [2.0, 3.0, 0.0]])
    m = topk_mask(s, 2 / 6)
    assert m.tolist() == [[True, False, True], [False, False, False]]  # ties: lower flat index first
    rng = np.random.default_rng(0)
    for d in (0.01, 0.03, 0.05, 0.1):
        assert topk_mask(rng.standard_normal((300, 64)), d).sum() == round(d * 300 * 64)
        assert random_mask((300, 64), d, rng).sum() == round(d * 300 * 64)


@pytest.mark.parametrize("variant", ["active", "all"])
def test_ntt_reduces_ntk_and_output_distance(runs, variant):
    ev = runs[variant].eval_history
    assert ev["step"][0] == 0 and ev["step"][-1] == KW["steps"]
    # step 0 = the magnitude-pruned student before transfer
    assert ev["ntk"][-1] < 0.95 * ev["ntk"][0]
    assert ev["out"][-1] < 0.7 * ev["out"][0]


def test_initial_student_is_magnitude_pruned():
    r = run_ntt(TW, X, 0.2, **{**KW, "steps": 10})  # fewer steps than mask_every: no mask update
    b = prune_baseline("magnitude", TW, 0.2, seed=KW["seed"])
    for k in TW.weight_names:
        assert np.array_equal(r.masks[k], b.masks[k])
    assert r.eval_history["out"][0] == pytest.approx(r.provenance["eval_out_initial"])


def test_exact_density_schedule_and_zeros(runs):
    r = runs["active"]
    for k, m in r.masks.items():
        assert m.sum() == n_keep(m.size, 0.2)
        assert np.all(r.params[k][~m] == 0.0)
    mh = r.mask_history
    assert mh["step"].tolist() == [0, 50, 100, 150]  # every 50 steps, none in the last 50
    expect = [n_keep(r.masks[k].size, 0.2) / r.masks[k].size for k in TW.weight_names]
    assert np.allclose(mh["density"], expect)
    assert np.all(mh["turnover"][1:].sum(1) > 0)  # masks do change
    assert len(r.history["total"]) == KW["steps"]
    assert np.all(np.isfinite(r.history["total"]))


def test_deterministic_from_seed():
    kw = {**KW, "steps": 60, "mask_every": 20}
    a, b = run_ntt(TW, X, 0.3, **kw), run_ntt(TW, X, 0.3, **kw)
    c = run_ntt(TW, X, 0.3, **{**kw, "seed": 2})
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])
    assert np.array_equal(a.history["total"], b.history["total"])
    assert not np.array_equal(a.params["W0"], c.params["W0"])


def test_keep_dense_readout():
    r = run_ntt(TW, X, 0.1, keep_dense=("W2",), **{**KW, "steps": 5})
    assert r.masks["W2"].all() and r.masks["W0"].sum() == n_keep(32 * 8, 0.1)


def test_frozen_layer_stays_at_the_teacher_while_the_others_move():
    r = run_ntt(TW, X, 0.2, keep_dense=("W0",), frozen=("W0",), **{**KW, "steps": 60})
    teacher = TW.init_arrays(KW["seed"])
    assert np.array_equal(r.params["W0"], teacher["W0"].astype(np.float32).astype(np.float64))  # bit for bit
    assert r.masks["W0"].all() and r.provenance["frozen"] == ["W0"]
    moved = r.params["W1"][r.masks["W1"]] - teacher["W1"].astype(np.float32)[r.masks["W1"]]
    assert np.abs(moved).max() > 1e-4  # the pruned layers were trained
    assert r.history["total"][-1] < r.history["total"][0]


def test_gru_ntt_runs_and_keeps_density():
    tw = GRUTwin(3, 12, 4, n_steps=5)
    Xg = np.random.default_rng(0).standard_normal((128, 5, 3))
    r = run_ntt(tw, Xg, 0.3, steps=40, mask_every=20, batch_size=16, lr=2e-3, lambda_k=1e-1, progress=False)
    assert r.provenance["ntk"] == "closed_form"  # the GRU closed form (variant "all")
    for k in tw.weight_names:
        assert r.masks[k].sum() == n_keep(r.masks[k].size, 0.3)
    assert r.history["total"][-1] < r.history["total"][0]
    assert np.array_equal(r.params["thr"], tw.init_arrays(0)["thr"].astype(np.float32).astype(np.float64))  # thresholds not trained


@pytest.mark.parametrize("kw, name", [
    ({"density": 0.0}, "density"), ({"density": 1.5}, "density"), ({"density": float("nan")}, "density"),
    ({"variant": "some"}, "variant"), ({"batch_size": 31}, "batch_size"), ({"steps": 0}, "steps"),
    ({"lr": -1.0}, "lr"), ({"lambda_k": -1.0}, "lambda_k"), ({"mask_every": 0}, "mask_every"),
    ({"seed": -3}, "seed"), ({"keep_dense": ("W9",)}, "keep_dense"), ({"frozen": ("W9",)}, "frozen"),
    ({"frozen": tuple(TW.trainable_names)}, "frozen"), ({"dtype": "int8"}, "dtype"),
    ({"batch_size": 1024}, "X"), ({"X": np.zeros((64, 7))}, "X"), ({"X_eval": np.zeros((3, 8))}, "X_eval"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(kw, name):
    args = {"density": 0.2, "steps": 2, "progress": False}
    args.update(kw)
    Xa = args.pop("X", X)
    with pytest.raises(ValueError, match=name):
        run_ntt(TW, Xa, **args)


def test_nan_inputs_rejected():
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="X"):
        run_ntt(TW, Xn, 0.2, steps=2, progress=False)


def test_balanced_lambdas_set_the_initial_term_ratios():
    from eventsim.ntt import balanced_lambdas, ntt_distances

    tw = GRUTwin(3, 12, 4, n_steps=5)
    Xg = np.random.default_rng(1).standard_normal((64, 5, 3))
    lam_k, lam_2 = balanced_lambdas(tw, Xg, 0.2, seed=2, batch_size=16, ntk_ratio=3.0, l2_ratio=0.5,
                                    keep_dense=("W_out",), dtype="float64")
    # independent evaluation of the three terms at the magnitude-pruned student
    p = tw.init_params(2, "float64")
    m = {k: torch.as_tensor(topk_mask(np.abs(p[k].numpy()), 0.2), dtype=torch.float64) for k in ("W", "R")}
    eff = {k: (v * m[k] if k in m else v) for k, v in p.items()}
    with torch.no_grad():
        kd, od = ntt_distances(tw, p, eff, m, torch.as_tensor(Xg[:16]))
    l2 = float(sum((eff[k] ** 2).sum() for k in tw.weight_names))
    assert lam_k * float(kd) == pytest.approx(3.0 * float(od), rel=1e-9)
    assert (lam_2 / 0.2) * l2 == pytest.approx(0.5 * float(od), rel=1e-9)
    # variant='active' balances against the NTK distance of the kept weights only
    lam_ka, lam_2a = balanced_lambdas(tw, Xg, 0.2, seed=2, batch_size=16, ntk_ratio=3.0, l2_ratio=0.5,
                                      keep_dense=("W_out",), dtype="float64", variant="active")
    with torch.no_grad():
        kda, _ = ntt_distances(tw, p, eff, m, torch.as_tensor(Xg[:16]), "active")
    assert float(kda) != pytest.approx(float(kd), rel=1e-3)
    assert lam_ka * float(kda) == pytest.approx(3.0 * float(od), rel=1e-9) and lam_2a == pytest.approx(lam_2, rel=1e-12)
    with pytest.raises(ValueError, match="variant"):
        balanced_lambdas(tw, Xg, 0.2, batch_size=16, variant="kept")
    # the ratios were read off the defaults on the digits LIF twin at 5 %: there they give the defaults back
    from eventsim.data import digits_arrays

    Xd = digits_arrays("train")[0]
    lk, l2_ = balanced_lambdas(MLPTwin([65, 300, 10], bias=False), np.c_[Xd, np.ones(len(Xd))], 0.05)
    assert lk == pytest.approx(1e-2, rel=0.2) and l2_ == pytest.approx(1e-4, rel=0.2)
    Xm = np.abs(np.random.default_rng(3).standard_normal((64, 8)))
    with pytest.raises(ValueError, match="ntk_ratio"):
        balanced_lambdas(TW, Xm, 0.2, ntk_ratio=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        balanced_lambdas(TW, Xm, 0.2, batch_size=7)
    with pytest.raises(ValueError, match="cannot balance"):
        balanced_lambdas(TW, Xm, 1.0)  # nothing pruned: both distances are 0
