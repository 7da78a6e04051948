"""Pieces shared by the multi-modal baselines of Table 2 (MMGCN, BM3, DRAGON, LGMRec, DiffMM): the feature
check, per-dataset published settings, the raw and mean-normalised user-item matrices, and a differentiable
product with a fixed non-symmetric sparse matrix. FREEDOM's kNN item graph and LightGCN's propagation
are reused from :mod:`.freedom` and :mod:`.lightgcn`.

The baselines' docstrings name each paper's components and list every difference from the reference code
they were checked against. Equation numbers: MMGCN's follow a reader's notes on the paper that agree with
MMRec's code comments; for BM3, DRAGON, LGMRec and DiffMM the papers' method sections could not be read, and
their docstrings say so instead of numbering (a number quoted from a reference code's comment is marked as
such)."""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import scipy.sparse as sp
import torch

from ..core.features import VARIANTS, FeatureError, ItemFeatures
from ..core.graph import to_torch_sparse
from .base import Recommender
from .freedom import _SpMM


def published(cfg, table: dict[str, dict], dataset: str):
    """``cfg`` (a config dataclass) with the published values of ``table[dataset]``; a dataset without
    published values (or a ``<name>-<N>u`` subset of one, named by its prefix) keeps ``cfg``'s defaults."""
    name = str(dataset).split("-")[0].lower()
    keys = {f.name for f in fields(cfg)}
    return replace(cfg, **{k: v for k, v in table.get(name, {}).items() if k in keys})


def interaction_matrix(train_csr) -> sp.csr_matrix:
    """The binary user-item training matrix ``R`` ``[n_users, n_items]`` (float32)."""
    r = sp.csr_matrix(train_csr, dtype=np.float32)
    r.data[:] = 1.0
    r.sort_indices()
    return r


def mean_adjacency(train_csr) -> sp.csr_matrix:
    """``D^{-1} A`` of the bipartite graph ``A = [[0, R], [R^T, 0]]``: each node's mean over its neighbours
    (MMGCN's ``aggr='mean'`` message passing; isolated nodes get a zero row)."""
    r = interaction_matrix(train_csr)
    a = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1.0), 0.0).astype(np.float32)
    out = (sp.diags(inv) @ a).tocsr()
    out.sort_indices()
    return out


def sparse_pair(m: sp.spmatrix) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M, M^T)`` as torch CSR tensors (CPU; they follow the model through ``Recommender._sparse``)."""
    m = sp.csr_matrix(m)
    return to_torch_sparse(m, "cpu"), to_torch_sparse(m.T.tocsr(), "cpu")


def spmm(a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A @ X``, differentiable in ``X`` (backward ``A^T G``), for a fixed sparse ``A``."""
    return _SpMM.apply(a, a_t, x)


class MultiModalRecommender(Recommender):
    """A recommender on item features: checks them against the dataset, records ``modalities``/``variant``
    (``"T"``, ``"V&T"``) and keeps each modality's ``[n_items, d]`` features as a buffer ``feat_<m>`` (zero rows
    for items without it) or, with ``trainable``, as a parameter in ``self.feat`` (BM3, as MMRec)."""

    def __init__(self, dataset, features: ItemFeatures, dim: int = 64, embeddings: bool = True,
                 trainable: bool = False):
        if features.n_items != dataset.n_items:
            raise FeatureError(f"features for {features.n_items} items, {dataset.name} has {dataset.n_items}")
        super().__init__(dataset.n_users, dataset.n_items, dim, embeddings)
        self.modalities = features.modalities
        self.variant = VARIANTS[self.modalities]
        self.sampler_name = "uniform"
        self.feat = torch.nn.ParameterDict() if trainable else None
        for m in self.modalities:
            f = (features.feats[m].float() * features.masks[m].unsqueeze(1)).clone()
            if trainable:
                self.feat[m] = torch.nn.Parameter(f)
            else:
                self.register_buffer(f"feat_{m}", f, persistent=False)

    def features(self, m: str) -> torch.Tensor:
        return self.feat[m] if self.feat is not None else getattr(self, f"feat_{m}")
