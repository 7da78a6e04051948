"""NegGen's training objectives beyond Eq. 19-21 as printed: readings under which the causal score can
reorder real items (paper Sec. 3.4 and 4.4).

With a frozen base, Eq. 19 only ever compares a training positive with *its own* generated negative:
no real non-interacted item enters the loss, so nothing pushes another item's causal score down, and
a constant ``e_c`` along minus the mean user vector minimises it. The objectives (``NegGenConfig.objective``):

* ``printed``: the frozen base and Eq. 19-21 as printed (:func:`neggen_lite.causal.rec_loss`).
The loss of ``joint``/``repaired`` is :meth:`neggen_lite.causal.NegGen.batch_loss`, built from the
pieces here:

* ``joint``: base and causal module trained together on real triples ``(u, i, j)``, ``j`` drawn
  uniformly from the user's non-interacted items; both items scored as at inference,
  ``y_uk = e_u.e_k + lambda e_u.e_c(k)``, and
  ``L = -log sigma(y_ui - y_uj) + alpha L_align(i) + reg L2`` with the bounded Eq. 20.
* ``repaired``: ``joint`` plus ``beta * -log sigma(lambda e_u.[h(e_m,i) - h(e_m*,i)])``, ``h`` = attention
  (Eq. 13-15) then projection (Eq. 17): the positive's generated counterfactual as a second, explicit
  contrast -- the user should prefer the item to what the language model made of it. ``h``'s output
  bias cancels in the difference, so no bias is shared between the two sides.
* ``sampler``: Sec. 4.4's reading of Fig. 6 ("the causal module removed"): LightGCN with BPR whose
  negative for ``(u, i)`` is the real item nearest to ``e_m*(i)`` by cosine, the user's training items
  excluded (:class:`NearestToGeneratedSampler`). Two controls separate what that negative is from how
  it is chosen (``NegGenConfig.pick``): ``nearest-fresh`` draws afresh, at every use, one of the ``k``
  nearest (close, but varied); ``random-fixed`` keeps the fixed first-usable rule over ``k`` items drawn
  at random once (fixed, but not close).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..samplers.uniform import PositiveIndex, UniformSampler

OBJECTIVES = ("printed", "joint", "repaired", "sampler")
#: how the ``sampler`` objective picks a pair's negative (:class:`NearestToGeneratedSampler`)
PICKS = ("nearest", "nearest-fresh", "random-fixed")


def scores(e_u: torch.Tensor, e_k: torch.Tensor, e_c: torch.Tensor, lam: float) -> torch.Tensor:
    """``y_uk = e_u.e_k + lambda e_u.e_c(k)`` (Sec. 3.4's inference score), per row."""
    return (e_u * (e_k + lam * e_c)).sum(-1)


def counterfactual_loss(e_u: torch.Tensor, h_pos: torch.Tensor, h_neg: torch.Tensor, lam: float) -> torch.Tensor:
    """``-log sigma(lambda e_u.[h(e_m) - h(e_m*)])``, batch mean (the ``repaired`` extra term)."""
    return -F.logsigmoid(lam * (e_u * (h_pos - h_neg)).sum(-1)).mean()


def _nearest_table(orig: torch.Tensor, negt: torch.Tensor, has: torch.Tensor, ids: torch.Tensor, k: int,
                   chunk: int) -> torch.Tensor:
    """``[n_items, k]``: for each item with text, the ``k`` items with text nearest (cosine of the unit rows
    ``orig``) to its generated negative ``negt``, nearest first, never the item itself; ``-1`` elsewhere."""
    n = len(orig)
    table = torch.full((n, k), -1, dtype=torch.long, device=orig.device)
    for c in ids.split(chunk):
        sim = negt[c] @ orig.T
        sim[:, ~has] = -float("inf")                 # only items with text can be the nearest
        sim[torch.arange(len(c), device=orig.device), c] = -float("inf")  # never the positive itself
        top = sim.topk(min(k, n), dim=1)
        table[c, : top.indices.shape[1]] = torch.where(torch.isfinite(top.values), top.indices, -1)
    return table


def _random_table(n: int, ids: torch.Tensor, k: int, seed: int, device, chunk: int = 1024) -> torch.Tensor:
    """``[n, k]``: for each item in ``ids``, ``k`` distinct other items of ``ids`` drawn uniformly once
    (generator seeded by ``seed``, on the CPU so every device gets the same table); ``-1`` elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    pool = ids.cpu()
    k = min(k, len(pool) - 1)
    table = torch.full((n, max(k, 0)), -1, dtype=torch.long)
    for rows in pool.split(chunk) if k > 0 else ():
        # k + 1 distinct positions per row (the k + 1 largest of uniform keys); the item itself, if drawn,
        # is dropped, else the last of the k + 1
        picked = pool[torch.rand(len(rows), len(pool), generator=gen).topk(k + 1, dim=1).indices]
        keep = picked != rows.unsqueeze(1)
        keep &= keep.cumsum(1) <= k
        table[rows] = picked[keep].view(len(rows), k)
    return table.to(device)


class NearestToGeneratedSampler:
    """The ``sampler`` objective's negative: for ``(u, i)``, the real item nearest to ``e_m*(i)`` (the
    positive's generated negative) by cosine to the items' ``e_m``, skipping ``i`` and the user's
    training items; uniform for positives without a generated negative or when all ``k`` nearest are
    the user's.

    ``original``/``negative``: ``[n_items, d]`` encodings (rows of items without text are ignored;
    ``has_text`` marks the others). The ``k`` nearest of every item are found once, in chunks on the
    sampler's device. ``fallback_share`` counts the uniform draws of the last call.

    ``pick`` (:data:`PICKS`): ``nearest``, the first of the ``k`` nearest that is not the user's (the same
    item at every epoch); ``nearest-fresh``, a uniform draw among those of the ``k`` nearest that are not the
    user's, afresh at every use; ``random-fixed``, the first usable of ``k`` items with text drawn at random
    once per positive (seeded by ``seed``), a table as fixed as the nearest one but not close. Items without
    text and the fallback rule are the same under every pick.
    """

    name = "nearest-generated"

    def __init__(self, train_csr, original: torch.Tensor, negative: torch.Tensor, has_text: torch.Tensor,
                 device=None, seed: int = 0, k: int = 32, chunk: int = 4096, pick: str = "nearest"):
        if pick not in PICKS:
            raise ValueError(f"pick must be one of {PICKS}, got {pick!r}")
        self.uniform = UniformSampler(train_csr, device, seed)
        self.index, self.device, self.pick = self.uniform.index, self.uniform.device, pick
        n = self.index.n_items
        if original.shape[0] != n or negative.shape != original.shape or has_text.shape != (n,):
            raise ValueError(f"encodings {tuple(original.shape)}/{tuple(negative.shape)} and has_text "
                             f"{tuple(has_text.shape)} do not match {n} items")
        has = has_text.to(self.device)
        ids = torch.nonzero(has).flatten()
        if pick == "random-fixed":
            self.table = _random_table(n, ids, k, seed, self.device)
        else:
            self.table = _nearest_table(F.normalize(original.float().to(self.device), dim=-1),
                                        F.normalize(negative.float().to(self.device), dim=-1), has, ids, k, chunk)
        self._found = None

    def sample(self, users: torch.Tensor, pos_items: torch.Tensor, model=None) -> torch.Tensor:
        users, pos_items = users.to(self.device), pos_items.to(self.device)
        cand = self.table[pos_items]                                        # [B, k]
        ok = cand >= 0
        flat_u = users.unsqueeze(1).expand_as(cand)
        ok &= ~self.index.contains(flat_u.reshape(-1), cand.clamp(min=0).reshape(-1)).view_as(cand)
        if self.pick == "nearest-fresh":   # a random usable column: uniform keys, unusable ones pushed to -1
            keys = torch.rand(cand.shape, device=self.device, generator=self.uniform.generator)
            first = torch.where(ok, keys, -1.0).argmax(dim=1)
        else:
            first = ok.to(torch.int8).argmax(dim=1)                         # first usable column
        found = ok.any(dim=1)
        out = cand.gather(1, first.unsqueeze(1)).squeeze(1)
        if not bool(found.all()):
            miss = torch.nonzero(~found).flatten()
            out[miss] = self.uniform.sample(users[miss])
        self._found = found  # fallback_share reads it on demand: no extra host sync per batch
        return out

    @property
    def fallback_share(self) -> float:
        """The share of uniform draws in the last :meth:`sample` call."""
        return 0.0 if self._found is None else float((~self._found).float().mean())

    def state_dict(self) -> dict:
        return self.uniform.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.uniform.load_state_dict(state)


def sampler_audit(sampler: NearestToGeneratedSampler, ds, original: torch.Tensor, has_text: torch.Tensor,
                  chunk: int = 65536) -> dict:
    """What :class:`NearestToGeneratedSampler` gives BPR, over every training pair ``(u, i)`` of ``ds``:

    * ``heldout_share`` / ``test_share``: the share of negatives that are one of ``u``'s held-out items
      (validation or test) / test items -- items the evaluation counts as hits, pushed down in training;
    * ``cos_to_positive``: mean cosine of the negative's ``e_m`` to the positive's (pairs where both have text);
    * ``distinct_negatives``: how many different items serve as negatives;
    * ``test_recall_bound``: the test Recall (any cut-off) that the test items serving as their own user's
      negatives hold -- the most that pushing them down can cost, were every one of them a hit before;

    each for the sampler (``nearest``) and for uniform sampling over the same pairs (``uniform``: held-out
    shares as the exact expectation ``|H_u| / (n_items - |I_u|)`` per pair, the rest from one uniform draw
    per pair). The sampler's negative of a pair is the same in every epoch (its fallback draws aside), so
    one pass describes the whole training run. ``fallback_share``: pairs that got a uniform draw."""
    dev = sampler.device
    train = ds.train_csr.tocoo()
    users = torch.from_numpy(train.row.astype("int64")).to(dev)
    items = torch.from_numpy(train.col.astype("int64")).to(dev)
    heldout_csr = ds.valid_csr + ds.test_csr
    held = {"heldout": PositiveIndex(heldout_csr, dev), "test": PositiveIndex(ds.test_csr, dev)}
    emb = F.normalize(original.float().to(dev), dim=-1)
    has = has_text.to(dev)
    stats = {name: {"heldout": 0, "test": 0, "cos": 0.0, "n_cos": 0, "test_pairs": [],
                    "used": torch.zeros(ds.n_items, dtype=torch.bool, device=dev)} for name in ("nearest", "uniform")}
    fallback = 0
    for u, i in zip(users.split(chunk), items.split(chunk)):
        nearest = sampler.sample(u, i)
        fallback += int((~sampler._found).sum())
        for name, neg in (("nearest", nearest), ("uniform", sampler.uniform.sample(u))):
            st = stats[name]
            for key, index in held.items():
                hit = index.contains(u, neg)
                st[key] += int(hit.sum())
                if key == "test":
                    st["test_pairs"].append(u[hit] * ds.n_items + neg[hit])
            both = has[i] & has[neg]
            st["cos"] += float((emb[i[both]] * emb[neg[both]]).sum())
            st["n_cos"] += int(both.sum())
            st["used"][neg] = True
    n_pairs = len(users)
    train_deg = ds.train_csr.getnnz(axis=1).astype("float64")
    per_pair = train_deg / (ds.n_items - train_deg)   # a user's pairs x the chance one draw is a given free item
    expected = {"heldout": float((per_pair * heldout_csr.getnnz(axis=1)).sum()),
                "test": float((per_pair * ds.test_csr.getnnz(axis=1)).sum())}
    out = {"pairs": n_pairs, "fallback_share": fallback / n_pairs}
    for name, st in stats.items():
        hits = expected if name == "uniform" else st
        out[name] = {"heldout_share": hits["heldout"] / n_pairs, "test_share": hits["test"] / n_pairs,
                     "cos_to_positive": st["cos"] / st["n_cos"] if st["n_cos"] else float("nan"),
                     "distinct_negatives": int(st["used"].sum())}
    out["uniform"]["heldout_share_drawn"] = stats["uniform"]["heldout"] / n_pairs
    test_deg = torch.from_numpy(ds.test_csr.getnnz(axis=1).astype("float64"))
    for name, st in stats.items():   # every test item a negative of its user, as a share of that user's test items
        pairs = torch.unique(torch.cat(st["test_pairs"])).cpu() if st["test_pairs"] else torch.zeros(0, dtype=torch.long)
        per_user = torch.bincount(pairs // ds.n_items, minlength=ds.n_users).double()
        out[name]["test_recall_bound"] = float((per_user / test_deg.clamp(min=1)).sum() / (test_deg > 0).sum())
    return out
