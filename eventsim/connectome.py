"""Connectomes: a sparse connectivity pattern with initial weights and its provenance.

A ``Connectome`` is the structure of one projection independent of any network: CSR over the
presynaptic index (``indptr`` of length n_pre+1, postsynaptic ``indices``, ``weights``), the same
convention as ``Projection``, plus a ``provenance`` dict (method, density, seed, losses, ...)
stored with it. NTT and the pruning baselines produce connectomes; ``Network.connect`` accepts them.

File format ``eventsim.connectome`` (version 1)::

    /  attrs: n_pre, n_post, density
    indptr (int64), indices (int32), weights (float64)
    /provenance  attrs: scalar or string entries;  datasets: array entries (e.g. loss histories)
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import numpy as np

from .network import Projection


class Connectome:
    """Sparse connectivity (CSR over presynaptic index) with initial weights and provenance."""

    def __init__(self, n_pre: int, n_post: int, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                 provenance: Optional[Dict[str, Any]] = None):
        proj = Projection("pre", "post", n_pre, n_post, indptr, indices, weights)  # validates
        self.n_pre, self.n_post = proj.n_pre, proj.n_post
        self.indptr, self.indices, self.weights = proj.indptr, proj.indices, proj.weights
        self.provenance: Dict[str, Any] = dict(provenance or {})

    @classmethod
    def from_dense(cls, weights: np.ndarray, mask: Optional[np.ndarray] = None,
                   provenance: Optional[Dict[str, Any]] = None) -> "Connectome":
        """From ``W[post, pre]``; synapses where ``mask`` is true (default: where W != 0)."""
        W = np.asarray(weights, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"weights must be 2-D (n_post, n_pre), got shape {W.shape}")
        M = (W != 0) if mask is None else np.asarray(mask, dtype=bool)
        p = Projection.from_dense("pre", "post", W, mask=M)
        return cls(p.n_pre, p.n_post, p.indptr, p.indices, p.weights, provenance)

    @classmethod
    def from_projection(cls, proj: Projection, provenance: Optional[Dict[str, Any]] = None) -> "Connectome":
        return cls(proj.n_pre, proj.n_post, proj.indptr.copy(), proj.indices.copy(), proj.weights.copy(), provenance)

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    @property
    def density(self) -> float:
        """Fraction of the n_post x n_pre possible synapses that exist."""
        return self.n_synapses / float(self.n_pre * self.n_post)

    def _proj(self) -> Projection:
        return Projection("pre", "post", self.n_pre, self.n_post, self.indptr, self.indices, self.weights)

    def mask(self) -> np.ndarray:
        """Boolean ``M[post, pre]``."""
        return self._proj().mask()

    def to_dense(self) -> np.ndarray:
        """Dense ``W[post, pre]``."""
        return self._proj().to_dense()

    def to_projection(self, src: str, dst: str, delays=None) -> Projection:
        """A Projection with this connectivity and these weights (copies)."""
        W = self.to_dense()
        if delays is None or np.ndim(delays) == 0:
            return Projection.from_dense(src, dst, W, delays=delays, mask=self.mask())
        return Projection.from_dense(src, dst, W, delays=delays, mask=self.mask())

    def save(self, path) -> None:
        """Write to HDF5 (format ``eventsim.connectome``), atomically."""
        from .files import atomic_h5

        with atomic_h5(path, "eventsim.connectome") as f:
            f.attrs["n_pre"], f.attrs["n_post"] = self.n_pre, self.n_post
            f.attrs["density"] = self.density
            f.create_dataset("indptr", data=self.indptr)
            f.create_dataset("indices", data=self.indices)
            f.create_dataset("weights", data=self.weights)
            g = f.create_group("provenance")
            for k, v in self.provenance.items():
                if isinstance(v, np.ndarray) or (isinstance(v, (list, tuple)) and v and
                                                 all(isinstance(x, (int, float)) for x in v)):
                    g.create_dataset(k, data=np.asarray(v))
                elif isinstance(v, str):
                    g.attrs[k] = str(v)  # str subclasses (e.g. torch's TorchVersion) have no HDF5 type
                elif isinstance(v, (int, float, bool, np.integer, np.floating)):
                    g.attrs[k] = v
                else:
                    g.attrs[k] = json.dumps(v)

    def __repr__(self) -> str:
        return f"Connectome({self.n_pre}->{self.n_post}, synapses={self.n_synapses}, density={self.density:.4f})"


def load_connectome(path) -> Connectome:
    """Read a connectome written by ``Connectome.save``."""
    from .files import check_backed, count_attr, open_h5, read_dataset, reading

    with open_h5(path, "eventsim.connectome") as f, reading(path):
        prov: Dict[str, Any] = {}
        if "provenance" in f:
            g = f["provenance"]
            for k, v in g.attrs.items():
                prov[k] = v.item() if isinstance(v, np.generic) else v
            for k, ds in g.items():
                check_backed(ds, f"connectome: provenance {k!r}")
                prov[k] = ds[()]
        n_pre, n_post = count_attr(f, "n_pre", "connectome"), count_attr(f, "n_post", "connectome")
        indptr = read_dataset(f, "indptr", "connectome", n_pre + 1, "iu")
        nnz = int(indptr[-1])
        if not 0 <= nnz <= n_pre * n_post:
            raise ValueError(f"connectome: indptr ends at {nnz}, outside [0, n_pre*n_post={n_pre * n_post}]")
        indices = read_dataset(f, "indices", "connectome", nnz, "iu")
        weights = read_dataset(f, "weights", "connectome", nnz, "iuf")
        return Connectome(n_pre, n_post, indptr, indices, weights, prov)


def describe_connectome(c: Connectome) -> List[str]:
    """Readable lines about a connectome: shape, synapses, density, weights and provenance."""
    from .io import _stats

    lines = [f"{c.n_pre} -> {c.n_post}: {c.n_synapses} synapses, density {100 * c.density:.3g} %; "
             f"weights {_stats(c.weights)}"]
    for k, v in c.provenance.items():
        text = f"array of {np.size(v)}" if isinstance(v, np.ndarray) and np.size(v) > 8 else str(v)
        lines.append(f"  {k}: {text[:120]}")
    return lines


def _register() -> None:
    from .formats import FileFormat, register

    register(FileFormat("eventsim.connectome", "connectome", load_connectome, describe_connectome))


_register()

