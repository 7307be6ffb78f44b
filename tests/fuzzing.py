"""Shared settings of the property-based tests (hypothesis).

``make test`` runs them derandomised (a fixed sequence of examples, no example database), so a run
is repeatable and takes about a minute in all. ``EVENTSIM_FUZZ=long`` runs a randomised profile
with ``EVENTSIM_FUZZ_SCALE`` (default 20) times as many examples per test, for a search by hand::

    EVENTSIM_FUZZ=long EVENTSIM_FUZZ_SCALE=50 .venv/bin/python -m pytest tests/test_properties_*.py
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("EVENTSIM_FUZZ", "").strip().lower() == "long"
SCALE = int(os.environ.get("EVENTSIM_FUZZ_SCALE", "20")) if LONG else 1

settings.register_profile(
    "eventsim-ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "eventsim-long", derandomize=False, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("eventsim-long" if LONG else "eventsim-ci")


def examples(n: int) -> int:
    """Examples per test: ``n`` in the default profile, ``n * EVENTSIM_FUZZ_SCALE`` in the long one."""
    return max(1, int(n) * SCALE)
