"""What every peer script shares: stdout for one JSON line only, and the help formatter.

Importing this module points file descriptor 1 (also used by NEST's and Brian2's C++ code) at
stderr for the whole process and keeps a private duplicate of the real stdout, so that ``emit``'s
line is the only thing the caller reads there. Import it before the simulator. The peer scripts
run in their own virtualenvs and import only this file of the repository (it is next to them, so
first on ``sys.path``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

_JSON_FD = os.dup(1)
os.dup2(2, 1)


def emit(obj: dict) -> None:
    """Write ``obj`` as one JSON line to the real stdout."""
    sys.stdout.flush()
    os.write(_JSON_FD, (json.dumps(obj) + "\n").encode())


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""


def load_cuba_network(path, model: str, who: str):
    """The CUBA network file written by ``benchmarks/cuba_model.py`` (a dict of arrays), or None and
    a message on stderr when it holds another model than ``model``; ``who`` names the caller."""
    import numpy as np

    f = dict(np.load(path))
    if str(f["model"]) != model:
        print(f"{who}: --network {path} holds model {str(f['model'])!r}, not {model!r}", file=sys.stderr)
        return None
    return f
