"""Seconds per training epoch and per full evaluation of every recommender on an accelerator against the same
machine's CPU, in the same process: the "GPU core, CPU-correct" check (DEVELOPERS.md).

For each model (LightGCN and the multi-modal baselines, Baby at paper scale, text features) the common trainer
runs ``--epochs`` epochs with its published settings on ``--device`` (default ``cuda``), then, where
``--cpu-epochs`` > 0, the same on the CPU with ``--threads`` torch threads; reported: mean seconds per epoch
(the first left out as warm-up when there are three or more), the last evaluation's seconds, validation
Recall@20 after the last epoch, and the ratios CPU / device. The trainer synchronises every batch (its loss is
read back for the epoch's mean), so wall seconds are the device's. Needs Baby's text encodings in the encoding
cache (``NEGGEN_ENCODING_CACHE``) or the offline encoder. ``NEGGEN_COMMIT`` names the commit where the copy
that runs has no git history (:func:`~neggen_lite.core.runtime.git_commit`).

    .venv/bin/python benchmarks/bench_device.py --models lightgcn bm3 --epochs 3 --cpu-epochs 2
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import summarise  # noqa: E402

from neggen_lite.core import data  # noqa: E402
from neggen_lite.core.runtime import git_commit  # noqa: E402
from neggen_lite.experiments import multimodal  # noqa: E402
from neggen_lite.generation.features import load_features  # noqa: E402
from neggen_lite.training import trainer as train  # noqa: E402

MODELS = ("lightgcn", "freedom", "mmgcn", "bm3", "dragon", "lgmrec", "diffmm")
RESULTS = Path(__file__).resolve().parent / "results" / "bench_device.json"


def timed_run(name: str, ds, features, epochs: int, seed: int, device: str, threads: int) -> dict:
    """``epochs`` epochs of ``name`` on ``device`` with its published settings (the project's for LightGCN and
    FREEDOM), evaluated on validation after the last; :func:`summarise` of the history."""
    short = {"epochs": epochs, "patience": epochs, "eval_every": epochs, "checkpoint_every": 10**9}
    if name == "lightgcn":
        cfg = train.TrainConfig(model="lightgcn", seed=seed, diagnostics=False, **short)
        res = train.fit(ds, cfg, device=device, progress=False, threads=threads, log_every=0)
    else:
        res = multimodal.train(ds, name, features=features, device=device, seed=seed, progress=False,
                               threads=threads, **short)
    return summarise(res["history"])


def write(args, rows: list[dict]) -> dict:
    record = {"benchmark": "bench_device", "dataset": args.dataset, "modalities": "t", "device": args.device,
              "device_name": torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else args.device,
              "epochs": args.epochs, "cpu_epochs": args.cpu_epochs, "threads": args.threads, "seed": args.seed,
              "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
              "commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "results": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--dataset", default="baby", choices=data.DATASETS)
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, default=3, help="epochs on the device")
    p.add_argument("--cpu-epochs", type=int, default=2, help="epochs on the CPU (0: device only)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads for the CPU side")
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    if args.epochs < 1 or args.cpu_epochs < 0:
        p.error("--epochs must be >= 1 and --cpu-epochs >= 0")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: torch sees no CUDA device")
    ds = data.load(args.dataset)
    features = load_features(ds, "t", None, device="cpu")
    rows = []
    for name in args.models:
        row = {"model": name, "device": timed_run(name, ds, features, args.epochs, args.seed, args.device,
                                                  args.threads)}
        if args.cpu_epochs:
            row["cpu"] = timed_run(name, ds, features, args.cpu_epochs, args.seed, "cpu", args.threads)
            row["epoch_ratio"] = row["cpu"]["epoch_s"] / row["device"]["epoch_s"]
            row["eval_ratio"] = row["cpu"]["eval_s"] / row["device"]["eval_s"]
        rows.append(row)
        write(args, rows)  # after each model: a run cut short keeps what it measured
        d, c = row["device"], row.get("cpu")
        print(f"{name:8} {args.device}: {d['epoch_s']:7.2f} s/epoch {d['eval_s']:6.3f} s/eval R@20 {d['recall@20']:.4f}"
              + (f" | cpu x{args.threads}: {c['epoch_s']:7.2f} {c['eval_s']:6.3f} R@20 {c['recall@20']:.4f} | "
                 f"{row['epoch_ratio']:.1f}x / {row['eval_ratio']:.1f}x" if c else ""), flush=True)
    return write(args, rows)


if __name__ == "__main__":
    main()
