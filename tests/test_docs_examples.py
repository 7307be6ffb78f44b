"""The Python examples of the documentation run as written.

Convention for the pages checked here (README.md, docs/index.md, docs/getting-started.md and
docs/how-to/*.md):

* a block fenced ```` ```python ```` (optionally with attributes, ```` ```python title="..." ````) RUNS;
* a block fenced ```` ```py ```` is shown but NOT run (it needs something only the reader has:
  their own data file, a chip, a long training run). Both are highlighted alike on the site;
* any other spelling of a Python fence (``python3``, ``pycon``, ``Python``, ``{.python}``, ...)
  fails ``test_python_fences_follow_the_convention``, so no block is left out by accident.

The runnable blocks of one page run in order, in one fresh namespace, in a fresh interpreter
whose working directory is an empty temporary folder; each block is compiled under the page's
file name with its real line numbers, so a traceback points at the line of the page. A failure
names the page, the block and its line. A block that imports a module of a missing extra
(torch, nir, lava, ...: ``eventsim.extras.EXTRA_OF``) skips the rest of its page, with the block
and the extra named in the skip reason (``make test-core`` runs without the extras).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", ROOT / "docs" / "getting-started.md",
         *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
RUN, SHOW = "python", "py"
PAGE_TIMEOUT_S = 400

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_PYTHONISH = re.compile(r"^\{?\s*\.?(python\d?|py\d?|pycon|ipython\d?|pytb)\b", re.IGNORECASE)


class Block(NamedTuple):
    page: Path
    index: int      # 1-based, counting every fenced block of the page
    line: int       # 1-based line of the first code line
    lang: str       # first word of the info string ('' if none)
    info: str
    code: str


def fenced_blocks(page: Path) -> List[Block]:
    """Every fenced code block of a Markdown page (CommonMark fences, possibly indented)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: List[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m.group("fence")[0] == "`" and "`" in m.group("info")):
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
        lang = info.split()[0] if info else ""
        out.append(Block(page, len(out) + 1, i + 2, lang, info, textwrap.dedent("\n".join(body)) + "\n"))
        i = j + 1
    return out


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_pages_exist():
    missing = [_rel(p) for p in PAGES if not p.exists()]
    assert not missing, f"documentation pages missing: {missing}"
    assert len(PAGES) > 3, "no how-to pages found under docs/how-to/"


def test_python_fences_follow_the_convention():
    bad = [f"{_rel(b.page)} block {b.index} (line {b.line - 1}): fence info {b.info!r}"
           for p in PAGES for b in fenced_blocks(p)
           if _PYTHONISH.match(b.info) and b.lang not in (RUN, SHOW)]
    assert not bad, ("Python blocks must be fenced ```python (run) or ```py (shown, not run):\n  "
                     + "\n  ".join(bad))


# The interpreter that runs one page: blocks in order, one namespace; reports the failing block.
_RUNNER = r'''
import json, sys, time, traceback
spec = json.load(open(sys.argv[1], encoding="utf-8"))
try:
    from eventsim.extras import EXTRA_OF
except Exception:
    EXTRA_OF = {"torch": "torch", "norse": "torch", "lava": "lava", "nir": "nir", "dask": "dask"}
ns = {"__name__": "__main__"}
for b in spec["blocks"]:
    # padded so that line numbers in tracebacks are the page's own
    code = compile("\n" * (b["line"] - 1) + b["code"], spec["page"], "exec")
    t0 = time.perf_counter()
    try:
        exec(code, ns)
    except ImportError as e:   # also eventsim.extras.require's "needs the 'x' extra" error
        top = (e.name or "").split(".")[0]
        if top in EXTRA_OF:
            print(json.dumps({"skip": b["index"], "line": b["line"], "module": top, "extra": EXTRA_OF[top]}))
            sys.exit(0)
        traceback.print_exc()
        print(json.dumps({"failed": b["index"], "line": b["line"]}))
        sys.exit(1)
    except BaseException:
        traceback.print_exc()
        print(json.dumps({"failed": b["index"], "line": b["line"]}))
        sys.exit(1)
    print(json.dumps({"ran": b["index"], "line": b["line"], "seconds": round(time.perf_counter() - t0, 2)}),
          flush=True)
'''


# pages with no ```python block have nothing to run (their ```py blocks are shown, not run)
RUN_PAGES = [p for p in PAGES if any(b.lang == RUN for b in fenced_blocks(p))]


@pytest.mark.parametrize("page", RUN_PAGES, ids=_rel)
def test_page_examples(page: Path, tmp_path: Path):
    blocks = [b for b in fenced_blocks(page) if b.lang == RUN]
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps({"page": str(page), "blocks": [b._asdict() | {"page": str(b.page)} for b in blocks]}),
                    encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("NUMBA_NUM_THREADS", "2")
    try:
        r = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=work, env=env, capture_output=True,
                           text=True, timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{_rel(page)}: the examples did not finish within {PAGE_TIMEOUT_S} s")
    events = []
    for ln in r.stdout.splitlines():
        if ln.startswith("{"):
            try:
                events.append(json.loads(ln))
            except ValueError:
                pass
    skipped = [e for e in events if "skip" in e]
    if r.returncode == 0 and skipped:
        e = skipped[0]
        pytest.importorskip(e["module"], reason=f"{_rel(page)} block {e['skip']} (line {e['line'] - 1}) and the "
                                                f"rest of the page need the '{e['extra']}' extra")
        pytest.fail(f"{_rel(page)} block {e['skip']} (line {e['line'] - 1}) raised ImportError for "
                    f"'{e['module']}', which is installed")
    failed = [e for e in events if "failed" in e]
    if r.returncode != 0 or failed:
        where = (f"block {failed[0]['failed']} (the ```python block at line {failed[0]['line'] - 1})"
                 if failed else "(no block reported; the interpreter itself failed)")
        tail = "\n".join((r.stdout + "\n" + r.stderr).strip().splitlines()[-40:])
        pytest.fail(f"{_rel(page)}: {where} raised:\n{tail}", pytrace=False)
    ran = [e["ran"] for e in events if "ran" in e]
    shown = [b.index for b in fenced_blocks(page) if b.lang == SHOW]
    print(f"{_rel(page)}: " + ", ".join(f"block {e['ran']} (line {e['line'] - 1}) {e['seconds']} s"
                                        for e in events if "ran" in e)
          + (f"; ```py blocks shown, not run: {shown}" if shown else ""))
    assert ran == [b.index for b in blocks], f"{_rel(page)}: ran blocks {ran}, expected {[b.index for b in blocks]}"
