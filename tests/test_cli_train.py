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
    from models import yinyang as yy
    from models.eventprop_run import run

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
