"""NIR (Neuromorphic Intermediate Representation, ``nir`` package) export and import.

Mapping (one NIR node per eventsim population and per projection)::

    input population  n          ->  nir.Input(input_type={"input": [n]})
    LIF population (v_th finite) ->  nir.CubaLIF(tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in)
    read-out (v_th = inf)        ->  nir.CubaLI(tau_syn, tau_mem, r, v_leak, w_in)
    population with two currents ->  nir.LIF(tau = tau_mem, r = 1, v_leak, v_threshold, v_reset) named
      (tau_syn_inh set)              after it (v_threshold = inf for a read-out), fed by two synapse
                                     nodes nir.LI(tau = tau_syn or tau_syn_inh, r = tau / dt,
                                     v_leak = 0) named "<pop>.exc" and "<pop>.inh" (metadata
                                     {"eventsim_current": "excitatory" | "inhibitory"}); a
                                     projection into it is split by sign into nir.Linear nodes
                                     "src->dst.exc" (W >= 0) and "src->dst.inh" (W < 0)
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
            nodes[name] = nir.LIF(tau=np.full(n, p.tau_mem * s), r=np.ones(n), v_leak=np.full(n, p.v_leak),
                                  v_threshold=np.full(n, p.v_th), v_reset=np.full(n, p.v_reset))
            for part, tau, kind in (("exc", p.tau_syn, "excitatory"), ("inh", p.tau_syn_inh, "inhibitory")):
                nodes[f"{name}.{part}"] = nir.LI(tau=np.full(n, tau * s), r=np.full(n, tau / dt),
                                                 v_leak=np.zeros(n), metadata={"eventsim_current": kind})
                edges.append((f"{name}.{part}", name))
            continue
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
        if net.populations[pr.dst].params.dual:
            for part, Wp in (("exc", np.where(W >= 0, W, 0.0)), ("inh", np.where(W < 0, W, 0.0))):
                nodes[f"{pname}.{part}"] = nir.Linear(weight=Wp)
                edges.append((src, f"{pname}.{part}"))
                edges.append((f"{pname}.{part}", f"{pr.dst}.{part}"))
            continue
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
    fed by one or two synapse nodes (LI with v_leak = 0: one current, or an excitatory and an
    inhibitory one; a LIF fed directly by a Linear has no synaptic current and is rejected),
    Linear, Affine with zero bias, Delay (before a Linear). Time constants are read in seconds.
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
    # NIR node that a Linear may feed -> (eventsim population, gain per neuron that turns the
    # file's weights into eventsim's jumps of the synaptic current)
    targets: Dict[str, Tuple[str, np.ndarray]] = {}
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
            targets[name] = (name, w_in * r * dt / tau_s)
        elif isinstance(node, nir.LIF):
            _add_lif_with_synapses(nir, net, name, graph, pred, succ, dt, targets)
        elif isinstance(node, (nir.Linear, nir.Affine, nir.Delay, nir.Output)):
            continue
        elif isinstance(node, nir.LI) and _synapse_of(nir, name, nodes, succ) is not None:
            continue  # read with the LIF node it feeds
        else:
            raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not supported by eventsim's import")
    # projections: a Linear (after an optional Delay) from a population to a target node; the two
    # Linears of one projection into a two-current population (split by sign) are summed
    parts: Dict[Tuple[str, str], list] = {}
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
        if src not in net.populations or dst not in targets:
            raise ValueError(f"NIR node {name!r} must connect two populations, got {src!r} -> {dst!r}")
        W = np.asarray(node.weight, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"weight of NIR node {name!r} must be 2-D, got shape {W.shape}")
        pop, gain = targets[dst]
        parts.setdefault((src, pop), []).append((name, W * gain[:, None], delays))
    for (src, pop), items in parts.items():
        W = sum(w for _, w, _ in items)
        delays = items[0][2]
        for name, _, d in items[1:]:
            if (d is None) != (delays is None) or (d is not None and not np.array_equal(d, delays)):
                raise ValueError(f"NIR nodes {items[0][0]!r} and {name!r} connect {src!r} to {pop!r} with different delays")
        mask = np.zeros(W.shape, dtype=bool)
        for _, w, _ in items:
            mask |= w != 0
        D = None
        if delays is not None:
            D = np.broadcast_to(delays[None, :], W.shape)
        net.connect(src, pop, W, delays=D, mask=mask)
    return net


def _synapse_of(nir, name: str, nodes, succ) -> Optional[str]:
    """The LIF node that the LI node ``name`` feeds as a synaptic current, or None."""
    nxt = succ.get(name, [])
    if len(nxt) == 1 and isinstance(nodes[nxt[0]], nir.LIF):
        return nxt[0]
    return None


def _add_lif_with_synapses(nir, net: Network, name: str, graph, pred, succ, dt: float, targets) -> None:
    """Add the population of a NIR LIF node fed by one or two synapse nodes (nir.LI with
    v_leak = 0, see the module docstring): one current, or an excitatory and an inhibitory one,
    told apart by their metadata or else by the signs of the weights that reach them."""
    s = NIR_TIME_UNIT
    nodes = graph.nodes
    node = nodes[name]
    syn = list(pred.get(name, []))
    if not syn or len(syn) > 2 or not all(isinstance(nodes[k], nir.LI) and _synapse_of(nir, k, nodes, succ) == name
                                          for k in syn):
        raise ValueError(f"NIR LIF node {name!r} must be fed by one or two synapse nodes (nir.LI), got {syn}: a LIF "
                         "fed directly by a Linear has no synaptic current (not exact in eventsim's model)")
    n = int(np.asarray(node.tau).size)
    r_mem = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (n,))

    def kind(k: str) -> str:
        meta = dict(getattr(nodes[k], "metadata", None) or {})
        if meta.get("eventsim_current") in ("excitatory", "inhibitory"):
            return str(meta["eventsim_current"])
        signs = [np.asarray(nodes[e].weight) for e in pred.get(k, []) if isinstance(nodes[e], (nir.Linear, nir.Affine))]
        if signs and all(np.all(w >= 0) for w in signs):
            return "excitatory"
        if signs and all(np.all(w <= 0) for w in signs):
            return "inhibitory"
        return "either"

    taus = {}
    for k in syn:
        if np.any(np.asarray(nodes[k].v_leak) != 0):
            raise ValueError(f"v_leak of NIR synapse node {k!r} is non-zero: eventsim's synaptic currents decay to 0")
        taus[k] = _uniform(k, "tau", nodes[k].tau) / s
    kinds = {k: kind(k) for k in syn}
    if len(syn) == 2:
        exc = [k for k in syn if kinds[k] == "excitatory"]
        inh = [k for k in syn if kinds[k] == "inhibitory"]
        if len(exc) != 1 or len(inh) != 1:
            raise ValueError(f"the two synapse nodes of NIR LIF node {name!r} must be one excitatory (weights >= 0) and one "
                             f"inhibitory (weights <= 0), got {kinds}")
        tau_s, tau_i = taus[exc[0]], taus[inh[0]]
    else:
        tau_s, tau_i = taus[syn[0]], None
    v_th = _uniform(name, "v_threshold", node.v_threshold)
    v_reset = 0.0 if node.v_reset is None else _uniform(name, "v_reset", node.v_reset)
    params = LIFParams(tau_mem=_uniform(name, "tau", node.tau) / s, tau_syn=tau_s, tau_syn_inh=tau_i, v_th=v_th,
                       v_reset=v_reset, v_leak=_uniform(name, "v_leak", node.v_leak))
    net.add_population(name, n, params)
    for k in syn:
        r = np.broadcast_to(np.asarray(nodes[k].r, dtype=np.float64), (n,))
        targets[k] = (name, r * r_mem * dt / taus[k])


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
