"""Files on disk, the ground floor of eventsim's I/O: atomic writes and checked opening.

Every writer (HDF5 files, JSON metrics and tables, figures, NIR and netx exports) writes a fresh
temporary file next to its destination and renames it into place (``os.replace``), so a crash
never leaves a half-written file where a good one was. Every reader goes through ``open_h5`` or
``file_format``, which refuse a missing path, a folder, a FIFO or a device with a ValueError naming
the path, before anything is opened. This module imports nothing else of eventsim but its version.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

FORMAT_VERSION = 1
PathLike = Union[str, os.PathLike]


def _default_mode() -> int:
    """0666 minus the process umask: the mode ``open(path, 'w')`` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def _atomic_tmp(path: PathLike) -> Iterator[str]:
    """Yield a temporary file name next to ``path``; on success give it the usual mode and rename
    it to ``path``, on failure delete it (the file at ``path``, if any, is never half-written)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise ValueError(f"path: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _default_mode())   # mkstemp creates 0600; give the file the usual umask-based mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_path(path: PathLike):
    """Context manager for writers that take a file name (NIR, netx, ...): it yields a fresh temporary
    name next to ``path`` (created exclusively, so never a link someone placed there), and on success
    gives it the usual mode and renames it to ``path``; on failure it deletes it. A crash never
    leaves a half-written file where a good one was."""
    return _atomic_tmp(path)


@contextlib.contextmanager
def atomic_h5(path: PathLike, fmt: str) -> Iterator["object"]:
    """Open a temporary HDF5 file next to ``path``, yield it, and rename it into place on success."""
    import h5py

    from . import __version__

    with _atomic_tmp(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = fmt
            f.attrs["version"] = FORMAT_VERSION
            f.attrs["eventsim_version"] = __version__
            yield f


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file renamed into place (JSON metrics)."""
    with _atomic_tmp(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def atomic_savefig(fig, path: PathLike, **kwargs) -> None:
    """Save a matplotlib figure to ``path`` through a temporary file renamed into place (plots).

    ``kwargs`` go to ``fig.savefig``; the format is ``kwargs['format']`` or ``path``'s suffix (png
    when there is none), since the temporary name's ``.tmp`` suffix says nothing about it.
    """
    fmt = kwargs.pop("format", None) or (Path(path).suffix.lstrip(".").lower() or "png")
    with _atomic_tmp(path) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)


@contextlib.contextmanager
def open_h5(path: PathLike, fmt: str) -> Iterator["object"]:
    """Open ``path`` for reading and check its ``format``/``version``; ValueError if foreign or corrupt."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise ValueError(f"path: file {str(path)!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"path: {str(path)!r} is not a readable HDF5 file ({e})") from None
    try:
        got = f.attrs.get("format")
        if isinstance(got, bytes):
            got = got.decode()
        if got is None:
            raise ValueError(f"path: {str(path)!r} is not an eventsim file (no 'format' attribute)")
        if got != fmt:
            raise ValueError(f"path: {str(path)!r} has format {got!r}, expected {fmt!r}")
        ver = int(f.attrs.get("version", -1))
        if ver != FORMAT_VERSION:
            raise ValueError(f"path: {str(path)!r} has version {ver}, this eventsim reads version {FORMAT_VERSION}")
        yield f
    except (KeyError, TypeError) as e:
        raise ValueError(f"path: {str(path)!r} is corrupt or incomplete ({e})") from None
    finally:
        f.close()


def file_format(path: PathLike) -> str:
    """The ``format`` attribute of an eventsim HDF5 file (ValueError if there is none)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            got = f.attrs.get("format")
    except OSError as e:
        raise ValueError(f"path: {str(path)!r} is not a readable HDF5 file ({e})") from None
    if got is None:
        raise ValueError(f"path: {str(path)!r} is not an eventsim file (no 'format' attribute)")
    return got.decode() if isinstance(got, bytes) else str(got)
