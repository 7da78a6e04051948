"""DRAGON (Zhou et al., ECAI'23): dual representations on a heterogeneous user-item graph, enhanced with
homogeneous item-item and user-user graphs.

Equation numbers: the paper's text (arXiv 2301.12097) could not be read here, so its equations are named by
component, not by number. The only number given is the reference code's own comment (``# equation 1`` on
the first hop of the heterogeneous graph), not checked against the paper. The components were checked
against the DRAGON repository's ``models/dragon.py`` (identical to MMRec's ``src/models/dragon.py`` but for
whitespace) and its ``tools/generate-u-u-matrix.py``.

* Heterogeneous graph, per modality ``m``: ``x = normalize([p_m ; MLP_m(f_m)])`` with free
  user preferences ``p_m`` and items' features through a two-layer MLP (``d -> 4*64 -> 64``, leaky ReLU);
  two LightGCN hops ``x_1 = A x``, ``x_2 = A x_1`` on NegGen Eq. 6's normalised bipartite graph (the
  reference's "equation 1" per hop, PyG ``aggr='add'`` with ``1/sqrt(d_i d_j)``); ``r_m = x + x_1 + x_2``.
* Fusion (the paper's "attentive concatenation"): items concatenate the modalities, ``r_i = [r_v ; r_t]``;
  users concatenate them with a per-user softmax-initialised, then freely trained weight,
  ``r_u = [w_uv r_uv ; w_ut r_ut]`` (MMRec's ``construction='cat'``).
* Homogeneous graphs: items ``h_i = r_i + S r_i`` with FREEDOM's frozen kNN item graph
  (``knn_k 10``, ``mm_image_weight 0.1``, ``n_mm_layers 1``; :func:`.freedom.item_item_graph`, the same
  ``D^{-1/2} A D^{-1/2}`` of the kNN graph, self included, as the reference's ``get_knn_adj_mat``); users
  ``h_u = r_u + U r_u`` with ``U`` the user co-occurrence graph (:func:`user_cooccurrence_graph`: each user's
  ``user_k = 40`` users with most common training items, weights the softmax of those counts).
* Loss: BPR in base 2, ``-mean log2 sigmoid(h_u^T h_i - h_u^T h_j)``, plus
  ``reg * (sum_m mean(p_m[users]^2) + mean(w^2))`` (the trainer's ``reg`` is DRAGON's ``reg_weight``).

Hyper-parameters: the DRAGON repository README's table (Baby and Sports: lr 1e-4, reg_weight 1e-3; Clothing:
lr 1e-4, reg_weight 0.1); MMRec's ``DRAGON.yaml`` for the rest (``knn_k 10``, ``mm_image_weight 0.1``,
``n_mm_layers 1``, ``aggr_mode add``; ``user_k 40`` is hard-coded in both codes). The DRAGON repository's own
yaml lists only search grids for these (``knn_k`` 5/10/20, ``mm_image_weight`` 0.1-0.9, ``k`` 30/40/50,
``n_mm_layers`` 1/2) and its README does not say which were chosen. Beauty has no published values: the
Baby values are the defaults and :data:`SEARCH` (MMRec's grid) is to be searched on validation.

Differences from MMRec's ``src/models/dragon.py`` (reference only):

* With one modality users and items take that modality's ``r`` (64-d) and there is no fusion weight (MMRec
  keeps an unused ``[n_users, 2]`` weight and still adds its L2 term to the loss; the gradients of the rest
  are the same).
* MMRec hard-codes the two heterogeneous hops (its yaml's ``n_layers: 2`` is read nowhere in the model);
  here they are ``n_layers`` (the trainer's), default 2.
* MMRec builds the user graph offline (``generate-u-u-matrix.py``: each user's co-occurrence counts, top 200)
  and, before every epoch, pads users with fewer than 40 co-occurring users by re-drawing random ones among
  them (which changes their softmax weights at random, epoch by epoch); here the graph is built once at
  construction from the training split and such users keep only their real neighbours (ties in the counts go
  to the lower user index, where the reference's ``torch.topk`` order is unspecified).
* Items without the modality's features (zero rows) have an empty kNN row and are nobody's neighbour here
  (FREEDOM's rule); MMRec's kNN divides their zero vector by its zero norm.
* MMRec draws per-modality item "dropout" edge sets that its forward pass never uses; they are left out.
* Scores are recomputed from the current parameters at evaluation (MMRec scores with the last training
  batch's forward pass).
* Base-2 BPR is computed stably (``logsigmoid / log 2``); MMRec takes ``log2(sigmoid(.))``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..core.features import ItemFeatures
from ..core.graph import normalized_adjacency, propagate
from .freedom import item_item_graph
from .mmbase import MultiModalRecommender, interaction_matrix, published, sparse_pair, spmm
from .objectives import bpr, score_gap

SEARCH = {"reg": [0.1, 0.01, 1e-3, 1e-4, 1e-5], "lr": [0.1, 0.01, 1e-3, 1e-4, 1e-5]}
PUBLISHED = {"baby": {"lr": 1e-4, "reg": 1e-3}, "sports": {"lr": 1e-4, "reg": 1e-3},
             "clothing": {"lr": 1e-4, "reg": 0.1}}


@dataclass
class DragonConfig:
    """DRAGON's settings; ``lr``/``reg``/``n_layers`` are the trainer's defaults for this model
    (``n_layers``: the hops of the heterogeneous graph)."""

    knn_k: int = 10
    mm_image_weight: float = 0.1
    n_mm_layers: int = 1
    user_k: int = 40
    latent: int = 64
    lr: float = 1e-4
    reg: float = 1e-3
    n_layers: int = 2


def config_for(dataset: str) -> DragonConfig:
    return published(DragonConfig(), PUBLISHED, dataset)


def user_cooccurrence_graph(train_csr, k: int) -> sp.csr_matrix:
    """DRAGON's user-user graph ``U`` ``[n_users, n_users]``: row ``u`` holds the ``k`` other users sharing the
    most training items with ``u`` (ties: lower index first), weighted by the softmax of those counts."""
    r = interaction_matrix(train_csr)
    c = (r @ r.T).tocsr()
    c.setdiag(0)
    c.eliminate_zeros()
    rows, cols, vals = [], [], []
    for u in range(c.shape[0]):
        idx, cnt = c.indices[c.indptr[u]:c.indptr[u + 1]], c.data[c.indptr[u]:c.indptr[u + 1]]
        if len(idx) == 0:
            continue
        order = np.lexsort((idx, -cnt))[:k]
        w = np.exp(cnt[order] - cnt[order].max())
        rows.append(np.full(len(order), u))
        cols.append(idx[order])
        vals.append(w / w.sum())
    if not rows:
        return sp.csr_matrix(c.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                         shape=c.shape)


class DRAGON(MultiModalRecommender):
    """DRAGON (Zhou et al., ECAI'23); see the module docstring. Features are fixed inputs."""

    _sparse = ("adj", "mm_adj", "mm_adj_t", "user_adj", "user_adj_t")

    def __init__(self, dataset, features: ItemFeatures, cfg: DragonConfig | None = None, dim: int = 64,
                 n_layers: int = 2):
        super().__init__(dataset, features, dim, embeddings=False)
        self.cfg = cfg = cfg or DragonConfig()
        self.n_layers = n_layers
        self.adj = normalized_adjacency(dataset.train_csr, "cpu")
        self.mm_adj, self.mm_adj_t = sparse_pair(item_item_graph(features, cfg.knn_k, cfg.mm_image_weight))
        self.user_adj, self.user_adj_t = sparse_pair(user_cooccurrence_graph(dataset.train_csr, cfg.user_k))
        self.preference = nn.ParameterDict({m: nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users, dim)))
                                            for m in self.modalities})
        self.mlp = nn.ModuleDict({m: nn.Sequential(nn.Linear(self.features(m).shape[1], cfg.latent * 4),
                                                   nn.LeakyReLU(), nn.Linear(cfg.latent * 4, dim))
                                  for m in self.modalities})
        self.weight_u = None
        if len(self.modalities) > 1:
            w = nn.init.xavier_normal_(torch.empty(self.n_users, len(self.modalities)))
            self.weight_u = nn.Parameter(torch.softmax(w, dim=1))

    def modality_rep(self, m: str) -> torch.Tensor:
        """``r_m = x + A x + A^2 x`` over ``[users ; items]``."""
        x = F.normalize(torch.cat([self.preference[m], self.mlp[m](self.features(m))], 0))
        acc, h = x, x
        for _ in range(self.n_layers):
            h = propagate(self.adj, h)
            acc = acc + h
        return acc

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        reps = [self.modality_rep(m) for m in self.modalities]
        n = self.n_users
        if self.weight_u is None:
            u, i = reps[0][:n], reps[0][n:]
        else:
            u = torch.cat([r[:n] * self.weight_u[:, k:k + 1] for k, r in enumerate(reps)], 1)
            i = torch.cat([r[n:] for r in reps], 1)
        hi = i
        for _ in range(self.cfg.n_mm_layers):
            hi = spmm(self.mm_adj, self.mm_adj_t, hi)
        return u + spmm(self.user_adj, self.user_adj_t, u), i + hi

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Base-2 BPR plus the preferences' (and fusion weights') L2; returns ``(total, base-2 BPR)``."""
        u, i = self.forward()
        loss = bpr(score_gap(u[users], i[pos], i[neg])).mean() / math.log(2.0)
        if not reg:
            return loss, loss
        l2 = sum(self.preference[m][users].pow(2).mean() for m in self.modalities)
        if self.weight_u is not None:
            l2 = l2 + self.weight_u.pow(2).mean()
        return loss + reg * l2, loss
