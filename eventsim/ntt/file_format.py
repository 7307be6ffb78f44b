"""Registers the ``eventsim.ntt`` file format (NTT results) with ``eventsim.formats``, so that
``eventsim.load`` and ``eventsim info`` read NTT files. Importing it does not import torch."""
from __future__ import annotations

import json
from typing import List

import numpy as np

from ..formats import FileFormat, register
from .io import FORMAT, load_result


def describe_ntt(result) -> List[str]:
    """Readable lines about an NTT result: method, twin, kept fraction per weight, provenance."""
    lines = [f"method {result.method}, twin {result.twin_spec.get('kind', '?')}, "
             f"overall density {100 * result.overall_density():.3g} %"]
    for k, d in result.densities().items():
        lines.append(f"  {k}: {np.shape(result.masks[k])}, {100 * d:.3g} % kept")
    keys = ("seed", "density", "steps", "variant", "lambda_K", "lambda_2", "lr", "frozen")
    prov = {k: result.provenance[k] for k in keys if k in result.provenance}
    if prov:
        lines.append("  provenance: " + json.dumps(prov, default=str)[:300])
    return lines


register(FileFormat(FORMAT, "NTT result", load_result, describe_ntt))
