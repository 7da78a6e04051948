"""BM3 (Zhou et al., WWW'23): bootstrapped latent representations, no negative samples.

Equation numbers: the paper's text (arXiv 2207.05969) could not be read here, so its equations are named
by component, not by number; the components below were checked against the BM3 repository's
``src/models/bm3.py`` (identical to MMRec's but for a comment).

* Encoder: LightGCN over the user-item graph (mean of layers ``0..L``), the item ID
  embedding added to the items' output; each modality's features projected, ``h_m = W_m f_m + b_m``
  (features trainable, as the reference's ``from_pretrained(freeze=False)``).
* Online/target views: the online view is a shared predictor ``p(.)`` (one linear map)
  of each representation; the target view is the same representation, detached, under dropout ``p``
  (the "latent embedding dropout" augmentation).
* Loss (the reference's ``calculate_loss``): ``L = (1 - cos(p(h_u), sg(h~_i))) + (1 - cos(p(h_i), sg(h~_u)))``
  (graph reconstruction) ``+ cl_weight * sum_m [(1 - cos(p(h_m), sg(h~_i))) + (1 - cos(p(h_m), sg(h~_m)))]``
  (inter- and intra-modality alignment) ``+ reg * (||H_u||_F + ||H_i||_F) / n_items`` (MMRec's ``EmbLoss`` on the
  whole encoder outputs; the trainer's ``reg`` is BM3's ``reg_weight``), each cosine term averaged over the
  batch's positive pairs; the sampled negatives are ignored (BM3 sets ``use_neg_sampling: False``).
* Scores: ``p(h_u)^T p(h_i)``; ``forward()`` returns the predicted embeddings.

Hyper-parameters: the BM3 repository README's table of best values (Baby: 1 layer, dropout 0.5, reg_weight 0.1;
Sports: 1, 0.5, 0.01), ``cl_weight 2.0`` and ``embedding_size``/``feat_embed_dim 64`` from ``BM3.yaml`` (same in
both repositories), lr 1e-3 (``overall.yaml``). Beauty and Clothing have no published values: the Baby values
are the defaults and :data:`SEARCH` (MMRec's grid) is to be searched on validation.

Differences from MMRec's ``src/models/bm3.py`` (reference only):

* The projections and the target-view dropout are computed for the batch's rows only: MMRec drops out the
  whole user/item/feature matrices and then indexes the batch, so a user or item that appears twice in a
  batch gets one dropout mask there and two independent masks here (each row's marginal distribution is
  the same). Dropout draws come from the global seeded RNG.
* The training batch is the trainer's (2048 ``(user, pos, neg)`` triples, as MMRec's ``train_batch_size``);
  MMRec's loader for BM3 draws no negatives, ours draws them and the loss ignores them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.features import ItemFeatures
from ..core.graph import normalized_adjacency
from .lightgcn import layer_mean
from .mmbase import MultiModalRecommender, published

SEARCH = {"n_layers": [1, 2], "dropout": [0.3, 0.5], "reg": [0.1, 0.01]}
PUBLISHED = {"baby": {"n_layers": 1, "dropout": 0.5, "reg": 0.1},
             "sports": {"n_layers": 1, "dropout": 0.5, "reg": 0.01}}


@dataclass
class BM3Config:
    """BM3's settings; ``lr``/``reg``/``n_layers`` are the trainer's defaults for this model."""

    dropout: float = 0.5
    cl_weight: float = 2.0
    lr: float = 1e-3
    reg: float = 0.1
    n_layers: int = 1


def config_for(dataset: str) -> BM3Config:
    return published(BM3Config(), PUBLISHED, dataset)


def cosine_loss(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean cos(online, sg(target))`` , the target detached."""
    return 1.0 - F.cosine_similarity(online, target.detach(), dim=-1).mean()


class BM3(MultiModalRecommender):
    """BM3 (Zhou et al., WWW'23); see the module docstring. Features are trainable, as in MMRec."""

    _sparse = ("adj",)

    def __init__(self, dataset, features: ItemFeatures, cfg: BM3Config | None = None, dim: int = 64,
                 n_layers: int = 1):
        super().__init__(dataset, features, dim, trainable=True)
        self.cfg = cfg or BM3Config()
        self.n_layers = n_layers
        self.adj = normalized_adjacency(dataset.train_csr, "cpu")
        self.predictor = nn.Linear(dim, dim)
        nn.init.xavier_normal_(self.predictor.weight)
        self.proj = nn.ModuleDict({m: nn.Linear(self.features(m).shape[1], dim) for m in self.modalities})
        for p in self.proj.values():
            nn.init.xavier_normal_(p.weight)

    def encode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN's layer mean (NegGen Eq. 6-7), plus the item ID embedding on the items."""
        u, i = layer_mean(self.adj, self.user_emb, self.item_emb, self.n_layers)
        return u, i + self.item_emb

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        u, i = self.encode()
        return self.predictor(u), self.predictor(i)

    def targets(self, u: torch.Tensor, i: torch.Tensor, h: dict[str, torch.Tensor]):
        """The target view: detached copies under dropout ``p`` of ``u``, ``i`` and each ``h[m]``."""
        p = self.cfg.dropout
        with torch.no_grad():
            return F.dropout(u, p), F.dropout(i, p), {m: F.dropout(x, p) for m, x in h.items()}

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss on the batch's ``(users, pos)`` pairs (``neg`` unused); returns ``(total, L_rec)``."""
        u_all, i_all = self.encode()
        u, i = u_all[users], i_all[pos]
        h = {m: self.proj[m](self.features(m)[pos]) for m in self.modalities}
        u_t, i_t, h_t = self.targets(u, i, h)
        loss = cosine_loss(self.predictor(u), i_t) + cosine_loss(self.predictor(i), u_t)
        cl = torch.zeros((), device=u.device, dtype=u.dtype)
        for m in self.modalities:
            h_on = self.predictor(h[m])
            cl = cl + cosine_loss(h_on, i_t) + cosine_loss(h_on, h_t[m])
        total = loss + self.cfg.cl_weight * cl
        if reg:
            total = total + reg * (u_all.norm() + i_all.norm()) / self.n_items
        return total, loss
