"""Files on disk, the ground floor of eventsim's I/O: atomic writes and checked opening.

**Writing.** Every writer (HDF5 files, JSON metrics and tables, figures, NIR and netx exports)
writes a fresh temporary file next to its destination, flushes it to disk (``fsync``) and renames
it into place (``os.replace``), so a crash, a kill or a full disk never leaves a half-written file
where a good one was: the destination holds the old complete content or the new one. A
destination that exists and is not a regular file (a folder, a FIFO, a device) is refused with a
ValueError before anything is written.

**Temporary files and their cleanup.** A temporary is named
``.<name>.<pid>-<host>.<random>.tmp`` next to the destination ``<name>``: ``pid`` is the writing
process, ``host`` 8 hex digits of a hash of the machine's host name, ``random`` 8 hex digits. It
is created exclusively (never a file or a link someone placed there) and deleted when the write
fails with an exception; only a process killed inside its write (SIGKILL, a power cut, or the
crash of the HDF5 library when a write fails on a full disk) leaves one behind. Each write removes, before it starts, the stale temporaries of its own destination
(``remove_stale_temporaries``), and only those: regular files whose name matches that pattern
for exactly that ``<name>``, and of them only the ones whose writer is provably gone:

- written on this host: the process ``pid`` does not exist, or it started more than a minute
  after the temporary was last modified (so the PID now belongs to another process; checked
  where ``/proc`` exists);
- written on another host (a shared folder): last modified more than ``STALE_AGE`` seconds
  (24 hours) ago;
- named by an older eventsim (``.<name>.<8 characters of [a-z0-9_]>.tmp``, no PID): last
  modified more than ``STALE_AGE`` seconds ago and still of mode 0600 as it was created (no
  permissions for group and others), so that a user's file of a similar name is left alone.

A live writer's temporary (its process exists and started before the temporary was last
modified) is never removed, so two processes writing the same destination at once never delete
each other's temporary; the last rename wins, and the file is always one complete version.
Processes that share a folder from separate PID namespaces (containers) are told apart by their
host names, which differ by default.

**Reading.** Every reader goes through ``open_h5`` or ``file_format`` (HDF5) or
``require_regular_file`` (other formats), which refuse a missing path, a folder, a FIFO or a
device with a ValueError naming the path and what it is, before anything is opened (opening a
FIFO for reading would block until someone writes to it).

**Checked reading.** ``read_dataset``, ``check_backed`` and the ``*_attr`` readers check a
file's sizes and types before an array is read (see their docstrings); ``reading(path)`` turns a
ValueError raised while reading into ``path: '<path>' is corrupt or incomplete: ...``. Each type
reads and writes its own HDF5 group with them (``network``, ``spikes``, ``result``,
``connectome``, ...).

This module imports nothing else of eventsim but its version.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from pathlib import Path
from typing import Iterator, List, Optional, Union

import numpy as np

FORMAT_VERSION = 1
PathLike = Union[str, os.PathLike]

#: a temporary whose writer cannot be checked (another host, an older eventsim) is stale after this many seconds
STALE_AGE = 24 * 3600.0


# ------------------------------------------------------------------------------ regular files
def _kind(mode: int) -> str:
    """What a file of mode ``mode`` is, for error messages."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def require_regular_file(path: PathLike, name: str = "path") -> Path:
    """``path`` as a Path if it names an existing regular file (a symbolic link to one is fine);
    otherwise a ValueError naming the parameter ``name``, the path and what it is (missing, a
    directory, a FIFO, a device, a socket). Only ``os.stat`` is called: nothing is opened, so a
    FIFO never blocks the caller."""
    try:
        p = Path(path)
    except TypeError:
        raise ValueError(f"{name} must be a file path, got {path!r} of type {type(path).__name__}") from None
    try:
        mode = os.stat(p).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{name}: file {str(p)!r} does not exist") from None
    except OSError as e:
        raise ValueError(f"{name}: {str(p)!r} cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{name}: {str(p)!r} is {_kind(mode)}, not a regular file")
    return p


# ------------------------------------------------------------------------- temporary files
def _host_tag() -> str:
    """8 hex digits naming this machine in temporary names (a hash of its host name)."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _tmp_pattern(name: str) -> "re.Pattern[str]":
    """Our temporaries of the destination ``name``: group ``pid`` and ``host`` for the current
    naming, neither for the older one (``mkstemp``'s 8 random characters)."""
    return re.compile(rf"\.{re.escape(name)}\.(?:(?P<pid>\d+)-(?P<host>[0-9a-f]{{8}})\.[0-9a-f]{{8}}|[a-z0-9_]{{8}})\.tmp")


_CLK_TCK: Optional[float] = None
_BOOT_TIME: Optional[float] = None


def _process_start(pid: int) -> Optional[float]:
    """Start time (seconds since the epoch, to about a second) of process ``pid`` from ``/proc``;
    None where that cannot be read."""
    global _CLK_TCK, _BOOT_TIME
    try:
        if _BOOT_TIME is None:
            with open("/proc/stat", "rb") as f:
                _BOOT_TIME = float(next(line.split()[1] for line in f if line.startswith(b"btime ")))
            _CLK_TCK = float(os.sysconf("SC_CLK_TCK"))
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        # the command name (field 2) is in parentheses and may hold spaces; starttime is field 22
        fields = data[data.rindex(b")") + 2:].split()
        return _BOOT_TIME + float(fields[19]) / _CLK_TCK
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, mtime: float) -> bool:
    """Whether the process ``pid`` of this host may still be writing a temporary last modified at
    ``mtime``: it exists and did not start after that (a later start means the PID was reused)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass                              # it exists, owned by another user
    except OSError:
        return True                       # cannot tell: keep the file
    start = _process_start(pid)
    # a minute of slack: /proc's boot time has a resolution of 1 s and moves when the clock is set
    return start is None or start <= mtime + 60.0


def remove_stale_temporaries(path: PathLike) -> List[Path]:
    """Delete the temporaries that writers of ``path`` killed inside their write left next to it,
    and only those whose writer is provably gone (the rule is in the module docstring); return the
    paths deleted. Every atomic write calls it for its destination before it starts."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    pattern = _tmp_pattern(path.name)
    prefix = f".{path.name}."
    host, now = _host_tag(), time.time()
    removed: List[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        if not (e.name.startswith(prefix) and e.name.endswith(".tmp")):
            continue
        m = pattern.fullmatch(e.name)
        if m is None:
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if m.group("pid") is None and stat.S_IMODE(st.st_mode) & 0o077:
            continue                      # an older eventsim's temporary had mode 0600 while it was written
        if m.group("pid") is not None and m.group("host") == host:
            stale = not _writer_alive(int(m.group("pid")), st.st_mtime)
        else:
            stale = now - st.st_mtime > STALE_AGE
        if stale:
            with contextlib.suppress(OSError):   # gone already, or not ours to remove: never fail the write
                os.unlink(e.path)
                removed.append(Path(e.path))
    return removed


def _create_tmp(folder: Path, name: str) -> str:
    """Create (exclusively, mode 0600) and return a fresh temporary file name for destination ``name``."""
    tag = f"{os.getpid()}-{_host_tag()}"
    while True:
        tmp = os.path.join(folder, f".{name}.{tag}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _fsync(path: PathLike, directory: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries: best effort) to disk."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _default_mode() -> int:
    """0666 minus the process umask: the mode ``open(path, 'w')`` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def _atomic_tmp(path: PathLike) -> Iterator[str]:
    """Yield a temporary file name next to ``path``; on success flush it to disk, give it the usual
    mode and rename it to ``path``, on failure delete it (the file at ``path``, if any, is never
    half-written). Stale temporaries of ``path`` are removed first."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise ValueError(f"path: folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise ValueError(f"path: {str(folder)!r} is not a folder")
    with contextlib.suppress(FileNotFoundError):
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"path: {str(path)!r} is {_kind(mode)}, not a regular file; refusing to replace it")
    remove_stale_temporaries(path)
    tmp = _create_tmp(folder, path.name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _default_mode())   # the temporary is created 0600; give the file the usual umask-based mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync(folder, directory=True)


def atomic_path(path: PathLike):
    """Context manager for writers that take a file name (NIR, netx, ...): it yields a fresh temporary
    name next to ``path`` (created exclusively, so never a link someone placed there), and on success
    flushes it to disk, gives it the usual mode and renames it to ``path``; on failure it deletes it.
    A crash never leaves a half-written file where a good one was."""
    return _atomic_tmp(path)


@contextlib.contextmanager
def atomic_h5_file(path: PathLike) -> Iterator["object"]:
    """Open a new, empty HDF5 file (a temporary next to ``path``), yield it, and rename it into place
    on success (for HDF5 formats that are not eventsim's own, such as netx).

    HDF5 writes through a Python file object (h5py's file-object driver), not its own POSIX driver:
    on a full disk the POSIX driver's failed write makes HDF5 crash the process when the file is
    closed (a segmentation fault), while through Python the failed write is an ``OSError`` and the
    temporary is removed."""
    import h5py

    with _atomic_tmp(path) as tmp:
        with open(tmp, "r+b") as fh, h5py.File(fh, "w") as f:
            yield f


@contextlib.contextmanager
def atomic_h5(path: PathLike, fmt: str) -> Iterator["object"]:
    """Like ``atomic_h5_file``, for eventsim's formats: the file's attributes name the format
    ``fmt``, the format version and the eventsim version."""
    from . import __version__

    with atomic_h5_file(path) as f:
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
    """Open ``path`` for reading and check its ``format``/``version``; ValueError if it is not a
    regular file (checked before opening), foreign or corrupt."""
    import h5py

    path = require_regular_file(path)
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
    """The ``format`` attribute of an eventsim HDF5 file; ValueError if ``path`` is not a regular
    file (checked before opening), not HDF5 or has no such attribute."""
    import h5py

    path = require_regular_file(path)
    try:
        with h5py.File(path, "r") as f:
            got = f.attrs.get("format")
    except OSError as e:
        raise ValueError(f"path: {str(path)!r} is not a readable HDF5 file ({e})") from None
    if got is None:
        raise ValueError(f"path: {str(path)!r} is not an eventsim file (no 'format' attribute)")
    return got.decode() if isinstance(got, bytes) else str(got)


# ---------------------------------------------------------------------------- checked reading
def text_attr(h, key: str, what: str) -> str:
    """A string attribute; ValueError naming ``what`` if it is missing or not text."""
    if key not in h.attrs:
        raise ValueError(f"{what}: attribute {key!r} is missing")
    v = h.attrs[key]
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if not isinstance(v, str):
        raise ValueError(f"{what}: attribute {key!r} must be text, got {v!r}")
    return v


def number_attr(h, key: str, what: str) -> float:
    """A numeric attribute (never text: ``'1.0'`` stored as a string is refused)."""
    if key not in h.attrs:
        raise ValueError(f"{what}: attribute {key!r} is missing")
    v = h.attrs[key]
    if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
        v = v.reshape(())[()]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what}: attribute {key!r} must be a number, got {v!r} of type {type(v).__name__}")
    return float(v)


def count_attr(h, key: str, what: str) -> int:
    """A non-negative integer attribute (a size or a count)."""
    v = number_attr(h, key, what)
    if not (np.isfinite(v) and v >= 0 and v == int(v)):
        raise ValueError(f"{what}: attribute {key!r} must be a non-negative integer, got {v!r}")
    return int(v)


def read_dataset(h, key: str, what: str, shape, kind: str = "iuf") -> np.ndarray:
    """Read the dataset ``h[key]`` after checking, from its metadata alone, that it exists, holds
    numbers of a kind in ``kind`` (numpy kind letters) and has exactly ``shape`` (an int for 1-D):
    a file that declares a huge dataset, or one that disagrees with the file's other arrays, is
    refused with a ValueError naming ``what`` before anything is allocated."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    if key not in h:
        raise ValueError(f"{what}: dataset {key!r} is missing")
    ds = h[key]
    if not hasattr(ds, "shape") or not hasattr(ds, "dtype"):
        raise ValueError(f"{what}: {key!r} is not a dataset")
    if ds.dtype.kind not in kind:
        raise ValueError(f"{what}: dataset {key!r} must hold numbers, got dtype {ds.dtype}")
    if ds.shape != shape:
        raise ValueError(f"{what}: dataset {key!r} must have shape {shape} to match the rest of the file, "
                         f"got {ds.shape}")
    check_backed(ds, f"{what}: dataset {key!r}")
    return ds[()]


#: datasets up to this size (bytes) are read whatever the file holds for them
BACKED_FREE_BYTES = 64 << 20
#: a larger dataset may declare at most this many times the bytes the file stores for it
BACKED_RATIO = 100


def check_backed(ds, what: str) -> None:
    """ValueError unless the file really holds the data ``ds`` declares. HDF5 lets a small file
    declare a dataset of terabytes (chunks that were never written read as zeros), so before a
    dataset above ``BACKED_FREE_BYTES`` is read, the bytes it declares must be at most
    ``BACKED_RATIO`` times the bytes stored for it (compression rarely reaches 10x on weights,
    times and ids)."""
    declared = int(np.prod(ds.shape, dtype=np.float64) * ds.dtype.itemsize) if ds.shape else ds.dtype.itemsize
    if declared <= BACKED_FREE_BYTES:
        return
    stored = int(ds.id.get_storage_size())
    if declared > BACKED_RATIO * stored:
        raise ValueError(f"{what} declares {declared:,} bytes but the file stores {stored:,} bytes for it; "
                         "refusing to read it")


@contextlib.contextmanager
def reading(path: PathLike) -> Iterator[None]:
    """Say which file is wrong: a ValueError raised while reading the content of ``path`` becomes
    ``path: '<path>' is corrupt or incomplete: <what is wrong>``."""
    try:
        yield
    except ValueError as e:
        msg = str(e)
        if msg.startswith("path: "):
            raise
        raise ValueError(f"path: {str(path)!r} is corrupt or incomplete: {msg}") from None
