"""Training robustness: labels and arguments are refused up front with a ValueError naming them, a
silent first-spike read-out costs log(n) with a SilentOutputWarning (never the best value), and a
checkpoint records what it was made with and refuses a resume with other data or settings."""
import json
import math
import warnings

import h5py
import numpy as np
import pytest

import eventsim as es
from eventsim.data import yin_yang_spikes
from eventsim.eventprop import value_and_grad
from eventsim.losses import FirstSpikeCE, MaxVoltageCE, SilentOutputWarning, SilentPeakReg, SpikeCountReg, check_labels
from eventsim.train import (PROVENANCE_KEYS, CheckpointWarning, accuracy, data_fingerprint, evaluate, fit,
                            load_checkpoint)
from test_eventprop_fd import check_gradients, random_batch

T_MAX = 60.0


def _tiny(seed=1, n=8, hidden=20):
    inp, y = yin_yang_spikes("train", size=n)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network.feedforward([5, hidden, 3], params=p, seed=seed, init=[(1.5, 0.78), (0.93, 0.1)])
    return net, inp, y


@pytest.fixture(autouse=True)
def _quiet_silent_outputs():
    """The tiny networks have silent outputs on some samples; the warning is tested on its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentOutputWarning)
        yield


# ------------------------------------------------------------------------------------------ labels
BAD_LABELS = [
    ([0, 1, "2", 0, 1, 2, 0, 1], r"labels mix element types \(int, str\).*'2' at index 2"),
    (np.array([0, 1, "2", 0, 1, 2, 0, 1], dtype=object), r"labels mix element types \(int, str\)"),
    (np.array(["0", "1", "2", "0", "1", "2", "0", "1"]), "labels must be integer class indices, got strings"),
    (np.array([0, 1, 2, 0, 1, 2, 0, 1.5]), "non-integer value 1.5 at index 7"),
    ([0, 1, 2, 0, 1, 2, 0, float("nan")], "labels contain NaN"),
    (np.zeros(8), r"integer array, got dtype float64.*astype\(int\)"),
    (np.array([0, 1, 2, 0, 1, 2, 0, -1]), "labels must be >= 0.*-1 at index 7"),
    (np.array([0, 1, 2, 0, 1, 2, 0, 3]), r"labels must be in \[0, 3\).*3 at index 7"),
    (np.array([0, 1, 2]), "labels: 3 entries for 8 samples"),
    (np.zeros((8, 1), int), r"labels must have shape \(8,\)"),
    (np.ones(8, bool), "labels must be integer class indices, got booleans"),
    (None, "labels are required"),
    ("01201201", "labels must be a sequence"),
]


@pytest.mark.parametrize("labels, msg", BAD_LABELS)
def test_bad_labels_are_refused_everywhere_they_enter(labels, msg):
    net, inp, _ = _tiny()
    with pytest.raises(ValueError, match=msg):
        fit(net, inp, labels, FirstSpikeCE(), T_MAX, epochs=1, progress=False)
    with pytest.raises(ValueError, match=msg):
        evaluate(net, inp, labels, FirstSpikeCE(), T_MAX)
    with pytest.raises(ValueError, match=msg):
        accuracy(net, inp, labels, FirstSpikeCE(), T_MAX)
    with pytest.raises(ValueError, match=msg):
        value_and_grad(net, inp, labels, FirstSpikeCE(), T_MAX)
    with pytest.raises(ValueError, match=msg):
        check_labels(labels, 8, 3)


def test_val_labels_are_checked_and_named():
    net, inp, y = _tiny()
    val_in, _ = yin_yang_spikes("val", size=4)
    with pytest.raises(ValueError, match=r"val labels must be in \[0, 3\)"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, val=(val_in, [0, 1, 2, 5]), progress=False)
    with pytest.raises(ValueError, match=r"val labels mix element types"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, val=(val_in, [0, "a", 2, 1]), progress=False)


def test_the_label_range_is_the_population_of_the_predicting_loss():
    """Labels are checked against the size of the population each label-reading loss reads; a
    regulariser on a larger population does not widen it."""
    net, inp, y = _tiny()
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        fit(net, inp, np.full(8, 5), [FirstSpikeCE(), SpikeCountReg("hidden")], T_MAX, epochs=1, progress=False)


def test_equivalent_label_containers_give_the_same_result():
    net, inp, y = _tiny()
    ref = evaluate(net, inp, y.astype(np.int64), FirstSpikeCE(), T_MAX)
    for lab in (y.tolist(), y.astype(np.int32), y.astype(np.uint8), np.array(y.tolist(), dtype=object),
                [np.int16(v) for v in y]):
        assert evaluate(net, inp, lab, FirstSpikeCE(), T_MAX) == ref
    np.testing.assert_array_equal(check_labels(y.astype(np.uint16), 8, 3), y)


# ---------------------------------------------------------------------------- training arguments
@pytest.mark.parametrize("kw, msg", [
    ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
    ({"epochs": -2}, "epochs must be an integer >= 1, got -2"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5"),
    ({"lr": float("nan")}, "lr must be positive and finite, got nan"),
    ({"lr": "0.01"}, "lr must be a positive number, got '0.01'"),
    ({"lr_decay": float("nan")}, r"lr_decay must be in \(0, 1\], got nan"),
    ({"lr_decay": "0.9"}, r"lr_decay must be a number in \(0, 1\], got '0.9'"),
    ({"eval_batch_size": 0}, "eval_batch_size must be an integer >= 1, got 0"),
    ({"grad_clip": float("nan")}, "grad_clip must be a positive number or None, got nan"),
    ({"seed": 1.0}, "seed must be an integer >= 0, got 1.0"),
])
def test_bad_training_arguments_name_parameter_and_value(kw, msg):
    net, inp, y = _tiny()
    with pytest.raises(ValueError, match=msg):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, progress=False, **{"epochs": 1, **kw})


def test_empty_data_is_refused():
    net, inp, y = _tiny()
    with pytest.raises(ValueError, match="inputs has no samples"):
        fit(net, inp.subset([]), y[:0], FirstSpikeCE(), T_MAX, epochs=1, progress=False)
    with pytest.raises(ValueError, match="inputs has no samples"):
        evaluate(net, inp.subset([]), y[:0], FirstSpikeCE(), T_MAX)
    with pytest.raises(ValueError, match="val inputs have no samples"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, val=(inp.subset([]), y[:0]), progress=False)


def test_optimiser_arguments_are_checked_by_value():
    from eventsim.optim import SGD, Adam, ExponentialDecay

    p = {"w": np.zeros(3)}
    for call, msg in ((lambda: ExponentialDecay("0.1", 0.9), "lr0"), (lambda: ExponentialDecay(0.1, "0.9"), "gamma"),
                      (lambda: ExponentialDecay(0.1, 0.9, every=0), "every"), (lambda: Adam(p, lr="1e-3"), "lr"),
                      (lambda: Adam(p, betas=0.9), "betas"), (lambda: Adam(p, eps=float("nan")), "eps"),
                      (lambda: SGD(p, momentum="0.5"), "momentum")):
        with pytest.raises(ValueError, match=msg):
            call()


def test_batch_larger_than_the_data_is_one_batch_of_all_samples():
    net_a, inp, y = _tiny()
    net_b, _, _ = _tiny()
    fit(net_a, inp, y, FirstSpikeCE(), T_MAX, epochs=2, batch_size=100, progress=False)
    fit(net_b, inp, y, FirstSpikeCE(), T_MAX, epochs=2, batch_size=inp.n_samples, progress=False)
    for k, w in net_a.parameters().items():
        np.testing.assert_array_equal(w, net_b.parameters()[k])


# ---------------------------------------------------------------------------- silent read-out
def _silent_net():
    """2 inputs -> 3 LIF outputs; output 2 never fires; outputs 0 and 1 fire only for input 0."""
    net = es.Network()
    net.add_input("in", 2)
    net.add_population("out", 3, es.LIFParams(tau_mem=20.0, tau_syn=5.0))
    net.connect("in", "out", np.array([[12.0, 0.2], [10.0, 0.1], [0.3, 0.3]]))
    batch = es.SpikeBatch.from_lists([[(1.0, 0)], [(1.0, 1)], [(2.0, 0), (3.0, 1)], [(1.5, 1)]], 2)
    return net, batch


def test_an_all_silent_read_out_costs_log_n_and_warns_once():
    net, _ = _silent_net()
    batch = es.SpikeBatch.from_lists([[(1.0, 1)], [(2.0, 1)]], 2)  # input 1 makes no output fire
    res = es.simulate(net, batch, 40.0)
    assert not np.isfinite(res.first_spike_times("out")).any()
    loss = FirstSpikeCE()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        value, parts = loss.value_and_parts(res, np.array([0, 2]))
    silent = [x for x in w if issubclass(x.category, SilentOutputWarning)]
    assert len(silent) == 1 and issubclass(SilentOutputWarning, UserWarning)
    assert silent[0].message.n_silent == 2 and silent[0].message.n_samples == 2
    assert "2 of 2 samples had a silent output" in str(silent[0].message)
    assert value == pytest.approx(math.log(3), rel=1e-14)  # a uniform guess, not the best value 0
    assert not np.any(parts.first_spike_grad)
    L, g = value_and_grad(net, batch, np.array([0, 2]), loss, 40.0)
    assert L == pytest.approx(math.log(3), rel=1e-14) and not np.any(g["in->out"])
    # the phantom policy now pushes the label neuron of a silent output: G = (1 - 1/3) / tau0
    _, parts = FirstSpikeCE(silent="phantom").value_and_parts(res, np.array([0, 2]))
    np.testing.assert_allclose(parts.phantom_grad[[0, 1], [0, 2]], (1 - 1 / 3) / 0.5 / 2, rtol=1e-14)
    # SilentPeakReg on the read-out gives the exact push towards firing
    _, g = value_and_grad(net, batch, np.array([0, 2]), [loss, SilentPeakReg("out", scope="sample")], 40.0)
    from_1 = net.projections["in->out"].pre_indices() == 1
    assert from_1.sum() == 3 and np.all(g["in->out"][from_1] < 0)  # weights from input 1 (the active one) go up


def test_a_batch_with_silent_outputs_counts_them_and_keeps_firing_samples_as_before():
    net, batch = _silent_net()
    res = es.simulate(net, batch, 40.0)
    t = res.first_spike_times("out")
    silent = ~np.isfinite(t).any(axis=1)
    assert silent.tolist() == [False, True, False, True]
    labels = np.array([1, 0, 0, 2])
    loss = FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2)
    with pytest.warns(SilentOutputWarning, match="2 of 4 samples had a silent output") as rec:
        value = loss.value(res, labels)
    assert len([x for x in rec if issubclass(x.category, SilentOutputWarning)]) == 1
    # firing samples: the reference value (silent neurons left out of the softmax) + the regulariser
    per = []
    for b in (0, 2):
        f = np.isfinite(t[b])
        z = -t[b][f] / loss.tau0
        lse = np.log(np.sum(np.exp(z - z.max()))) + z.max()
        per.append(lse + t[b][labels[b]] / loss.tau0 + loss.alpha * np.expm1(t[b][labels[b]] / loss.tau1))
    assert value == pytest.approx((sum(per) + 2 * math.log(3)) / 4, rel=1e-13)


def test_silent_output_gradient_matches_finite_differences():
    """Samples with a silent output are flat (log 3, no gradient); the others keep their exact
    gradient: EventProp equals finite differences on a batch that mixes both."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    for seed in range(30):
        rng = np.random.default_rng(seed)
        net = es.Network()
        net.add_input("in", 4)
        net.add_population("hidden", 6, p)
        net.add_population("out", 3, p)
        net.connect("in", "hidden", rng.normal(0.5, 0.25, (6, 4)) / peak)
        net.connect("hidden", "out", rng.normal(0.15, 0.15, (3, 6)) / peak)
        batch = random_batch(rng, 4, 6, 4, 10.0)
        t = es.simulate(net, batch, 60.0).first_spike_times("out")
        fires = np.isfinite(t).any(axis=1)
        if 2 <= fires.sum() <= 4:
            break
    else:  # pragma: no cover
        raise AssertionError("no configuration with both silent and firing outputs")
    labels = np.array([rng.choice(np.flatnonzero(np.isfinite(r))) if f else rng.integers(0, 3)
                       for r, f in zip(t, fires)])
    loss = FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2)
    worst, g = check_gradients(net, batch, labels, loss, 60.0, tag="silent outputs")
    assert worst < 1e-6 and any(np.any(v) for v in g.values())
    # the silent samples alone: value log 3 and zero gradient
    sub = np.flatnonzero(~fires)
    L, gs = value_and_grad(net, batch.subset(sub), labels[sub], loss, 60.0)
    assert L == pytest.approx(math.log(3), rel=1e-14) and not any(np.any(v) for v in gs.values())


def test_a_trained_network_beats_the_silent_value():
    net, inp, y = _tiny(seed=0, n=96, hidden=100)
    loss = FirstSpikeCE()
    fit(net, inp, y, loss, 100.0, epochs=40, batch_size=16, lr=1e-2, seed=0, progress=False)
    trained, acc = evaluate(net, inp, y, loss, 100.0)
    assert trained < 0.7 * math.log(3) and acc > 0.7
    for k, w in net.parameters().items():  # all silent: no output spike at all
        if k.endswith("->out"):
            w[...] = 0.0
    silent, acc0 = evaluate(net, inp, y, loss, 100.0)
    assert silent == pytest.approx(math.log(3), rel=1e-14) and acc0 == 0.0 and trained < silent


def test_voltage_losses_do_not_warn():
    net = es.Network.feedforward([2, 2], params=[es.LIFParams.readout()], seed=0)
    res = es.simulate(net, es.SpikeBatch.from_lists([[]], 2), 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentOutputWarning)
        MaxVoltageCE().value(res, np.array([0]))


# -------------------------------------------------------------------------- checkpoint provenance
def _first_run(tmp_path, **kw):
    net, inp, y = _tiny(n=16)
    ck = tmp_path / "ck.h5"
    base = dict(epochs=1, batch_size=8, seed=2, lr=5e-3, checkpoint=ck, progress=False)
    fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, **kw})
    return ck, inp, y, base


def _shift_one_spike(inp):
    t = inp.times.copy()
    t[3] += 1e-9
    return es.SpikeBatch(t, inp.ids, inp.offsets, inp.n_neurons)


def test_checkpoint_records_its_provenance(tmp_path, capsys):
    val = yin_yang_spikes("val", size=8)
    ck, inp, y, _ = _first_run(tmp_path, val=val, grad_clip=1.0)
    c = load_checkpoint(ck)["config"]
    assert set(PROVENANCE_KEYS) <= set(c)
    assert c["data_sha256"] == data_fingerprint(inp, y) and c["val_sha256"] == data_fingerprint(*val)
    assert (c["batch_size"], c["seed"], c["t_max"], c["n_samples"], c["grad_clip"]) == (8, 2, T_MAX, 16, 1.0)
    assert c["loss"] == [{"class": "FirstSpikeCE", "population": "out", "tau0": 0.5, "tau1": 6.4, "alpha": 3e-3,
                          "silent": "none"}]
    assert c["optimizer"] == {"class": "Adam", "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    assert (c["lr"], c["lr_decay"], c["augment"], c["resumed_with_mismatch"]) == (5e-3, 0.95, None, [])
    from eventsim.cli import main

    assert main(["info", str(ck)]) == 0
    out = capsys.readouterr().out
    assert f"SHA-256 {c['data_sha256']}" in out and f"SHA-256 {c['val_sha256']}" in out
    assert "batch_size 8, seed 2, t_max 60 ms" in out and "FirstSpikeCE(population=\"out\", tau0=0.5" in out
    assert "optimiser: Adam(b1=0.9" in out


def test_data_fingerprint_sees_every_change_and_no_dtype():
    _, inp, y = _tiny(n=16)
    fp = data_fingerprint(inp, y)
    assert fp == data_fingerprint(inp, y.astype(np.int32)) and len(fp) == 64
    other = y.copy()
    other[5] = (other[5] + 1) % 3
    assert data_fingerprint(inp, other) != fp
    assert data_fingerprint(_shift_one_spike(inp), y) != fp
    assert data_fingerprint(inp.subset(np.r_[1, 0, 2:16]), y[np.r_[1, 0, 2:16]]) != fp  # sample order


@pytest.mark.parametrize("change, field", [
    ("labels", "data_sha256"), ("spike", "data_sha256"), ({"batch_size": 4}, "batch_size"), ({"seed": 3}, "seed"),
    ({"t_max": 50.0}, "t_max"), ({"lr": 1e-2}, "lr"), ({"lr_decay": 0.9}, "lr_decay"),
    ({"grad_clip": 0.5}, "grad_clip"), ({"loss": FirstSpikeCE(tau0=1.0)}, "loss"),
    ({"augment": lambda b, rng: b}, "augment"),
])
def test_resume_refuses_other_data_or_settings(tmp_path, change, field):
    ck, inp, y, base = _first_run(tmp_path)
    kw = {**base, "epochs": 2, "resume": True}
    loss = FirstSpikeCE()
    if change == "labels":
        y = (y + 1) % 3
    elif change == "spike":
        inp = _shift_one_spike(inp)
    else:
        loss = change.pop("loss", loss)
        kw.update(change)
    recorded = load_checkpoint(ck)["config"][field]
    net, _, _ = _tiny(n=16)
    with pytest.raises(ValueError, match=rf"{field}: checkpoint .*this run .*allow_mismatch=True") as e:
        fit(net, inp, y, loss, kw.pop("t_max", T_MAX), **kw)
    assert json.dumps(recorded) in str(e.value)
    assert load_checkpoint(ck)["epoch"] == 1  # nothing trained, nothing written


def test_resume_names_every_differing_field_and_allow_mismatch_records_them(tmp_path):
    ck, inp, y, base = _first_run(tmp_path)
    net, _, _ = _tiny(n=16)
    kw = {**base, "epochs": 2, "resume": True, "batch_size": 4, "seed": 5}
    with pytest.raises(ValueError) as e:
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **kw)
    assert "batch_size: checkpoint 8, this run 4" in str(e.value) and "seed: checkpoint 2, this run 5" in str(e.value)
    with pytest.warns(CheckpointWarning, match="batch_size: checkpoint 8, this run 4"):
        h = fit(net, inp, y, FirstSpikeCE(), T_MAX, allow_mismatch=True, **kw)
    assert len(h["loss"]) == 2
    c = load_checkpoint(ck)
    assert c["epoch"] == 2 and c["config"]["batch_size"] == 4
    assert c["config"]["resumed_with_mismatch"] == [{"epoch": 1, "fields": {"batch_size": [8, 4], "seed": [2, 5]}}]
    # the next resume compares with the settings of the resumed run, and keeps the record
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**kw, "epochs": 3})
    assert load_checkpoint(ck)["config"]["resumed_with_mismatch"][0]["fields"]["seed"] == [2, 5]
    assert "resumed at epoch 1 with other batch_size (was 8, now 4)" in "\n".join(
        es.train.describe_checkpoint(load_checkpoint(ck)))


def test_resume_with_the_same_settings_is_silent_and_validation_may_be_left_out(tmp_path):
    val = yin_yang_spikes("val", size=8)
    ck, inp, y, base = _first_run(tmp_path, val=val)
    net, _, _ = _tiny(n=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 2, "resume": True, "val": val})
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 2, "resume": True})  # no val: allowed
    other_val = yin_yang_spikes("val", size=9)
    other_val = (other_val[0].subset(range(1, 9)), other_val[1][1:])
    with pytest.raises(ValueError, match="val_sha256: checkpoint"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 3, "resume": True, "val": other_val})
    with pytest.raises(ValueError, match="epochs is the total .* has completed 2 already, got epochs=1"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 1, "resume": True})


def test_optimizer_objects_record_their_schedule(tmp_path):
    from eventsim.optim import Adam, ExponentialDecay

    net, inp, y = _tiny(n=16)
    ck = tmp_path / "ck.h5"
    opt = Adam(net.parameters(), lr=ExponentialDecay(1e-2, 0.9, every=2), weight_decay=0.01)
    fit(net, inp, y, FirstSpikeCE(), T_MAX, optimizer=opt, epochs=1, batch_size=8, checkpoint=ck, progress=False)
    c = load_checkpoint(ck)["config"]
    assert c["optimizer"]["lr"] == {"ExponentialDecay": {"lr0": 1e-2, "gamma": 0.9, "every": 2}}
    assert c["optimizer"]["weight_decay"] == 0.01 and c["lr"] is None and c["lr_decay"] is None
    opt2 = Adam(net.parameters(), lr=ExponentialDecay(1e-2, 0.9, every=2), weight_decay=0.02)
    with pytest.raises(ValueError, match=r"optimizer: checkpoint .*\"weight_decay\": 0.01.*\"weight_decay\": 0.02"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, optimizer=opt2, epochs=2, batch_size=8, checkpoint=ck, resume=True,
            progress=False)


def test_an_old_checkpoint_is_resumed_with_a_warning_and_its_fields_compared(tmp_path):
    """A checkpoint written before the provenance was recorded (its config: lr, lr_decay,
    batch_size, seed, grad_clip, t_max, n_samples) resumes with a CheckpointWarning naming the
    fields it lacks; the fields it has are still compared."""
    ck, inp, y, base = _first_run(tmp_path)
    with h5py.File(ck, "r+") as f:
        f.attrs["config"] = json.dumps({"lr": 5e-3, "lr_decay": 0.95, "batch_size": 8, "seed": 2, "grad_clip": None,
                                        "t_max": T_MAX, "n_samples": 16})
    assert "no fingerprint" in "\n".join(es.train.describe_checkpoint(load_checkpoint(ck)))
    net, _, _ = _tiny(n=16)
    with pytest.raises(ValueError, match="batch_size: checkpoint 8, this run 4"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 2, "resume": True, "batch_size": 4})
    with pytest.warns(CheckpointWarning, match="does not record data_sha256, val_sha256, loss, optimizer, augment"):
        h = fit(net, inp, y, FirstSpikeCE(), T_MAX, **{**base, "epochs": 2, "resume": True})
    assert len(h["loss"]) == 2 and load_checkpoint(ck)["config"]["data_sha256"] == data_fingerprint(inp, y)


def test_cli_resume_refuses_a_mismatch_unless_allowed(tmp_path, capsys):
    from eventsim.cli import build_parser, main

    args = build_parser().parse_args(["train", "yinyang", "--resume", "--allow-mismatch"])
    assert args.allow_mismatch and args.resume
    assert not build_parser().parse_args(["train", "digits"]).allow_mismatch
    common = ["train", "yinyang", "--hidden", "10", "--out", str(tmp_path), "--no-progress"]
    assert main(common + ["--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(common + ["--epochs", "2", "--resume", "--batch-size", "64"]) == 2
    err = capsys.readouterr().err
    assert "batch_size: checkpoint 32, this run 64" in err and "--allow-mismatch" in err
    with pytest.warns(CheckpointWarning, match="batch_size"):
        assert main(common + ["--epochs", "2", "--resume", "--batch-size", "64", "--allow-mismatch"]) == 0
    assert load_checkpoint(tmp_path / "checkpoint.h5")["epoch"] == 2
