"""EGRU: Numba kernels against oracles (dense NumPy reference, central
finite differences with a smooth stand-in for the Heaviside), sparse == dense BPTT, limits and
validation (torch autograd as the oracle: ``test_egru_torch.py``). Sizes are small so the whole
file runs in seconds (after Numba's first compile)."""
import numpy as np
import pytest

from eventsim.egru import (EGRU, EGRUClassifier, EGRUConfig, EGRULayer, reference_backward,
                           reference_forward)
from eventsim.kernels import egru as K


def random_layer(I, H, seed, *, width=1.0, gamma=0.7, surrogate="triangle", smooth_k=8.0, r_scale=0.6,
                 mask_density=None):
    """A layer with O(1) weights and thresholds spread over [0.02, 0.7], so that a sizeable fraction
    of units emits (events in both directions of every comparison)."""
    rng = np.random.default_rng(seed)
    cfg = EGRUConfig(gamma=gamma, width=width, surrogate=surrogate, smooth_k=smooth_k)
    params = {"W": rng.normal(0, 0.8, (I, 3 * H)), "R": rng.normal(0, r_scale, (H, 3 * H)),
              "b_x": rng.normal(0, 0.5, 3 * H), "b_r": rng.normal(0, 0.3, 3 * H),
              "thr": rng.uniform(0.02, 0.7, H)}
    mask = None if mask_density is None else rng.random((H, 3 * H)) < mask_density
    return EGRULayer(I, H, cfg, params=params, recurrent_mask=mask)


def random_state(B, H, seed):
    rng = np.random.default_rng(seed)
    y0 = rng.normal(0, 0.5, (B, H)) * (rng.random((B, H)) < 0.4)
    return y0, rng.normal(0, 0.3, (B, H)), rng.normal(0, 0.2, (B, H))


CASES = [  # (B, T, I, H, width, seed)
    (3, 7, 4, 6, 1.0, 0),
    (5, 11, 2, 9, 0.3, 1),
    (2, 4, 5, 17, 0.5, 2),
    (4, 1, 3, 5, 0.25, 3),
]


@pytest.mark.parametrize("B,T,I,H,width,seed", CASES)
def test_forward_matches_dense_reference(B, T, I, H, width, seed):
    layer = random_layer(I, H, seed, width=width)
    x = np.random.default_rng(seed + 10).normal(size=(B, T, I))
    st = random_state(B, H, seed + 20)
    run = layer.forward(x, st)
    ref = reference_forward(x, layer.params, st)
    assert np.abs(ref["v"]).min() > 1e-9  # no event decided by round-off
    assert 0.05 < run.activity < 0.95
    np.testing.assert_allclose(run.y, ref["y"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.trace, ref["trace"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.cache["c"][:, 1:], ref["c"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run.o, ref["o"] > 0)
    np.testing.assert_allclose(run.state[1], ref["c"][:, -1], atol=1e-12)
    np.testing.assert_allclose(run.state[2], ref["trace"][:, -1], atol=1e-12)
    # recurrent MACs: 3H per emitting unit of the previous step (y0 counts for step 0)
    ev = np.concatenate([(st[0] != 0)[:, None], ref["o"][:, :-1] > 0], axis=1).sum()
    assert run.rec_macs == ev * 3 * H
    np.testing.assert_array_equal(run.ev_cnt, (ref["o"] > 0).sum(axis=2))


def _grads_external(B, T, H, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, H)), rng.normal(size=(B, T, H)), rng.normal(size=(B, T, H))


@pytest.mark.parametrize("B,T,I,H,width,seed", CASES)
def test_sparse_backward_equals_dense_backward_exactly_and_reference(B, T, I, H, width, seed):
    layer = random_layer(I, H, seed, width=width)
    x = np.random.default_rng(seed + 10).normal(size=(B, T, I))
    st = random_state(B, H, seed + 20)
    run = layer.forward(x, st)
    dy, dtr, do = _grads_external(B, T, H, seed + 30)
    sp = layer.backward(run, dy, dtr, do, need_dx=True, need_dstate=True)
    de = layer.backward(run, dy, dtr, do, need_dx=True, need_dstate=True, dense=True)
    for k in sp.grads:
        np.testing.assert_array_equal(sp.grads[k], de.grads[k], err_msg=k)
    np.testing.assert_array_equal(sp.dx, de.dx)
    for a, b in zip(sp.dstate, de.dstate):
        np.testing.assert_array_equal(a, b)
    ref = reference_forward(x, layer.params, st)
    g = reference_backward(x, layer.params, ref, dy, dtr, do, gamma=0.7, width=width)
    for k in ("W", "R", "b_x", "b_r", "thr"):
        np.testing.assert_allclose(sp.grads[k], g[k], rtol=1e-11, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(sp.dx, g["x"], rtol=1e-11, atol=1e-12)
    for a, k in zip(sp.dstate, ("y0", "c0", "tr0")):
        np.testing.assert_allclose(a, g[k], rtol=1e-11, atol=1e-12, err_msg=k)
    # the sparse pass did strictly less work whenever some unit was far below threshold
    if T > 1 and np.any(ref["v"][:, :-1] <= -width):
        assert sp.rec_macs < de.rec_macs
        assert sp.back_fraction < 1.0
    # dR rows of units that never emitted (and were not in y0) are exactly zero
    silent = ~((ref["o"][:, :-1] > 0).any(axis=(0, 1)) | (st[0] != 0).any(axis=0))
    assert np.all(sp.grads["R"][silent] == 0)


def test_sigmoid_surrogate_matches_central_finite_differences():
    B, T, I, H, k = 2, 6, 3, 5, 8.0
    layer = random_layer(I, H, 11, surrogate="sigmoid", smooth_k=k)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, I))
    st = random_state(B, H, 4)
    wy, wtr, wo = _grads_external(B, T, H, 5)

    def loss(params, x, st):
        lay = EGRULayer(I, H, layer.config, params=params)
        r = lay.forward(x, st)
        o = 1.0 / (1.0 + np.exp(-k * r.cache["v"]))
        return float(np.sum(wy * r.y) + np.sum(wtr * r.trace) + np.sum(wo * o))

    run = layer.forward(x, st)
    assert np.all(run.ev_cnt == H)  # smooth stand-in: every unit "emits"
    g = layer.backward(run, wy, wtr, wo, need_dx=True, need_dstate=True)
    eps = 1e-6
    for name in ("W", "R", "b_x", "b_r", "thr"):
        p = {kk: v.copy() for kk, v in layer.params.items()}
        num = np.zeros_like(p[name])
        for ix in np.ndindex(p[name].shape):
            old = p[name][ix]
            p[name][ix] = old + eps
            lp = loss(p, x, st)
            p[name][ix] = old - eps
            lm = loss(p, x, st)
            p[name][ix] = old
            num[ix] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(g.grads[name], num, rtol=1e-5, atol=1e-7, err_msg=name)
    num = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[ix] += eps
        xm[ix] -= eps
        num[ix] = (loss(layer.params, xp, st) - loss(layer.params, xm, st)) / (2 * eps)
    np.testing.assert_allclose(g.dx, num, rtol=1e-5, atol=1e-7)
    for si in range(3):
        num = np.zeros((B, H))
        for ix in np.ndindex(B, H):
            sp = [s.copy() for s in st]
            sm = [s.copy() for s in st]
            sp[si][ix] += eps
            sm[si][ix] -= eps
            num[ix] = (loss(layer.params, x, tuple(sp)) - loss(layer.params, x, tuple(sm))) / (2 * eps)
        np.testing.assert_allclose(g.dstate[si], num, rtol=1e-5, atol=1e-7)


def test_block_size_does_not_change_results():
    B, T, I, H = 5, 6, 3, 8
    layer = random_layer(I, H, 21, width=0.4)
    x = np.random.default_rng(0).normal(size=(B, T, I))
    Ax = np.ascontiguousarray((x.reshape(B * T, I) @ layer.params["W"]).reshape(B, T, 3 * H) + layer.params["b_x"])
    z = np.zeros((B, H))
    outs = []
    for block in (1, 2, 5):
        Y, TR = np.empty((B, T, H)), np.empty((B, T, H))
        cache = [np.empty((B, T, H)) for _ in range(5)] + [np.empty((B, T + 1, H))]
        ev = np.empty((B, T), np.int32)
        last = [np.empty((B, H)) for _ in range(3)]
        nm = np.zeros(B, np.int64)
        K.egru_forward(Ax, layer.params["R"], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), False,
                       layer.params["b_r"], layer.params["thr"], 0.9, 0, 1.0, z, z, z, block, True, True, True,
                       Y, TR, *cache, ev, *last, nm)
        dP, dQ = np.empty((B, T, 3 * H)), np.empty((B, T, 3 * H))
        dthr = np.zeros((B, H))
        ds = [np.zeros((B, H)) for _ in range(3)]
        nb = np.zeros((B, T), np.int64)
        nmb = np.zeros(B, np.int64)
        K.egru_backward(layer.params["R"], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), False,
                        layer.params["thr"], 0.9, 0, 1.0, 0.7, 0.4, False, True, block, *cache, np.ones((B, T, H)),
                        True, np.ones((B, T, H)), False, np.zeros((0, 0, 0)), dP, dQ, dthr, *ds, nb, nmb)
        outs.append([Y, TR, ev, dP, dQ, dthr] + ds)
    for o in outs[1:]:
        for a, b in zip(outs[0], o):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ limits
def test_no_events_when_thresholds_are_high():
    layer = EGRULayer(3, 7, seed=0)
    layer.params["thr"][:] = 1.0  # |c^| < 1 always: nothing can cross
    x = np.random.default_rng(0).normal(size=(4, 9, 3))
    run = layer.forward(x)
    assert run.activity == 0 and np.all(run.y == 0) and run.rec_macs == 0
    g = layer.backward(run, np.ones_like(run.y), need_dx=True)
    assert np.all(g.grads["R"] == 0)
    # errors still flow through the internal state only via the pseudo-derivative (near threshold)
    assert np.isfinite(g.grads["W"]).all()


def test_every_unit_fires_when_threshold_is_zero_and_state_positive():
    layer = EGRULayer(2, 6, seed=1)
    layer.params["thr"][:] = 0.0
    layer.params["b_x"][4 * 6 // 2 * 0 + 12:] = 5.0  # g ~ tanh(5) > 0 for every unit
    layer.params["b_x"][:6] = -5.0  # z ~ 0: c^ ~ g > 0
    run = layer.forward(np.zeros((2, 5, 2)))
    assert run.activity == 1.0
    np.testing.assert_allclose(run.y, np.tanh(5 + 0 * run.y), atol=0.05)


def test_zero_input_zero_state_needs_no_recurrent_work_at_first_step():
    layer = EGRULayer(2, 5, seed=2)
    layer.params["thr"][:] = 1.0
    run = layer.forward(np.zeros((3, 4, 2)))
    # with zero input and zero biases: z = r = 1/2, g = 0, c stays 0, no events, no work at all
    assert run.rec_macs == 0 and np.all(run.cache["c"] == 0) and np.all(run.cache["z"] == 0.5)


def test_float32_forward_agrees_with_float64():
    layer = random_layer(4, 16, 31, width=0.5)
    l32 = EGRULayer(4, 16, layer.config, params=layer.params, dtype="float32")
    x = np.random.default_rng(0).normal(size=(3, 10, 4))
    r64 = layer.forward(x)
    r32 = l32.forward(x)
    assert r32.y.dtype == np.float32
    ref = reference_forward(x, layer.params)
    close = np.abs(ref["v"]) > 1e-4  # away from threshold the events must agree
    np.testing.assert_array_equal(r32.o[close], r64.o[close])
    np.testing.assert_allclose(r32.trace, r64.trace, atol=1e-4)


# ------------------------------------------------------------------ stacks, classifier, training
def test_training_reduces_loss_on_row_digits():
    from eventsim.egru import fit, tasks

    X, y = tasks.digits_sequences("train", "row")
    X, y = X[:300], y[:300]
    model = EGRUClassifier(8, 64, 10, seed=0)
    l0 = model.evaluate(X, y)["loss"]
    hist = fit(model, X, y, epochs=5, batch_size=32, lr=1e-2, clip=1.0)
    l1 = model.evaluate(X, y)
    assert l1["loss"] < 0.8 * l0
    assert l1["accuracy"] > 0.35  # chance is 0.1
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert np.all((model.egru.layers[0].params["thr"] >= 0) & (model.egru.layers[0].params["thr"] <= 1))


def test_save_load_roundtrip(tmp_path):
    model = EGRUClassifier(3, [6, 4], 2, seed=5, readout="mean",
                           recurrent_masks=[np.random.default_rng(0).random((6, 18)) < 0.5, None])
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    path = tmp_path / "m.h5"
    model.save(path)
    m2 = EGRUClassifier.load(path)
    np.testing.assert_array_equal(model.forward(x)[0], m2.forward(x)[0])
    np.testing.assert_array_equal(m2.egru.layers[0].masks["R"], model.egru.layers[0].masks["R"])
    assert m2.egru.layers[1].masks["R"] is None


def test_from_ntt_result_uses_masks_and_weights():
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    I, H, C = 2, 5, 3
    masks = {"W": rng.random((I, 3 * H)) < 0.7, "R": rng.random((H, 3 * H)) < 0.2, "W_out": np.ones((C, H), bool)}
    params = {"W": rng.normal(size=(I, 3 * H)) * masks["W"], "R": rng.normal(size=(H, 3 * H)) * masks["R"],
              "b_x": rng.normal(size=3 * H), "b_r": rng.normal(size=3 * H), "thr": rng.uniform(0, 1, H),
              "W_out": rng.normal(size=(C, H)), "b_out": rng.normal(size=C)}
    res = SimpleNamespace(twin_spec={"kind": "gru", "n_in": I, "n_hidden": H, "n_out": C, "n_steps": 4,
                                     "gamma": 0.5, "width": 0.8, "thr_mean": 0.3, "trace_decay": 0.9},
                          params=params, masks=masks)
    model = EGRUClassifier.from_ntt(res)
    lay = model.egru.layers[0]
    assert lay.config.gamma == 0.5 and lay.config.width == 0.8
    np.testing.assert_array_equal(lay.params["R"], params["R"])
    np.testing.assert_array_equal(lay.masks["R"], masks["R"])
    x = rng.normal(size=(3, 4, I))
    loss, grads, _ = model.loss_and_grad(x, np.array([0, 1, 2]))
    assert np.all(grads["l0.R"][~masks["R"]] == 0) and np.all(grads["l0.W"][~masks["W"]] == 0)
    with pytest.raises(ValueError, match="kind"):
        EGRUClassifier.from_ntt(SimpleNamespace(twin_spec={"kind": "mlp"}, params={}, masks={}))


def test_from_ntt_drops_masks_that_keep_everything():
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    I, H, C = 2, 4, 3
    masks = {"W": np.ones((I, 3 * H), bool), "R": rng.random((H, 3 * H)) < 0.5}
    params = {"W": rng.normal(size=(I, 3 * H)), "R": rng.normal(size=(H, 3 * H)) * masks["R"],
              "b_x": np.zeros(3 * H), "b_r": np.zeros(3 * H), "thr": np.full(H, 0.3),
              "W_out": rng.normal(size=(C, H)), "b_out": np.zeros(C)}
    res = SimpleNamespace(twin_spec={"kind": "gru", "n_in": I, "n_hidden": H, "n_out": C, "n_steps": 3},
                          params=params, masks=masks)
    lay = EGRUClassifier.from_ntt(res).egru.layers[0]
    assert lay.masks["W"] is None and np.array_equal(lay.masks["R"], masks["R"])


def test_recipe_trains_a_given_model_and_keeps_its_masks():
    from eventsim.models.egru_digits import train

    rng = np.random.default_rng(2)
    model = EGRUClassifier(8, 16, 10, seed=3)
    mask = rng.random((16, 48)) < 0.1
    model.egru.layers[0].set_mask("R", mask)
    metrics, trained = train("row", seed=0, progress=False, model=model, epochs=2, hidden=999)
    assert trained is model  # trained in place; the recipe's hidden size does not rebuild it
    R = trained.egru.layers[0].params["R"]
    assert np.all(R[~mask] == 0) and np.count_nonzero(R[mask]) == mask.sum()
    assert len(metrics["history"]["val_acc"]) == 2
    with pytest.raises(ValueError, match="8 inputs"):
        train("row", seed=0, progress=False, model=EGRUClassifier(3, 16, 10), epochs=1)


def test_task_generators():
    from eventsim.egru import tasks

    X, y = tasks.delayed_xor(200, 24, seed=1)
    assert X.shape == (200, 24, 3) and set(np.unique(y)) == {0, 1}
    for n in range(200):
        t = np.flatnonzero(X[n, :, 1])
        assert len(t) == 2 and t[0] < 6 <= t[1] < 12
        assert y[n] == int((X[n, t[0], 0] > 0) != (X[n, t[1], 0] > 0))
    assert np.all(X[:, -1, 2] == 1) and np.all(X[:, :-1, 2] == 0)
    X, y = tasks.adding_problem(50, 10, seed=2)
    for n in range(50):
        t = np.flatnonzero(X[n, :, 1])
        assert len(t) == 2 and abs(y[n] - X[n, t, 0].sum()) < 1e-15
    Xp, _ = tasks.digits_sequences("test", "pixel")
    Xr, _ = tasks.digits_sequences("test", "row")
    n = len(Xp)
    assert n > 300 and Xp.shape == (n, 64, 1) and Xr.shape == (n, 8, 8)
    np.testing.assert_array_equal(Xp.reshape(n, 64), Xr.reshape(n, 64))


# ------------------------------------------------------------------ validation
def test_bad_inputs_raise_clear_errors():
    layer = EGRULayer(3, 4, seed=0)
    with pytest.raises(ValueError, match="shape"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="3 features"):
        layer.forward(np.zeros((2, 5, 4)))
    x = np.zeros((2, 5, 3))
    x[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        layer.forward(x)
    with pytest.raises(ValueError, match="state y0"):
        layer.forward(np.zeros((2, 5, 3)), (np.zeros((3, 4)), np.zeros((2, 4)), np.zeros((2, 4))))
    layer.params["thr"][2] = 1.5
    with pytest.raises(ValueError, match=r"thr.*\[0, 1\].*unit 2"):
        layer.forward(np.zeros((2, 5, 3)))
    layer.params["thr"][2] = -0.1
    with pytest.raises(ValueError, match="thr"):
        layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="thr"):
        EGRULayer(2, 3, params={"W": np.zeros((2, 9)), "R": np.zeros((3, 9)), "b_x": np.zeros(9),
                                "b_r": np.zeros(9), "thr": np.array([0.2, np.nan, 0.1])})
    with pytest.raises(ValueError, match="params\\['R'\\] must have shape"):
        EGRULayer(2, 3, params={"W": np.zeros((2, 9)), "R": np.zeros((3, 3)), "b_x": np.zeros(9),
                                "b_r": np.zeros(9), "thr": np.zeros(3)})
    with pytest.raises(ValueError, match="mask for R"):
        EGRULayer(2, 3, recurrent_mask=np.ones((3, 3), bool))
    for kw, pat in [({"thr_mean": 1.0}, "thr_mean"), ({"gamma": 0}, "gamma"), ({"width": -1}, "width"),
                    ({"trace_decay": 1.0}, "trace_decay"), ({"surrogate": "box"}, "surrogate"),
                    ({"width": float("nan")}, "width")]:
        with pytest.raises(ValueError, match=pat):
            EGRUConfig(**kw)
    with pytest.raises(ValueError, match="hidden_size"):
        EGRULayer(2, 0)
    with pytest.raises(ValueError, match="dtype"):
        EGRULayer(2, 3, dtype="int32")
    model = EGRUClassifier(3, 4, 2, seed=0)
    with pytest.raises(ValueError, match="labels must lie"):
        model.loss_and_grad(np.zeros((2, 5, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="readout"):
        EGRUClassifier(3, 4, 2, readout="max")
    run = layer
    layer.params["thr"][2] = 0.5
    r = run.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="dy must have shape"):
        layer.backward(r, np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="store=True"):
        layer.backward(layer.forward(np.zeros((2, 5, 3)), store=False))
    with pytest.raises(ValueError, match="hidden_size"):
        EGRU(3, [4, 0])


def test_fit_weight_decay_equals_adamw_on_weights():
    """fit(weight_decay=wd) with frozen thresholds equals fit with eventsim's AdamW (itself checked
    against torch.optim.AdamW in test_train.py) over the same parameters; thresholds never decay."""
    from eventsim.egru import fit
    from eventsim.optim import Adam

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5, 3))
    y = rng.integers(0, 2, 24)
    a = EGRUClassifier(3, 6, 2, seed=1)
    b = EGRUClassifier(3, 6, 2, seed=1)
    thr0 = {k: v.copy() for k, v in a.params.items() if k.endswith(".thr")}
    fit(a, X, y, epochs=2, batch_size=8, lr=1e-2, clip=None, weight_decay=0.3, train_thresholds=False)
    opt = Adam({k: v for k, v in b.params.items() if not k.endswith(".thr")}, lr=1e-2, weight_decay=0.3)
    fit(b, X, y, epochs=2, batch_size=8, clip=None, optimizer=opt, train_thresholds=False)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-12, atol=1e-14)
    for k, v in thr0.items():
        np.testing.assert_array_equal(a.params[k], v)
    c = EGRUClassifier(3, 6, 2, seed=1)
    fit(c, X, y, epochs=2, batch_size=8, lr=1e-2, clip=None, train_thresholds=False)
    assert not np.allclose(c.params[[k for k in c.params if not k.endswith(".thr")][0]],
                           a.params[[k for k in a.params if not k.endswith(".thr")][0]])
    with pytest.raises(ValueError, match="weight_decay"):
        fit(c, X, y, epochs=1, weight_decay=-1.0)


def test_egru_learns_the_adding_problem_with_few_events():
    """Long-memory regression: a small EGRU trained by sparse BPTT brings the adding-problem MSE
    (T = 12) far below the trivial 1/6, while emitting events in well under half of the unit-steps."""
    from eventsim.models.egru_digits import ADDING_BASELINE_MSE, train_long_memory

    m = train_long_memory("egru", task="adding", seed=0, progress=False, n_steps=12, n_train=2000, n_test=500,
                          hidden=24, epochs=8, lr=1e-2, decay_every=4)
    assert m["test_mse"] < 0.15 * ADDING_BASELINE_MSE
    assert 0.0 < m["test_activity"] < 0.5
    with pytest.raises(ValueError, match="task"):
        train_long_memory("egru", task="copy")


def test_fit_augment_is_applied_reproducible_and_checked():
    """An identity augmentation leaves training unchanged (its generator is separate from the
    shuffling); a real one changes it, reproducibly from the seed; a wrong shape is an error."""
    from eventsim.egru import fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5, 3))
    y = rng.integers(0, 2, 24)
    noisy = lambda xb, r: xb + 0.3 * r.normal(size=xb.shape)  # noqa: E731
    runs = {}
    for name, aug in [("none", None), ("identity", lambda xb, r: xb), ("noisy", noisy), ("noisy2", noisy)]:
        m = EGRUClassifier(3, 6, 2, seed=1)
        fit(m, X, y, epochs=2, batch_size=8, lr=1e-2, seed=4, augment=aug)
        runs[name] = m.params
    for k in runs["none"]:
        np.testing.assert_array_equal(runs["identity"][k], runs["none"][k])
        np.testing.assert_array_equal(runs["noisy"][k], runs["noisy2"][k])
    assert any(not np.allclose(runs["noisy"][k], runs["none"][k]) for k in runs["none"])
    with pytest.raises(ValueError, match="augment"):
        fit(EGRUClassifier(3, 6, 2, seed=1), X, y, epochs=1, augment=lambda xb, r: xb[:, :2])
    with pytest.raises(ValueError, match="augment"):
        fit(EGRUClassifier(3, 6, 2, seed=1), X, y, epochs=1, augment=3)


def test_fit_history_has_the_shared_keys_and_the_earlier_names():
    """EGRU's history: the shared loop's keys, sample-weighted epoch means (checked against the
    per-batch losses recorded by a wrapper around loss_and_grad), and the earlier names as aliases."""
    from eventsim.egru import fit
    from eventsim.training_loop import HISTORY_KEYS

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5, 3))
    y = rng.integers(0, 2, 20)
    m = EGRUClassifier(3, 6, 2, seed=1)
    seen = []
    orig = m.loss_and_grad

    def spy(xb, yb, **kw):
        out = orig(xb, yb, **kw)
        seen.append((len(xb), out[0], out[2]["accuracy"]))
        return out

    m.loss_and_grad = spy
    h = fit(m, X, y, epochs=2, batch_size=8, lr=1e-2, X_val=X[:6], y_val=y[:6])
    assert set(HISTORY_KEYS) <= set(h) and all(len(h[k]) == 2 for k in HISTORY_KEYS)
    first = seen[:3]  # batches of 8, 8, 4
    assert [b for b, _, _ in first] == [8, 8, 4]
    assert h["loss"][0] == pytest.approx(sum(b * l for b, l, _ in first) / 20, rel=1e-12)
    assert h["acc"][0] == pytest.approx(sum(b * a for b, _, a in first) / 20, rel=1e-12)
    assert h["train_loss"] == h["loss"] and h["train_acc"] == h["acc"] and h["epoch"] == [1, 2]
    assert len(h["val_activity"]) == 2 and h["time"][1] >= h["time"][0]
    h2 = fit(EGRUClassifier(3, 6, 2, seed=1), X, y, epochs=1)
    assert h2["val_loss"] == [] and h2["val_acc"] == []  # empty without validation data
    from eventsim.optim import Adam

    m3 = EGRUClassifier(3, 6, 2, seed=1)
    with pytest.raises(ValueError, match="weight_decay applies to the default Adam"):
        fit(m3, X, y, epochs=1, optimizer=Adam(m3.params), weight_decay=0.1)
