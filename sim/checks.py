"""Validators shared by the configs: one-line ``ValueError`` naming the field, the value and
the allowed range, raised at construction (before any computation).

Integers accept Python, NumPy and JAX integer scalars (and integral floats such as ``64.0``)
and reject bools and non-integral floats: ``classes_per_client=2.7`` must not silently
become 2, and ``True`` is not a count.

>>> import numpy as np
>>> integer("DataConfig.d", np.int32(64), minimum=1)
64
>>> integer("DataConfig.d", 2.7, minimum=1)
Traceback (most recent call last):
...
ValueError: DataConfig.d = 2.7 is out of range: must be an integer >= 1
>>> real("LinearStudy.mask_ratio", "0.5", low=0, high=1, closed=False)
Traceback (most recent call last):
...
ValueError: LinearStudy.mask_ratio = '0.5' is out of range: must be a real number in (0, 1)
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def _fail(field: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{field} = {value!r} is out of range: {allowed}")


def _scalar(value: Any) -> Any:
    """A 0-d NumPy or JAX array as a NumPy scalar (anything else unchanged)."""
    if getattr(value, "shape", None) == () and hasattr(value, "dtype"):
        import numpy as np

        return np.asarray(value)[()]
    return value


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}" if maximum is not None else "any"


def integer(field: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
            allowed: str | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``; ``allowed`` overrides the range text."""
    allowed = allowed or _range(minimum, maximum)
    v = _scalar(value)
    if isinstance(v, (bool, str, bytes)) or (hasattr(v, "dtype") and v.dtype.kind == "b"):
        raise _fail(field, value, f"must be an integer {allowed}")
    if isinstance(v, numbers.Integral):
        v = int(v)
    elif isinstance(v, numbers.Real) and math.isfinite(v) and float(v).is_integer():
        v = int(v)
    elif isinstance(v, numbers.Real) and not math.isfinite(v):
        raise _fail(field, value, f"must be a finite integer {allowed}")
    else:
        raise _fail(field, value, f"must be an integer {allowed}")
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise _fail(field, value, f"must be an integer {allowed}")
    return v


def real(field: str, value: Any, *, low: float | None = None, high: float | None = None,
         closed: bool = True) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high)`` if not ``closed``)."""
    lo, hi = ("[", "]") if closed else ("(", ")")
    if low is not None and high is not None:
        allowed = f"in {lo}{low}, {high}{hi}"
    elif low is not None:
        allowed = f"{'>=' if closed else '>'} {low}"
    elif high is not None:
        allowed = f"{'<=' if closed else '<'} {high}"
    else:
        allowed = "finite"
    v = _scalar(value)
    if isinstance(v, (bool, str, bytes)) or not isinstance(v, numbers.Real):
        raise _fail(field, value, f"must be a real number {allowed}")
    if not math.isfinite(v):
        raise _fail(field, value, f"must be a finite real number {allowed}")
    v = float(v)
    below = low is not None and (v < low if closed else v <= low)
    above = high is not None and (v > high if closed else v >= high)
    if below or above:
        raise _fail(field, value, f"must be a real number {allowed}")
    return v


def choice(field: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise _fail(field, value, f"must be one of {tuple(choices)}")
    return value


def parsed_file(field: str, path, parse, errors: tuple[type[Exception], ...], kind: str) -> Any:
    """The file at ``path`` parsed by ``parse`` (text -> value); a ``ValueError`` naming
    ``field`` when it is not a file or not valid ``kind`` (``errors``: the parser's exceptions)."""
    import pathlib

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{field}={str(path)!r} is not a file")
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (*errors, UnicodeDecodeError) as err:
        raise ValueError(f"{field}={str(path)!r} is not valid {kind} ({err})") from None


__all__ = ["integer", "real", "choice", "parsed_file"]
