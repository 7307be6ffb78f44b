"""EGRU (event-based GRU, Subramoney et al., ICLR 2023) layers, stacks and a sequence classifier.

Equations per layer as the EvNN reference code computes them (gate order [z | r | g], reset gate
applied *after* the recurrent matmul, reset of the internal state by subtracting the threshold);
``B`` batch, ``T`` steps, ``I`` inputs, ``H`` units, everything dimensionless::

    a_t = x_t W + b_x                     W (I, 3H), b_x (3H,)
    q_t = y_{t-1} R + b_r                 R (H, 3H), b_r (3H,)   (R sees only the sparse events y)
    z = sigmoid(a_z + q_z);  r = sigmoid(a_r + q_r);  g = tanh(a_g + r * q_g)
    c^_t = z c_{t-1} + (1 - z) g          internal state (the paper's u is 1 - z here)
    o_t = H(c^_t - thr)                   event indicator, H(0) = 0, thr (H,) trainable in [0, 1]
    y_t = o_t c^_t                        graded event: the full state value of an emitting unit
    c_t = c^_t - o_t thr                  reset by subtracting the threshold
    tr_t = alpha tr_{t-1} + (1 - alpha) y_t   output trace (alpha = trace_decay = 0.9)

with y_0 = given state (default 0), c_0 = 0, tr_0 = 0. Training uses BPTT with the triangular
pseudo-derivative dH/dv ~ gamma max(0, 1 - |v| / width), v = c^ - thr (``eventsim.kernels.egru``).
The forward pass touches only rows R[j, :] of units j that emitted at the previous step; the
backward pass computes recurrent errors only for units with v > -width (active or near threshold)
and weight-gradient rows only for units that emitted. A boolean ``recurrent_mask`` (H, 3H) makes R
sparse (e.g. an NTT connectome); the kernels then use CSR rows over the presynaptic unit.

Public classes: ``EGRULayer`` (one layer), ``EGRU`` (a stack; the output events of one layer are
the input of the next), ``EGRUClassifier`` (EGRU + linear read-out of the output trace, softmax
cross-entropy or mean squared error). Parameters are dicts of float arrays updated in place by
``eventsim.optim`` optimisers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..kernels import egru as K
from .params import (EGRUConfig, SeedLike, as_rng, check_dtype, check_layer_params, check_size,
                     check_thresholds, init_layer_params, xavier_normal)

State = Tuple[np.ndarray, np.ndarray, np.ndarray]
_EMPTY3 = {}


def _empty3(dtype: np.dtype) -> np.ndarray:
    key = np.dtype(dtype).str
    if key not in _EMPTY3:
        _EMPTY3[key] = np.zeros((0, 0, 0), dtype=dtype)
    return _EMPTY3[key]


def _block(B: int) -> int:
    """Samples per parallel task: the batch split evenly over the Numba threads, at most 16."""
    import numba

    return max(1, min(16, -(-B // numba.get_num_threads())))


def _rows(H: int) -> int:
    """Rows of dR per parallel task in ``egru_grad_r``."""
    return max(1, min(16, -(-H // 8)))


def check_sequence(x, n_in: int, dtype: np.dtype, name: str = "x") -> np.ndarray:
    """Validate a batch of sequences: (B, T, I) finite numbers with I == ``n_in``."""
    a = np.asarray(x)
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (batch, steps, {n_in}), got shape {a.shape}")
    if a.shape[2] != n_in:
        raise ValueError(f"{name} must have {n_in} features per step (last axis), got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must have at least one sample and one step, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=dtype)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


@dataclass
class LayerRun:
    """Record of one layer's forward pass (everything the backward pass and the statistics need).

    ``x`` (B, T, I) input; ``y`` (B, T, H) events (0 where silent); ``trace`` (B, T, H) or None;
    ``ev_cnt`` (B, T) events per step; ``state0``/``state`` initial/final (y, c, tr), each (B, H);
    ``cache`` (only with ``store=True``): z, r, g, q_g, v (B, T, H), c (B, T+1, H);
    ``csr``: the (Rptr, Ridx, Rdat) used, or None for a dense R; MAC counts of this pass:
    ``rec_macs`` (recurrent, performed), ``in_macs`` (input GEMM), and the dense-GRU equivalents.
    """

    x: np.ndarray
    y: np.ndarray
    trace: Optional[np.ndarray]
    ev_cnt: np.ndarray
    state0: State
    state: State
    cache: Optional[Dict[str, np.ndarray]]
    csr: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]
    rec_macs: int
    in_macs: int
    dense_rec_macs: int
    dense_in_macs: int

    @property
    def hidden_size(self) -> int:
        return self.y.shape[2]

    @property
    def activity(self) -> float:
        """Fraction of (sample, step, unit) entries with an event, in [0, 1]."""
        return float(self.ev_cnt.sum()) / self.ev_cnt.size / self.hidden_size

    @property
    def activity_per_step(self) -> np.ndarray:
        """(T,) fraction of units emitting at each step, averaged over the batch."""
        return self.ev_cnt.mean(axis=0) / self.hidden_size

    @property
    def o(self) -> np.ndarray:
        """(B, T, H) bool event indicators (y != 0; thresholds are >= 0 so an event has y > 0)."""
        return self.y != 0


@dataclass
class LayerGrads:
    """Gradients of one layer: ``grads`` {W, R, b_x, b_r, thr}; ``dx`` (B, T, I) or None; ``dstate``
    (dy0, dc0, dtr0) or None; MAC counts of the backward pass (performed and dense-GRU equivalent),
    and ``back_fraction``: mean fraction of units whose recurrent error was propagated through R."""

    grads: Dict[str, np.ndarray]
    dx: Optional[np.ndarray]
    dstate: Optional[State]
    rec_macs: int
    in_macs: int
    dense_rec_macs: int
    dense_in_macs: int
    back_fraction: float


class EGRULayer:
    """One EGRU layer: I inputs -> H event-emitting units (equations in the module docstring).

    ``config``: ``EGRUConfig`` (thresholds, pseudo-derivative, trace); ``seed``: int, None or a
    numpy Generator for the initial parameters; ``dtype``: float64 (default; training and tests) or
    float32 (inference speed); ``recurrent_mask`` / ``input_mask``: optional boolean (H, 3H) /
    (I, 3H) connectivity (weights outside stay exactly 0, their gradients are 0); ``params``:
    optional initial parameter dict (validated, copied).
    """

    def __init__(self, input_size: int, hidden_size: int, config: Optional[EGRUConfig] = None, *,
                 seed: SeedLike = None, dtype="float64", recurrent_mask: Optional[np.ndarray] = None,
                 input_mask: Optional[np.ndarray] = None, params: Optional[Mapping[str, np.ndarray]] = None):
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        if config is None:
            config = EGRUConfig()
        if not isinstance(config, EGRUConfig):
            raise ValueError(f"config must be an EGRUConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = check_dtype(dtype)
        if params is None:
            self.params = init_layer_params(self.input_size, self.hidden_size, config, as_rng(seed), self.dtype)
        else:
            self.params = check_layer_params(dict(params), self.input_size, self.hidden_size, self.dtype)
            self.params = {k: v.copy() for k, v in self.params.items()}
        self.masks: Dict[str, Optional[np.ndarray]] = {"W": None, "R": None}
        self._csr_pattern: Optional[Tuple[np.ndarray, np.ndarray]] = None
        if input_mask is not None:
            self.set_mask("W", input_mask)
        if recurrent_mask is not None:
            self.set_mask("R", recurrent_mask)

    # ---------------------------------------------------------------- parameters
    def set_mask(self, name: str, mask: Optional[np.ndarray]) -> None:
        """Fix the connectivity of ``W`` (I, 3H) or ``R`` (H, 3H): weights where ``mask`` is False
        are set to 0 and stay 0 (their gradients are 0). ``None`` removes the mask."""
        if name not in ("W", "R"):
            raise ValueError(f"name must be 'W' or 'R', got {name!r}")
        if mask is None:
            self.masks[name] = None
            if name == "R":
                self._csr_pattern = None
            return
        m = np.asarray(mask)
        shape = self.params[name].shape
        if m.shape != shape:
            raise ValueError(f"mask for {name} must have shape {shape}, got {m.shape}")
        if m.dtype != bool:
            if not np.all((m == 0) | (m == 1)):
                raise ValueError(f"mask for {name} must be boolean (or 0/1)")
            m = m.astype(bool)
        self.masks[name] = m.copy()
        self.params[name][~m] = 0.0
        if name == "R":
            rows, cols = np.nonzero(m)
            ptr = np.zeros(self.hidden_size + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=self.hidden_size), out=ptr[1:])
            self._csr_pattern = (ptr, cols.astype(np.int32))

    @property
    def recurrent_density(self) -> float:
        """Fraction of R's entries that are connections (1.0 without a mask)."""
        m = self.masks["R"]
        return 1.0 if m is None else float(m.mean())

    def clamp_thresholds(self) -> None:
        """Clamp thresholds to [0, 1] in place (EvNN v0.2 does this before every forward pass)."""
        np.clip(self.params["thr"], 0.0, 1.0, out=self.params["thr"])

    def _csr(self) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._csr_pattern is None:
            return None
        ptr, idx = self._csr_pattern
        return ptr, idx, np.ascontiguousarray(self.params["R"][self.masks["R"]])

    def _check_state(self, state, B: int) -> State:
        H = self.hidden_size
        if state is None:
            z = np.zeros((B, H), dtype=self.dtype)
            return z, z.copy(), z.copy()
        if not isinstance(state, (tuple, list)) or len(state) != 3:
            raise ValueError("state must be a tuple (y0, c0, tr0) of (batch, hidden) arrays")
        out = []
        for nm, a in zip(("y0", "c0", "tr0"), state):
            a = np.asarray(a)
            if a.shape != (B, H):
                raise ValueError(f"state {nm} must have shape {(B, H)}, got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"state {nm} contains NaN or inf")
            out.append(np.ascontiguousarray(a, dtype=self.dtype))
        return tuple(out)

    # ---------------------------------------------------------------- forward
    def forward(self, x: np.ndarray, state: Optional[State] = None, *, store: bool = True,
                store_trace: bool = True) -> LayerRun:
        """Run the layer on ``x`` (B, T, I); ``state`` = (y0, c0, tr0), each (B, H), default zeros.

        ``store``: keep what the backward pass needs (else inference only); ``store_trace``: keep the
        output trace of every step (the final trace is always in ``run.state``).
        """
        cfg = self.config
        x = check_sequence(x, self.input_size, self.dtype)
        B, T, _ = x.shape
        H = self.hidden_size
        y0, c0, tr0 = self._check_state(state, B)
        p = self.params
        check_thresholds(p["thr"], "params['thr']")
        dt = self.dtype
        Ax = (x.reshape(B * T, self.input_size) @ p["W"]).reshape(B, T, 3 * H)
        Ax += p["b_x"]
        e3 = _empty3(dt)
        Y = np.empty((B, T, H), dtype=dt)
        TR = np.empty((B, T, H), dtype=dt) if store_trace else e3
        if store:
            Z, RG, G, QG, V = (np.empty((B, T, H), dtype=dt) for _ in range(5))
            C = np.empty((B, T + 1, H), dtype=dt)
        else:
            Z = RG = G = QG = V = C = e3
        ev_cnt = np.empty((B, T), dtype=np.int32)
        y_last, c_last, tr_last = (np.empty((B, H), dtype=dt) for _ in range(3))
        n_mac = np.zeros(B, dtype=np.int64)
        csr = self._csr()
        ptr, idx, dat = csr if csr is not None else (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, dt))
        K.egru_forward(Ax, p["R"], ptr, idx, dat, csr is not None, p["b_r"], p["thr"], dt.type(cfg.trace_decay),
                       0 if cfg.surrogate == "triangle" else 1, dt.type(cfg.smooth_k), y0, c0, tr0, _block(B),
                       True, store_trace, store, Y, TR, Z, RG, G, QG, V, C, ev_cnt,
                       y_last, c_last, tr_last, n_mac)
        cache = None
        if store:
            cache = {"z": Z, "r": RG, "g": G, "q_g": QG, "v": V, "c": C}
        return LayerRun(x=x, y=Y, trace=TR if store_trace else None, ev_cnt=ev_cnt, state0=(y0, c0, tr0),
                        state=(y_last, c_last, tr_last), cache=cache, csr=csr, rec_macs=int(n_mac.sum()),
                        in_macs=B * T * self.input_size * 3 * H if self.masks["W"] is None
                        else B * T * int(self.masks["W"].sum()),
                        dense_rec_macs=B * T * H * 3 * H, dense_in_macs=B * T * self.input_size * 3 * H)

    __call__ = forward

    # ---------------------------------------------------------------- backward
    def backward(self, run: LayerRun, dy: Optional[np.ndarray] = None, dtrace: Optional[np.ndarray] = None,
                 do: Optional[np.ndarray] = None, *, dense: bool = False, need_dx: bool = True,
                 need_dstate: bool = False) -> LayerGrads:
        """BPTT through one forward ``run`` (made with ``store=True``).

        External gradients of the loss (each (B, T, H), None = 0): ``dy`` w.r.t. the events y,
        ``dtrace`` w.r.t. the output trace, ``do`` w.r.t. the event indicators o (e.g. an activity
        regulariser; it enters through the pseudo-derivative). ``dense``: propagate through every
        row of R and accumulate every row of dR (same result, for checks and cost comparison).
        Returns ``LayerGrads`` with gradients for W, R, b_x, b_r, thr, and optionally the input
        gradient dx (B, T, I) and the initial-state gradients (dy0, dc0, dtr0).
        """
        if not isinstance(run, LayerRun) or run.cache is None:
            raise ValueError("run must be a LayerRun from forward(..., store=True)")
        cfg = self.config
        dt = self.dtype
        B, T, H = run.y.shape
        if H != self.hidden_size or run.x.shape[2] != self.input_size:
            raise ValueError("run was not produced by a layer of this shape")

        def ext(a, name):
            if a is None:
                return None
            a = np.asarray(a)
            if a.shape != (B, T, H):
                raise ValueError(f"{name} must have shape {(B, T, H)}, got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} contains NaN or inf")
            return np.ascontiguousarray(a, dtype=dt)

        dY = ext(dy, "dy")
        dTR = ext(dtrace, "dtrace")
        dO = ext(do, "do")
        if dY is None:
            dY = np.zeros((B, T, H), dtype=dt)
        e3 = _empty3(dt)
        cch = run.cache
        p = self.params
        csr = run.csr
        ptr, idx, dat = csr if csr is not None else (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, dt))
        dP = np.empty((B, T, 3 * H), dtype=dt)
        dQ = np.empty((B, T, 3 * H), dtype=dt)
        dthr_b = np.zeros((B, H), dtype=dt)
        dy0, dc0, dtr0 = (np.zeros((B, H), dtype=dt) for _ in range(3))
        n_back = np.zeros((B, T), dtype=np.int64)
        n_mac = np.zeros(B, dtype=np.int64)
        K.egru_backward(p["R"], ptr, idx, dat, csr is not None, p["thr"], dt.type(cfg.trace_decay),
                        0 if cfg.surrogate == "triangle" else 1, dt.type(cfg.smooth_k), dt.type(cfg.gamma),
                        dt.type(cfg.width), bool(dense), bool(need_dstate), _block(B),
                        cch["z"], cch["r"], cch["g"], cch["q_g"], cch["v"], cch["c"], dY,
                        dTR is not None, dTR if dTR is not None else e3, dO is not None, dO if dO is not None else e3,
                        dP, dQ, dthr_b, dy0, dc0, dtr0, n_back, n_mac)
        dR = np.zeros((H, 3 * H), dtype=dt)
        dRdat = np.zeros(dat.size, dtype=dt)
        y0 = run.state0[0]
        per_unit = np.zeros(H, dtype=np.int64)
        K.egru_grad_r(run.y, y0, dQ, csr is not None, ptr, idx, bool(dense), _rows(H), dR, dRdat, per_unit)
        if csr is not None:
            dR[self.masks["R"]] = dRdat
            row_len = np.diff(ptr)
        else:
            row_len = np.full(H, 3 * H, dtype=np.int64)
        dR_macs = int(np.dot(per_unit, row_len))
        I = self.input_size
        P2 = dP.reshape(B * T, 3 * H)
        dW = run.x.reshape(B * T, I).T @ P2
        if self.masks["W"] is not None:
            dW[~self.masks["W"]] = 0.0
        grads = {"W": dW, "R": dR, "b_x": P2.sum(axis=0), "b_r": dQ.reshape(B * T, 3 * H).sum(axis=0),
                 "thr": dthr_b.sum(axis=0)}
        dx = (P2 @ p["W"].T).reshape(B, T, I) if need_dx else None
        in_macs = B * T * I * 3 * H * (2 if need_dx else 1)
        return LayerGrads(grads=grads, dx=dx, dstate=(dy0, dc0, dtr0) if need_dstate else None,
                          rec_macs=int(n_mac.sum()) + dR_macs, in_macs=in_macs,
                          dense_rec_macs=2 * B * T * H * 3 * H, dense_in_macs=in_macs,
                          back_fraction=float(n_back[:, 1:].sum()) / max(1, B * (T - 1) * H))

    def __repr__(self) -> str:
        return (f"EGRULayer(I={self.input_size}, H={self.hidden_size}, dtype={self.dtype}, "
                f"R density={self.recurrent_density:.3f})")


def _as_hidden_list(hidden_size, num_layers) -> List[int]:
    if isinstance(hidden_size, (list, tuple, np.ndarray)):
        hs = [check_size("hidden_size", h) for h in hidden_size]
        if not hs:
            raise ValueError("hidden_size must not be empty")
        if num_layers not in (None, len(hs)):
            raise ValueError(f"num_layers={num_layers!r} disagrees with hidden_size={list(hidden_size)!r}")
        return hs
    n = 1 if num_layers is None else check_size("num_layers", num_layers)
    return [check_size("hidden_size", hidden_size)] * n


@dataclass
class EGRUOutput:
    """Forward record of an EGRU stack: ``runs`` (one ``LayerRun`` per layer); ``y``/``trace``/``state``
    are the last layer's. Statistics: ``activity`` per layer, MAC counts summed over layers."""

    runs: List[LayerRun]

    @property
    def y(self) -> np.ndarray:
        return self.runs[-1].y

    @property
    def trace(self) -> Optional[np.ndarray]:
        return self.runs[-1].trace

    @property
    def state(self) -> List[State]:
        return [r.state for r in self.runs]

    @property
    def activity(self) -> List[float]:
        return [r.activity for r in self.runs]

    @property
    def mean_activity(self) -> float:
        """Events over all (sample, step, unit) entries of all layers."""
        ev = sum(float(r.ev_cnt.sum()) for r in self.runs)
        n = sum(r.ev_cnt.size * r.hidden_size for r in self.runs)
        return ev / n

    def macs(self) -> Dict[str, int]:
        """Forward MACs: recurrent performed / dense-GRU equivalent, input, totals."""
        d = {"rec": sum(r.rec_macs for r in self.runs), "rec_dense": sum(r.dense_rec_macs for r in self.runs),
             "in": sum(r.in_macs for r in self.runs), "in_dense": sum(r.dense_in_macs for r in self.runs)}
        d["total"] = d["rec"] + d["in"]
        d["total_dense"] = d["rec_dense"] + d["in_dense"]
        return d


class EGRU:
    """A stack of EGRU layers (``eventsim.EGRU``); layer l+1 reads the events y of layer l.

    ``hidden_size``: int (with ``num_layers``, default 1) or a list of sizes, one per layer. Other
    keyword arguments: ``config`` (``EGRUConfig`` shared by all layers, or one per layer),
    ``seed``, ``dtype``, ``recurrent_masks`` (one boolean (H_l, 3 H_l) array or None per layer).
    ``params`` is a flat dict ``{"l{n}.W", "l{n}.R", "l{n}.b_x", "l{n}.b_r", "l{n}.thr"}`` whose
    arrays *are* the layers' arrays (an optimiser updating it updates the layers).
    """

    def __init__(self, input_size: int, hidden_size: Union[int, Sequence[int]], num_layers: Optional[int] = None, *,
                 config: Union[None, EGRUConfig, Sequence[EGRUConfig]] = None, seed: SeedLike = 0, dtype="float64",
                 recurrent_masks: Optional[Sequence[Optional[np.ndarray]]] = None):
        self.input_size = check_size("input_size", input_size)
        self.hidden_sizes = _as_hidden_list(hidden_size, num_layers)
        L = len(self.hidden_sizes)
        if config is None or isinstance(config, EGRUConfig):
            configs = [config or EGRUConfig()] * L
        else:
            configs = list(config)
            if len(configs) != L:
                raise ValueError(f"config must be one EGRUConfig or {L} of them, got {len(configs)}")
        if recurrent_masks is not None and len(recurrent_masks) != L:
            raise ValueError(f"recurrent_masks must have one entry per layer ({L}), got {len(recurrent_masks)}")
        rng = as_rng(seed)
        self.layers: List[EGRULayer] = []
        n_in = self.input_size
        for l, h in enumerate(self.hidden_sizes):
            m = None if recurrent_masks is None else recurrent_masks[l]
            self.layers.append(EGRULayer(n_in, h, configs[l], seed=rng, dtype=dtype, recurrent_mask=m))
            n_in = h
        self.dtype = self.layers[0].dtype

    @property
    def hidden_size(self) -> int:
        """Units of the last layer."""
        return self.hidden_sizes[-1]

    @property
    def params(self) -> Dict[str, np.ndarray]:
        return {f"l{l}.{k}": v for l, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def clamp_thresholds(self) -> None:
        """Clamp every layer's thresholds to [0, 1] (call after each optimiser step)."""
        for layer in self.layers:
            layer.clamp_thresholds()

    def forward(self, x: np.ndarray, state: Optional[Sequence[Optional[State]]] = None, *, store: bool = True,
                store_trace: bool = True) -> EGRUOutput:
        """Run the stack on ``x`` (B, T, I); ``state``: one (y0, c0, tr0) or None per layer."""
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state must have one entry per layer ({len(self.layers)}), got {len(state)}")
        runs = []
        h = x
        for l, layer in enumerate(self.layers):
            last = l == len(self.layers) - 1
            r = layer.forward(h, None if state is None else state[l], store=store,
                              store_trace=store_trace if last else False)
            runs.append(r)
            h = r.y
        return EGRUOutput(runs)

    __call__ = forward

    def backward(self, out: EGRUOutput, dy: Optional[np.ndarray] = None, dtrace: Optional[np.ndarray] = None,
                 do: Optional[Sequence[Optional[np.ndarray]]] = None, *, dense: bool = False,
                 need_dx: bool = False) -> Tuple[Dict[str, np.ndarray], Optional[np.ndarray], Dict[str, float]]:
        """BPTT through the stack. ``dy``/``dtrace``: gradients w.r.t. the last layer's events and
        trace (B, T, H); ``do``: per-layer gradients w.r.t. the event indicators (or None).
        Returns (flat gradient dict like ``params``, dx or None, stats) where stats holds the
        backward MAC counts and the mean fraction of units propagated through R."""
        L = len(self.layers)
        if do is not None and len(do) != L:
            raise ValueError(f"do must have one entry per layer ({L}), got {len(do)}")
        grads: Dict[str, np.ndarray] = {}
        stats = {"rec": 0, "rec_dense": 0, "in": 0, "in_dense": 0}
        fr = []
        g_y, g_tr = dy, dtrace
        dx = None
        for l in range(L - 1, -1, -1):
            lg = self.layers[l].backward(out.runs[l], g_y, g_tr, None if do is None else do[l], dense=dense,
                                         need_dx=(l > 0) or need_dx)
            for k, v in lg.grads.items():
                grads[f"l{l}.{k}"] = v
            stats["rec"] += lg.rec_macs
            stats["rec_dense"] += lg.dense_rec_macs
            stats["in"] += lg.in_macs
            stats["in_dense"] += lg.dense_in_macs
            fr.append(lg.back_fraction)
            g_y, g_tr = lg.dx, None
            dx = lg.dx
        stats["total"] = stats["rec"] + stats["in"]
        stats["total_dense"] = stats["rec_dense"] + stats["in_dense"]
        stats["back_fraction"] = float(np.mean(fr))
        return grads, (dx if need_dx else None), stats

    def __repr__(self) -> str:
        return f"EGRU(I={self.input_size}, hidden={self.hidden_sizes}, dtype={self.dtype})"


READOUTS = ("last", "mean")
LOSSES = ("ce", "mse")


class EGRUClassifier:
    """EGRU stack + linear read-out of the last layer's output trace.

    features f = tr_T (``readout='last'``, EvNN sMNIST) or mean_t tr_t (``'mean'``), (B, H);
    output = f W_out^T + b_out, W_out (C, H) = (post, pre), b_out (C,). ``loss='ce'``: softmax
    cross-entropy with integer labels in [0, C) (``n_out`` = C classes); ``loss='mse'``: mean over
    batch and outputs of (output - target)^2 with float targets (B, C) or (B,) when C = 1.
    Activity regulariser (optional, per layer l): ``activity_reg * max(0, mean(o_l) - activity_target)^2``.
    """

    def __init__(self, n_in: int, hidden_sizes: Union[int, Sequence[int]], n_out: int, *, readout: str = "last",
                 loss: str = "ce", config: Union[None, EGRUConfig, Sequence[EGRUConfig]] = None, seed: SeedLike = 0,
                 dtype="float64", recurrent_masks: Optional[Sequence[Optional[np.ndarray]]] = None):
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.n_out = check_size("n_out", n_out)
        rng = as_rng(seed)
        self.egru = EGRU(n_in, hidden_sizes, config=config, seed=rng, dtype=dtype, recurrent_masks=recurrent_masks)
        self.readout, self.loss = readout, loss
        H = self.egru.hidden_size
        dt = self.egru.dtype
        self.out_params = {"W": np.ascontiguousarray(xavier_normal(rng, self.n_out, H), dtype=dt),
                           "b": np.zeros(self.n_out, dtype=dt)}

    @property
    def n_in(self) -> int:
        return self.egru.input_size

    @property
    def params(self) -> Dict[str, np.ndarray]:
        """Flat dict of every trainable array (the same array objects; optimisers update in place)."""
        d = self.egru.params
        d["out.W"] = self.out_params["W"]
        d["out.b"] = self.out_params["b"]
        return d

    def clamp_thresholds(self) -> None:
        self.egru.clamp_thresholds()

    def _features(self, out: EGRUOutput) -> np.ndarray:
        r = out.runs[-1]
        if self.readout == "last":
            return r.state[2]
        return r.trace.mean(axis=1)

    def forward(self, x: np.ndarray, *, store: bool = False) -> Tuple[np.ndarray, EGRUOutput]:
        """(outputs (B, C), EGRUOutput) for ``x`` (B, T, I)."""
        out = self.egru.forward(x, store=store, store_trace=self.readout == "mean")
        f = self._features(out)
        return f @ self.out_params["W"].T + self.out_params["b"], out

    def _check_targets(self, targets, B: int) -> np.ndarray:
        t = np.asarray(targets)
        if t.dtype.kind not in "iuf":
            raise ValueError(f"{'labels' if self.loss == 'ce' else 'targets'} must be numbers, got dtype {t.dtype} "
                             f"(first entries {t.ravel()[:3].tolist()})")
        if self.loss == "ce":
            if t.shape != (B,):
                raise ValueError(f"labels must have shape ({B},), got {t.shape}")
            if not np.issubdtype(t.dtype, np.integer):
                if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
                    raise ValueError("labels must be integers")
                t = t.astype(np.int64)
            if t.size and (t.min() < 0 or t.max() >= self.n_out):
                raise ValueError(f"labels must lie in [0, {self.n_out}), got range [{t.min()}, {t.max()}]")
            return t
        if t.ndim == 1 and self.n_out == 1:
            t = t[:, None]
        if t.shape != (B, self.n_out):
            raise ValueError(f"targets must have shape ({B}, {self.n_out}), got {t.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("targets contain NaN or inf")
        return t.astype(np.float64)

    def _loss(self, logits: np.ndarray, t: np.ndarray) -> Tuple[float, np.ndarray]:
        B = logits.shape[0]
        if self.loss == "ce":
            z = logits - logits.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))
            loss = float(np.mean(lse - z[np.arange(B), t]))
            p = np.exp(z - lse[:, None])
            p[np.arange(B), t] -= 1.0
            return loss, p / B
        d = logits - t
        return float(np.mean(d * d)), 2.0 * d / d.size

    def loss_and_grad(self, x: np.ndarray, targets: np.ndarray, *, activity_reg: float = 0.0,
                      activity_target: float = 0.0, dense: bool = False) -> Tuple[float, Dict[str, np.ndarray], Dict]:
        """(loss, gradients like ``params``, info) on one batch. ``info``: task loss, accuracy (ce),
        per-layer activity, forward/backward MAC counts and the backward propagation fraction."""
        if not (np.isfinite(activity_reg) and activity_reg >= 0):
            raise ValueError(f"activity_reg must be >= 0, got {activity_reg!r}")
        if not (0.0 <= activity_target <= 1.0):
            raise ValueError(f"activity_target must be in [0, 1], got {activity_target!r}")
        out = self.egru.forward(x, store=True, store_trace=self.readout == "mean")
        B = out.y.shape[0]
        T = out.y.shape[1]
        t = self._check_targets(targets, B)
        f = self._features(out)
        logits = f @ self.out_params["W"].T + self.out_params["b"]
        task_loss, dlog = self._loss(logits, t)
        g_out = {"out.W": dlog.T @ f, "out.b": dlog.sum(axis=0)}
        df = dlog @ self.out_params["W"]
        H = self.egru.hidden_size
        dtr = np.zeros((B, T, H), dtype=self.egru.dtype)
        if self.readout == "last":
            dtr[:, -1] = df
        else:
            dtr += (df / T)[:, None, :]
        loss = task_loss
        do = None
        if activity_reg > 0:
            do = []
            for r in out.runs:
                a = r.activity
                excess = max(0.0, a - activity_target)
                loss += activity_reg * excess ** 2
                g = 2.0 * activity_reg * excess / (r.ev_cnt.size * r.hidden_size)
                do.append(np.full(r.y.shape, g, dtype=self.egru.dtype) if g > 0 else None)
        grads, _, bstats = self.egru.backward(out, None, dtr, do, dense=dense)
        grads.update(g_out)
        info = {"task_loss": task_loss, "activity": out.activity, "mean_activity": out.mean_activity,
                "fwd_macs": out.macs(), "bwd_macs": bstats, "back_fraction": bstats["back_fraction"]}
        if self.loss == "ce":
            info["accuracy"] = float(np.mean(np.argmax(logits, axis=1) == t))
        return loss, grads, info

    def predict(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Class indices (B,) for ``loss='ce'``, else the outputs (B, C)."""
        outs = [self.forward(x[a:a + batch_size])[0] for a in range(0, len(x), batch_size)]
        o = np.concatenate(outs)
        return np.argmax(o, axis=1) if self.loss == "ce" else o

    def evaluate(self, x: np.ndarray, targets: np.ndarray, batch_size: int = 512) -> Dict[str, float]:
        """Mean loss, accuracy (ce) and activity statistics on a data set (inference pass).

        Returns {"loss", "accuracy" (ce only), "activity" (mean over layers' entries),
        "activity_per_layer", "fwd_macs", "fwd_macs_dense", "n"}.
        """
        n = len(x)
        tot, correct, ev, ent = 0.0, 0, 0.0, 0.0
        per_layer = np.zeros(len(self.egru.layers))
        macs = {"total": 0, "total_dense": 0}
        for a in range(0, n, batch_size):
            xb = x[a:a + batch_size]
            logits, out = self.forward(xb)
            t = self._check_targets(targets[a:a + batch_size], len(xb))
            l, _ = self._loss(logits, t)
            tot += l * len(xb)
            if self.loss == "ce":
                correct += int(np.sum(np.argmax(logits, axis=1) == t))
            for i, r in enumerate(out.runs):
                per_layer[i] += float(r.ev_cnt.sum()) / r.hidden_size
            ev += sum(float(r.ev_cnt.sum()) for r in out.runs)
            ent += sum(r.ev_cnt.size * r.hidden_size for r in out.runs)
            m = out.macs()
            macs["total"] += m["total"]
            macs["total_dense"] += m["total_dense"]
        T = np.asarray(x).shape[1]
        res = {"loss": tot / n, "activity": ev / ent, "activity_per_layer": list(per_layer / (n * T)),
               "fwd_macs": macs["total"], "fwd_macs_dense": macs["total_dense"], "n": n}
        if self.loss == "ce":
            res["accuracy"] = correct / n
        return res

    # ---------------------------------------------------------------- files and NTT
    def save(self, path) -> None:
        """Write architecture and parameters to HDF5 (format ``eventsim.egru``), atomically."""
        import json

        from ..files import atomic_h5

        with atomic_h5(path, "eventsim.egru") as f:
            spec = {"n_in": self.n_in, "hidden_sizes": self.egru.hidden_sizes, "n_out": self.n_out,
                    "readout": self.readout, "loss": self.loss, "dtype": str(self.egru.dtype),
                    "configs": [layer.config.to_dict() for layer in self.egru.layers]}
            f.attrs["spec"] = json.dumps(spec)
            g = f.create_group("params")
            for k, v in self.params.items():
                g.create_dataset(k, data=v)
            m = f.create_group("masks")
            for l, layer in enumerate(self.egru.layers):
                for k, v in layer.masks.items():
                    if v is not None:
                        m.create_dataset(f"l{l}.{k}", data=v)

    @classmethod
    def load(cls, path) -> "EGRUClassifier":
        """Read a file written by ``save``."""
        import json

        from ..files import check_backed, open_h5, reading

        with open_h5(path, "eventsim.egru") as f, reading(path):
            try:
                spec = json.loads(f.attrs["spec"])
                arrays = {}
                for group in ("params", "masks"):
                    arrays[group] = {}
                    for k, ds in f[group].items():
                        check_backed(ds, f"{group} {k!r}")
                        arrays[group][k] = np.asarray(ds[()])
                configs = [EGRUConfig(**c) for c in spec["configs"]]
                model = cls(spec["n_in"], spec["hidden_sizes"], spec["n_out"], readout=spec["readout"],
                            loss=spec["loss"], config=configs, dtype=spec["dtype"])
                model.set_params(arrays["params"], arrays["masks"])
            except (KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{type(e).__name__}: {e}") from None
        return model

    def set_params(self, params: Mapping[str, np.ndarray], masks: Optional[Mapping[str, np.ndarray]] = None) -> None:
        """Copy values into the model (keys as ``params``; validated) and set ``l{n}.W``/``l{n}.R`` masks."""
        for l, layer in enumerate(self.egru.layers):
            sub = {k: params[f"l{l}.{k}"] for k in ("W", "R", "b_x", "b_r", "thr") if f"l{l}.{k}" in params}
            if len(sub) != 5:
                raise ValueError(f"params must contain l{l}.W, l{l}.R, l{l}.b_x, l{l}.b_r, l{l}.thr")
            checked = check_layer_params(sub, layer.input_size, layer.hidden_size, layer.dtype)
            for k, v in checked.items():
                layer.params[k][...] = v
            for k in ("W", "R"):
                key = f"l{l}.{k}"
                layer.set_mask(k, None if masks is None or key not in masks else masks[key])
        for k in ("W", "b"):
            v = np.asarray(params[f"out.{k}"])
            if v.shape != self.out_params[k].shape or not np.all(np.isfinite(v)):
                raise ValueError(f"params['out.{k}'] must be finite with shape {self.out_params[k].shape}")
            self.out_params[k][...] = v

    @classmethod
    def from_ntt(cls, result, *, dtype="float64") -> "EGRUClassifier":
        """An EGRU classifier from an ``eventsim.ntt.NTTResult`` of a ``GRUTwin`` (kind 'gru').

        Uses the twin's sizes and hyper-parameters (gamma, width, thr_mean, trace_decay), its
        (sparse) weights W, R, biases, thresholds and read-out, and its masks of W and R (fixed
        during training; a mask that keeps every weight is dropped, so the dense kernels run). The
        twin reads out the trace at the last step (``readout='last'``).
        """
        spec = dict(result.twin_spec)
        if spec.get("kind") != "gru":
            raise ValueError(f"result must come from a GRU twin (kind 'gru'), got kind {spec.get('kind')!r}")
        cfg = EGRUConfig(thr_mean=spec.get("thr_mean", 0.3), gamma=spec.get("gamma", 0.7),
                         width=spec.get("width", 1.0), trace_decay=spec.get("trace_decay", 0.9))
        model = cls(spec["n_in"], spec["n_hidden"], spec["n_out"], readout="last", loss="ce", config=cfg, dtype=dtype)
        p = result.params
        params = {"l0.W": p["W"], "l0.R": p["R"], "l0.b_x": p["b_x"], "l0.b_r": p["b_r"],
                  "l0.thr": np.clip(p["thr"], 0.0, 1.0), "out.W": p["W_out"], "out.b": p["b_out"]}
        masks = {f"l0.{k}": result.masks[k] for k in ("W", "R") if k in result.masks and not np.all(result.masks[k])}
        model.set_params(params, masks)
        return model

    def __repr__(self) -> str:
        return (f"EGRUClassifier(I={self.n_in}, hidden={self.egru.hidden_sizes}, C={self.n_out}, "
                f"readout={self.readout!r}, loss={self.loss!r})")


def describe_egru(model: "EGRUClassifier") -> List[str]:
    """Readable lines about an EGRU model file: sizes, read-out, loss, parameter counts and masks."""
    n_par = sum(int(np.size(v)) for v in model.params.values())
    lines = [f"EGRU classifier {model.n_in} -> {model.egru.hidden_sizes} -> {model.n_out}; readout {model.readout}, "
             f"loss {model.loss}, {n_par} parameters ({model.egru.dtype})"]
    for l, layer in enumerate(model.egru.layers):
        masks = {k: v for k, v in layer.masks.items() if v is not None}
        m = ", ".join(f"{k} {100 * np.mean(v):.3g} % kept" for k, v in masks.items()) or "dense"
        lines.append(f"  layer {l}: {layer.config.to_dict()}; {m}")
    return lines


def _register() -> None:
    from ..formats import FileFormat, register

    register(FileFormat("eventsim.egru", "EGRU model", EGRUClassifier.load, describe_egru))


_register()

