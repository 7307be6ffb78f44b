"""eventsim.optim against torch.optim, step by step: Adam, AdamW with and without a decay mask."""
import numpy as np
import pytest

from eventsim.optim import Adam, AdamW, ExponentialDecay, decay_mask

torch = pytest.importorskip("torch")

SHAPES = {"w": (4, 3), "b": (3,), "thr": (3,)}


def _run_pair(make_ours, make_torch_groups, steps=25, lr=1e-2, seed=7):
    """Run our optimiser and torch's on the same random gradient sequence; compare after every step."""
    rng = np.random.default_rng(seed)
    p0 = {k: rng.normal(size=s) for k, s in SHAPES.items()}
    ours = {k: v.copy() for k, v in p0.items()}
    opt = make_ours(ours)
    tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in p0.items()}
    topt = make_torch_groups(tp)
    for _ in range(steps):
        g = {k: rng.normal(size=s) for k, s in SHAPES.items()}
        opt.step(g)
        for k in tp:
            tp[k].grad = torch.tensor(g[k])
        topt.step()
        for k in ours:
            np.testing.assert_allclose(ours[k], tp[k].detach().numpy(), rtol=1e-12, atol=1e-14)
    return p0, ours


def test_adam_equals_torch_adam_every_step():
    _run_pair(lambda p: Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-7),
              lambda tp: torch.optim.Adam(tp.values(), lr=1e-2, betas=(0.8, 0.99), eps=1e-7))


def test_adamw_without_mask_equals_torch_adamw_every_step():
    _run_pair(lambda p: AdamW(p, lr=1e-2, weight_decay=0.2),
              lambda tp: torch.optim.AdamW(tp.values(), lr=1e-2, weight_decay=0.2))


@pytest.mark.parametrize("mask", [{"w": True, "b": True, "thr": False}, lambda k: k != "thr"])
def test_masked_adamw_equals_torch_param_groups_every_step(mask):
    """A mask (dict or callable) equals torch.optim.AdamW with the unmasked parameters in a group
    of weight_decay 0; the masked-out parameter moves exactly as under plain Adam."""
    p0, ours = _run_pair(lambda p: Adam(p, lr=1e-2, weight_decay=0.3, mask=mask),
                         lambda tp: torch.optim.AdamW([{"params": [tp["w"], tp["b"]]},
                                                       {"params": [tp["thr"]], "weight_decay": 0.0}],
                                                      lr=1e-2, weight_decay=0.3))
    _, plain = _run_pair(lambda p: Adam(p, lr=1e-2),
                         lambda tp: torch.optim.Adam(tp.values(), lr=1e-2))
    np.testing.assert_array_equal(ours["thr"], plain["thr"])
    assert not np.allclose(ours["w"], plain["w"])


def test_masked_adamw_with_a_schedule_equals_torch_with_the_same_lr_per_step():
    """Decay uses the step's scheduled learning rate, as torch does when lr is changed before a step."""
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(5,))
    sched = ExponentialDecay(0.05, 0.5, every=3)
    ours = {"w": p0.copy()}
    opt = AdamW(ours, lr=sched, weight_decay=0.5, mask={"w": True})
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.AdamW([tp], lr=0.05, weight_decay=0.5)
    for k in range(10):
        for grp in topt.param_groups:
            grp["lr"] = sched(k)
        g = rng.normal(size=5)
        opt.step({"w": g})
        tp.grad = torch.tensor(g)
        topt.step()
        np.testing.assert_allclose(ours["w"], tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_mask_is_checked_and_round_trips_through_state_dict():
    p = {"w": np.zeros(2), "thr": np.zeros(2)}
    assert decay_mask(p, None) == {"w", "thr"}
    assert decay_mask(p, lambda k: k == "w") == {"w"}
    with pytest.raises(ValueError, match=r"missing \['thr'\], unknown \['x'\]"):
        Adam(p, weight_decay=0.1, mask={"w": True, "x": False})
    with pytest.raises(ValueError, match=r"mask\['thr'\] must be a bool, got 1"):
        Adam(p, weight_decay=0.1, mask={"w": True, "thr": np.int64(1)})
    with pytest.raises(ValueError, match="mask must be None"):
        Adam(p, weight_decay=0.1, mask=["w"])
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0, got -1.0"):
        AdamW(p, weight_decay=-1.0)
    a = AdamW({"w": np.ones(2), "thr": np.ones(2)}, lr=0.1, mask={"w": True, "thr": False})
    a.step({"w": np.ones(2), "thr": np.ones(2)})
    b = AdamW({"w": a.params["w"].copy(), "thr": a.params["thr"].copy()}, lr=0.1, mask={"w": True, "thr": False})
    b.load_state_dict(a.state_dict())
    g = {"w": np.full(2, -0.5), "thr": np.full(2, 2.0)}
    a.step(g)
    b.step(g)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
