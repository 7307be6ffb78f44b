"""The discrete-time Loihi network: what Lava runs and what the emulator runs.

A ``LoihiNet`` is an eventsim network after the mapping to Loihi's CUBA LIF (``quantize``), or
built by hand from Lava-level parameters (e.g. the FF-1000 benchmark). It is one of two
precisions:

``fixed``: the parameters of Lava's bit-accurate models (``PyLifModelBitAcc``,
``PyDenseModelBitAcc``, ``PySparseModelBitAcc``, ``PyDelayDenseModelBitAcc``), as integers::

    u[t] = wrap24( trunc0(u[t-1] * (4096 - (du + 1)) / 4096) + (a_in[t] << 6) )
    v[t] = sat24 ( trunc0(v[t-1] * (4096 - dv) / 4096) + u[t] + (bias_mant << bias_exp) )
    spike if v[t] > (vth << 6);  then v[t] = 0
    a_in[t] = sum over projections of  (sum of the weights of the synapses whose presynaptic
              neuron spiked at step t-1-delay) << weight_exp   (>> -weight_exp, floor, if < 0)

``float``: the ``floating_pt`` models::

    u[t] = u[t-1] * (1 - du) + a_in[t];   v[t] = v[t-1] * (1 - dv) + u[t] + bias;   spike if v > vth

Conventions (both precisions): step ``t`` is 0-based (Lava's ``time_step`` is ``t + 1``); an
input spike in raster column ``t`` and a LIF spike at step ``t`` reach the target LIF at step
``t + 1 + delay``; a LIF spike at step ``t`` is reported at time ``t * dt`` ms. ``du``, ``dv``
and ``vth`` are one value per population (Lava's ``LIF`` has one Var for each);
``bias_mant``/``bias_exp``/``v0`` are per neuron. Projections are CSR over the presynaptic index
(as ``eventsim.Projection``) with the weight *values handed to Lava* (integers in fixed point;
``weight_exp``, ``num_weight_bits`` and ``sign_mode`` as Lava's ``proc_params``) and integer delays
in steps (``None`` = no delay: plain Dense/Sparse).

``scale`` (fixed: v-LSB per unit of eventsim voltage; float: 1) and ``v_offset`` (eventsim's
``v_reset``) convert back: ``V = v_offset + v / scale``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from eventsim.checks import positive_int
from eventsim.params import positive_ms

# ------------------------------------------------------------------------- Lava / Loihi widths
DECAY_UNITY = 4096            # 12-bit decays: du, dv in 0..4095
VTH_MAX = 2 ** 17 - 1         # vth: 17-bit unsigned, shifted left by 6
UV_MAX = 2 ** 23              # u wraps, v saturates at +-(2**23 - 1)
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095    # 13-bit signed
BIAS_EXP_MIN, BIAS_EXP_MAX = 0, 7             # 3-bit
ACT_SHIFT = 6                 # a_in << 6 and vth << 6 (MSB alignment)
MAX_DELAY = 63                # 6-bit delays (DelayDense/DelaySparse fixed models check > 63)
SIGN_MODES = ("mixed", "excitatory", "inhibitory")

PRECISIONS = ("fixed", "float")


def _int_array(name: str, a, shape=None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be integers, got non-integer values (e.g. {arr.ravel()[:3]!r})")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _float_array(name: str, a, shape=None) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not contain NaN")
    return arr


@dataclass
class LoihiPopulation:
    """One population: input spike source (``kind='input'``) or a Lava ``LIF`` (``kind='lif'``).

    For ``lif`` in fixed precision: ``du``, ``dv`` in 0..4095 (Lava Var values; the current decays
    by ``(du + 1)/4096`` per step, the voltage by ``dv/4096``), ``vth`` in 0..131071, ``bias_mant``
    13-bit signed and ``bias_exp`` 0..7 per neuron, ``v0`` the initial voltage (24-bit) per neuron.
    In float precision: ``du``, ``dv`` are the decay fractions in [0, 1], ``vth`` a float (``inf``
    for a non-spiking read-out), ``bias_mant`` the bias per step, ``bias_exp`` ignored (zeros).
    """

    name: str
    size: int
    kind: str = "lif"
    du: Any = 0
    dv: Any = 0
    vth: Any = 10
    bias_mant: Optional[np.ndarray] = None
    bias_exp: Optional[np.ndarray] = None
    v0: Optional[np.ndarray] = None
    spiking: bool = True
    scale: float = 1.0
    v_offset: float = 0.0

    @property
    def is_input(self) -> bool:
        return self.kind == "input"


@dataclass
class LoihiProjection:
    """Synapses ``src -> dst`` (CSR over the presynaptic index) with Lava-level weights and delays."""

    src: str
    dst: str
    n_pre: int
    n_post: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: Optional[str] = None
    delays: Optional[np.ndarray] = None
    part: str = ""

    @property
    def name(self) -> str:
        """``src->dst`` plus the part tag (``[+]``/``[-]`` when a mixed-sign projection was split)."""
        return f"{self.src}->{self.dst}{self.part}"

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if (self.delays is not None and self.delays.size) else 0

    def pre_indices(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))

    def to_dense(self, values: Optional[np.ndarray] = None) -> np.ndarray:
        """Dense ``(n_post, n_pre)`` matrix of ``values`` (default: the weights)."""
        vals = self.weights if values is None else values
        W = np.zeros((self.n_post, self.n_pre), dtype=np.asarray(vals).dtype)
        W[self.indices, self.pre_indices()] = vals
        return W

    def to_scipy(self, values: Optional[np.ndarray] = None):
        """``scipy.sparse.csr_matrix`` of shape ``(n_post, n_pre)`` (explicit zeros kept)."""
        import scipy.sparse as sp

        vals = self.weights if values is None else values
        m = sp.coo_matrix((vals, (self.indices, self.pre_indices())), shape=(self.n_post, self.n_pre))
        return m.tocsr()

    def resolved_sign_mode(self) -> str:
        """The sign mode Lava's fixed model uses: the given one, else ``determine_sign_mode`` of the
        weight matrix (which includes the zeros of absent synapses)."""
        if self.sign_mode is not None:
            return self.sign_mode
        w = np.asarray(self.weights, dtype=np.float64)
        vals = w if self.n_synapses == self.n_pre * self.n_post else np.append(w, 0.0)
        if not vals.size:
            return "excitatory"
        lo, hi = float(vals.min()), float(vals.max())
        if lo >= 0:
            return "excitatory"
        if hi <= 0:
            return "inhibitory"
        return "mixed"

    def effective_weights(self) -> np.ndarray:
        """Integer weights after Lava's ``clip_weights(.., 8)`` and ``truncate_weights``, before the
        ``weight_exp`` shift (fixed precision only). Float weights are truncated toward zero first,
        as ``astype(int32)`` does in Lava."""
        mode = self.resolved_sign_mode()
        w = np.trunc(np.asarray(self.weights, dtype=np.float64)).astype(np.int64)
        mixed = mode == "mixed"
        if mode == "inhibitory":
            w = -w
        lo, hi = (-256 if mixed else 0), 255
        w = np.clip(w, lo, hi)
        k = 8 - int(self.num_weight_bits) + int(mixed)
        w = (w >> k) << k
        if mode == "inhibitory":
            w = -w
        return w


class LoihiNet:
    """Populations and projections of a discrete-time Loihi network (see the module docstring)."""

    def __init__(self, precision: str = "fixed", dt: float = 1.0):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        dt = positive_ms("dt", dt)
        self.precision = precision
        self.dt = dt
        self.populations: Dict[str, LoihiPopulation] = {}
        self.projections: Dict[str, LoihiProjection] = {}
        self.report = None            # QuantReport when made by quantize()
        self.provenance: Dict[str, Any] = {}
        self.method = "manual"        # 'exact' | 'euler' | 'manual'

    @property
    def fixed(self) -> bool:
        return self.precision == "fixed"

    # ------------------------------------------------------------------------------- building
    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name or "->" in name:
            raise ValueError(f"population name must be a non-empty string without '/' or '->', got {name!r}")
        if name in self.populations:
            raise ValueError(f"population {name!r} already exists")

    def add_input(self, name: str, size: int) -> LoihiPopulation:
        self._check_name(name)
        size = positive_int(f"size of {name!r}", size)
        p = LoihiPopulation(name, int(size), kind="input")
        self.populations[name] = p
        return p

    def add_lif(self, name: str, size: int, du, dv, vth, bias_mant=0, bias_exp=0, v0=0, spiking: bool = True,
                scale: float = 1.0, v_offset: float = 0.0) -> LoihiPopulation:
        """Add a LIF population with Lava-level parameters (validated against Loihi's widths)."""
        self._check_name(name)
        size = positive_int(f"size of {name!r}", size)
        n = int(size)
        if self.fixed:
            du_i, dv_i, vth_i = (int(_int_array(k, x, ())) for k, x in (("du", du), ("dv", dv), ("vth", vth)))
            for k, x, lo, hi in (("du", du_i, 0, DECAY_UNITY - 1), ("dv", dv_i, 0, DECAY_UNITY - 1),
                                 ("vth", vth_i, 0, VTH_MAX)):
                if not lo <= x <= hi:
                    raise ValueError(f"{k} of population {name!r} must be in [{lo}, {hi}] (Loihi width), got {x}")
            bm = _int_array("bias_mant", np.broadcast_to(bias_mant, (n,)), (n,))
            be = _int_array("bias_exp", np.broadcast_to(bias_exp, (n,)), (n,))
            v0a = _int_array("v0", np.broadcast_to(v0, (n,)), (n,))
            if bm.min() < BIAS_MANT_MIN or bm.max() > BIAS_MANT_MAX:
                raise ValueError(f"bias_mant of population {name!r} must be in [{BIAS_MANT_MIN}, {BIAS_MANT_MAX}]"
                                 f" (13-bit), got [{bm.min()}, {bm.max()}]")
            if be.min() < BIAS_EXP_MIN or be.max() > BIAS_EXP_MAX:
                raise ValueError(f"bias_exp of population {name!r} must be in [{BIAS_EXP_MIN}, {BIAS_EXP_MAX}]"
                                 f" (3-bit), got [{be.min()}, {be.max()}]")
            if np.abs(v0a).max() >= UV_MAX:
                raise ValueError(f"v0 of population {name!r} must be within +-(2**23 - 1), got {np.abs(v0a).max()}")
            p = LoihiPopulation(name, n, "lif", du_i, dv_i, vth_i, bm, be, v0a, bool(spiking), float(scale),
                                float(v_offset))
        else:
            du_f, dv_f = float(du), float(dv)
            for k, x in (("du", du_f), ("dv", dv_f)):
                if not 0.0 <= x <= 1.0:
                    raise ValueError(f"{k} of population {name!r} must be a decay fraction in [0, 1], got {x!r}")
            vth_f = float(vth)
            if np.isnan(vth_f):
                raise ValueError(f"vth of population {name!r} must not be NaN")
            bm = _float_array("bias_mant", np.broadcast_to(bias_mant, (n,)), (n,)).copy()
            v0a = _float_array("v0", np.broadcast_to(v0, (n,)), (n,)).copy()
            p = LoihiPopulation(name, n, "lif", du_f, dv_f, vth_f, bm, np.zeros(n, np.int64), v0a, bool(spiking),
                                float(scale), float(v_offset))
        self.populations[name] = p
        return p

    def connect(self, src: str, dst: str, weights, delays=None, weight_exp: int = 0, sign_mode: Optional[str] = None,
                num_weight_bits: int = 8, mask=None) -> LoihiProjection:
        """Connect with a dense ``(n_post, n_pre)`` weight matrix (synapses where ``mask``, default
        where ``weights != 0``) or a scipy.sparse matrix (its stored entries). ``delays`` in steps:
        None, an int, or an array/sparse matrix like the weights."""
        import scipy.sparse as sp

        for role, nm in (("src", src), ("dst", dst)):
            if nm not in self.populations:
                raise ValueError(f"{role} population {nm!r} does not exist (have {list(self.populations)})")
        if self.populations[dst].is_input:
            raise ValueError(f"dst {dst!r} is an input population")
        n_pre, n_post = self.populations[src].size, self.populations[dst].size
        if sp.issparse(weights):
            A = sp.coo_matrix(weights)
            post, pre, w = A.row.astype(np.int64), A.col.astype(np.int64), A.data
            shape = A.shape
        else:
            W = np.asarray(weights)
            shape = W.shape
            M = (W != 0) if mask is None else np.asarray(mask, dtype=bool)
            if M.shape != W.shape:
                raise ValueError(f"mask of {src}->{dst} must have shape {W.shape}, got {M.shape}")
            post, pre = np.nonzero(M)
            w = W[post, pre]
        if tuple(shape) != (n_post, n_pre):
            raise ValueError(f"weights of {src}->{dst} must have shape (n_post, n_pre)=({n_post}, {n_pre}), got {shape}")
        d = None
        if delays is not None:
            if sp.issparse(delays):
                d = np.asarray(sp.csr_matrix(delays)[post, pre]).ravel()
            else:
                D = np.asarray(delays)
                d = np.full(w.size, int(D)) if D.ndim == 0 else D[post, pre]
        order = np.lexsort((post, pre))
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        proj = LoihiProjection(src, dst, n_pre, n_post, indptr, post[order].astype(np.int64), np.asarray(w)[order],
                               int(weight_exp), int(num_weight_bits), sign_mode,
                               None if d is None else np.asarray(d)[order])
        return self.add_projection(proj)

    def add_projection(self, proj: LoihiProjection) -> LoihiProjection:
        """Add a ready projection after validating it against the populations and Loihi's limits."""
        name = proj.name
        for role, nm in (("src", proj.src), ("dst", proj.dst)):
            if nm not in self.populations:
                raise ValueError(f"{role} population {nm!r} of projection {name} does not exist")
        if self.populations[proj.dst].is_input:
            raise ValueError(f"dst {proj.dst!r} of projection {name} is an input population")
        if (proj.n_pre, proj.n_post) != (self.populations[proj.src].size, self.populations[proj.dst].size):
            raise ValueError(f"projection {name} has shape ({proj.n_post}, {proj.n_pre}), populations need "
                             f"({self.populations[proj.dst].size}, {self.populations[proj.src].size})")
        if name in self.projections:
            raise ValueError(f"a projection {name} already exists")
        proj.indptr = np.ascontiguousarray(proj.indptr, dtype=np.int64)
        proj.indices = np.ascontiguousarray(proj.indices, dtype=np.int64)
        nnz = int(proj.indptr[-1]) if proj.indptr.size else 0
        if proj.indptr.shape != (proj.n_pre + 1,) or proj.indptr[0] != 0 or np.any(np.diff(proj.indptr) < 0):
            raise ValueError(f"indptr of {name} must be non-decreasing of length n_pre+1")
        if proj.indices.shape != (nnz,) or np.shape(proj.weights) != (nnz,):
            raise ValueError(f"indices and weights of {name} must have length {nnz}")
        if nnz and (proj.indices.min() < 0 or proj.indices.max() >= proj.n_post):
            raise ValueError(f"indices of {name} out of range [0, {proj.n_post})")
        if self.fixed:
            proj.weights = _int_array(f"weights of {name}", proj.weights)
            if not -16 <= int(proj.weight_exp) <= 16:
                raise ValueError(f"weight_exp of {name} must be a small integer, got {proj.weight_exp!r}")
            if not 1 <= int(proj.num_weight_bits) <= 8:
                raise ValueError(f"num_weight_bits of {name} must be in [1, 8], got {proj.num_weight_bits!r}")
            if proj.sign_mode is not None and proj.sign_mode not in SIGN_MODES:
                raise ValueError(f"sign_mode of {name} must be one of {SIGN_MODES} or None, got {proj.sign_mode!r}")
        else:
            proj.weights = _float_array(f"weights of {name}", proj.weights)
            if not np.all(np.isfinite(proj.weights)):
                raise ValueError(f"weights of {name} must be finite")
        if proj.delays is not None:
            proj.delays = _int_array(f"delays of {name}", proj.delays, (nnz,))
            if nnz and (proj.delays.min() < 0 or proj.delays.max() > MAX_DELAY):
                raise ValueError(f"delays of {name} must be in [0, {MAX_DELAY}] steps (Loihi 2: 6-bit delays), "
                                 f"got [{proj.delays.min()}, {proj.delays.max()}]")
        self.projections[name] = proj
        return proj

    # ------------------------------------------------------------------------------- queries
    @property
    def input_names(self) -> List[str]:
        return [n for n, p in self.populations.items() if p.is_input]

    @property
    def lif_names(self) -> List[str]:
        return [n for n, p in self.populations.items() if not p.is_input]

    @property
    def max_delay(self) -> int:
        return max((p.max_delay for p in self.projections.values()), default=0)

    def population(self, name: str) -> LoihiPopulation:
        if name not in self.populations:
            raise ValueError(f"population {name!r} does not exist (have {list(self.populations)})")
        return self.populations[name]

    def incoming(self, name: str) -> List[LoihiProjection]:
        return [p for p in self.projections.values() if p.dst == name]

    def replicate(self, k: int) -> "LoihiNet":
        """``k`` independent copies side by side: every population ``k`` times larger (copy c holds
        neurons ``c*n .. c*n + n - 1``), block-diagonal projections. One step of the copy advances
        ``k`` samples (used to batch Lava runs)."""
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        out = LoihiNet(self.precision, self.dt)
        out.method = self.method
        for name, p in self.populations.items():
            if p.is_input:
                out.add_input(name, p.size * k)
            else:
                out.add_lif(name, p.size * k, p.du, p.dv, p.vth, np.tile(p.bias_mant, k), np.tile(p.bias_exp, k),
                            np.tile(p.v0, k), p.spiking, p.scale, p.v_offset)
        for pr in self.projections.values():
            pre0, post0 = pr.pre_indices(), pr.indices
            pre = np.concatenate([pre0 + c * pr.n_pre for c in range(k)])
            post = np.concatenate([post0 + c * pr.n_post for c in range(k)])
            order = np.lexsort((post, pre))
            indptr = np.zeros(pr.n_pre * k + 1, dtype=np.int64)
            np.cumsum(np.bincount(pre, minlength=pr.n_pre * k), out=indptr[1:])
            out.add_projection(LoihiProjection(
                pr.src, pr.dst, pr.n_pre * k, pr.n_post * k, indptr, post[order], np.tile(pr.weights, k)[order],
                pr.weight_exp, pr.num_weight_bits, pr.resolved_sign_mode() if self.fixed else pr.sign_mode,
                None if pr.delays is None else np.tile(pr.delays, k)[order], pr.part))
        return out

    def __repr__(self) -> str:
        pops = ", ".join(f"{n}[{p.size}]" for n, p in self.populations.items())
        return f"LoihiNet({self.precision}, dt={self.dt} ms; {pops}; {len(self.projections)} projections)"


# ------------------------------------------------------------------------------------ files
FILE_FORMAT = "eventsim.loihi"


def save_loihi(lnet: LoihiNet, path, source=None) -> None:
    """Write ``lnet`` to HDF5 (format ``eventsim.loihi``, atomic). Layout::

        /  attrs: precision, dt (ms), method, provenance_json
        /populations/<name>  attrs: index, kind, size, du, dv, vth, spiking, scale, v_offset
                             datasets: bias_mant, bias_exp, v0
        /projections/<src->dst[part]>  attrs: index (order), src, dst, part, n_pre, n_post, weight_exp, num_weight_bits, sign_mode
                                 datasets: indptr (int64), indices (int64), weights (Lava values),
                                           delays (int64 steps, optional), weights_source (float64,
                                           the continuous-time weights, optional)
        /report   attrs: json (the quantisation report, when made by quantize())
        /source   the eventsim network it was made from (eventsim.io network layout, optional)
    """
    import json

    from eventsim.files import atomic_h5
    from eventsim.network import write_network_group

    with atomic_h5(path, FILE_FORMAT) as f:
        f.attrs["precision"] = lnet.precision
        f.attrs["dt"] = lnet.dt
        f.attrs["dt_units"] = "ms"
        f.attrs["method"] = lnet.method
        f.attrs["provenance_json"] = json.dumps(lnet.provenance, default=str)
        g = f.create_group("populations")
        for i, (name, p) in enumerate(lnet.populations.items()):
            h = g.create_group(name)
            h.attrs["index"], h.attrs["kind"], h.attrs["size"] = i, p.kind, p.size
            if p.is_input:
                continue
            for k in ("du", "dv", "vth", "scale", "v_offset"):
                h.attrs[k] = getattr(p, k)
            h.attrs["spiking"] = bool(p.spiking)
            for k in ("bias_mant", "bias_exp", "v0"):
                h.create_dataset(k, data=getattr(p, k))
        g = f.create_group("projections")
        for j, (name, pr) in enumerate(lnet.projections.items()):
            h = g.create_group(name)
            h.attrs["index"] = j
            h.attrs["src"], h.attrs["dst"] = pr.src, pr.dst
            h.attrs["n_pre"], h.attrs["n_post"] = pr.n_pre, pr.n_post
            h.attrs["weight_exp"], h.attrs["num_weight_bits"] = int(pr.weight_exp), int(pr.num_weight_bits)
            h.attrs["sign_mode"] = pr.sign_mode or ""
            h.attrs["part"] = pr.part
            h.create_dataset("indptr", data=pr.indptr)
            h.create_dataset("indices", data=pr.indices)
            h.create_dataset("weights", data=pr.weights)
            if pr.delays is not None:
                h.create_dataset("delays", data=pr.delays).attrs["units"] = "steps"
            src_w = getattr(pr, "source_weights", None)
            if src_w is not None:
                h.create_dataset("weights_source", data=src_w)
        if lnet.report is not None:
            f.create_group("report").attrs["json"] = json.dumps(lnet.report.to_dict(), default=float)
        if source is not None:
            write_network_group(f.create_group("source"), source)


def load_loihi(path) -> LoihiNet:
    """Read a file written by ``save_loihi``. Sizes are checked against each other before any
    array is read; a missing, mistyped or inconsistent entry gives ``ValueError('path: ...')``."""
    from eventsim.files import open_h5, reading

    with open_h5(path, FILE_FORMAT) as f, reading(path):
        try:
            return _read_loihi(f)
        except (KeyError, TypeError, AttributeError, OverflowError) as e:
            raise ValueError(f"{type(e).__name__}: {e}") from None


def _flag_attr(h, key: str, what: str) -> bool:
    """A boolean attribute (HDF5 stores numpy booleans); ValueError naming ``what`` otherwise."""
    if key not in h.attrs:
        raise ValueError(f"{what}: attribute {key!r} is missing")
    v = h.attrs[key]
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{what}: attribute {key!r} must be a boolean, got {v!r}")
    return bool(v)


def _read_loihi(f) -> LoihiNet:
    """The LoihiNet in the open file ``f`` (see ``load_loihi``)."""
    import json

    from eventsim.files import count_attr, number_attr, read_dataset, text_attr

    def opt_text(h, key, default):
        return text_attr(h, key, "file") if key in h.attrs else default

    lnet = LoihiNet(text_attr(f, "precision", "file"), number_attr(f, "dt", "file"))
    lnet.method = opt_text(f, "method", "manual")
    lnet.provenance = json.loads(opt_text(f, "provenance_json", "{}"))
    pops = [(count_attr(h, "index", f"population {n!r}"), n, h) for n, h in f["populations"].items()]
    for _, name, h in sorted(pops, key=lambda x: x[0]):
        what = f"population {name!r}"
        size = count_attr(h, "size", what)
        if text_attr(h, "kind", what) == "input":
            lnet.add_input(name, size)
            continue
        conv = int if lnet.fixed else float
        du, dv, vth = (conv(number_attr(h, k, what)) for k in ("du", "dv", "vth"))
        arrays = [read_dataset(h, k, what, h[k].shape if k in h and h[k].shape in ((), (size,)) else (size,))
                  for k in ("bias_mant", "bias_exp", "v0")]
        lnet.add_lif(name, size, du, dv, vth, *arrays, _flag_attr(h, "spiking", what),
                     number_attr(h, "scale", what), number_attr(h, "v_offset", what))
    projs = [(count_attr(h, "index", f"projection {n!r}") if "index" in h.attrs else 0, n, h)
             for n, h in f["projections"].items()]
    for _, name, h in sorted(projs, key=lambda x: x[0]):
        what = f"projection {name!r}"
        n_pre, n_post = count_attr(h, "n_pre", what), count_attr(h, "n_post", what)
        indptr = read_dataset(h, "indptr", what, n_pre + 1, "iu")
        nnz = int(indptr[-1])
        if not 0 <= nnz <= n_pre * n_post:
            raise ValueError(f"{what}: indptr ends at {nnz}, outside [0, n_pre*n_post={n_pre * n_post}]")
        pr = LoihiProjection(text_attr(h, "src", what), text_attr(h, "dst", what), n_pre, n_post, indptr,
                             read_dataset(h, "indices", what, nnz, "iu"), read_dataset(h, "weights", what, nnz),
                             int(number_attr(h, "weight_exp", what)), int(number_attr(h, "num_weight_bits", what)),
                             opt_text(h, "sign_mode", "") or None,
                             read_dataset(h, "delays", what, nnz, "iu") if "delays" in h else None,
                             opt_text(h, "part", ""))
        if "weights_source" in h:
            pr.source_weights = read_dataset(h, "weights_source", what, nnz)
        lnet.add_projection(pr)
    if "report" in f:
        from .quantize import QuantReport

        lnet.report = QuantReport.from_dict(json.loads(text_attr(f["report"], "json", "report")))
    return lnet
