"""HDF5 files of NTT results (format ``eventsim.ntt``, version 1); written atomically via ``eventsim.io``.

Layout::

    /  attrs: format='eventsim.ntt', version=1, eventsim_version,
              method, twin_spec (JSON), provenance (JSON), param_order, weight_order (JSON lists)
    /projections/<param>  attrs: src, dst, n_pre, n_post, density, transposed (bool: the twin stores
                                 this weight pre-major, e.g. GRU W (I, 3H), R (H, 3H))
        indptr (int64, n_pre+1), indices (int32, postsynaptic ids), weights (float64)
        -- the same CSR-over-presynaptic-index layout as an ``eventsim.connectome`` file; every
           kept synapse is listed, including kept weights whose value is 0
    /params/<name>          the other parameters (biases, thresholds), float64
    /history/<key>, /mask_history/<key>, /eval_history/<key>    float64 arrays

Single projections can also be written as ordinary ``eventsim.connectome`` files with
``result.to_connectomes()[name].save(path)``.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

FORMAT = "eventsim.ntt"


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _csr_from_dense(W_pp: np.ndarray, M_pp: np.ndarray):
    """CSR over the presynaptic index of W[post, pre] restricted to mask M[post, pre]."""
    n_post, n_pre = W_pp.shape
    pre, post = np.nonzero(M_pp.T)  # row-major over pre, then post: already sorted
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
    return indptr, post.astype(np.int32), W_pp[post, pre].astype(np.float64)


def save_result(result, path) -> None:
    """Write an ``NTTResult`` to ``path`` (HDF5, format ``eventsim.ntt``), atomically."""
    from ..files import atomic_h5

    tw = result.twin()
    proj = {name: (src, dst) for name, src, dst in tw.projections()}
    with atomic_h5(path, FORMAT) as f:
        f.attrs["method"] = result.method
        f.attrs["twin_spec"] = json.dumps(_jsonable(result.twin_spec))
        f.attrs["provenance"] = json.dumps(_jsonable(result.provenance))
        f.attrs["param_order"] = json.dumps(list(result.params))
        f.attrs["weight_order"] = json.dumps(list(result.masks))
        g = f.create_group("projections")
        for name in result.masks:
            W = np.asarray(result.params[name], dtype=np.float64)
            Wpp, Mpp = tw.post_pre(name, W), tw.post_pre(name, result.masks[name])
            indptr, indices, w = _csr_from_dense(Wpp, Mpp)
            h = g.create_group(name)
            src, dst = proj[name]
            h.attrs.update({"src": src, "dst": dst, "n_pre": Wpp.shape[1], "n_post": Wpp.shape[0],
                            "density": float(Mpp.mean()), "transposed": bool(tw.is_pre_major(name))})
            h.create_dataset("indptr", data=indptr)
            h.create_dataset("indices", data=indices)
            h.create_dataset("weights", data=w)
        g = f.create_group("params")
        for k, v in result.params.items():
            if k not in result.masks:
                g.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        for grp in ("history", "mask_history", "eval_history"):
            g = f.create_group(grp)
            for k, v in getattr(result, grp).items():
                g.create_dataset(k, data=np.asarray(v, dtype=np.float64))


#: a stored projection is expanded to a dense matrix; it may hold at most this many entries per stored
#: synapse (density >= 0.1 %) once above ``_DENSE_FREE`` entries, so a corrupt size cannot allocate terabytes
_DENSE_PER_SYNAPSE = 1000
_DENSE_FREE = 1 << 23


def load_result(path):
    """Read an ``NTTResult`` written by ``save_result``; ValueError on a foreign or corrupt file.
    Sizes are checked against each other and against what the file stores before anything is read."""
    from ..files import check_backed, count_attr, open_h5, read_dataset, reading, text_attr
    from .result import NTTResult

    with open_h5(path, FORMAT) as f, reading(path):
        try:
            spec = json.loads(text_attr(f, "twin_spec", "file"))
            prov = json.loads(text_attr(f, "provenance", "file"))
            params, masks = {}, {}
            for name, h in f["projections"].items():
                what = f"projection {name!r}"
                n_pre, n_post = count_attr(h, "n_pre", what), count_attr(h, "n_post", what)
                indptr = read_dataset(h, "indptr", what, n_pre + 1, "iu")
                nnz = int(indptr[-1])
                if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or not 0 <= nnz <= n_pre * n_post:
                    raise ValueError(f"{what}: indptr must start at 0, be non-decreasing and end in "
                                     f"[0, n_pre*n_post={n_pre * n_post}]")
                if n_pre * n_post > max(_DENSE_FREE, _DENSE_PER_SYNAPSE * nnz):
                    raise ValueError(f"{what}: {n_post}x{n_pre} is too large for its {nnz} stored synapses")
                indices, w = read_dataset(h, "indices", what, nnz, "iu"), read_dataset(h, "weights", what, nnz)
                if nnz and (indices.min() < 0 or indices.max() >= n_post):
                    raise ValueError(f"{what}: indices out of range [0, {n_post})")
                pre = np.repeat(np.arange(n_pre), np.diff(indptr))
                W = np.zeros((n_post, n_pre))
                M = np.zeros((n_post, n_pre), dtype=bool)
                W[indices, pre] = w
                M[indices, pre] = True
                if bool(h.attrs["transposed"]):
                    W, M = W.T.copy(), M.T.copy()
                params[name], masks[name] = W, M
            for k, ds in f["params"].items():
                check_backed(ds, f"params {k!r}")
                params[k] = ds[()]
            p_order = json.loads(text_attr(f, "param_order", "file"))
            w_order = json.loads(text_attr(f, "weight_order", "file"))
            params = {k: params[k] for k in p_order}
            masks = {k: masks[k] for k in w_order}
            hist = {}
            for grp in ("history", "mask_history", "eval_history"):
                hist[grp] = {}
                for k, ds in f[grp].items():
                    check_backed(ds, f"{grp} {k!r}")
                    hist[grp][k] = ds[()]
        except KeyError as e:
            raise ValueError(f"missing {e}") from None
        except (TypeError, AttributeError) as e:
            raise ValueError(f"{type(e).__name__}: {e}") from None
        try:
            return NTTResult(twin_spec=spec, params=params, masks=masks, provenance=prov, **hist)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{type(e).__name__}: {e}") from None
