"""The runtime rule, once: device resolution (``auto`` = CUDA when available, for training and generation
alike), torch threads, seeds, atomic writes and provenance (the git commit)."""
from __future__ import annotations

import ctypes
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .paths import REPO_ROOT
from .safety import SettingsError



def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) with one number."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" picks CUDA when available; an explicit CUDA request without CUDA is an error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise SettingsError(f"--device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"--device {device}: requested but torch.cuda.is_available() is False "
                            f"(torch {torch.__version__}); use --device cpu")
    return dev


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam over ``params``, fused into one kernel per step where torch has one (CPU and CUDA floating
    tensors): the same update (Kingma & Ba) as the per-tensor loop, without its ~10 elementwise passes over
    each embedding table: on Baby's LightGCN the optimizer step went from ~10 to ~3.5 ms per batch (of ~75)."""
    params = list(params)
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused)


def flush_denormals() -> bool:
    """Treat denormal floats (magnitudes below ~1.2e-38 in float32) as zero on the CPU, for this thread and
    the threads it starts. A BPR-style loss whose pairs are all but satisfied sends gradients of ``sigmoid(-z)``
    ~ ``e^-z`` into that range, and x86 arithmetic on denormals is ~100x slower: a 2048 x 384 x 384 weight
    gradient took 1.1 s instead of 6 ms, and a NegGen ``repaired`` batch on Baby 637 -> 245 ms (``joint`` 376
    -> 217 ms) with the same loss. Returns whether the CPU supports it (torch.set_flush_denormal)."""
    return torch.set_flush_denormal(True)


#: glibc ``mallopt`` parameters (malloc.h) and the values :func:`keep_freed_memory` sets
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_ALLOCATOR = {_M_MMAP_THRESHOLD: 256 << 20, _M_TRIM_THRESHOLD: 1 << 30, _M_TOP_PAD: 256 << 20}


def keep_freed_memory() -> bool:
    """Have glibc's allocator keep freed buffers for reuse instead of handing them back to the kernel.

    A training batch allocates and frees full-size buffers (on Baby, ``26,495 x 64`` floats, 6.8 MB) dozens of
    times. By default glibc serves such sizes with ``mmap`` or trims them off the heap when freed, so the next
    batch takes fresh pages and zero-fills them (page faults, system time). Raising the mmap and trim
    thresholds keeps them in the heap (up to 1 GiB held back): measured idle on one thread
    (``benchmarks/bench_train.py``), a Baby LightGCN epoch went from 2.98 to 1.67 s and a Clothing epoch from
    7.62 to 6.34 s, the same numbers. Process-wide
    and idempotent; returns False where the C library is not glibc (nothing changes then)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(k, v) == 1 for k, v in _ALLOCATOR.items())
    except (OSError, AttributeError):
        return False


def idle_cores() -> int:
    """The cores other processes leave free: the CPU count minus the 1-minute load average, at least 1.

    torch's default (one thread per core) stalls when another process holds a core: its threads wait
    on each other (a 2-item SmolLM2 run took 15+ minutes beside one training job, seconds alone).
    """
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        busy = 0.0
    return max(1, (os.cpu_count() or 1) - round(busy))


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads explicitly (other processes fight for cores otherwise)."""
    n = threads or int(os.environ.get("NEGGEN_THREADS", 0)) or (os.cpu_count() or 1)
    torch.set_num_threads(n)
    try:  # NumPy's BLAS (used by the CPU evaluator) gets the same budget
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    return n


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode())


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def git_commit() -> str:
    """The repository's HEAD commit (with ``-dirty`` when the work tree differs); where git cannot answer (a copy
    without history, as on a lent accelerator machine), ``NEGGEN_COMMIT`` or ``unknown``."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "neggen_lite"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("NEGGEN_COMMIT") or "unknown"
