"""The recipes a sweep can name, and how a recipe name becomes the function a worker calls.

A recipe is a function ``run(**settings) -> dict of figures`` (accuracies, losses, seconds): one
training with the given settings. The sweep configuration names it as a registered name
(``RECIPES``) or as ``"package.module:function"``. The functions are imported on the worker, when
the run starts: recipes live in ``eventsim.models`` (above the core), and importing
``eventsim.distributed`` imports none of them.
"""
from __future__ import annotations

import importlib
import time
from typing import Callable, Dict, Optional, Union

#: registered recipe names -> "module:function"
RECIPES: Dict[str, str] = {
    "yinyang": "eventsim.distributed.recipes:yinyang",
    "randman": "eventsim.distributed.recipes:randman",
}

Recipe = Union[str, Callable[..., Dict]]


def recipe_name(recipe: Recipe) -> str:
    """The name recorded in the table: the registered name, ``module:function``, or for a function
    its ``module:qualname``."""
    if callable(recipe):
        return f"{recipe.__module__}:{recipe.__qualname__}"
    if not isinstance(recipe, str) or not recipe:
        raise ValueError(f"recipe must be a registered name ({', '.join(RECIPES)}), 'module:function' "
                         f"or a function, got {recipe!r}")
    if recipe not in RECIPES and ":" not in recipe:
        raise ValueError(f"recipe {recipe!r} is not registered (have {', '.join(RECIPES)}); "
                         "name a function as 'package.module:function'")
    return recipe


def resolve(recipe: Recipe) -> Callable[..., Dict]:
    """The function behind a recipe name (imported here)."""
    if callable(recipe):
        return recipe
    target = RECIPES.get(recipe_name(recipe), recipe)
    module, _, func = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module), func)
    except AttributeError:
        raise ValueError(f"recipe {recipe!r}: module {module!r} has no function {func!r}") from None
    if not callable(fn):
        raise ValueError(f"recipe {recipe!r}: {target} is not a function")
    return fn


def yinyang(seed: int = 0, epochs: int = 10, hidden: Optional[int] = None, lr: Optional[float] = None,
            lr_decay: Optional[float] = None, batch_size: Optional[int] = None, t_max: Optional[float] = None,
            n_train: Optional[int] = None, n_val: Optional[int] = None, n_test: Optional[int] = None) -> Dict:
    """One Yin-Yang training (``eventsim.models.yinyang``: network, encoding, loss, defaults), the
    last epoch's weights kept.

    Settings: ``seed`` (weights and shuffling), ``epochs``, ``hidden`` (LIF neurons), ``lr``,
    ``lr_decay`` (per epoch), ``batch_size``, ``t_max`` (ms), and ``n_train`` / ``n_val`` / ``n_test``
    (use only the first samples of each reference split; default all). Figures: ``train_loss``,
    ``train_acc`` (last epoch), ``val_loss``, ``val_acc``, ``best_val_acc``, ``test_loss``,
    ``test_acc``, ``train_s`` (training wall time, s).
    """
    import numpy as np

    from ..train import evaluate, fit
    from ..models import yinyang as yy

    (tr, y), (va, yv), (te, yt) = yy.data()

    def first(batch, labels, n):
        if n is None:
            return batch, labels
        idx = np.arange(min(int(n), batch.n_samples))
        return batch.subset(idx), labels[idx]

    tr, y = first(tr, y, n_train)
    va, yv = first(va, yv, n_val)
    te, yt = first(te, yt, n_test)
    net = yy.build(seed, yy.HIDDEN if hidden is None else hidden)
    t_max = yy.T_MAX if t_max is None else t_max
    loss = yy.loss()
    t0 = time.perf_counter()
    hist = fit(net, tr, y, loss, t_max, epochs=epochs, seed=seed, lr=yy.LR if lr is None else lr,
               lr_decay=yy.LR_DECAY if lr_decay is None else lr_decay,
               batch_size=yy.BATCH if batch_size is None else batch_size, val=(va, yv), progress=False)
    train_s = time.perf_counter() - t0
    test_loss, test_acc = evaluate(net, te, yt, loss, t_max)
    return {"train_loss": hist["loss"][-1], "train_acc": hist["acc"][-1], "val_loss": hist["val_loss"][-1],
            "val_acc": hist["val_acc"][-1], "best_val_acc": max(hist["val_acc"]), "test_loss": test_loss,
            "test_acc": test_acc, "train_s": train_s}


def randman(data: str = "randman", **settings) -> Dict:
    """One training of the Randman recipe (``eventsim.models.randman``: a recurrent LIF network with
    learned delays, max-voltage read-outs, the best-validation epoch's weights and delays kept).

    Settings: any field of ``eventsim.models.randman.Settings`` (``seed``, ``epochs``, ``hidden``,
    ``lr``, ``delay_max``, ``learn_delays``, ``delay_lr``, ``samples_per_class``, ...; a two-element
    list for ``w_in``), and ``data`` (``"randman"`` or ``"shd:PATH"``, a path on the workers).
    Unknown settings raise ValueError naming them. Figures: ``test_acc``, ``test_loss``,
    ``best_val_acc``, ``best_epoch``, ``train_acc_last``, ``train_samples_per_s``, ``train_s``
    (training wall time, s).
    """
    import dataclasses

    from ..models import randman as rm

    fields = {f.name for f in dataclasses.fields(rm.Settings)}
    unknown = sorted(k for k in settings if k not in fields)
    if unknown:
        raise ValueError(f"randman: unknown settings {unknown} (have {sorted(fields)} and 'data')")
    if "w_in" in settings:
        settings["w_in"] = tuple(settings["w_in"])
    m = rm.train(rm.Settings(**settings), None, data=data, progress=False)
    keep = ("test_acc", "test_loss", "best_val_acc", "best_epoch", "train_acc_last", "train_samples_per_s")
    return {**{k: m[k] for k in keep}, "train_s": m["wall_s"]}
