"""The user-item bipartite graph of LightGCN (paper Eq. 6).

The adjacency is ``A = [[0, R], [R^T, 0]]`` over ``n_users + n_items`` nodes, normalised
symmetrically as ``D^{-1/2} A D^{-1/2}``, so that entry ``(j, k)`` is ``1 / sqrt(|N_j| |N_k|)``
exactly as in Eq. 6. Isolated nodes (no training edge) get a zero row.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

from .runtime import resolve_device


def normalized_adjacency_scipy(train_csr: sp.spmatrix) -> sp.csr_matrix:
    """``D^{-1/2} A D^{-1/2}`` of the bipartite graph, as a SciPy CSR matrix (float32)."""
    r = sp.csr_matrix(train_csr, dtype=np.float32)
    r.data[:] = 1.0
    a = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    deg = np.asarray(a.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0).astype(np.float32)
    d = sp.diags(inv_sqrt)
    out = (d @ a @ d).tocsr()
    out.sort_indices()
    return out.astype(np.float32)


def to_torch_sparse(m: sp.spmatrix, device=None, layout: str = "csr", dtype=np.float32) -> torch.Tensor:
    """A SciPy sparse matrix as a torch sparse tensor (``csr`` or ``coo`` layout, values of ``dtype``) on ``device``."""
    device = resolve_device(device)
    if layout == "csr":
        m = sp.csr_matrix(m)
        with warnings.catch_warnings():  # "CSR support is in beta": CSR @ dense is what we use, and it is tested
            warnings.simplefilter("ignore", UserWarning)
            t = torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                        torch.from_numpy(m.indices.astype(np.int64)),
                                        torch.from_numpy(m.data.astype(dtype)), size=m.shape,
                                        check_invariants=False)
    elif layout == "coo":
        m = sp.coo_matrix(m)
        idx = torch.from_numpy(np.vstack([m.row, m.col]).astype(np.int64))
        t = torch.sparse_coo_tensor(idx, torch.from_numpy(m.data.astype(dtype)), size=m.shape,
                                    check_invariants=False).coalesce()
    else:
        raise ValueError(f"layout must be 'csr' or 'coo', got {layout!r}")
    return t.to(device)


def normalized_adjacency(train_csr: sp.spmatrix, device=None, layout: str = "csr") -> torch.Tensor:
    """Eq. 6's normalised bipartite adjacency as a torch sparse tensor on ``device``."""
    return to_torch_sparse(normalized_adjacency_scipy(train_csr), device, layout)


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for an integer ``index`` of any shape, by ``index_select``: on the CPU ~7x faster than
    advanced indexing for a batch's rows (Baby, 4,800 of 26,495 rows of 64: 0.07 vs 0.48 ms), and its backward
    is an ``index_add_`` instead of an accumulating ``index_put_`` (0.15 vs 0.38 ms)."""
    return table.index_select(0, index.reshape(-1)).view(*index.shape, *table.shape[1:])


def sparse_dense_mm(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``a @ x`` for a sparse ``a`` and a dense ``x``, outside autograd (inside a Function's forward or backward).

    On the CPU a CSR product is written by ``addmm(beta=0)`` into a fresh buffer: the same numbers as
    ``a @ x`` bit for bit (``tests/test_graph_models.py``), where ``a @ x`` zero-fills its result first and
    copies it once more; one LightGCN batch (3 layers, forward and backward, Baby) took 105-108 ms instead of
    134 ms. Elsewhere (CUDA, other layouts) it is ``a @ x``."""
    if a.layout == torch.sparse_csr and x.device.type == "cpu" and a.dtype == x.dtype:
        out = torch.empty(a.shape[0], x.shape[1], dtype=x.dtype)
        return torch.addmm(out, a, x.contiguous(), beta=0, out=out)
    return a @ x


class _SymmetricSpMM(torch.autograd.Function):
    """``A @ X`` for a fixed symmetric sparse ``A``; the backward is ``A^T G = A G``."""

    @staticmethod
    def forward(ctx, adj, x):
        ctx.adj = adj
        return sparse_dense_mm(adj, x)

    @staticmethod
    def backward(ctx, grad):
        return None, sparse_dense_mm(ctx.adj, grad)


def propagate(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One LightGCN layer ``A_hat @ X`` (Eq. 6), differentiable in ``X``; ``adj`` must be symmetric."""
    return _SymmetricSpMM.apply(adj, x)


class _LayerMeanRows(torch.autograd.Function):
    """Rows ``rows`` of LightGCN's layer mean ``(X + A X + ... + A^L X) / (L + 1)`` (Eq. 6-7), ``X = [U; I]``.

    The same values as :func:`propagate` layer by layer and indexing the mean; the backward builds the dense
    gradient once, ``G`` (the rows' gradients scattered into zeros, over ``L + 1``), and runs Horner's scheme
    ``H <- G + A H`` ``L`` times (``A`` symmetric): one full-size buffer per product, where autograd through the
    layers, the mean, the user/item split and three indexings materialises a dozen.

    On the CPU (CSR ``A``) both ends of the chain touch only the batch's rows ``R`` (unique; on Baby ~4,800 of
    26,495 nodes, whose rows hold ~38 % of ``A``'s entries): the last layer is ``A[R] X_{L-1}``, and the layer
    sums are gathered at ``R`` instead of added over every node (bit for bit the same forward); the backward's
    first product, ``A G`` with ``G`` zero outside ``R``, is ``A[R]^T G[R]`` (SciPy's CSC product, ``A`` being
    symmetric; ~2 of ~4 ms per Baby batch; on one thread only, as SciPy does not use more). Both sum each entry
    over the same neighbours in the same order: Baby's validation R@20 after 5 epochs is unchanged (0.0616)."""

    @staticmethod
    def forward(ctx, adj, n_layers, rows, user_emb, item_emb):
        x = torch.cat([user_emb, item_emb], dim=0)
        ctx.adj, ctx.n_layers, ctx.n_users, ctx.sub = adj, n_layers, user_emb.shape[0], None
        if n_layers == 0 or adj.layout != torch.sparse_csr or x.device.type != "cpu" or adj.dtype != x.dtype:
            acc = x
            for layer in range(n_layers):
                x = sparse_dense_mm(adj, x)
                acc = acc + x if layer == 0 else acc.add_(x)
            ctx.save_for_backward(rows)
            return acc[rows] / (n_layers + 1)
        uniq, inverse = torch.unique(rows, return_inverse=True)
        ctx.sub = _csr_rows(adj, uniq)
        parts = [x.index_select(0, uniq)]
        for _ in range(n_layers - 1):
            x = sparse_dense_mm(adj, x)
            parts.append(x.index_select(0, uniq))
        parts.append(sparse_dense_mm(to_torch_sparse(ctx.sub, "cpu", dtype=ctx.sub.dtype), x))
        acc = parts[0] + parts[1]
        for part in parts[2:]:
            acc.add_(part)
        ctx.save_for_backward(uniq, inverse)
        return acc.index_select(0, inverse).div_(n_layers + 1)

    @staticmethod
    def backward(ctx, grad_rows):
        if ctx.sub is None:
            (rows,) = ctx.saved_tensors
            g = torch.zeros(ctx.adj.shape[0], grad_rows.shape[1], dtype=grad_rows.dtype, device=grad_rows.device)
            g.index_add_(0, rows, grad_rows).div_(ctx.n_layers + 1)
            h = g
            for _ in range(ctx.n_layers):
                h = sparse_dense_mm(ctx.adj, h).add_(g)
        else:
            uniq, inverse = ctx.saved_tensors
            g = torch.zeros(len(uniq), grad_rows.shape[1], dtype=grad_rows.dtype)
            g.index_add_(0, inverse, grad_rows).div_(ctx.n_layers + 1)       # G's nonzero rows
            if torch.get_num_threads() == 1:  # SciPy's product is single-threaded: with more, the full one wins
                h = torch.from_numpy(ctx.sub.T @ g.numpy())                    # A G
            else:
                dense = torch.zeros(ctx.adj.shape[0], g.shape[1], dtype=g.dtype).index_copy_(0, uniq, g)
                h = sparse_dense_mm(ctx.adj, dense)
            h.index_add_(0, uniq, g)                                             # + G
            for _ in range(ctx.n_layers - 1):
                h = sparse_dense_mm(ctx.adj, h).index_add_(0, uniq, g)
        return None, None, None, h[: ctx.n_users], h[ctx.n_users:]


def _csr_rows(adj: torch.Tensor, rows: torch.Tensor) -> sp.csr_matrix:
    """Rows ``rows`` of the CPU CSR tensor ``adj`` as a SciPy CSR matrix (its row slicing is ~10x faster than
    gathering the segments with torch ops); the full matrix is viewed, not copied."""
    full = sp.csr_matrix((adj.values().numpy(), adj.col_indices().numpy(), adj.crow_indices().numpy()),
                         shape=tuple(adj.shape), copy=False)
    return full[rows.numpy()]


def layer_mean_rows(adj: torch.Tensor, n_layers: int, rows: torch.Tensor, user_emb: torch.Tensor,
                    item_emb: torch.Tensor) -> torch.Tensor:
    """Rows ``rows`` (users first, items offset by ``len(user_emb)``) of LightGCN's layer mean (Eq. 6-7) over the
    symmetric ``adj``, differentiable in both embedding tables (:class:`_LayerMeanRows`)."""
    return _LayerMeanRows.apply(adj, n_layers, rows, user_emb, item_emb)
