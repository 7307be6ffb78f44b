"""The registry of eventsim file formats: how ``eventsim.load`` reads a file and ``eventsim info``
describes it.

Every HDF5 file eventsim writes carries a root attribute ``format`` (for example
``eventsim.network``). Each format is registered once, by the module that writes it, as a
``FileFormat``: its name, a ``load(path)`` function and a ``describe(obj)`` function that returns
readable lines about the loaded object. Formats written outside the core package (the Loihi
network of ``eventsim.hardware``, NTT results of ``eventsim.ntt``) are registered by their own
modules, which the registry imports on demand through the ``eventsim.formats`` entry-point group
(``pyproject.toml``); so the core never imports a higher layer, and a third-party package can add
its own format the same way.

This module imports nothing else from eventsim.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

__all__ = ["FileFormat", "register", "lookup", "known_formats"]


@dataclass(frozen=True)
class FileFormat:
    """A file format: ``name`` (the file's ``format`` attribute), ``what`` (a short noun phrase),
    ``load(path) -> object`` and ``describe(object) -> list of lines``."""

    name: str
    what: str
    load: Callable[[Any], Any]
    describe: Callable[[Any], List[str]]


_REGISTRY: Dict[str, FileFormat] = {}
_PLUGINS_LOADED = False


def register(fmt: FileFormat) -> FileFormat:
    """Add ``fmt`` to the registry (a format registered again replaces the old entry); return it."""
    if not isinstance(fmt, FileFormat):
        raise TypeError(f"fmt must be a FileFormat, got {type(fmt).__name__}")
    _REGISTRY[fmt.name] = fmt
    return fmt


def _load_plugins() -> None:
    """Import the modules named in the ``eventsim.formats`` entry points (each registers its format).

    A plugin whose own dependencies are missing is passed over: its format stays unknown.
    """
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="eventsim.formats"):
        try:
            importlib.import_module(ep.value.split(":")[0])
        except ImportError:
            continue


def lookup(name: str) -> FileFormat:
    """The registered format called ``name``; ValueError naming it (and the known ones) if none is."""
    if name not in _REGISTRY:
        _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"format {name!r} is not a known eventsim format (known: {known_formats()})") from None


def known_formats() -> List[str]:
    """Names of every registered format (plugins included), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)
