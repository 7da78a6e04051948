"""Multi-modal recommenders VBPR and FREEDOM, item feature files, and the study of the paper's Sec. 2.

* **Features** (MMRec format): ``text_feat.npy`` / ``image_feat.npy``, one row per item id.
  :func:`text_features` rebuilds the textual one the way MMRec does -- all-MiniLM-L6-v2 (Sentence-BERT)
  embedding of ``title + brand + categories + description`` joined by spaces -- from the attributes we
  have (Sports: model-derived keywords, a weak textual modality). Items without any text get a **zero
  row and ``mask = False``**, never an encoded empty string: FREEDOM leaves them out of the text kNN graph
  and of the text BPR term; in VBPR their feature term is zero. **Offline there are no image features**
  for any dataset (``data/README.md``): the visual modality needs MMRec's ``image_feat.npy`` via
  ``features_dir`` and is never filled with anything else. :func:`read_feature_file` validates a
  supplied file's shape against the dataset.
* **VBPR** (He & McAuley, AAAI'16, Eq. 3 there): ``x_ui = beta_i + gamma_u.gamma_i + theta_u.(E f_i) +
  beta'.f_i`` (``alpha`` and ``beta_u`` drop out of BPR's differences and of per-user rankings).
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
  the items' own sentence form (labels dropped, :func:`plain_text`) and stays fixed. Positives without a
  generation fall back to the sampled item; the result counts both. The text term carries the weight
  ``reg`` (MMRec's 1e-4), so this is all the lever a generated negative has on FREEDOM; ``--reg`` changes
  it (such runs are kept apart: :func:`neggen_lite.results.modality_weight`).

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

import argparse
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from .data import DataError
from .encoding import DEFAULT_ENCODER
from .graph import normalized_adjacency_scipy, propagate, to_torch_sparse
from .results import PAPER_TABLE1  # Table 1 of the paper (FREEDOM with varying modalities)

MODALITIES = ("v", "t")
MODALITY_NAMES = {"v": "visual", "t": "textual"}
FEATURE_FILES = {"v": "image_feat.npy", "t": "text_feat.npy"}
#: Table 1 / Table 4 names of the modality variants.
VARIANTS = {("v", "t"): "V&T", ("t",): "T", ("v",): "V"}
MODELS = ("freedom", "vbpr")
PAPER_DIRECT_GENERATOR = "meta-llama/Llama-3.2-11B-Vision-Instruct"
#: the offline Direct Generation model and its precision: Qwen2.5-Coder-0.5B in bf16 does a Baby item in about
#: 2 s on a 2-core CPU; the 1.5B took 30 s in fp32 (a shipped 16-item cache of it remains for comparison)
OFFLINE_DIRECT_GENERATOR = "qwen2.5-coder-0.5b"
OFFLINE_DIRECT_DTYPE = "bfloat16"



class MultimodalError(DataError):
    """Features or generations a multi-modal run needs are missing or malformed (message says which)."""


class FeatureError(MultimodalError):
    """A feature file is missing, unreadable, or does not match the dataset."""


class MissingModality(MultimodalError):
    """A requested modality has no features for this dataset (offline: always the visual one)."""


class MissingGenerations(MultimodalError):
    """No Direct Generation cache for the dataset."""


def normalize_modalities(modalities) -> tuple[str, ...]:
    """``"t"``, ``"vt"``, ``"v,t"``, ``("t", "v")`` ... -> canonical ``("v", "t")`` order; validated."""
    if isinstance(modalities, str):
        modalities = [c for c in modalities.replace(",", "").replace("&", "").replace("+", "").lower()]
    mods = tuple(m.lower() for m in modalities)
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods or len(set(mods)) != len(mods):
        from .safety import SettingsError

        raise SettingsError(f"--modalities: modalities must be a non-empty subset of {MODALITIES} (e.g. 't', 'v', "
                            f"'vt'), got {modalities!r}")
    return tuple(m for m in MODALITIES if m in mods)


# --------------------------------------------------------------------------------------------
# item features


@dataclass
class ItemFeatures:
    """Per modality: ``feats[m]`` ``[n_items, d_m]`` float32, ``masks[m]`` ``[n_items]`` bool (False = the
    item has no such feature; its row is zero), ``sources[m]`` (where the features came from)."""

    feats: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for m, f in self.feats.items():
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}")
            if f.dim() != 2 or self.masks[m].shape != (f.shape[0],):
                raise ValueError(f"modality {m}: features {tuple(f.shape)} / mask {tuple(self.masks[m].shape)}")
        if len({f.shape[0] for f in self.feats.values()}) > 1:
            raise ValueError("modalities disagree on the number of items")

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.feats)

    @property
    def n_items(self) -> int:
        return next(iter(self.feats.values())).shape[0]

    def select(self, modalities) -> "ItemFeatures":
        mods = normalize_modalities(modalities)
        missing = [m for m in mods if m not in self.feats]
        if missing:
            raise MissingModality(f"no {', '.join(MODALITY_NAMES[m] for m in missing)} features loaded "
                                  f"(have {self.modalities or 'none'})")
        return ItemFeatures({m: self.feats[m] for m in mods}, {m: self.masks[m] for m in mods},
                            {m: self.sources.get(m, "") for m in mods})

    def summary(self) -> dict:
        return {m: {"dim": int(self.feats[m].shape[1]), "items_with_feature": int(self.masks[m].sum()),
                    "items": self.n_items, "source": self.sources.get(m, "")} for m in self.modalities}


def mmrec_sentence(attrs) -> str | None:
    """MMRec's text for one item: ``title brand categories description`` joined by spaces (its
    ``preprocessing/3feat-encoder``), plus Sports' model-derived keywords; ``None`` without any text."""
    if attrs is None:
        return None
    parts = [attrs.title, attrs.brand, *attrs.categories, attrs.description, attrs.keywords]
    text = " ".join(p for p in parts if p).replace("\n", " ").strip()
    return text or None


def text_features(ds, encoder=DEFAULT_ENCODER, device=None, progress: bool = False,
                  cache_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(features [n_items, d], mask [n_items])``: the MMRec sentence of every item with text encoded
    (cached on disk); items without text get a zero row and ``mask`` False. ``encoder``: a name or an
    object with ``encode``."""
    from .attributes import item_attributes
    from .encoding import encode_cached

    texts = [mmrec_sentence(a) for a in item_attributes(ds)]
    idx = [i for i, t in enumerate(texts) if t]
    if not idx:
        raise MissingModality(f"{ds.name} has no item text offline (see data/README.md), so no textual "
                              f"features can be built; supply MMRec's {FEATURE_FILES['t']} via features_dir")
    name = encoder if isinstance(encoder, str) else getattr(encoder, "name", type(encoder).__name__)
    enc = None if isinstance(encoder, str) else encoder  # loaded by encode_cached only on a cache miss
    emb = encode_cached(f"{ds.name}-mmrec-text", [texts[i] for i in idx], name, device, progress=progress,
                        cache_dir=cache_dir, encoder=enc)
    out = np.zeros((ds.n_items, emb.shape[1]), dtype=np.float32)
    out[idx] = emb
    mask = np.zeros(ds.n_items, dtype=bool)
    mask[idx] = True
    return out, mask


def read_feature_file(path, n_items: int, dataset: str = "the dataset") -> np.ndarray:
    """Load an MMRec feature file (``.npy``, ``[n_items, d]``, rows in itemID order) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"{path}: feature file not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FeatureError(f"{path}: cannot read as a .npy array: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != n_items or arr.shape[1] == 0:
        raise FeatureError(f"{path}: shape {tuple(arr.shape)}, expected ({n_items}, d): one row per item of "
                           f"{dataset} ({n_items} items), in itemID order")
    if not np.issubdtype(arr.dtype, np.number):
        raise FeatureError(f"{path}: dtype {arr.dtype}, expected a numeric array")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise FeatureError(f"{path}: row {bad[0]} (itemID {bad[0]}) has non-finite values "
                           f"({len(bad)} such rows)")
    return arr.astype(np.float32, copy=False)


def available_modalities(ds, features_dir=None) -> tuple[str, ...]:
    """Modalities that have features for ``ds``: a supplied file, or (text only) item text offline."""
    from .attributes import item_attributes

    out = []
    for m in MODALITIES:
        if features_dir is not None and (Path(features_dir) / FEATURE_FILES[m]).is_file():
            out.append(m)
        elif m == "t" and any(a is not None for a in item_attributes(ds)):
            out.append(m)
    return tuple(out)


def missing_modality_message(ds_name: str, modality: str) -> str:
    if modality == "v":
        return (f"{ds_name}: no visual features. Offline there is no visual signal for any dataset (no "
                f"image_feat.npy, images or captions; data/README.md, caveat 1). Supply MMRec's "
                f"{FEATURE_FILES['v']} (4096-d CNN features of the 2014 Amazon images) with --features-dir DIR.")
    return (f"{ds_name}: no textual features: the dataset has no item text offline; supply MMRec's "
            f"{FEATURE_FILES['t']} with --features-dir DIR.")


def load_features(ds, modalities=None, features_dir=None, encoder=DEFAULT_ENCODER, device=None,
                  progress: bool = False) -> ItemFeatures:
    """Features of ``modalities`` (default: all available) for ``ds``: MMRec files from ``features_dir``
    where present (validated), else text rebuilt from the attributes; a modality with neither raises
    :class:`MissingModality`. A supplied file's all-zero rows count as missing (``mask`` False)."""
    mods = normalize_modalities(modalities) if modalities is not None else available_modalities(ds, features_dir)
    if not mods:
        raise MissingModality(missing_modality_message(ds.name, "t") + " " + missing_modality_message(ds.name, "v"))
    feats, masks, sources = {}, {}, {}
    for m in mods:
        path = Path(features_dir) / FEATURE_FILES[m] if features_dir is not None else None
        if path is not None and path.is_file():
            arr = read_feature_file(path, ds.n_items, ds.name)
            feats[m], masks[m], sources[m] = arr, np.abs(arr).sum(1) > 0, str(path)
        elif m == "t":
            feats[m], masks[m] = text_features(ds, encoder, device, progress)
            fields = "title brand categories description" + (" keywords" if "keywords" in ds.side else "")
            enc_name = encoder if isinstance(encoder, str) else "custom encoder"
            sources[m] = f"rebuilt offline: MMRec sentence ({fields}) encoded by {enc_name}"
        else:
            raise MissingModality(missing_modality_message(ds.name, m))
    return ItemFeatures({m: torch.from_numpy(np.ascontiguousarray(f)) for m, f in feats.items()},
                        {m: torch.from_numpy(np.asarray(k, dtype=bool)) for m, k in masks.items()}, sources)


# --------------------------------------------------------------------------------------------
# FREEDOM's two graphs


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


def degree_sensitive_pruning(train_csr: sp.spmatrix, ratio: float, generator: torch.Generator) -> sp.csr_matrix:
    """FREEDOM's denoising: keep ``int((1 - ratio) |E|)`` edges, drawn without replacement with
    probability proportional to ``1 / sqrt(d_u d_i)`` (edges between high-degree nodes are pruned
    first); returns the kept user x item matrix (values 1)."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    users, items, w = edge_keep_weights(train_csr)
    n_keep = int(len(users) * (1.0 - ratio))
    if ratio == 0.0 or n_keep >= len(users):
        keep = np.arange(len(users))
    else:
        keep = torch.multinomial(torch.from_numpy(w), n_keep, replacement=False, generator=generator).numpy()
    shape = train_csr.shape
    return sp.csr_matrix((np.ones(len(keep), dtype=np.float32), (users[keep], items[keep])), shape=shape)


class _SpMM(torch.autograd.Function):
    """``A @ X`` for a fixed (not necessarily symmetric) sparse ``A``; backward ``A^T G``."""

    @staticmethod
    def forward(ctx, a, a_t, x):
        ctx.a_t = a_t
        return a @ x

    @staticmethod
    def backward(ctx, grad):
        return None, None, ctx.a_t @ grad


# --------------------------------------------------------------------------------------------
# models


def probe_key(m: str) -> str:
    """History key of the Eq. 3 probe: ``neg_grad_norm`` (collaborative term, ``m="id"``, as the trainer
    names it) or ``neg_grad_norm_<m>``."""
    return "neg_grad_norm" if m == "id" else f"neg_grad_norm_{m}"


def _probe_line(h: dict, fmt: str = ".4f") -> str:
    return " ".join(f"{m}={h[probe_key(m)]:{fmt}}" for m in ("id", "v", "t") if probe_key(m) in h)


class _GraphHolder(nn.Module):
    """Keeps non-parameter sparse tensors (listed in ``_sparse``) on the module's device."""

    _sparse: tuple[str, ...] = ()

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        for name in self._sparse:
            if getattr(self, name, None) is not None:
                setattr(self, name, fn(getattr(self, name)))
        return out


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


class FREEDOM(_GraphHolder):
    """FREEDOM (Zhou & Shen, MM'23) through the common trainer: ``forward()`` -> final embeddings on the
    full user-item graph (inference); ``batch_loss`` trains on this epoch's pruned graph.

    ``generated``: optional ``(features [n_items, d_t], mask [n_items])`` -- for each *positive* item, the
    encoded Direct Generation negative that replaces the negative's text feature in the text BPR term.
    """

    _sparse = ("full_adj", "mm_adj", "mm_adj_t", "_masked_adj")

    def __init__(self, dataset, features: ItemFeatures, cfg: FreedomConfig | None = None, dim: int = 64,
                 n_layers: int = 2, seed: int = 0, generated: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        cfg = cfg or FreedomConfig()
        if features.n_items != dataset.n_items:
            raise FeatureError(f"features for {features.n_items} items, {dataset.name} has {dataset.n_items}")
        self.cfg, self.seed = cfg, int(seed)
        self.n_users, self.n_items, self.dim, self.n_layers = dataset.n_users, dataset.n_items, dim, n_layers
        self.modalities = features.modalities
        self.variant = VARIANTS[self.modalities]
        self.sampler_name = "direct" if generated is not None else "uniform"
        self.user_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, dim)))
        self.item_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, dim)))
        self.train_csr = dataset.train_csr
        self.n_train = len(dataset.train)
        self.full_adj = to_torch_sparse(normalized_adjacency_scipy(self.train_csr), "cpu")
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
        self._stats: dict[str, list[float]] = {}

    def features(self, m: str) -> torch.Tensor:
        return self.feat[m] if self.feat is not None else getattr(self, f"feat_{m}")

    def modality_mask(self, m: str) -> torch.Tensor:
        return getattr(self, f"mask_{m}")

    # graphs ------------------------------------------------------------------------------
    def pruned_adjacency(self, epoch: int) -> torch.Tensor:
        """Normalised adjacency of the degree-sensitively pruned graph of ``epoch`` (seeded per epoch, so
        a resumed run redraws the same graphs)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(epoch))
        kept = degree_sensitive_pruning(self.train_csr, self.cfg.dropout, g)
        return to_torch_sparse(normalized_adjacency_scipy(kept), self.user_emb.device)

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
        x = torch.cat([self.user_emb, self.item_emb], dim=0)
        acc = x
        for _ in range(self.n_layers):
            x = propagate(adj, x)
            acc = acc + x
        out = acc / (self.n_layers + 1)
        return out[: self.n_users], out[self.n_users:] + h

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.full_adj)

    def ego_users(self, users):
        return self.user_emb[users]

    def ego_items(self, items):
        return self.item_emb[items]

    @torch.no_grad()
    def score(self, users, items=None):
        u, i = self.forward()
        return u[users] @ (i if items is None else i[items]).T

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
        gap = (e_u * (e_pos - e_neg)).sum(-1)
        return -F.logsigmoid(gap), e_neg, mask[pos] & neg_has, used_gen, gap

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``L_BPR + reg * sum_m L_BPR^m`` on this epoch's pruned graph; returns ``(total, L_BPR)``.
        ``L_BPR^m`` averages over the triples whose positive and negative both have modality ``m``."""
        self._new_batch(len(users))
        ue, ie = self.propagate(self._masked_adj)
        e_u, e_neg_id = ue[users], ie[neg]
        gap_id = (e_u * (ie[pos] - e_neg_id)).sum(-1)
        per_id = -F.logsigmoid(gap_id)
        bpr = per_id.mean()
        total = bpr
        probe = self.cfg.probe and torch.is_grad_enabled()
        if probe:
            self._probe("id", per_id, e_neg_id, torch.ones_like(per_id, dtype=torch.bool))
            self._acc("score_gap", float(gap_id.detach().sum()), len(users))
        for m in self.modalities:
            loss, e_neg, ok, used_gen, gap = self.modality_terms(e_u, pos, neg, m)
            k = ok.sum()
            term = (loss * ok).sum() / k.clamp_min(1)
            total = total + reg * term
            if probe:
                self._probe(m, loss, e_neg, ok)
                self._acc(f"bpr_{m}", float(term.detach()) * float(k), float(k))
                self._acc(f"score_gap_{m}", float((gap.detach() * ok).sum()), float(k))
                self._acc(f"used_{m}", float(k), len(users))
                if m == "t" and self.has_generated:
                    self._acc("generated_share_t", float((used_gen & ok).sum()), len(users))
        return total, bpr

    def _acc(self, key: str, value: float, count: float) -> None:
        s = self._stats.setdefault(key, [0.0, 0.0])
        s[0] += value
        s[1] += count

    def _probe(self, m: str, per_triple: torch.Tensor, e_neg: torch.Tensor, ok: torch.Tensor) -> None:
        """Eq. 3: per-triple ``||d loss_t / d e_j||`` (autograd; the loss is per triple, not the batch
        mean), summed over the triples in ``ok``."""
        if not e_neg.requires_grad or not bool(ok.any()):
            return
        (g,) = torch.autograd.grad((per_triple * ok).sum(), e_neg, retain_graph=True)
        self._acc(probe_key(m), float(g.norm(dim=1)[ok].sum()), float(ok.sum()))

    def pop_epoch_stats(self) -> dict[str, float]:
        """Means since the last call, then reset: ``neg_grad_norm`` / ``neg_grad_norm_<m>`` (Eq. 3 per
        triple, collaborative term / modality ``m``; the first has the trainer's own definition),
        ``score_gap`` / ``score_gap_<m>`` (``e_u^T(e_i - e_j)``), ``bpr_<m>``, ``used_<m>`` (share of triples
        the modality term applied to) and, with generated negatives, ``generated_share_t``."""
        out = {k: (v / c if c else float("nan")) for k, (v, c) in sorted(self._stats.items())}
        self._stats = {}
        return out


class VBPR(_GraphHolder):
    """VBPR (He & McAuley, AAAI'16): ``x_ui = beta_i + gamma_u.gamma_i + theta_u.(E f_i) + beta'.f_i`` with
    ``E f_i = sum_m E_m f_i^m`` over the switched-on modalities (equal to one ``E`` on their concatenation).
    ``forward()`` returns ``[gamma_u, theta_u, 1]`` and ``[gamma_i, E f_i, beta_i + beta'.f_i]`` so the
    inner product is ``x_ui``. Features are fixed inputs; missing ones are zero rows (no feature term).
    ``reg`` is an L2 penalty on the batch's ``gamma``, ``theta``, ``beta_i`` and ``E f_i`` (:meth:`batch_loss`;
    default the project's 1e-4: MMRec grid-searches VBPR's ``reg_weight`` and publishes no per-dataset
    value; ``results/<dataset>/tuning/`` holds our search). ``K = K' = dim``."""

    def __init__(self, dataset, features: ItemFeatures, dim: int = 64, visual_dim: int | None = None):
        super().__init__()
        if features.n_items != dataset.n_items:
            raise FeatureError(f"features for {features.n_items} items, {dataset.name} has {dataset.n_items}")
        self.n_users, self.n_items, self.dim = dataset.n_users, dataset.n_items, dim
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

    @torch.no_grad()
    def score(self, users, items=None):
        u, i = self.forward()
        return u[users] @ (i if items is None else i[items]).T

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """BPR (Rendle et al.) on ``x_ui - x_uj`` plus ``reg/2`` squared L2 of the batch's ``gamma_u``,
        ``theta_u``, ``gamma_i``, ``beta_i`` and projected content ``E f_i``. VBPR regularises ``E`` with a
        weight of its own (``lambda_E``); like MMRec we put the batch's projections under the same weight,
        which keeps ``theta_u . E f_i`` from growing without bound (without it VBPR overfits below BPR)."""
        vp, bp = self.item_parts(pos)
        vn, bn = self.item_parts(neg)
        gu, tu = self.gamma_u[users], self.theta_u[users]
        x = ((gu * (self.gamma_i[pos] - self.gamma_i[neg])).sum(-1) + (tu * (vp - vn)).sum(-1) + bp - bn)
        bpr = -F.logsigmoid(x).mean()
        if not reg:
            return bpr, bpr
        l2 = (self.ego_users(users).pow(2).sum() + self.ego_items(pos).pow(2).sum() + self.ego_items(neg).pow(2).sum()
              + vp.pow(2).sum() + vn.pow(2).sum()) / (2 * len(users))
        return bpr + reg * l2, bpr


# --------------------------------------------------------------------------------------------
# direct-generation negatives (Sec. 2.1)


def generate_command(ds_name: str, generator: str | None = None) -> str:
    if generator in (None, "auto", OFFLINE_DIRECT_GENERATOR):
        return (f"python -m neggen_lite generate --dataset {ds_name} --direct --generator {OFFLINE_DIRECT_GENERATOR}"
                f" --dtype {OFFLINE_DIRECT_DTYPE} --batch-size 16")
    return f"python -m neggen_lite generate --dataset {ds_name} --direct --generator {generator}"


def default_direct_cache_name() -> str:
    """The cache name :func:`generate_command` writes by default (model name plus its precision suffix)."""
    from .generation import dtype_suffix
    from .offline_models import get as offline

    return offline(OFFLINE_DIRECT_GENERATOR).name + dtype_suffix(OFFLINE_DIRECT_DTYPE, "cpu")


def direct_cache_path(ds_name: str, generator: str = "auto") -> Path:
    """The Direct Generation cache of ``generator`` (a name, or a ``.jsonl.gz`` path) for ``ds_name``;
    ``"auto"``: the default offline generator's cache (:func:`default_direct_cache_name`) if it is there,
    else the only ``*.direct.jsonl.gz``. Raises :class:`MissingGenerations` with the command."""
    from .pipeline import default_cache_path

    if generator not in (None, "auto") and Path(generator).is_file():
        return Path(generator)
    folder = default_cache_path(ds_name, "x", direct=True).parent
    have = sorted(folder.glob("*.direct.jsonl.gz")) if folder.is_dir() else []
    if generator in (None, "auto"):
        default = folder / f"{default_direct_cache_name()}.direct.jsonl.gz"
        if default in have:
            return default
        if len(have) == 1:
            return have[0]
        if len(have) > 1:
            raise MissingGenerations(f"several Direct Generation caches for {ds_name}: "
                                     f"{[p.name for p in have]}; pick one with --generator")
        path = folder / "<generator>.direct.jsonl.gz"
    else:
        from .offline_models import get as offline

        try:
            name = offline(generator).name
        except KeyError:
            name = generator
        path = default_cache_path(ds_name, name, direct=True)
        if path.exists():
            return path
    raise MissingGenerations(
        f"no Direct Generation cache for {ds_name} ({path}; found: {[p.name for p in have] or 'none'}). "
        f"Generate one with\n  {generate_command(ds_name, generator)}\n(offline model; the paper used "
        f"{PAPER_DIRECT_GENERATOR}: {generate_command(ds_name, PAPER_DIRECT_GENERATOR)} --device cuda)")


_LABELS = {"title", "brand", "categories", "description", "keywords"}


def plain_text(rendered: str) -> str:
    """A Direct Generation output (``Title: ...`` lines, the input's :meth:`ItemAttributes.render` form)
    in MMRec's sentence form -- values joined by spaces, labels dropped -- so that a generated negative
    and an item's own feature (:func:`mmrec_sentence`) are encoded from the same kind of text."""
    parts = []
    for line in str(rendered).splitlines():
        head, sep, rest = line.partition(":")
        value = rest if sep and head.strip().lower() in _LABELS else line
        if sep and head.strip().lower() == "categories":
            value = " ".join(c.strip() for c in value.split(";"))
        value = " ".join(value.split())
        if value:
            parts.append(value)
    return " ".join(parts) or str(rendered).strip()


def _check_full(ds) -> None:
    if "-" in ds.name:
        raise MissingGenerations(f"{ds.name}: direct-generation negatives need a full dataset (a subset "
                                 "re-indexes the items of the generation cache)")


def direct_negative_features(ds, generator: str = "auto", encoder=DEFAULT_ENCODER, device=None,
                             progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(features [n_items, d], mask [n_items], info)``: per positive item, the encoded output of the
    Direct Generation prompt (:func:`neggen_lite.pipeline.negatives` with ``direct=True``), in the same
    sentence form as the items' own text features (:func:`plain_text`)."""
    from .encoding import encode_cached
    from .pipeline import negatives

    _check_full(ds)
    path = direct_cache_path(ds.name, generator)
    negs = negatives(path, ds, direct=True)
    items = [i for i, r in sorted(negs.items()) if r["negative"] and str(r["negative"]).strip()]
    if not items:
        raise MissingGenerations(f"{path}: no finished Direct Generation outputs; run "
                                 f"{generate_command(ds.name, generator)}")
    name = encoder if isinstance(encoder, str) else getattr(encoder, "name", type(encoder).__name__)
    enc = None if isinstance(encoder, str) else encoder  # loaded by encode_cached only on a cache miss
    stem = path.name.replace(".jsonl.gz", "")
    emb = encode_cached(f"{ds.name}-{stem}-negative", [plain_text(negs[i]["negative"]) for i in items], name,
                        device, progress=progress, encoder=enc)
    out = np.zeros((ds.n_items, emb.shape[1]), dtype=np.float32)
    out[items] = emb
    mask = np.zeros(ds.n_items, dtype=bool)
    mask[items] = True
    info = {"cache": str(path), "generator": stem, "items_generated": len(items),
            "model_ok": sum(1 for i in items if negs[i]["status"] == "ok"),
            "model_fallback": sum(1 for i in items if negs[i]["status"] != "ok")}
    return out, mask, info


def direct_hardness(ds, generator: str = "auto", encoder=DEFAULT_ENCODER, device=None, seed: int = 0,
                    features: ItemFeatures | None = None) -> dict:
    """How close the Direct Generation negatives sit to their positives (:func:`neggen_lite.encoding.hardness`):
    mean cosine similarity between an item's text feature and the encoded generated negative, against the
    same for a uniformly drawn other item with a negative -- the uniform-sampling baseline; over the items of
    the cache, split by whether the model or the rule-based fallback wrote the negative."""
    from .encoding import hardness

    g, gm, info = direct_negative_features(ds, generator, encoder, device)
    t = (features or load_features(ds, ("t",), None, encoder, device)).select("t")
    items = np.flatnonzero(gm & t.masks["t"].numpy())
    out = {"generator": info["generator"], "items": int(len(items)),
           **hardness({"original": t.feats["t"].numpy()[items], "negative": g[items]}, seed=seed)}
    from .pipeline import negatives

    status = negatives(direct_cache_path(ds.name, generator), ds, direct=True)
    model_items = np.array([i for i in items if status[i]["status"] == "ok"], dtype=np.int64)
    if len(model_items) >= 2:
        neg = [status[i]["negative"] for i in model_items]
        out["model_written"] = {
            "items": int(len(model_items)),
            **hardness({"original": t.feats["t"].numpy()[model_items], "negative": g[model_items]}, seed=seed),
            # the prompt asks for "the same structure as the positive item": the same attribute labels
            "same_fields_share": float(np.mean([field_labels(n) == field_labels(status[i]["original"])
                                                for i, n in zip(model_items, neg)])),
            "under_3_words_share": float(np.mean([len(plain_text(n).split()) < 3 for n in neg])),
            # the validator rejects exact copies; a copy that drops the labels or changes case slips through
            "copies_share": float(np.mean([_norm(plain_text(n)) == _norm(plain_text(status[i]["original"]))
                                           for i, n in zip(model_items, neg)])),
            # a refusal ("None", "No negative attributes.") passes the validator but names no item
            "refusals_share": float(np.mean([bool(_REFUSAL.match(_norm(plain_text(n)))) for n in neg]))}
    return out


_REFUSAL = re.compile(r"^(none|n/?a|nothing|no negative( attributes?| items?)?)\W*$")


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def field_labels(rendered: str) -> list[str]:
    """The attribute labels of a rendered item (``Title: ...`` lines), in order."""
    heads = (line.partition(":")[0].strip().lower() for line in str(rendered).splitlines() if ":" in line)
    return [h for h in heads if h in _LABELS]


# --------------------------------------------------------------------------------------------
# training


def build(model: str, ds, features: ItemFeatures, cfg, freedom: FreedomConfig | None = None,
          generated=None, device=None) -> nn.Module:
    """The ``freedom`` or ``vbpr`` model for ``ds`` under the trainer config ``cfg`` (seeded first)."""
    from .utils import resolve_device, seed_everything

    seed_everything(cfg.seed)
    key = model.lower()
    if key == "freedom":
        m = FREEDOM(ds, features, freedom, cfg.dim, cfg.n_layers, seed=cfg.seed, generated=generated)
    elif key == "vbpr":
        if generated is not None:
            raise ValueError("direct-generation negatives are implemented for FREEDOM only")
        m = VBPR(ds, features, cfg.dim)
    else:
        raise ValueError(f"unknown multi-modal model {model!r}; choose one of {MODELS}")
    return m.to(resolve_device(device))


def train(ds, model: str = "freedom", modalities=None, mode: str = "full", device=None, features_dir=None,
          negatives: str = "uniform", generator: str = "auto", encoder=DEFAULT_ENCODER, seed: int | None = None,
          checkpoint=None, progress: bool = True, threads: int | None = None, features: ItemFeatures | None = None,
          freedom: FreedomConfig | None = None, log=None, **train_overrides) -> dict:
    """Train VBPR or FREEDOM through :func:`neggen_lite.train.fit`; the result record plus ``modalities``,
    ``features`` (per modality: dim, coverage, source) and ``negatives`` (where the negatives came from).

    ``modalities=None``: every modality with features; a requested one without features raises
    :class:`MissingModality`. ``negatives="direct"``: Direct Generation negatives (FREEDOM)."""
    from .train import config_for_mode, fit
    from .utils import set_threads

    set_threads(threads)
    key = model.lower()
    if negatives not in ("uniform", "direct"):
        raise ValueError(f"negatives must be 'uniform' or 'direct', got {negatives!r}")
    if negatives == "direct":  # fail before any encoding when the generations are missing
        if key != "freedom":
            raise ValueError("direct-generation negatives are implemented for FREEDOM only")
        _check_full(ds)
        direct_cache_path(ds.name, generator)
    if features is None:
        features = load_features(ds, modalities, features_dir, encoder, device, progress)
    elif modalities is not None:
        features = features.select(modalities)
    fcfg = freedom or FreedomConfig()
    if key == "freedom" and train_overrides.get("n_layers") is None:
        train_overrides["n_layers"] = 2          # FREEDOM's n_ui_layers
    if key == "vbpr" and train_overrides.get("n_layers") is None:
        train_overrides["n_layers"] = 0          # no propagation
    kwargs: dict[str, Any] = {"modalities": list(features.modalities), "negatives": negatives,
                              "features": {m: s for m, s in features.sources.items()}}
    if key == "freedom":
        kwargs["freedom"] = asdict(fcfg)
    if negatives == "direct":
        kwargs.update(generator=generator, encoder=encoder if isinstance(encoder, str) else "custom")
    cfg = config_for_mode(mode, model=key, sampler="uniform", seed=seed, model_kwargs=kwargs, **train_overrides)
    generated, neg_info = None, {"source": "uniform"}
    if negatives == "direct":
        if "t" not in features.modalities:
            raise MissingModality("direct-generation negatives are text: train with the textual modality")
        g, gm, neg_info = direct_negative_features(ds, generator, encoder, device, progress)
        generated = (g, gm)
        pos_items = ds.train[:, 1]
        neg_info.update(source="direct", share_of_train_positives=float(gm[pos_items].mean()),
                        fallback_for_the_rest="the uniformly sampled item's text feature")
    m = build(key, ds, features, cfg, fcfg, generated, device)
    res = fit(ds, cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads,
              model=m, log=log)
    res["modalities"] = list(features.modalities)
    res["features"] = features.summary()
    res["negatives"] = neg_info
    return res


def result_suffix(modalities) -> str | None:
    """File-name suffix for a modality subset: ``None`` for V&T (the paper's setting), else ``t`` / ``v``."""
    mods = normalize_modalities(modalities)
    return None if mods == MODALITIES else "".join(mods)


def cli_train(args) -> int:
    """``python -m neggen_lite train --model freedom|vbpr [--modalities t] [--features-dir DIR]
    [--sampler direct --generator G]``."""
    from . import data
    from .safety import check_writable, locked
    from .train import config_for_mode, default_out, save_result

    ds = data.load(args.dataset, args.data_root)
    if getattr(args, "subset_users", None):
        ds = ds.subset(args.subset_users, seed=0)
    fdir = getattr(args, "features_dir", None)
    avail = available_modalities(ds, fdir)
    requested = normalize_modalities(args.modalities) if getattr(args, "modalities", None) else None
    mods = requested or avail or None
    if requested is None:
        for m in MODALITIES:
            if m not in avail and avail:
                print(f"note: {missing_modality_message(ds.name, m)} Running variant {VARIANTS[mods]} "
                      "(not the paper's V&T).", file=sys.stderr)
    negatives = "direct" if args.sampler == "direct" else "uniform"
    if args.sampler not in ("uniform", "direct"):
        raise SystemExit(f"error: --sampler {args.sampler!r}: {args.model} supports 'uniform' and 'direct'")
    seed = args.seed if args.seed is not None else config_for_mode(args.mode).seed
    out = Path(args.out) if args.out else default_out(ds.name, args.model, negatives, seed, args.mode,
                                                      result_suffix(mods) if mods else None)
    ckpt = None if args.no_checkpoint else (Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt"))
    check_writable(out, "--out")
    if ckpt is not None:
        check_writable(ckpt, "--checkpoint")
    with locked(out, "result"):
        res = train(ds, args.model, mods, args.mode, args.device, fdir, negatives, args.generator, args.encoder,
                    seed, ckpt, not args.quiet, args.threads, epochs=args.epochs, patience=args.patience, lr=args.lr,
                    reg=args.reg, n_layers=args.layers, dim=args.dim, batch_size=args.batch_size)
        save_result(res, out)
    t = res["test"]
    print(f"{ds.name} {args.model}/{res['sampler']} {res['variant']} seed {seed}: best epoch {res['best_epoch']} of "
          f"{res['epochs']}, test " + " ".join(f"{k}={v:.4f}" for k, v in t.items())
          + f" ({res['seconds']:.0f}s) -> {out}")
    probe = [h for h in res["history"] if probe_key("t") in h or probe_key("v") in h]
    if probe:
        print("  mean ||dL_BPR/de_neg|| per epoch (Eq. 3): " + "; ".join(
            f"ep{h['epoch']} {_probe_line(h)}" for h in (probe if len(probe) <= 4 else probe[:3] + probe[-1:])))
    if ckpt and not args.keep_checkpoint and ckpt.exists():
        ckpt.unlink()
    return 0


# --------------------------------------------------------------------------------------------
# the Sec. 2 study: Table 1, Fig. 2, Fig. 3


def study_command(ds_name: str, features_dir: str = "DIR", generator: str | None = None, mode: str = "full") -> str:
    gen = f" --generator {generator}" if generator else ""
    return (f"python -m neggen_lite.multimodal study --dataset {ds_name} --mode {mode} "
            f"--features-dir {features_dir}{gen}")


def study(ds_name: str, mode: str = "full", seed: int | None = None, device=None, features_dir=None,
          generator: str = "auto", out_dir=None, threads: int | None = None, progress: bool = False,
          **train_overrides) -> dict:
    """Sec. 2 with FREEDOM on ``ds_name``: Table 1 (V&T, T, V), the per-epoch gradient norms of Fig. 3
    (recorded in every run's history) and Fig. 2 (uniform vs Direct Generation negatives), each run where
    its features/generations exist; prints what could not be reproduced and the command for the full
    study. Results go to ``out_dir`` (default ``results/[smoke/]<dataset>/``)."""
    from . import data
    from .train import config_for_mode, default_out, save_result

    ds = data.load(ds_name)
    seed = seed if seed is not None else config_for_mode(mode).seed
    avail = available_modalities(ds, features_dir)
    skipped, runs = [], {}

    def out_path(neg, mods):
        p = default_out(ds.name, "freedom", neg, seed, mode, result_suffix(mods))
        return Path(out_dir) / p.name if out_dir else p

    for mods in (("v", "t"), ("t",), ("v",)):
        name = VARIANTS[mods]
        if not set(mods) <= set(avail):
            miss = [m for m in mods if m not in avail]
            skipped.append(f"Table 1 row {name} (and its Fig. 3 curve): " + " ".join(
                missing_modality_message(ds.name, m) for m in miss))
            continue
        res = train(ds, "freedom", mods, mode, device, features_dir, "uniform", seed=seed, progress=progress,
                    threads=threads, **train_overrides)
        save_result(res, out_path("uniform", mods))
        runs[("uniform", name)] = res
    best_mods = ("v", "t") if set(MODALITIES) <= set(avail) else ("t",) if "t" in avail else None
    if best_mods is None:
        skipped.append("Fig. 2: needs textual features")
    else:
        try:
            res = train(ds, "freedom", best_mods, mode, device, features_dir, "direct", generator, seed=seed,
                        progress=progress, threads=threads, **train_overrides)
            save_result(res, out_path("direct", best_mods))
            runs[("direct", VARIANTS[best_mods])] = res
        except MissingGenerations as exc:
            skipped.append(f"Fig. 2 (Direct Generation negatives): {exc}")
    _print_study(ds.name, runs, skipped, features_dir, generator, mode)
    return {"runs": runs, "not_reproduced": skipped}


def _print_study(ds_name, runs, skipped, features_dir, generator, mode) -> None:
    metrics = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
    note = "" if mode == "full" else f" -- {mode} mode: a few epochs, not comparable with the paper"
    print(f"\n{ds_name}: FREEDOM, test R@10 R@20 N@10 N@20 (paper Table 1 where it has the row){note}")
    for (neg, var), res in runs.items():
        ours = " ".join(f"{res['test'][k]:.4f}" for k in metrics)
        paper = PAPER_TABLE1.get((ds_name, var)) if neg == "uniform" else None
        print(f"  {var:4s} {neg:8s} {ours}" + (f"   paper {' '.join(f'{x:.4f}' for x in paper)}" if paper else ""))
    for (neg, var), res in runs.items():
        rows = [h for h in res["history"] if probe_key("t") in h or probe_key("v") in h]
        if rows:
            print(f"  Fig. 3 ({var}, {neg}), mean per-triple ||dL_BPR/de_neg|| by epoch (id = collaborative term):")
            for h in rows:
                print(f"    epoch {h['epoch']:4d} {_probe_line(h, '.5f')}")
    if skipped:
        print("\nNot reproduced offline:")
        for s in skipped:
            print(f"  - {s}")
        print(f"Full study once the features (and a Direct Generation cache) exist:\n  "
              f"{study_command(ds_name, features_dir or 'DIR', None if generator == 'auto' else generator, mode)}")


# --------------------------------------------------------------------------------------------
# synthetic illustration (never a stand-in for the paper's numbers)


def synthetic_two_modality(n_users: int = 300, n_items: int = 200, n_clusters: int = 8, per_user: int = 12,
                           dim: int = 32, easy_noise: float = 0.3, hard_signal: float = 0.15, seed: int = 0):
    """**Synthetic** data to illustrate the gradient-imbalance mechanism of Sec. 2.2: users prefer items
    of their cluster; the "easy" modality (slot ``t``) is the cluster centroid plus small noise, the "hard"
    one (slot ``v``) is mostly noise with a weak cluster signal. Returns ``(Dataset, ItemFeatures)``; its
    numbers illustrate a mechanism and never stand in for the paper's."""
    from .data import Dataset

    rng = np.random.default_rng(seed)
    item_cluster = np.arange(n_items) % n_clusters
    splits = {0: [], 1: [], 2: []}
    for u in range(n_users):
        pool = np.flatnonzero(item_cluster == u % n_clusters)
        pool = np.concatenate([pool, rng.choice(n_items, 3, replace=False)])  # a little off-cluster taste
        items = rng.choice(np.unique(pool), per_user, replace=False)
        for j, it in enumerate(items):
            splits[1 if j == per_user - 2 else 2 if j == per_user - 1 else 0].append((u, int(it)))
    arr = {k: np.array(v, dtype=np.int64) for k, v in splits.items()}
    ds = Dataset("synthetic-2mod", n_users, n_items, arr[0], arr[1], arr[2])
    cent_e, cent_h = rng.normal(size=(n_clusters, dim)), rng.normal(size=(n_clusters, dim))
    easy = cent_e[item_cluster] + easy_noise * rng.normal(size=(n_items, dim))
    hard = hard_signal * cent_h[item_cluster] + rng.normal(size=(n_items, dim))
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    feats = ItemFeatures({"v": torch.from_numpy(unit(hard)), "t": torch.from_numpy(unit(easy))},
                         {"v": torch.ones(n_items, dtype=torch.bool), "t": torch.ones(n_items, dtype=torch.bool)},
                         {"v": "SYNTHETIC hard modality (weak signal)", "t": "SYNTHETIC easy modality"})
    return ds, feats


def synthetic_study(epochs: int = 20, seed: int = 2025, threads: int | None = 1, lr: float = 1e-2,
                    batch_size: int = 256) -> dict:
    """FREEDOM (V&T) on :func:`synthetic_two_modality`; prints the per-epoch Eq. 3 gradient norms of the
    easy (``t``) and hard (``v``) slots under a SYNTHETIC banner. Illustration only."""
    from .train import config_for_mode, fit

    ds, feats = synthetic_two_modality()
    cfg = config_for_mode("full", model="freedom", seed=seed, epochs=epochs, patience=epochs, lr=lr,
                          batch_size=batch_size, n_layers=2, model_kwargs={"synthetic": True})
    res = fit(ds, cfg, progress=False, threads=threads, model=build("freedom", ds, feats, cfg), log=lambda s: None)
    print("SYNTHETIC two-modality data (illustrates the mechanism of Sec. 2.2; not the paper's data or numbers)")
    print("  slot t = easy modality (cluster centroid + small noise), slot v = hard modality (weak signal)")
    for h in res["history"]:
        print(f"  epoch {h['epoch']:3d}  ||dL/de_neg||  easy(t)={h['neg_grad_norm_t']:.4f}  "
              f"hard(v)={h['neg_grad_norm_v']:.4f}  id={h['neg_grad_norm']:.4f}   "
              f"BPR_t={h['bpr_t']:.4f}  BPR_v={h['bpr_v']:.4f}")
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m neggen_lite.multimodal", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("study", help="Sec. 2 with FREEDOM: Table 1, Fig. 2, Fig. 3 where the data allows")
    s.add_argument("--dataset", required=True)
    s.add_argument("--mode", default="full", choices=("smoke", "full"))
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--device", default="cpu")
    s.add_argument("--features-dir", default=None, help="folder with MMRec image_feat.npy / text_feat.npy")
    s.add_argument("--generator", default="auto", help="Direct Generation cache (name or .jsonl.gz path)")
    s.add_argument("--out-dir", default=None)
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--progress", action="store_true")
    y = sub.add_parser("synthetic", help="SYNTHETIC illustration of the gradient imbalance (not the paper's data)")
    y.add_argument("--epochs", type=int, default=20)
    y.add_argument("--seed", type=int, default=2025)
    y.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    from .safety import ExpectedError

    if args.cmd == "synthetic":
        synthetic_study(args.epochs, args.seed, args.threads)
        return 0
    try:
        study(args.dataset, args.mode, args.seed, args.device, args.features_dir, args.generator, args.out_dir,
              args.threads, args.progress, epochs=args.epochs)
    except (ExpectedError, OSError) as exc:  # as in neggen_lite.cli: one line, exit status 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
