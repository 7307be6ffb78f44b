"""Bit-exact emulator of Lava's ``fixed_pt`` LIF + Dense/Sparse/DelayDense models (and of the
``floating_pt`` ones) on the CPU with Numba, many samples in parallel.

``emulate(lnet, inputs, n_steps)`` runs a ``LoihiNet`` (see ``model.py`` for the equations and the
step convention) for every sample of ``inputs`` from the initial state (``u = 0``, ``v = v0``,
empty synaptic buffers) and returns a ``DiscreteResult``. In fixed precision every operation is
the one of Lava 0.10 (same integer widths, truncations, wrap-around and saturation), so the spike
raster equals Lava's step by step; ``tests/test_hardware_lava.py`` checks this against Lava itself.
In float precision the arithmetic is that of the ``floating_pt`` models in float64; only the
summation order of simultaneous synaptic inputs can differ from numpy's (an ulp-level difference).

Inputs are spike times in ms (``SpikeBatch``, rounded to the nearest step, ``t -> floor(t/dt + 1/2)``),
or binary rasters ``(n_in, T)`` / ``(B, n_in, T)`` (time last, as Lava's ``RingBuffer``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from eventsim.spikes import SpikeBatch
from eventsim.checks import positive_int
from eventsim.params import positive_ms

from .model import LoihiNet


# ---------------------------------------------------------------------------------- inputs
@dataclass
class InputEvents:
    """Input spikes as steps: CSR over samples of ``(step, source id)`` sorted by step."""

    step: np.ndarray
    src: np.ndarray
    offsets: np.ndarray
    n_samples: int
    n_steps: int
    stats: Dict[str, float] = field(default_factory=dict)

    def raster(self, lnet: LoihiNet, population: str) -> np.ndarray:
        """Binary raster ``(B, n, T)`` of one input population (the RingBuffer data, per sample)."""
        off, n = source_offsets(lnet)[population]
        R = np.zeros((self.n_samples, n, self.n_steps), dtype=bool)
        s = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        sel = (self.src >= off) & (self.src < off + n)
        R[s[sel], self.src[sel] - off, self.step[sel]] = True
        return R


def source_offsets(lnet: LoihiNet) -> Dict[str, Tuple[int, int]]:
    """Source-id offset and size of every population (sources are all neurons, in net order)."""
    out, o = {}, 0
    for name, p in lnet.populations.items():
        out[name] = (o, p.size)
        o += p.size
    return out


def lif_offsets(lnet: LoihiNet) -> Dict[str, Tuple[int, int]]:
    """LIF-id offset and size of every LIF population."""
    out, o = {}, 0
    for name, p in lnet.populations.items():
        if not p.is_input:
            out[name] = (o, p.size)
            o += p.size
    return out


def encode_inputs(lnet: LoihiNet, inputs, n_steps: int) -> InputEvents:
    """Convert inputs to step events. ``inputs``: None (one silent sample), a SpikeBatch (times in
    ms; the only input population), a binary raster ``(n_in, T)`` or ``(B, n_in, T)``, or a dict
    ``{input population: SpikeBatch | raster}``. Spike times round to the nearest step; spikes
    at or after ``n_steps`` are dropped and two spikes of one neuron in one step merge (Lava's
    input is a binary raster). ``stats`` reports the timing error and those counts."""
    names = lnet.input_names
    soff = source_offsets(lnet)
    if inputs is None:
        return InputEvents(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(2, np.int64), 1, n_steps,
                           {"max_time_error_ms": 0.0, "n_dropped": 0, "n_merged": 0, "n_spikes": 0})
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise ValueError(f"inputs: the network has {len(names)} input populations {names}; pass a dict")
        inputs = {names[0]: inputs}
    for k in inputs:
        if k not in names:
            raise ValueError(f"inputs: {k!r} is not an input population (have {names})")
    steps, srcs, smps = [], [], []
    B = None
    max_err, dropped, n_in_spikes = 0.0, 0, 0
    for k, x in inputs.items():
        off, n = soff[k]
        if isinstance(x, SpikeBatch):
            if x.n_spikes and int(x.ids.max()) >= n:
                raise ValueError(f"inputs[{k!r}]: neuron id {int(x.ids.max())} out of range for population of size {n}")
            b = x.n_samples
            st = np.floor(x.times / lnet.dt + 0.5).astype(np.int64)
            if x.n_spikes:
                max_err = max(max_err, float(np.abs(st * lnet.dt - x.times).max()))
            smp = np.repeat(np.arange(b), np.diff(x.offsets))
            ids = x.ids.astype(np.int64)
            n_in_spikes += x.n_spikes
        else:
            R = np.asarray(x)
            if R.ndim == 2:
                R = R[None]
            if R.ndim != 3 or R.shape[1] != n:
                raise ValueError(f"inputs[{k!r}] raster must have shape ({n}, T) or (B, {n}, T), got {np.shape(x)}")
            if R.dtype.kind not in "biu" or (R.size and (R.min() < 0 or R.max() > 1)):
                raise ValueError(f"inputs[{k!r}] raster must be binary (0/1 or bool)")
            b = R.shape[0]
            smp, st, ids = (a.astype(np.int64) for a in np.nonzero(R.transpose(0, 2, 1)))  # sorted by (sample, step)
            n_in_spikes += st.size
        if B is None:
            B = b
        elif B != b:
            raise ValueError(f"inputs: all populations must have the same number of samples, got {B} and {b}")
        keep = st < n_steps
        dropped += int((~keep).sum())
        steps.append(st[keep])
        srcs.append(ids[keep] + off)
        smps.append(smp[keep])
    st, sr, sm = np.concatenate(steps), np.concatenate(srcs), np.concatenate(smps)
    presorted = len(steps) == 1 and not isinstance(next(iter(inputs.values())), SpikeBatch)
    if not presorted:  # a single raster comes sorted by (sample, step, neuron) without duplicates
        order = np.lexsort((sr, st, sm))
        st, sr, sm = st[order], sr[order], sm[order]
    dup = np.zeros(st.size, dtype=bool)
    if st.size > 1 and not presorted:
        dup[1:] = (st[1:] == st[:-1]) & (sr[1:] == sr[:-1]) & (sm[1:] == sm[:-1])
    st, sr, sm = st[~dup], sr[~dup], sm[~dup]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sm, minlength=B))]).astype(np.int64)
    return InputEvents(st, sr, offsets, int(B), int(n_steps),
                       {"max_time_error_ms": max_err, "n_dropped": dropped, "n_merged": int(dup.sum()),
                        "n_spikes": int(n_in_spikes)})


def steps_for(lnet: LoihiNet, n_steps: Optional[int], t_max: Optional[float]) -> int:
    """``n_steps`` or, from ``t_max`` (ms), the steps 0..round(t_max/dt) that cover [0, t_max]."""
    if (n_steps is None) == (t_max is None):
        raise ValueError("give exactly one of n_steps and t_max")
    if n_steps is None:
        t_max = positive_ms("t_max", t_max)
        n_steps = int(np.floor(t_max / lnet.dt + 0.5)) + 1
    return positive_int("n_steps", n_steps)


# ---------------------------------------------------------------------------------- result
class DiscreteResult:
    """Spikes (and voltages) of a discrete-time run: emulator or Lava. A LIF spike at step ``t``
    has time ``t * dt`` ms; ``spikes(pop)`` gives an eventsim ``SpikeBatch``."""

    def __init__(self, lnet: LoihiNet, n_steps: int, steps: np.ndarray, lif_ids: np.ndarray, offsets: np.ndarray,
                 vmax: Optional[np.ndarray] = None, rec_v: Optional[np.ndarray] = None,
                 rec_ids: Optional[np.ndarray] = None, backend: str = "numba", input_stats=None):
        self.dt = lnet.dt
        self.precision = lnet.precision
        self.n_steps = int(n_steps)
        self.steps, self.lif_ids, self.offsets = steps, lif_ids, offsets
        self.vmax, self.rec_v, self.rec_ids = vmax, rec_v, rec_ids
        self.backend = backend
        self.input_stats = dict(input_stats or {})
        self._lif = lif_offsets(lnet)
        self._conv = {n: (lnet.populations[n].scale, lnet.populations[n].v_offset) for n in self._lif}
        self.timings: Dict[str, float] = {}
        self.overflow: Dict[str, int] = {}
        self.vmin: Optional[np.ndarray] = None     # (B, N_lif) minimum v (Lava units), emulator only
        self.umax: Optional[np.ndarray] = None     # (B, N_lif) maximum |u| (Lava units), emulator only

    @property
    def n_samples(self) -> int:
        return self.offsets.size - 1

    @property
    def n_spikes(self) -> int:
        return int(self.steps.size)

    @property
    def populations(self):
        return list(self._lif)

    def _pop(self, name: str):
        if name not in self._lif:
            raise ValueError(f"population {name!r} is not a LIF population of this run (have {list(self._lif)})")
        return self._lif[name]

    def spike_steps(self, population: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(steps, local ids, offsets)`` of one population (CSR over samples)."""
        o, n = self._pop(population)
        sel = (self.lif_ids >= o) & (self.lif_ids < o + n)
        smp = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        offs = np.concatenate([[0], np.cumsum(np.bincount(smp[sel], minlength=self.n_samples))]).astype(np.int64)
        return self.steps[sel], self.lif_ids[sel] - o, offs

    def spikes(self, population: str) -> SpikeBatch:
        """Spikes of one population as a SpikeBatch (times ``step * dt`` ms, local ids)."""
        st, ids, offs = self.spike_steps(population)
        return SpikeBatch(st * self.dt, ids, offs, self._pop(population)[1], validate=False)

    def spike_dict(self) -> Dict[str, SpikeBatch]:
        return {n: self.spikes(n) for n in self._lif}

    def rasters(self, population: str) -> np.ndarray:
        """Binary rasters ``(n_samples, n_steps, n)``."""
        st, ids, offs = self.spike_steps(population)
        R = np.zeros((self.n_samples, self.n_steps, self._pop(population)[1]), dtype=bool)
        R[np.repeat(np.arange(self.n_samples), np.diff(offs)), st, ids] = True
        return R

    def raster(self, population: str, sample: int = 0) -> np.ndarray:
        return self.rasters(population)[sample]

    def first_spike_times(self, population: str) -> np.ndarray:
        return self.spikes(population).first_spike_times()

    def counts(self, population: str) -> np.ndarray:
        return self.spikes(population).counts()

    def max_voltage(self, population: str) -> np.ndarray:
        """(n_samples, n) maximum of V over the run (eventsim units ``v_offset + v/scale``), incl. V(0)."""
        if self.vmax is None:
            raise ValueError("this run did not keep the maximum voltage")
        o, n = self._pop(population)
        s, off = self._conv[population]
        return off + self.vmax[:, o:o + n] / s

    def voltage(self, population: str, raw: bool = False) -> np.ndarray:
        """Recorded voltage ``(n_samples, n_steps, n_recorded)`` after each step (after reset)."""
        if self.rec_v is None or self.rec_ids is None:
            raise ValueError("no voltage was recorded: pass record_v={population: 'all' | ids}")
        o, n = self._pop(population)
        cols = np.flatnonzero((self.rec_ids >= o) & (self.rec_ids < o + n))
        if cols.size == 0:
            raise ValueError(f"population {population!r} was not recorded")
        v = self.rec_v[:, :, cols]
        if raw:
            return v
        s, off = self._conv[population]
        return off + v / s

    def voltage_integral(self, population: str) -> np.ndarray:
        """(n_samples, n) integral of V over the run (ms x eventsim voltage units): ``dt * sum_t V_t``
        of the recorded voltage after each step (the discrete counterpart of
        ``eventsim.Result.voltage_integral``; needs ``record_v`` of the whole population)."""
        v = self.voltage(population)
        n = self._pop(population)[1]
        if v.shape[2] != n:
            raise ValueError(f"voltage_integral needs every neuron of {population!r} recorded (record_v 'all')")
        return self.dt * v.sum(axis=1)

    def mismatches(self, other: "DiscreteResult") -> Dict[str, int]:
        """Number of differing raster entries per population (0 everywhere = identical spikes)."""
        if other.n_samples != self.n_samples or other.n_steps != self.n_steps:
            raise ValueError("runs differ in samples or steps")
        return {n: int(np.count_nonzero(self.rasters(n) != other.rasters(n))) for n in self._lif}

    def same_spikes(self, other: "DiscreteResult") -> bool:
        return all(v == 0 for v in self.mismatches(other).values())

    def __repr__(self) -> str:
        return (f"DiscreteResult({self.backend}, {self.precision}, samples={self.n_samples}, steps={self.n_steps}, "
                f"dt={self.dt} ms, spikes={self.n_spikes})")


# ---------------------------------------------------------------------------------- layout
class EmulatorLayout:
    """Flattened arrays of a LoihiNet for the kernels (see ``kernels.py``)."""

    def __init__(self, lnet: LoihiNet):
        fixed = lnet.fixed
        lif = lif_offsets(lnet)
        src = source_offsets(lnet)
        names = list(lif)
        self.N = sum(n for _, n in lif.values())
        self.G = sum(n for _, n in src.values())
        pidx = {n: i for i, n in enumerate(names)}
        self.lif_pop = np.repeat(np.arange(len(names), dtype=np.int64), [lif[n][1] for n in names])
        ity = np.int64 if fixed else np.float64
        pops = [lnet.populations[n] for n in names]
        self.du = np.array([p.du for p in pops], dtype=ity)
        self.dv = np.array([p.dv for p in pops], dtype=ity)
        if fixed:
            self.vth = np.array([p.vth for p in pops], dtype=np.int64)
            # effective bias as Lava's scale_bias: int32(bias_mant) << bias_exp
            self.bias = (np.concatenate([p.bias_mant.astype(np.int64) << p.bias_exp.astype(np.int64) for p in pops])
                         if pops else np.zeros(0, np.int64))
            self.v0 = np.concatenate([p.v0 for p in pops]).astype(np.int64) if pops else np.zeros(0, np.int64)
        else:
            self.vth = np.array([p.vth for p in pops], dtype=np.float64)
            self.bias = np.concatenate([p.bias_mant for p in pops]).astype(np.float64) if pops else np.zeros(0)
            self.v0 = np.concatenate([p.v0 for p in pops]).astype(np.float64) if pops else np.zeros(0)
        self.lif_src = np.concatenate([np.arange(src[n][0], src[n][0] + lif[n][1]) for n in names]).astype(np.int64) \
            if names else np.zeros(0, np.int64)
        projs = list(lnet.projections.values())
        Q = len(projs)
        self.q_dst_off = np.array([lif[p.dst][0] for p in projs], dtype=np.int64)
        self.q_npost = np.array([p.n_post for p in projs], dtype=np.int64)
        self.q_D = np.array([p.max_delay for p in projs], dtype=np.int64)
        sizes = (self.q_D + 1) * self.q_npost
        self.q_ring_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if Q else np.zeros(0, np.int64)
        self.ring_size = int(sizes.sum()) if Q else 0
        self.q_wexp = np.array([p.weight_exp if fixed else 0 for p in projs], dtype=np.int64)
        gs, qs, posts, ws, ds = [], [], [], [], []
        for qi, p in enumerate(projs):
            gs.append(p.pre_indices() + src[p.src][0])
            qs.append(np.full(p.n_synapses, qi, np.int64))
            posts.append(p.indices.astype(np.int64))
            if fixed:
                w = p.effective_weights()
                if p.weight_exp >= 0:
                    w = w << int(p.weight_exp)
                ws.append(w.astype(np.int64))
            else:
                ws.append(np.asarray(p.weights, dtype=np.float64))
            ds.append(p.delays.astype(np.int64) if p.delays is not None else np.zeros(p.n_synapses, np.int64))
        g = np.concatenate(gs) if gs else np.zeros(0, np.int64)
        order = np.argsort(g, kind="stable")
        self.fo_q = (np.concatenate(qs) if qs else np.zeros(0, np.int64))[order]
        self.fo_post = (np.concatenate(posts) if posts else np.zeros(0, np.int64))[order]
        self.fo_w = (np.concatenate(ws) if ws else np.zeros(0, ity))[order].astype(ity)
        self.fo_d = (np.concatenate(ds) if ds else np.zeros(0, np.int64))[order]
        self.fo_ptr = np.zeros(self.G + 1, np.int64)
        np.cumsum(np.bincount(g, minlength=self.G), out=self.fo_ptr[1:])
        self.fixed = fixed

    def kernel_arrays(self):
        """The arrays as the kernels take them: ``(kernels.Neurons, kernels.Synapses)`` (Lava units
        in fixed point: int64 Lava units; in float point: float64; delays in steps)."""
        from . import kernels

        nrn = kernels.Neurons(self.lif_pop, self.du, self.dv, self.vth, self.bias, self.v0)
        syn = kernels.Synapses(self.lif_src, self.q_dst_off, self.q_npost, self.q_D, self.q_ring_off, self.q_wexp,
                               self.ring_size, self.fo_ptr, self.fo_q, self.fo_post, self.fo_w, self.fo_d)
        return nrn, syn


def _record_ids(lnet: LoihiNet, record_v) -> np.ndarray:
    if not record_v:
        return np.zeros(0, np.int64)
    lif = lif_offsets(lnet)
    ids = []
    for name, sel in record_v.items():
        if name not in lif:
            raise ValueError(f"record_v: {name!r} is not a LIF population (have {list(lif)})")
        o, n = lif[name]
        loc = np.arange(n) if (isinstance(sel, str) and sel == "all") else np.asarray(sel, dtype=np.int64).ravel()
        if loc.size and (loc.min() < 0 or loc.max() >= n):
            raise ValueError(f"record_v[{name!r}]: neuron ids out of range [0, {n})")
        ids.append(loc + o)
    return np.concatenate(ids).astype(np.int64)


def emulate(lnet: LoihiNet, inputs=None, n_steps: Optional[int] = None, *, t_max: Optional[float] = None,
            record_v: Optional[Mapping[str, Union[str, Sequence[int]]]] = None,
            capacity: Optional[int] = None, layout: Optional[EmulatorLayout] = None,
            track_stats: Optional[bool] = None) -> DiscreteResult:
    """Run ``lnet`` for ``n_steps`` steps (or ``t_max`` ms) on every sample of ``inputs``.

    Args:
        lnet: a LoihiNet (``quantize(net, dt)`` or hand-built), fixed or float precision.
        inputs: see ``encode_inputs`` (SpikeBatch in ms, binary rasters, or a dict of them).
        n_steps: length of the run in steps (give this or ``t_max``, not both).
        t_max: length of the run in ms: the steps 0..round(t_max / dt) that cover [0, t_max] (``steps_for``).
        record_v: ``{population: 'all' | [ids]}``: keep v after every step (memory B*T*n).
        capacity: initial spike-buffer size per sample (grown automatically).
        layout: a precomputed ``EmulatorLayout(lnet)`` (saves its construction in loops).
        track_stats: keep per-neuron max/min of v and max |u| (``max_voltage``, calibration,
            ``overflow['max_abs_u']``); default: only if the network has a non-spiking read-out.
            Costs ~20 % of the run time.
    """
    from . import kernels

    if not isinstance(lnet, LoihiNet):
        raise ValueError(f"lnet must be a LoihiNet (use eventsim.hardware.loihi.quantize(net, dt)), got {type(lnet).__name__}")
    T = steps_for(lnet, n_steps, t_max)
    ev = inputs if isinstance(inputs, InputEvents) else encode_inputs(lnet, inputs, T)
    L = layout or EmulatorLayout(lnet)
    nrn, syn = L.kernel_arrays()
    evs = kernels.Events(ev.step, ev.src, ev.offsets)
    B = ev.n_samples
    if track_stats is None:
        track_stats = any(not p.spiking for p in lnet.populations.values() if not p.is_input)
    track = bool(track_stats)
    rec_l = _record_ids(lnet, record_v)
    vty = np.int64 if L.fixed else np.float64
    rec_v = np.zeros((B, T, rec_l.size) if rec_l.size else (B, 0, 0), dtype=vty)
    vmax = np.zeros((B, L.N), dtype=vty)
    overflow = np.zeros((B, 3), dtype=np.int64)
    vmin = np.zeros((B, L.N), dtype=vty)
    umax = np.zeros((B, L.N), dtype=vty)
    cap = int(capacity) if capacity else max(64, 2 * ev.step.size // max(B, 1) + L.N)
    todo = np.arange(B, dtype=np.int64)
    steps_list = [None] * B
    ids_list = [None] * B
    while todo.size:
        m = todo.size
        out_step = np.empty((m, cap), np.int64)
        out_lif = np.empty((m, cap), np.int64)
        counts = np.zeros(m, np.int64)
        vm = np.zeros((m, L.N), dtype=vty)
        rv = np.zeros((m,) + rec_v.shape[1:], dtype=vty)
        ov = np.zeros((m, 3), dtype=np.int64)
        vn = np.zeros((m, L.N), dtype=vty)
        um = np.zeros((m, L.N), dtype=vty)
        out = kernels.Outputs(rec_l, rv, out_step, out_lif, counts, vm, vn, um, ov)
        if L.fixed:
            run = kernels.run_fixed if m > 1 else kernels.run_fixed_serial
        else:
            run = kernels.run_float if m > 1 else kernels.run_float_serial
        run(todo, T, nrn, syn, evs, out, track)
        done = counts <= cap
        for k in np.flatnonzero(done):
            s = int(todo[k])
            c = int(counts[k])
            steps_list[s], ids_list[s] = out_step[k, :c], out_lif[k, :c]
            vmax[s] = vm[k]
            overflow[s] = ov[k]
            vmin[s] = vn[k]
            umax[s] = um[k]
            if rec_l.size:
                rec_v[s] = rv[k]
        if not np.all(done):
            cap = int(2 * counts[~done].max())
        todo = todo[~done]
    lens = np.array([x.size for x in steps_list], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    steps = np.concatenate(steps_list) if B else np.zeros(0, np.int64)
    ids = np.concatenate(ids_list) if B else np.zeros(0, np.int64)
    res = DiscreteResult(lnet, T, steps, ids, offsets, vmax, rec_v if rec_l.size else None,
                         rec_l if rec_l.size else None, backend="numba", input_stats=ev.stats)
    if track:
        res.vmin, res.umax = vmin, umax
    else:
        res.vmax = None
    if L.fixed:
        res.overflow = {"u_wraps": int(overflow[:, 0].sum()), "v_saturations": int(overflow[:, 1].sum())}
        if track:
            res.overflow["max_abs_u"] = int(overflow[:, 2].max()) if B else 0
    return res
