"""MkDocs hook (``mkdocs.yml``: ``hooks``): a compatibility shim between mkdocstrings and
pymdown-extensions 12.

pymdown-extensions 12 made the Markdown instance the first, required argument of
``pymdownx.highlight.Highlight``; mkdocstrings 1.0.6 (the newest release) subclasses it as
``Highlighter`` and calls ``super().__init__(**config)`` without it, so every ``:::`` block of the
API reference fails with "Highlight.__init__() missing 1 required positional argument: 'md'".
With such a pymdown-extensions this hook hands the Markdown instance that mkdocstrings already
has to ``Highlight``; with an older one (``pymdown-extensions<12``) it does nothing. Remove it once
mkdocstrings passes ``md`` itself. This file is excluded from the site (``exclude_docs``).
"""
from __future__ import annotations

import inspect


def _patch() -> None:
    try:
        from mkdocstrings._internal.handlers import rendering
        from pymdownx.highlight import Highlight
    except ImportError:  # pragma: no cover - another mkdocstrings layout: nothing to patch
        return
    Highlighter = getattr(rendering, "Highlighter", None)
    if Highlighter is None or getattr(Highlighter, "_eventsim_md_shim", False):
        return
    if "md" not in inspect.signature(Highlight.__init__).parameters:
        return  # pymdown-extensions < 12: compatible as it is
    try:
        inspect.signature(Highlighter.__init__).bind(None, None)
    except TypeError:  # pragma: no cover - Highlighter no longer takes md alone: unknown layout
        return

    highlight_init = Highlight.__init__
    highlighter_init = Highlighter.__init__

    def init_highlighter(self, md, *args, **kwargs):
        self._eventsim_md = md
        highlighter_init(self, md, *args, **kwargs)

    def init_highlight(self, *args, **kwargs):
        # Highlighter's super().__init__(**config) arrives here without md
        if not args and "md" not in kwargs and hasattr(self, "_eventsim_md"):
            kwargs["md"] = self._eventsim_md
        highlight_init(self, *args, **kwargs)

    Highlighter.__init__ = init_highlighter
    Highlight.__init__ = init_highlight
    Highlighter._eventsim_md_shim = True


def on_startup(command, dirty) -> None:
    """Apply the shim before any page is rendered."""
    _patch()


_patch()
