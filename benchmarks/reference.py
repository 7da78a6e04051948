"""What the training benchmarks share, written once for ``bench_train.py`` and ``bench_mm_models.py``:
MMRec's way of drawing a uniform negative (a Python loop over users, redrawing training items) and of
evaluating (full ranking, training items masked, Recall/NDCG@k over users with held-out items) for the
reference runs, and the timing of a run and the summary of its per-epoch history for both sides."""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch


def run_timed(fn, *args):
    """``fn(*args)`` and the share of its wall time this process was on a CPU (1.0 = uncontended)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, (time.process_time() - c0) / (time.perf_counter() - w0)


def clock() -> tuple[float, float]:
    """Now, as (wall, this process's CPU) seconds; :func:`since` gives the time elapsed on both."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since ``start`` (:func:`clock`). CPU time leaves out the time other processes
    held the core, so the CPU ratios of two sides are steadier than their wall ratios beside other jobs."""
    return time.perf_counter() - start[0], time.process_time() - start[1]


def summarise(history):
    """Mean seconds per epoch (the first epoch, a warm-up, left out when there are three or more), the last
    evaluation's seconds, loss and validation Recall/NDCG@20; the same in CPU seconds (``epoch_cpu_s``,
    ``eval_cpu_s``) where the history has them."""
    hist = history[1:] if len(history) > 2 else history
    last = history[-1]["valid"]
    out = {"epoch_s": statistics.mean(h["seconds"] for h in hist), "eval_s": history[-1]["eval_seconds"],
           "epoch_s_all": [round(h["seconds"], 4) for h in history], "loss": history[-1]["loss"],
           "recall@20": float(last["recall@20"]), "ndcg@20": float(last["ndcg@20"])}
    if all("cpu_seconds" in h for h in hist) and "eval_cpu_seconds" in history[-1]:
        out["epoch_cpu_s"] = statistics.mean(h["cpu_seconds"] for h in hist)
        out["eval_cpu_s"] = history[-1]["eval_cpu_seconds"]
    return out


def ratios(reference: dict, ours: dict) -> dict:
    """Reference / ours per epoch and per evaluation, in wall seconds and, where both sides have them, CPU seconds."""
    out = {"epoch_ratio": reference["epoch_s"] / ours["epoch_s"], "eval_ratio": reference["eval_s"] / ours["eval_s"]}
    if "epoch_cpu_s" in reference and "epoch_cpu_s" in ours:
        out["cpu_epoch_ratio"] = reference["epoch_cpu_s"] / ours["epoch_cpu_s"]
        out["cpu_eval_ratio"] = reference["eval_cpu_s"] / ours["eval_cpu_s"]
    return out


def sample_negatives(users, user_sets, n_items, rng) -> np.ndarray:
    """One uniform non-interacted item per user, redrawn one at a time as MMRec's sampler does."""
    neg = rng.integers(0, n_items, size=len(users)).tolist()
    for k, u in enumerate(users.tolist()):
        while neg[k] in user_sets[u]:
            neg[k] = int(rng.integers(0, n_items))
    return np.array(neg, dtype=np.int64)


@torch.no_grad()
def evaluate_topk(score_batch, train_csr, held_csr, n_items: int, k: int = 20, batch_size: int = 4096) -> dict:
    """Recall@k and NDCG@k of the scores ``score_batch(user_ids) -> [len(users), n_items]`` (a new tensor
    the function may modify), training items masked, averaged over users with held-out items."""
    users = np.flatnonzero(np.diff(held_csr.indptr) > 0)
    n_pos_all = np.diff(held_csr.indptr)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = np.cumsum(disc)
    recall = ndcg = 0.0
    for start in range(0, len(users), batch_size):
        b = users[start:start + batch_size]
        scores = score_batch(b)
        seen = train_csr[b].tocoo()
        scores[torch.from_numpy(seen.row.astype(np.int64)), torch.from_numpy(seen.col.astype(np.int64))] = -np.inf
        top = torch.topk(scores, k, dim=1).indices
        held = held_csr[b].tocoo()
        truth = torch.zeros(len(b), n_items, dtype=torch.bool)
        truth[torch.from_numpy(held.row.astype(np.int64)), torch.from_numpy(held.col.astype(np.int64))] = True
        hits = torch.gather(truth, 1, top).numpy().astype(np.float64)
        n_pos = n_pos_all[b]
        recall += (hits.sum(1) / n_pos).sum()
        ndcg += ((hits * disc).sum(1) / idcg[np.minimum(n_pos, k) - 1]).sum()
    return {f"recall@{k}": recall / len(users), f"ndcg@{k}": ndcg / len(users)}
