"""Base recommenders: BPR-MF (Rendle et al., UAI'09) and LightGCN (He et al., SIGIR'20; paper Eq. 6-7).

Every model exposes the same small interface, used by the trainer, the samplers and the evaluator:

* ``forward() -> (users, items)``: final embeddings of all users ``[n_users, d]`` and items ``[n_items, d]``;
* ``ego(users, items...)``: the layer-0 (free-parameter) embeddings, for L2 regularisation;
* ``score(users, items=None)``: inner-product scores ``e_u^T e_i``.
"""
from __future__ import annotations

import torch
from torch import nn

from .graph import propagate


class Recommender(nn.Module):
    """Free user and item embeddings ``[n, dim]`` with Xavier-uniform initialisation (paper Sec. 4.1.4)."""

    def __init__(self, n_users: int, n_items: int, dim: int = 64):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.item_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_items, dim)))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb, self.item_emb

    def ego_users(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_emb[users]

    def ego_items(self, items: torch.Tensor) -> torch.Tensor:
        return self.item_emb[items]

    @torch.no_grad()
    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        u, i = self.forward()
        eu = u[users]
        return eu @ (i if items is None else i[items]).T


class BPRMF(Recommender):
    """Matrix factorisation trained with BPR: ``y_ui = e_u^T e_i`` on the free embeddings."""


class LightGCN(Recommender):
    """LightGCN: ``L`` linear propagations over the normalised graph (Eq. 6), layer mean (Eq. 7).

    ``adj`` is the symmetric normalised adjacency from :func:`neggen_lite.graph.normalized_adjacency`,
    on the same device as the model.
    """

    def __init__(self, n_users: int, n_items: int, adj: torch.Tensor, dim: int = 64, n_layers: int = 3):
        super().__init__(n_users, n_items, dim)
        if adj.shape != (n_users + n_items, n_users + n_items):
            raise ValueError(f"adjacency shape {tuple(adj.shape)} != ({n_users + n_items}, {n_users + n_items})")
        if n_layers < 0:
            raise ValueError(f"n_layers must be >= 0, got {n_layers}")
        self.adj = adj
        self.n_layers = n_layers

    def _apply(self, fn, *args, **kwargs):  # keep the (non-parameter) adjacency on the model's device
        out = super()._apply(fn, *args, **kwargs)
        self.adj = fn(self.adj)
        return out

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_emb, self.item_emb], dim=0)
        acc = x
        for _ in range(self.n_layers):
            x = propagate(self.adj, x)
            acc = acc + x
        out = acc / (self.n_layers + 1)
        return out[: self.n_users], out[self.n_users:]

    def layer_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-layer embeddings ``e^(0..L)`` of Eq. 6, ``[n_users, L+1, d]`` and ``[n_items, L+1, d]``
        (layer 0: the free embeddings). ``forward()`` is their mean (Eq. 7); used by MixGCF's hop mixing."""
        x = torch.cat([self.user_emb, self.item_emb], dim=0)
        layers = [x]
        for _ in range(self.n_layers):
            x = propagate(self.adj, x)
            layers.append(x)
        out = torch.stack(layers, dim=1)
        return out[: self.n_users], out[self.n_users:]


MODELS = {"bpr": BPRMF, "lightgcn": LightGCN}


def build_model(name: str, dataset, device, dim: int = 64, n_layers: int = 3) -> Recommender:
    """Construct model ``name`` ("bpr" or "lightgcn") for ``dataset`` on ``device``."""
    from .graph import normalized_adjacency

    key = name.lower()
    if key == "bpr":
        model = BPRMF(dataset.n_users, dataset.n_items, dim)
    elif key == "lightgcn":
        adj = normalized_adjacency(dataset.train_csr, device)
        model = LightGCN(dataset.n_users, dataset.n_items, adj, dim, n_layers)
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return model.to(device)
