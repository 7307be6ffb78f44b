"""eventsim.checks: accepted values come back as Python numbers, refused ones name parameter and value."""
import math

import numpy as np
import pytest

from eventsim import checks


@pytest.mark.parametrize("fn, value, expect", [
    (checks.real_number, np.float32(0.5), 0.5), (checks.real_number, np.array(3), 3.0),
    (checks.real_number, float("inf"), math.inf), (checks.finite_number, -2, -2.0),
    (checks.positive_number, np.int64(4), 4.0), (checks.nonnegative_number, 0, 0.0),
    (checks.probability, 1, 1.0), (checks.probability, np.float64(0.0), 0.0),
    (checks.positive_int, np.int32(3), 3), (checks.nonnegative_int, 0, 0),
])
def test_accepted_values_come_back_as_python_numbers(fn, value, expect):
    got = fn("x", value)
    assert got == expect and type(got) is type(expect)


@pytest.mark.parametrize("fn, value, msg", [
    (checks.real_number, "1.0", "x must be a number, got '1.0' of type str"),
    (checks.real_number, True, "x must be a number, got True of type bool"),
    (checks.finite_number, float("nan"), "x must be a finite number, got nan"),
    (checks.positive_number, 0.0, "x must be positive and finite, got 0.0"),
    (checks.positive_number, np.float64(-1.5), "x must be positive and finite, got -1.5"),
    (checks.positive_number, b"1", "x must be a positive number, got b'1'"),
    (checks.nonnegative_number, -1, "x must be a finite number >= 0, got -1"),
    (checks.probability, 1.5, r"x must be in \[0, 1\], got 1.5"),
    (checks.probability, "0.5", r"x must be a number in \[0, 1\], got '0.5'"),
    (checks.positive_int, np.int64(-2), "x must be an integer >= 1, got -2"),
    (checks.positive_int, 2.0, "x must be an integer >= 1, got 2.0"),
    (checks.positive_int, True, "x must be an integer >= 1, got True"),
    (checks.nonnegative_int, -1, "x must be an integer >= 0, got -1"),
])
def test_refused_values_name_parameter_and_value(fn, value, msg):
    with pytest.raises(ValueError, match=f"^{msg}$"):
        fn("x", value)


def test_intervals_optional_values_and_show():
    assert checks.in_interval("g", 1.0, 0, 1, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"^g must be in \(0, 1\], got 0$"):
        checks.in_interval("g", 0, 0, 1, low_open=True)
    with pytest.raises(ValueError, match=r"^m must be in \[0, 1\), got 1.0$"):
        checks.in_interval("m", 1.0, 0, 1, high_open=True)
    assert checks.positive_number("c", None, allow_none=True) is None
    with pytest.raises(ValueError, match="^c must be a positive number or None, got nan$"):
        checks.positive_number("c", float("nan"), allow_none=True)
    assert checks.show(np.int64(3)) == "3" and checks.show(np.array(2.5)) == "2.5" and checks.show("a") == "'a'"
