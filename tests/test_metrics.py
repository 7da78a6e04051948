import math

import numpy as np
import pytest
import torch

from neggen_lite.core.data import Dataset
from neggen_lite.core.metrics import evaluate_embeddings, metrics_from_hits

from conftest import random_dataset


def brute_force(user_emb, item_emb, ds, split, ks, exclude_valid=True):
    """Per-user loops in plain Python: the reference the vectorised evaluator must equal."""
    U, I = user_emb.numpy().astype(np.float64), item_emb.numpy().astype(np.float64)
    held = {}
    for u, i in ds.split(split):
        held.setdefault(int(u), set()).add(int(i))
    known = {}
    for u, i in ds.train.tolist() + (ds.valid.tolist() if split == "test" and exclude_valid else []):
        known.setdefault(u, set()).add(i)
    out = {f"{m}@{k}": [] for m in ("recall", "ndcg") for k in ks}
    for u in sorted(held):
        cand = [i for i in range(ds.n_items) if i not in known.get(u, set())]
        cand.sort(key=lambda i: -(U[u] @ I[i]))
        for k in ks:
            top = cand[:k]
            hits = [1 if i in held[u] else 0 for i in top]
            out[f"recall@{k}"].append(sum(hits) / len(held[u]))
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(held[u]), k)))
            out[f"ndcg@{k}"].append(dcg / idcg)
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_hand_made_case():
    # one user, held-out {A, B, C}; ranked list hits at positions 1 and 3 of K=2..3
    hits = torch.tensor([[1, 0, 1]])
    m = metrics_from_hits(hits, torch.tensor([3]), ks=(2, 3))
    assert m["recall@2"].item() == pytest.approx(1 / 3)  # MMRec: divide by |held-out| = 3, not min(K, 3) = 2
    assert m["recall@3"].item() == pytest.approx(2 / 3)
    idcg2 = 1 + 1 / math.log2(3)
    assert m["ndcg@2"].item() == pytest.approx(1 / idcg2)
    assert m["ndcg@3"].item() == pytest.approx((1 + 1 / 2) / (idcg2 + 1 / 2))
    # a user with 1 held-out item found at rank 2: IDCG uses min(K, 1) = 1 position
    m = metrics_from_hits(torch.tensor([[0, 1, 0]]), torch.tensor([1]), ks=(3,))
    assert m["recall@3"].item() == 1.0
    assert m["ndcg@3"].item() == pytest.approx(1 / math.log2(3))


def test_tiny_exact_ranking():
    # 1 user, 4 items, train {0}, test {3}; scores rank 0 > 3 > 1 > 2 -> after masking item 0, 3 is first
    ds = Dataset("t", 1, 4, np.array([[0, 0]]), np.zeros((0, 2), np.int64), np.array([[0, 3]]))
    u = torch.tensor([[1.0]])
    i = torch.tensor([[4.0], [2.0], [1.0], [3.0]])
    r = evaluate_embeddings(u, i, ds, "test", ks=(1, 2))
    assert r["recall@1"] == 1.0 and r["ndcg@1"] == 1.0
    # without masking train item 0 would be first; check masking matters by moving test to item 1
    ds2 = Dataset("t", 1, 4, np.array([[0, 0]]), np.zeros((0, 2), np.int64), np.array([[0, 1]]))
    r2 = evaluate_embeddings(u, i, ds2, "test", ks=(1, 2))
    assert r2["recall@1"] == 0.0 and r2["recall@2"] == 1.0
    assert r2["ndcg@2"] == pytest.approx(1 / math.log2(3))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("split", ["valid", "test"])
def test_matches_brute_force(seed, split):
    ds = random_dataset(n_users=37, n_items=29, seed=seed)
    g = torch.Generator().manual_seed(seed)
    ue, ie = torch.randn(ds.n_users, 8, generator=g), torch.randn(ds.n_items, 8, generator=g)
    ks = (1, 5, 10)
    got = evaluate_embeddings(ue, ie, ds, split, ks=ks, batch_size=7)  # several batches
    want = brute_force(ue, ie, ds, split, ks)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-6), k


def test_valid_items_masked_only_when_asked():
    ds = random_dataset(seed=5)
    g = torch.Generator().manual_seed(3)
    ue, ie = torch.randn(ds.n_users, 8, generator=g), torch.randn(ds.n_items, 8, generator=g)
    a = evaluate_embeddings(ue, ie, ds, "test", ks=(10,))
    b = evaluate_embeddings(ue, ie, ds, "test", ks=(10,), exclude_valid_in_test=False)
    assert a["recall@10"] == pytest.approx(brute_force(ue, ie, ds, "test", (10,))["recall@10"])
    assert b["recall@10"] == pytest.approx(brute_force(ue, ie, ds, "test", (10,), exclude_valid=False)["recall@10"])
    assert a != b


def test_per_user_values_average_to_the_mean():
    ds = random_dataset(seed=7)
    ue, ie = torch.randn(ds.n_users, 4), torch.randn(ds.n_items, 4)
    r = evaluate_embeddings(ue, ie, ds, "valid", per_user=True)
    assert len(r["users"]) == len(np.unique(ds.valid[:, 0]))
    for k, v in r["per_user"].items():
        assert v.mean() == pytest.approx(r[k])
        assert ((v >= 0) & (v <= 1)).all()


def test_a_cutoff_beyond_the_item_count_is_a_clear_error():
    """Found on a GPU: a 15-item dataset evaluated at K=20 failed inside torch.topk ("selected index k out of
    range"); the evaluator now says which K and how many items."""
    ds = random_dataset(n_users=10, n_items=15, seed=1)
    u, i = torch.randn(ds.n_users, 4), torch.randn(ds.n_items, 4)
    with pytest.raises(ValueError, match=r"K=20 larger than the number of items \(15\)"):
        evaluate_embeddings(u, i, ds, "valid", ks=(10, 20))
    assert set(evaluate_embeddings(u, i, ds, "valid", ks=(5, 15))) == {"recall@5", "recall@15", "ndcg@5", "ndcg@15"}
