"""FREEDOM (Zhou & Shen, MM'23) on the common recommender interface, with the Eq. 3 gradient probe of Sec. 2.

* **FREEDOM** (Zhou & Shen, MM'23): a *frozen* item-item kNN graph per modality (cosine, top-``k``,
  symmetric-normalised, modalities mixed with ``mm_image_weight``), *degree-sensitive edge pruning*
  of the user-item graph (re-drawn every epoch; inference uses the full graph), LightGCN on the pruned
  graph plus one item-item propagation of the item ID embeddings, and per-modality BPR terms on
  projected features: ``L = L_BPR + lambda * sum_m L_BPR^m`` (``lambda`` = the trainer's ``reg``).
* **Gradient probe** (paper Eq. 3, Fig. 3): per epoch, the mean over training triples of
  ``||dL_BPR^m / de_j^m||`` for each modality's negative representation ``e_j^m = W_m f_j^m``
  (``sigma(-(s_ui - s_uj)) * ||e_u||`` in closed form), exposed by ``pop_epoch_stats()`` and merged into
  the trainer's per-epoch history as ``neg_grad_norm_t`` / ``neg_grad_norm_v`` (``neg_grad_norm``: the
  collaborative term, as the trainer reports it for other models).
* **Direct-generation negatives** (Sec. 2.1, Fig. 2): the encoded output of the Direct Generation
  prompt for the positive item *replaces the negative item's text feature in the text BPR term*; the
  collaborative BPR term keeps the uniformly sampled item (a generated negative has no ID embedding,
  and it has no image, so the visual term keeps the sampled item too). The generated text is encoded in
  the items' own sentence form (labels dropped, :func:`neggen_lite.generation.features.plain_text`) and stays fixed. Positives without a
  generation fall back to the sampled item; the result counts both. The text term carries the weight
  ``reg`` (MMRec's 1e-4), so this is all the lever a generated negative has on FREEDOM; ``--reg`` changes
  it (such runs are kept apart: :func:`neggen_lite.results.records.modality_weight`).

FREEDOM's settings are MMRec's published ``configs/model/FREEDOM.yaml`` values, not a re-tuning:
``knn_k 10``, ``mm_image_weight 0.1``, ``n_mm_layers 1``, ``n_ui_layers 2``, ``feat_embed_dim 64``;
MMRec grid-searches ``dropout`` (pruning ratio) in ``[0.8, 0.9]`` and ``reg_weight`` in ``[0, 1e-5, 1e-4,
1e-3]``: we use ``0.8`` and ``1e-4`` for every dataset (the Baby values; the per-dataset search is not
rerun). Learning rate 1e-3, batch 2048, Adam, early stopping on valid Recall@20 come from the common
trainer (MMRec's ``overall.yaml`` has the same). MMRec's ``lambda_coeff 0.9`` is recorded but has no
effect: FREEDOM's forward pass never reads it (a LATTICE setting). As in MMRec, the raw features are
trainable (``train_features``) while the kNN graph stays frozen at the initial features.

Baby offline: 3,416 of 7,050 items have text, so the text term covers about 36 % of training triples.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..core.features import VARIANTS, FeatureError, ItemFeatures
from ..core.graph import normalized_adjacency, sparse_dense_mm, to_torch_sparse
from .base import Recommender
from .lightgcn import layer_mean
from .objectives import bpr, neg_grad_norm, probe_key, score_gap

#: MMRec's published FREEDOM ``reg_weight``: the weight of FREEDOM's per-modality BPR terms (the trainer's
#: ``reg``); a FREEDOM run with another weight is no Table 1/2 row (:func:`neggen_lite.results.records.table_row`)
FREEDOM_REG_WEIGHT = 1e-4
#: MMRec's ``n_ui_layers``: LightGCN layers over FREEDOM's user-item graph (the trainer's ``n_layers``)
N_UI_LAYERS = 2


def knn_graph(feats, k: int, mask=None, block: int = 2048) -> sp.csr_matrix:
    """FREEDOM's binary kNN item-item graph: row ``i`` has 1 at the ``k`` items most cosine-similar to
    ``i`` (``i`` itself included, its similarity being maximal, as in FREEDOM/LATTICE). Items with
    ``mask`` False have an empty row and are nobody's neighbour."""
    x = torch.as_tensor(np.asarray(feats, dtype=np.float32))
    n = x.shape[0]
    valid = torch.ones(n, dtype=torch.bool) if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool))
    keff = min(int(k), int(valid.sum()))
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows, cols = [], []
    if keff > 0:
        unit = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        vidx = torch.nonzero(valid).flatten()
        col_pen = torch.where(valid, 0.0, float("-inf"))
        for start in range(0, len(vidx), block):
            r = vidx[start:start + block]
            sim = unit[r] @ unit.T + col_pen
            top = torch.topk(sim, keff, dim=1).indices
            rows.append(r.repeat_interleave(keff))
            cols.append(top.flatten())
    r = torch.cat(rows).numpy() if rows else np.zeros(0, dtype=np.int64)
    c = torch.cat(cols).numpy() if cols else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, n))


def sym_normalize(s: sp.spmatrix) -> sp.csr_matrix:
    """``D^{-1/2} S D^{-1/2}`` with ``D`` the row degrees of ``S`` (FREEDOM's normalised item graph; every
    kNN row has degree ``k``, so each edge weighs ``1/k``)."""
    s = sp.csr_matrix(s, dtype=np.float32)
    deg = np.asarray(s.sum(axis=1)).ravel()
    inv = np.where(deg > 0, deg, 1.0) ** -0.5
    d = sp.diags(inv.astype(np.float32))
    out = (d @ s @ d).tocsr()
    out.sort_indices()
    return out


def item_item_graph(features: ItemFeatures, k: int = 10, mm_image_weight: float = 0.1) -> sp.csr_matrix:
    """FREEDOM's frozen item-item graph: normalised kNN graph per modality, mixed as
    ``w S_v + (1 - w) S_t`` (``w = mm_image_weight``) when both are present."""
    graphs = {m: sym_normalize(knn_graph(features.feats[m].numpy(), k, features.masks[m].numpy()))
              for m in features.modalities}
    if set(graphs) == {"v", "t"}:
        return (mm_image_weight * graphs["v"] + (1.0 - mm_image_weight) * graphs["t"]).tocsr()
    return next(iter(graphs.values()))


def edge_keep_weights(train_csr: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training edges ``(users, items)`` and FREEDOM's sampling weights ``1 / sqrt(d_u d_i)``."""
    m = sp.csr_matrix(train_csr)
    users = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    items = m.indices.astype(np.int64)
    du = np.diff(m.indptr).astype(np.float64)
    di = np.bincount(items, minlength=m.shape[1]).astype(np.float64)
    return users, items, 1.0 / np.sqrt(du[users] * di[items])


def degree_sensitive_pruning(weights: torch.Tensor, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """FREEDOM's denoising: the indices of ``int((1 - ratio) |E|)`` edges kept, drawn without replacement
    with probability proportional to ``weights`` (``1 / sqrt(d_u d_i)``: edges between high-degree nodes are
    pruned first), on the device of ``weights`` and ``generator``."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    n_keep = int(len(weights) * (1.0 - ratio))
    if ratio == 0.0 or n_keep >= len(weights):
        return torch.arange(len(weights), device=weights.device)
    return torch.multinomial(weights, n_keep, replacement=False, generator=generator)


def edge_adjacency(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int) -> torch.Tensor:
    """Eq. 6's normalised bipartite adjacency of the edges ``(users, items)``, built on their device (sparse
    CSR, float32): entry ``(u, i)`` and ``(i, u)`` is ``1 / sqrt(d_u d_i)`` with the degrees of these edges."""
    du = torch.bincount(users, minlength=n_users).to(torch.float32)
    di = torch.bincount(items, minlength=n_items).to(torch.float32)
    w = du[users].pow(-0.5) * di[items].pow(-0.5)
    rows = torch.cat([users, items + n_users])
    cols = torch.cat([items + n_users, users])
    n = n_users + n_items
    coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.cat([w, w]), (n, n), check_invariants=False)
    with warnings.catch_warnings():  # "CSR support is in beta": CSR @ dense is what we use, and it is tested
        warnings.simplefilter("ignore", UserWarning)
        return coo.coalesce().to_sparse_csr()


class _SpMM(torch.autograd.Function):
    """``A @ X`` for a fixed (not necessarily symmetric) sparse ``A``; backward ``A^T G``."""

    @staticmethod
    def forward(ctx, a, a_t, x):
        ctx.a_t = a_t
        return sparse_dense_mm(a, x)

    @staticmethod
    def backward(ctx, grad):
        return None, None, sparse_dense_mm(ctx.a_t, grad)


@dataclass
class FreedomConfig:
    """FREEDOM's settings (MMRec ``FREEDOM.yaml``; see the module docstring). The modality-BPR weight is
    the trainer's ``reg`` (MMRec's ``reg_weight``, 1e-4)."""

    knn_k: int = 10
    mm_image_weight: float = 0.1
    dropout: float = 0.8
    n_mm_layers: int = 1
    feat_embed_dim: int = 64
    lambda_coeff: float = 0.9
    train_features: bool = True
    probe: bool = True


class FREEDOM(Recommender):
    """FREEDOM (Zhou & Shen, MM'23) through the common trainer: ``forward()`` -> final embeddings on the
    full user-item graph (inference); ``batch_loss`` trains on this epoch's pruned graph.

    ``generated``: optional ``(features [n_items, d_t], mask [n_items])`` -- for each *positive* item, the
    encoded Direct Generation negative that replaces the negative's text feature in the text BPR term.
    """

    _sparse = ("full_adj", "mm_adj", "mm_adj_t", "_masked_adj", "_edges")

    def __init__(self, dataset, features: ItemFeatures, cfg: FreedomConfig | None = None, dim: int = 64,
                 n_layers: int = N_UI_LAYERS, seed: int = 0, generated: tuple[np.ndarray, np.ndarray] | None = None):
        if features.n_items != dataset.n_items:
            raise FeatureError(f"features for {features.n_items} items, {dataset.name} has {dataset.n_items}")
        super().__init__(dataset.n_users, dataset.n_items, dim)
        cfg = cfg or FreedomConfig()
        self.cfg, self.seed = cfg, int(seed)
        self.n_layers = n_layers
        self.modalities = features.modalities
        self.variant = VARIANTS[self.modalities]
        self.sampler_name = "direct" if generated is not None else "uniform"
        self.n_train = len(dataset.train)
        self.full_adj = normalized_adjacency(dataset.train_csr, "cpu")
        users, items, w = edge_keep_weights(dataset.train_csr)  # the pruning's edges, moved with the model
        self._edges = torch.from_numpy(np.stack([users, items]))
        self.register_buffer("edge_weights", torch.from_numpy(w), persistent=False)
        s = item_item_graph(features, cfg.knn_k, cfg.mm_image_weight)
        self.mm_adj, self.mm_adj_t = to_torch_sparse(s, "cpu"), to_torch_sparse(s.T.tocsr(), "cpu")
        self.feat = nn.ParameterDict() if cfg.train_features else None
        self.proj = nn.ModuleDict()
        for m in self.modalities:
            f = features.feats[m].float().clone()
            if cfg.train_features:
                self.feat[m] = nn.Parameter(f)
            else:
                self.register_buffer(f"feat_{m}", f, persistent=False)
            self.register_buffer(f"mask_{m}", features.masks[m].clone(), persistent=False)
            self.proj[m] = nn.Linear(f.shape[1], cfg.feat_embed_dim)
        if generated is not None:
            if "t" not in self.modalities:
                raise ValueError("direct-generation negatives are text: they need the textual modality")
            g, gm = (torch.as_tensor(np.asarray(x)) for x in generated)
            if g.shape != features.feats["t"].shape or gm.shape != (self.n_items,):
                raise FeatureError(f"generated features {tuple(g.shape)} / mask {tuple(gm.shape)} do not match "
                                   f"the text features {tuple(features.feats['t'].shape)}")
            self.register_buffer("gen_t", g.float(), persistent=False)
            self.register_buffer("gen_mask", gm.bool(), persistent=False)
        self.has_generated = generated is not None
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))  # pruning draws: one per epoch
        self._masked_adj = None
        self._seen = 0
        self._stats: dict[str, torch.Tensor] = {}

    def features(self, m: str) -> torch.Tensor:
        return self.feat[m] if self.feat is not None else getattr(self, f"feat_{m}")

    def modality_mask(self, m: str) -> torch.Tensor:
        return getattr(self, f"mask_{m}")

    # graphs ------------------------------------------------------------------------------
    def pruned_adjacency(self, epoch: int) -> torch.Tensor:
        """Normalised adjacency of the degree-sensitively pruned graph of ``epoch`` (seeded per epoch, so
        a resumed run redraws the same graphs)."""
        g = torch.Generator(device=self.edge_weights.device).manual_seed(self.seed * 1_000_003 + int(epoch))
        keep = degree_sensitive_pruning(self.edge_weights, self.cfg.dropout, g)
        return edge_adjacency(self._edges[0, keep], self._edges[1, keep], self.n_users, self.n_items)

    def _new_batch(self, n: int) -> None:
        """Count training triples; the first batch of each epoch draws that epoch's pruned graph."""
        if self._seen == 0:
            self.epoch += 1
            self._masked_adj = self.pruned_adjacency(int(self.epoch))
        self._seen += n
        if self._seen >= self.n_train:
            self._seen = 0

    def propagate(self, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN over ``adj`` (mean of layers 0..L) plus ``h = S^{n_mm} e_item`` on the item side."""
        h = self.item_emb
        for _ in range(self.cfg.n_mm_layers):
            h = _SpMM.apply(self.mm_adj, self.mm_adj_t, h)
        users, items = layer_mean(adj, self.user_emb, self.item_emb, self.n_layers)
        return users, items + h

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.full_adj)

    # training ----------------------------------------------------------------------------
    def modality_terms(self, e_u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, m: str):
        """Per-triple BPR loss of modality ``m`` ``[B]``, the negative representation ``e_j^m`` ``[B, d]``
        (a graph node, for the probe), the triples it applies to, which used a generated negative, and
        the score gap ``e_u^T(e_i^m - e_j^m)``."""
        f, w = self.features(m), self.proj[m]
        mask = self.modality_mask(m)
        e_pos = w(f[pos])
        neg_raw, neg_has = f[neg], mask[neg]
        used_gen = torch.zeros_like(neg_has)
        if m == "t" and self.has_generated:
            used_gen = self.gen_mask[pos]
            neg_raw = torch.where(used_gen.unsqueeze(1), self.gen_t[pos], neg_raw)
            neg_has = neg_has | used_gen
        e_neg = w(neg_raw)
        gap = score_gap(e_u, e_pos, e_neg)
        return bpr(gap), e_neg, mask[pos] & neg_has, used_gen, gap

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``L_BPR + reg * sum_m L_BPR^m`` (Eq. 2 per term) on this epoch's pruned graph; returns
        ``(total, L_BPR)``. ``L_BPR^m`` averages over the triples whose positive and negative both have
        modality ``m``. The probe's sums stay on the device until :meth:`pop_epoch_stats`."""
        self._new_batch(len(users))
        ue, ie = self.propagate(self._masked_adj)
        e_u = ue[users]
        gap_id = score_gap(e_u, ie[pos], ie[neg])
        loss_id = bpr(gap_id).mean()
        total = loss_id
        probe = self.cfg.probe and torch.is_grad_enabled()
        n = len(users)
        if probe:
            with torch.no_grad():
                self._acc(probe_key("id"), neg_grad_norm(gap_id, e_u).sum(), n)
                self._acc("score_gap", gap_id.sum(), n)
        for m in self.modalities:
            loss, _, ok, used_gen, gap = self.modality_terms(e_u, pos, neg, m)
            k = ok.sum()
            term = (loss * ok).sum() / k.clamp_min(1)
            total = total + reg * term
            if probe:
                with torch.no_grad():  # Eq. 3 per triple, over the triples the term applies to
                    self._acc(probe_key(m), torch.where(ok, neg_grad_norm(gap, e_u), 0.0).sum(), k)
                    self._acc(f"bpr_{m}", term.double() * k, k)
                    self._acc(f"score_gap_{m}", (gap * ok).sum(), k)
                    self._acc(f"used_{m}", k, n)
                    if m == "t" and self.has_generated:
                        self._acc("generated_share_t", (used_gen & ok).sum(), n)
        return total, loss_id

    def _acc(self, key: str, value: torch.Tensor, count) -> None:
        """Add ``value`` and ``count`` to ``key``'s running sums (float64, on the model's device: no host sync)."""
        s = self._stats.get(key)
        pair = torch.stack([torch.as_tensor(value).double(), torch.as_tensor(count).double().to(value.device)])
        self._stats[key] = pair if s is None else s + pair

    def pop_epoch_stats(self) -> dict[str, float]:
        """Means since the last call, then reset: ``neg_grad_norm`` / ``neg_grad_norm_<m>`` (Eq. 3 per
        triple, collaborative term / modality ``m``; the first has the trainer's own definition),
        ``score_gap`` / ``score_gap_<m>`` (``e_u^T(e_i - e_j)``), ``bpr_<m>``, ``used_<m>`` (share of triples
        the modality term applied to) and, with generated negatives, ``generated_share_t``."""
        sums = {k: v.tolist() for k, v in sorted(self._stats.items())}  # one host transfer per key and epoch
        out = {k: (v / c if c else float("nan")) for k, (v, c) in sums.items() if c or not k.startswith("neg_grad")}
        self._stats = {}
        return out
