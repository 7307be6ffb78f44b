"""Lava process graphs of a ``LoihiNet`` and runs on ``Loihi2SimCfg`` (CPU) or ``Loihi2HwCfg`` (chip).

Graph (``to_lava``): per input population a ``RingBuffer`` (``lava.proc.io.source``) holding the
whole input raster (time last); per LIF population a ``LIF`` (``lava.proc.lif``) with ``du``,
``dv``, ``vth``, ``bias_mant``, ``bias_exp`` and ``v = v0``; per projection (part) a ``Dense`` or
``Sparse`` (``DelayDense``/``DelaySparse`` when it has delays) with the Lava weight values and, in
fixed point, ``weight_exp``, ``num_weight_bits`` and ``sign_mode`` as proc params; per LIF
population an ``Extractor`` on ``s_out`` to stream the spikes out step by step (a sink's
``data.get()`` costs ~27 us per element; the Extractor costs one message per step), and
optionally a ``Monitor`` on ``v``.

Runs (``run_lava``): a batch of B samples is laid out as ``copies`` block-diagonal copies of the
network (independent, so one Lava step advances ``copies`` samples) times ``ceil(B / copies)``
windows of ``n_steps`` steps; between windows every ``u``, ``v`` and synaptic buffer
(``a_buff``) is set back to the initial state with ``Var.set`` so that each sample starts from
exactly the state the emulator starts from. The runtime is always stopped (``finally``).

Every Lava process runs in its own OS process. Lava is imported inside the functions only.
``Loihi2HwCfg`` needs Intel's proprietary lava-loihi extension (not on PyPI; INRC members); the
chip path builds the same graph plus ``PyToNxAdapter``/``NxToPyAdapter`` around it. It cannot
run here and is untested.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from eventsim.checks import positive_int
from eventsim.extras import require

from .emulator import DiscreteResult, InputEvents, encode_inputs, lif_offsets, source_offsets, steps_for
from .model import LoihiNet, LoihiProjection


def _prepare_lava_import() -> None:
    """Lava calls ``multiprocessing.set_start_method('fork')`` when it is first imported, which
    raises if the start method was already fixed -- Numba's parallel runtime (the emulator) fixes it
    to 'fork' on first use. If it is already 'fork' (what Lava wants), un-fix it so Lava's import
    succeeds; any other method is a real conflict and raises."""
    import multiprocessing as mp
    import sys

    if "lava.magma.runtime.message_infrastructure.multiprocessing" in sys.modules:
        return
    ctx = mp.context._default_context
    actual = getattr(ctx, "_actual_context", None)
    if actual is None:
        return
    if mp.get_start_method() != "fork":
        raise RuntimeError(f"Lava needs the 'fork' multiprocessing start method, but it is already set to "
                           f"{mp.get_start_method()!r} in this process")
    ctx._actual_context = None


def lava_available() -> bool:
    """True if lava-nc can be imported."""
    _prepare_lava_import()
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except Exception:  # pragma: no cover
        return False
    return True


def loihi_hw_available() -> bool:
    """True if Intel's lava-loihi extension (NcProcessModels, embedded I/O adapters) is installed."""
    _prepare_lava_import()
    try:
        import lava.magma.core.model.nc.model  # noqa: F401
        import lava.proc.embedded_io.spike  # noqa: F401
    except Exception:
        return False
    return True


@dataclass
class LavaGraph:
    """The Lava processes of one network (keyed by population / projection name)."""

    lnet: LoihiNet
    sources: Dict[str, Any] = field(default_factory=dict)
    lifs: Dict[str, Any] = field(default_factory=dict)
    conns: Dict[str, Any] = field(default_factory=dict)
    extractors: Dict[str, Any] = field(default_factory=dict)
    monitors: Dict[str, Any] = field(default_factory=dict)
    adapters: Dict[str, Any] = field(default_factory=dict)
    n_steps_total: int = 0

    @property
    def any_process(self):
        return next(iter(self.lifs.values()))

    def run_cfg(self, backend: str = "cpu"):
        """The run configuration: ``Loihi2SimCfg`` with ``select_tag`` fixed_pt/floating_pt (CPU) or
        ``Loihi2HwCfg`` (chip). Extractor and Monitor have untagged models; they are mapped explicitly."""
        from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
        from lava.proc.monitor.models import PyMonitorModel
        from lava.proc.monitor.process import Monitor

        tag = "fixed_pt" if self.lnet.fixed else "floating_pt"
        emap = {Extractor: PyLoihiExtractorModel, Monitor: PyMonitorModel}
        if backend == "cpu":
            return Loihi2SimCfg(select_tag=tag, exception_proc_model_map=emap)
        if backend == "loihi2":  # pragma: no cover - needs lava-loihi and a chip
            return Loihi2HwCfg(exception_proc_model_map=emap)
        raise ValueError(f"backend must be 'cpu' or 'loihi2', got {backend!r}")

    def reset_state(self) -> None:
        """Set u, v (to v0) of every LIF and the synaptic buffers of every connection to the initial state."""
        for name, proc in self.lifs.items():
            p = self.lnet.populations[name]
            proc.u.set(np.zeros(p.size))
            proc.v.set(np.asarray(p.v0, dtype=np.float64))
        for name, conn in self.conns.items():
            conn.a_buff.set(np.zeros(conn.a_buff.shape))


def _sign_mode_enum(mode: Optional[str]):
    from lava.utils.weightutils import SignMode

    return {None: None, "mixed": SignMode.MIXED, "excitatory": SignMode.EXCITATORY,
            "inhibitory": SignMode.INHIBITORY}[mode]


def _make_conn(pr: LoihiProjection, fixed: bool, use_sparse: bool, name: str):
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse

    kw: Dict[str, Any] = {"name": name}
    if fixed:
        kw.update(weight_exp=int(pr.weight_exp), num_weight_bits=int(pr.num_weight_bits))
        if pr.sign_mode is not None:
            kw["sign_mode"] = _sign_mode_enum(pr.sign_mode)
        vals = np.asarray(pr.weights, dtype=np.int64)
    else:
        vals = np.asarray(pr.weights, dtype=np.float64)
    if use_sparse:
        W = pr.to_scipy(vals)
        if pr.delays is not None:
            D = pr.to_scipy(pr.delays.astype(int))
            return DelaySparse(weights=W, delays=D.astype(int), max_delay=pr.max_delay, **kw)
        return Sparse(weights=W, **kw)
    W = pr.to_dense(vals)
    if pr.delays is not None:
        D = pr.to_dense(pr.delays.astype(int)).astype(int)
        return DelayDense(weights=W, delays=D, **kw)
    return Dense(weights=W, **kw)


def to_lava(lnet: LoihiNet, rasters: Mapping[str, np.ndarray], *, sparse: Union[str, bool] = "auto",
            record_v: Sequence[str] = (), backend: str = "cpu", buffer_size: int = 64) -> LavaGraph:
    """Build the Lava process graph of ``lnet``.

    Args:
        lnet: the network (fixed or float precision).
        rasters: ``{input population: (n, T) binary array}``: the RingBuffer contents (time last;
            a RingBuffer repeats its data after T steps).
        sparse: ``True`` (Sparse/DelaySparse), ``False`` (Dense/DelayDense) or ``'auto'``
            (Sparse when fewer than 20 % of the possible synapses exist).
        record_v: LIF populations whose ``v`` a Monitor records every step.
        backend: ``'cpu'`` or ``'loihi2'`` (adds the Py<->Nx adapters of lava-loihi).
        buffer_size: Extractor channel depth (steps).
    """
    _prepare_lava_import()
    require("lava", "building a Lava process graph")
    from lava.proc.io.extractor import Extractor
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    if not isinstance(lnet, LoihiNet):
        raise ValueError(f"lnet must be a LoihiNet, got {type(lnet).__name__}")
    fixed = lnet.fixed
    g = LavaGraph(lnet)
    T = None
    for name, p in lnet.populations.items():
        if p.is_input:
            if name not in rasters:
                raise ValueError(f"rasters: missing input population {name!r}")
            R = np.asarray(rasters[name])
            if R.ndim != 2 or R.shape[0] != p.size:
                raise ValueError(f"rasters[{name!r}] must have shape ({p.size}, T), got {R.shape}")
            T = R.shape[1] if T is None else T
            g.sources[name] = RingBuffer(data=R.astype(np.int32 if fixed else np.float64))
        else:
            kw = dict(shape=(p.size,), u=0, v=np.asarray(p.v0), du=p.du, dv=p.dv, vth=p.vth,
                      bias_mant=np.asarray(p.bias_mant), bias_exp=np.asarray(p.bias_exp), name=name)
            g.lifs[name] = LIF(**kw)
    g.n_steps_total = int(T or 0)
    hw = backend == "loihi2"
    if hw:  # pragma: no cover - needs lava-loihi
        from lava.proc.embedded_io.spike import NxToPyAdapter, PyToNxAdapter
    for name, pr in lnet.projections.items():
        density = pr.n_synapses / max(1, pr.n_pre * pr.n_post)
        use_sparse = (density < 0.2) if sparse == "auto" else bool(sparse)
        conn = _make_conn(pr, fixed, use_sparse, name)
        g.conns[name] = conn
        src = g.sources.get(pr.src) or g.lifs[pr.src]
        if hw and pr.src in g.sources:  # pragma: no cover
            if pr.src not in g.adapters:
                g.adapters[pr.src] = PyToNxAdapter(shape=(lnet.populations[pr.src].size,))
                src.s_out.connect(g.adapters[pr.src].inp)
            g.adapters[pr.src].out.connect(conn.s_in)
        else:
            src.s_out.connect(conn.s_in)
        conn.a_out.connect(g.lifs[pr.dst].a_in)
    for name, lif in g.lifs.items():
        ex = Extractor(shape=(lnet.populations[name].size,), buffer_size=buffer_size)
        if hw:  # pragma: no cover
            ad = NxToPyAdapter(shape=(lnet.populations[name].size,))
            lif.s_out.connect(ad.inp)
            ad.out.connect(ex.in_port)
            g.adapters[name + "/out"] = ad
        else:
            lif.s_out.connect(ex.in_port)
        g.extractors[name] = ex
    if record_v:
        from lava.proc.monitor.process import Monitor

        for name in record_v:
            if name not in g.lifs:
                raise ValueError(f"record_v: {name!r} is not a LIF population (have {list(g.lifs)})")
            m = Monitor()
            m.probe(g.lifs[name].v, g.n_steps_total)
            g.monitors[name] = m
    return g


def _as_lnet(net, dt, precision, quantize_kwargs):
    from eventsim.network import Network

    if isinstance(net, LoihiNet):
        if precision is not None and precision != net.precision:
            raise ValueError(f"precision {precision!r} differs from the LoihiNet's {net.precision!r}")
        return net
    if isinstance(net, Network):
        if dt is None:
            raise ValueError("dt (ms) is required to map an eventsim Network to Loihi")
        from .quantize import quantize

        return quantize(net, dt, precision=precision or "fixed", **dict(quantize_kwargs or {}))
    raise ValueError(f"net must be an eventsim Network or a LoihiNet, got {type(net).__name__}")


def run_lava(net, inputs=None, n_steps: Optional[int] = None, *, t_max: Optional[float] = None,
             dt: Optional[float] = None, precision: Optional[str] = None, backend: str = "cpu",
             sparse: Union[str, bool] = "auto", copies: int = 1, record_v: Sequence[str] = (),
             quantize_kwargs: Optional[Mapping[str, Any]] = None, progress: bool = False) -> DiscreteResult:
    """Run a network in Lava and return its spikes as a ``DiscreteResult`` (``.spikes(pop)`` is a SpikeBatch).

    Args:
        net: a LoihiNet, or an eventsim Network (then ``dt`` is required and it is quantised with
            ``quantize(net, dt, precision=precision, **quantize_kwargs)``).
        inputs: as for ``emulate`` (SpikeBatch in ms, binary rasters, dict); one sample per window.
        n_steps: steps per sample (give this or ``t_max``, not both).
        t_max: ms per sample, converted to steps as in ``emulate``.
        precision: ``'fixed'`` (Lava ``fixed_pt``) or ``'float'`` (``floating_pt``); default: the
            LoihiNet's, or fixed for a Network.
        backend: ``'cpu'`` (Loihi2SimCfg) or ``'loihi2'`` (Loihi2HwCfg; needs lava-loihi and a chip).
        sparse: connection process type, see ``to_lava``.
        copies: samples advanced together as block-diagonal copies of the network (>= 1).
        record_v: LIF populations whose v is recorded every step (Monitor; ~27 us per value read).
        progress: print one line per window.
    """
    if backend not in ("cpu", "loihi2"):
        raise ValueError(f"backend must be 'cpu' or 'loihi2', got {backend!r}")
    if backend == "loihi2" and not loihi_hw_available():
        raise RuntimeError("backend='loihi2' needs Intel's lava-loihi extension (NcProcessModels and "
                           "lava.proc.embedded_io), which is not installed here (it is available to INRC members "
                           "only); use backend='cpu' (Loihi2SimCfg) or the bit-exact emulator")
    copies = positive_int("copies", copies)
    lnet = _as_lnet(net, dt, precision, quantize_kwargs)
    T = steps_for(lnet, n_steps, t_max)
    ev = inputs if isinstance(inputs, InputEvents) else encode_inputs(lnet, inputs, T)
    B = ev.n_samples
    k = int(min(copies, B))
    n_win = int(math.ceil(B / k))
    big = lnet.replicate(k) if k > 1 else lnet
    soff = source_offsets(lnet)
    # RingBuffer contents: sample s -> copy s % k, window s // k
    rasters = {}
    smp = np.repeat(np.arange(B), np.diff(ev.offsets))
    for name in lnet.input_names:
        o, n = soff[name]
        R = np.zeros((n * k, n_win * T), dtype=np.int8)
        sel = (ev.src >= o) & (ev.src < o + n)
        s = smp[sel]
        R[(s % k) * n + (ev.src[sel] - o), (s // k) * T + ev.step[sel]] = 1
        rasters[name] = R
    t0 = time.perf_counter()
    g = to_lava(big, rasters, sparse=sparse, record_v=record_v, backend=backend)
    t_build = time.perf_counter() - t0
    from lava.magma.core.run_conditions import RunSteps

    cfg = g.run_cfg(backend)
    proc = g.any_process
    lif_names = list(g.lifs)
    sizes = {nm: lnet.populations[nm].size for nm in lif_names}
    spikes_per_pop: Dict[str, List[np.ndarray]] = {nm: [] for nm in lif_names}
    t_first = t_steps = t_reset = 0.0
    started = False
    vdata = {}
    try:
        for w in range(n_win):
            if w > 0:
                tr = time.perf_counter()
                g.reset_state()
                t_reset += time.perf_counter() - tr
            tw = time.perf_counter()
            started = True
            proc.run(condition=RunSteps(num_steps=T, blocking=False), run_cfg=cfg)
            for t in range(T):
                for nm in lif_names:
                    x = g.extractors[nm].receive()
                    nz = np.flatnonzero(x)
                    if nz.size:
                        spikes_per_pop[nm].append(np.stack([np.full(nz.size, w * T + t), nz]))
            proc.wait()
            dtw = time.perf_counter() - tw
            if w == 0:
                t_first = dtw
            else:
                t_steps += dtw
            if progress:
                print(f"run_lava: window {w + 1}/{n_win} ({dtw:.2f} s)", flush=True)
        for nm, m in g.monitors.items():
            vdata[nm] = np.asarray(m.get_data()[g.lifs[nm].name]["v"])
    finally:
        # always stop the runtime (one OS process per Lava process), also after a failed start
        if started or getattr(proc, "runtime", None) is not None:
            try:
                proc.stop()
            except Exception:  # pragma: no cover - nothing more to clean up
                pass
    # demultiplex: global step -> (window, step), replicated id -> (copy, neuron)
    lo = lif_offsets(lnet)
    per_sample_steps: List[List[np.ndarray]] = [[] for _ in range(B)]
    per_sample_ids: List[List[np.ndarray]] = [[] for _ in range(B)]
    for nm in lif_names:
        if not spikes_per_pop[nm]:
            continue
        a = np.concatenate(spikes_per_pop[nm], axis=1)
        gstep, rid = a[0], a[1]
        win, st = gstep // T, gstep % T
        cp, nid = rid // sizes[nm], rid % sizes[nm]
        s = win * k + cp
        ok = s < B
        for b in np.unique(s[ok]):
            m = ok & (s == b)
            per_sample_steps[b].append(st[m])
            per_sample_ids[b].append(nid[m] + lo[nm][0])
    steps_l, ids_l, lens = [], [], []
    for b in range(B):
        if per_sample_steps[b]:
            st = np.concatenate(per_sample_steps[b])
            ids = np.concatenate(per_sample_ids[b])
            order = np.lexsort((ids, st))
            steps_l.append(st[order])
            ids_l.append(ids[order])
            lens.append(st.size)
        else:
            lens.append(0)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    steps = np.concatenate(steps_l).astype(np.int64) if steps_l else np.zeros(0, np.int64)
    ids = np.concatenate(ids_l).astype(np.int64) if ids_l else np.zeros(0, np.int64)
    rec_v = rec_ids = None
    if vdata:
        cols, blocks = [], []
        for nm in record_v:
            n = sizes[nm]
            V = vdata[nm].reshape(n_win * T, k * n)       # (total steps, k*n)
            Vs = np.zeros((B, T, n))
            for b in range(B):
                w, c = b // k, b % k
                Vs[b] = V[w * T:(w + 1) * T, c * n:(c + 1) * n]
            blocks.append(Vs)
            cols.append(np.arange(n) + lo[nm][0])
        rec_v = np.concatenate(blocks, axis=2)
        rec_ids = np.concatenate(cols)
    res = DiscreteResult(lnet, T, steps, ids, offsets, None, rec_v, rec_ids, backend=f"lava-{backend}",
                         input_stats=ev.stats)
    res.timings = {"build_s": t_build, "first_window_s": t_first, "other_windows_s": t_steps,
                   "resets_s": t_reset, "windows": n_win, "copies": k, "steps_per_window": T,
                   "total_steps": n_win * T}
    return res
