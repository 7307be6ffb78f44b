"""The LIF operating point of ``benchmarks/ntt_lif.py`` (``calibrate``): the output gain rules.

``--out-gain answered`` takes the gain at which the spiking outputs answer on as many calibration samples as
the dense network's; ``capped`` takes that gain but never above the one that matches the dense network's RMS
summed input weight per output neuron; ``neuron`` one gain per output neuron, capped the same way. These
tests hold the rules to their definitions on a small Yin-Yang network, with the RMS-match gain recomputed
here from the weights (an oracle that does not go through ``calibrate``)."""
import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent


def _ntt_lif():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location("ntt_lif", ROOT / "benchmarks" / "ntt_lif.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
        sys.path.remove(str(ROOT))


@pytest.fixture(scope="module")
def setup():
    from eventsim.ntt import prune_baseline

    ntt_lif = _ntt_lif()
    task = ntt_lif.Task("yinyang", hidden=40)
    (tr, _), _, _ = task.splits
    res = prune_baseline("random", task.twin(), 0.3, seed=0, keep_dense=("W0",))
    return ntt_lif, task, res, task.dense(0), tr.subset(np.arange(60))


def _with_output_sign(res, sign: float):
    """``res`` with every kept hidden->out weight made ``sign`` * |w| (the mask unchanged)."""
    params = dict(res.params, W1=sign * np.abs(res.params["W1"]))
    return dataclasses.replace(res, params=params, masks=dict(res.masks))


def _rms_gain(dense, res) -> float:
    Wd = dense.projections["hidden->out"].to_dense()
    W1 = res.params["W1"]
    return float(np.sqrt(np.mean((Wd ** 2).sum(axis=1))) / np.sqrt(np.mean((W1 ** 2).sum(axis=1))))


def test_capped_gain_binds_when_no_output_neuron_can_be_driven(setup):
    ntt_lif, task, res, dense, calib = setup
    inhibitory = _with_output_sign(res, -1.0)  # no output can ever fire: 'answered' runs to its bracket's top
    _, s_ans, _, info = ntt_lif.calibrate(task, inhibitory, dense, calib, task.rec.T_MAX, out_gain="answered")
    _, s_cap, _, info_cap = ntt_lif.calibrate(task, inhibitory, dense, calib, task.rec.T_MAX, out_gain="capped")
    assert s_ans == pytest.approx(info["gain_out_answered"]) and s_ans > 9e3  # 10**4 is the bisection's top
    assert info["gain_out_rms"] == pytest.approx(_rms_gain(dense, inhibitory), rel=1e-12)
    assert s_cap == pytest.approx(_rms_gain(dense, inhibitory), rel=1e-12)
    assert info_cap["gain_out_answered"] == pytest.approx(s_ans)  # the candidate is still recorded


def test_capped_gain_is_the_answering_gain_when_that_is_lower(setup):
    ntt_lif, task, res, dense, calib = setup
    from eventsim.ntt import prune_baseline

    # all excitatory and dense: the summed drive grows as sqrt(synapses) at a fixed RMS, so answering is cheap
    dense_twin = prune_baseline("random", task.twin(), 1.0, seed=0, keep_dense=("W0",))
    excitatory = _with_output_sign(dense_twin, 1.0)
    _, s_ans, _, _ = ntt_lif.calibrate(task, excitatory, dense, calib, task.rec.T_MAX, out_gain="answered")
    _, s_cap, _, info = ntt_lif.calibrate(task, excitatory, dense, calib, task.rec.T_MAX, out_gain="capped")
    assert s_ans < _rms_gain(dense, excitatory)  # the cap does not bind here ...
    assert s_cap == pytest.approx(s_ans)  # ... so the rule leaves the answering gain alone
    assert s_cap == pytest.approx(min(info["gain_out_answered"], info["gain_out_rms"]))


def test_calibrate_names_a_bad_output_rule(setup):
    ntt_lif, task, res, dense, calib = setup
    with pytest.raises(ValueError, match=r"out_gain must be one of \('answered', 'capped', 'neuron'\), got 'rms'"):
        ntt_lif.calibrate(task, res, dense, calib, task.rec.T_MAX, out_gain="rms")


def test_one_gain_per_output_neuron_brackets_each_neurons_firing_goal_or_stops_at_the_cap(setup):
    """``out_gain="neuron"``: neuron 0 made purely inhibitory can never fire, so its gain stops at the cap;
    the others' gains are where their firing fraction crosses the dense network's (at most 0.95)."""
    import eventsim as es
    from eventsim.ntt import prune_baseline

    ntt_lif, task, _, dense, calib = setup
    res = prune_baseline("random", task.twin(), 1.0, seed=1, keep_dense=("W0",))
    W1 = np.abs(res.params["W1"])
    W1[0] *= -1.0
    res = dataclasses.replace(res, params=dict(res.params, W1=W1), masks=dict(res.masks))
    s_h, s_o, _, info = ntt_lif.calibrate(task, res, dense, calib, task.rec.T_MAX, out_gain="neuron")
    cap = _rms_gain(dense, res)
    assert s_o.shape == (3,) and s_o[0] == pytest.approx(cap, rel=1e-12) and info["gain_out_answered"][0] > 9e3

    def fires(gains):
        r = es.simulate(task.build_sparse(res, s_h, gains), calib, task.rec.T_MAX, progress=False)
        return (r.counts("out") > 0).mean(axis=0)

    goal = np.minimum(0.95, (es.simulate(dense, calib, task.rec.T_MAX, progress=False).counts("out") > 0).mean(axis=0))
    below, above = fires(s_o * 0.99), fires(s_o * 1.01)
    for j in (1, 2):
        assert s_o[j] < cap  # each reaches its goal below the cap here ...
        assert below[j] < goal[j] <= above[j]  # ... and its gain is where the fraction crosses it
    assert s_o[1] != pytest.approx(s_o[2], rel=1e-3)  # one gain per neuron, not one for the layer


@pytest.mark.parametrize("summary", [[], ["--summary"]])
def test_the_script_refuses_an_output_rule_for_read_outs_that_do_not_spike(tmp_path, summary):
    with pytest.raises(ValueError, match="--out-gain capped applies to spiking outputs"):
        _ntt_lif().main(["--task", "digits", "--out-gain", "capped", "--results", str(tmp_path), *summary])
    assert not list(tmp_path.iterdir())  # refused before any work: no table written


def test_rows_name_the_output_gain_rule_that_applied(setup):
    """Digits read-outs always take the RMS-match gain, so their rows say ``rms`` whatever the default option
    says; Yin-Yang rows say the rule given; the dense network, which is not calibrated, has none."""
    ntt_lif = setup[0]

    def row(argv, method):
        args = ntt_lif.build_parser().parse_args(argv)
        return ntt_lif.row_config(args, ntt_lif.resolve(args), method, 0.05 if method != "dense" else 1.0, 0)

    assert row(["--task", "digits"], "ntt")["out_gain"] == "rms"
    assert row(["--task", "yinyang", "--out-gain", "capped"], "random")["out_gain"] == "capped"
    assert row(["--task", "yinyang", "--out-gain", "capped"], "dense")["out_gain"] is None
