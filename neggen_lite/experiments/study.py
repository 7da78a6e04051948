"""The study of the paper's Sec. 2 with FREEDOM: Table 1 (modalities), Fig. 2 (uniform vs Direct Generation
negatives) and Fig. 3 (the Eq. 3 gradient probe), each where its features exist; and a SYNTHETIC two-modality
illustration of the gradient imbalance (never a stand-in for the paper's numbers)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core import data
from ..core.data import Dataset
from ..core.features import MODALITIES, VARIANTS, ItemFeatures, MissingGenerations
from ..core.metrics import METRICS
from ..core.paper import PAPER_TABLE1
from ..core.runtime import resolve_device
from ..generation.features import available_modalities, missing_modality_message
from ..models.freedom import N_UI_LAYERS
from ..models.objectives import probe_key, probe_line
from ..training.trainer import config_for_mode, fit, save_result
from .multimodal import build, train
from .runs import RunSpec
from .runs import path as run_path


def study_command(ds_name: str, features_dir: str = "DIR", generator: str | None = None, mode: str = "full") -> str:
    gen = f" --generator {generator}" if generator else ""
    return (f"python -m neggen_lite study --dataset {ds_name} --mode {mode} "
            f"--features-dir {features_dir}{gen}")


def study(ds_name: str, mode: str = "full", seed: int | None = None, device=None, features_dir=None,
          generator: str = "auto", out_dir=None, threads: int | None = None, progress: bool = False,
          **train_overrides) -> dict:
    """Sec. 2 with FREEDOM on ``ds_name``: Table 1 (V&T, T, V), the per-epoch gradient norms of Fig. 3
    (recorded in every run's history) and Fig. 2 (uniform vs Direct Generation negatives), each run where
    its features/generations exist; prints what could not be reproduced and the command for the full
    study. Results go to ``out_dir`` (default ``results/[smoke/]<dataset>/``)."""
    ds = data.load(ds_name)
    seed = seed if seed is not None else config_for_mode(mode).seed
    avail = available_modalities(ds, features_dir)
    skipped, runs = [], {}

    def out_path(neg, mods):
        p = run_path(RunSpec(ds.name, "freedom", neg, seed, modalities="".join(mods)), mode)
        return Path(out_dir) / p.name if out_dir else p

    for mods in (("v", "t"), ("t",), ("v",)):
        name = VARIANTS[mods]
        if not set(mods) <= set(avail):
            miss = [m for m in mods if m not in avail]
            skipped.append(f"Table 1 row {name} (and its Fig. 3 curve): " + " ".join(
                missing_modality_message(ds.name, m) for m in miss))
            continue
        res = train(ds, "freedom", mods, mode, device, features_dir, "uniform", seed=seed, progress=progress,
                    threads=threads, **train_overrides)
        save_result(res, out_path("uniform", mods))
        runs[("uniform", name)] = res
    best_mods = ("v", "t") if set(MODALITIES) <= set(avail) else ("t",) if "t" in avail else None
    if best_mods is None:
        skipped.append("Fig. 2: needs textual features")
    else:
        try:
            res = train(ds, "freedom", best_mods, mode, device, features_dir, "direct", generator, seed=seed,
                        progress=progress, threads=threads, **train_overrides)
            save_result(res, out_path("direct", best_mods))
            runs[("direct", VARIANTS[best_mods])] = res
        except MissingGenerations as exc:
            skipped.append(f"Fig. 2 (Direct Generation negatives): {exc}")
    _print_study(ds.name, runs, skipped, features_dir, generator, mode)
    return {"runs": runs, "not_reproduced": skipped}


def _print_study(ds_name, runs, skipped, features_dir, generator, mode) -> None:
    metrics = METRICS
    note = "" if mode == "full" else f" -- {mode} mode: a few epochs, not comparable with the paper"
    print(f"\n{ds_name}: FREEDOM, test R@10 R@20 N@10 N@20 (paper Table 1 where it has the row){note}")
    for (neg, var), res in runs.items():
        ours = " ".join(f"{res['test'][k]:.4f}" for k in metrics)
        paper = PAPER_TABLE1.get((ds_name, var)) if neg == "uniform" else None
        print(f"  {var:4s} {neg:8s} {ours}" + (f"   paper {' '.join(f'{x:.4f}' for x in paper)}" if paper else ""))
    for (neg, var), res in runs.items():
        rows = [h for h in res["history"] if probe_key("t") in h or probe_key("v") in h]
        if rows:
            print(f"  Fig. 3 ({var}, {neg}), mean per-triple ||dL_BPR/de_neg|| by epoch (id = collaborative term):")
            for h in rows:
                print(f"    epoch {h['epoch']:4d} {probe_line(h, '.5f')}")
    if skipped:
        print("\nNot reproduced offline:")
        for s in skipped:
            print(f"  - {s}")
        print(f"Full study once the features (and a Direct Generation cache) exist:\n  "
              f"{study_command(ds_name, features_dir or 'DIR', None if generator == 'auto' else generator, mode)}")


def synthetic_two_modality(n_users: int = 300, n_items: int = 200, n_clusters: int = 8, per_user: int = 12,
                           dim: int = 32, easy_noise: float = 0.3, hard_signal: float = 0.15, seed: int = 0):
    """**Synthetic** data to illustrate the gradient-imbalance mechanism of Sec. 2.2: users prefer items
    of their cluster; the "easy" modality (slot ``t``) is the cluster centroid plus small noise, the "hard"
    one (slot ``v``) is mostly noise with a weak cluster signal. Returns ``(Dataset, ItemFeatures)``; its
    numbers illustrate a mechanism and never stand in for the paper's."""
    rng = np.random.default_rng(seed)
    item_cluster = np.arange(n_items) % n_clusters
    splits = {0: [], 1: [], 2: []}
    for u in range(n_users):
        pool = np.flatnonzero(item_cluster == u % n_clusters)
        pool = np.concatenate([pool, rng.choice(n_items, 3, replace=False)])  # a little off-cluster taste
        items = rng.choice(np.unique(pool), per_user, replace=False)
        for j, it in enumerate(items):
            splits[1 if j == per_user - 2 else 2 if j == per_user - 1 else 0].append((u, int(it)))
    arr = {k: np.array(v, dtype=np.int64) for k, v in splits.items()}
    ds = Dataset("synthetic-2mod", n_users, n_items, arr[0], arr[1], arr[2])
    cent_e, cent_h = rng.normal(size=(n_clusters, dim)), rng.normal(size=(n_clusters, dim))
    easy = cent_e[item_cluster] + easy_noise * rng.normal(size=(n_items, dim))
    hard = hard_signal * cent_h[item_cluster] + rng.normal(size=(n_items, dim))
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    feats = ItemFeatures({"v": torch.from_numpy(unit(hard)), "t": torch.from_numpy(unit(easy))},
                         {"v": torch.ones(n_items, dtype=torch.bool), "t": torch.ones(n_items, dtype=torch.bool)},
                         {"v": "SYNTHETIC hard modality (weak signal)", "t": "SYNTHETIC easy modality"})
    return ds, feats


def synthetic_study(epochs: int = 20, seed: int = 2025, threads: int | None = 1, lr: float = 1e-2,
                    batch_size: int = 256, device=None) -> dict:
    """FREEDOM (V&T) on :func:`synthetic_two_modality`; prints the per-epoch Eq. 3 gradient norms of the
    easy (``t``) and hard (``v``) slots under a SYNTHETIC banner. Illustration only. ``device``: ``None``/``auto``
    is CUDA when available."""
    device = resolve_device(device)
    ds, feats = synthetic_two_modality()
    cfg = config_for_mode("full", model="freedom", seed=seed, epochs=epochs, patience=epochs, lr=lr,
                          batch_size=batch_size, n_layers=N_UI_LAYERS, model_kwargs={"synthetic": True})
    res = fit(ds, cfg, device=device, progress=False, threads=threads, model=build("freedom", ds, feats, cfg, device=device),
              log=lambda s: None)
    print("SYNTHETIC two-modality data (illustrates the mechanism of Sec. 2.2; not the paper's data or numbers)")
    print("  slot t = easy modality (cluster centroid + small noise), slot v = hard modality (weak signal)")
    for h in res["history"]:
        print(f"  epoch {h['epoch']:3d}  ||dL/de_neg||  easy(t)={h['neg_grad_norm_t']:.4f}  "
              f"hard(v)={h['neg_grad_norm_v']:.4f}  id={h['neg_grad_norm']:.4f}   "
              f"BPR_t={h['bpr_t']:.4f}  BPR_v={h['bpr_v']:.4f}")
    return res
