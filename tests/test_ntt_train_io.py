"""Baselines, sparse training with a fixed mask, HDF5 round trip, connectomes, plot and CLI."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eventsim.ntt import (BASELINES, GRUTwin, MLPTwin, NTTResult, load_result, n_keep,  # noqa: E402
                          prune_baseline, rescale_weights, run_ntt, snip_scores, train_sparse)

torch.set_num_threads(1)
TW = MLPTwin([8, 32, 16, 4])


def _blobs(n, seed):
    """4 Gaussian classes in 8-D: an easy labelled problem."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((4, 8)) * 2.0
    y = rng.integers(0, 4, n)
    return centres[y] + rng.standard_normal((n, 8)), y


X, Y = _blobs(400, 0)
XT, YT = _blobs(200, 1)


@pytest.mark.parametrize("method", [m for m in BASELINES if m != "dense"])
def test_baselines_exact_density_and_zeros(method):
    r = prune_baseline(method, TW, 0.1, seed=3, X=X, y=Y)
    init = TW.init_arrays(3)
    for k, m in r.masks.items():
        assert m.sum() == n_keep(m.size, 0.1)
        assert np.all(r.params[k][~m] == 0)
        scale = 1 / np.sqrt(0.1) if method == "random_scaled" else 1.0
        np.testing.assert_allclose(r.params[k][m], scale * init[k][m])
    assert r.provenance["method"] == method and r.provenance["seed"] == 3


def test_magnitude_and_random_masks():
    mag = prune_baseline("magnitude", TW, 0.1, seed=0)
    W = np.abs(TW.init_arrays(0)["W1"])
    assert W[mag.masks["W1"]].min() >= W[~mag.masks["W1"]].max()
    r1, r2, r3 = (prune_baseline("random", TW, 0.1, seed=s) for s in (0, 0, 1))
    assert np.array_equal(r1.masks["W0"], r2.masks["W0"]) and not np.array_equal(r1.masks["W0"], r3.masks["W0"])


def test_snip_scores_match_manual_gradient():
    tw = MLPTwin([3, 2], bias=False)  # a single linear layer: f = x W^T
    init = tw.init_arrays(0)
    Xs = np.random.default_rng(1).standard_normal((5, 3))
    W = init["W0"]
    # label-free: L = sum f^2 -> dL/dW = 2 f^T x
    f = Xs @ W.T
    expect = np.abs(W * (2 * f.T @ Xs))
    got = snip_scores(tw, init, Xs, None, seed=0, n_samples=5)["W0"]
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # labelled: mean CE -> dL/dW = (softmax(f) - onehot)^T x / n
    y = np.array([0, 1, 1, 0, 1])
    p = np.exp(f - f.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    p[np.arange(5), y] -= 1
    expect = np.abs(W * (p.T @ Xs / 5))
    got = snip_scores(tw, init, Xs, y, seed=0, n_samples=5)["W0"]
    np.testing.assert_allclose(got, expect, rtol=1e-10)


def test_baseline_validation():
    with pytest.raises(ValueError, match="method"):
        prune_baseline("lottery", TW, 0.1)
    with pytest.raises(ValueError, match="y"):
        prune_baseline("snip", TW, 0.1, X=X)
    with pytest.raises(ValueError, match="y"):
        prune_baseline("snip", TW, 0.1, X=X, y=Y + 10)
    with pytest.raises(ValueError, match="density"):
        prune_baseline("random", TW, 2.0)


def test_sparse_training_respects_mask_and_learns():
    init = prune_baseline("random", TW, 0.3, seed=0)
    out = train_sparse(init, X, Y, XT, YT, epochs=15, batch_size=32, lr=5e-3, seed=0, eval_steps=(5,))
    assert out["max_abs_pruned"] == 0.0
    for k, m in init.masks.items():
        assert np.array_equal(out["masks"][k], m)
        assert np.all(out["params"][k][~m] == 0.0)
        assert not np.allclose(out["params"][k][m], init.params[k][m])  # kept weights did train
    assert out["test_acc"] > 0.8 and set(out["test_acc_at"]) == {5}
    assert out["epoch_loss"][-1] < out["epoch_loss"][0]


def test_sparse_training_steps_are_torch_adam_to_the_bit():
    """The oracle: a plain torch loop (autograd, torch.optim.Adam, the same batches, W *= m after
    each step), whose float32 arithmetic the recorded NTT results were measured with."""
    init = prune_baseline("random", TW, 0.3, seed=0)
    out = train_sparse(init, X, Y, XT, YT, epochs=3, batch_size=32, lr=5e-3, seed=0, eval_steps=())
    P = {k: torch.as_tensor(v, dtype=torch.float32).clone().requires_grad_(k in TW.trainable_names)
         for k, v in init.params.items()}
    M = {k: torch.as_tensor(m, dtype=torch.float32) for k, m in init.masks.items()}
    opt = torch.optim.Adam([P[k] for k in TW.trainable_names], lr=5e-3)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y)
    rng = np.random.default_rng([0, 4])
    for _ in range(3):
        perm = rng.permutation(len(X))
        for j in range(0, len(X), 32):
            idx = perm[j:j + 32]
            eff = {k: (P[k] * M[k] if k in M else P[k]) for k in P}
            loss = torch.nn.functional.cross_entropy(TW.apply(eff, Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k in M:
                    P[k].mul_(M[k])
    for k in P:
        np.testing.assert_array_equal(out["params"][k], P[k].detach().numpy().astype(np.float64))


def test_train_validation():
    init = prune_baseline("random", TW, 0.3, seed=0)
    with pytest.raises(ValueError, match="y"):
        train_sparse(init, X, Y[:-1], XT, YT, epochs=1)
    with pytest.raises(ValueError, match="X_test"):
        train_sparse(init, X, Y, XT[:, :5], YT, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train_sparse(init, X, Y, XT, YT, epochs=0)


@pytest.fixture(scope="module")
def ntt_result():
    return run_ntt(TW, X, 0.2, steps=30, mask_every=10, batch_size=32, progress=False, seed=4)


def test_save_load_round_trip(tmp_path, ntt_result):
    p = tmp_path / "r.h5"
    ntt_result.save(p)
    assert [f for f in os.listdir(tmp_path) if f != "r.h5"] == []  # no temporary file left
    back = load_result(p)
    assert list(back.params) == list(ntt_result.params) and list(back.masks) == list(ntt_result.masks)
    for k in ntt_result.params:
        np.testing.assert_array_equal(back.params[k], ntt_result.params[k])
    for k in ntt_result.masks:
        np.testing.assert_array_equal(back.masks[k], ntt_result.masks[k])
    for grp in ("history", "mask_history", "eval_history"):
        for k, v in getattr(ntt_result, grp).items():
            np.testing.assert_array_equal(getattr(back, grp)[k], v)
    assert back.provenance["density"] == 0.2 and back.provenance["seed"] == 4
    assert back.twin_spec == ntt_result.twin_spec


def test_gru_round_trip_and_connectome_shapes(tmp_path):
    tw = GRUTwin(3, 4, 2, n_steps=2)
    r = prune_baseline("magnitude", tw, 0.25, seed=0)
    r.save(tmp_path / "g.h5")
    back = load_result(tmp_path / "g.h5")
    for k in ("W", "R", "W_out"):
        np.testing.assert_array_equal(back.params[k], r.params[k])
        np.testing.assert_array_equal(back.masks[k], r.masks[k])
    pytest.importorskip("eventsim.connectome")
    conns = r.to_connectomes()
    assert set(conns) == {"in->egru", "egru->egru", "egru->out"}
    assert (conns["in->egru"].n_post, conns["in->egru"].n_pre) == (12, 3)
    np.testing.assert_array_equal(conns["egru->egru"].to_dense(), r.params["R"].T)


def test_load_rejects_foreign_file(tmp_path):
    import h5py

    p = tmp_path / "x.h5"
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "something.else"
        f.attrs["version"] = 1
    with pytest.raises(ValueError, match="format"):
        load_result(p)
    with pytest.raises(ValueError, match="path"):
        load_result(tmp_path / "missing.h5")


def test_connectomes_and_rescale(ntt_result):
    pytest.importorskip("eventsim.connectome")
    conns = ntt_result.to_connectomes()
    assert list(conns) == ["in->hidden1", "hidden1->hidden2", "hidden2->out"]
    for (name, src, dst) in TW.projections():
        c = conns[f"{src}->{dst}"]
        assert c.n_synapses == ntt_result.masks[name].sum()
        np.testing.assert_allclose(c.to_dense(), ntt_result.params[name])
        np.testing.assert_array_equal(c.mask(), ntt_result.masks[name])
        assert c.provenance["method"] == "ntt" and c.provenance["projection"] == f"{src}->{dst}"
    scaled = ntt_result.to_connectomes(scales=[2.0, 3.0, 0.5])
    np.testing.assert_allclose(scaled["hidden1->hidden2"].to_dense(), 3.0 * ntt_result.params["W1"])
    w = rescale_weights({"a": np.ones((2, 2)), "b": np.ones(3)}, {"a": 2.0, "b": 0.1})
    assert w["a"].sum() == 8.0 and np.isclose(w["b"].sum(), 0.3)
    for bad in ([1.0], [1.0, -2.0], {"a": 1.0}, [1.0, float("inf")]):
        with pytest.raises(ValueError, match="scales"):
            rescale_weights({"a": np.ones(2), "b": np.ones(2)}, bad)


def test_connectomes_with_a_bias_neuron_compute_the_twin():
    """bias_neuron=True: a ReLU network evaluated from the connectomes alone, with the input [x, 1],
    gives the twin's logits (oracle: the twin's own forward pass); biases scale with their layer."""
    pytest.importorskip("eventsim.connectome")
    r = prune_baseline("random", TW, 0.2, seed=1)
    r.params.update({k: np.random.default_rng(2).normal(0, 0.5, v.shape) for k, v in r.params.items() if k[0] == "b"})
    conns = r.to_connectomes(bias_neuron=True)
    assert list(conns) == ["in->hidden1", "hidden1->hidden2", "in->hidden2", "hidden2->out", "in->out"]
    assert conns["in->hidden1"].n_synapses == r.masks["W0"].sum() + 32
    assert conns["in->out"].n_synapses == 4 and np.all(conns["in->out"].mask()[:, :-1] == 0)
    xb = np.concatenate([X[:5], np.ones((5, 1))], axis=1)
    h1 = np.maximum(xb @ conns["in->hidden1"].to_dense().T, 0)
    h2 = np.maximum(h1 @ conns["hidden1->hidden2"].to_dense().T + xb @ conns["in->hidden2"].to_dense().T, 0)
    f = h2 @ conns["hidden2->out"].to_dense().T + xb @ conns["in->out"].to_dense().T
    tw = r.twin()
    f_twin = tw.apply({k: torch.as_tensor(v) for k, v in r.params.items()}, torch.as_tensor(X[:5])).numpy()
    np.testing.assert_allclose(f, f_twin, rtol=1e-12, atol=1e-12)
    scaled = r.to_connectomes(scales=[2.0, 3.0, 0.5], bias_neuron=True)
    np.testing.assert_allclose(scaled["in->hidden1"].to_dense()[:, -1], 2.0 * r.params["b0"])
    np.testing.assert_allclose(scaled["in->out"].to_dense()[:, -1], 0.5 * r.params["b2"])
    np.testing.assert_allclose(r.rescaled([2.0, 3.0, 0.5]).params["b1"], 3.0 * r.params["b1"])
    with pytest.raises(ValueError, match="bias_neuron"):
        prune_baseline("random", MLPTwin([8, 4, 2], bias=False), 0.5).to_connectomes(bias_neuron=True)


def test_result_rejects_nonzero_pruned_weight(ntt_result):
    params = {k: v.copy() for k, v in ntt_result.params.items()}
    m = ntt_result.masks["W0"]
    params["W0"][~m] = 1.0
    with pytest.raises(ValueError, match="W0"):
        NTTResult(ntt_result.twin_spec, params, dict(ntt_result.masks))


def test_plot_and_cli(tmp_path, ntt_result):
    from eventsim.ntt.cli import main
    from eventsim.ntt.plot import plot_ntt

    plot_ntt(ntt_result, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    out = tmp_path / "c.h5"
    code = main(["--layers", "8,16,4", "--density", "0.25", "--steps", "12", "--mask-every", "5",
                 "--batch-size", "16", "--data", "gaussian", "--out", str(out), "--plot", str(tmp_path / "l.png"),
                 "--variant", "all", "--quiet"])
    assert code == 0 and out.exists() and (tmp_path / "l.png").exists()
    r = load_result(out)
    assert r.provenance["variant"] == "all" and r.masks["W0"].sum() == n_keep(128, 0.25)
    # --balance: the loss weights come from balanced_lambdas and are recorded in the provenance
    from eventsim.ntt import GRUTwin, balanced_lambdas

    outg = tmp_path / "g.h5"
    assert main(["--twin", "gru", "--layers", "3,6,4", "--seq-len", "5", "--density", "0.3", "--steps", "3",
                 "--batch-size", "8", "--data", "gaussian", "--seed", "2", "--balance", "--out", str(outg),
                 "--quiet"]) == 0
    pg = load_result(outg).provenance
    Xg = np.random.default_rng([2, 5]).standard_normal((1024, 5, 3))
    lk, l2 = balanced_lambdas(GRUTwin(3, 6, 4, 5), Xg, 0.3, seed=2, batch_size=8)
    assert pg["lambda_k"] == pytest.approx(lk, rel=1e-12) and pg["lambda_2"] == pytest.approx(l2, rel=1e-12)
    # --bias-neuron: the connectome files carry the biases as the bias neuron's synapses
    cdir = tmp_path / "conns"
    cdir.mkdir()
    assert main(["--layers", "8,16,4", "--density", "0.25", "--steps", "3", "--batch-size", "16", "--data", "gaussian",
                 "--out", str(out), "--connectome-dir", str(cdir), "--bias-neuron", "--quiet"]) == 0
    from eventsim.connectome import load_connectome

    rb = load_result(out)
    c_in = load_connectome(cdir / "in_to_hidden.h5")  # also: a fresh result's provenance (TorchVersion) saves
    assert c_in.n_pre == 9 and c_in.n_synapses == rb.masks["W0"].sum() + 16
    np.testing.assert_allclose(c_in.to_dense()[:, -1], rb.params["b0"])
    np.testing.assert_allclose(load_connectome(cdir / "in_to_out.h5").to_dense()[:, -1], rb.params["b1"])
    assert main(["--layers", "8,16,4", "--density", "0.25", "--data", "gaussian", "--out", str(out), "--no-bias",
                 "--connectome-dir", str(cdir), "--bias-neuron", "--quiet"]) == 2
    assert main(["--layers", "8,x,4", "--density", "0.1", "--out", str(out), "--quiet"]) == 2
    # --keep-dense W0 --freeze W0: the input layer is whole and untouched, the read-out pruned and trained
    assert main(["--layers", "8,16,4", "--density", "0.25", "--steps", "12", "--batch-size", "16", "--data", "gaussian",
                 "--no-bias", "--keep-dense", "W0", "--freeze", "W0", "--lr", "1e-2", "--out", str(out),
                 "--quiet"]) == 0
    rf = load_result(out)
    init = MLPTwin([8, 16, 4], bias=False).init_arrays(0)
    assert rf.masks["W0"].all() and rf.provenance["frozen"] == ["W0"]
    assert np.array_equal(rf.params["W0"], init["W0"].astype(np.float32).astype(np.float64))
    assert rf.masks["W1"].sum() == n_keep(64, 0.25)
    assert not np.allclose(rf.params["W1"][rf.masks["W1"]], init["W1"][rf.masks["W1"]], atol=1e-4)
    assert main(["--layers", "8,16,4", "--density", "0.25", "--data", "gaussian", "--freeze", "W7", "--out", str(out),
                 "--quiet"]) == 2
    assert main(["--layers", "8,16,4", "--density", "0", "--data", "gaussian", "--out", str(out), "--quiet"]) == 2


def test_digits_experiment_smoke():
    from eventsim.ntt.experiments import format_table, run_digits, summarize

    out = run_digits(sizes=(64, 20, 10), densities=[0.1], seeds=[0, 1], methods=["ntt_all", "random"],
                     ntt_kwargs={"steps": 3, "mask_every": 2}, train_kwargs={"epochs": 1, "eval_steps": (5,)},
                     progress=False, log=lambda s: None)
    recs = out["records"]
    assert len(recs) == 2 * 3 and {r["method"] for r in recs} == {"dense", "ntt_all", "random"}
    for r in recs:
        assert 0.0 <= r["test_acc"] <= 1.0 and r["max_abs_pruned"] == 0.0 and "5" in r["test_acc_at"]
    row = [s for s in out["summary"] if s["method"] == "random"][0]
    accs = [r["test_acc"] for r in recs if r["method"] == "random"]
    assert row["test_acc"]["mean"] == pytest.approx(np.mean(accs))
    assert row["test_acc"]["std"] == pytest.approx(np.std(accs, ddof=1))
    assert "| random |" in format_table(summarize(recs))


def test_connectomes_plug_into_a_network():
    es = pytest.importorskip("eventsim")
    tw = MLPTwin([5, 20, 3], names=["in", "hidden", "out"], bias=False)
    r = prune_baseline("magnitude", tw, 0.2, seed=0)
    net = es.Network()
    net.add_input("in", 5)
    net.add_population("hidden", 20)
    net.add_population("out", 3)
    for name, c in r.to_connectomes(scales=[4.0, 2.0]).items():
        src, dst = name.split("->")
        net.connect(src, dst, c)
    np.testing.assert_allclose(net.projections["in->hidden"].to_dense(), 4.0 * r.params["W0"])
    assert net.projections["hidden->out"].n_synapses == n_keep(60, 0.2)
