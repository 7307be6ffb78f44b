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
