"""Optional parts of eventsim and the extra that installs each (``pip install "eventsim[EXTRA]"``).

The core needs numpy, numba, h5py, scipy, matplotlib and tqdm. Other packages are imported only
where they are used; ``require(module)`` imports one and, if it is missing, raises an ImportError
whose one-line message names the extra to install.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional

#: top-level module -> the extra that installs it
EXTRA_OF = {"torch": "torch", "norse": "torch", "lava": "lava", "nir": "nir", "dask": "dask",
            "distributed": "dask", "mkdocs": "docs", "hypothesis": "dev", "nbclient": "dev"}


def install_hint(module: str) -> Optional[str]:
    """One line telling how to install ``module``'s extra, or None if no extra provides it."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    note = " (Python 3.10 only)" if extra == "lava" else ""
    return f"this needs the '{extra}' extra{note}: pip install \"eventsim[{extra}]\""


def missing_extra(error: BaseException) -> Optional[str]:
    """The install hint for an ImportError raised because an extra's module is missing, else None."""
    if not isinstance(error, ImportError):
        return None
    name = getattr(error, "name", None) or ""
    return install_hint(name) if name else None


def require(module: str, what: str = "this") -> ModuleType:
    """Import ``module``; if it is missing, ImportError: "<what> needs the 'x' extra: pip install ...".

    ``what`` names the feature for the message (for example ``"NIR export"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        hint = install_hint(module)
        if hint is None or (e.name or "").split(".")[0] != module.split(".")[0]:
            raise
        raise ImportError(f"{what}: {hint}", name=e.name) from None
