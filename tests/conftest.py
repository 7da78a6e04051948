import numpy as np
import pytest
import torch

from neggen_lite.core.data import Dataset


def write_dataset(root, name, rows, n_users=None, n_items=None, header="userID\titemID\tx_label"):
    """Write a tiny MMRec-format dataset ``root/name`` from ``(user, item, label)`` rows."""
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    n_users = n_users if n_users is not None else max(r[0] for r in rows) + 1
    n_items = n_items if n_items is not None else max(r[1] for r in rows) + 1
    (d / f"{name}.inter").write_text(header + "\n" + "".join(f"{u}\t{i}\t{x}\n" for u, i, x in rows))
    (d / "u_id_mapping.csv").write_text("user_id\tuserID\n" + "".join(f"U{u}\t{u}\n" for u in range(n_users)))
    (d / "i_id_mapping.csv").write_text("asin\titemID\n" + "".join(f"A{i}\t{i}\n" for i in range(n_items)))
    return d


def random_dataset(n_users=40, n_items=30, per_user=(4, 12), seed=0, name="toy"):
    """A random dataset with the MMRec per-user split rule (every user has train items)."""
    rng = np.random.default_rng(seed)
    splits = {0: [], 1: [], 2: []}
    for u in range(n_users):
        n = int(rng.integers(*per_user))
        items = rng.choice(n_items, n, replace=False)
        for j, it in enumerate(items):
            lab = 1 if j == n - 2 else 2 if j == n - 1 else 0
            splits[lab].append((u, int(it)))
    arr = {k: np.array(v, dtype=np.int64).reshape(-1, 2) for k, v in splits.items()}
    return Dataset(name, n_users, n_items, arr[0], arr[1], arr[2])


@pytest.fixture
def toy():
    return random_dataset()


@pytest.fixture
def ds():
    """120 users, 80 items: big enough for a few real training epochs, small enough for seconds."""
    return random_dataset(n_users=120, n_items=80, per_user=(5, 15), seed=11)


def small_config(**kw):
    """A seconds-long ``TrainConfig`` for the toy datasets (3 epochs, batch 64, lr 0.01, seed 7)."""
    from neggen_lite.training.trainer import TrainConfig

    base = dict(epochs=3, patience=10, batch_size=64, lr=0.01, checkpoint_every=1, seed=7)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


def clustered_dataset(n_users=120, n_items=80, n_clusters=4, per_user=10, seed=0, name="clustered"):
    """Users and items in clusters; users pick items of their own cluster: learnable signal."""
    rng = np.random.default_rng(seed)
    item_cluster = np.arange(n_items) % n_clusters
    splits = {0: [], 1: [], 2: []}
    for u in range(n_users):
        pool = np.flatnonzero(item_cluster == u % n_clusters)
        items = rng.choice(pool, per_user, replace=False)
        for j, it in enumerate(items):
            lab = 1 if j == per_user - 2 else 2 if j == per_user - 1 else 0
            splits[lab].append((u, int(it)))
    arr = {k: np.array(v, dtype=np.int64) for k, v in splits.items()}
    return Dataset(name, n_users, n_items, arr[0], arr[1], arr[2])


def crash_on_evaluate(monkeypatch, at: int = 3):
    """Make ``neggen_lite.training.trainer.evaluate`` raise KeyboardInterrupt on its ``at``-th call (a simulated crash
    in epoch ``at``); returns a function that restores it."""
    from neggen_lite.training import trainer as train_mod

    real, calls = train_mod.evaluate, {"n": 0}

    def crashing(*a, **k):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt(f"simulated crash in epoch {at}")
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "evaluate", crashing)
    return lambda: monkeypatch.setattr(train_mod, "evaluate", real)


@pytest.fixture(scope="session")
def executed_chapters():
    """``{chapter stem: {name: value}}``: what each chapter executed in this session recorded. Filled by
    ``tests/test_notebooks.py`` (every chapter, papermill, smoke mode) and read by
    ``tests/test_record_consistency.py``, so the chapters are executed once."""
    return {}
