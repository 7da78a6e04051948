import numpy as np
import pytest
import torch

from neggen_lite.core.graph import normalized_adjacency, normalized_adjacency_scipy, propagate, sparse_dense_mm
from neggen_lite.models.lightgcn import BPRMF, LightGCN, build_model


def dense_adjacency(ds):
    n = ds.n_users + ds.n_items
    a = np.zeros((n, n))
    for u, i in ds.train:
        a[u, ds.n_users + i] = a[ds.n_users + i, u] = 1
    deg = a.sum(1)
    with np.errstate(divide="ignore"):
        d = np.where(deg > 0, deg ** -0.5, 0)
    return a * d[:, None] * d[None, :]


def test_adjacency_is_eq6(toy):
    a = normalized_adjacency_scipy(toy.train_csr).toarray()
    np.testing.assert_allclose(a, dense_adjacency(toy), rtol=1e-6)
    np.testing.assert_allclose(a, a.T)
    u, i = toy.train[0]
    du, di = (toy.train[:, 0] == u).sum(), (toy.train[:, 1] == i).sum()
    assert a[u, toy.n_users + i] == pytest.approx(1 / np.sqrt(du * di))
    for layout in ("csr", "coo"):
        t = normalized_adjacency(toy.train_csr, "cpu", layout)
        np.testing.assert_allclose(t.to_dense().numpy(), a, rtol=1e-6)


def test_lightgcn_matches_dense_propagation(toy):
    torch.manual_seed(0)
    model = build_model("lightgcn", toy, "cpu", dim=16, n_layers=3)
    a = torch.tensor(dense_adjacency(toy), dtype=torch.float64)
    x = torch.cat([model.user_emb, model.item_emb]).detach().double()
    layers = [x]
    for _ in range(3):
        layers.append(a @ layers[-1])
    want = torch.stack(layers).mean(0)  # Eq. 7
    u, i = model()
    torch.testing.assert_close(torch.cat([u, i]).double(), want, rtol=1e-5, atol=1e-6)


def test_zero_layers_is_matrix_factorisation(toy):
    model = build_model("lightgcn", toy, "cpu", n_layers=0)
    u, i = model()
    assert torch.equal(u, model.user_emb) and torch.equal(i, model.item_emb)


def test_propagate_gradient_matches_dense_autograd(toy):
    adj = normalized_adjacency(toy.train_csr, "cpu")
    dense = torch.tensor(dense_adjacency(toy), dtype=torch.float32)
    x1 = torch.randn(dense.shape[0], 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = torch.randn(dense.shape[0], 5)
    (propagate(adj, propagate(adj, x1)) * w).sum().backward()
    (dense @ (dense @ x2) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)


def test_xavier_init_and_dimension(toy):
    torch.manual_seed(0)
    m = BPRMF(1000, 500, 64)
    bound = np.sqrt(6 / (1000 + 64))
    assert m.user_emb.shape == (1000, 64)
    assert m.user_emb.abs().max() <= bound and m.user_emb.abs().max() > 0.9 * bound
    assert torch.allclose(m.score(torch.tensor([0, 1])), m.user_emb[[0, 1]] @ m.item_emb.T)


def test_bad_arguments(toy):
    adj = normalized_adjacency(toy.train_csr, "cpu")
    with pytest.raises(ValueError, match="adjacency shape"):
        LightGCN(toy.n_users + 1, toy.n_items, adj)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("ngcf", toy, "cpu")


def test_sparse_dense_mm_gives_the_numbers_of_the_plain_product_bit_for_bit():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    m = sp.random(300, 300, density=0.03, random_state=1, format="csr", dtype=np.float32)
    csr = normalized_adjacency(sp.csr_matrix(m[:120, 120:]), "cpu")      # a bipartite graph, 120 + 180 nodes
    x = torch.from_numpy(rng.standard_normal((300, 64)).astype(np.float32))
    assert torch.equal(sparse_dense_mm(csr, x), csr @ x)
    assert torch.equal(sparse_dense_mm(csr, x.T.contiguous().T), csr @ x)   # a column-major input
    coo = csr.to_sparse_coo()
    assert torch.equal(sparse_dense_mm(coo, x), coo @ x)                   # other layouts: the plain product
    # through autograd: the same gradient as the plain product's
    a = x.clone().requires_grad_(True)
    (propagate(csr, a) ** 2).sum().backward()
    b = x.clone().requires_grad_(True)
    ((csr @ b) ** 2).sum().backward()
    assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize("n_layers", [0, 1, 3])
def test_batch_rows_match_the_layer_mean_and_its_gradient(toy, n_layers):
    """LightGCN.batch_rows (one autograd function, Horner's backward) gives forward()'s rows and the same
    gradients as autograd through the layers, with repeated users and items in the batch."""
    from neggen_lite.training.trainer import _BatchView, batch_loss

    torch.manual_seed(0)
    model = build_model("lightgcn", toy, "cpu", dim=8, n_layers=n_layers).double()
    g = torch.Generator().manual_seed(1)
    users = torch.randint(0, toy.n_users, (40,), generator=g)
    pos, neg = (torch.randint(0, toy.n_items, (40,), generator=g) for _ in range(2))
    u, i = model()
    for got, want in zip(model.batch_rows(users, pos, neg), (u[users], i[pos], i[neg])):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)

    def grads(view_forward: bool, view_class=_BatchView):
        model.zero_grad()
        view = view_class(model)
        if view_forward:  # a sampler that scored candidates ran the shared forward first
            view()
        loss, _ = batch_loss(view, users, pos, neg, reg=1e-2)
        loss.backward()
        return loss.detach(), model.user_emb.grad.clone(), model.item_emb.grad.clone()

    calls = []
    real = model.batch_rows
    model.batch_rows = lambda *a: calls.append(1) or real(*a)
    fast = grads(False)
    assert calls == [1]
    slow = grads(True)  # the forward ran: indexed from it, batch_rows not called again
    assert calls == [1]
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
    torch.set_num_threads(2)  # the backward's first product runs as a full sparse product then
    try:
        for a, b in zip(grads(False), slow):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
    finally:
        torch.set_num_threads(1)
    assert fast[1].abs().sum() > 0 and fast[2].abs().sum() > 0
    if n_layers:  # in float32 the rows are forward()'s bit for bit (the last layer runs on the batch's rows only)
        model.float()
        u, i = model()
        assert all(torch.equal(got, want) for got, want in
                   zip(model.batch_rows(users, pos, neg), (u[users], i[pos], i[neg])))
