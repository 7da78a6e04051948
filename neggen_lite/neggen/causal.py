"""NegGen's causal learning module and training objective (paper Sec. 3.3-3.4, Eq. 12-21).

For an item with modality tokens ``e_m`` (original attributes, Eq. 8) and ``e_m*`` (its generated
negative, Eq. 9), each ``[M, d_enc]`` (one token per modality):

* Eq. 13-15: ``~e = softmax(Q K^T / sqrt(d)) V`` with learnable ``W_q, W_k, W_v`` shared by ``e_m`` and ``e_m*``;
* Eq. 16: total effect ``e_t = ~e_m - ~e_m*``;
* Eq. 17-18: ``e_c = MLP(e_t)``, ``e_c* = MLP(~e_m*)`` with ``MLP(x) = ReLU(x W1 + b1) W2 + b2`` to dim 64;
* Eq. 19: ``L_rec = -log sigma(lambda e_u.e_c + e_u.e_i - e_u.e_c*)``;
* Eq. 20: ``L_align``; Eq. 21: ``L = L_rec + alpha L_align``; inference score ``y = e_u.e_i + lambda e_u.e_c``.

What the paper leaves open, and the reading we chose:

1. *What attention runs over.* Eq. 13 applies ``W_q`` to "the multi-modal embeddings" of one item. We
   attend over the item's modality tokens (visual description, textual attributes) and mean-pool the
   attended tokens into one vector. With one modality (offline we have text only: the "visual"
   description would be written from text, see :mod:`neggen_lite.generation.pipeline`) the softmax is 1 and the
   module degenerates cleanly to ``~e = W_v e``, which :meth:`CausalModule.embed` folds into the projection's
   first layer (``W_1 W_v``, one matrix).
2. *Frozen or fine-tuned base.* Sec. 3.4 calls ``e_i`` "the item embedding learned by the pre-trained
   recommender". Default ``base="frozen"``: LightGCN is pre-trained with uniform BPR (same seed), then
   frozen, and Eq. 19-21 train the causal module. ``base="finetune"`` also updates LightGCN with Eq. 19
   as printed -- which has no collaborative negative, so ``e_u.e_i`` is only ever pushed up.
3. *Eq. 20 as printed* has no positive term in its denominator: ``-log exp(a)/exp(b) = b - a`` is linear
   and unbounded below. Default ``align="bounded"``: the two-way softmax
   ``-log exp(a)/(exp(a)+exp(b)) = softplus(b - a)``; ``align="printed"`` keeps the paper's form. Their
   difference is exactly ``softplus(a - b) >= 0`` (``a = e_c.e_i/tau``, ``b = e_c*.e_i/tau``).
4. *Items without text* have no ``e_m``: their tokens are zero, so ``e_t = 0`` and ``e_c = MLP(0)`` -- the
   same causal vector for all of them; their ranking is left to the collaborative score. Items with text
   but no model generation get the rule-based negative of :mod:`neggen_lite.generation.validation` (counted in
   the result under ``negatives``).
5. *w/o NEG* replaces ``e_m*`` by the attributes of another item, one fixed seeded draw per item, the
   same in training and at inference (so the model is scored on the pairing it learned). *w/o CF* drops attention and the
   difference: ``e_c = MLP(mean e_m)``, ``e_c* = MLP(mean e_m*)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.features import ItemFeatures
from ..core.graph import gather_rows
from ..core.safety import SettingsError, check_settings
from ..models.objectives import bpr
from .objectives import OBJECTIVES, PICKS, counterfactual_loss, scores

VARIANTS = ("full", "w/o NEG", "w/o CF", "w/o both", "V", "T", "V&T")
#: Table 5's module ablation (the first four variants; the others are Table 4's modalities)
NEGGEN_VARIANTS = VARIANTS[:4]
MODALITIES_OF_VARIANT = {"V": ("v",), "T": ("t",), "V&T": ("v", "t")}
ALIGN_FORMS = ("bounded", "printed")
BASE_MODES = ("frozen", "finetune")


class CausalModule(nn.Module):
    """Eq. 13-18: shared self-attention over modality tokens, total effect, two-layer projection.

    ``causal=False`` is the *w/o CF* ablation: no attention, no difference, project ``e_m``/``e_m*``.
    """

    def __init__(self, in_dim: int, out_dim: int = 64, hidden: int = 256, causal: bool = True):
        super().__init__()
        self.in_dim, self.causal = in_dim, causal
        self.w_q = nn.Linear(in_dim, in_dim, bias=False)
        self.w_k = nn.Linear(in_dim, in_dim, bias=False)
        self.w_v = nn.Linear(in_dim, in_dim, bias=False)
        self.proj = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def attend(self, tokens: torch.Tensor) -> torch.Tensor:
        """Eq. 13-14 on ``[B, M, d]`` tokens, mean-pooled over the ``M`` attended tokens -> ``[B, d]``.

        With one token the softmax is exactly 1 (and its gradient w.r.t. Q and K exactly 0), so only
        ``W_v`` is applied: the same numbers at a third of the cost."""
        if tokens.shape[1] == 1:
            return self.w_v(tokens[:, 0])
        q, k, v = self.w_q(tokens), self.w_k(tokens), self.w_v(tokens)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.in_dim), dim=-1)
        return (att @ v).mean(dim=1)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``proj(attend(tokens))``: Eq. 17-18's projection of the attended tokens ``[B, M, d]`` -> ``[B, out]``.

        With one token, ``attend`` (``W_v``) and the projection's first layer (``W_1``) are both linear, so
        they run as one ``[hidden, d]`` matrix ``W_1 W_v``, formed per call (gradients reach both): the same
        function with 2.3x fewer multiply-adds per row at ``d`` = 384, ``hidden`` = 256, 3.6x for ``e_c``,
        whose difference is taken first (equal up to float rounding; ``benchmarks/bench_neggen.py``)."""
        if tokens.shape[1] != 1:
            return self.proj(self.attend(tokens))
        first, act, last = self.proj
        return last(act(F.linear(tokens[:, 0], first.weight @ self.w_v.weight, first.bias)))

    def forward(self, e_m: torch.Tensor, e_m_star: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(e_c, e_c*)`` for tokens ``e_m``, ``e_m*`` of shape ``[B, M, d_enc]`` (Eq. 16-18)."""
        if e_m.dim() != 3 or e_m.shape != e_m_star.shape or e_m.shape[-1] != self.in_dim:
            raise ValueError(f"expected e_m and e_m* of equal shape [B, M, {self.in_dim}], "
                             f"got {tuple(e_m.shape)} and {tuple(e_m_star.shape)}")
        if not self.causal:
            return self.proj(e_m.mean(1)), self.proj(e_m_star.mean(1))
        return self.causal_part(e_m, e_m_star), self.embed(e_m_star)

    def causal_part(self, e_m: torch.Tensor, e_m_star: torch.Tensor) -> torch.Tensor:
        """``e_c`` alone: the first output of :meth:`forward` by the same operations (the same numbers), without
        computing ``e_c*`` (for the real negatives of ``joint``, and at inference)."""
        if not self.causal:
            return self.proj(e_m.mean(1))
        if e_m.shape[1] == 1:  # W_v e_m - W_v e_m* = W_v (e_m - e_m*): one product instead of two
            return self.embed(e_m - e_m_star)
        return self.proj(self.attend(e_m) - self.attend(e_m_star))


def rec_loss(e_u: torch.Tensor, e_i: torch.Tensor, e_c: torch.Tensor, e_c_star: torch.Tensor,
             lam: float) -> torch.Tensor:
    """Eq. 19, batch mean: ``-log sigma(lambda e_u.e_c + e_u.e_i - e_u.e_c*)``."""
    x = lam * (e_u * e_c).sum(-1) + (e_u * e_i).sum(-1) - (e_u * e_c_star).sum(-1)
    return bpr(x).mean()


def align_loss(e_c: torch.Tensor, e_c_star: torch.Tensor, e_i: torch.Tensor, tau: float,
               form: str = "bounded") -> torch.Tensor:
    """Eq. 20, batch mean, with ``a = e_c.e_i / tau`` and ``b = e_c*.e_i / tau``.

    ``printed``: ``-log(exp(a) / exp(b)) = b - a`` (as in the paper; unbounded below).
    ``bounded``: ``-log(exp(a) / (exp(a) + exp(b))) = softplus(b - a)`` (>= 0); bounded - printed = softplus(a - b).
    """
    a = (e_c * e_i).sum(-1) / tau
    b = (e_c_star * e_i).sum(-1) / tau
    if form == "printed":
        return (b - a).mean()
    if form == "bounded":
        return F.softplus(b - a).mean()
    raise ValueError(f"align form must be one of {ALIGN_FORMS}, got {form!r}")


@dataclass
class NegGenConfig:
    """NegGen's own settings (saved in the result's ``config.model_kwargs``); defaults from Sec. 4.1.4/4.6."""

    lam: float = 0.5
    alpha: float = 1e-2
    tau: float = 0.1
    variant: str = "full"
    align: str = "bounded"
    base: str = "frozen"
    hidden: int = 256
    modalities: tuple[str, ...] = ("t",)
    objective: str = "printed"
    beta: float = 1.0
    pick: str = "nearest"  # sampler only: how a pair's negative is picked (objectives.PICKS)

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise SettingsError(f"--objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if self.pick not in PICKS:
            raise SettingsError(f"--pick {self.pick!r}: choose one of {', '.join(PICKS)}")
        if self.pick != "nearest" and self.objective != "sampler":
            raise SettingsError(f"--pick {self.pick}: used only by --objective sampler")
        if self.objective in ("joint", "repaired"):
            self.base = "finetune"  # the base is trained with the causal module on real triples
        check_settings(lam=self.lam, alpha=self.alpha, tau=self.tau, beta=self.beta)
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.align not in ALIGN_FORMS:
            raise ValueError(f"align must be one of {ALIGN_FORMS}, got {self.align!r}")
        if self.base not in BASE_MODES:
            raise ValueError(f"base must be one of {BASE_MODES}, got {self.base!r}")
        if self.variant in MODALITIES_OF_VARIANT:
            self.modalities = MODALITIES_OF_VARIANT[self.variant]
        self.modalities = tuple(self.modalities)

    @property
    def generated(self) -> bool:
        """False for *w/o NEG* and *w/o both*: negatives are a uniformly sampled item's attributes."""
        return self.variant not in ("w/o NEG", "w/o both")

    @property
    def causal(self) -> bool:
        """False for *w/o CF* and *w/o both*: no attention and no total-effect difference."""
        return self.variant not in ("w/o CF", "w/o both")


class NegGen(nn.Module):
    """A base recommender plus the causal module; scores ``y = e_u.e_i + lambda e_u.e_c`` (Sec. 3.4).

    Trained through :func:`neggen_lite.training.trainer.fit` like every other model: it exposes ``forward()``
    (final user and item embeddings, the item side already carrying ``lambda e_c``) and its own
    ``batch_loss`` (Eq. 19-21). ``neg`` from the trainer's uniform sampler is used by the ``joint``/``repaired`` objectives.
    """

    def __init__(self, base: nn.Module, features: ItemFeatures, cfg: NegGenConfig, seed: int = 0):
        super().__init__()
        original, negative = features.tokens(), features.tokens(negative=True)  # e_m, e_m* (Eq. 8-9)
        if original.shape[0] != base.n_items:
            raise ValueError(f"features for {original.shape[0]} items, model has {base.n_items}")
        self.base, self.cfg = base, cfg
        self.n_users, self.n_items, self.dim = base.n_users, base.n_items, base.dim
        self.variant = cfg.variant
        self.sampler_name = "generated" if cfg.generated else "uniform"
        self.register_buffer("orig", original.float(), persistent=False)
        self.register_buffer("neg", negative.float(), persistent=False)
        g = torch.Generator().manual_seed(seed)
        other = (torch.arange(self.n_items) + torch.randint(1, max(2, self.n_items), (self.n_items,), generator=g))
        self.register_buffer("other", other % self.n_items, persistent=False)  # w/o NEG at inference
        self.module = CausalModule(original.shape[-1], base.dim, cfg.hidden, cfg.causal)
        if cfg.objective in ("joint", "repaired"):
            # ours: the projection's output layer starts at zero, so e_c = 0 and training starts from the
            # pre-trained base's ranking instead of adding lambda * (a random projection) to every score
            nn.init.zeros_(self.module.proj[-1].weight)
            nn.init.zeros_(self.module.proj[-1].bias)
        self._frozen = None
        if cfg.base == "frozen":
            base.requires_grad_(False)

    def base_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cfg.base == "finetune":
            return self.base()
        dev = self.base.user_emb.device
        if self._frozen is None or self._frozen[0].device != dev:
            with torch.no_grad():
                self._frozen = tuple(x.detach() for x in self.base())
        return self._frozen

    def token_pair(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(e_m, e_m*)`` tokens of ``items``; *w/o NEG*: ``e_m*`` is a fixed other item's ``e_m``."""
        other = self.neg if self.cfg.generated else self.orig
        return (gather_rows(self.orig, items),
                gather_rows(other, items if self.cfg.generated else gather_rows(self.other, items)))

    def causal_embeddings(self, items: torch.Tensor):
        """``(e_c, e_c*)`` for ``items`` (Eq. 16-18)."""
        return self.module(*self.token_pair(items))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        ue, ie = self.base_embeddings()
        e_c = torch.cat([self.module.causal_part(*self.token_pair(idx))
                         for idx in torch.arange(self.n_items, device=ie.device).split(8192)])
        return ue, ie + self.cfg.lam * e_c

    def ego_users(self, users):
        return self.base.ego_users(users)

    def ego_items(self, items):
        return self.base.ego_items(items)

    def batch_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 21 on one batch: ``L_rec + alpha L_align``; returns ``(total, L_rec)``. Objectives
        ``joint``/``repaired``: :meth:`joint_loss` on the real triples ``(users, pos, neg)``."""
        if self.cfg.objective in ("joint", "repaired"):
            return self.joint_loss(users, pos, neg, reg)
        ue, ie = self.base_embeddings()
        e_u, e_i = ue[users], ie[pos]
        e_c, e_c_star = self.causal_embeddings(pos)
        l_rec = rec_loss(e_u, e_i, e_c, e_c_star, self.cfg.lam)
        total = l_rec + self.cfg.alpha * align_loss(e_c, e_c_star, e_i, self.cfg.tau, self.cfg.align)
        if reg and self.cfg.base == "finetune":
            total = total + reg * (self.base.ego_users(users).pow(2).sum()
                                   + self.base.ego_items(pos).pow(2).sum()) / (2 * len(users))
        return total, l_rec

    def joint_loss(self, users, pos, neg, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``joint``: ``-log sigma(y_ui - y_uj) + alpha L_align(i) + reg L2`` with ``y_uk = e_u.e_k +
        lambda e_u.e_c(k)`` and the bounded Eq. 20; ``repaired`` adds ``beta -log sigma(lambda e_u.[h(e_m,i)
        - h(e_m*,i)])`` (:mod:`neggen_lite.objectives`). Returns ``(total, ranking term)``."""
        cfg = self.cfg
        if hasattr(self.base, "batch_rows"):  # LightGCN: the batch's rows only (graph.layer_mean_rows)
            e_u, e_i, e_j = self.base.batch_rows(users, pos, neg)
        else:
            ue, ie = self.base()
            e_u, e_i, e_j = ue[users], ie[pos], ie[neg]
        e_c_pos, e_c_star_pos = self.causal_embeddings(pos)
        e_c_neg = self.module.causal_part(*self.token_pair(neg))  # its e_c* would go unused
        rank = -F.logsigmoid(scores(e_u, e_i, e_c_pos, cfg.lam) - scores(e_u, e_j, e_c_neg, cfg.lam)).mean()
        total = rank + cfg.alpha * align_loss(e_c_pos, e_c_star_pos, e_i, cfg.tau, "bounded")
        if cfg.objective == "repaired" and cfg.beta:
            e_m, e_m_star = self.token_pair(pos)
            h = self.module.embed
            total = total + cfg.beta * counterfactual_loss(e_u, h(e_m), h(e_m_star), cfg.lam)
        if reg:
            l2 = (self.base.ego_users(users).pow(2).sum() + self.base.ego_items(pos).pow(2).sum()
                  + self.base.ego_items(neg).pow(2).sum())
            total = total + reg * l2 / (2 * len(users))
        return total, rank
