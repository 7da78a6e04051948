"""Hard-negative sampling baselines of the paper's Table 2 (Sec. 4.1.3), on the interface of
the sampler interface (:mod:`neggen_lite.samplers.uniform`): ``sample(users, pos_items, model) -> neg`` plus ``state_dict()`` /
``load_state_dict()``.

* every candidate comes from :meth:`UniformSampler.candidates` (uniform over the user's non-positive
  training items; IRGAN: from its generator with the positives masked), so no sampler returns a
  training positive;
* candidates are scored in one batched pass with the model's current embeddings (``model()``, detached),
  on the sampler's device; the only Python loops run over layers, never over pairs; in
  :func:`neggen_lite.training.trainer.fit` that ``model()`` is the same propagation the loss uses;
* ``neg`` is an ``int64`` item-id tensor ``[B]``, or (MixGCF, DENS) a float tensor of synthesised
  negative embeddings ``[B, d]`` that carries gradients to the model;
* after each call ``self.extras`` may hold ``neg_items`` (ids behind a synthesised negative, ``[B, k]``:
  L2-regularised and checked for false negatives by the trainer) and ``aux_loss`` (a term the trainer
  adds to the batch loss: DENS's contrastive tasks);
* samplers with trainable parts expose ``parameters()`` (trained by the trainer's optimiser: DENS) or
  train themselves (IRGAN's generator); randomness comes only from the sampler's own generator.

Hyper-parameter defaults follow each paper or its authors' released settings for Amazon data; they
are listed in each class's docstring and in ``sampler.hparams`` (saved in the result record).
"""
from __future__ import annotations

import math

import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ..core.runtime import adam
from ..models.objectives import bpr
from .uniform import UniformSampler


def final_embeddings(model) -> tuple[torch.Tensor, torch.Tensor]:
    """``model()``'s user and item embeddings, detached (for scoring candidates)."""
    u, i = model()
    return u.detach(), i.detach()


def layer_embeddings(model) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-layer embeddings ``[n, L+1, d]`` (LightGCN's ``layer_embeddings()``; one layer for other models)."""
    if hasattr(model, "layer_embeddings"):
        return model.layer_embeddings()
    u, i = model()
    return u.unsqueeze(1), i.unsqueeze(1)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` without gradients; on the CPU through NumPy, whose OpenBLAS is 2-3x faster than torch's
    bundled BLAS for these skinny products (as in :mod:`neggen_lite.core.metrics`)."""
    if a.device.type == "cpu":
        return torch.from_numpy(a.detach().numpy() @ b.detach().numpy())
    return a.detach() @ b.detach()


def candidate_scores(e_u: torch.Tensor, item_emb: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """``e_u^T e_j`` for candidates ``cand [B, M]`` of users ``e_u [B, d]``; the cheaper of a gather
    (``[B, M, d]``) and a full ``[B, n_items]`` product."""
    if cand.shape[1] * item_emb.shape[1] >= item_emb.shape[0]:
        return matmul(e_u, item_emb.T).gather(1, cand)
    return torch.bmm(item_emb[cand], e_u.unsqueeze(-1)).squeeze(-1)


def _require_model(model, name):
    if model is None:
        raise ValueError(f"the {name} sampler scores candidates with the model: pass model=")


class CandidateSampler:
    """Common part: ``M`` uniform non-positive candidates per pair from an inner :class:`UniformSampler`
    whose generator is the sampler's only source of randomness."""

    name = "candidates"

    def __init__(self, train_csr, device=None, seed: int = 0, n_candidates: int = 16):
        if int(n_candidates) < 1:
            raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
        self.uniform = UniformSampler(train_csr, device, seed)
        self.index = self.uniform.index
        self.device, self.n_items = self.uniform.device, self.uniform.n_items
        self.generator = self.uniform.generator
        self.n_candidates = int(n_candidates)
        self.extras: dict = {}
        self.hparams = {"n_candidates": self.n_candidates}

    def candidates(self, users: torch.Tensor) -> torch.Tensor:
        return self.uniform.candidates(users.to(self.device), self.n_candidates)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class DNSSampler(CandidateSampler):
    """DNS(M, N) (Shi et al., WWW'23, "On the Theories Behind Hard Negative Sampling for Recommendation").

    Draw ``M`` uniform non-positive candidates, rank them by the current score ``e_u^T e_j`` and return
    one of the ``N`` highest-scored, each with probability ``1/N``: BPR with these negatives estimates the
    one-way partial AUC OPAUC(beta), beta ~ N/M, the paper's link between hard negatives and Top-K
    metrics (hardness set by M and N). ``N = 1`` is the classic DNS of Zhang et al. (SIGIR'13);
    ``M = 1`` is uniform sampling (same draws). ``pick="rank"`` returns exactly the candidate at rank
    ``N`` instead.

    Defaults ``M = 200`` (the pool of the authors' example command) and ``N = min(5, M)`` (our choice,
    beta = 0.025: the paper tunes N per dataset and metric, harder for smaller K).
    """

    name = "dns"

    def __init__(self, train_csr, device=None, seed: int = 0, M: int = 200, N: int | None = None,
                 pick: str = "uniform"):
        super().__init__(train_csr, device, seed, M)
        N = min(5, int(M)) if N is None else N
        if not 1 <= int(N) <= int(M):
            raise ValueError(f"DNS(M, N) needs 1 <= N <= M, got M={M}, N={N}")
        if pick not in ("uniform", "rank"):
            raise ValueError(f"pick must be 'uniform' or 'rank', got {pick!r}")
        self.M, self.N, self.pick = int(M), int(N), pick
        self.hparams = {"M": self.M, "N": self.N, "pick": pick}

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor | None = None, model=None) -> torch.Tensor:
        self.extras = {}
        cand = self.candidates(users)
        if self.M == 1:
            return cand[:, 0]
        _require_model(model, self.name)
        ue, ie = final_embeddings(model)
        scores = candidate_scores(ue[users.to(ue.device)].to(self.device), ie.to(self.device), cand)
        top = torch.topk(scores, self.N, dim=1).indices  # [B, N], hardest first
        if self.pick == "rank":
            k = top[:, self.N - 1]
        elif self.N == 1:
            k = top[:, 0]
        else:
            r = torch.randint(self.N, (len(cand),), device=self.device, generator=self.generator)
            k = top.gather(1, r.unsqueeze(1)).squeeze(1)
        return cand.gather(1, k.unsqueeze(1)).squeeze(1)


class AHNSSampler(CandidateSampler):
    """AHNS_{p<0} (Lai et al., AAAI'24, "Adaptive Hardness Negative Sampling for Collaborative Filtering").

    Among ``M`` uniform candidates pick the one whose score is closest to a target set by the
    positive's score: ``argmin_j |s_uj - beta (s_ui + alpha)^(p+1)|``. With ``p < -1`` the target falls
    as ``s_ui`` rises: the better the model already scores the positive, the easier its negative
    (criterion C2; C1: positive-aware, C3: hardness adjustable by alpha, beta, p). ``s_ui + alpha`` is
    clamped at 1e-6 so the target stays finite and monotone for any real score.

    Defaults ``M = 32, alpha = 0.5, beta = 0.1, p = -2``: the authors' setting for Amazon-Sports.
    """

    name = "ahns"

    def __init__(self, train_csr, device=None, seed: int = 0, M: int = 32, alpha: float = 0.5,
                 beta: float = 0.1, p: float = -2.0):
        super().__init__(train_csr, device, seed, M)
        self.alpha, self.beta, self.p = float(alpha), float(beta), float(p)
        self.hparams = {"M": self.n_candidates, "alpha": self.alpha, "beta": self.beta, "p": self.p}

    def target(self, pos_scores: torch.Tensor) -> torch.Tensor:
        """The score ``beta (s_ui + alpha)^(p+1)`` the chosen negative should have."""
        return self.beta * (pos_scores + self.alpha).clamp_min(1e-6).pow(self.p + 1)

    def select(self, pos_scores: torch.Tensor, cand_scores: torch.Tensor) -> torch.Tensor:
        """Index ``[B]`` of the candidate closest to the target, from scores ``[B]`` and ``[B, M]``."""
        return (cand_scores - self.target(pos_scores).unsqueeze(1)).abs().argmin(1)

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor:
        self.extras = {}
        _require_model(model, self.name)
        cand = self.candidates(users)
        ue, ie = final_embeddings(model)
        ue, ie = ue.to(self.device), ie.to(self.device)
        e_u = ue[users.to(self.device)]
        s_pos = (e_u * ie[pos_items.to(self.device)]).sum(-1)
        k = self.select(s_pos, candidate_scores(e_u, ie, cand))
        return cand.gather(1, k.unsqueeze(1)).squeeze(1)


class MixGCFSampler(CandidateSampler):
    """MixGCF (Huang et al., KDD'21): synthesise a hard negative from the LightGCN layer embeddings.

    Positive mixing: for each layer ``l`` and pair, ``e'_m^(l) = a^(l) e_i^(l) + (1 - a^(l)) e_m^(l)``
    with ``a^(l) ~ U(0, 1)`` shared by the ``M`` candidates ``m``. Hop mixing: per layer keep the mixed
    candidate with the largest ``e_u^T e'_m^(l)`` (``e_u``: the final user embedding), then pool the
    chosen layers with LightGCN's layer mean (Eq. 7) into the negative embedding ``[B, d]``. Every
    layer of the result is a convex combination of the positive's and one candidate's layer embedding.
    ``extras``: ``neg_items`` (the chosen candidate per layer, ``[B, L+1]``), ``alpha`` (``[B, L+1]``).

    Default ``M = 16``: the authors' setting for LightGCN on Amazon.
    """

    name = "mixgcf"

    def __init__(self, train_csr, device=None, seed: int = 0, M: int = 16):
        super().__init__(train_csr, device, seed, M)
        self.hparams = {"M": self.n_candidates}

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor:
        _require_model(model, self.name)
        cand = self.candidates(users)
        ul, il = layer_embeddings(model)  # [n, L+1, d], with gradients
        ue = model()[0].detach()
        dev = il.device
        users, pos, cand_d = users.to(dev), pos_items.to(dev), cand.to(dev)
        b, n_layers = len(users), il.shape[1]
        alpha = torch.rand(b, n_layers, device=self.device, generator=self.generator).to(dev)
        p_l = il[pos]  # [B, L+1, d]
        with torch.no_grad():
            e_u = ue[users]
            s_pos = (p_l.detach() * e_u.unsqueeze(1)).sum(-1)  # [B, L+1]
            s_cand = torch.einsum("bmld,bd->bml", il.detach()[cand_d], e_u)  # [B, M, L+1]
            mixed = alpha.unsqueeze(1) * s_pos.unsqueeze(1) + (1 - alpha.unsqueeze(1)) * s_cand  # e_u^T e'_m^(l)
            best = mixed.argmax(1)  # [B, L+1]
        chosen = cand_d.gather(1, best)  # item ids, [B, L+1]
        n_l = il[chosen, torch.arange(n_layers, device=dev)]  # [B, L+1, d]
        a = alpha.unsqueeze(-1)
        neg = (a * p_l + (1 - a) * n_l).mean(1)
        self.extras = {"neg_items": chosen, "alpha": alpha}
        return neg


class DENSSampler(CandidateSampler):
    """DENS (Lai et al., WSDM'23, "Disentangled Negative Sampling for Collaborative Filtering").

    A hierarchical gating module splits layer embeddings into relevant and irrelevant factors: for the
    positive ``g_i = sigmoid(W_1 e_i + W_2 e_u)``, ``e_i^r = g_i * e_i``, ``e_i^ir = e_i - e_i^r``; for a
    candidate ``g_j = sigmoid(W_3 e_j + W_4 e_i^r)``, ``e_j^r = g_j * e_j``, ``e_j^ir = e_j - e_j^r``.
    Factor-aware sampling keeps, per layer, the candidate maximising
    ``e_u^T ((1 - t) e_j - e_j^r) = (1 - t) e_u^T e_j^ir - t e_u^T e_j^r`` (similar in irrelevant factors,
    contrasting in relevant ones), ``t = min(1, epoch / warmup)`` as in the authors' code; the negative
    is the layer mean of the chosen layer embeddings (a synthesised embedding, as in their code).
    The gates are trained by the four pairwise contrastive tasks (positive: relevant > irrelevant;
    negative: irrelevant > relevant; relevant: positive > negative; irrelevant: negative > positive),
    added to the loss with weight ``gamma`` (``extras["aux_loss"]``).

    Defaults ``M = 16, gamma = 0.3, warmup = 100`` (epochs).
    """

    name = "dens"
    wants_dim = True

    def __init__(self, train_csr, device=None, seed: int = 0, M: int = 16, gamma: float = 0.3,
                 warmup: int = 100, dim: int = 64):
        super().__init__(train_csr, device, seed, M)
        self.gamma, self.warmup, self.dim = float(gamma), int(warmup), int(dim)
        self.epoch = 0  # 0-based; set by the trainer through set_epoch
        bound = 1.0 / math.sqrt(self.dim)  # nn.Linear's default initialisation range, own generator

        def param(*shape):
            w = torch.empty(*shape, device=self.device).uniform_(-bound, bound, generator=self.generator)
            return torch.nn.Parameter(w)

        self.gates = {k: (param(self.dim, self.dim), param(self.dim))
                      for k in ("item", "user", "neg", "pos")}  # W_1, W_2, W_3, W_4 with biases
        self.hparams = {"M": self.n_candidates, "gamma": self.gamma, "warmup": self.warmup}

    def parameters(self):
        return [t for k in sorted(self.gates) for t in self.gates[k]]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = max(0, int(epoch) - 1)

    def _lin(self, key, x):
        w, b = self.gates[key]
        return F.linear(x, w, b)

    def _split(self, e_u, e_i, e_j):
        """Relevant and irrelevant factors ``(r_i, ir_i, r_j, ir_j)`` of positives ``e_i`` and negatives ``e_j``."""
        g_i = torch.sigmoid(self._lin("item", e_i) + self._lin("user", e_u))
        r_i = g_i * e_i
        g_j = torch.sigmoid(self._lin("neg", e_j) + self._lin("pos", r_i))
        r_j = g_j * e_j
        return r_i, e_i - r_i, r_j, e_j - r_j

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor:
        _require_model(model, self.name)
        cand = self.candidates(users)
        ul, il = layer_embeddings(model)
        ue = model()[0]
        dev = il.device
        users, pos, cand_d = users.to(dev), pos_items.to(dev), cand.to(dev)
        n_layers = il.shape[1]
        u_l, p_l = ul[users], il[pos]  # [B, L+1, d]
        t = min(1.0, self.epoch / self.warmup) if self.warmup > 0 else 1.0
        with torch.no_grad():  # e_u^T((1 - t) e_j - g_j * e_j) = sum_d e_u e_j ((1 - t) - g_j), in place
            il_d, u_d, p_d = il.detach(), u_l.detach(), p_l.detach()
            r_i = torch.sigmoid(self._lin("item", p_d) + self._lin("user", u_d)) * p_d
            g = self._lin("neg", il_d)[cand_d]  # W_3 e_j once per item, gathered: [B, M, L+1, d]
            g += self._lin("pos", r_i).unsqueeze(1)
            g.sigmoid_().neg_().add_(1 - t)
            uc = il_d[cand_d]
            uc *= u_d.unsqueeze(1)
            best = g.mul_(uc).sum(-1).argmax(1)  # [B, L+1]
        chosen = cand_d.gather(1, best)
        n_l = il[chosen, torch.arange(n_layers, device=dev)]  # [B, L+1, d], with gradients
        self.extras = {"neg_items": chosen}
        if self.gamma > 0:
            r_i, ir_i, r_j, ir_j = (x.mean(1) for x in self._split(u_l, p_l, n_l))
            e_u = ue[users]
            s = {k: (e_u * v).sum(-1) for k, v in (("ri", r_i), ("iri", ir_i), ("rj", r_j), ("irj", ir_j))}
            aux = (F.softplus(s["iri"] - s["ri"]).mean() + F.softplus(s["rj"] - s["irj"]).mean()
                   + F.softplus(s["rj"] - s["ri"]).mean() + F.softplus(s["iri"] - s["irj"]).mean()) / 4
            self.extras["aux_loss"] = self.gamma * aux
        return n_l.mean(1)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(),
                "gates": {k: [t.detach().clone() for t in v] for k, v in self.gates.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        with torch.no_grad():
            for k, v in state["gates"].items():
                for t, src in zip(self.gates[k], v):
                    t.copy_(src)


class IRGANSampler:
    """IRGAN (Wang et al., SIGIR'17): a generator samples the negatives; the recommender is the discriminator.

    Generator ``p_theta(j | u) = softmax_j((g_u^T q_j + b_j) / tau)`` over the user's non-positive items
    (training positives masked to probability 0, so they are never drawn). Each batch it draws one
    negative per pair and then takes one policy-gradient step (REINFORCE, IRGAN Eq. 5) on
    ``-mean(reward * log p_theta(j | u))`` with the discriminator's reward ``log(1 + exp(f))`` for the
    generated pair, ``f = s_uj - s_ui`` (the pairwise form of Sec. 2.3 with BPR's scores): the
    generator learns to draw negatives the recommender ranks too high. The recommender trains on them
    with BPR as usual. ``baseline=True`` subtracts the batch-mean reward (variance reduction).
    The gradient is the softmax's closed form, ``d loss / d logit_uk = reward (p_uk - 1[k = j]) / (B tau)``,
    so the ``[B, n_items]`` matrices never enter autograd.

    Pre-training: IRGAN starts both players from a pre-trained matrix factorisation (its released code loads
    MF weights; the paper gives no schedule). Here the generator is pre-trained in the constructor for
    ``pretrain_epochs`` epochs of BPR with uniform negatives on its own embeddings and item bias (Adam,
    ``pretrain_lr``, batch 2048, L2 ``1e-4``), from the +-``init`` uniform start (IRGAN's ``initdelta``).
    Without it (``pretrain_epochs=0``) the generator starts near-uniform and IRGAN behaves like uniform
    sampling for many epochs. The discriminator is the recommender being trained, which starts from
    scratch as every other row of Table 2 does.

    Defaults: generator dimension 64 (the recommender's), ``lr = 1e-3`` (IRGAN's learning rate; Adam
    instead of its SGD), ``tau = 1``, no baseline, ``pretrain_epochs = 10``, ``pretrain_lr = 1e-2``
    (our choice: MF-BPR on these datasets is near its best validation score after about ten epochs at this rate).
    """

    name = "irgan"

    def __init__(self, train_csr, device=None, seed: int = 0, gen_dim: int = 64, lr: float = 1e-3,
                 temperature: float = 1.0, baseline: bool = False, init: float = 0.05, pretrain_epochs: int = 10,
                 pretrain_lr: float = 1e-2):
        self.uniform = UniformSampler(train_csr, device, seed)  # checks that every user has a negative
        self.index = self.uniform.index
        self.device, self.n_items = self.uniform.device, self.uniform.n_items
        self.generator = self.uniform.generator
        self.temperature, self.baseline = float(temperature), bool(baseline)
        n_users = self.index.n_users

        def param(*shape):
            w = torch.empty(*shape, device=self.device).uniform_(-init, init, generator=self.generator)
            return torch.nn.Parameter(w)

        self.user_emb, self.item_emb = param(n_users, int(gen_dim)), param(self.n_items, int(gen_dim))
        self.item_bias = torch.nn.Parameter(torch.zeros(self.n_items, device=self.device))
        self.optimizer = adam([self.user_emb, self.item_emb, self.item_bias], lr=float(lr))
        self.extras: dict = {}
        self.last_reward = float("nan")
        self.hparams = {"gen_dim": int(gen_dim), "lr": float(lr), "temperature": self.temperature,
                        "baseline": self.baseline, "init": float(init), "pretrain_epochs": int(pretrain_epochs),
                        "pretrain_lr": float(pretrain_lr)}
        self.pretrain_losses = self.pretrain(train_csr, int(pretrain_epochs), float(pretrain_lr))

    def pretrain(self, train_csr, epochs: int, lr: float, batch_size: int = 2048, reg: float = 1e-4) -> list[float]:
        """BPR matrix factorisation on the generator's parameters (uniform negatives); the mean loss per epoch."""
        if epochs <= 0:
            return []
        coo = sp.coo_matrix(train_csr)
        users = torch.as_tensor(coo.row, dtype=torch.long, device=self.device)
        items = torch.as_tensor(coo.col, dtype=torch.long, device=self.device)
        params = (self.user_emb, self.item_emb, self.item_bias)
        opt = adam(params, lr=lr)
        losses = []
        for _ in range(epochs):
            perm = torch.randperm(len(users), device=self.device, generator=self.generator)
            total = torch.zeros((), dtype=torch.float64, device=self.device)  # no per-batch host sync
            for start in range(0, len(users), batch_size):
                idx = perm[start:start + batch_size]
                u, i = users[idx], items[idx]
                j = self.uniform.candidates(u, 1).view(-1)
                eu, ei, ej = self.user_emb[u], self.item_emb[i], self.item_emb[j]
                x = (eu * (ei - ej)).sum(-1) + self.item_bias[i] - self.item_bias[j]
                loss = bpr(x).mean() + reg * (eu.pow(2).sum() + ei.pow(2).sum() + ej.pow(2).sum()) / (2 * len(u))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach().double() * len(u)
            losses.append(float(total) / len(users))
        for t in params:
            t.grad = None
        return losses

    @torch.no_grad()
    def probs(self, users: torch.Tensor) -> torch.Tensor:
        """``p_theta(. | u)`` ``[B, n_items]``, exactly 0 on the users' training positives."""
        logits = matmul(self.user_emb[users], self.item_emb.T).to(self.device)
        logits += self.item_bias
        logits /= self.temperature
        rows, items = self.index.items_of(users)
        logits[rows, items] = float("-inf")
        logits -= logits.max(1, keepdim=True).values
        p = logits.exp_()
        return p.div_(p.sum(1, keepdim=True))

    @torch.no_grad()
    def policy_gradient(self, users: torch.Tensor, neg: torch.Tensor, reward: torch.Tensor, p: torch.Tensor):
        """Gradients of ``-mean(reward * log p_theta(neg | u))`` for (user embeddings, item embeddings, bias);
        overwrites ``p``."""
        coef = reward / (len(users) * self.temperature)
        g = p.mul_(coef.unsqueeze(1))
        g[torch.arange(len(users), device=self.device), neg] -= coef
        g_users = torch.zeros_like(self.user_emb).index_add_(0, users, matmul(g, self.item_emb).to(self.device))
        return g_users, matmul(g.T, self.user_emb[users]).to(self.device), g.sum(0)

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor:
        self.extras = {}
        _require_model(model, self.name)
        users_d = users.to(self.device)
        p = self.probs(users_d)
        cdf = p.cumsum(1)  # inverse-CDF draw: never lands on a zero-probability (positive) item
        r = torch.rand(len(users_d), 1, device=self.device, generator=self.generator) * cdf[:, -1:]
        neg = torch.searchsorted(cdf, r, right=True).squeeze(1).clamp_(max=self.n_items - 1)
        bad = self.index.contains(users_d, neg)  # float round-off at the very end of a row only
        if bool(bad.any()):
            neg[bad] = self.uniform.candidates(users_d[bad], 1).view(-1)
        ue, ie = final_embeddings(model)
        u_dev = ue.device
        f = (ue[users.to(u_dev)] * (ie[neg.to(u_dev)] - ie[pos_items.to(u_dev)])).sum(-1).to(self.device)
        reward = F.softplus(f)  # log(1 + exp(f))
        self.last_reward = float(reward.mean())
        if self.baseline:
            reward = reward - reward.mean()
        grads = self.policy_gradient(users_d, neg, reward, p)
        for t, g in zip((self.user_emb, self.item_emb, self.item_bias), grads):
            t.grad = g
        self.optimizer.step()
        return neg

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(),
                "params": [t.detach().clone() for t in (self.user_emb, self.item_emb, self.item_bias)],
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        with torch.no_grad():
            for t, src in zip((self.user_emb, self.item_emb, self.item_bias), state["params"]):
                t.copy_(src)
        self.optimizer.load_state_dict(state["optimizer"])


HARD_SAMPLERS = {c.name: c for c in (DNSSampler, MixGCFSampler, DENSSampler, AHNSSampler, IRGANSampler)}
