"""Checks of the arguments a user passes: integers, real numbers and paths, each refused with a
``ValueError`` that names the argument, what it accepts and what it got. Only NumPy is imported.

>>> check_integer("epochs", 50, 1)
50
>>> check_integer("epochs", True, 1)
Traceback (most recent call last):
...
ValueError: epochs must be a positive integer, got True
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable

import numpy as np

__all__ = ["check_integer", "check_path", "check_real", "is_integer", "is_real"]


def is_integer(value: object) -> bool:
    """An int or a NumPy integer, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """A real number (int, float, NumPy number, Fraction), not a bool; NaN and infinity count."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_integer(name: str, value: object, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as a Python int if it is an integer (:func:`is_integer`) in
    ``minimum..maximum``; else ``ValueError`` naming ``name``, the range and the value."""
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        what = (f"an integer in {minimum}..{maximum}" if maximum is not None
                else "a positive integer" if minimum == 1 else f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_real(name: str, value: object, allowed: str, ok: Callable[[float], bool],
               finite: bool = True) -> float:
    """``value`` as a Python float if it is a real number (:func:`is_real`; finite unless
    ``finite`` is False, never NaN) that ``ok`` accepts, as a float; else ``ValueError`` naming
    ``name``, what is ``allowed`` and the value. An int or Fraction beyond the float range is
    infinite here, as it would be stored."""
    number = _as_float(value) if is_real(value) else math.nan
    if math.isnan(number) or (finite and math.isinf(number)) or not ok(number):
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number {allowed}, "
                         f"got {value!r}")
    return number


def _as_float(value: numbers.Real) -> float:
    try:
        return float(value)
    except OverflowError:  # float(10**400) raises rather than give infinity
        return math.inf if value > 0 else -math.inf


def check_path(name: str, path: object, none_means: str | None = None) -> None:
    """Accept a non-empty path given as a str or a str-returning os.PathLike, and None when
    ``none_means`` says what None does; else ``ValueError`` naming ``name``."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if (path is None and none_means is not None) or (isinstance(text, str) and text):
        return
    raise ValueError(
        f"{name} must be a non-empty str or os.PathLike"
        + (f", or None ({none_means})" if none_means is not None else "")
        + f"; got {path!r} of type {type(path).__name__}."
    )
