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
from typing import Any, Callable, Mapping


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


def names(field: str, value: Any, choices) -> tuple[str, ...]:
    """``value`` as a non-empty tuple of distinct names from ``choices``."""
    fail = _fail(field, value, f"must be a non-empty tuple of distinct names from {tuple(choices)}")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise fail
    value = tuple(value)
    if not value or len(set(value)) != len(value) or not all(isinstance(v, str) and v in choices for v in value):
        raise fail
    return value


def reals(field: str, value: Any, *, low: float = 0, closed: bool = False) -> tuple[float, ...]:
    """``value`` as a non-empty tuple of distinct finite reals above ``low``."""
    above = f"{'>=' if closed else '>'} {low}"
    fail = _fail(field, value, f"must be a non-empty tuple of distinct finite real numbers {above}")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise fail
    try:
        out = tuple(real(field, v, low=low, closed=closed) for v in value)
    except ValueError:
        raise fail from None
    if not out or len(set(out)) != len(out):
        raise fail
    return out


def flag(field: str, value: Any) -> bool:
    """``value`` if it is a bool (a NumPy bool too)."""
    v = _scalar(value)
    if not isinstance(v, bool) and not (hasattr(v, "dtype") and v.dtype.kind == "b"):
        raise _fail(field, value, "must be True or False")
    return bool(v)


Rule = Callable[[str, Any], Any]


def count(minimum: int = 1, maximum: int | None = None, allowed: str | None = None) -> Rule:
    """The rule "an integer in [minimum, maximum]" for `check_fields`."""
    return lambda field, value: integer(field, value, minimum=minimum, maximum=maximum, allowed=allowed)


def positive(*, low: float = 0, high: float | None = None, closed: bool = False) -> Rule:
    """The rule "a finite real above ``low``" (and below ``high``) for `check_fields`."""
    return lambda field, value: real(field, value, low=low, high=high, closed=closed)


def one_of(choices) -> Rule:
    """The rule "one of ``choices``" for `check_fields`."""
    return lambda field, value: choice(field, value, choices)


def check_fields(obj: Any, rules: Mapping[str, Rule]) -> None:
    """Check every field of the frozen dataclass ``obj`` named in ``rules`` with its rule
    (field label ``Class.field``) and store the value the rule returns (``np.int64(3)`` -> 3)."""
    owner = type(obj).__name__
    for name, rule in rules.items():
        object.__setattr__(obj, name, rule(f"{owner}.{name}", getattr(obj, name)))


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the platform does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory(what: str, nbytes: int, *, limit: float | None = None, formula: str = "") -> int:
    """``nbytes`` (an estimate of what a computation allocates, from its config) if it fits in
    ``limit`` bytes (default: this machine's memory, `machine_memory`); a ``ValueError`` naming
    ``what`` (the config and its size fields) and ``formula`` (how the estimate is made)
    otherwise, so a size that cannot run is refused before anything is allocated.

    >>> memory("LinearStudy(d = 64)", 10**6, limit=2**30)
    1000000
    >>> memory("LinearStudy(d = 20000)", 10**11, limit=2**30, formula="d**2")
    Traceback (most recent call last):
    ...
    ValueError: LinearStudy(d = 20000) needs about 100.0 GB (d**2), more than the limit of 1.1 GB
    """
    available = machine_memory() if limit is None else limit
    if available is not None and nbytes > available:
        source = "this machine's memory" if limit is None else "the limit"
        raise ValueError(f"{what} needs about {nbytes / 1e9:.1f} GB" + (f" ({formula})" if formula else "")
                         + f", more than {source} of {available / 1e9:.1f} GB")
    return int(nbytes)


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


__all__ = ["integer", "real", "choice", "names", "reals", "flag", "count", "positive", "one_of", "check_fields",
           "parsed_file", "machine_memory", "memory", "Rule"]
