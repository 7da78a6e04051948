"""Full-ranking evaluation: Recall@K and NDCG@K over all items (paper Sec. 4.1.2).

Definitions follow MMRec (``src/utils/metrics.py``) exactly. For a user ``u`` with held-out set
``T_u`` and top-K list ``r_1..r_K`` (after excluding the user's known items):

* ``Recall@K = |{r_k in T_u}| / |T_u|`` -- divided by the number of held-out items, *not*
  ``min(K, |T_u|)``;
* ``NDCG@K = DCG@K / IDCG@K`` with ``DCG@K = sum_k 1[r_k in T_u] / log2(k + 1)`` and
  ``IDCG@K = sum_{k=1}^{min(K, |T_u|)} 1 / log2(k + 1)``.

Both are averaged over the users that have at least one held-out item. Ranking is over all items;
each user's training items are excluded, and when scoring ``test`` the valid items are excluded too
(``exclude_valid_in_test``; MMRec itself excludes only the training items -- pass ``False`` to match).
"""
from __future__ import annotations

import io

import numpy as np
import scipy.sparse as sp
import torch

from .runtime import atomic_write_bytes

KS = (10, 20)
#: the reported test metrics, in the paper's column order (R@10, R@20, N@10, N@20)
METRICS = tuple(f"{m}@{k}" for m in ("recall", "ndcg") for k in KS)


def metrics_from_hits(hits: torch.Tensor, n_pos: torch.Tensor, ks=KS) -> dict[str, torch.Tensor]:
    """Per-user Recall@K/NDCG@K from a ``[n_users, maxK]`` 0/1 hit matrix and held-out counts."""
    hits = hits.float()
    n_pos = n_pos.to(hits.dtype)
    maxk = hits.shape[1]
    disc = 1.0 / torch.log2(torch.arange(2, maxk + 2, device=hits.device, dtype=hits.dtype))
    cum_disc = torch.cumsum(disc, 0)
    out = {}
    for k in ks:
        if k > maxk:
            raise ValueError(f"K={k} larger than the ranked list ({maxk})")
        out[f"recall@{k}"] = hits[:, :k].sum(1) / n_pos
        dcg = (hits[:, :k] * disc[:k]).sum(1)
        ideal = torch.clamp(n_pos, max=k).long() - 1
        out[f"ndcg@{k}"] = dcg / cum_disc[ideal]
    return out


def _flat_keys(csr: sp.csr_matrix, rows: np.ndarray, n_cols: int) -> np.ndarray:
    """Sorted ``row_in_batch * n_cols + col`` of the non-zeros of ``csr[rows]``."""
    sub = csr[rows]
    return (np.repeat(np.arange(len(rows), dtype=np.int64) * n_cols, np.diff(sub.indptr))
            + sub.indices.astype(np.int64))


def _scores(user_emb: torch.Tensor, item_emb_t, rows: np.ndarray) -> torch.Tensor:
    """``e_u^T e_i`` for the batch. On CPU the product runs in NumPy: its OpenBLAS is 2-4x faster than
    torch's bundled BLAS for this skinny (K=64) product on the machines we measured."""
    if user_emb.device.type == "cpu":
        return torch.from_numpy(user_emb.numpy()[rows] @ item_emb_t)
    return user_emb[torch.from_numpy(rows).to(user_emb.device)] @ item_emb_t


@torch.no_grad()
def rank_topk(user_emb: torch.Tensor, item_emb: torch.Tensor, users: np.ndarray,
              exclude: list[sp.csr_matrix], k: int, batch_size: int = 1024) -> torch.Tensor:
    """Top-``k`` item ids ``[len(users), k]`` by ``e_u^T e_i`` with the ``exclude`` matrices masked."""
    device = user_emb.device
    n_items = item_emb.shape[0]
    item_t = np.ascontiguousarray(item_emb.numpy().T) if device.type == "cpu" else item_emb.T.contiguous()
    out = []
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        scores = _scores(user_emb, item_t, rows)
        for m in exclude:
            flat = torch.from_numpy(_flat_keys(m, rows, n_items)).to(device)
            scores.view(-1).index_fill_(0, flat, float("-inf"))
        out.append(torch.topk(scores, k, dim=1).indices)
    return torch.cat(out) if out else torch.empty(0, k, dtype=torch.long, device=device)


@torch.no_grad()
def evaluate_embeddings(user_emb: torch.Tensor, item_emb: torch.Tensor, dataset, split: str = "valid",
                        ks=KS, batch_size: int = 1024, exclude_valid_in_test: bool = True,
                        per_user: bool = False) -> dict:
    """Recall@K and NDCG@K on ``split`` ("valid" or "test"); see the module docstring.

    Returns ``{"recall@10": float, ...}``; with ``per_user=True`` also ``"users"`` and the
    per-user values (``"per_user": {metric: np.ndarray}``) for paired significance tests.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    user_emb, item_emb = user_emb.detach().float(), item_emb.detach().float()
    held = dataset.csr(split)
    n_held = np.diff(held.indptr)
    users = np.flatnonzero(n_held > 0)
    exclude = [dataset.train_csr]
    if split == "test" and exclude_valid_in_test:
        exclude.append(dataset.valid_csr)
    maxk = max(ks)
    device = user_emb.device
    n_items = dataset.n_items
    if maxk > n_items:
        raise ValueError(f"K={maxk} larger than the number of items ({n_items}): pass smaller ks")
    sums = {f"{m}@{k}": 0.0 for m in ("recall", "ndcg") for k in ks}
    collected = {name: [] for name in sums}
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        top = rank_topk(user_emb, item_emb, rows, exclude, maxk, batch_size)
        keys = torch.from_numpy(_flat_keys(held, rows, n_items)).to(device)
        q = top + torch.arange(len(rows), device=device).unsqueeze(1) * n_items
        pos = torch.searchsorted(keys, q).clamp_(max=len(keys) - 1)
        hits = keys[pos] == q
        n_pos = torch.from_numpy(n_held[rows]).to(device)
        for name, vals in metrics_from_hits(hits, n_pos, ks).items():
            sums[name] += float(vals.double().sum())
            if per_user:
                collected[name].append(vals.cpu().numpy())
    result = {name: (s / len(users) if len(users) else float("nan")) for name, s in sums.items()}
    result = {k: result[k] for k in sorted(result, key=lambda x: (x.split("@")[0], int(x.split("@")[1])))}
    if per_user:
        result["users"] = users
        result["per_user"] = {k: np.concatenate(v) if v else np.array([]) for k, v in collected.items()}
    return result


@torch.no_grad()
def evaluate(model, dataset, split: str = "valid", ks=KS, batch_size: int = 1024, **kwargs) -> dict:
    """Evaluate a model exposing ``forward() -> (user_emb, item_emb)``; see :func:`evaluate_embeddings`."""
    was_training = model.training
    model.eval()
    try:
        u, i = model()
        return evaluate_embeddings(u, i, dataset, split, ks, batch_size, **kwargs)
    finally:
        model.train(was_training)


def paired_ttest(a: dict, b: dict) -> dict:
    """Paired t-test over users of per-user metrics ``a`` vs ``b``.

    ``a`` and ``b`` are ``{"users": ..., "per_user": {metric: values}}`` as returned by
    :func:`evaluate_embeddings` with ``per_user=True`` or read back by :func:`load_per_user`; both must
    cover the same users in the same order. Returns ``{metric: {mean_diff, t, p, n_users}}`` (``a - b``;
    two-sided ``p``, :func:`scipy.stats.ttest_rel`).
    """
    from scipy import stats

    if not np.array_equal(np.asarray(a["users"]), np.asarray(b["users"])):
        raise ValueError("per-user metrics are over different users")
    out = {}
    for k in a["per_user"]:
        if k not in b["per_user"]:
            continue
        x, y = np.asarray(a["per_user"][k], dtype=np.float64), np.asarray(b["per_user"][k], dtype=np.float64)
        t, p = stats.ttest_rel(x, y)
        out[k] = {"mean_diff": float((x - y).mean()), "t": float(t), "p": float(p), "n_users": int(len(x))}
    return out


def save_per_user(path, evaluation: dict) -> None:
    """Write ``evaluation``'s ``users`` and ``per_user`` arrays (from ``per_user=True``) as a compressed
    ``.npz`` (users int32, metrics float32), atomically."""
    buf = io.BytesIO()
    arrays = {"users": np.asarray(evaluation["users"], dtype=np.int32)}
    arrays.update({k: np.asarray(v, dtype=np.float32) for k, v in evaluation["per_user"].items()})
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_per_user(path) -> dict:
    """Read a file written by :func:`save_per_user` back as ``{"users", "per_user"}``."""
    with np.load(path) as z:
        if "users" not in z.files:
            raise ValueError(f"{path}: no 'users' array; not a per-user metrics file")
        return {"users": z["users"], "per_user": {k: z[k] for k in z.files if k != "users"}}
