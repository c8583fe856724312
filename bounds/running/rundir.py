"""Output folders the toolkit owns: the run marker, ownership, and one writer at a time.

``verify``, ``figures`` and ``sweep`` write only into a folder that is new, empty, or marked as
the toolkit's by its run marker (``run.json`` with ``"tool": "dssl-bounds"``); anything else is
refused before any computation, naming the path and what it holds (`check_owned`). While a
command writes, it holds an exclusive lock on the folder (`lock`): ``.lock`` holds the writer's
PID, and the lock is an ``flock`` that the kernel releases when the process ends however it
ends, so a lock left by a dead process is stale by construction and the next run takes it.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> check_owned(folder, "--out") == folder
True
>>> with lock(folder, "--out"):
...     (folder / LOCK).read_text().split()[0] == str(os.getpid())
True
>>> (folder / "notes.txt").write_text("mine")
4
>>> check_owned(folder, "--out")
Traceback (most recent call last):
...
ValueError: --out=... holds files the toolkit did not write (notes.txt) and no dssl-bounds run marker run.json: choose a new or empty folder
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import pathlib
import socket
from typing import Any, Iterator

#: The run marker's name, and the value of its ``tool`` field that marks a folder as the toolkit's.
MARKER = "run.json"
TOOL = "dssl-bounds"
LOCK = ".lock"
#: States a run marker may hold.
STATES = ("running", "complete", "interrupted", "failed")


def read_marker(folder: pathlib.Path) -> dict[str, Any] | None:
    """The toolkit's run marker in ``folder``, or None when there is none or ``run.json`` is not
    one (a user's own file of that name is not the toolkit's: the folder is then not owned)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(marker, dict) or marker.get("state") not in STATES:
        return None
    # Markers written before the ``tool`` field carry the toolkit's version and source digest.
    legacy = "tool" not in marker and {"toolkit_version", "source", "started"} <= set(marker)
    return marker if marker.get("tool") == TOOL or legacy else None


def owned_files(marker: dict[str, Any] | None) -> set[str]:
    """The files (relative paths) a marker says the toolkit wrote in its folder."""
    files = (marker or {}).get("files") or {}
    return {str(f) for f in files} if isinstance(files, dict) else set()


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _foreign(folder: pathlib.Path, below: pathlib.Path) -> list[str]:
    """Files in ``below`` (``folder`` itself or a folder inside it; for ``folder`` itself, its
    top level only) that neither ``folder``'s marker nor ``below``'s own marker lists."""
    own = {folder / f for f in owned_files(read_marker(folder))} | {folder / MARKER, folder / LOCK}
    inner = read_marker(below) if below != folder else None
    if inner is not None:
        own |= {below / f for f in owned_files(inner)} | {below / MARKER, below / LOCK}
    found = below.rglob("*") if below != folder else below.iterdir()
    return [str(p.relative_to(folder)) for p in found if p not in own and not p.is_dir()]


def check_owned(path: str | os.PathLike, option: str, *, subfolders: tuple[str, ...] = ("figures",)) -> pathlib.Path:
    """``path`` if the toolkit may write there: it does not exist, is an empty folder, holds the
    toolkit's run marker, or is a folder of files an enclosing run's marker lists (``figures/``
    of a ``verify`` run); and its ``subfolders``, which a run replaces, hold only files a marker
    lists (``"."``: the folder itself, for a command that writes its files there). ValueError
    naming ``option``, the path and what it holds otherwise. Nothing is created or changed."""
    folder = pathlib.Path(path)
    try:
        if not folder.exists():
            return folder
        if not folder.is_dir():
            raise ValueError(f"{option}={str(folder)!r} is a file; it must be a folder (created if missing)")
        entries = sorted(p.name for p in folder.iterdir() if p.name != LOCK)  # a writer's lock: `lock` names it
        if not entries:
            return folder
        marker = read_marker(folder)
        parent = folder.resolve().parent
        if marker is None and not (read_marker(parent) is not None and not _foreign(parent, folder.resolve())):
            raise ValueError(f"{option}={str(folder)!r} holds files the toolkit did not write ({_listing(entries)}) "
                             f"and no {TOOL} run marker {MARKER}: choose a new or empty folder")
        for sub in subfolders:
            if sub == "." and marker is None:  # every file is the enclosing run's (checked above)
                continue
            inside = folder / sub
            if inside.is_dir():
                foreign = _foreign(folder, inside)
                if foreign:
                    raise ValueError(f"{option}={str(folder)!r}: {sub}/ holds files the toolkit did not write "
                                     f"({_listing(foreign)}), which a run would replace: move them or choose another "
                                     "folder")
            elif inside.exists():
                raise ValueError(f"{option}={str(folder)!r}: {sub} is a file the toolkit did not write; move it or "
                                 "choose another folder")
    except OSError as err:  # e.g. a name longer than the file system allows, or no permission
        raise ValueError(f"{option}={str(folder)!r} cannot be used: {err.strerror or err}") from None
    return folder


def digest(path: pathlib.Path) -> str:
    """The sha256 of a file the toolkit wrote (a marker lists them, `owned_files`)."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def write_marker(folder: pathlib.Path, **fields) -> None:
    """Write ``folder``'s run marker (atomically) with ``fields``, marked as the toolkit's."""
    from bounds.running.produce import write_atomic

    write_atomic(pathlib.Path(folder) / MARKER, json.dumps({**fields, "tool": TOOL}, indent=1, sort_keys=True) + "\n")


def mark_ended(folder: pathlib.Path, err: BaseException) -> None:
    """After a run in ``folder`` ended by ``err``: its marker says ``interrupted`` (Ctrl-C,
    SIGTERM) or ``failed``, unless the marker cannot be written (a full disk) or is not running."""
    marker = read_marker(folder)
    if marker is not None and marker.get("state") == "running":
        state = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        with contextlib.suppress(OSError):
            write_marker(folder, **{**marker, "state": state})


@contextlib.contextmanager
def run_in(folder: str | os.PathLike, option: str, **meta) -> Iterator[dict[str, str]]:
    """Run a command that writes into ``folder`` (already checked by `check_owned`): hold its
    lock, mark it ``running``, and yield the mapping of the files the toolkit owns there
    (relative path -> sha256; the command adds what it writes); at the end mark it
    ``complete`` with those files, or `mark_ended` if the block raised."""
    with lock(folder, option) as folder:
        files = dict((read_marker(folder) or {}).get("files") or {})
        write_marker(folder, state="running", files=files, **meta)
        try:
            yield files
        except BaseException as err:
            mark_ended(folder, err)
            raise
        write_marker(folder, state="complete", files=files, **meta)


def _holder(path: pathlib.Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def lock(folder: str | os.PathLike, option: str = "--out") -> Iterator[pathlib.Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block; a
    ValueError naming the other writer's PID if another process holds it. The lock is released
    on any exit, and by the kernel if this process dies."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            pid = _holder(path)
            raise ValueError(f"{option}={str(folder)!r} is being written by another dssl-bounds run "
                             f"(pid {pid.split()[0]}); wait for it to end or choose another folder") from None
        # The holder before us may have removed the file between our open and our lock: the lock
        # counts only on the file that is still at the path.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield folder
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


__all__ = ["MARKER", "TOOL", "LOCK", "STATES", "read_marker", "owned_files", "check_owned", "lock", "digest",
           "write_marker", "mark_ended", "run_in"]
