"""lava-dl netx HDF5 export, and a reader written from netx's documented layout.

Layout written (what ``lava.lib.dl.netx.hdf5.Network`` reads; lava-dl ``netx/utils.py`` ``NetDict``
and ``netx/hdf5.py``)::

    /layer/<i>/type            bytes dataset (1,) 'S10': b'dense' (b'dense_rec' with a self-projection)
    /layer/<i>/shape           int64 (1,): (n_out,)
    /layer/<i>/weight          float32 (n_out, n_in): integer weights, a_in units (weight_exp 0)
    /layer/<i>/weight_rec      float32 (n_out, n_out): recurrent weights (dense_rec only)
    /layer/<i>/bias            float32 (n_out,): bias mantissa; netx uses bias_exp = 6 (optional)
    /layer/<i>/delay           float32 (n_out, n_in): synaptic delays in steps, 0..62 (optional)
    /layer/<i>/neuron/type     bytes (1,) b'CUBA'
    /layer/<i>/neuron/iDecay   Lava du + 1 (current decay in 1/4096 per step)
    /layer/<i>/neuron/vDecay   Lava dv (voltage decay in 1/4096 per step)
    /layer/<i>/neuron/vThMant  Lava vth (threshold = vThMant << 6)
    /layer/<i>/neuron/refDelay 1,  /layer/<i>/neuron/gradedSpike False (written by slayer; unused)
    /simulation/Ts, /simulation/tSample   step (ms) and steps per sample (ignored by netx)

Layer keys are decimal strings '0'..'n-1'. Layer 0's synapse takes the network input (no 'input'
layer). eventsim's population names are kept as HDF5 *attributes* (``eventsim_name``), which
netx does not read. A netx file can hold a chain of dense layers only (each LIF population fed by
the previous one, optionally plus a self-projection) with 8-bit integer weights, ``bias_exp = 6``
and no initial voltage; ``write_netx`` quantises with exactly those constraints
(``weight_exp_range=(0, 0)``, no sign splitting, ``bias_exp=6``, delays <= 62,
``v_leak == v_reset``) and raises ValueError naming what does not fit.

``read_netx`` builds the ``LoihiNet`` that netx would build: ``du = iDecay - 1``, ``dv = vDecay``,
``vth = vThMant``, ``bias_exp = 6``, and the weights through netx's ``optimize_weight_bits``
(shift left to fill the 8-bit mantissa, ``weight_exp = -shift``, ``num_weight_bits`` from the
common power-of-two factor; Lava then determines the sign mode), so that emulating it reproduces
what lava-dl would run.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from eventsim.network import Network

from .loihi.model import LoihiNet, LoihiProjection

NETX_MAX_DELAY = 62


def _chain(lnet: LoihiNet):
    """Order the LIF populations as a chain from the single input population; return
    [(pop, ff projection, recurrent projection or None)]."""
    ins = lnet.input_names
    if len(ins) != 1:
        raise ValueError(f"netx needs exactly one input population, the network has {ins}")
    chain = []
    prev = ins[0]
    used = set()
    while True:
        ff = [p for p in lnet.projections.values() if p.src == prev and p.dst != prev]
        if not ff:
            break
        if len(ff) != 1:
            raise ValueError(f"netx holds a chain of layers: population {prev!r} projects to "
                             f"{[p.dst for p in ff]} (projections {[p.name for p in ff]})")
        pr = ff[0]
        dst = pr.dst
        rec = [p for p in lnet.projections.values() if p.src == dst and p.dst == dst]
        chain.append((dst, pr, rec[0] if rec else None))
        used.add(pr.name)
        if rec:
            used.add(rec[0].name)
        prev = dst
    other = [n for n in lnet.projections if n not in used]
    if other:
        raise ValueError(f"projections {other} do not fit netx's chain of dense layers")
    missing = [n for n in lnet.lif_names if n not in {c[0] for c in chain}]
    if missing:
        raise ValueError(f"populations {missing} are not in the chain from the input")
    return chain


def quantize_for_netx(net: Network, dt: float, **kw) -> LoihiNet:
    """``quantize`` with netx's constraints (integer weights with weight_exp 0, one connection per
    layer, bias_exp 6, delays <= 62, zero initial voltage)."""
    from .loihi.quantize import quantize

    opts = dict(weight_exp_range=(0, 0), split_sign=False, bias_exp=6, max_delay=NETX_MAX_DELAY,
                require_zero_v0=True)
    opts.update(kw)
    return quantize(net, dt, precision="fixed", **opts)


def write_netx(net, path, dt: Optional[float] = None, t_sample: Optional[int] = None, **quantize_kwargs) -> LoihiNet:
    """Write ``net`` (eventsim Network, quantised here, or a fixed-point LoihiNet) as a netx HDF5
    file. Returns the LoihiNet that was written."""
    if isinstance(net, Network):
        if dt is None:
            raise ValueError("dt (ms) is required to export an eventsim Network to netx")
        lnet = quantize_for_netx(net, dt, **quantize_kwargs)
    elif isinstance(net, LoihiNet):
        lnet = net
    else:
        raise ValueError(f"net must be an eventsim Network or a LoihiNet, got {type(net).__name__}")
    if not lnet.fixed:
        raise ValueError("netx files hold fixed-point networks; quantise with precision='fixed'")
    chain = _chain(lnet)
    for name, ff, rec in chain:
        pop = lnet.populations[name]
        if np.any(pop.v0 != 0):
            raise ValueError(f"v0 of population {name!r} is non-zero; netx has no initial voltage")
        if np.any(pop.bias_exp != 6) and np.any(pop.bias_mant != 0):
            raise ValueError(f"bias_exp of population {name!r} must be 6 for netx, got {np.unique(pop.bias_exp)}")
        for pr in (ff, rec):
            if pr is None:
                continue
            if pr.weight_exp != 0 or pr.num_weight_bits != 8:
                raise ValueError(f"weight_exp of projection {pr.name} must be 0 (num_weight_bits 8) for netx, got "
                                 f"{pr.weight_exp} ({pr.num_weight_bits})")
            if pr.max_delay > NETX_MAX_DELAY:
                raise ValueError(f"delays of projection {pr.name} exceed netx's limit of {NETX_MAX_DELAY} steps")
        if rec is not None and rec.delays is not None:
            raise ValueError(f"delays of the recurrent projection {rec.name} cannot be stored in netx's dense_rec")
        if not pop.spiking:
            raise ValueError(f"population {name!r} is a non-spiking read-out; netx's CUBA layers spike")
    from eventsim.files import atomic_h5_file

    with atomic_h5_file(path) as f:
        lg = f.create_group("layer")
        for i, (name, ff, rec) in enumerate(chain):
            pop = lnet.populations[name]
            h = lg.create_group(f"{i}")
            h.attrs["eventsim_name"] = name
            h.attrs["eventsim_src"] = ff.src
            h.create_dataset("type", data=np.array([b"dense_rec" if rec is not None else b"dense"], dtype="S10"))
            h.create_dataset("shape", data=np.array([pop.size], dtype=np.int64))
            h.create_dataset("weight", data=ff.to_dense(ff.effective_weights()).astype(np.float32))
            if rec is not None:
                h.create_dataset("weight_rec", data=rec.to_dense(rec.effective_weights()).astype(np.float32))
            if np.any(pop.bias_mant != 0):
                h.create_dataset("bias", data=pop.bias_mant.astype(np.float32))
            if ff.delays is not None:
                h.create_dataset("delay", data=ff.to_dense(ff.delays).astype(np.float32))
            ng = h.create_group("neuron")
            ng.create_dataset("type", data=np.array([b"CUBA"], dtype="S10"))
            ng.create_dataset("iDecay", data=np.array(pop.du + 1))
            ng.create_dataset("vDecay", data=np.array(pop.dv))
            ng.create_dataset("vThMant", data=np.array(pop.vth))
            ng.create_dataset("refDelay", data=np.array(1))
            ng.create_dataset("gradedSpike", data=np.array(False))
        sg = f.create_group("simulation")
        sg.create_dataset("Ts", data=np.array(lnet.dt)).attrs["units"] = "ms"
        if t_sample is not None:
            sg.create_dataset("tSample", data=np.array(int(t_sample)))
    return lnet


# ----------------------------------------------------------------------------------- reader
def netx_optimize_weight_bits(weight: np.ndarray) -> Tuple[np.ndarray, int, int]:
    """netx's weight handling as documented (lava-dl ``netx/utils.py``): clip mixed weights to
    [-256, 254], find the shift that fills the 8-bit mantissa (+1 for mixed sign), the number of
    weight bits from the largest power of two dividing all weights; returns
    ``(weight << shift, num_weight_bits, weight_exp = -shift)``."""
    w = np.asarray(weight, dtype=np.int64)
    mx, mn = int(w.max()), int(w.min())
    if (mx > 254 and mn < 0) or (mn < -256 and mx > 0):
        w = np.clip(w, -256, 254)
        mx, mn = int(w.max()), int(w.min())
    if mx == 0 and mn == 0:
        return w, 8, 0
    if mx < 0:
        signed, scale = 0, -256 / mn
    elif mn >= 0:
        signed, scale = 0, 255 / mx
    else:
        signed, scale = 1, min(127 / mx, -128 / mn)
    shift = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / 2 ** n - np.round(w / 2 ** n))) != 0:
        n -= 1
    n -= signed
    nwb = 8 - shift - n
    return (w << shift) if shift >= 0 else (w >> -shift), int(nwb), int(-shift)


def read_netx(path, input_name: str = "in") -> LoihiNet:
    """Build the LoihiNet a netx file describes (see the module docstring). Supports ``dense``
    and ``dense_rec`` layers with a CUBA neuron group; anything else raises ValueError."""
    import h5py

    def s(ds) -> str:
        v = ds[()]
        if isinstance(v, np.ndarray) and v.shape:
            v = v[0]
        return v.decode("ascii") if isinstance(v, (bytes, np.bytes_)) else str(v)

    from eventsim.files import require_regular_file

    path = require_regular_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"path: {str(path)!r} is not a readable HDF5 file ({e})") from None
    with f:
        if "layer" not in f:
            raise ValueError(f"path: {str(path)!r} has no /layer group (not a netx file)")
        layers = f["layer"]
        keys = sorted(layers.keys(), key=int)
        if keys != [str(i) for i in range(len(keys))]:
            raise ValueError(f"netx layer keys must be 0..n-1, got {keys}")
        dt = float(f["simulation"]["Ts"][()]) if ("simulation" in f and "Ts" in f["simulation"]) else 1.0
        lnet = LoihiNet("fixed", dt)
        lnet.method = "netx"
        prev = None
        specs = []
        for k in keys:
            h = layers[k]
            typ = s(h["type"])
            if typ not in ("dense", "dense_rec"):
                raise ValueError(f"netx layer {k} has type {typ!r}; only 'dense' and 'dense_rec' are supported here")
            if "neuron" not in h:
                raise ValueError(f"netx layer {k} has no neuron group")
            ng = h["neuron"]
            ntype = s(ng["type"])
            if ntype not in ("CUBA", "LOIHI"):
                raise ValueError(f"netx layer {k} has neuron type {ntype!r}; only CUBA is supported")
            W = h["weight"][()].astype(int)
            if W.ndim == 1:
                W = W.reshape(int(np.asarray(h["shape"][()]).ravel()[-1]), -1)
            n_out, n_in = W.shape
            if prev is None:
                lnet.add_input(input_name, n_in)
                prev = input_name
            name = h.attrs.get("eventsim_name", f"layer{k}")
            name = name.decode() if isinstance(name, bytes) else str(name)
            bias = h["bias"][()].astype(int) if "bias" in h else np.zeros(n_out, np.int64)
            lnet.add_lif(name, n_out, du=int(ng["iDecay"][()]) - 1, dv=int(ng["vDecay"][()]),
                         vth=int(ng["vThMant"][()]), bias_mant=bias, bias_exp=6, v0=0)
            delays = None
            if "delay" in h:
                D = np.asarray(h["delay"][()])
                delays = np.clip(np.broadcast_to(D.reshape(D.shape if D.ndim != 1 else
                                                           ((n_out, 1) if D.size == n_out else (1, n_in))),
                                                 (n_out, n_in)), 0, NETX_MAX_DELAY).astype(np.int64)
            specs.append((prev, name, W, delays))
            if typ == "dense_rec":
                specs.append((name, name, h["weight_rec"][()].astype(int), None))
            prev = name
        for src, dst, W, delays in specs:
            w2, nwb, wexp = netx_optimize_weight_bits(W)
            mask = W != 0
            lnet.connect(src, dst, w2, delays=delays, weight_exp=wexp, num_weight_bits=nwb, sign_mode=None,
                         mask=mask)
        return lnet
