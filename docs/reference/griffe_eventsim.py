"""Griffe extension for the API reference: mount ``hardware/`` and ``models/`` as ``eventsim.hardware``
and ``eventsim.models``.

The two folders sit at the top of the repository and install inside ``eventsim`` through
setuptools' ``package-dir`` mapping (``pyproject.toml``). Griffe's static loader finds
``eventsim`` in ``eventsim/`` and never looks for sub-packages elsewhere, so after it has loaded
``eventsim`` this extension visits each mapped folder *as a sub-package of the loaded package*:
the objects get their installed names (``eventsim.hardware.loihi.quantize``, ...), and relative
imports inside those folders resolve against those names. The source is read statically, as
for the rest of the package (nothing is imported).

It also reads the docstrings' one reStructuredText habit the Markdown renderer would show as is:
a paragraph ending in ``::`` that introduces an indented literal block ("Layout::") becomes
"Layout:" (the block itself already renders as code); a line that is only ``::`` is dropped.
The docstrings in the source are not changed.

Used by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``); this file
is excluded from the site (``exclude_docs``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

REPO = Path(__file__).resolve().parents[2]

#: sub-package name -> folder (relative to the repository), as ``[tool.setuptools] package-dir``
SUBPACKAGES = {"eventsim": {"hardware": "hardware", "models": "models"}}


_RST_LITERAL = re.compile(r"(?m)^(?P<text>[ \t]*\S.*?)[ \t]*::[ \t]*$(?=\n[ \t]*\n)")
_RST_BARE = re.compile(r"(?m)^[ \t]*::[ \t]*\n")


def markdown_literals(text: str) -> str:
    """"Paragraph::" before a literal block -> "Paragraph:"; a bare "::" line -> nothing."""
    text = _RST_BARE.sub("", text)
    return _RST_LITERAL.sub(lambda m: m.group("text") + ":", text)


def _fix_docstrings(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = markdown_literals(obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _fix_docstrings(member)


class MountSubpackages(griffe.Extension):
    """After a package of ``SUBPACKAGES`` is loaded, load its mapped folders as its sub-packages;
    then turn the package's rST literal-block markers into Markdown (``markdown_literals``)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for name, folder in SUBPACKAGES.get(pkg.name, {}).items():
            init = REPO / folder / "__init__.py"
            if name in pkg.members or not init.exists():
                continue
            # ``_load_module`` with a parent is what the loader itself does for every sub-package
            # it finds on disk (it also loads the folder's own sub-modules).
            sub = loader._load_module(name, init, submodules=True, parent=pkg)
            pkg.set_member(name, sub)
            loader.expand_exports(sub)
        if pkg.name in SUBPACKAGES:
            _fix_docstrings(pkg)
