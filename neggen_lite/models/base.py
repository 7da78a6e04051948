"""The one base class of every recommender (BPR-MF, LightGCN, FREEDOM, VBPR, NegGen's base).

Every model exposes the same small interface, used by the trainer, the samplers and the evaluator:

* ``forward() -> (users, items)``: final embeddings of all users ``[n_users, d]`` and items ``[n_items, d]``;
* ``ego_users(users)`` / ``ego_items(items)``: the layer-0 (free-parameter) embeddings, for L2 regularisation;
* ``score(users, items=None)``: inner-product scores ``e_u^T e_i``.

Non-parameter sparse graphs named in ``_sparse`` follow the module to its device.
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.graph import gather_rows


class Recommender(nn.Module):
    """Free user and item embeddings ``[n, dim]`` with Xavier-uniform initialisation (paper Sec. 4.1.4);
    ``embeddings=False`` for a model with parameters of its own (VBPR)."""

    _sparse: tuple[str, ...] = ()

    def __init__(self, n_users: int, n_items: int, dim: int = 64, embeddings: bool = True):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        if embeddings:
            self.user_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_users, dim)))
            self.item_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_items, dim)))

    def _apply(self, fn, *args, **kwargs):  # keep the (non-parameter) sparse graphs on the model's device
        out = super()._apply(fn, *args, **kwargs)
        for name in self._sparse:
            if getattr(self, name, None) is not None:
                setattr(self, name, fn(getattr(self, name)))
        return out

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb, self.item_emb

    def ego_users(self, users: torch.Tensor) -> torch.Tensor:
        return gather_rows(self.user_emb, users)

    def ego_items(self, items: torch.Tensor) -> torch.Tensor:
        return gather_rows(self.item_emb, items)

    @torch.no_grad()
    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        u, i = self.forward()
        return u[users] @ (i if items is None else i[items]).T
