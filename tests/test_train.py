"""The training loop: it descends, it is deterministic, checkpoints resume bit for bit, bad input raises."""
import numpy as np
import pytest

import eventsim as es
from eventsim.data import drop_spikes, yin_yang_spikes
from eventsim.losses import FirstSpikeCE, SpikeCountReg
from eventsim.optim import SGD, Adam
from eventsim.train import evaluate, fit, load_checkpoint, predict

T_MAX = 60.0


def _tiny(seed=1, n=64):
    inp, y = yin_yang_spikes("train", size=n)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network.feedforward([5, 20, 3], params=p, seed=seed, init=[(1.5, 0.78), (0.93, 0.1)])
    return net, inp, y


def test_one_full_batch_step_is_value_and_grad_plus_adam():
    """fit with batch_size = n and one epoch is exactly: gradient on the (shuffled) set, one Adam step."""
    net, inp, y = _tiny()
    ref = net.copy()
    fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, batch_size=inp.n_samples, lr=1e-2, seed=0, progress=False)
    order = np.random.Generator(np.random.PCG64(0)).permutation(inp.n_samples)
    _, g = es.eventprop.value_and_grad(ref, inp.subset(order), y[order], FirstSpikeCE(), T_MAX)
    opt = Adam(ref.parameters(), lr=1e-2)
    opt.step(g)
    for k, w in net.parameters().items():
        np.testing.assert_array_equal(w, ref.parameters()[k])


def test_training_reduces_loss_and_is_deterministic():
    net, inp, y = _tiny()
    loss = FirstSpikeCE()
    l0, a0 = evaluate(net, inp, y, loss, T_MAX)
    h = fit(net, inp, y, loss, T_MAX, epochs=5, batch_size=16, lr=1e-2, seed=3, progress=False)
    l1, a1 = evaluate(net, inp, y, loss, T_MAX)
    assert l1 < 0.8 * l0 and a1 > a0
    assert len(h["loss"]) == 5 and h["lr"][0] == pytest.approx(1e-2) and h["lr"][1] == pytest.approx(0.95e-2)
    net2, _, _ = _tiny()
    h2 = fit(net2, inp, y, loss, T_MAX, epochs=5, batch_size=16, lr=1e-2, seed=3, progress=False)
    assert h["loss"] == h2["loss"] and h["acc"] == h2["acc"]
    for k, w in net.parameters().items():
        np.testing.assert_array_equal(w, net2.parameters()[k])
    # another shuffling seed gives another trajectory
    net3, _, _ = _tiny()
    fit(net3, inp, y, loss, T_MAX, epochs=1, batch_size=16, lr=1e-2, seed=4, progress=False)
    net4, _, _ = _tiny()
    fit(net4, inp, y, loss, T_MAX, epochs=1, batch_size=16, lr=1e-2, seed=3, progress=False)
    assert not np.array_equal(net3.parameters()["hidden->out"], net4.parameters()["hidden->out"])
    pred = predict(net, inp, loss, T_MAX)
    np.testing.assert_array_equal(pred, loss.predict(es.simulate(net, inp, T_MAX)))
    assert np.mean(pred == y) == a1


def _jitter(batch, rng):
    """A test augmentation that draws from the training RNG but keeps every spike (the tiny net
    goes silent without some of its 5 inputs)."""
    t = np.abs(batch.times + rng.normal(0.0, 0.5, batch.times.size))
    return es.SpikeBatch(t, batch.ids, batch.offsets, batch.n_neurons, sort=True)


@pytest.mark.parametrize("optimizer, augment", [("adam", _jitter), ("sgd", None)])
def test_checkpoint_resume_is_exact(tmp_path, optimizer, augment):
    """3 epochs == 1 epoch + resume + 2 epochs, bit for bit (weights, optimiser, shuffling and
    augmentation RNG, best-epoch selection, history)."""
    loss = [FirstSpikeCE(), SpikeCountReg("hidden", target=2.0, strength=1e-4)]
    kw = dict(batch_size=24, seed=7, progress=False, optimizer=optimizer, lr=5e-3, augment=augment)
    net_a, inp, y = _tiny()
    val = yin_yang_spikes("val", size=32)
    ha = fit(net_a, inp, y, loss, T_MAX, epochs=3, val=val, restore_best=True, **kw)
    ck = tmp_path / "ck.h5"
    net_b, _, _ = _tiny()
    fit(net_b, inp, y, loss, T_MAX, epochs=1, checkpoint=ck, val=val, restore_best=True, **kw)
    net_c, _, _ = _tiny(seed=99)  # other weights: everything must come from the checkpoint
    hc = fit(net_c, inp, y, loss, T_MAX, epochs=3, checkpoint=ck, resume=True, val=val, restore_best=True, **kw)
    for k, w in net_a.parameters().items():
        np.testing.assert_array_equal(w, net_c.parameters()[k])
    for key in ("loss", "acc", "val_loss", "val_acc", "lr", "best_epoch"):
        assert ha[key] == hc[key], key
    c = load_checkpoint(ck)
    assert c["epoch"] == 3 and len(c["history"]["loss"]) == 3
    assert c["optimizer"] == {"adam": "Adam", "sgd": "SGD"}[optimizer]
    assert c["rng_state"]["bit_generator"] == "PCG64" and c["config"]["batch_size"] == 24
    # resuming a finished run trains nothing: the weights are the checkpoint's (last epoch)
    h = fit(net_c, inp, y, loss, T_MAX, epochs=3, checkpoint=ck, resume=True, **{**kw, "progress": True})
    assert h["loss"] == c["history"]["loss"] and load_checkpoint(ck)["epoch"] == 3
    for k, w in c["network"].parameters().items():
        np.testing.assert_array_equal(net_c.parameters()[k], w)


def test_restore_best_callbacks_and_optimizer_object(tmp_path):
    net, inp, y = _tiny()
    val = yin_yang_spikes("val", size=48)
    seen = []

    def stop_after_two(epoch, hist):
        seen.append((epoch, len(hist["val_acc"])))
        return epoch == 1

    opt = SGD(net.parameters(), lr=0.05, momentum=0.5)
    h = fit(net, inp, y, FirstSpikeCE(), T_MAX, optimizer=opt, epochs=10, batch_size=32, val=val,
            restore_best=True, callbacks=[stop_after_two], progress=False)
    assert seen == [(0, 1), (1, 2)] and len(h["loss"]) == 2 and opt.step_count == 4
    best = int(h["best_epoch"][0])
    assert h["val_acc"][best] == max(h["val_acc"])
    assert evaluate(net, val[0], val[1], FirstSpikeCE(), T_MAX)[1] == pytest.approx(max(h["val_acc"]))


def test_drop_spikes_and_augmented_training():
    _, inp, y = _tiny(n=200)
    rng = np.random.default_rng(0)
    d = drop_spikes(inp, 0.3, rng)
    assert d.n_samples == inp.n_samples and d.n_neurons == inp.n_neurons
    assert abs(d.n_spikes / inp.n_spikes - 0.7) < 0.05
    # every kept spike is one of the sample's spikes (same time and neuron)
    for s in range(0, 200, 37):
        kept = set(zip(*(a.tolist() for a in d.sample(s))))
        assert kept <= set(zip(*(a.tolist() for a in inp.sample(s))))
    assert drop_spikes(inp, 0.0, rng) == inp
    with pytest.raises(ValueError, match="p"):
        drop_spikes(inp, 1.0, rng)
    # the augmented training run is reproducible from its seed and differs from the plain one
    ws = []
    for aug in (_jitter, _jitter, None):
        net, inp8, y8 = _tiny(n=48)
        fit(net, inp8, y8, FirstSpikeCE(), T_MAX, epochs=1, batch_size=16, seed=2, augment=aug, progress=False)
        ws.append(net.parameters()["in->hidden"].copy())
    np.testing.assert_array_equal(ws[0], ws[1])
    assert not np.array_equal(ws[0], ws[2])


def test_plots_write_pngs(tmp_path):
    from eventsim.plots import raster, training_curves

    net, inp, y = _tiny()
    h = {"loss": [1.0, 0.5], "acc": [0.5, 0.7], "val_loss": [1.1, 0.6], "val_acc": [0.4, 0.6]}
    training_curves(h, tmp_path / "c.png", "t")
    res = es.simulate(net, inp.subset([0]), T_MAX)
    raster(res, ["hidden", "out"], tmp_path / "r.png", 0, "r", label=int(y[0]))
    for f in ("c.png", "r.png"):
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kw, name", [
    ({"labels": np.zeros(5, int)}, "labels"),
    ({"labels": np.zeros(64)}, "labels"),
    ({"inputs": np.zeros((64, 5))}, "inputs"),
    ({"t_max": -1.0}, "t_max"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"seed": -3}, "seed"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr_decay": 1.5}, "lr_decay"),
    ({"grad_clip": -1.0}, "grad_clip"),
    ({"resume": True}, "checkpoint"),
    ({"checkpoint": "/nonexistent/dir/ck.h5"}, "checkpoint"),
    ({"restore_best": True}, "val"),
    ({"val": (None, None)}, "val"),
    ({"callbacks": [3]}, "callbacks"),
    ({"augment": 0.2}, "augment"),
    ({"loss": FirstSpikeCE(population="nope")}, "nope"),
])
def test_fit_rejects_bad_input(kw, name):
    net, inp, y = _tiny(n=8)
    args = {"inputs": inp, "labels": y, "loss": FirstSpikeCE(), "t_max": T_MAX}
    for k in list(args):
        if k in kw:
            args[k] = kw.pop(k)
    with pytest.raises(ValueError, match=name):
        fit(net, args["inputs"], args["labels"], args["loss"], args["t_max"], progress=False, **{"epochs": 1, **kw})


def test_resume_rejects_a_mismatched_checkpoint(tmp_path):
    net, inp, y = _tiny(n=8)
    ck = tmp_path / "ck.h5"
    fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, checkpoint=ck, progress=False)
    other = es.Network.feedforward([5, 7, 3], seed=0)
    with pytest.raises(ValueError, match="shape"):
        fit(other, inp, y, FirstSpikeCE(), T_MAX, epochs=2, checkpoint=ck, resume=True, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=2, checkpoint=ck, resume=True, optimizer="sgd",
            progress=False)
    es.Network.feedforward([5, 3], seed=0).save(tmp_path / "net.h5")
    with pytest.raises(ValueError, match="format"):
        load_checkpoint(tmp_path / "net.h5")


def test_adam_weight_decay_equals_torch_adamw():
    """Decoupled weight decay: 20 steps on random gradients equal torch.optim.AdamW (float64)."""
    torch = pytest.importorskip("torch")

    from eventsim.optim import Adam

    rng = np.random.default_rng(5)
    p0 = rng.normal(size=(4, 3))
    grads = rng.normal(size=(20, 4, 3))
    p = {"w": p0.copy()}
    opt = Adam(p, lr=1e-2, weight_decay=0.1)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.AdamW([tp], lr=1e-2, weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8)
    for g in grads:
        opt.step({"w": g})
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(p["w"], tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="weight_decay"):
        Adam({"w": p0.copy()}, weight_decay=-1.0)


def test_grad_norm_history_and_a_checkpoint_without_it(tmp_path):
    """history["grad_norm"] of a full-batch epoch is the L2 norm of value_and_grad's gradient at the
    starting weights (before clipping); resuming a checkpoint written without that key fills its
    completed epochs with NaN."""
    import h5py

    net, inp, y = _tiny()
    ref = net.copy()
    ck = tmp_path / "ck.h5"
    h = fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, batch_size=inp.n_samples, lr=1e-2, seed=0,
            grad_clip=1e-3, checkpoint=ck, progress=False)
    order = np.random.Generator(np.random.PCG64(0)).permutation(inp.n_samples)
    _, g = es.eventprop.value_and_grad(ref, inp.subset(order), y[order], FirstSpikeCE(), T_MAX)
    norm = np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in g.values()))
    assert norm > 1e-3  # so the clip did act, after the norm was recorded
    assert h["grad_norm"] == [pytest.approx(norm, rel=1e-12)]
    assert load_checkpoint(ck)["history"]["grad_norm"] == h["grad_norm"]
    with h5py.File(ck, "a") as f:
        del f["history/grad_norm"]
    h2 = fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=2, batch_size=inp.n_samples, lr=1e-2, seed=0,
             grad_clip=1e-3, checkpoint=ck, resume=True, progress=False)
    assert np.isnan(h2["grad_norm"][0]) and np.isfinite(h2["grad_norm"][1]) and h2["loss"][0] == h["loss"][0]
