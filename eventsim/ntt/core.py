"""The Neural Tangent Transfer optimisation loop (Liu & Zenke, ICML 2020), for a twin.

Teacher: the dense twin at its initialisation ``twin.init_params(seed)``, never trained.
Student: the same parameters W with a layer-wise magnitude mask m (top-k of |W| per weight tensor,
k = max(1, round_half_up(d * n)), see ``masks``); the network sees W~ = m * W. For T steps, on an
unlabelled batch x of 2B inputs split into x1 = x[:B] and x2 = x[B:]::

    L = lambda_K * mean((Theta_s(x1, x2) - Theta_t(x1, x2))^2)      over n1 * n2 * C * C entries
      + mean((f_s(x) - f_t(x))^2)                                    over 2B * C logits
      + (lambda_2 / d) * sum_layers ||m * W||^2                      weights only, no biases

Theta = empirical NTK on the logits (``ntk``; teacher: dense, computed under ``torch.no_grad``;
student: ``variant`` 'all' (default: every entry of m * W, as the reference code) or 'active'
(kept weights only)). One Adam step (torch defaults, betas
(0.9, 0.999), eps 1e-8) on W and the biases per batch. Because the loss sees only m * W, the
gradient at pruned positions is exactly 0; pruned entries keep their underlying values, so a
mask update can bring them back. After step s (1-based) the mask is recomputed as the layer-wise
top-k of |W| whenever ``s % mask_every == 0`` and ``s <= steps - mask_every`` (no update in the
last ``mask_every`` steps). The result holds m * W and m.

Defaults for CPU (``docs/ntt.md``): 2000 steps, batch 64 (32 per NTK side), lr 5e-4,
lambda_K 1e-2 (the reference uses 1e-3 on MNIST, whose NTK distances are ~20x larger; 1e-2 won on a
validation split of digits), lambda_2 1e-4, mask update every 100 steps, variant 'all'. Batches: a fresh permutation of the
inputs per epoch from ``numpy.random.default_rng([seed, 1])`` (the last incomplete batch dropped).
"""
from __future__ import annotations

import time
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..checks import positive_int
from .masks import check_density, topk_mask
from .result import NTTResult
from .twins import DEFAULT_VARIANT, Twin, _check_seed, check_variant, torch_dtype




def _check_nonneg(name: str, v, positive: bool = False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not np.isfinite(f) or f < 0 or (positive and f == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} and finite, got {v!r}")
    return f


def check_inputs(twin: Twin, X, name: str = "X", min_rows: int = 1) -> np.ndarray:
    """Return ``X`` as a float64 array after checking shape (n, *twin.input_shape()), finiteness, n >= min_rows."""
    if not isinstance(twin, Twin):
        raise ValueError(f"twin must be an eventsim.ntt Twin (MLPTwin, GRUTwin), got {type(twin).__name__}")
    try:
        Xa = np.asarray(X.detach().cpu().numpy() if isinstance(X, Tensor) else X, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array, got {type(X).__name__}") from None
    twin.check_x(Xa, name)
    if Xa.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows, got {Xa.shape[0]}")
    return Xa


def check_keep_dense(twin: Twin, keep_dense: Sequence[str]) -> Tuple[str, ...]:
    """Validate names of weight tensors exempt from pruning."""
    if isinstance(keep_dense, str):
        keep_dense = (keep_dense,)
    bad = [k for k in keep_dense if k not in twin.weight_names]
    if bad:
        raise ValueError(f"keep_dense must name weights of the twin {twin.weight_names}, got {list(keep_dense)!r}")
    return tuple(keep_dense)


def check_frozen(twin: Twin, frozen: Sequence[str]) -> Tuple[str, ...]:
    """Validate names of parameters NTT leaves at the teacher's values: some, not all, trainable ones."""
    frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)
    bad = [k for k in frozen if k not in twin.trainable_names]
    if bad or len(set(frozen)) == len(twin.trainable_names):
        raise ValueError(f"frozen must name some, not all, trainable parameters of the twin "
                         f"{list(twin.trainable_names)}, got {list(frozen)!r}")
    return frozen


def layer_masks(twin: Twin, scores: Mapping[str, np.ndarray], density: float,
                keep_dense: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Layer-wise top-k masks of ``scores`` (one array per weight tensor); ``keep_dense`` layers all True."""
    out = {}
    for k in twin.weight_names:
        s = np.asarray(scores[k])
        out[k] = np.ones(s.shape, dtype=bool) if k in keep_dense else topk_mask(s, density)
    return out


def effective(params: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Parameters as the network sees them: weights times their masks, other parameters unchanged."""
    return {k: (v * masks[k] if k in masks else v) for k, v in params.items()}


def ntt_distances(twin: Twin, teacher: Mapping[str, Tensor], student_eff: Mapping[str, Tensor],
                  masks: Optional[Mapping[str, Tensor]], x: Tensor, variant: str = DEFAULT_VARIANT,
                  teacher_cache: Optional[Tuple[Tensor, Tensor]] = None) -> Tuple[Tensor, Tensor]:
    """(mean squared NTK distance, mean squared logit distance) between student and teacher on batch ``x``.

    ``x``: (2B, ...) inputs, NTK taken between x[:B] and x[B:]; ``student_eff``: effective student
    parameters (masked weights). ``teacher_cache``: precomputed (f_t(x), Theta_t) to skip the teacher.
    """
    B = x.shape[0] // 2
    x1, x2 = x[:B], x[B:2 * B]
    if teacher_cache is None:
        with torch.no_grad():
            ft = twin.apply(teacher, x)
            kt = twin.ntk(teacher, x1, x2, None, "all")
    else:
        ft, kt = teacher_cache
    fs = twin.apply(student_eff, x)
    ks = twin.ntk(student_eff, x1, x2, masks, variant)
    return torch.mean((ks - kt) ** 2), torch.mean((fs - ft) ** 2)


#: term ratios lambda_K * ntk / out and (lambda_2 / d) * l2 / out that the defaults give on the digits LIF
#: twin 65-300-10 at 5 % density (2.18 and 0.68, rounded): the reference point of ``balanced_lambdas``
BALANCE_NTK_RATIO, BALANCE_L2_RATIO = 2.0, 0.7


def balanced_lambdas(twin: Twin, X, density: float, *, seed: int = 0, batch_size: int = 64,
                     ntk_ratio: float = BALANCE_NTK_RATIO, l2_ratio: float = BALANCE_L2_RATIO,
                     keep_dense: Sequence[str] = (), dtype: str = "float32",
                     variant: str = DEFAULT_VARIANT) -> Tuple[float, float]:
    """(lambda_K, lambda_2) that make the NTT loss terms start in fixed ratios to the output term.

    Adam is invariant to the scale of the loss, not to the ratios of its terms, and those depend
    on the twin's output scale: the defaults (lambda_K 1e-2, lambda_2 1e-4) were set on MLP twins
    of digits, whereas the GRU twin's logits are ~100x smaller and its L2 term would outweigh the
    output term by a factor of 300-9000 (H = 128-512). This evaluates the initial
    (magnitude-pruned) student on the first ``batch_size`` rows of ``X`` and returns
    lambda_K = ntk_ratio * out / ntk and
    lambda_2 = l2_ratio * out * density / l2, i.e. lambda_K * ntk = ntk_ratio * out and
    (lambda_2 / d) * l2 = l2_ratio * out there. Default ratios: those of the defaults on the digits
    LIF twin at 5 % (``BALANCE_NTK_RATIO``, ``BALANCE_L2_RATIO``). ``variant``: the student-NTK
    variant NTT will use ('all' or 'active'), whose initial distance sets lambda_K.
    """
    d = check_density(density)
    batch_size = positive_int("batch_size", batch_size, 2)
    if batch_size % 2:
        raise ValueError(f"batch_size must be even (two halves for the NTK), got {batch_size!r}")
    ntk_ratio = _check_nonneg("ntk_ratio", ntk_ratio)
    l2_ratio = _check_nonneg("l2_ratio", l2_ratio)
    Xa = check_inputs(twin, X, "X", batch_size)
    variant = check_variant(variant)
    td = torch_dtype(dtype)
    teacher = twin.init_params(_check_seed(seed), td)
    m_np = layer_masks(twin, {k: np.abs(teacher[k].numpy()) for k in twin.weight_names}, d,
                       check_keep_dense(twin, keep_dense))
    masks = {k: torch.as_tensor(m, dtype=td) for k, m in m_np.items()}
    with torch.no_grad():
        eff = effective(teacher, masks)
        kd, od = ntt_distances(twin, teacher, eff, masks, torch.as_tensor(Xa[:batch_size], dtype=td), variant)
        l2 = float(sum((eff[k] ** 2).sum() for k in twin.weight_names))
    kd, od = float(kd), float(od)
    if not (kd > 0 and od > 0 and l2 > 0):
        raise ValueError(f"cannot balance: the initial student's distances are ntk {kd!r}, out {od!r}, l2 {l2!r} "
                         f"(a density of {d!r} that prunes nothing?)")
    return ntk_ratio * od / kd, l2_ratio * od * d / l2


def run_ntt(twin: Twin, X, density: float, *, steps: int = 2000, batch_size: int = 64, lr: float = 5e-4,
            lambda_k: float = 1e-2, lambda_2: float = 1e-4, mask_every: int = 100, variant: str = DEFAULT_VARIANT,
            seed: int = 0, dtype: str = "float32", X_eval=None, eval_every: int = 100,
            keep_dense: Sequence[str] = (), frozen: Sequence[str] = (), progress: bool = True,
            desc: Optional[str] = None) -> NTTResult:
    """Run NTT (see the module docstring) and return an ``NTTResult`` (method 'ntt').

    ``X``: unlabelled inputs (n, *twin.input_shape()), n >= batch_size; ``density``: kept fraction
    per weight tensor in (0, 1]; ``batch_size``: 2B inputs per step (even); ``X_eval``: fixed inputs
    (even count) on which the distances are logged every ``eval_every`` steps and at the start and
    end (default: the first ``batch_size`` rows of X); ``keep_dense``: weight names not pruned;
    ``frozen``: trainable parameters that NTT leaves at the teacher's values (e.g. a dense input
    projection, so that only the pruned projections move; a frozen layer's masks and L2 term are
    computed as usual, they just do not change); ``progress``: tqdm bar. Deterministic for a given
    seed, thread count and dtype.
    """
    d = check_density(density)
    steps = positive_int("steps", steps)
    batch_size = positive_int("batch_size", batch_size, 2)
    if batch_size % 2:
        raise ValueError(f"batch_size must be even (two halves for the NTK), got {batch_size!r}")
    Xa = check_inputs(twin, X, "X", batch_size)
    lr = _check_nonneg("lr", lr, positive=True)
    lambda_k = _check_nonneg("lambda_k", lambda_k)
    lambda_2 = _check_nonneg("lambda_2", lambda_2)
    mask_every = positive_int("mask_every", mask_every)
    eval_every = positive_int("eval_every", eval_every)
    variant = check_variant(variant)
    seed = _check_seed(seed)
    td = torch_dtype(dtype)
    keep_dense = check_keep_dense(twin, keep_dense)
    frozen = check_frozen(twin, frozen)
    if X_eval is None:
        Xe = Xa[:batch_size]
    else:
        Xe = check_inputs(twin, X_eval, "X_eval", 2)
        if Xe.shape[0] % 2:
            raise ValueError(f"X_eval must have an even number of rows, got {Xe.shape[0]}")

    t0 = time.perf_counter()
    teacher = twin.init_params(seed, td)
    trainable = [k for k in twin.trainable_names if k not in frozen]
    W = {k: v.clone().requires_grad_(k in trainable) for k, v in teacher.items()}
    m_np = layer_masks(twin, {k: np.abs(teacher[k].numpy()) for k in twin.weight_names}, d, keep_dense)
    masks = {k: torch.as_tensor(m, dtype=td) for k, m in m_np.items()}
    opt = torch.optim.Adam([W[k] for k in trainable], lr=lr)
    Xt = torch.as_tensor(Xa, dtype=td)
    Xet = torch.as_tensor(Xe, dtype=td)
    with torch.no_grad():
        Be = Xet.shape[0] // 2
        eval_teacher = (twin.apply(teacher, Xet), twin.ntk(teacher, Xet[:Be], Xet[Be:2 * Be], None, "all"))

    def evaluate(step: int) -> None:
        with torch.no_grad():
            kd, od = ntt_distances(twin, teacher, effective(W, masks), masks, Xet, variant, eval_teacher)
        ev["step"].append(step)
        ev["ntk"].append(kd.item())
        ev["out"].append(od.item())

    def record_masks(step: int, old: Optional[Dict[str, np.ndarray]]) -> None:
        mh["step"].append(step)
        mh["density"].append([m_np[k].mean() for k in twin.weight_names])
        mh["turnover"].append([0.0 if old is None else float((m_np[k] & ~old[k]).sum()) / max(1, m_np[k].sum())
                               for k in twin.weight_names])

    hist: Dict[str, list] = {"step": [], "total": [], "ntk": [], "out": [], "l2": []}
    ev: Dict[str, list] = {"step": [], "ntk": [], "out": []}
    mh: Dict[str, list] = {"step": [], "density": [], "turnover": []}
    record_masks(0, None)
    evaluate(0)

    rng = np.random.default_rng([seed, 1])
    n = Xa.shape[0]
    nb = n // batch_size
    perm = None
    B = batch_size // 2
    from tqdm.auto import tqdm

    bar = tqdm(range(steps), desc=desc or f"NTT d={d:g}", disable=not progress, leave=False)
    for i in bar:
        if i % nb == 0:
            perm = rng.permutation(n)
        idx = perm[(i % nb) * batch_size:(i % nb + 1) * batch_size]
        x = Xt[idx]
        with torch.no_grad():
            ft = twin.apply(teacher, x)
            kt = twin.ntk(teacher, x[:B], x[B:], None, "all")
        eff = effective(W, masks)
        kd, od = ntt_distances(twin, teacher, eff, masks, x, variant, (ft, kt))
        l2 = sum((eff[k] ** 2).sum() for k in twin.weight_names)
        loss = lambda_k * kd + od + (lambda_2 / d) * l2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        s = i + 1
        hist["step"].append(s)
        hist["total"].append(loss.item())
        hist["ntk"].append(kd.item())
        hist["out"].append(od.item())
        hist["l2"].append(float(l2))
        if s % mask_every == 0 and s <= steps - mask_every:
            old = m_np
            with torch.no_grad():
                m_np = layer_masks(twin, {k: np.abs(W[k].detach().numpy()) for k in twin.weight_names}, d, keep_dense)
            masks = {k: torch.as_tensor(m, dtype=td) for k, m in m_np.items()}
            record_masks(s, old)
        if s % eval_every == 0 or s == steps:
            evaluate(s)
        if progress and (s % 20 == 0 or s == steps):
            bar.set_postfix(loss=f"{hist['total'][-1]:.4g}", ntk=f"{hist['ntk'][-1]:.4g}", out=f"{hist['out'][-1]:.3g}", refresh=False)
    bar.close()
    wall = time.perf_counter() - t0

    params = {k: (W[k] * masks[k] if k in masks else W[k]).detach().numpy().astype(np.float64) for k in W}
    prov: Dict[str, Any] = {
        "method": "ntt", "variant": variant, "density": d, "seed": seed, "steps": steps,
        "batch_size": batch_size, "lr": lr, "lambda_k": lambda_k, "lambda_2": lambda_2,
        "mask_every": mask_every, "keep_dense": list(keep_dense), "frozen": list(frozen),
        "dtype": str(td).replace("torch.", ""),
        "ntk": "closed_form" if twin.kind in ("mlp", "gru") else "torch.func", "n_inputs": int(n),
        "topk": "k = max(1, floor(d*n + 0.5)) per weight tensor, ties by lower flat index",
        "wall_time_s": wall, "torch_threads": torch.get_num_threads(), "torch_version": str(torch.__version__),
        "eval_ntk_initial": ev["ntk"][0], "eval_out_initial": ev["out"][0],
        "eval_ntk_final": ev["ntk"][-1], "eval_out_final": ev["out"][-1],
        "loss_final": hist["total"][-1],
    }
    prov.update(_versions())
    return NTTResult(
        twin_spec=twin.spec(), params=params, masks=dict(m_np),
        history={k: np.asarray(v, dtype=np.float64) for k, v in hist.items()},
        mask_history={k: np.asarray(v, dtype=np.float64) for k, v in mh.items()},
        eval_history={k: np.asarray(v, dtype=np.float64) for k, v in ev.items()},
        provenance=prov)


def _versions() -> Dict[str, str]:
    try:
        from .. import __version__ as v
    except ImportError:  # pragma: no cover
        v = "?"
    return {"eventsim_version": v}
