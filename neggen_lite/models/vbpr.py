"""VBPR (He & McAuley, AAAI'16, Eq. 3 there): ``x_ui = beta_i + gamma_u.gamma_i + theta_u.(E f_i) + beta'.f_i``
(``alpha`` and ``beta_u`` drop out of BPR's differences and of per-user rankings)."""
from __future__ import annotations

import torch
from torch import nn

from ..core.features import VARIANTS, FeatureError, ItemFeatures
from .base import Recommender
from .objectives import bpr


class VBPR(Recommender):
    """VBPR (He & McAuley, AAAI'16): ``x_ui = beta_i + gamma_u.gamma_i + theta_u.(E f_i) + beta'.f_i`` with
    ``E f_i = sum_m E_m f_i^m`` over the switched-on modalities (equal to one ``E`` on their concatenation).
    ``forward()`` returns ``[gamma_u, theta_u, 1]`` and ``[gamma_i, E f_i, beta_i + beta'.f_i]`` so the
    inner product is ``x_ui``. Features are fixed inputs; missing ones are zero rows (no feature term).
    ``reg`` is an L2 penalty on the batch's ``gamma``, ``theta``, ``beta_i`` and ``E f_i`` (:meth:`batch_loss`;
    default the project's 1e-4: MMRec grid-searches VBPR's ``reg_weight`` and publishes no per-dataset
    value; ``results/<dataset>/tuning/`` holds our search). ``K = K' = dim``."""

    def __init__(self, dataset, features: ItemFeatures, dim: int = 64, visual_dim: int | None = None):
        if features.n_items != dataset.n_items:
            raise FeatureError(f"features for {features.n_items} items, {dataset.name} has {dataset.n_items}")
        super().__init__(dataset.n_users, dataset.n_items, dim, embeddings=False)
        vd = visual_dim or dim
        self.modalities = features.modalities
        self.variant = VARIANTS[self.modalities]
        self.sampler_name = "uniform"
        self.gamma_u = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, dim)))
        self.theta_u = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, vd)))
        self.gamma_i = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, dim)))
        self.beta_i = nn.Parameter(torch.zeros(self.n_items))
        self.E = nn.ModuleDict()
        self.beta_f = nn.ModuleDict()
        for m in self.modalities:
            f = features.feats[m].float() * features.masks[m].unsqueeze(1)
            self.register_buffer(f"feat_{m}", f.clone(), persistent=False)
            self.E[m] = nn.Linear(f.shape[1], vd, bias=False)
            nn.init.xavier_uniform_(self.E[m].weight)
            self.beta_f[m] = nn.Linear(f.shape[1], 1, bias=False)
            nn.init.zeros_(self.beta_f[m].weight)

    def item_parts(self, items=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(E f_i [B, vd], beta_i + beta'.f_i [B])`` for ``items`` (all when ``None``)."""
        sel = (lambda t: t) if items is None else (lambda t: t[items])  # noqa: E731
        vis = sum(self.E[m](sel(getattr(self, f"feat_{m}"))) for m in self.modalities)
        bias = sel(self.beta_i) + sum(self.beta_f[m](sel(getattr(self, f"feat_{m}"))).squeeze(-1)
                                      for m in self.modalities)
        return vis, bias

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        vis, bias = self.item_parts()
        ones = torch.ones(self.n_users, 1, device=self.gamma_u.device)
        return (torch.cat([self.gamma_u, self.theta_u, ones], 1),
                torch.cat([self.gamma_i, vis, bias.unsqueeze(1)], 1))

    def ego_users(self, users):
        return torch.cat([self.gamma_u[users], self.theta_u[users]], 1)

    def ego_items(self, items):
        return torch.cat([self.gamma_i[items], self.beta_i[items].unsqueeze(1)], 1)

    def scores(self, users, items) -> torch.Tensor:
        vis, bias = self.item_parts(items)
        return ((self.gamma_u[users] * self.gamma_i[items]).sum(-1) + (self.theta_u[users] * vis).sum(-1) + bias)

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """BPR (Rendle et al.) on ``x_ui - x_uj`` plus ``reg/2`` squared L2 of the batch's ``gamma_u``,
        ``theta_u``, ``gamma_i``, ``beta_i`` and projected content ``E f_i``. VBPR regularises ``E`` with a
        weight of its own (``lambda_E``); like MMRec we put the batch's projections under the same weight,
        which keeps ``theta_u . E f_i`` from growing without bound (without it VBPR overfits below BPR)."""
        vp, bp = self.item_parts(pos)
        vn, bn = self.item_parts(neg)
        gu, tu = self.gamma_u[users], self.theta_u[users]
        x = ((gu * (self.gamma_i[pos] - self.gamma_i[neg])).sum(-1) + (tu * (vp - vn)).sum(-1) + bp - bn)
        loss = bpr(x).mean()
        if not reg:
            return loss, loss
        l2 = (self.ego_users(users).pow(2).sum() + self.ego_items(pos).pow(2).sum() + self.ego_items(neg).pow(2).sum()
              + vp.pow(2).sum() + vn.pow(2).sum()) / (2 * len(users))
        return loss + reg * l2, loss
