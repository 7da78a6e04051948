"""Negative samplers behind one interface.

A sampler is any object with ``name`` and ``sample(users, pos_items, model=None) -> neg_items``
(1-D ``int64`` tensors on the sampler's device; ``model`` lets hard-negative samplers score
candidates; samplers that synthesise negatives, MixGCF and DENS, return float embeddings ``[B, d]``). Samplers never return a user's training positive. The hard-negative baselines (DNS, MixGCF,
DENS, AHNS, IRGAN) live in :mod:`neggen_lite.hard_samplers` and are registered in ``SAMPLERS``.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
import torch

from .safety import SettingsError
from .utils import resolve_device


@runtime_checkable
class NegativeSampler(Protocol):
    name: str

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor: ...


class PositiveIndex:
    """Exact, vectorised membership test ``(u, i) in train`` via sorted keys ``u * n_items + i``."""

    def __init__(self, train_csr: sp.spmatrix, device=None):
        m = sp.csr_matrix(train_csr)
        self.n_users, self.n_items = m.shape
        self.device = resolve_device(device)
        rows = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(m.indptr))
        keys = np.sort(rows * self.n_items + m.indices.astype(np.int64))
        self.keys = torch.from_numpy(keys).to(self.device)
        self.degree = torch.from_numpy(np.diff(m.indptr).astype(np.int64)).to(self.device)

    def contains(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        q = users * self.n_items + items
        if self.keys.numel() == 0:
            return torch.zeros_like(q, dtype=torch.bool)
        pos = torch.searchsorted(self.keys, q).clamp_(max=self.keys.numel() - 1)
        return self.keys[pos] == q

    def items_of(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training items of each of ``users`` as ``(row, item)`` pairs, ``row`` indexing ``users``."""
        users = users.to(self.device)
        counts = self.degree[users]
        starts = (torch.cumsum(self.degree, 0) - self.degree)[users]
        rows = torch.repeat_interleave(torch.arange(len(users), device=self.device), counts)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        flat = torch.repeat_interleave(starts, counts) + torch.arange(len(rows), device=self.device) - first
        return rows, self.keys[flat] - users[rows] * self.n_items


class UniformSampler:
    """Uniform sampling over the items a user has not interacted with in training (Rendle et al., 2009).

    Vectorised rejection sampling: draw all candidates at once, redraw only the collisions with
    training positives, repeat until none is left. Exact: the result is uniform over the user's
    non-positive items and never a positive.
    """

    name = "uniform"

    def __init__(self, train_csr: sp.spmatrix, device=None, seed: int = 0):
        self.index = PositiveIndex(train_csr, device)
        self.device = self.index.device
        self.n_items = self.index.n_items
        full = torch.nonzero(self.index.degree >= self.n_items).flatten()
        if len(full):
            raise ValueError(f"user {int(full[0])} has interacted with all {self.n_items} items: "
                             "no negative exists for them")
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def candidates(self, users: torch.Tensor, k: int = 1) -> torch.Tensor:
        """``k`` uniform non-positive items per user, shape ``[len(users), k]``."""
        users = users.to(self.device).reshape(-1, 1).expand(-1, k).reshape(-1)
        out = torch.randint(self.n_items, users.shape, device=self.device, generator=self.generator)
        bad = self.index.contains(users, out)
        while bool(bad.any()):
            idx = torch.nonzero(bad).flatten()
            out[idx] = torch.randint(self.n_items, idx.shape, device=self.device, generator=self.generator)
            bad[idx] = self.index.contains(users[idx], out[idx])
        return out.view(-1, k)

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor | None = None, model=None) -> torch.Tensor:
        return self.candidates(users, 1).view(-1)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


SAMPLERS = {"uniform": UniformSampler}


def build_sampler(name: str, dataset, device, seed: int = 0, dim: int | None = None, **kwargs) -> NegativeSampler:
    """Sampler ``name`` for ``dataset``; ``kwargs`` are its hyper-parameters, ``dim`` the model's embedding
    size (passed to samplers with their own layers over the embeddings, e.g. DENS's gates)."""
    key = name.lower()
    if key not in SAMPLERS:
        raise SettingsError(f"--sampler {name!r}: unknown sampler; choose one of {sorted(SAMPLERS)}")
    cls = SAMPLERS[key]
    if dim is not None and getattr(cls, "wants_dim", False):
        kwargs.setdefault("dim", dim)
    try:
        return cls(dataset.train_csr, device=device, seed=seed, **kwargs)
    except TypeError as exc:
        raise SettingsError(f"--sampler-arg for sampler {name!r}: {exc}") from exc


from . import hard_samplers as _hard_samplers  # noqa: E402,F401  (registers dns, mixgcf, dens, ahns, irgan)
