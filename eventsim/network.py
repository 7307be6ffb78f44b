"""Networks: populations of LIF neurons and input sources, and projections between them.

A ``Projection`` stores its synapses as CSR over the **presynaptic** index (fan-out lists), because
events are delivered by source: the targets of presynaptic neuron ``i`` are
``indices[indptr[i]:indptr[i+1]]`` (postsynaptic indices within the target population) with
weights ``weights[...]`` (dimensionless, added to the target's synaptic current ``I``) and delays
``delays[...]`` (ms, >= 0; ``None`` means all zero). As a dense matrix, ``W[post, pre]``.

A dense weight array passed to ``connect`` means all-to-all (every entry is a synapse, zeros
included) unless a ``mask`` selects a subset; a ``scipy.sparse`` matrix (shape (n_post, n_pre))
means its stored entries; a ``Connectome`` carries its own mask. Feed-forward and recurrent
(including self-) projections are allowed; inputs can only be sources.
"""
from __future__ import annotations

import copy as _copy
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .checks import nonnegative_int, positive_int, positive_number
from .files import count_attr, number_attr, read_dataset, text_attr
from .layout import KernelLayout, layout_signature
from .params import LIFParams


@dataclass
class Population:
    """A named group of neurons: an input source (``params is None``) or LIF neurons."""

    name: str
    size: int
    params: Optional[LIFParams] = None

    @property
    def is_input(self) -> bool:
        return self.params is None


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(np.ravel(a)))[0]
        raise ValueError(f"{name} must be finite; entry {int(bad)} is {np.ravel(a)[bad].item()!r}")


def _count(name: str, value) -> int:
    """``value`` (also a 0-d array, as read from a file) as a non-negative int (a size)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return nonnegative_int(name, value)


def _integer_array(name: str, a, dtype) -> np.ndarray:
    """``a`` as a contiguous 1-D array of ``dtype``; ValueError naming ``name`` if it holds
    anything but integers (floats with a fraction, strings, NaN) or values that do not fit."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
        raise ValueError(f"{name} holds values outside the range of {np.dtype(dtype).name}")
    return np.ascontiguousarray(arr, dtype=dtype).reshape(-1)


def _float_array(name: str, a) -> np.ndarray:
    """``a`` as a contiguous 1-D float64 array; ValueError naming ``name`` unless it holds numbers
    (text such as ``'0.5'`` is refused, not parsed)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)


def _check_unique_targets(name: str, indptr: np.ndarray, indices: np.ndarray, n_post: int) -> None:
    """ValueError if a presynaptic row lists the same target twice. One synapse per (pre, post)
    pair is what ``to_dense``, the gradients and every export assume; two weights on one pair
    are one synapse with their sum."""
    if indices.size < 2:
        return
    pre = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    key = pre * max(n_post, 1) + indices
    d = np.diff(key)
    if np.all(d > 0):  # rows sorted by target: the usual case, decided in one pass
        return
    key = np.sort(key)
    dup = np.flatnonzero(np.diff(key) == 0)
    if dup.size:
        k = int(key[dup[0]])
        raise ValueError(f"indices of {name}: presynaptic neuron {k // max(n_post, 1)} lists target "
                         f"{k % max(n_post, 1)} twice ({dup.size} duplicate synapses in all); "
                         "a pair of neurons has at most one synapse: merge them by summing their weights")


class Projection:
    """Synapses from population ``src`` (size n_pre) to ``dst`` (size n_post), CSR over presynaptic index."""

    def __init__(self, src: str, dst: str, n_pre: int, n_post: int, indptr: np.ndarray, indices: np.ndarray,
                 weights: np.ndarray, delays: Optional[np.ndarray] = None):
        self.src, self.dst = str(src), str(dst)
        name = f"{self.src}->{self.dst}"
        self.n_pre, self.n_post = _count(f"n_pre of {name}", n_pre), _count(f"n_post of {name}", n_post)
        indptr = _integer_array(f"indptr of {name}", indptr, np.int64)
        indices = _integer_array(f"indices of {name}", indices, np.int64)
        weights = _float_array(f"weights of {name}", weights)
        if indptr.shape != (self.n_pre + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(f"indptr of {name} must start at 0 and be non-decreasing, of length "
                             f"n_pre+1={self.n_pre + 1}; got shape {indptr.shape}, first {indptr[:1].tolist()}")
        nnz = int(indptr[-1])
        if indices.shape != (nnz,) or weights.shape != (nnz,):
            raise ValueError(f"indices and weights of {name} must have length indptr[-1]={nnz}, "
                             f"got {indices.shape} and {weights.shape}")
        if nnz and (indices.min() < 0 or indices.max() >= self.n_post):
            bad = int(indices.min()) if indices.min() < 0 else int(indices.max())
            raise ValueError(f"indices of {name} out of range [0, {self.n_post}): got {bad}")
        _check_unique_targets(name, indptr, indices, self.n_post)
        indices = indices.astype(np.int32)
        _check_finite(f"weights of {src}->{dst}", weights)
        if delays is not None:
            delays = _float_array(f"delays of {name}", delays)
            if delays.shape != (nnz,):
                raise ValueError(f"delays of {src}->{dst} must have length {nnz}, got {delays.shape}")
            _check_finite(f"delays of {src}->{dst}", delays)
            if nnz and delays.min() < 0:
                raise ValueError(f"delays of {src}->{dst} must be >= 0 ms, got min {delays.min()!r}")
        self.indptr, self.indices, self.weights, self.delays = indptr, indices, weights, delays

    # ---------------------------------------------------------------------------------- builders
    @classmethod
    def from_dense(cls, src: str, dst: str, weights: np.ndarray, delays=None, mask=None) -> "Projection":
        """From ``W[post, pre]``; all entries are synapses unless ``mask`` (bool, same shape) selects some.

        ``delays``: None, a scalar (ms) or an array of the same shape as ``weights``.
        """
        W = np.asarray(weights, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"weights of {src}->{dst} must be 2-D (n_post, n_pre), got shape {W.shape}")
        _check_finite(f"weights of {src}->{dst}", W)
        n_post, n_pre = W.shape
        if mask is None:
            M = np.ones_like(W, dtype=bool)
        else:
            M = np.asarray(mask)
            if M.shape != W.shape:
                raise ValueError(f"mask of {src}->{dst} must have shape {W.shape}, got {M.shape}")
            M = M.astype(bool)
        pre_post = M.T  # (n_pre, n_post): row = presynaptic neuron
        pre, post = np.nonzero(pre_post)
        D = None
        if delays is not None:
            Darr = np.asarray(delays, dtype=np.float64)
            if Darr.ndim == 0:
                D = np.full(pre.size, float(Darr))
            elif Darr.shape == W.shape:
                D = Darr.T[pre, post]
            else:
                raise ValueError(f"delays of {src}->{dst} must be a scalar or have shape {W.shape}, got {Darr.shape}")
        return cls._from_coo(src, dst, n_pre, n_post, pre, post, W.T[pre, post], D)

    @classmethod
    def from_sparse(cls, src: str, dst: str, matrix, delays=None) -> "Projection":
        """From a scipy.sparse matrix of shape (n_post, n_pre); its stored entries are the synapses
        (entries stored twice for one pair are summed into one synapse, as scipy does).

        ``delays``: None, a scalar (ms), or a sparse matrix with the same sparsity pattern.
        """
        import scipy.sparse as sp

        A = sp.coo_matrix(matrix)
        A.sum_duplicates()  # scipy's meaning of repeated entries: one synapse with their sum
        n_post, n_pre = A.shape
        post, pre, w = A.row.astype(np.int64), A.col.astype(np.int64), A.data.astype(np.float64)
        D = None
        if delays is not None:
            if sp.issparse(delays):
                Dm = sp.csr_matrix(delays)
                if Dm.shape != A.shape:
                    raise ValueError(f"delays of {src}->{dst} must have shape {A.shape}, got {Dm.shape}")
                D = np.asarray(Dm[post, pre]).ravel()
            else:
                Darr = np.asarray(delays, dtype=np.float64)
                if Darr.ndim != 0:
                    raise ValueError(f"delays of {src}->{dst} for a sparse matrix must be a scalar or sparse matrix")
                D = np.full(w.size, float(Darr))
        return cls._from_coo(src, dst, n_pre, n_post, pre, post, w, D)

    @classmethod
    def _from_coo(cls, src, dst, n_pre, n_post, pre, post, w, D) -> "Projection":
        if D is not None:
            _check_finite(f"delays of {src}->{dst}", D)
            order = np.lexsort((post, D, pre))
        else:
            order = np.lexsort((post, pre))
        pre, post, w = pre[order], post[order], w[order]
        D = None if D is None else D[order]
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        return cls(src, dst, n_pre, n_post, indptr, post, w, D)

    # ---------------------------------------------------------------------------------- access
    @property
    def name(self) -> str:
        return f"{self.src}->{self.dst}"

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    def pre_indices(self) -> np.ndarray:
        """Presynaptic index of every synapse (same order as ``weights``)."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))

    def to_dense(self) -> np.ndarray:
        """Dense ``W[post, pre]`` (absent synapses are 0)."""
        W = np.zeros((self.n_post, self.n_pre))
        W[self.indices, self.pre_indices()] = self.weights
        return W

    def mask(self) -> np.ndarray:
        """Boolean connectivity ``M[post, pre]``."""
        M = np.zeros((self.n_post, self.n_pre), dtype=bool)
        M[self.indices, self.pre_indices()] = True
        return M

    def to_scipy(self):
        """scipy.sparse.csr_matrix of shape (n_post, n_pre) with the weights."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.weights, (self.indices, self.pre_indices())), shape=(self.n_post, self.n_pre))

    def delay_array(self) -> np.ndarray:
        """Per-synapse delays (ms); zeros if none were given."""
        return self.delays if self.delays is not None else np.zeros(self.n_synapses)

    def copy(self) -> "Projection":
        return _copy.deepcopy(self)

    def __repr__(self) -> str:
        return f"Projection({self.name}, {self.n_pre}x{self.n_post}, synapses={self.n_synapses})"


class Network:
    """Populations (inputs and LIF) and projections, with a global neuron layout for the kernels.

    Global neuron ids follow the order in which populations were added; ``offsets[name]`` is the
    first global id of a population.

    ``readout`` says how the network's last population is read as a class, so that a tool that runs
    the network elsewhere (the Loihi emulator, Lava) predicts the same way: ``'first_spike'`` (the
    neuron that fires first), ``'max'`` (the non-spiking read-out with the largest maximum voltage)
    or ``'integral'`` (the largest voltage integral); ``None`` when unspecified. It is saved with
    the network.
    """

    #: the prediction rules ``readout`` may name
    READOUTS = ("first_spike", "max", "integral")

    def __init__(self, readout: Optional[str] = None) -> None:
        self.populations: Dict[str, Population] = {}
        self.projections: Dict[str, Projection] = {}
        self._layout = None
        self.readout = readout

    @property
    def readout(self) -> Optional[str]:
        """How the output population predicts a class (one of ``READOUTS``, or ``None``)."""
        return self._readout

    @readout.setter
    def readout(self, value: Optional[str]) -> None:
        if value is not None and value not in self.READOUTS:
            raise ValueError(f"readout must be one of {self.READOUTS} or None, got {value!r}")
        self._readout = value

    # ---------------------------------------------------------------------------------- building
    def _check_new_name(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name or "->" in name:
            raise ValueError(f"population name must be a non-empty string without '/' or '->', got {name!r}")
        if name in self.populations:
            raise ValueError(f"population {name!r} already exists")

    def add_input(self, name: str, size: int) -> Population:
        """Add an input population of ``size`` spike sources (driven by a SpikeBatch)."""
        self._check_new_name(name)
        size = positive_int(f"size of {name!r}", size)
        pop = Population(name, int(size), None)
        self.populations[name] = pop
        self._layout = None
        return pop

    def add_population(self, name: str, size: int, params: Optional[LIFParams] = None) -> Population:
        """Add ``size`` LIF neurons with ``params`` (default ``LIFParams()``)."""
        self._check_new_name(name)
        size = positive_int(f"size of {name!r}", size)
        params = LIFParams() if params is None else params
        if not isinstance(params, LIFParams):
            raise ValueError(f"params of {name!r} must be LIFParams, got {type(params).__name__}")
        pop = Population(name, int(size), params)
        self.populations[name] = pop
        self._layout = None
        return pop

    def connect(self, src: str, dst: str, weights, delays=None, mask=None, *, weight=None, delay=None,
                seed=None) -> Projection:
        """Connect ``src`` to ``dst`` with given weights, or by a connection rule.

        Given weights: ``weights`` is a dense ``W[post, pre]`` (every entry a synapse unless
        ``mask``, bool of W's shape, selects some), a scipy.sparse matrix (its stored entries) or a
        Connectome; ``delays`` in ms: None (zero), a scalar, or per synapse (a dense array of W's
        shape, or sparse with W's pattern).

        By a rule: ``weights`` is a rule of ``eventsim.connectivity`` (``AllToAll``, ``OneToOne``,
        ``FixedProbability``, ``FixedInDegree``, ``FixedOutDegree``), ``weight`` (required,
        dimensionless) and ``delay`` (ms, >= 0; default: none) are numbers or distributions
        (``Constant``, ``Uniform``, ``Normal``, ``LogNormal``), and ``seed`` (an int >= 0 or a
        ``numpy.random.Generator``) is required as soon as the rule or a distribution is random:
        there is no default seed, so that two projections never share a random stream by accident.
        ``delays`` and ``mask`` do not go with a rule, nor ``weight``, ``delay``, ``seed`` with
        given weights.

        Returns the new Projection. ValueError for an unknown population, a projection into an
        input, a second projection between the same pair, a shape that does not match the
        populations, or a bad weight or delay (named, with the value).
        """
        from .connectivity import ConnectionRule, draw_synapses
        from .connectome import Connectome

        for role, name in (("src", src), ("dst", dst)):
            if name not in self.populations:
                raise ValueError(f"{role} population {name!r} does not exist (have {list(self.populations)})")
        if self.populations[dst].is_input:
            raise ValueError(f"dst {dst!r} is an input population; inputs cannot receive synapses")
        if f"{src}->{dst}" in self.projections:
            raise ValueError(f"a projection {src}->{dst} already exists")
        n_pre, n_post = self.populations[src].size, self.populations[dst].size
        if isinstance(weights, ConnectionRule):
            for name, value in (("delays", delays), ("mask", mask)):
                if value is not None:
                    raise ValueError(f"{name} does not go with a connection rule: pass delay= (a number or a "
                                     f"distribution) and let the rule choose the synapses; got {name}={value!r}")
            if weight is None:
                raise ValueError(f"weight is required with the connection rule {weights!r}: a number or a "
                                 "distribution (eventsim.connectivity)")
            syn = draw_synapses(weights, n_pre, n_post, weight=weight, delay=delay, seed=seed,
                                same_population=src == dst)
            proj = Projection._from_coo(src, dst, n_pre, n_post, syn.pre, syn.post, syn.weight, syn.delay)
        else:
            for name, value in (("weight", weight), ("delay", delay), ("seed", seed)):
                if value is not None:
                    raise ValueError(f"{name}= goes with a connection rule (eventsim.connectivity) as the third "
                                     f"argument; with given weights use delays= (got {name}={value!r})")
            if weights is None:
                raise ValueError(f"weights of {src}->{dst} are missing: pass W[post, pre], a sparse matrix, a "
                                 "Connectome or a connection rule")
            if isinstance(weights, Connectome):
                proj = weights.to_projection(src, dst, delays=delays)
            else:
                try:
                    import scipy.sparse as sp
                    is_sparse = sp.issparse(weights)
                except ImportError:  # pragma: no cover
                    is_sparse = False
                if is_sparse:
                    if mask is not None:
                        raise ValueError("mask cannot be combined with sparse weights (the sparsity is the mask)")
                    proj = Projection.from_sparse(src, dst, weights, delays)
                else:
                    proj = Projection.from_dense(src, dst, weights, delays, mask)
        if (proj.n_pre, proj.n_post) != (n_pre, n_post):
            raise ValueError(f"weights for {src}->{dst} must have shape (n_post, n_pre)=({n_post}, {n_pre}), "
                             f"got ({proj.n_post}, {proj.n_pre})")
        self.projections[proj.name] = proj
        self._layout = None
        return proj

    def add_projection(self, proj: Projection) -> Projection:
        """Add a ready Projection (its src/dst must exist and match in size)."""
        for role, name in (("src", proj.src), ("dst", proj.dst)):
            if name not in self.populations:
                raise ValueError(f"{role} population {name!r} does not exist")
        if self.populations[proj.dst].is_input:
            raise ValueError(f"dst {proj.dst!r} is an input population")
        if (proj.n_pre, proj.n_post) != (self.populations[proj.src].size, self.populations[proj.dst].size):
            raise ValueError(f"projection {proj.name} has the wrong shape for its populations")
        if proj.name in self.projections:
            raise ValueError(f"a projection {proj.name} already exists")
        self.projections[proj.name] = proj
        self._layout = None
        return proj

    @classmethod
    def feedforward(cls, sizes: Sequence[int], params: Union[LIFParams, Sequence[LIFParams], None] = None,
                    seed: int = 0, init: Optional[Sequence[Tuple[float, float]]] = None,
                    names: Optional[Sequence[str]] = None, delays: float = 0.0) -> "Network":
        """An input layer followed by LIF layers, all-to-all between consecutive layers.

        ``sizes``: e.g. ``[5, 200, 3]``. ``params``: one LIFParams for all layers or one per LIF
        layer. ``init``: (mean, std) of the normal weight distribution per projection; the default
        mean puts the summed PSP peak of all inputs at 2x threshold. ``names`` default to
        ``in, hidden (hidden1, hidden2, ...), out``.
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes!r}")
        n_lif = len(sizes) - 1
        if params is None or isinstance(params, LIFParams):
            plist = [params or LIFParams()] * n_lif
        else:
            plist = list(params)
            if len(plist) != n_lif:
                raise ValueError(f"params must be one LIFParams or {n_lif} of them, got {len(plist)}")
        if names is None:
            hidden = ["hidden"] if n_lif == 2 else [f"hidden{i + 1}" for i in range(n_lif - 1)]
            names = ["in"] + hidden + ["out"] if n_lif > 1 else ["in", "out"]
        names = list(names)
        if len(names) != len(sizes):
            raise ValueError(f"names must have {len(sizes)} entries, got {len(names)}")
        if init is not None and len(init) != n_lif:
            raise ValueError(f"init must give (mean, std) for each of the {n_lif} projections, got {len(init)}")
        rng = np.random.default_rng(seed)
        net = cls()
        net.add_input(names[0], sizes[0])
        for i in range(n_lif):
            net.add_population(names[i + 1], sizes[i + 1], plist[i])
        for i in range(n_lif):
            if init is not None:
                mean, std = init[i]
            else:
                p = plist[i]
                peak = psp_peak(p.tau_mem, p.tau_syn)
                thr = p.v_th - p.v_leak if math.isfinite(p.v_th) else 1.0
                mean = 2.0 * thr / (peak * sizes[i])
                std = mean
            W = rng.normal(mean, std, size=(sizes[i + 1], sizes[i]))
            net.connect(names[i], names[i + 1], W, delays=delays if delays else None)
        return net

    # ---------------------------------------------------------------------------------- queries
    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())

    @property
    def offsets(self) -> Dict[str, int]:
        out, o = {}, 0
        for name, p in self.populations.items():
            out[name] = o
            o += p.size
        return out

    @property
    def input_names(self) -> List[str]:
        return [n for n, p in self.populations.items() if p.is_input]

    @property
    def lif_names(self) -> List[str]:
        return [n for n, p in self.populations.items() if not p.is_input]

    def population(self, name: str) -> Population:
        if name not in self.populations:
            raise ValueError(f"population {name!r} does not exist (have {list(self.populations)})")
        return self.populations[name]

    def parameters(self) -> Dict[str, np.ndarray]:
        """Trainable arrays by name: ``"src->dst"`` -> the projection's weight array (a live view)."""
        return {name: p.weights for name, p in self.projections.items()}

    def copy(self) -> "Network":
        """A deep copy (populations, projections with their arrays, ``readout``)."""
        net = Network(readout=self.readout)
        net.populations = {k: Population(p.name, p.size, p.params) for k, p in self.populations.items()}
        net.projections = {k: p.copy() for k, p in self.projections.items()}
        return net

    def save(self, path) -> None:
        """Write the network to HDF5 (atomic; see ``eventsim.io``)."""
        from .io import save_network

        save_network(self, path)

    def __repr__(self) -> str:
        pops = ", ".join(f"{n}[{p.size}]" for n, p in self.populations.items())
        return f"Network({pops}; {len(self.projections)} projections)"

    # ---------------------------------------------------------------------------------- kernels
    def layout(self) -> KernelLayout:
        """Global arrays for the kernels (``eventsim.layout``; cached until the structure or a neuron
        parameter changes, weights re-read on each call)."""
        sig = layout_signature(self)
        if self._layout is None or self._layout.signature != sig:
            self._layout = KernelLayout(self, sig)
        self._layout.refresh_weights(self)
        return self._layout


def psp_peak(tau_mem: float, tau_syn: float) -> float:
    """Peak of the PSP of unit weight from rest (dimensionless), see ``LIFParams``; time constants
    in ms. Exact to rounding for any ratio, equal time constants included (the simulator's own
    ``kernels.lif.psp_max``)."""
    from .kernels.lif import psp_max

    return psp_max(positive_number("tau_mem", tau_mem), positive_number("tau_syn", tau_syn))


# ------------------------------------------------------------------------------------ HDF5 group
def write_network_group(g, net: Network) -> None:
    """Write populations and projections of ``net`` (and its ``readout``, if set) into an open HDF5 group."""
    if net.readout is not None:
        g.attrs["readout"] = net.readout
    pg = g.create_group("populations")
    for i, (name, p) in enumerate(net.populations.items()):
        h = pg.create_group(name)
        h.attrs["index"] = i
        h.attrs["size"] = p.size
        h.attrs["kind"] = "input" if p.is_input else "lif"
        if p.params is not None:
            for k, v in p.params.to_dict().items():
                h.attrs[k] = v
    jg = g.create_group("projections")
    for name, pr in net.projections.items():
        h = jg.create_group(name)
        h.attrs["src"], h.attrs["dst"] = pr.src, pr.dst
        h.attrs["n_pre"], h.attrs["n_post"] = pr.n_pre, pr.n_post
        h.create_dataset("indptr", data=pr.indptr)
        h.create_dataset("indices", data=pr.indices)
        h.create_dataset("weights", data=pr.weights)
        if pr.delays is not None:
            d = h.create_dataset("delays", data=pr.delays)
            d.attrs["units"] = "ms"


def read_network_group(g) -> Network:
    """Inverse of ``write_network_group``; ValueError on missing or inconsistent content.

    Every size is checked against the file's other arrays before an array is read, so a corrupt
    or hostile file is refused without allocating what it declares."""
    net = Network(readout=text_attr(g, "readout", "network") if "readout" in g.attrs else None)
    for part in ("populations", "projections"):
        if part not in g:
            raise ValueError(f"network: group {part!r} is missing")
    pops = []
    for name, h in g["populations"].items():
        pops.append((count_attr(h, "index", f"population {name!r}"), name, h))
    for index, name, h in sorted(pops, key=lambda x: x[0]):
        what = f"population {name!r}"
        kind = text_attr(h, "kind", what)
        size = count_attr(h, "size", what)
        if kind == "input":
            net.add_input(name, size)
        elif kind == "lif":
            values = {k: number_attr(h, k, what) for k in ("tau_mem", "tau_syn", "v_th", "v_reset", "v_leak", "t_ref")}
            if "tau_syn_inh" in h.attrs:
                values["tau_syn_inh"] = number_attr(h, "tau_syn_inh", what)
            try:
                params = LIFParams(**values)
            except ValueError as e:
                raise ValueError(f"{what}: {e}") from None
            net.add_population(name, size, params)
        else:
            raise ValueError(f"{what} has unknown kind {kind!r} (expected 'input' or 'lif')")
    for name, h in g["projections"].items():
        what = f"projection {name!r}"
        src, dst = text_attr(h, "src", what), text_attr(h, "dst", what)
        for role, pop in (("src", src), ("dst", dst)):
            if pop not in net.populations:
                raise ValueError(f"{what}: {role} population {pop!r} is not in the file")
        n_pre, n_post = count_attr(h, "n_pre", what), count_attr(h, "n_post", what)
        if (n_pre, n_post) != (net.populations[src].size, net.populations[dst].size):
            raise ValueError(f"{what}: n_pre, n_post = {n_pre}, {n_post} do not match the sizes of {src!r} and "
                             f"{dst!r} ({net.populations[src].size}, {net.populations[dst].size})")
        indptr = read_dataset(h, "indptr", what, n_pre + 1, "iu")
        nnz = int(indptr[-1])
        if nnz < 0 or nnz > n_pre * n_post or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(f"{what}: indptr must start at 0, be non-decreasing and end at most at "
                             f"n_pre*n_post={n_pre * n_post}, got first {int(indptr[0])}, last {nnz}")
        indices = read_dataset(h, "indices", what, nnz, "iu")
        weights = read_dataset(h, "weights", what, nnz, "iuf")
        delays = read_dataset(h, "delays", what, nnz, "iuf") if "delays" in h else None
        try:
            pr = Projection(src, dst, n_pre, n_post, indptr, indices, weights, delays)
            net.add_projection(pr)
        except ValueError as e:
            raise ValueError(f"{what}: {e}") from None
    return net
