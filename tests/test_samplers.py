import numpy as np
import pytest
import scipy.sparse as sp
import torch

from neggen_lite.samplers.uniform import NegativeSampler, PositiveIndex, UniformSampler


def test_never_returns_a_positive_even_for_dense_users():
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 40
    m = (rng.random((n_users, n_items)) < 0.3).astype(np.float32)
    m[0, :-1] = 1  # user 0 has a single negative: item 39
    m[1, 0] = 0
    m[1, 1:] = 1  # user 1 has a single negative: item 0
    csr = sp.csr_matrix(m)
    s = UniformSampler(csr, seed=1)
    assert isinstance(s, NegativeSampler)
    users = torch.from_numpy(rng.integers(0, n_users, 20000))
    neg = s.sample(users, None)
    assert not m[users.numpy(), neg.numpy()].any()
    assert (neg[users == 0] == 39).all() and (neg[users == 1] == 0).all()


def test_uniform_over_non_positives():
    csr = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0]], dtype=np.float32))
    s = UniformSampler(csr, seed=0)
    neg = s.sample(torch.zeros(40000, dtype=torch.long)).numpy()
    counts = np.bincount(neg, minlength=6)
    assert counts[:2].sum() == 0
    assert np.abs(counts[2:] / 40000 - 0.25).max() < 0.01  # 4 sigma ~ 0.0087


def test_same_seed_same_samples_and_state_roundtrip(toy):
    a, b = UniformSampler(toy.train_csr, seed=3), UniformSampler(toy.train_csr, seed=3)
    users = torch.arange(toy.n_users).repeat(5)
    assert torch.equal(a.sample(users), b.sample(users))
    st = a.state_dict()
    x = a.sample(users)
    a.load_state_dict(st)
    assert torch.equal(a.sample(users), x)
    assert not torch.equal(UniformSampler(toy.train_csr, seed=4).sample(users), x)


def test_positive_index_and_full_user_error():
    csr = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    idx = PositiveIndex(csr)
    got = idx.contains(torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 1, 2]))
    assert got.tolist() == [True, False, True, True, False]
    with pytest.raises(ValueError, match="user 0 has interacted with all 2 items"):
        UniformSampler(sp.csr_matrix(np.ones((1, 2), dtype=np.float32)))


def test_candidates_shape(toy):
    s = UniformSampler(toy.train_csr, seed=0)
    c = s.candidates(torch.arange(5), k=7)
    assert c.shape == (5, 7)
    for u in range(5):
        assert not set(c[u].tolist()) & set(toy.train[toy.train[:, 0] == u, 1].tolist())
