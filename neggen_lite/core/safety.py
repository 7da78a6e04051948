"""Guards shared by every command: expected errors, settings checks, writable outputs, locks, checksums,
safe checkpoint loading. Imports nothing from the package, so any module may use it."""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import filelock
import torch


class ExpectedError(Exception):
    """Bad input or a refused operation; the message names the file, line, field or flag. The CLI prints
    it on one line and exits 2."""


class SettingsError(ExpectedError, ValueError):
    """A run setting is out of range or does not apply to the chosen model."""


class LockError(ExpectedError, RuntimeError):
    """Another process is writing the same file."""


class CheckpointError(ExpectedError, RuntimeError):
    """A checkpoint cannot be read."""


class ResultFileError(ExpectedError, ValueError):
    """A result file is malformed or duplicates another run."""


#: The one definition of each run setting's valid range: name -> (CLI flag, type, smallest value, strict).
#: ``strict``: the value must be above ``smallest`` rather than at least it.
SETTINGS = {
    "epochs": ("--epochs", int, 1, False),
    "patience": ("--patience", int, 1, False),
    "batch_size": ("--batch-size", int, 1, False),
    "dim": ("--dim", int, 1, False),
    "n_layers": ("--layers", int, 0, False),
    "lr": ("--lr", float, 0.0, True),
    "reg": ("--reg", float, 0.0, False),
    "threads": ("--threads", int, 1, False),
    "subset_users": ("--subset-users", int, 1, False),
    "limit": ("--limit", int, 1, False),
    "retries": ("--retries", int, 0, False),
    "eval_every": ("eval_every", int, 1, False),
    "eval_batch_size": ("eval_batch_size", int, 1, False),
    "checkpoint_every": ("checkpoint_every", int, 1, False),
    "sort_window": ("sort_window", int, 1, False),
    "lam": ("--lam", float, 0.0, False),
    "alpha": ("--alpha", float, 0.0, False),
    "tau": ("--tau", float, 0.0, True),
    "beta": ("--beta", float, 0.0, False),
    "temperature": ("temperature", float, 0.0, False),
}


def check_setting(name: str, value: Any) -> None:
    """Raise :class:`SettingsError` naming the flag when ``value`` is outside ``SETTINGS[name]``'s range
    (``None`` means "the default" and passes)."""
    if value is None:
        return
    flag, kind, low, strict = SETTINGS[name]
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok_type = ok_type and float(value).is_integer()
    if not ok_type or not math.isfinite(float(value)) or (value <= low if strict else value < low):
        need = f"{'an integer' if kind is int else 'a number'} {'>' if strict else '>='} {low:g}"
        raise SettingsError(f"{flag}: need {need}, got {value!r}")


def check_settings(**values: Any) -> None:
    """:func:`check_setting` for every keyword."""
    for name, value in values.items():
        check_setting(name, value)


def check_writable(path: str | Path, flag: str) -> Path:
    """Fail now, not after hours of work, when ``path`` cannot be written: its folder cannot be created or
    written, or ``path`` is a folder. Creates the folder if needed (nothing else)."""
    path = Path(path)
    if path.is_dir():
        raise SettingsError(f"{flag} {path}: is a folder, need a file path")
    blocker = next((a for a in path.parents if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise SettingsError(f"{flag} {path}: {blocker} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise SettingsError(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None
    return path


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _take_lock(path: str | Path) -> tuple[filelock.FileLock, Path, bool]:
    """``<path>.lock`` (its folder created), its path, and whether this process took it without waiting."""
    lp = lock_path(path)
    lp.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lp), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return lock, lp, False
    return lock, lp, True


@contextmanager
def locked(path: str | Path, what: str = "file") -> Iterator[None]:
    """Hold ``<path>.lock`` while writing ``path``; a second writer stops at once with :class:`LockError`.
    The lock is released when the process ends, also on a crash (``flock``)."""
    lock, lp, taken = _take_lock(path)
    if not taken:
        raise LockError(f"{path}: another process is writing this {what} (lock {lp}); wait for it to finish "
                        "or choose another output")
    try:
        yield
    finally:
        lock.release()


def wait_unlocked(path: str | Path, what: str = "file") -> bool:
    """Block while another process holds ``<path>.lock`` (it is writing a shared cache this process would
    otherwise write too), then return at once; says so in one line on stderr when it has to wait. True when
    it waited."""
    lock, lp, taken = _take_lock(path)
    if not taken:
        print(f"{path}: another process is writing this {what} (lock {lp}); waiting for it", file=sys.stderr,
              flush=True)
        lock.acquire(timeout=-1)
    lock.release()
    return not taken


_SHA256: dict[tuple[str, int, int], str] = {}


def sha256_content(path: str | Path) -> str:
    """sha256 of a file's content (of the decompressed content for ``.gz``), cached per file by path,
    size and modification time, so a file is hashed once per process unless it changes."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA256:
        h = hashlib.sha256()
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA256[key] = h.hexdigest()
    return _SHA256[key]


def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, never arbitrary
    objects; a file that cannot be read is a :class:`CheckpointError` naming it."""
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first}); delete it to start over") from None
    if not isinstance(ck, dict):
        raise CheckpointError(f"{path}: not a checkpoint of this package (a {type(ck).__name__}, not a dict)")
    return ck
