"""Seconds per NegGen training epoch: the causal module one equation at a time against ours.

With one modality token the attention of Eq. 13-15 is ``W_v e`` and the projection of Eq. 17-18 starts with
another linear layer ``W_1``. The *reference* computes them as printed: ``W_v e_m`` and ``W_v e_m*`` (two
384 x 384 products per item), their difference (Eq. 16), then the projection. *Ours*
(:meth:`neggen_lite.neggen.causal.CausalModule.embed`) forms ``W_1 W_v`` once per batch and applies it to
``e_m - e_m*``: the same function, 2.7x fewer multiply-adds per training triple of ``joint``
(3.6x for ``e_c``, 2.3x for ``e_c*``). Both train NegGen (``--objective``,
default ``joint``) through :func:`neggen_lite.training.trainer.fit` in this process, from the same initial
parameters, seed and batches, ``--repeats`` times in alternating order; each ratio is the median over the
repeats. Reported per side: seconds per training epoch (the first left out as warm-up when ``--epochs`` > 2),
seconds of the last validation evaluation, validation Recall@20 after the last epoch (equal up to float
rounding), the CPU share, and the same ratios in CPU seconds. Features: ``real`` (the item texts and the
generated negatives NegGen reads, encoded; needs the offline encoder) or ``random`` (seeded tokens of the
encoder's width: the timing depends only on the shapes). Numbers go to ``benchmarks/results/bench_neggen.json``.

    .venv/bin/python benchmarks/bench_neggen.py                      # baby, joint, 3 epochs, 3 repeats
    .venv/bin/python benchmarks/bench_neggen.py --objective repaired --features random
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

from reference import ratios, run_timed, summarise
from neggen_lite.core import data
from neggen_lite.core.features import ItemFeatures
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import git_commit, seed_everything
from neggen_lite.models.lightgcn import build_model
from neggen_lite.neggen.causal import CausalModule, NegGen, NegGenConfig
from neggen_lite.training.trainer import TrainConfig, fit

RESULTS = benchmark_path("bench_neggen")
ENCODER_DIM = 384  # all-MiniLM-L6-v2


class PrintedCausalModule(CausalModule):
    """Eq. 13-18 one step at a time: attention (``W_v`` for one token), difference, projection."""

    def embed(self, tokens):
        return self.proj(self.attend(tokens))

    def causal_part(self, e_m, e_m_star):
        if not self.causal:
            return self.proj(e_m.mean(1))
        return self.proj(self.attend(e_m) - self.attend(e_m_star))


def random_features(n_items: int, seed: int, dim: int = ENCODER_DIM, share_with_text: float = 0.5) -> ItemFeatures:
    """Seeded unit-norm tokens for a ``share_with_text`` of the items (the rest zero, as items without text)."""
    g = torch.Generator().manual_seed(seed)
    has = torch.rand(n_items, generator=g) < share_with_text
    orig, neg = (torch.nn.functional.normalize(torch.randn(n_items, dim, generator=g), dim=1) * has[:, None]
                 for _ in range(2))
    return ItemFeatures({"t": orig}, {"t": has}, {"t": f"random, seed {seed}"}, {"t": neg})


def run_side(ds, features: ItemFeatures, objective: str, epochs: int, seed: int, threads: int,
             printed: bool) -> dict:
    """NegGen for ``epochs`` epochs from the seed's initial parameters; :func:`reference.summarise` of it."""
    seed_everything(seed)
    base = build_model("lightgcn", ds, "cpu", 64, 3)
    model = NegGen(base, features, NegGenConfig(objective=objective), seed=seed)
    if printed:
        model.module.__class__ = PrintedCausalModule
    cfg = TrainConfig(model="neggen", epochs=epochs, patience=epochs, eval_every=1, seed=seed,
                      checkpoint_every=10**9)
    res, cpu = run_timed(lambda: fit(ds, cfg, device="cpu", checkpoint=None, progress=False, threads=threads,
                                     log_every=0, model=model))
    return {**summarise(res["history"]), "cpu_share": cpu}


def compare(ds, features: ItemFeatures, objective: str = "joint", epochs: int = 3, seed: int = 2025,
            threads: int = 1, repeats: int = 3) -> dict:
    """Both sides ``repeats`` times, alternating which goes first; the repeat with the median epoch ratio."""
    runs = []
    for r in range(repeats):
        order = (True, False) if r % 2 == 0 else (False, True)
        sides = {p: run_side(ds, features, objective, epochs, seed, threads, p) for p in order}
        runs.append({"reference": sides[True], "ours": sides[False], **ratios(sides[True], sides[False])})
    median = sorted(runs, key=lambda x: x["epoch_ratio"])[len(runs) // 2]
    return {**median, "repeat_epoch_ratios": [round(x["epoch_ratio"], 3) for x in runs],
            "epoch_ratio": statistics.median(x["epoch_ratio"] for x in runs),
            "eval_ratio": statistics.median(x["eval_ratio"] for x in runs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="baby", choices=data.DATASETS)
    p.add_argument("--objective", default="joint", choices=("joint", "repaired"))
    p.add_argument("--features", default="real", choices=("real", "random"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        p.error("--epochs and --repeats must be >= 1")
    torch.set_num_threads(args.threads)
    ds = data.load(args.dataset)
    if args.features == "real":
        from neggen_lite.neggen.train import build_features
        features = build_features(ds, "auto", device="cpu")
    else:
        features = random_features(ds.n_items, args.seed)
    row = compare(ds, features, args.objective, args.epochs, args.seed, args.threads, args.repeats)

    print(f"NegGen ({args.objective}) on {ds.name}, {args.features} features, {args.epochs} epochs, "
          f"{args.repeats} repeats, {torch.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.2f}")
    for side in ("reference", "ours"):
        s = row[side]
        print(f"{side:9} {s['epoch_s']:7.2f} s/epoch {s['eval_s']:6.2f} s/eval  valid R@20 {s['recall@20']:.4f}"
              f"  cpu share {s['cpu_share']:.2f}")
    cpu = f" ({row['cpu_epoch_ratio']:.2f}x CPU)" if "cpu_epoch_ratio" in row else ""
    print(f"reference / ours: {row['epoch_ratio']:.2f}x per epoch{cpu} (repeats {row['repeat_epoch_ratios']}), "
          f"{row['eval_ratio']:.2f}x per evaluation")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "bench_neggen", "dataset": ds.name, "objective": args.objective,
              "features": args.features, "epochs": args.epochs, "repeats": args.repeats, "seed": args.seed,
              "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
              "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
              **row}
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {out}")
    return record


if __name__ == "__main__":
    main()
