"""NIR (Neuromorphic Intermediate Representation, ``nir`` package) export and import.

Mapping (one NIR node per eventsim population and per projection)::

    input population  n          ->  nir.Input(input_type={"input": [n]})
    LIF population (v_th finite) ->  nir.CubaLIF(tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in)
    read-out (v_th = inf)        ->  nir.CubaLI(tau_syn, tau_mem, r, v_leak, w_in)
    projection src -> dst        ->  nir.Linear(weight = W[post, pre]) named "src->dst"
                                     (preceded by nir.Delay named "src->dst.delay" when it has delays
                                     that depend on the presynaptic neuron only)
    population without outgoing projections -> nir.Output named "output" (or "output_<pop>")

Units and conventions. NIR stores no time step and its docs and example files disagree on units
(ms in the docs table, seconds in the shipped files); we write **seconds** (tau / 1000) and
record ``metadata = {"time_unit": "s", "dt": dt_s, ...}``. NIR's CubaLIF is
``tau_syn dI/dt = -I + w_in * x``, ``tau_mem dV/dt = (v_leak - V) + r * I``; simulators that read NIR
(Norse, snnTorch) integrate it with forward Euler on a grid ``dt`` and feed a spike as ``x = 1``
in one step, so that ``I`` jumps by ``(dt / tau_syn) * w_in * W``. eventsim's model (``I`` jumps by
``W``, ``tau_m dV/dt = -(V - v_leak) + I``) is therefore written with ``w_in = tau_syn / dt`` and
``r = 1`` for a chosen ``dt``; ``from_nir`` inverts this (weights ``W * w_in * r * dt / tau_syn``
per target neuron), so the round trip is exact and foreign files are read under the same
convention. The same ``dt`` must be given to the reader (Norse: ``from_nir(graph, dt=dt_s)``).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np

from eventsim.extras import require
from eventsim.network import Network
from eventsim.params import LIFParams, positive_ms

NIR_TIME_UNIT = 1e-3      # eventsim ms -> NIR seconds


def to_nir(net: Network, dt: float, *, outputs: str = "sinks"):
    """The NIR graph of ``net`` for simulators with step ``dt`` (ms). ``outputs``: ``'sinks'``
    (an Output node for every LIF population without outgoing projections) or ``'all'``
    (one for every LIF population)."""
    nir = require("nir", "NIR export and import")

    if not isinstance(net, Network):
        raise ValueError(f"net must be an eventsim Network, got {type(net).__name__}")
    dt = positive_ms("dt", dt)
    if outputs not in ("sinks", "all"):
        raise ValueError(f"outputs must be 'sinks' or 'all', got {outputs!r}")
    s = NIR_TIME_UNIT
    nodes: Dict[str, object] = {}
    edges = []
    for name, pop in net.populations.items():
        n = pop.size
        if pop.is_input:
            nodes[name] = nir.Input(input_type={"input": np.array([n])})
            continue
        p = pop.params
        if p.t_ref > 0:
            raise ValueError(f"t_ref of population {name!r} is {p.t_ref!r} ms: NIR's CubaLIF has no refractory period")
        if p.dual:
            raise ValueError(f"population {name!r} has two synaptic currents (tau_syn_inh={p.tau_syn_inh!r} ms): NIR's "
                             "CubaLIF and CubaLI have one synaptic time constant, so only tau_syn_inh=None is exported")
        common = dict(tau_syn=np.full(n, p.tau_syn * s), tau_mem=np.full(n, p.tau_mem * s), r=np.ones(n),
                      v_leak=np.full(n, p.v_leak), w_in=np.full(n, p.tau_syn / dt))
        if p.spiking:
            nodes[name] = nir.CubaLIF(v_threshold=np.full(n, p.v_th), v_reset=np.full(n, p.v_reset), **common)
        else:
            nodes[name] = nir.CubaLI(**common)
    has_out = {pr.src for pr in net.projections.values()}
    for pname, pr in net.projections.items():
        W = pr.to_dense()
        src = pr.src
        if pr.delays is not None and np.any(pr.delays):
            pre = pr.pre_indices()
            per_pre = np.zeros(pr.n_pre)
            per_pre[pre] = pr.delays
            if not np.allclose(per_pre[pre], pr.delays):
                raise ValueError(f"delays of projection {pname} differ between synapses of one presynaptic neuron; "
                                 "NIR's Delay node holds one delay per input channel")
            dname = f"{pname}.delay"
            nodes[dname] = nir.Delay(delay=per_pre * s)
            edges.append((src, dname))
            src = dname
        nodes[pname] = nir.Linear(weight=W)
        edges.append((src, pname))
        edges.append((pname, pr.dst))
    lifs = [n for n, p in net.populations.items() if not p.is_input]
    outs = [n for n in lifs if n not in has_out] if outputs == "sinks" else lifs
    for n in outs:
        oname = "output" if len(outs) == 1 else f"output_{n}"
        nodes[oname] = nir.Output(output_type={"output": np.array([net.populations[n].size])})
        edges.append((n, oname))
    meta = {"producer": "eventsim", "time_unit": "s", "dt": dt * s,
            "convention": "forward Euler on dt; a spike is x = 1 in one step; w_in = tau_syn / dt, r = 1"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(net: Network, path, dt: float, **kw) -> None:
    """Write ``to_nir(net, dt)`` with ``nir.write`` (HDF5, gzip-compressed arrays), atomically
    (through a temporary file renamed into place). HDF5 writes through a Python file object, so a
    full disk is an ``OSError`` (see ``eventsim.files.atomic_h5_file``)."""
    from eventsim.files import atomic_path

    nir = require("nir", "NIR export and import")
    graph = to_nir(net, dt, **kw)
    with atomic_path(path) as tmp, open(tmp, "r+b") as fh:
        nir.write(fh, graph)


def _read_graph(nir, path):
    """``nir.read(path)`` after checking that ``path`` is a regular file (a FIFO would block the
    reader); ValueError naming the path when it is not, or when it is not a NIR file."""
    from eventsim.files import require_regular_file

    path = require_regular_file(path, "graph")
    try:
        return nir.read(str(path))
    except OSError as e:
        raise ValueError(f"graph: {str(path)!r} is not a readable NIR file ({e})") from None


def _uniform(node_name: str, field: str, a) -> float:
    arr = np.asarray(a, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{field} of NIR node {node_name!r} is empty")
    if not np.allclose(arr, arr[0], rtol=1e-9, atol=0):
        raise ValueError(f"{field} of NIR node {node_name!r} differs between neurons; eventsim has one LIFParams "
                         "per population")
    return float(arr[0])


def from_nir(graph, dt: Optional[float] = None) -> Network:
    """Read a NIR graph (or a path to a NIR file) into an eventsim Network.

    ``dt`` (ms): the step of the file's convention (see the module docstring); default: the file's
    ``metadata['dt']`` (seconds) if present. Supported nodes: Input, Output, CubaLIF, CubaLI, LIF
    (as CubaLIF with a vanishing synapse is not exact: rejected), Linear, Affine with zero bias,
    Delay (before a Linear). Time constants are read in seconds.
    """
    nir = require("nir", "NIR export and import")

    if not isinstance(graph, nir.NIRGraph):
        graph = _read_graph(nir, graph)
    meta = dict(getattr(graph, "metadata", None) or {})
    s = NIR_TIME_UNIT
    if dt is None:
        if "dt" not in meta:
            raise ValueError("dt (ms) is required: the NIR file has no metadata['dt']")
        dt = float(np.asarray(meta["dt"]).ravel()[0]) / s
    dt = positive_ms("dt", dt)
    nodes = graph.nodes
    succ: Dict[str, list] = {}
    pred: Dict[str, list] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    net = Network()
    gains: Dict[str, np.ndarray] = {}
    # populations first, in the order of the file's nodes (Input first)
    order = sorted(nodes, key=lambda k: (not isinstance(nodes[k], nir.Input), list(nodes).index(k)))
    for name in order:
        node = nodes[name]
        if isinstance(node, nir.Input):
            shape = np.asarray(list(node.input_type.values())[0]).ravel()
            net.add_input(name, int(np.prod(shape)))
        elif isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            tau_s = _uniform(name, "tau_syn", node.tau_syn) / s
            tau_m = _uniform(name, "tau_mem", node.tau_mem) / s
            v_leak = _uniform(name, "v_leak", node.v_leak)
            n = int(np.asarray(node.tau_syn).size)
            if isinstance(node, nir.CubaLIF):
                v_th = _uniform(name, "v_threshold", node.v_threshold)
                v_reset = 0.0 if node.v_reset is None else _uniform(name, "v_reset", node.v_reset)
                params = LIFParams(tau_mem=tau_m, tau_syn=tau_s, v_th=v_th, v_reset=v_reset, v_leak=v_leak)
            else:
                params = LIFParams(tau_mem=tau_m, tau_syn=tau_s, v_th=math.inf, v_leak=v_leak)
            net.add_population(name, n, params)
            w_in = np.broadcast_to(np.asarray(node.w_in, dtype=np.float64), (n,))
            r = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (n,))
            gains[name] = w_in * r * dt / tau_s
        elif isinstance(node, (nir.Linear, nir.Affine, nir.Delay, nir.Output)):
            continue
        else:
            raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not supported by eventsim's import")
    for name, node in nodes.items():
        if not isinstance(node, (nir.Linear, nir.Affine)):
            continue
        if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
            raise ValueError(f"bias of NIR node {name!r} is non-zero: eventsim has no constant input current")
        srcs, dsts = pred.get(name, []), succ.get(name, [])
        if len(srcs) != 1 or len(dsts) != 1:
            raise ValueError(f"NIR node {name!r} must have exactly one input and one output edge, got {srcs} -> {dsts}")
        src, dst = srcs[0], dsts[0]
        delays = None
        if isinstance(nodes[src], nir.Delay):
            dnode = nodes[src]
            dsrc = pred.get(src, [])
            if len(dsrc) != 1:
                raise ValueError(f"NIR Delay node {src!r} must have exactly one input edge")
            src = dsrc[0]
            delays = np.asarray(dnode.delay, dtype=np.float64).ravel() / s
        if src not in net.populations or dst not in net.populations:
            raise ValueError(f"NIR node {name!r} must connect two populations, got {src!r} -> {dst!r}")
        W = np.asarray(node.weight, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"weight of NIR node {name!r} must be 2-D, got shape {W.shape}")
        W = W * gains[dst][:, None]
        mask = W != 0
        D = None
        if delays is not None:
            D = np.broadcast_to(delays[None, :], W.shape)
        net.connect(src, dst, W, delays=D, mask=mask)
    return net


def read_nir(path, dt: Optional[float] = None) -> Network:
    """``from_nir(nir.read(path), dt)``."""
    return from_nir(path, dt)


def norse_run(graph, inputs: np.ndarray, dt: float) -> Dict[str, np.ndarray]:
    """Run a NIR graph in Norse (``norse.torch.from_nir``, nirtorch's graph executor) step by step.

    Args:
        graph: NIR graph or path.
        inputs: binary raster ``(T, n_in)`` of the single Input node.
        dt: step (ms).
    Returns: ``{neuron node name: (T, n) array}`` -- spikes of every CubaLIF node (the executor
    caches each node's output per step), float32 arithmetic of Norse's Euler model.
    """
    import warnings

    nir = require("nir", "NIR export and import")
    torch = require("torch", "running a NIR graph in Norse")

    norse = require("norse.torch", "running a NIR graph in Norse")

    if not isinstance(graph, nir.NIRGraph):
        graph = _read_graph(nir, graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = norse.from_nir(graph, dt=dt * NIR_TIME_UNIT)
    names = [k for k, v in graph.nodes.items() if isinstance(v, (nir.CubaLIF, nir.CubaLI))]
    X = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    rec: Dict[str, list] = {k: [] for k in names}
    state = None
    with torch.no_grad():
        for t in range(X.shape[0]):
            _, state = module(X[t], state)
            for k in names:
                rec[k].append(state.cache[k].detach().numpy().copy())
    return {k: np.array(v) for k, v in rec.items()}
