"""The `eventsim train` command end to end (one short epoch) and the files it writes."""
import json

import eventsim as es
from eventsim.cli import main


def test_train_yinyang_one_epoch_writes_network_and_plots(tmp_path, capsys):
    rc = main(["train", "yinyang", "--epochs", "1", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # one epoch of EventProp already separates the classes well above chance (1/3)
    assert m["test_acc"] > 0.6
    net = es.load(tmp_path / "yinyang_net.h5")
    assert [p.size for p in net.populations.values()] == [5, 200, 3]
    for f in ("yinyang_curves.png", "yinyang_raster.png", "checkpoint.h5"):
        assert (tmp_path / f).stat().st_size > 1000


def test_recipe_run_keeps_the_selected_weights():
    """``select='last'`` ends with the last epoch's weights, ``'best'`` with the best-validation
    epoch's; both runs follow the same trajectory, so the last-epoch test figures agree."""
    import numpy as np

    from eventsim.data import yin_yang
    from eventsim.models import yinyang as yy
    from eventsim.models.eventprop_run import run

    def split(name, n):
        X, y = yin_yang(name, size=n)
        return yy.encode(X), y

    splits = (split("train", 96), split("val", 64), split("test", 64))
    out = {}
    for sel in ("last", "best"):
        net = yy.build(0, hidden=20)
        out[sel] = (run("yy", net, splits, yy.loss(), yy.T_MAX, epochs=4, seed=0, batch_size=16, lr=2e-2,
                        progress=False, select=sel), net)
    m_last, net_last = out["last"]
    m_best, net_best = out["best"]
    assert m_last["selected_weights"] == "last" and m_best["selected_weights"] == "best"
    assert m_last["test_acc"] == m_last["test_acc_last_epoch"] == m_best["test_acc_last_epoch"]
    assert m_last["best_epoch"] == m_best["best_epoch"]
    _, acc_best = es.train.evaluate(net_best, *splits[2], yy.loss(), yy.T_MAX)
    assert acc_best == m_best["test_acc"]
    if m_best["best_epoch"] != 4:  # the best epoch is not the last: the kept weights must differ
        assert any(not np.array_equal(a, b) for a, b in zip(net_last.parameters().values(),
                                                             net_best.parameters().values()))


def test_digits_augmenter_decodes_distorts_and_reencodes():
    """The recipe's augmentation equals encoding the distorted images directly (oracle:
    random_affine_images on the pixel arrays, then the recipe's encoder); zero amplitudes and
    'none' leave the batch unchanged / switch it off; the CLI parser rejects bad values."""
    import argparse

    import numpy as np
    import pytest

    from eventsim.data import digits_arrays, random_affine_images
    from eventsim.models import digits as dg

    X, _ = digits_arrays("test")
    X = X[:30]
    batch = dg.encode(X)
    out = dg.augmenter((8.0, 0.1, 0.4))(batch, np.random.default_rng(2))
    ref = dg.encode(random_affine_images(np.where(X > 0.05, X, 0.0), (8, 8), np.random.default_rng(2), 8.0, 0.1, 0.4))
    assert np.array_equal(out.offsets, ref.offsets) and np.array_equal(out.ids, ref.ids)
    np.testing.assert_allclose(out.times, ref.times, rtol=0, atol=1e-12)
    assert out.times.size != batch.times.size or not np.allclose(out.times, batch.times)
    same = dg.augmenter((0, 0, 0))(batch, np.random.default_rng(0))
    assert np.array_equal(same.ids, batch.ids)
    np.testing.assert_allclose(same.times, batch.times, rtol=0, atol=1e-12)
    assert dg.augmenter(None) is None and dg.augmenter(dg.augment_arg("none")) is None
    assert dg.augment_arg("5,0.05,0.3") == (5.0, 0.05, 0.3)
    for bad in ("5,0.05", "a,b,c", "-1,0,0"):
        with pytest.raises(argparse.ArgumentTypeError, match="ROT,SCALE,SHIFT"):
            dg.augment_arg(bad)
