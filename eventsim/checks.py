"""Argument checks shared by the package: numbers, counts, probabilities.

Each function returns the checked value as a plain Python ``float`` or ``int`` and otherwise
raises ``ValueError`` naming the parameter and showing the value it got. Values are shown with
``repr`` of plain Python values (NumPy scalars through ``.item()``, so NumPy 1 and 2 print the
same, e.g. ``-2`` rather than ``np.int64(-2)``). Booleans, strings and bytes are never numbers
here, so a setting read as text from a file is not taken for a number by accident.

This module is on the ground floor of the package: it imports only the standard library and NumPy.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

__all__ = ["show", "is_real", "real_number", "finite_number", "positive_number", "nonnegative_number",
           "in_interval", "probability", "positive_int", "nonnegative_int"]


def show(value) -> str:
    """``repr`` of ``value``, with NumPy scalars and 0-d arrays shown as the Python value they hold."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def is_real(value) -> bool:
    """True for a real number: a Python or NumPy int or float (or a 0-d array of one); False for
    booleans, strings, bytes, complex numbers and everything else."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return (isinstance(value, (numbers.Real, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def real_number(name: str, value, unit: str = "") -> float:
    """``value`` as a float (NaN and infinities included); ValueError naming ``name`` unless it is a
    real number (``is_real``). ``unit`` is only shown in the message, e.g. ``"ms"``."""
    if not is_real(value):
        what = f" ({unit})" if unit else ""
        raise ValueError(f"{name} must be a number{what}, got {show(value)} of type {type(value).__name__}")
    return float(value)


def finite_number(name: str, value) -> float:
    """``value`` as a finite float; ValueError naming ``name`` otherwise."""
    if not is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {show(value)}")
    return float(value)


def positive_number(name: str, value, *, allow_none: bool = False) -> Optional[float]:
    """``value`` as a float that is > 0 and finite; ValueError naming ``name`` otherwise.

    With ``allow_none``, ``None`` is returned as ``None`` (an optional setting such as a gradient
    clip), and the message says "a positive number or None"."""
    if allow_none:
        if value is None:
            return None
        if not (is_real(value) and math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{name} must be a positive number or None, got {show(value)}")
        return float(value)
    if not is_real(value):
        raise ValueError(f"{name} must be a positive number, got {show(value)}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {show(value)}")
    return v


def nonnegative_number(name: str, value) -> float:
    """``value`` as a float that is >= 0 and finite; ValueError naming ``name`` otherwise."""
    if not (is_real(value) and math.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {show(value)}")
    return float(value)


def in_interval(name: str, value, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (each end closed unless
    ``low_open`` / ``high_open``); ValueError naming ``name`` and the interval otherwise."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not is_real(value):
        raise ValueError(f"{name} must be a number in {interval}, got {show(value)}")
    v = float(value)
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high):  # NaN fails both
        raise ValueError(f"{name} must be in {interval}, got {show(value)}")
    return v


def probability(name: str, value) -> float:
    """``value`` as a float in [0, 1]; ValueError naming ``name`` otherwise."""
    return in_interval(name, value, 0.0, 1.0)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (default 1); ValueError naming ``name`` unless it is a
    Python or NumPy integer (not a bool, not a float such as 2.0) of at least ``minimum``."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer))
            or int(value) < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {show(value)}")
    return int(value)


def nonnegative_int(name: str, value) -> int:
    """``value`` as an int >= 0 (a seed, a count that may be zero); see ``positive_int``."""
    return positive_int(name, value, 0)
