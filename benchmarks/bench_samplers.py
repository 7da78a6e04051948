"""Seconds per LightGCN training epoch with each negative sampler, relative to uniform sampling.

All samplers run in this process through :func:`neggen_lite.training.trainer.fit` (same model, seed, batch size
2048, torch threads), one after the other; uniform sampling runs first and again last, and the
reference is the mean of the two, so a drift in machine load shows up as a difference between them.
Timed: the training part of each epoch (``history[*]["seconds"]``: sampling, loss, backward, Adam;
no evaluation), mean over the epochs after the first (the first is warm-up) when ``--epochs`` > 1.
Also printed: each sampler's last-epoch diagnostics (score gap, Eq. 3 gradient norm, false-negative
share) and its process CPU share (CPU time / wall time; below 1 means other processes took the core).
Numbers go to ``benchmarks/results/bench_samplers.json``.

    .venv/bin/python benchmarks/bench_samplers.py                       # baby, 2 epochs each, 1 thread
    .venv/bin/python benchmarks/bench_samplers.py --samplers dns mixgcf --epochs 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from neggen_lite.core import data
from neggen_lite.training import trainer as train
from neggen_lite.samplers.hard import HARD_SAMPLERS
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import git_commit

RESULTS = benchmark_path("bench_samplers")


def run(ds, sampler: str, epochs: int, seed: int, threads: int, device: str) -> dict:
    cfg = train.TrainConfig(sampler=sampler, epochs=epochs, patience=epochs, eval_every=epochs, seed=seed,
                            checkpoint_every=10**9)
    w0, c0 = time.perf_counter(), time.process_time()
    res = train.fit(ds, cfg, device=device, checkpoint=None, progress=False, threads=threads, log_every=0)
    cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
    hist = res["history"]
    timed = hist[1:] if len(hist) > 1 else hist
    last = hist[-1]
    return {"sampler": sampler, "hparams": res["sampler_hparams"], "epoch_s": statistics.mean(h["seconds"] for h in timed),
            "epoch_s_all": [round(h["seconds"], 3) for h in hist], "loss": last["loss"],
            "recall@20": last["valid"]["recall@20"], "cpu_share": cpu,
            **{k: last.get(k) for k in ("score_gap", "neg_grad_norm", "false_negatives")}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="baby", choices=data.DATASETS)
    p.add_argument("--samplers", nargs="+", default=sorted(HARD_SAMPLERS))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    torch.set_num_threads(args.threads)
    ds = data.load(args.dataset, side_info=False)

    first = run(ds, "uniform", args.epochs, args.seed, args.threads, args.device)
    rows = [run(ds, s, args.epochs, args.seed, args.threads, args.device) for s in args.samplers]
    again = run(ds, "uniform", args.epochs, args.seed, args.threads, args.device)
    ref = (first["epoch_s"] + again["epoch_s"]) / 2
    for r in rows:
        r["ratio"] = r["epoch_s"] / ref

    timed = "epochs 2.." if args.epochs > 1 else "epoch 1"
    print(f"LightGCN on {ds.name} (dim 64, 3 layers, batch 2048), {args.epochs} epoch(s) per sampler, seed "
          f"{args.seed}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.device}; "
          f"training seconds per epoch ({timed}); load average {os.getloadavg()[0]:.2f}")
    print(f"uniform: {first['epoch_s']:.2f}s before, {again['epoch_s']:.2f}s after -> reference {ref:.2f}s")
    head = (f"{'sampler':8} {'s/epoch':>8} {'x uniform':>9} | {'gap':>6} {'|grad|':>6} {'false neg':>9} | "
            f"{'R@20':>6} {'cpu':>5}  hyper-parameters")
    print(head)
    print("-" * len(head))
    for r in [first | {"ratio": first["epoch_s"] / ref}, *rows]:
        print(f"{r['sampler']:8} {r['epoch_s']:7.2f}s {r['ratio']:9.2f} | {r['score_gap']:6.3f} "
              f"{r['neg_grad_norm']:6.3f} {r['false_negatives']:9.4f} | {r['recall@20']:6.4f} {r['cpu_share']:5.2f}  "
              + ", ".join(f"{k}={v}" for k, v in r["hparams"].items()))
    print("x uniform = seconds per epoch / uniform's (lower is faster); gap = mean e_u.(e_i - e_j), |grad| = mean "
          "sigmoid(-gap)||e_u|| (Eq. 3), false neg = share of negatives in the user's valid/test items, R@20 = "
          "validation Recall@20, all after the last epoch")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "bench_samplers", "dataset": ds.name, "epochs": args.epochs, "timed_epochs": timed,
              "seed": args.seed, "threads": torch.get_num_threads(), "device": args.device,
              "torch": torch.__version__, "python": platform.python_version(),
              "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "uniform": {"before": first, "after": again, "reference_epoch_s": ref}, "results": rows}
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {out}")
    return record


if __name__ == "__main__":
    main()
