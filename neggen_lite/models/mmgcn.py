"""MMGCN (Wei et al., ACM MM'19) on the common recommender interface.

Equation numbers: the paper's own text was not readable here; the numbers below follow a reader's notes on
the paper (``xuetf/Markdown4Zhihu``, ``Data/rl_bg_for_zhihu.md``), which agree with the two numbers MMRec's code
comments give (``# equation 1`` on the aggregation, ``# equation 5`` on ``x_hat``).

One GCN per modality ``m`` over the user-item graph. Layer 0 is
``x = normalize([p_m ; MLP_m(f_m)])``: free user preferences ``p_m`` (the paper's ``u_m``) and the items'
(projected) features. Each layer ``l`` (the recursion, Eq. 8):

* Eq. 1-2, aggregation with the mean aggregator ``f_avg``: ``h = leaky_relu(D^{-1} A x W_l)``, ``W_l`` square
  (layer 1 aggregates in the input width: 256 for visual, the feature width for text, as MMRec);
* Eq. 4-6, combination ``g`` in its concatenation form: Eq. 5 ``x_hat = leaky_relu(L_l x) + e_id``, Eq. 6
  ``x <- leaky_relu(G_l [h ; x_hat])``, with ``e_id`` the free ID embedding of the node. (The max aggregator,
  Eq. 3, and the element-wise combination, Eq. 7, are not implemented; MMRec runs neither.)

The representation is the mean of the modalities' last layers (Eq. 9 sums them; see the differences);
``y_ui = r_u^T r_i``, trained with BPR plus
``reg * (mean(e_id_u^2 + e_id_i^2) + sum_m mean(p_m^2))``, the trainer's ``reg`` being MMRec's ``reg_weight``.

Hyper-parameters (MMRec ``configs/model/MMGCN.yaml``): ``embedding_size 64``; MMRec publishes no
per-dataset values, only the grid in :data:`SEARCH` (``reg_weight`` x ``learning_rate``), to be searched on
validation (``--reg``/``--lr`` runs under ``results/<dataset>/tuning/``). On Baby's validation Recall@20
(seed 2025; the tuning table of ``results/README.md``) learning rate 1e-4 beat the project's default 1e-3,
with which MMGCN peaks within a few epochs, and L2 weight 1e-2 did no better than 1e-4: ``lr 1e-4, reg 1e-4``
are the defaults here, for every dataset (as VBPR takes Baby's L2 weight). Visual features go through a 256-d latent MLP, text features enter as
they are (MMRec's ``dim_latent``).

Differences from MMRec's ``src/models/mmgcn.py`` (reference only):

* MMRec's ID embeddings and user preferences are plain tensors, not parameters, so its optimiser never
  updates them (the ID term then only adds a fixed random vector); here both are trained, as in the paper.
* MMRec hard-codes three layers and ignores its yaml's ``n_layers: 2``; here ``n_layers`` (the trainer's)
  is used, default 3 (what MMRec runs). MMRec's ``concate='False'`` string is truthy, so it runs the
  concatenation combination; so do we.
* MMRec (and this module) average the modalities' representations (``/ num_modal``); the paper's Eq. 9 sums
  them. With one modality the two agree.
* MMRec regularises only the visual preference; here every modality's (a text-only MMGCN has none otherwise).
* Initialisation: MMRec re-initialises every aggregation weight ``W_l`` Xavier-normal (over PyG's uniform),
  the ``L_l`` and the first ``G_1`` Xavier-normal, and leaves ``G_2``, ``G_3`` and the visual MLP at PyTorch's
  default ``nn.Linear`` init; here ``W_l`` are uniform in ``+-1/sqrt(d_in)`` (PyG's ``uniform``) and every
  linear map (MLP, ``L_l``, ``G_l``) is Xavier-normal. MMRec's ID embeddings are Xavier-normal, ours
  Xavier-uniform (the project's rule).
* Scores are recomputed from the current parameters at evaluation (MMRec scores with the embeddings of
  the last training batch's forward pass, i.e. before that batch's update).
* BPR is ``-log sigmoid`` computed stably (``logsigmoid``); MMRec takes ``log(sigmoid(.))``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..core.features import ItemFeatures
from .mmbase import MultiModalRecommender, mean_adjacency, published, sparse_pair, spmm
from .objectives import bpr, score_gap

#: MMRec's search grid (no per-dataset values are published)
SEARCH = {"reg": [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], "lr": [1e-4, 5e-4, 1e-3, 5e-3, 1e-2]}
PUBLISHED: dict[str, dict] = {}


@dataclass
class MMGCNConfig:
    """MMGCN's settings; ``lr``/``reg``/``n_layers`` are the trainer's defaults for this model."""

    dim_latent: dict = field(default_factory=lambda: {"v": 256, "t": None})
    lr: float = 1e-4
    reg: float = 1e-4
    n_layers: int = 3


def config_for(dataset: str) -> MMGCNConfig:
    return published(MMGCNConfig(), PUBLISHED, dataset)


class _ModalityGCN(nn.Module):
    """One modality's GCN; ``forward(feats, id_emb) -> [n_users + n_items, dim]``."""

    def __init__(self, n_users: int, feat_dim: int, dim: int, n_layers: int, latent: int | None):
        super().__init__()
        d_in = latent or feat_dim
        self.mlp = nn.Linear(feat_dim, latent) if latent else None
        self.preference = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_users, d_in)))
        dims = [d_in] + [dim] * n_layers
        # layer k aggregates in its input width (d_in in layer 1, as MMRec), then combines [h ; x_hat] -> dim
        self.conv = nn.ParameterList(nn.Parameter(torch.empty(d, d).uniform_(-d ** -0.5, d ** -0.5)) for d in dims[:-1])
        self.lin = nn.ModuleList(nn.Linear(d, dim) for d in dims[:-1])
        self.gate = nn.ModuleList(nn.Linear(d + dim, dim) for d in dims[:-1])
        for lin in [*([self.mlp] if self.mlp else []), *self.lin, *self.gate]:
            nn.init.xavier_normal_(lin.weight)

    def forward(self, adj, adj_t, feats: torch.Tensor, id_emb: torch.Tensor) -> torch.Tensor:
        items = self.mlp(feats) if self.mlp is not None else feats
        x = F.normalize(torch.cat([self.preference, items], 0))
        for w, lin, gate in zip(self.conv, self.lin, self.gate):
            h = F.leaky_relu(spmm(adj, adj_t, x @ w))                      # Eq. 1-2 (mean aggregation)
            x_hat = F.leaky_relu(lin(x)) + id_emb                          # Eq. 5
            x = F.leaky_relu(gate(torch.cat([h, x_hat], 1)))               # Eq. 6 (concatenation)
        return x


class MMGCN(MultiModalRecommender):
    """MMGCN (Wei et al., MM'19): per-modality GCNs, averaged; see the module docstring."""

    _sparse = ("adj", "adj_t")

    def __init__(self, dataset, features: ItemFeatures, cfg: MMGCNConfig | None = None, dim: int = 64,
                 n_layers: int = 3):
        super().__init__(dataset, features, dim)
        self.cfg = cfg or MMGCNConfig()
        if n_layers < 1:
            raise ValueError(f"MMGCN needs n_layers >= 1, got {n_layers}")
        self.adj, self.adj_t = sparse_pair(mean_adjacency(dataset.train_csr))
        self.gcn = nn.ModuleDict({m: _ModalityGCN(self.n_users, self.features(m).shape[1], dim, n_layers,
                                                  self.cfg.dim_latent.get(m)) for m in self.modalities})

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.cat([self.user_emb, self.item_emb], 0)
        rep = sum(self.gcn[m](self.adj, self.adj_t, self.features(m), ids) for m in self.modalities)
        rep = rep / len(self.modalities)
        return rep[: self.n_users], rep[self.n_users:]

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """BPR plus MMRec's L2 term (module docstring); returns ``(total, bpr)``."""
        u, i = self.forward()
        loss = bpr(score_gap(u[users], i[pos], i[neg])).mean()
        if not reg:
            return loss, loss
        eu = self.user_emb[users]
        l2 = 0.5 * ((eu.pow(2) + self.item_emb[pos].pow(2)).mean() + (eu.pow(2) + self.item_emb[neg].pow(2)).mean())
        l2 = l2 + sum(self.gcn[m].preference.pow(2).mean() for m in self.modalities)
        return loss + reg * l2, loss
