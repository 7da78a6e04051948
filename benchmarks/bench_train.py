"""Seconds per LightGCN training epoch and per full evaluation: ``neggen_lite`` vs a plain reference.

The reference (below, ~70 lines) is LightGCN as a typical research repository writes it: per epoch a
numpy shuffle and a numpy rejection sampler against per-user Python sets; per batch of 2048 a full
propagation with ``torch.sparse.mm`` on a COO ``D^-1/2 A D^-1/2`` built with SciPy, mean over the
4 layer outputs, BPR + the same L2 penalty, an Adam step; full evaluation in batches of 4096 users
with training items set to ``-inf`` by dense indexing and ``torch.topk``. Same settings and seed as
ours (the initial embeddings are identical; shuffling and negatives come from different RNGs).

Both run in this process, on the CPU, with the same number of torch threads (default 1), ``--repeats``
times (default 3) in alternating order; each ratio is the median over the repeats, and ``ours`` /
``reference`` are the repeat with the median epoch ratio (``repeat_epoch_ratios`` lists them all: on a
shared host one run's ratio moved between 2.7x and 3.1x). Reported: mean seconds per training epoch (the
first epoch is left out as warm-up when ``--epochs`` > 2), seconds of one full validation evaluation after
the last epoch (ours: the one ``fit`` times), the ratio reference / ours for each, validation Recall@20 /
NDCG@20 of both after the last epoch, and each side's CPU share (process CPU time / wall time; below 1
means other processes took the core and the wall-clock numbers are inflated), the same ratios in CPU
seconds, and the ``floor``: the CPU seconds of the propagations (the sparse products, restricted to each
batch's rows as ours does), score product and top-k alone (:func:`floor`). Numbers go to
``benchmarks/results/bench_train.json``.

    .venv/bin/python benchmarks/bench_train.py                 # baby + clothing, 5 epochs, 1 thread
    .venv/bin/python benchmarks/bench_train.py --datasets baby --epochs 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from neggen_lite.core import data, metrics
from neggen_lite.core.graph import layer_mean_rows, normalized_adjacency
from neggen_lite.training import trainer as train
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import git_commit, keep_freed_memory, seed_everything
from reference import clock, evaluate_topk, ratios, run_timed, sample_negatives, since, summarise

RESULTS = benchmark_path("bench_train")


# ---------------------------------------------------------------------------------------------
# reference implementation: per-batch, dense-indexed PyTorch


class RefLightGCN(nn.Module):
    def __init__(self, n_users, n_items, train_pairs, dim=64, n_layers=3):
        super().__init__()
        self.n_users, self.n_items, self.n_layers = n_users, n_items, n_layers
        self.user_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.item_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_items, dim)))
        r = sp.coo_matrix((np.ones(len(train_pairs), dtype=np.float32), (train_pairs[:, 0], train_pairs[:, 1])),
                          shape=(n_users, n_items))
        a = sp.bmat([[None, r], [r.T, None]]).tocsr()
        deg = np.asarray(a.sum(axis=1)).ravel()
        with np.errstate(divide="ignore"):
            d_inv = np.power(deg, -0.5)
        d_inv[np.isinf(d_inv)] = 0.0
        norm = (sp.diags(d_inv) @ a @ sp.diags(d_inv)).tocoo()
        idx = torch.from_numpy(np.vstack([norm.row, norm.col]).astype(np.int64))
        self.adj = torch.sparse_coo_tensor(idx, torch.from_numpy(norm.data.astype(np.float32)), norm.shape,
                                           check_invariants=False).coalesce()

    def propagate(self):
        x = torch.cat([self.user_emb, self.item_emb], dim=0)
        layers = [x]
        for _ in range(self.n_layers):
            x = torch.sparse.mm(self.adj, x)
            layers.append(x)
        out = torch.stack(layers, dim=1).mean(dim=1)
        return torch.split(out, [self.n_users, self.n_items])


def ref_train_epoch(model, opt, train_pairs, user_sets, rng, batch_size=2048, reg=1e-4):
    perm = rng.permutation(len(train_pairs))
    users, pos = train_pairs[perm, 0], train_pairs[perm, 1]
    neg = sample_negatives(users, user_sets, model.n_items, rng)
    total = 0.0
    for start in range(0, len(users), batch_size):
        u = torch.from_numpy(users[start:start + batch_size])
        i = torch.from_numpy(pos[start:start + batch_size])
        j = torch.from_numpy(neg[start:start + batch_size])
        all_u, all_i = model.propagate()
        ue, ie, je = all_u[u], all_i[i], all_i[j]
        bpr = -F.logsigmoid((ue * ie).sum(1) - (ue * je).sum(1)).mean()
        l2 = (model.user_emb[u].norm(2).pow(2) + model.item_emb[i].norm(2).pow(2)
              + model.item_emb[j].norm(2).pow(2)) / 2 / len(u)
        loss = bpr + reg * l2
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(u)
    return total / len(users)


@torch.no_grad()
def ref_evaluate(model, train_csr, held_csr, k=20, batch_size=4096):
    all_u, all_i = model.propagate()
    return evaluate_topk(lambda b: all_u[torch.from_numpy(b)] @ all_i.T, train_csr, held_csr, model.n_items, k,
                         batch_size)


def run_reference(ds, epochs, seed):
    """``epochs`` epochs of the reference, one full validation evaluation after the last one."""
    torch.manual_seed(seed)  # same initial embeddings as neggen_lite (seed_everything, then build_model)
    model = RefLightGCN(ds.n_users, ds.n_items, ds.train)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    user_sets = [set() for _ in range(ds.n_users)]
    for u, i in ds.train.tolist():
        user_sets[u].add(i)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = clock()
        loss = ref_train_epoch(model, opt, ds.train, user_sets, rng)
        rec = {"epoch": epoch, "loss": loss}
        rec["seconds"], rec["cpu_seconds"] = since(t0)
        if epoch == epochs:
            t1 = clock()
            rec["valid"] = ref_evaluate(model, ds.train_csr, ds.valid_csr)
            rec["eval_seconds"], rec["eval_cpu_seconds"] = since(t1)
        history.append(rec)
    return history


# ---------------------------------------------------------------------------------------------
# ours


def run_ours(ds, epochs, seed, threads, keep: dict | None = None):
    """``fit`` for ``epochs`` epochs, validating once after the last (``fit`` also scores the test split
    once at the end; that evaluation is not timed here). The trained model goes to ``keep["model"]``."""
    cfg = train.TrainConfig(epochs=epochs, patience=epochs, eval_every=epochs, seed=seed, checkpoint_every=10**9)
    seed_everything(seed)  # as fit does before building its model: the same initial embeddings
    model = train.build_model(cfg.model, ds, "cpu", cfg.dim, cfg.n_layers)
    res = train.fit(ds, cfg, device="cpu", checkpoint=None, progress=False, threads=threads, log_every=0, model=model)
    if keep is not None:
        keep["model"] = model
    return [{k: h[k] for k in ("epoch", "loss", "seconds", "cpu_seconds", "eval_seconds", "eval_cpu_seconds", "valid")
             if k in h} for h in res["history"]]


def floor(ds, model, batch_size: int = train.TrainConfig.batch_size, k: int = 20) -> dict:
    """CPU seconds of the work any LightGCN epoch and full evaluation must do, timed alone with our kernels on
    the trained ``model``'s embeddings: per epoch, one propagation per batch of ``batch_size`` training pairs
    (with uniform negatives), forward and backward (:func:`~neggen_lite.core.graph.layer_mean_rows`, the
    ``L`` layers' sparse products restricted to the batch's rows where ours restricts them); per evaluation,
    the score product and top-``k`` of every validation user (no masking; top-k's time depends on the scores,
    so trained ones). The reference's seconds over these bound how much faster than the reference any trainer
    built on these kernels can be."""
    model.eval()
    adj = normalized_adjacency(ds.train_csr)
    user_emb, item_emb = (t.detach().clone().requires_grad_(True) for t in (model.user_emb, model.item_emb))
    gen = torch.Generator().manual_seed(0)
    pairs = torch.from_numpy(ds.train)[torch.randperm(len(ds.train), generator=gen)]
    batches = [torch.cat([b[:, 0], b[:, 1] + ds.n_users, torch.randint(0, ds.n_items, (len(b),), generator=gen)
                          + ds.n_users]) for b in pairs.split(batch_size)]
    layer_mean_rows(adj, model.n_layers, batches[0], user_emb, item_emb).sum().backward()  # warm-up
    start = clock()
    for rows in batches:
        layer_mean_rows(adj, model.n_layers, rows, user_emb, item_emb).sum().backward()
    epoch_cpu = since(start)[1]
    with torch.no_grad():
        u, i = model()
    held = ds.csr("valid")
    users = np.flatnonzero(np.diff(held.indptr) > 0)
    item_t = np.ascontiguousarray(i.numpy().T)
    start = clock()
    for lo in range(0, len(users), 1024):
        torch.topk(metrics._scores(u, item_t, users[lo:lo + 1024]), k, dim=1)
    return {"epoch_cpu_s": epoch_cpu, "eval_cpu_s": since(start)[1], "propagations_per_epoch": len(batches)}


def compare(ds, epochs: int, seed: int, threads: int, repeats: int) -> dict:
    """One dataset's row: ours and the reference ``repeats`` times in alternating order (a drift in the
    machine's speed hits both sides), each ratio the median over the repeats, ``ours``/``reference`` the
    repeat with the median epoch ratio, ``repeat_epoch_ratios`` all of them, and the :func:`floor`."""
    trained, runs = {}, []
    for rep in range(repeats):
        side = {}
        for who in (("ours", "reference") if rep % 2 == 0 else ("reference", "ours")):
            torch.set_num_threads(threads)
            if who == "ours":
                hist, share = run_timed(run_ours, ds, epochs, seed, threads, trained)
            else:
                hist, share = run_timed(run_reference, ds, epochs, seed)
            side[who] = summarise(hist) | {"cpu_share": share}
        runs.append({"ours": side["ours"], "reference": side["reference"]} | ratios(side["reference"], side["ours"]))
    median = sorted(runs, key=lambda r: r["epoch_ratio"])[len(runs) // 2]
    keys = ratios(median["reference"], median["ours"])
    return ({"dataset": ds.name, "users": ds.n_users, "items": ds.n_items, "train_pairs": len(ds.train),
             "ours": median["ours"], "reference": median["reference"], "floor": floor(ds, trained["model"])}
            | {key: statistics.median(r[key] for r in runs) for key in keys}
            | {"repeat_epoch_ratios": [round(r["epoch_ratio"], 3) for r in runs]})


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["baby", "clothing"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--repeats", type=int, default=3, help="ours and the reference, alternately, this many times; "
                   "each ratio is the median over the repeats")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    torch.set_num_threads(args.threads)
    keep_freed_memory()   # what fit() sets, process-wide: for the reference from its first epoch too

    rows = [compare(data.load(name, side_info=False), args.epochs, args.seed, args.threads, args.repeats)
            for name in args.datasets]

    threads = torch.get_num_threads()
    timed = "epochs 2.." if args.epochs > 2 else "all epochs"
    print(f"LightGCN (dim 64, 3 layers, batch 2048), {args.epochs} epochs, seed {args.seed}, "
          f"torch {torch.__version__}, {threads} thread(s), CPU; means over {timed}; "
          f"load average {os.getloadavg()[0]:.2f}")
    head = (f"{'dataset':9} {'epoch ref':>9} {'ours':>7} {'x':>5} | {'eval ref':>8} {'ours':>6} {'x':>5} | "
            f"{'R@20 ref':>8} {'ours':>6} | {'N@20 ref':>8} {'ours':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        o, f = r["ours"], r["reference"]
        print(f"{r['dataset']:9} {f['epoch_s']:8.2f}s {o['epoch_s']:6.2f}s {r['epoch_ratio']:5.2f} | "
              f"{f['eval_s']:7.2f}s {o['eval_s']:5.2f}s {r['eval_ratio']:5.2f} | "
              f"{f['recall@20']:8.4f} {o['recall@20']:6.4f} | {f['ndcg@20']:8.4f} {o['ndcg@20']:6.4f}")
    print("x = reference seconds / ours (higher is better for ours); eval = one full validation ranking "
          "after the last epoch;\nmetrics: validation, after the last epoch; CPU share (process CPU time / wall "
          "time, 1 = uncontended): " + ", ".join(f"{r['dataset']} ref {r['reference']['cpu_share']:.2f} ours "
                                                 f"{r['ours']['cpu_share']:.2f}" for r in rows))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "bench_train", "epochs": args.epochs, "repeats": args.repeats, "seed": args.seed,
              "threads": threads,
              "timed_epochs": timed, "torch": torch.__version__, "numpy": np.__version__,
              "python": platform.python_version(), "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "commit": git_commit(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": rows}
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {out}")
    return record


if __name__ == "__main__":
    main()
