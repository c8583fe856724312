"""Checkpoints are data, verified before use: a checkpoint of another seed, altered, bit-flipped
or crafted to run code is never used (the producer is recomputed, with one line saying why),
nothing in it is executed, a full disk costs only the checkpoint being written, and a worker that
dies is named by its producer. Small producers defined here (no JAX program), in this process."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import pathlib
import pickle
import random

import numpy as np
import pytest

from bounds.judging.records import Record
from bounds.running import checkpoint, produce as running
from bounds.running.ledger import CHECKPOINTS, read_run, run_suite, verify
from bounds.running.suite import get_suite

SMOKE = get_suite("smoke")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """A measurement's config, as studies carry theirs."""

    d: int
    mask_ratio: float


@dataclasses.dataclass(frozen=True)
class Toy:
    """A producer whose measurement holds what real ones do (arrays, a config dataclass, tuple
    keys, a non-finite number); ``calls``: a file that gets one line per ``measure``."""

    name: str
    calls: pathlib.Path
    die: bool = False

    def measure(self, suite, *, key):
        import jax

        if self.die:  # a worker killed mid-run (out of memory, kill -9)
            import signal
            import time

            time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)
        with open(self.calls, "a", encoding="utf-8") as fh:
            fh.write("measured\n")
        bits = np.asarray(jax.random.key_data(key), dtype=np.uint32).ravel()
        return {"x": bits.astype(np.float64) / 2**32, ("a", 1): (Sizes(8, 0.75), float("inf")), "n": 3}

    def judge(self, measurement, suite):
        return [Record(claim="thm4.2-local", source=f"{self.name} check", level="simulation", verdict="holds",
                       margin=float(measurement["x"][0]), ci=(0.1, 0.2), params={"d": 8, "shape": (2, 3)})]


def _calls(path: pathlib.Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def toy(tmp_path):
    return Toy("toy", tmp_path / "calls.txt")


def _run(producer, path, seed=0):
    lines: list[str] = []
    result = running.produce(producer, SMOKE, seed, path, lines.append)
    return result, lines


def _same(a, b, *, resumed: bool = False):
    """Same records and measurement (and seconds, for a result resumed from ``b``'s checkpoint)."""
    assert [r.to_json() for r in a[0]] == [r.to_json() for r in b[0]] and list(a[0]) == list(b[0])
    np.testing.assert_array_equal(a[1]["x"], b[1]["x"])
    assert a[1][("a", 1)] == b[1][("a", 1)] and a[1]["n"] == b[1]["n"]
    assert a[2] == b[2] or not resumed


def test_a_checkpoint_resumes_to_the_same_result(toy, tmp_path):
    path = running.checkpoint_path(tmp_path, SMOKE, 0, toy.name)
    first, _ = _run(toy, path)
    again, lines = _run(toy, path)
    assert _calls(toy.calls) == 1 and "resumed" in lines[-1]
    _same(first, again, resumed=True)
    assert path.suffix == ".npz" and b"pickle" not in path.read_bytes()


def test_a_checkpoint_of_another_seed_is_recomputed(toy, tmp_path):
    ours = running.checkpoint_path(tmp_path, SMOKE, 0, toy.name)
    _run(toy, running.checkpoint_path(tmp_path, SMOKE, 1, toy.name), seed=1)
    running.checkpoint_path(tmp_path, SMOKE, 1, toy.name).rename(ours)  # seed 1's work under seed 0's name
    result, lines = _run(toy, ours)
    assert _calls(toy.calls) == 2
    assert any("not used (made for seed 1, not 0); recomputing" in line for line in lines), lines
    clean, _ = _run(toy, None)
    _same(result, clean)


def _rewrite(path: pathlib.Path, change) -> None:
    """Rewrite the checkpoint at ``path`` with ``change(arrays)`` applied to its members."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def test_altered_content_is_recomputed(toy, tmp_path):
    path = running.checkpoint_path(tmp_path, SMOKE, 0, toy.name)
    clean, _ = _run(toy, path)

    def alter(arrays):  # one number of the measurement, the manifest left as it was
        name = next(n for n in arrays if not n.startswith("__") and arrays[n].dtype == np.float64)
        arrays[name] = arrays[name] + 1.0

    _rewrite(path, alter)
    result, lines = _run(toy, path)
    assert any("does not match its hash" in line for line in lines), lines
    _same(result, clean)


def test_single_bit_flips_are_never_used_silently(toy, tmp_path):
    """Each of 300 single-bit flips (fixed seed) either leaves the content the writer wrote (a
    flip in the zip's own bookkeeping that does not change a member) or is refused: no flip
    gives other content, and none raises."""
    path = running.checkpoint_path(tmp_path, SMOKE, 0, toy.name)
    clean, _ = _run(toy, path)
    blob = path.read_bytes()
    key = running.checkpoint_key(SMOKE, 0, toy.name)
    rng = random.Random(0)
    refused = 0
    for _ in range(300):
        bit = rng.randrange(8 * len(blob))
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        value, why = checkpoint.decode(bytes(flipped), key, packages=("tests", __name__.split(".")[0]))
        if why is None:
            _same(value, clean, resumed=True)
        else:
            refused += 1
    assert refused > 250  # nearly every byte of the file is a member's content or its CRC


def _crafted(tree: dict, key: dict) -> bytes:
    """A checkpoint whose manifest is right (key and hash) and whose structure is ``tree``."""
    text = json.dumps(tree).encode()
    manifest = {"format": checkpoint.FORMAT, "key": key, "content": checkpoint.content_hash(text, {})}
    buffer = io.BytesIO()
    np.savez(buffer, __tree__=np.frombuffer(text, np.uint8), __manifest__=np.frombuffer(json.dumps(manifest).encode(), np.uint8))
    return buffer.getvalue()


class _Payload:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


@pytest.mark.parametrize("craft", ["pickle-file", "object-array", "function", "class", "sympy-class"])
def test_a_checkpoint_that_tries_to_run_code_does_nothing(craft, toy, tmp_path):
    proof = tmp_path / "code-ran"
    path = running.checkpoint_path(tmp_path, SMOKE, 0, toy.name)
    key = running.checkpoint_key(SMOKE, 0, toy.name)
    if craft == "pickle-file":  # the pickle checkpoints of earlier versions are never opened
        path.with_suffix(".pkl").write_bytes(pickle.dumps(_Payload(str(proof))))
    elif craft == "object-array":
        buffer = io.BytesIO()
        np.savez(buffer, __tree__=np.array([_Payload(str(proof))], dtype=object))
        path.write_bytes(buffer.getvalue())
    else:
        call = {"function": {"$function": "os:system"}, "class": {"$dataclass": "subprocess:Popen", "fields": {}},
                "sympy-class": {"$sympy": "Function", "args": ["touch"]}}[craft]
        path.write_bytes(_crafted({"$tuple": [[], call, 0.5]}, key))
    result, lines = _run(toy, path)
    assert not proof.exists() and _calls(toy.calls) == 1
    if craft != "pickle-file":
        assert any("not used" in line for line in lines), lines


def test_a_measurement_that_is_not_data_is_not_checkpointed(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Closure(Toy):
        def measure(self, suite, *, key):
            return {"f": lambda x: x}

        def judge(self, measurement, suite):
            return []

    producer = Closure("closure", tmp_path / "calls.txt")
    path = running.checkpoint_path(tmp_path, SMOKE, 0, producer.name)
    _, lines = _run(producer, path)
    assert not path.exists() and "not checkpointed" in lines[-1]


def test_a_full_disk_loses_no_finished_producer(tmp_path, monkeypatch):
    """The disk fills after the first producer's checkpoint: the second's checkpoint is not
    written (one line names it), the run goes on until the ledger cannot be written, and the
    error names that file; the first checkpoint stays, and the rerun resumes it."""
    first, second = Toy("first", tmp_path / "first.txt"), Toy("second", tmp_path / "second.txt")
    out = tmp_path / "out"
    write = running.write_atomic
    filled: list[pathlib.Path] = []

    def full(path, content):  # every write fails once the first checkpoint is on disk
        if filled:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write(path, content)
        if pathlib.Path(path).name == "smoke-seed0-first.npz":
            filled.append(path)

    lines: list[str] = []
    monkeypatch.setattr(running, "write_atomic", full)
    monkeypatch.setattr("bounds.running.ledger.write_atomic", full)
    with pytest.raises(OSError) as err:
        verify(out, SMOKE, producers=[first, second], figures=False, progress=lines.append)
    assert err.value.filename == str(out / "ledger.json")
    assert any("checkpoint" in line and "smoke-seed0-second.npz not written (No space left on device)" in line
               for line in lines), lines
    monkeypatch.undo()
    assert (out / CHECKPOINTS / "smoke-seed0-first.npz").is_file()
    lines.clear()
    ledger, _ = verify(out, SMOKE, producers=[first, second], figures=False, progress=lines.append)
    assert _calls(first.calls) == 1 and _calls(second.calls) == 2  # first resumed, second recomputed
    assert any("first: 1 records resumed" in line for line in lines), lines
    assert read_run(out)["state"] == "complete" and len(ledger.records) == 2


def test_a_dead_worker_is_named_by_its_producer(tmp_path):
    from bounds.running.workers import WorkerDied

    quick, dying = Toy("quick", tmp_path / "quick.txt"), Toy("dying", tmp_path / "dying.txt", die=True)
    with pytest.raises(WorkerDied, match="producer dying: its worker process ended abruptly"):
        run_suite(SMOKE, producers=[quick, dying], jobs=2, checkpoints=tmp_path / "checkpoints")
    assert (tmp_path / "checkpoints" / "smoke-seed0-quick.npz").is_file()  # finished work is kept
