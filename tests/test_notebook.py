"""notebooks/eventsim_tour.ipynb runs top to bottom in a real Jupyter kernel, at a small budget.

The notebook reads its sizes from ``TOUR_*`` environment variables (first code cell); here it trains
a few epochs on a few hundred samples and runs Lava on a few test samples, in a temporary working
directory with ``TOUR_OUT`` in a temporary folder. Checked: no cell raised, the printed numbers are
sane (accuracy above chance, agreement a fraction, Lava's rasters equal to the emulator's), the
figures were produced as PNG, the network was written to ``TOUR_OUT`` and nothing inside the
repository. A second, fast test checks that the stored notebook is a clean top-to-bottom run.
"""
from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "eventsim_tour.ipynb"
SMALL = {"TOUR_EPOCHS": "5", "TOUR_N_TRAIN": "500", "TOUR_N_TEST": "200", "TOUR_LAVA_SAMPLES": "10"}
CELL_TIMEOUT_S = 600
N_FIGURES = 7            # data, untrained run, training curves, test predictions, quantisation, one sample, dt scan
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Folders that are not the notebook's business: version control, environments, caches (Numba caches
# its compiled kernels next to the sources, in __pycache__) and build products.
_SKIP_DIRS = {".git", ".venv", ".venv-core", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist",
              "eventsim.egg-info"}
# Source text a developer may be editing while the test runs; the notebook writes none of these.
_SOURCE_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".in"}


def _repo_files():
    out = {}
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".venv")]
        for f in files:
            p = Path(root, f)
            try:
                st = p.stat()
            except FileNotFoundError:     # removed while walking
                continue
            out[p.relative_to(REPO).as_posix()] = (st.st_mtime_ns, st.st_size)
    return out


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def _all_text(nb) -> str:
    return "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")


def _pngs(nb):
    return [base64.b64decode(o["data"]["image/png"]) for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"the notebook did not print {pattern!r}; it printed:\n{text}"
    return float(m.group(1))


def test_notebook_runs_small(tmp_path, monkeypatch):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("lava.magma")          # the notebook's Lava cell (the lava extra)
    from nbclient import NotebookClient

    out_dir, work = tmp_path / "out", tmp_path / "cwd"
    out_dir.mkdir()
    work.mkdir()
    for k, v in SMALL.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TOUR_OUT", str(out_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    before = _repo_files()
    # the kernel inherits this process's environment (TOUR_*, NUMBA_NUM_THREADS from conftest.py)
    NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, startup_timeout=120,
                   resources={"metadata": {"path": str(work)}}).execute()   # CellExecutionError if a cell raises
    after = _repo_files()

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    text = _all_text(nb)

    # the budget came from the environment
    assert "EPOCHS=5 N_TRAIN=500 N_TEST=200 LAVA_SAMPLES=10" in text, text
    assert "train (500, 4)" in text and "test (200, 4)" in text, text

    # training: well above chance (3 balanced classes, 33 %) after 5 short epochs
    acc = _number(r"test accuracy (\d+\.\d) % on 200 samples", text)
    assert 50.0 < acc <= 100.0, acc
    assert "readout: first_spike" in text
    assert "reloaded network predicts identically: True" in text

    # emulator vs eventsim: fractions, and the exact accuracy equals the one printed by training
    agree = _number(r"class agreement with eventsim: (\d+\.\d) %", text)
    assert 0.0 <= agree <= 100.0
    assert agree > 50.0, f"a trained network should mostly agree with its emulation, got {agree} %"
    assert _number(r"test accuracy: eventsim \(exact\) (\d+\.\d) %", text) == acc
    loihi_acc = _number(r"Loihi fixed point (\d+\.\d) %", text)
    assert 0.0 <= loihi_acc <= 100.0
    assert "'u_wraps': 0, 'v_saturations': 0" in text, "calibrated mapping should not overflow"

    # Lava on the first samples: bit-exact with the emulator
    assert "differing raster entries Lava vs emulator: {'hidden': 0, 'out': 0} over 10 samples" in text, text
    assert "Lava fixed_pt spikes == emulator spikes: True | same as the emulator's whole-test-set run: True" in text

    # dt scan on validation, one test run at the chosen dt
    for a in re.findall(r"validation agreement\s+(\d+\.\d) %", text):
        assert 0.0 <= float(a) <= 100.0
    assert len(re.findall(r"validation agreement", text)) == 7
    assert 0.0 <= _number(r"chosen on validation: dt [\d.]+ ms; test agreement (\d+\.\d) %", text) <= 100.0

    # figures, as PNG (what GitHub renders)
    pngs = _pngs(nb)
    assert len(pngs) == N_FIGURES, f"{len(pngs)} figures"
    assert all(p.startswith(PNG_MAGIC) and len(p) > 5000 for p in pngs)

    # files: the network in TOUR_OUT, nothing in the working directory or the repository
    assert (out_dir / "yinyang_tour.h5").is_file()
    assert not any(work.iterdir()), list(work.iterdir())
    written = sorted(p for p, st in after.items() if before.get(p) != st and Path(p).suffix not in _SOURCE_SUFFIXES)
    assert not written, f"the notebook wrote inside the repository: {written}"


def test_stored_notebook_is_a_clean_full_run():
    """The committed outputs come from one top-to-bottom run of the current cells at the default budget."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "re-run the notebook top to bottom"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert all(c.outputs for c in code), "every code cell has an output"
    assert len(_pngs(nb)) == N_FIGURES
    params = _text(code[0])
    assert "EPOCHS=60 N_TRAIN=5000 N_TEST=1000 LAVA_SAMPLES=100" in params, params
    assert "OUT=/work" not in params and str(REPO) not in params
    src = "\n".join(c.source for c in nb.cells).lower()
    for word in ("session", "pre-registered", "preregistered"):
        assert word not in src, word
    assert not re.search(r"issue\s*#?\d|#\d{1,4}\b", src)
