"""Collaborative recommenders: BPR-MF (Rendle et al., UAI'09) and LightGCN (He et al., SIGIR'20; paper Eq. 6-7),
on the common :class:`~neggen_lite.models.base.Recommender` interface."""
from __future__ import annotations

import torch

from ..core.graph import layer_mean_rows, normalized_adjacency, propagate
from .base import Recommender


def layer_mean(adj: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor, n_layers: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """LightGCN's propagation: ``n_layers`` applications of ``A_hat`` (Eq. 6) from the layer-0 embeddings, and
    the mean of layers ``0..L`` (Eq. 7); returns the user and item halves. FREEDOM reuses it on its graphs."""
    x = torch.cat([user_emb, item_emb], dim=0)
    if n_layers == 0:
        return x[: len(user_emb)], x[len(user_emb):]
    acc = x.clone()  # summed in place: no propagation saves its input for the backward pass
    for _ in range(n_layers):
        x = propagate(adj, x)
        acc.add_(x)
    out = acc.div_(n_layers + 1)
    return out[: len(user_emb)], out[len(user_emb):]


class BPRMF(Recommender):
    """Matrix factorisation trained with BPR: ``y_ui = e_u^T e_i`` on the free embeddings."""


class LightGCN(Recommender):
    """LightGCN: ``L`` linear propagations over the normalised graph (Eq. 6), layer mean (Eq. 7).

    ``adj`` is the symmetric normalised adjacency from :func:`neggen_lite.core.graph.normalized_adjacency`,
    on the same device as the model.
    """

    _sparse = ("adj",)

    def __init__(self, n_users: int, n_items: int, adj: torch.Tensor, dim: int = 64, n_layers: int = 3):
        super().__init__(n_users, n_items, dim)
        if adj.shape != (n_users + n_items, n_users + n_items):
            raise ValueError(f"adjacency shape {tuple(adj.shape)} != ({n_users + n_items}, {n_users + n_items})")
        if n_layers < 0:
            raise ValueError(f"n_layers must be >= 0, got {n_layers}")
        self.adj = adj
        self.n_layers = n_layers

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return layer_mean(self.adj, self.user_emb, self.item_emb, self.n_layers)

    def batch_rows(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward()``'s rows for a training batch, ``(e_u, e_i, e_j)``, by one function whose backward
        builds the dense gradient once (:func:`~neggen_lite.core.graph.layer_mean_rows`)."""
        rows = torch.cat([users, pos + self.n_users, neg + self.n_users])
        return layer_mean_rows(self.adj, self.n_layers, rows, self.user_emb, self.item_emb).split(len(users))

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
    key = name.lower()
    if key == "bpr":
        model = BPRMF(dataset.n_users, dataset.n_items, dim)
    elif key == "lightgcn":
        adj = normalized_adjacency(dataset.train_csr, device)
        model = LightGCN(dataset.n_users, dataset.n_items, adj, dim, n_layers)
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return model.to(device)
