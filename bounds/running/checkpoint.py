"""Checkpoints as data: a finished producer's records, measurement and seconds in one ``.npz``.

A results folder is something people send each other, so resuming one must never run what it
holds. A checkpoint is therefore data only: its arrays as ``.npz`` members (read with
``allow_pickle=False``: no object arrays), and the structure around them as JSON, in a small
vocabulary — None, bools, numbers, strings, lists, tuples, dicts (any of these as keys), NumPy
and JAX arrays and scalars, typed JAX keys, SymPy expressions (the formula producer's results:
rebuilt from an allow-list of SymPy classes) and instances of dataclasses, functions named by
module and name. A dataclass or function is looked up only in modules of the toolkit (or of
the producer's own package) that are already imported, and a dataclass is rebuilt field by field
without calling its constructor: nothing named in a file is called while loading it.

The manifest holds the full key (format, suite sizes, seed, producer, toolkit version, source
digest) and the sha256 of the content; a checkpoint whose key or hash does not match, or that
cannot be read, is not used (`load` says why, and the producer is recomputed).

>>> import numpy as np
>>> blob = encode({"r": (1, 2.5, float("nan")), "x": np.arange(3.0)}, {"seed": 0})
>>> value, why = decode(blob, {"seed": 0})
>>> value["r"][:2], value["x"].tolist(), why
((1, 2.5), [0.0, 1.0, 2.0], None)
>>> decode(blob, {"seed": 1})[1]
'made for seed 0, not 1'
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import re
import sys
import types
from typing import Any

import numpy as np

#: The checkpoint format: a change of the encoding bumps it, so older files are recomputed.
FORMAT = 1
#: Top-level packages whose dataclasses and functions a checkpoint may name.
TOOLKIT = ("theory", "sim", "bounds", "figures")
_TREE, _MANIFEST = "__tree__", "__manifest__"


class NotData(TypeError):
    """A value the data-only encoding cannot hold (a closure, an object of an unknown type)."""


def _allowed(module: str, extra: tuple[str, ...]) -> bool:
    return module.split(".")[0] in TOOLKIT + extra


class _Encoder:
    def __init__(self, extra: tuple[str, ...]):
        self.arrays: dict[str, np.ndarray] = {}
        self.extra = extra

    def array(self, value: np.ndarray) -> str:
        if value.dtype.hasobject:
            raise NotData("an array of Python objects")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.ascontiguousarray(value)
        return name

    def __call__(self, x: Any) -> Any:  # noqa: C901 (one branch per type of the vocabulary)
        import jax

        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int) and type(x) is int:
            return x
        if type(x) is float:
            return x if math.isfinite(x) else {"$float": repr(x)}
        if isinstance(x, list):
            return [self(v) for v in x]
        if type(x) is tuple:
            return {"$tuple": [self(v) for v in x]}
        if type(x) is dict:
            return {"$dict": [[self(k), self(v)] for k, v in x.items()]}
        if isinstance(x, (np.ndarray, np.generic)):
            return {"$numpy": self.array(np.asarray(x)), "scalar": isinstance(x, np.generic)}
        if isinstance(x, jax.Array):
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                return {"$key": self.array(np.asarray(jax.random.key_data(x))), "impl": str(jax.random.key_impl(x))}
            return {"$jax": self.array(np.asarray(x))}
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            cls = type(x)
            if not _allowed(cls.__module__, self.extra) or "<locals>" in cls.__qualname__:
                raise NotData(f"an instance of {cls.__module__}.{cls.__qualname__}")
            return {"$dataclass": f"{cls.__module__}:{cls.__qualname__}",
                    "fields": {f.name: self(getattr(x, f.name)) for f in dataclasses.fields(x)}}
        if isinstance(x, types.FunctionType):
            if not _allowed(x.__module__, self.extra) or "<" in x.__qualname__:
                raise NotData(f"the function {x.__module__}.{x.__qualname__} (not a module-level toolkit function)")
            return {"$function": f"{x.__module__}:{x.__qualname__}"}
        if "sympy" in sys.modules and isinstance(x, sys.modules["sympy"].Basic):
            return self.sympy(x)
        raise NotData(f"a value of type {type(x).__module__}.{type(x).__qualname__}")

    def sympy(self, x) -> Any:
        import sympy
        from sympy.core.singleton import Singleton

        if isinstance(type(x), Singleton):
            out = {"$sympy": "S", "name": type(x).__name__}
        elif isinstance(x, sympy.Symbol) and type(x) is sympy.Symbol:
            out = {"$sympy": "Symbol", "name": x.name, "assumptions": dict(x.assumptions0)}
        elif isinstance(x, sympy.Integer):
            out = {"$sympy": "Integer", "value": str(int(x))}
        elif isinstance(x, sympy.Rational):
            out = {"$sympy": "Rational", "value": [str(x.p), str(x.q)]}
        elif isinstance(x, sympy.Float):
            out = {"$sympy": "Float", "value": sympy.sstr(x, full_prec=True), "precision": x._prec}
        elif getattr(sympy, type(x).__name__, None) is type(x) and not x.is_Atom:
            out = {"$sympy": type(x).__name__, "args": [self(a) for a in x.args]}
        else:
            raise NotData(f"the SymPy value {x!r}")
        if _sympy(out, self.arrays, self.extra) != x:  # the rebuilt expression must be this one
            raise NotData(f"the SymPy value {x!r} (does not rebuild equal)")
        return out


def _resolve(name: str, extra: tuple[str, ...]) -> Any:
    """An attribute named ``module:qualname`` of an already imported toolkit module (no import)."""
    module, _, qualname = name.partition(":")
    if not _allowed(module, extra) or module not in sys.modules:
        raise ValueError(f"it names {name}, which is not in a loaded toolkit module")
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is None:
        raise ValueError(f"it names {name}, which does not exist")
    return obj


def _sympy(node: dict, arrays, extra) -> Any:
    import sympy

    # SymPy parses strings with eval (sympify): no string from the file ever reaches a SymPy
    # constructor except a symbol's name, and a float's digits after checking they are digits.
    kind = node["$sympy"]
    if kind == "S":
        value = getattr(sympy.S, str(node["name"]), None)
        if not isinstance(value, sympy.Basic):
            raise ValueError(f"it names the SymPy singleton {node['name']!r}, which is not one")
        return value
    if kind == "Symbol":
        return sympy.Symbol(str(node["name"]), **{str(k): bool(v) for k, v in node["assumptions"].items()})
    if kind == "Integer":
        return sympy.Integer(int(node["value"]))
    if kind == "Rational":
        return sympy.Rational(int(node["value"][0]), int(node["value"][1]))
    if kind == "Float":
        digits = str(node["value"])
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]*)?(e[-+]?[0-9]+)?", digits):
            raise ValueError(f"it holds the SymPy float {digits!r}, which is not a number")
        return sympy.Float(digits, precision=int(node["precision"]))
    cls = getattr(sympy, str(kind), None)
    if not (isinstance(cls, type) and issubclass(cls, sympy.Basic)):
        raise ValueError(f"it names the SymPy class {kind!r}, which is not one")
    args = tuple(_decode(a, arrays, extra) for a in node["args"])
    if not all(isinstance(a, sympy.Basic) for a in args):
        raise ValueError(f"its SymPy {kind} has arguments that are not SymPy values")
    return cls(*args)


def _decode(node: Any, arrays, extra: tuple[str, ...]) -> Any:  # noqa: C901 (mirror of _Encoder)
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, extra) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise ValueError(f"it holds {node!r}, which is not part of the encoding")
    tag = next(iter(node))
    if tag == "$float":
        return float(node["$float"])
    if tag == "$tuple":
        return tuple(_decode(v, arrays, extra) for v in node["$tuple"])
    if tag == "$dict":
        return {_decode(k, arrays, extra): _decode(v, arrays, extra) for k, v in node["$dict"]}
    if tag == "$numpy":
        value = arrays[node["$numpy"]]
        return value[()] if node["scalar"] else value
    if tag == "$jax":
        import jax.numpy as jnp

        return jnp.asarray(arrays[node["$jax"]])
    if tag == "$key":
        import jax

        return jax.random.wrap_key_data(arrays[node["$key"]], impl=str(node["impl"]))
    if tag == "$function":
        obj = _resolve(node["$function"], extra)
        if not isinstance(obj, types.FunctionType):
            raise ValueError(f"it names {node['$function']}, which is not a function")
        return obj
    if tag == "$dataclass":
        cls = _resolve(node["$dataclass"], extra)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ValueError(f"it names {node['$dataclass']}, which is not a dataclass")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(node["fields"]) != names:
            raise ValueError(f"its {node['$dataclass']} has fields {sorted(node['fields'])}, not {sorted(names)}")
        obj = cls.__new__(cls)  # no constructor runs: the fields are set as stored
        for name, value in node["fields"].items():
            object.__setattr__(obj, name, _decode(value, arrays, extra))
        return obj
    if tag == "$sympy":
        return _sympy(node, arrays, extra)
    raise ValueError(f"it holds the tag {tag!r}, which is not part of the encoding")


def content_hash(tree: bytes, arrays: dict[str, np.ndarray]) -> str:
    """The sha256 a manifest holds: of the structure's JSON, then each array's name, dtype,
    shape and bytes, in name order."""
    h = hashlib.sha256(tree)
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def encode(value: Any, key: dict[str, Any], *, packages: tuple[str, ...] = ()) -> bytes:
    """``value`` and its ``key`` as the bytes of a checkpoint (``.npz``); `NotData` if ``value``
    holds something the encoding cannot (``packages``: other top-level packages whose
    dataclasses and functions it may name, e.g. an installed producer's)."""
    enc = _Encoder(tuple(packages))
    tree = json.dumps(enc(value), allow_nan=False, sort_keys=True).encode()
    manifest = {"format": FORMAT, "key": key, "content": content_hash(tree, enc.arrays)}
    buffer = io.BytesIO()
    np.savez(buffer, **enc.arrays, **{_TREE: np.frombuffer(tree, dtype=np.uint8),
                                      _MANIFEST: np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)})
    return buffer.getvalue()


def _mismatch(saved: Any, key: dict[str, Any]) -> str | None:
    if not isinstance(saved, dict):
        return "its manifest holds no key"
    for field, want in key.items():
        if saved.get(field) != want:
            got = saved.get(field)
            short = lambda v: v if len(repr(v)) < 40 else f"{repr(v)[:37]}..."  # noqa: E731
            return f"made for {field} {short(got)}, not {short(want)}"
    extra = sorted(set(saved) - set(key))
    return f"its key has unexpected fields {extra}" if extra else None


def decode(blob: bytes, key: dict[str, Any], *, packages: tuple[str, ...] = ()) -> tuple[Any, str | None]:
    """The value a checkpoint's bytes hold and None, or None and why it is not used (unreadable,
    another key, content not matching its hash, or not of this encoding). ``packages``: as
    `encode`, given by the caller (never read from the file)."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        manifest = json.loads(arrays.pop(_MANIFEST).tobytes())
        tree = arrays.pop(_TREE).tobytes()
    except Exception as err:  # noqa: BLE001 (any damage to the file means: recompute)
        return None, f"unreadable ({type(err).__name__}: {err})"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None, f"format {manifest.get('format') if isinstance(manifest, dict) else None!r}, not {FORMAT}"
    why = _mismatch(manifest.get("key"), key)
    if why:
        return None, why
    if manifest.get("content") != content_hash(tree, arrays):
        return None, "its content does not match its hash (changed or damaged)"
    try:
        return _decode(json.loads(tree), arrays, tuple(packages)), None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        return None, f"not a toolkit checkpoint ({err})"


__all__ = ["FORMAT", "TOOLKIT", "NotData", "encode", "decode", "content_hash"]
